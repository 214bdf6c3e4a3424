#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cno_permission
short_description: Full Control for a cluster name object on an Active Directory computer object
version_added: 0.1.0
description:
  - Keeps one access control entry (ACE) of a security principal on an Active Directory computer object, through
    Exchange's C(Get-ADPermission), C(Add-ADPermission) and C(Remove-ADPermission). By default the right is
    C(GenericAll), Full Control in Active Directory Users and Computers, as an allow entry (Deny False).
  - Exchange 2007 SP1 on Windows Server 2008 (runbooks §10.1) - a standby cluster can recover a clustered
    mailbox server (C(Setup /RecoverCMS)) only when its cluster name object (CNO), for example V(CONTOSO\\CLU2$), has
    Full Control on the clustered mailbox server's computer object. C(/newCMS) and
    C(Enable-ContinuousReplicationHostName) need the same right for the cluster of the nodes. Give the connection
    O(exchange_version=2007) (the Exchange 2007 snap-in on the server's Windows PowerShell endpoint).
  - Exchange 2010 and later, pre-staged DAG cluster name object (runbooks §10.2) - with O(prestage=true) the module
    first makes sure a computer account named like the DAG exists, creating it disabled in O(organizational_unit)
    with C(New-ADComputer) on the Windows endpoint of O(windows_connection) (a domain controller), then grants
    Full Control on it to the computer account of the first Mailbox server to be added (V(CONTOSO\\EX01$)) or to
    V(Exchange Trusted Subsystem).
  - An existing account that is enabled although the DAG has no member yet is reported in RV(drift) and left
    untouched, no ACE included. A pre-staged CNO stays disabled until the cluster brings its name online, so an
    enabled one may belong to another computer (runbooks §10.2).
  - Deny entries are reported, never removed. Inherited entries are reported when O(state=absent) (they come
    from the parent container). A computer account is never deleted.
  - Idempotent by the principal's ACEs on the object (explicit and inherited).
options:
  access_rights:
    description:
      - The C(ActiveDirectoryRights) the principal must (or must not) be allowed, for example V(GenericAll) (Full
        Control), V(ReadProperty), V(WriteProperty). Case-insensitive.
      - With O(state=present), V(GenericAll) already granted covers every other right.
    type: list
    elements: str
    default: [GenericAll]
  identity:
    description:
      - The computer object, as a distinguished name (V(CN=CMS1,CN=Computers,DC=contoso,DC=com)) or a computer name
        (V(CMS1), V(DAG1)).
      - A name is resolved to the computer account's distinguished name with C(Get-ADComputer) when
        O(windows_connection) is set or O(prestage=true). Otherwise Exchange resolves it, and a distinguished name is
        safer because a clustered mailbox server also has an Exchange server object of the same name (runbooks
        §10.1 uses the distinguished name).
      - With O(prestage=true) the name of the DAG (at most 15 characters), or the distinguished name the account
        must have.
    type: str
    required: true
  organizational_unit:
    description:
      - With O(prestage=true), the distinguished name of the organizational unit or container the computer account
        is created in, for example V(OU=Exchange DAGs,DC=contoso,DC=com). Without it, the domain's default
        Computers container.
      - An existing account elsewhere is reported in RV(drift), not moved.
    type: str
  prestage:
    description:
      - Create the computer account named like the DAG, disabled, when it is missing (Exchange 2010 and later,
        runbooks §10.2). Needs a Windows endpoint with the ActiveDirectory module, see O(windows_connection).
      - Only with O(state=present) and not with O(exchange_version=2007).
    type: bool
    default: false
  principal:
    description:
      - The security principal, as Exchange accepts it for C(-User) - V(CONTOSO\\CLU2$) (the computer account of a
        cluster name object ends in C($)), V(CONTOSO\\EX01$), V(Exchange Trusted Subsystem), a UPN or a SID.
    type: str
    required: true
  state:
    description:
      - V(present) - the principal is allowed O(access_rights) on the object. V(absent) - the rights are removed
        from the principal's explicit allow entries (C(Remove-ADPermission)).
    type: str
    choices: [present, absent]
    default: present
  windows_connection:
    description:
      - For O(prestage=true), and to resolve a computer name O(identity) to its distinguished name - the Windows
        PowerShell endpoint of a domain controller (or an Exchange 2013+ Mailbox server, which has the
        ActiveDirectory module) for C(Get-ADComputer) and C(New-ADComputer).
      - When omitted with O(prestage=true), the Exchange server of O(server) on WinRM's port.
extends_documentation_fragment:
  - exchange.dr.connection
  - exchange.dr.windows_connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the ACEs (and the computer account with O(prestage=true)) and returns the drift (RV(drift)), the
        cmdlets it would send (RV(actions), status V(planned)) and the predicted RV(after). Nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The principal's allowed and denied rights on the object (and the computer account) before and after.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Calls C(Get-ADPermission -Identity -User), C(Add-ADPermission -Identity -User -AccessRights) and
    C(Remove-ADPermission -Identity -User -AccessRights -Confirm:$false) on the Exchange endpoint; with O(prestage=true)
    also C(Get-DatabaseAvailabilityGroup -Identity) there, and C(Get-ADComputer -Identity) and
    C(New-ADComputer -Name -SAMAccountName -Path -Enabled $false) on the Windows endpoint.
  - The Exchange user needs the right to change permissions on the object (Organization Management, or on Exchange
    2007 the Exchange Organization Administrators group with write access to the computer object). Creating the
    computer account needs the right to create computer objects in O(organizational_unit) (Domain Admins or a
    delegation).
  - Allow Active Directory replication before running C(Setup /RecoverCMS) or adding the first DAG member.
seealso:
  - module: exchange.dr.replication_hostname
  - module: exchange.dr.cms_recovery
  - name: Pre-stage the cluster name object for a DAG
    description: Exchange Server documentation.
    link: https://learn.microsoft.com/exchange/high-availability/manage-ha/pre-stage-dag-cnos
  - name: Add-ADPermission
    description: The cmdlet reference.
    link: https://learn.microsoft.com/powershell/module/exchangepowershell/add-adpermission
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
# Exchange 2007 SP1 (runbooks §10.1): before a DR test, the standby cluster CLU2 must be able to recover CMS1.
- name: Standby cluster CNO gets Full Control on the CMS1 computer object
  exchange.dr.cno_permission:
    server: mbx1a.contoso.com
    exchange_version: "2007"
    username: admin@CONTOSO.COM
    password: "{{ vault_exchange_password }}"
    auth: kerberos
    identity: CN=CMS1,CN=Computers,DC=contoso,DC=com
    principal: CONTOSO\CLU2$

# Exchange 2013+ on Windows Server 2012 (runbooks §10.2): pre-stage DAG2's CNO before creating the DAG.
- name: Pre-stage the cluster name object of DAG2
  module_defaults:
    group/exchange.dr.exchange:
      server: ex01.contoso.com
      username: admin@CONTOSO.COM
      password: "{{ vault_exchange_password }}"
      auth: kerberos
  exchange.dr.cno_permission:
    identity: DAG2
    principal: CONTOSO\EX01$
    access_rights: [GenericAll]
    prestage: true
    organizational_unit: OU=Exchange DAGs,DC=contoso,DC=com
    windows_connection:
      server: dc01.contoso.com

- name: Remove the grant of an old cluster after failback
  exchange.dr.cno_permission:
    server: mbx1a.contoso.com
    exchange_version: "2007"
    identity: CN=CMS1,CN=Computers,DC=contoso,DC=com
    principal: CONTOSO\CLU3$
    state: absent

# Drift report: which ACE is missing on which object, nothing written.
- name: Can the standby cluster recover CMS1?
  exchange.dr.cno_permission:
    server: mbx1a.contoso.com
    exchange_version: "2007"
    identity: CMS1
    principal: CONTOSO\CLU2$
  check_mode: true
  register: cno_drift
"""

RETURN = r"""
identity:
  description: The computer object, as its distinguished name when known.
  returned: always
  type: str
  sample: CN=CMS1,CN=Computers,DC=contoso,DC=com
principal:
  description: The principal as given.
  returned: always
  type: str
  sample: CONTOSO\CLU2$
access_rights:
  description: The managed rights, canonical spelling.
  returned: success
  type: list
  elements: str
  sample: [GenericAll]
drift:
  description: One line per item out of compliance, naming the ACE and the object (or the computer account); empty
    when compliant.
  returned: always
  type: list
  elements: str
  sample: ["ACE missing on CN=CMS1,CN=Computers,DC=contoso,DC=com: CONTOSO\\CLU2$ Allow GenericAll (Full Control)
    (Deny False)"]
reason:
  description: Why a change was (or in check mode would be) needed, or V(compliant ...) when none was.
  returned: always
  type: str
  sample: "CONTOSO\\CLU2$ lacks GenericAll (Full Control) on CN=CMS1,CN=Computers,DC=contoso,DC=com: ..."
before:
  description: The principal's rights on the object before the task - C(object), C(principal), C(exists), C(allow)
    (explicit allow rights), C(inherited_allow), C(deny), and with O(prestage=true) C(account) (C(dn), C(enabled))
    or null when it did not exist.
  returned: success
  type: dict
  sample: {object: "CN=CMS1,CN=Computers,DC=contoso,DC=com", principal: "CONTOSO\\CLU2$", exists: true, allow: [],
           inherited_allow: [], deny: []}
after:
  description: The same after the task; in check mode the prediction (a computer account still to be created shows
    C(dn) from O(organizational_unit), or null for the default container).
  returned: success
  type: dict
  sample: {object: "CN=CMS1,CN=Computers,DC=contoso,DC=com", principal: "CONTOSO\\CLU2$", exists: true,
           allow: [GenericAll], inherited_allow: [], deny: []}
actions:
  description: The state-changing cmdlets in order, with C(cmdlet), C(target), C(parameters), C(endpoint)
    (V(exchange) or V(windows)) and C(status) V(done), V(failed) or, in check mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - {cmdlet: Add-ADPermission, target: "CN=CMS1,CN=Computers,DC=contoso,DC=com", endpoint: exchange, status: done,
       parameters: {Identity: "CN=CMS1,CN=Computers,DC=contoso,DC=com", User: "CONTOSO\\CLU2$",
                    AccessRights: [GenericAll], Confirm: false}}
round_trips:
  description: Number of cmdlet invocations sent (Exchange and Windows endpoints together).
  returned: always
  type: int
  sample: 3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import adperm
from ansible_collections.exchange.dr.plugins.module_utils import windows
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client, connection_argument_spec

WHY = {
    "2007": "Windows Server 2008 failover clusters create and update network names as their cluster name object, so "
            "Setup /RecoverCMS, /newCMS and Enable-ContinuousReplicationHostName fail without Full Control on the "
            "computer object (runbooks §10.1)",
    "prestage": "the DAG's cluster name object is pre-staged disabled and the first member's computer account (or "
                "Exchange Trusted Subsystem) needs Full Control on it to bring the name online (runbooks §10.2)",
}


def validate(params: dict) -> dict:
    """The checked request: ``{"identity", "principal", "rights", "name", "ou"}`` (AdPermError naming the option)."""
    identity = (params["identity"] or "").strip()
    principal = (params["principal"] or "").strip()
    if not identity:
        raise adperm.AdPermError("identity must name the computer object (a name such as CMS1, or its distinguished "
                                 "name); an empty identity would make Get-ADPermission read every object")
    if not principal:
        raise adperm.AdPermError("principal must name the account to grant, for example CONTOSO\\CLU2$ or Exchange "
                                 "Trusted Subsystem")
    rights = adperm.access_rights(params["access_rights"])
    ou = (params["organizational_unit"] or "").strip() or None
    if ou is not None and not adperm.is_dn(ou):
        raise adperm.AdPermError("organizational_unit: %r is not a distinguished name (OU=Exchange DAGs,DC=contoso,"
                                 "DC=com)" % params["organizational_unit"])
    name = None
    if params["prestage"]:
        if params["state"] != "present":
            raise adperm.AdPermError("prestage creates the DAG's computer account and works only with state=present; "
                                     "state=absent removes the ACE and never deletes a computer account: set prestage "
                                     "false")
        if params["exchange_version"] == "2007":
            raise adperm.AdPermError("prestage is for the cluster name object of an Exchange 2010+ DAG (runbooks "
                                     "§10.2); Exchange 2007 clusters create their own: set prestage false")
        if adperm.is_dn(identity):
            name, parent = adperm.dn_name_and_parent(identity)
            if ou is not None and ou.lower().replace(" ", "") != parent.lower().replace(" ", ""):
                raise adperm.AdPermError("organizational_unit %s differs from the container of identity %s: give "
                                         "one of them" % (ou, identity))
            ou = parent
        else:
            name = identity
        adperm.netbios_name(name, "identity")
    elif ou is not None:
        raise adperm.AdPermError("organizational_unit is used only with prestage=true (where to create the DAG's "
                                 "computer account)")
    return {"identity": identity, "principal": principal, "rights": rights, "name": name, "ou": ou,
            "state": params["state"]}


def reason(request: dict, plan: dict, account_plan: dict | None, obj: str, check_mode: bool, version: str) -> str:
    principal, rights = request["principal"], adperm.rights_text(request["rights"])
    if account_plan and account_plan["conflict"]:
        return "not changed: " + account_plan["conflict"]
    verb = "would" if check_mode else "did"
    parts = []
    if account_plan and account_plan["create"]:
        parts.append("computer account %s is missing: New-ADComputer %s create it disabled" % (request["name"], verb))
    if plan["add"]:
        parts.append("%s lacks %s on %s: Add-ADPermission %s grant it" % (
            principal, adperm.rights_text(plan["add"]), obj, verb))
    if plan["remove"]:
        parts.append("%s holds %s on %s: Remove-ADPermission %s remove it" % (
            principal, adperm.rights_text(plan["remove"]), obj, verb))
    if not parts:
        if plan["unfixable"]:
            return "not fixable by the module: " + "; ".join(plan["unfixable"])
        held = "is allowed" if request["state"] == "present" else "holds no explicit allow entry for"
        return "compliant: %s %s %s on %s" % (principal, held, rights, obj)
    why = WHY["prestage"] if account_plan is not None else (WHY["2007"] if version == "2007" else "")
    text = "; ".join(parts)
    if why and request["state"] == "present":
        text += " - " + why
    if plan["unfixable"]:
        text += "; still to fix by hand: " + "; ".join(plan["unfixable"])
    return text


def account_summary(account: dict | None) -> dict | None:
    return None if account is None else {"dn": account["dn"], "enabled": account["enabled"]}


def run(module, client, writer: adperm.Writer, request: dict, wclient) -> dict:
    params = module.params
    check = module.check_mode
    obj = request["identity"]
    account, aplan, after_account = None, None, None
    if request["name"] is not None:  # prestage
        account = adperm.read_computer(wclient, request["name"])
        members = None  # read only when it decides something: an enabled account before any member is a conflict
        if account is not None and account["enabled"]:
            members = adperm.read_dag_members(client, request["name"])
        aplan = adperm.account_plan(request["name"], account, request["ou"], members)
        after_account = account_summary(account)
        if aplan["conflict"]:
            module.warn(aplan["conflict"])
            before = {"object": account["dn"], "principal": request["principal"], "account": account_summary(account)}
            return {"changed": False, "identity": account["dn"], "drift": aplan["drift"],
                    "reason": reason(request, {"add": [], "remove": [], "unfixable": []}, aplan, account["dn"], check,
                                     params["exchange_version"]),
                    "before": before, "after": dict(before)}
        if aplan["create"]:
            writer.send(wclient, "New-ADComputer", adperm.new_computer_parameters(request["name"], request["ou"]),
                        request["name"], endpoint="windows")
            if check:
                predicted = "CN=%s,%s" % (request["name"], request["ou"]) if request["ou"] else None
                after_account = {"dn": predicted, "enabled": False}
            else:
                account_now = adperm.read_computer(wclient, request["name"])
                if account_now is None:
                    raise adperm.AdPermError("identity: New-ADComputer reported success but Get-ADComputer does not "
                                             "find %s" % request["name"])
                after_account = account_summary(account_now)
            obj = after_account["dn"] or "CN=%s (default Computers container)" % request["name"]
        else:
            obj = account["dn"]
    elif wclient is not None and not adperm.is_dn(obj):
        found = adperm.read_computer(wclient, obj)
        if found is None:
            raise adperm.AdPermError("identity: no computer account %s in Active Directory (Get-ADComputer); check "
                                     "the name, or set prestage true to create a DAG's cluster name object" % obj)
        obj = found["dn"]

    if aplan is not None and aplan["create"] and check:
        state = adperm.ace_state(obj, request["principal"], [], exists=False)  # a new account: no ACE for anyone yet
    else:
        read = adperm.read_aces(client, obj, request["principal"], resolve_dn=not adperm.is_dn(obj))
        if not read["found"]:
            raise adperm.AdPermError("identity: no Active Directory object %s (%s); give the computer object's name or "
                                     "distinguished name%s" % (obj, read["message"], "" if params["prestage"] else
                                                               ", or set prestage true to create a DAG's cluster "
                                                               "name object"))
        obj = read["dn"] or obj
        state = adperm.ace_state(obj, request["principal"], read["aces"])
    plan = adperm.ace_plan(state, request["rights"], params["state"])
    for line in plan["unfixable"]:
        module.warn(line)
    if plan["add"]:
        writer.send(client, "Add-ADPermission", adperm.add_parameters(obj, request["principal"], plan["add"]), obj)
    if plan["remove"]:
        writer.send(client, "Remove-ADPermission", adperm.remove_parameters(obj, request["principal"], plan["remove"]),
                    obj)
    after = plan["after"]
    if not check and (plan["add"] or plan["remove"]):
        read = adperm.read_aces(client, obj, request["principal"])
        after = adperm.ace_state(obj, request["principal"], read["aces"])
    before = adperm.summary(dict(state, exists=aplan is None or not aplan["create"]))
    after = adperm.summary(dict(after, exists=True))
    if aplan is not None:
        before["account"] = account_summary(account)
        after["account"] = after_account
    drift = (aplan["drift"] if aplan else []) + plan["drift"]
    return {"changed": bool(writer.actions), "identity": obj, "drift": drift,
            "reason": reason(request, plan, aplan, obj, check, params["exchange_version"]),
            "before": before, "after": after}


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(windows.windows_connection_argument_spec())
    argument_spec.update(
        identity=dict(type="str", required=True),
        principal=dict(type="str", required=True),
        access_rights=dict(type="list", elements="str", default=["GenericAll"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        prestage=dict(type="bool", default=False),
        organizational_unit=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    base = {"changed": False, "identity": params["identity"], "principal": params["principal"], "drift": [],
            "actions": [], "round_trips": 0}
    try:
        request = validate(params)
    except adperm.AdPermError as exc:
        module.fail_json(msg=exc.message, reason="invalid request: " + exc.message, **base)
    writer = adperm.Writer(module.check_mode)
    client = wclient = None
    result = None
    try:
        client = Client.from_module(module)
        if params["prestage"] or params["windows_connection"]:
            wclient = windows.windows_client(module, params["server"])
        with client:
            try:
                result = run(module, client, writer, request, wclient)
            finally:
                if wclient is not None:
                    wclient.close()
    except Exception as exc:  # refusals, Exchange errors and unexpected failures alike: adperm.failure_of sorts them
        failure = adperm.failure_of(base, exc)
    else:
        failure = None
    adperm.conclude(module, writer, [client, wclient], result, failure, principal=request["principal"],
                    access_rights=request["rights"])


if __name__ == "__main__":
    main()
