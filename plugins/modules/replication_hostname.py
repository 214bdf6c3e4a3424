#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: replication_hostname
short_description: Continuous replication host names of an Exchange 2007 CCR clustered mailbox server
version_added: 0.1.0
description:
  - Adds or removes a continuous replication host name of an Exchange 2007 SP1 cluster continuous replication (CCR)
    clustered mailbox server with C(Enable-ContinuousReplicationHostName) and
    C(Disable-ContinuousReplicationHostName), so that log shipping and seeding between the two nodes use an
    additional (redundant) cluster network (runbooks §12.1). Exchange picks among the available host names and
    switches when the one in use fails.
  - Verified through C(Get-ClusteredMailboxServerStatus) (C(OperationalReplicationHostNames),
    C(FailedReplicationHostNames), C(InUseReplicationHostNames)). Idempotent by the host name being listed there.
  - CCR only - a O(target_machine) that is not a node of the clustered mailbox server's cluster, such as a standby
    continuous replication (SCR) target, is refused before any write. Continuous replication host names are not
    supported for SCR (seed 000 Q3).
  - Before enabling, the module checks what the Exchange endpoint can show - the host name is not a node's name and
    not in use, the target is a node, and, with O(cluster), that the cluster name object has Full Control on an
    existing computer object of the host name (the cmdlet creates a network name resource as the cluster name
    object, runbooks §10.1). Name resolution and the network adapter settings cannot be read through Exchange; see
    the notes.
  - Exchange 2010 and later have DAG networks instead; see M(exchange.dr.dag_network).
options:
  cluster:
    description:
      - Name of the failover cluster of the CCR nodes (V(CLU1) or V(CONTOSO\\CLU1)). When given, the module checks
        that its cluster name object (V(CONTOSO\\CLU1$)) has Full Control on the computer object of O(host_name), if
        one exists, before enabling it. Without it that check is skipped (RV(preconditions) says so).
    type: str
  host_name:
    description:
      - The continuous replication host name, a NetBIOS name (at most 15 characters) such as V(MBX1A-REPL). A fully
        qualified name is compared by its first label.
    type: str
    required: true
  identity:
    description:
      - Name of the clustered mailbox server (CMS), for example V(CMS1).
    type: str
    required: true
  ipv4_address:
    description:
      - Static IPv4 address of the host name on the node's replication network (required with O(state=present)).
      - DHCP (C(-UseDHCP)) is not offered - the cmdlet's exact parameter set for it is unconfirmed (runbooks §12.1).
    type: str
  state:
    description:
      - V(present) enables the host name on O(target_machine); V(absent) disables it.
    type: str
    choices: [present, absent]
    default: present
  target_machine:
    description:
      - The CCR node the host name belongs to (required with O(state=present)), for example V(MBX1A). It must be one
        of the clustered mailbox server's redundant machines.
    type: str
extends_documentation_fragment:
  - exchange.dr.connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the status and returns the plan (RV(actions), status V(planned)), the drift and the predicted
        RV(after). A refused request (SCR target, failed precondition) fails in check mode as it would in a run.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The replication host names of the clustered mailbox server before and after.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Exchange 2007 has no remote PowerShell endpoint. The module opens the server's Windows PowerShell endpoint
    (V(Microsoft.PowerShell), path V(wsman)) with the Exchange 2007 snap-in, as O(exchange_version=2007) does; it
    sets that when O(exchange_version) is V(auto). Point O(server) at one of the CCR nodes.
  - Calls C(Get-MailboxServer -Identity) (redundant machines), C(Get-ClusteredMailboxServerStatus -Identity),
    C(Get-StorageGroupCopyStatus -Server -StandbyMachine) (only to explain a refused SCR target), C(Get-ADPermission)
    (with O(cluster)), C(Enable-ContinuousReplicationHostName -Identity -TargetMachine -HostName -IPv4Address) and
    C(Disable-ContinuousReplicationHostName -Identity -HostName -Confirm:$false).
  - Preconditions the Exchange endpoint does not show, to be met beforehand (runbooks §12.1) - on Windows Server 2008
    the network must be a mixed cluster network (cluster and client traffic); NetBIOS must be enabled on the node's
    adapter (otherwise the network name never comes online and the group must be recreated); "Register this
    connection's addresses in DNS" must be cleared; every replication host name needs a static DNS A record or a
    hosts file entry on both nodes.
  - Get-ClusteredMailboxServerStatus does not say which node a host name belongs to nor its address, so an existing
    host name counts as present whatever its node and address. To move it, remove it (O(state=absent)) first.
  - On Windows Server 2008 R2 (Exchange 2007 SP3) enabling host names can fail (a known issue, runbooks §12.1).
seealso:
  - module: exchange.dr.cno_permission
  - module: exchange.dr.dag_network
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
- name: Replication host names of CMS1 on the redundant network
  module_defaults:
    group/exchange.dr.exchange:
      server: mbx1a.contoso.com
      username: admin@CONTOSO.COM
      password: "{{ vault_exchange_password }}"
      auth: kerberos
  block:
    - name: MBX1A replicates as MBX1A-REPL
      exchange.dr.replication_hostname:
        identity: CMS1
        target_machine: MBX1A
        host_name: MBX1A-REPL
        ipv4_address: 10.1.2.121
        cluster: CONTOSO\CLU1

    - name: MBX1B replicates as MBX1B-REPL
      exchange.dr.replication_hostname:
        identity: CMS1
        target_machine: MBX1B
        host_name: MBX1B-REPL
        ipv4_address: 10.1.2.122
        cluster: CONTOSO\CLU1

- name: Remove an old replication host name
  exchange.dr.replication_hostname:
    server: mbx1a.contoso.com
    exchange_version: "2007"
    identity: CMS1
    host_name: MBX1A-OLD
    state: absent

# Drift report: the plan, nothing written.
- name: Is the replication host name of MBX1A there?
  exchange.dr.replication_hostname:
    server: mbx1a.contoso.com
    identity: CMS1
    target_machine: MBX1A
    host_name: MBX1A-REPL
    ipv4_address: 10.1.2.121
  check_mode: true
  register: repl_drift
"""

RETURN = r"""
identity:
  description: The clustered mailbox server.
  returned: always
  type: str
  sample: CMS1
host_name:
  description: The host name, as compared (first label).
  returned: always
  type: str
  sample: MBX1A-REPL
nodes:
  description: The CCR nodes (C(RedundantMachines)) of the clustered mailbox server.
  returned: success
  type: list
  elements: str
  sample: [MBX1A, MBX1B]
drift:
  description: One line per item out of compliance; empty when compliant.
  returned: always
  type: list
  elements: str
  sample: ["CMS1: continuous replication host name mbx1a-repl missing on MBX1A (10.1.2.121)"]
reason:
  description: Why a change was (or in check mode would be) needed, why the request was refused, or
    V(compliant ...).
  returned: always
  type: str
  sample: "compliant: CMS1 already has the continuous replication host name mbx1a-repl (operational)"
preconditions:
  description: The checks made before enabling, each with C(check), C(status) (V(ok), V(failed), V(not_checked))
    and C(detail).
  returned: always
  type: list
  elements: dict
  sample:
    - {check: ccr_node, status: ok, detail: "MBX1A is a node of CMS1 (MBX1A, MBX1B)"}
    - {check: name_resolution, status: not_checked, detail: "a static DNS A record or hosts entries ..."}
before:
  description: C(operational), C(failed) and C(in_use) replication host names (lower case) before the task.
  returned: success
  type: dict
  sample: {operational: [mbx1a, mbx1b], failed: [], in_use: [mbx1a, mbx1b]}
after:
  description: The same after the task (read back); in check mode the prediction.
  returned: success
  type: dict
  sample: {operational: [mbx1a, mbx1b, mbx1a-repl], failed: [], in_use: [mbx1a-repl]}
actions:
  description: The state-changing cmdlets in order, with C(cmdlet), C(target), C(parameters), C(endpoint) and
    C(status) V(done), V(failed) or, in check mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - {cmdlet: Enable-ContinuousReplicationHostName, target: CMS1, endpoint: exchange, status: done,
       parameters: {Identity: CMS1, TargetMachine: MBX1A, HostName: MBX1A-REPL, IPv4Address: 10.1.2.121,
                    Confirm: false}}
round_trips:
  description: Number of cmdlet invocations sent (the snap-in load included).
  returned: always
  type: int
  sample: 4
"""

import ipaddress

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import adperm
from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client, connection_argument_spec

STATUS_SELECT = ["Identity", "State", "OperationalMachines", "OperationalReplicationHostNames",
                 "FailedReplicationHostNames", "InUseReplicationHostNames"]
SCR_NOTE = ("continuous replication host names are supported for cluster continuous replication (CCR) between the "
            "nodes of the clustered mailbox server's cluster only, not for standby continuous replication (SCR) "
            "(seed 000 Q3, runbooks §12.1)")
NAME_RESOLUTION = ("the Exchange endpoint cannot show it: give %s a static DNS A record (or hosts file entries on "
                   "both nodes), clear \"Register this connection's addresses in DNS\" and keep NetBIOS enabled on the "
                   "replication adapter (runbooks §12.1)")


class Refused(Exception):
    """The request fails before any write; the message names the option and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def short(name) -> str:
    return str(name or "").strip().split(".", 1)[0]


def validate(params: dict) -> dict:
    if params["exchange_version"] not in (None, "auto", "2007"):
        raise Refused("exchange_version %s: continuous replication host names exist only on Exchange 2007 CCR; "
                      "Exchange 2010 and later use DAG networks (exchange.dr.dag_network)" % params["exchange_version"])
    out = {}
    for option in ("identity", "host_name"):
        try:
            out[option] = adperm.netbios_name(short(params[option]), option, why="a NetBIOS name")
        except adperm.AdPermError as exc:
            raise Refused(exc.message) from None
    if params["state"] == "present":
        for option in ("target_machine", "ipv4_address"):
            if not (params[option] or "").strip():
                raise Refused("%s is required with state=present (%s)" % (option, "the CCR node the host name belongs "
                              "to" if option == "target_machine" else "the static address of the host name"))
        try:
            out["ipv4_address"] = str(ipaddress.IPv4Address(params["ipv4_address"].strip()))
        except ValueError:
            raise Refused("ipv4_address: %r is not an IPv4 address" % params["ipv4_address"]) from None
        out["target_machine"] = short(params["target_machine"])
    cluster = (params["cluster"] or "").strip()
    out["cno"] = (cluster if cluster.endswith("$") else cluster + "$") if cluster else None
    return out


# ------------------------------------------------------------------------------- reads
def read_nodes(client, cms: str) -> list:
    rows, errors = client.invoke("Get-MailboxServer", {"Identity": cms}, select=["Name", "RedundantMachines"],
                                 errors="return")
    for error in errors:
        if not adperm.not_found(error):
            raise error
    if not rows:
        raise Refused("identity: no clustered mailbox server %s (Get-MailboxServer found no such mailbox server)" % cms)
    nodes = c.server_names(c.to_plain(rows[0]).get("RedundantMachines"))
    if not nodes:
        raise Refused("identity: %s is not a clustered mailbox server (no RedundantMachines); continuous replication "
                      "host names exist only for CCR" % cms)
    return nodes


def read_host_names(client, cms: str) -> dict:
    rows = client.invoke("Get-ClusteredMailboxServerStatus", {"Identity": cms}, select=STATUS_SELECT)
    if not rows:
        raise Refused("identity: Get-ClusteredMailboxServerStatus returned no status for %s" % cms)
    row = c.to_plain(rows[0])

    def names(prop):
        return [short(n).lower() for n in c.as_list(row.get(prop)) if n]
    return {"operational": names("OperationalReplicationHostNames"), "failed": names("FailedReplicationHostNames"),
            "in_use": names("InUseReplicationHostNames")}


def scr_storage_groups(client, cms: str, machine: str) -> list:
    rows, _errors = client.invoke("Get-StorageGroupCopyStatus", {"Server": cms, "StandbyMachine": machine},
                                  select=["Identity", "SummaryCopyStatus"], errors="return")
    return [c.text(c.to_plain(r).get("Identity")) for r in rows]


# --------------------------------------------------------------------------- decisions
def plan(status: dict, nodes: list, request: dict, state: str) -> dict:
    """Pure: ``{"action": "enable"|"disable"|None, "drift": [...], "unfixable": [...], "after": {...}}``."""
    host = request["host_name"].lower()
    after = {key: list(value) for key, value in status.items()}
    out = {"action": None, "drift": [], "unfixable": [], "after": after}
    listed = host in status["operational"] or host in status["failed"] or host in status["in_use"]
    if state == "present":
        if not listed:
            out["action"] = "enable"
            out["drift"].append("%s: continuous replication host name %s missing on %s (%s)" % (
                request["identity"], host, request["target_machine"], request["ipv4_address"]))
            after["operational"].append(host)
            custom = [n for n in after["in_use"] if n not in [x.lower() for x in nodes]]
            after["in_use"] = custom + [host]
        elif host in status["failed"]:
            line = ("%s: continuous replication host name %s is failed (FailedReplicationHostNames): check its node, "
                    "network and name resolution" % (request["identity"], host))
            out["drift"].append(line)
            out["unfixable"].append(line)
    elif listed:
        out["action"] = "disable"
        out["drift"].append("%s: extra continuous replication host name %s" % (request["identity"], host))
        for key in after:
            after[key] = [n for n in after[key] if n != host]
        if not [n for n in after["in_use"] if n not in [x.lower() for x in nodes]]:
            after["in_use"] = [n for n in after["operational"] if n in [x.lower() for x in nodes]]
    return out


def check_ccr_target(client, request: dict, nodes: list, preconditions: list) -> None:
    machine = request["target_machine"]
    if machine.lower() in [n.lower() for n in nodes]:
        preconditions.append({"check": "ccr_node", "status": "ok", "detail": "%s is a node of %s (%s)" % (
            machine, request["identity"], ", ".join(nodes))})
        return
    groups = scr_storage_groups(client, request["identity"], machine)
    what = ("it is the standby continuous replication (SCR) target of %s" % ", ".join(groups) if groups else
            "it is not a node of the clustered mailbox server's CCR cluster")
    preconditions.append({"check": "ccr_node", "status": "failed", "detail": "%s: %s" % (machine, what)})
    raise Refused("target_machine: %s is not a CCR node of %s (nodes %s); %s. Refused before any change: %s"
                  % (machine, request["identity"], ", ".join(nodes), what, SCR_NOTE))


def check_cno(client, request: dict, preconditions: list) -> None:
    if request["cno"] is None:
        preconditions.append({"check": "cno_rights", "status": "not_checked", "detail": "set cluster to check that the "
                              "cluster name object has Full Control on an existing computer object of %s (runbooks "
                              "§10.1)" % request["host_name"]})
        return
    read = adperm.read_aces(client, request["host_name"], request["cno"], resolve_dn=True)
    if not read["found"]:
        preconditions.append({"check": "cno_rights", "status": "ok", "detail": "no computer object %s yet: the "
                              "cluster creates it (its CNO needs the right to create computer objects in the "
                              "Computers container)" % request["host_name"]})
        return
    obj = read["dn"] or request["host_name"]
    rights = adperm.ace_plan(adperm.ace_state(obj, request["cno"], read["aces"]), [adperm.FULL_CONTROL], "present")
    if rights["add"] or rights["unfixable"]:
        preconditions.append({"check": "cno_rights", "status": "failed", "detail": "%s lacks Full Control on %s" % (
            request["cno"], obj)})
        raise Refused("cluster: the cluster name object %s lacks Full Control on the existing computer object %s of "
                      "host name %s, so Enable-ContinuousReplicationHostName could not bring the network name online "
                      "(runbooks §10.1, §12.1). Grant it first (exchange.dr.cno_permission identity=%s principal=%s), "
                      "or delete the stale computer object; nothing was changed"
                      % (request["cno"], obj, request["host_name"], obj, request["cno"]))
    preconditions.append({"check": "cno_rights", "status": "ok", "detail": "%s has Full Control on %s" % (
        request["cno"], obj)})


def reason(request: dict, result: dict, state: str, check: bool) -> str:
    verb = "would" if check else "did"
    host = request["host_name"].lower()
    if result["action"] == "enable":
        return ("%s lacks the continuous replication host name %s: Enable-ContinuousReplicationHostName %s add it on "
                "%s, so log shipping and seeding can use the redundant network (runbooks §12.1)"
                % (request["identity"], host, verb, request["target_machine"]))
    if result["action"] == "disable":
        return "%s has the continuous replication host name %s: Disable-ContinuousReplicationHostName %s remove it" % (
            request["identity"], host, verb)
    if result["unfixable"]:
        return "not fixable by the module: " + "; ".join(result["unfixable"])
    return "compliant: %s %s the continuous replication host name %s" % (
        request["identity"], "already has" if state == "present" else "does not have", host)


def run(module, client, writer: adperm.Writer, request: dict, preconditions: list) -> dict:
    state = module.params["state"]
    nodes = read_nodes(client, request["identity"])
    if request["host_name"].lower() in [n.lower() for n in nodes]:
        raise Refused("host_name: %s is the name of a node of %s; give the additional replication name (for "
                      "example %s-REPL)" % (request["host_name"], request["identity"], request["host_name"]))
    if state == "present":
        check_ccr_target(client, request, nodes, preconditions)
    status = read_host_names(client, request["identity"])
    decided = plan(status, nodes, request, state)
    if decided["action"] == "enable":
        check_cno(client, request, preconditions)
        preconditions.append({"check": "name_resolution", "status": "not_checked",
                              "detail": NAME_RESOLUTION % request["host_name"]})
    for line in decided["unfixable"]:
        module.warn(line)
    if decided["action"] == "enable":
        writer.send(client, "Enable-ContinuousReplicationHostName", {
            "Identity": request["identity"], "TargetMachine": request["target_machine"],
            "HostName": request["host_name"], "IPv4Address": request["ipv4_address"], "Confirm": False},
            request["identity"])
    elif decided["action"] == "disable":
        writer.send(client, "Disable-ContinuousReplicationHostName", {
            "Identity": request["identity"], "HostName": request["host_name"], "Confirm": False}, request["identity"])
    after = decided["after"]
    if decided["action"] and not module.check_mode:
        after = read_host_names(client, request["identity"])
        host = request["host_name"].lower()
        listed = any(host in after[k] for k in after)
        if listed != (decided["action"] == "enable"):
            raise Refused("%s reported success but Get-ClusteredMailboxServerStatus %s %s" % (
                writer.actions[-1]["cmdlet"], "does not list" if decided["action"] == "enable" else "still lists",
                host))
    return {"changed": bool(writer.actions), "nodes": nodes, "drift": decided["drift"],
            "reason": reason(request, decided, state, module.check_mode), "preconditions": preconditions,
            "before": status, "after": after}


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        identity=dict(type="str", required=True),
        target_machine=dict(type="str"),
        host_name=dict(type="str", required=True),
        ipv4_address=dict(type="str"),
        cluster=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    base = {"changed": False, "identity": params["identity"], "host_name": short(params["host_name"]), "drift": [],
            "preconditions": [], "actions": [], "round_trips": 0}
    try:
        request = validate(params)
    except Refused as exc:
        module.fail_json(msg=exc.message, reason="invalid request: " + exc.message, **base)
    if params["exchange_version"] in (None, "auto"):
        params["exchange_version"] = "2007"  # the snap-in on Microsoft.PowerShell (psrp.endpoint)
    writer = adperm.Writer(module.check_mode)
    client = None
    result = failure = None
    preconditions: list = []
    try:
        client = Client.from_module(module)
        with client:
            result = run(module, client, writer, request, preconditions)
    except Exception as exc:  # refusals, Exchange errors and unexpected failures alike: adperm.failure_of sorts them
        failure = adperm.failure_of(base, exc, refused=(Refused,))
    if failure is not None:
        failure["preconditions"] = preconditions
    adperm.conclude(module, writer, [client], result, failure, identity=request["identity"],
                    host_name=request["host_name"])


if __name__ == "__main__":
    main()
