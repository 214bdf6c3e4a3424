# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access control entries on Active Directory objects through Exchange's ADPermission cmdlets,
and the pre-staged computer account of a DAG's cluster name object (runbooks §10.1, §10.2).

Internal to exchange.dr: no stable API, for the collection's own modules only.

Used by ``cno_permission`` (and ``replication_hostname`` for its CNO precondition).  Reads are
one round trip per kind of object: ``Get-ADPermission -Identity <object> -User <principal>``
(Exchange resolves the principal, so ``CONTOSO\\EX01$``, a UPN or a SID all compare as the
same account), ``Get-ADComputer`` on a domain controller, ``Get-DatabaseAvailabilityGroup``.
The decisions (:func:`ace_plan`, :func:`account_plan`) are pure and unit-tested without I/O.
Writes go through :class:`Writer`, which records every state-changing cmdlet in ``actions``
and sends nothing in check mode.  The same cmdlets exist in the Exchange 2007 snap-in
(``Microsoft.PowerShell`` endpoint, ``exchange_version: '2007'``) and on the 2010+
``Microsoft.Exchange`` endpoint; only their not-found error ids differ (:func:`not_found`).
"""

from __future__ import annotations

import re
import traceback

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError, ExchangeError

FULL_CONTROL = "GenericAll"
ACE_SELECT = ["Identity", "User", "AccessRights", "Deny", "IsInherited", "InheritanceType"]
COMPUTER_SELECT = ["DistinguishedName", "Name", "SamAccountName", "Enabled", "userAccountControl"]
DAG_SELECT = ["Name", "Servers"]
# System.DirectoryServices.ActiveDirectoryRights members (object-properties §7).
ACCESS_RIGHTS = (
    "AccessSystemSecurity", "CreateChild", "Delete", "DeleteChild", "DeleteTree", "ExtendedRight", "GenericAll",
    "GenericExecute", "GenericRead", "GenericWrite", "ListChildren", "ListObject", "ReadControl", "ReadProperty",
    "Self", "Synchronize", "WriteDacl", "WriteOwner", "WriteProperty",
)
RIGHTS_TEXT = {FULL_CONTROL: "Full Control"}
_NETBIOS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
_DN_PART = re.compile(r"^(CN|OU|DC)=.+", re.IGNORECASE)


class AdPermError(Exception):
    """A request the module refuses before any write; the message names the option and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------ input
def access_rights(values: list) -> list:
    """The rights in their canonical spelling, duplicates dropped (``genericall`` -> ``GenericAll``);
    AdPermError naming ``access_rights`` for an unknown one."""
    canonical = {r.lower(): r for r in ACCESS_RIGHTS}
    out = []
    for value in values or []:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            if part.lower() not in canonical:
                raise AdPermError("access_rights: %r is not an ActiveDirectoryRights value; use one of %s (Full "
                                  "Control is GenericAll)" % (part, ", ".join(ACCESS_RIGHTS)))
            if canonical[part.lower()] not in out:
                out.append(canonical[part.lower()])
    if not out:
        raise AdPermError("access_rights must name at least one right, for example [GenericAll] (Full Control)")
    return out


def is_dn(value: str) -> bool:
    parts = split_dn(value)
    return len(parts) > 1 and all(_DN_PART.match(p) for p in parts)


def split_dn(value: str) -> list:
    """The RDNs of a distinguished name (escaped commas kept)."""
    return [p.strip() for p in re.split(r"(?<!\\),", value or "") if p.strip()]


def dn_name_and_parent(dn: str) -> tuple:
    """``CN=DAG2,OU=Servers,DC=contoso,DC=com`` -> (``DAG2``, ``OU=Servers,DC=contoso,DC=com``)."""
    parts = split_dn(dn)
    return parts[0].split("=", 1)[1].replace("\\,", ","), ",".join(parts[1:])


def netbios_name(value: str, option: str, why: str = "as a DAG's cluster name object must be: runbooks §10.2") -> str:
    text = (value or "").strip()
    if not _NETBIOS.match(text):
        raise AdPermError("%s: %r is not a computer name (letters, digits and hyphens, at most 15 characters, %s)"
                          % (option, value, why))
    return text


def rights_text(rights: list) -> str:
    return ", ".join("%s (%s)" % (r, RIGHTS_TEXT[r]) if r in RIGHTS_TEXT else r for r in rights)


# ------------------------------------------------------------------------------ reads
def not_found(error: ExchangeCommandError) -> bool:
    """Exchange's (2010+ and 2007) and the ActiveDirectory module's "object not found" errors."""
    words = " ".join(str(x) for x in (error.error_id, error.exception_type, error.fq_error) if x)
    return "ManagementObjectNotFoundException" in words or "ADIdentityNotFoundException" in words


def ace(row: dict) -> dict:
    return {"object": c.text(row.get("Identity")), "user": c.text(row.get("User")),
            "access_rights": [str(r) for r in c.flags(row.get("AccessRights"))], "deny": row.get("Deny") is True,
            "inherited": row.get("IsInherited") is True, "inheritance_type": c.enum(row.get("InheritanceType"))}


def read_aces(client, identity: str, principal: str, resolve_dn: bool = False) -> dict:
    """The ACEs of ``principal`` on AD object ``identity`` (one ``Get-ADPermission -Identity -User``).

    ``{"found": bool, "aces": [...], "dn": str or None, "message": not-found text}``; AdPermError when
    the principal does not resolve (Exchange's not-found error names it).  ``found`` is False when the
    object does not exist.  With ``resolve_dn`` an object on which the principal has no ACE is named
    by a second read (:func:`object_dn`), so drift lines name the object precisely."""
    rows, errors = client.invoke("Get-ADPermission", {"Identity": identity, "User": principal}, select=ACE_SELECT,
                                 errors="return")
    for error in errors:
        if not not_found(error):
            raise error
        missing = error.target or ""
        if missing.lower() == principal.lower() or ("'%s'" % principal).lower() in error.message.lower():
            raise AdPermError("principal: no security principal %s in Active Directory (%s); give DOMAIN\\name$ for "
                              "a computer account (a cluster name object: CONTOSO\\CLU2$) or the name of a group "
                              "(Exchange Trusted Subsystem)" % (principal, " ".join(error.message.split())))
        return {"found": False, "aces": [], "message": " ".join(error.message.split()), "dn": None}
    aces = [ace(c.to_plain(row)) for row in rows]
    dn = next((a["object"] for a in aces if a["object"]), None)
    if dn is None and resolve_dn:
        dn = object_dn(client, identity)
    return {"found": True, "aces": aces, "message": None, "dn": dn}


def object_dn(client, identity: str) -> str | None:
    """The distinguished name Exchange resolves ``identity`` to (``Get-ADPermission -Identity -Owner``:
    one small object), for naming the object when the principal has no ACE on it."""
    rows, errors = client.invoke("Get-ADPermission", {"Identity": identity, "Owner": None}, select=["Identity"],
                                 errors="return")
    for error in errors:
        if not not_found(error):
            raise error
    return c.text(c.to_plain(rows[0]).get("Identity")) if rows else None


def read_computer(client, name: str) -> dict | None:
    """The computer account ``name`` (``Get-ADComputer -Identity``, on a domain controller's Windows
    endpoint), or None.  ``{"dn", "name", "sam", "enabled", "user_account_control"}``."""
    try:
        rows = client.invoke("Get-ADComputer", {"Identity": name, "Properties": ["userAccountControl"]},
                             select=COMPUTER_SELECT)
    except ExchangeCommandError as error:
        if not_found(error):
            return None
        raise
    if not rows:
        return None
    row = c.to_plain(rows[0])
    return {"dn": c.text(row.get("DistinguishedName")), "name": c.text(row.get("Name")),
            "sam": c.text(row.get("SamAccountName")), "enabled": row.get("Enabled") is True,
            "user_account_control": c.integer(row.get("userAccountControl"))}


def read_dag_members(client, name: str) -> list | None:
    """The member servers of DAG ``name`` (``Get-DatabaseAvailabilityGroup -Identity``), or None
    when there is no such DAG yet."""
    rows, errors = client.invoke("Get-DatabaseAvailabilityGroup", {"Identity": name}, select=DAG_SELECT,
                                 errors="return")
    for error in errors:
        if not not_found(error):
            raise error
    if not rows:
        return None
    return c.server_names(c.to_plain(rows[0]).get("Servers"))


# --------------------------------------------------------------------------- decisions
def _covers(granted: list, right: str) -> bool:
    lower = [g.lower() for g in granted]
    return FULL_CONTROL.lower() in lower or right.lower() in lower


def summary(state: dict) -> dict:
    """The part of the ACE state shown in before/after/diff."""
    return {"object": state["object"], "principal": state["principal"], "exists": state["exists"],
            "allow": sorted(state["allow"]), "deny": sorted(state["deny"]),
            "inherited_allow": sorted(state["inherited_allow"])}


def ace_state(obj: str, principal: str, aces: list, exists: bool = True) -> dict:
    allow, deny, inherited = [], [], []
    for a in aces:
        target = deny if a["deny"] else (inherited if a["inherited"] else allow)
        for right in a["access_rights"]:
            if right not in target:
                target.append(right)
    return {"object": obj, "principal": principal, "exists": exists, "allow": allow, "deny": deny,
            "inherited_allow": inherited}


def ace_plan(state: dict, rights: list, wanted: str) -> dict:
    """What to do so that ``state`` (:func:`ace_state`) has ``rights`` allowed (``present``) or not
    (``absent``) for the principal.

    ``{"add": [rights], "remove": [rights], "drift": [lines], "unfixable": [lines], "after": state}``.
    present: rights neither explicitly nor by inheritance allowed are added (GenericAll covers them
    all); a deny ACE on a wanted right is drift the module reports but never removes (deleting
    someone's deny is a security decision).  absent: the wanted rights are removed from the explicit
    allow ACEs; rights allowed only by inheritance come from the parent container and are reported."""
    obj, principal = state["object"], state["principal"]
    plan = {"add": [], "remove": [], "drift": [], "unfixable": []}
    after = {key: list(value) if isinstance(value, list) else value for key, value in state.items()}
    granted = state["allow"] + state["inherited_allow"]
    if wanted == "present":
        missing = [r for r in rights if not _covers(granted, r)]
        if missing:
            plan["add"] = missing
            plan["drift"].append("ACE missing on %s: %s Allow %s (Deny False)" % (obj, principal, rights_text(missing)))
            after["allow"] = after["allow"] + [r for r in missing if r not in after["allow"]]
        denied = [r for r in state["deny"] if r.lower() == FULL_CONTROL.lower() or r in rights
                  or FULL_CONTROL in rights]
        if denied:
            line = ("deny ACE on %s: %s Deny %s overrides the grant; remove it deliberately (Remove-ADPermission "
                    "-Deny), the module does not delete deny entries" % (obj, principal, rights_text(denied)))
            plan["drift"].append(line)
            plan["unfixable"].append(line)
    else:
        extra = [r for r in state["allow"] if r in rights or (r == FULL_CONTROL and FULL_CONTROL in rights)]
        if extra:
            plan["remove"] = extra
            plan["drift"].append("extra ACE on %s: %s Allow %s" % (obj, principal, rights_text(extra)))
            after["allow"] = [r for r in after["allow"] if r not in extra]
        inherited = [r for r in state["inherited_allow"] if r in rights]
        if inherited:
            line = ("inherited ACE on %s: %s Allow %s comes from a parent container; remove it there"
                    % (obj, principal, rights_text(inherited)))
            plan["drift"].append(line)
            plan["unfixable"].append(line)
    plan["after"] = after
    return plan


def account_plan(name: str, account: dict | None, organizational_unit: str | None, members: list | None) -> dict:
    """The pre-staged CNO of DAG ``name`` (runbooks §10.2): ``{"create": bool, "conflict": line or
    None, "drift": [lines]}``.  Missing -> create it disabled.  Present and disabled -> fine.  Present
    and enabled although the DAG has no member yet -> a conflict (someone else's object?): reported,
    not touched.  Present elsewhere than ``organizational_unit`` -> reported (never moved)."""
    plan = {"create": False, "conflict": None, "drift": []}
    if account is None:
        plan["create"] = True
        plan["drift"].append("computer account %s missing%s: pre-stage it disabled (runbooks §10.2)"
                             % (name, " in %s" % organizational_unit if organizational_unit else ""))
        return plan
    if account["enabled"] and not members:
        plan["conflict"] = ("computer account %s is enabled although DAG %s has no member yet (%s): a pre-staged "
                            "cluster name object stays disabled until the first member is added, so this may be "
                            "another computer's account; left untouched (runbooks §10.2) - check who owns it, then "
                            "disable it (Set-ADComputer -Enabled $false) or choose another DAG name"
                            % (account["dn"], name, "the DAG does not exist" if members is None else "no Servers"))
        plan["drift"].append(plan["conflict"])
    if organizational_unit and account["dn"]:
        parent = dn_name_and_parent(account["dn"])[1]
        if parent.lower().replace(" ", "") != organizational_unit.lower().replace(" ", ""):
            plan["drift"].append("computer account %s is in %s, not in organizational_unit %s (not moved)"
                                 % (name, parent, organizational_unit))
    return plan


# -------------------------------------------------------------------------------- writes
def add_parameters(obj: str, principal: str, rights: list) -> dict:
    """``Add-ADPermission -Identity <DN> -User <principal> -AccessRights <rights>`` (runbooks §10.1 fix)."""
    return {"Identity": obj, "User": principal, "AccessRights": list(rights), "Confirm": False}


def remove_parameters(obj: str, principal: str, rights: list) -> dict:
    """``Remove-ADPermission`` with the same arguments and ``-Confirm:$false`` (runbooks §10.1 rollback)."""
    return {"Identity": obj, "User": principal, "AccessRights": list(rights), "Confirm": False}


def new_computer_parameters(name: str, organizational_unit: str | None) -> dict:
    """``New-ADComputer -Name <DAG> -SAMAccountName <DAG> [-Path <OU>] -Enabled $false`` (runbooks §10.2
    step 1: a computer account named like the DAG, disabled)."""
    params = {"Name": name, "SAMAccountName": name, "Enabled": False}
    if organizational_unit:
        params["Path"] = organizational_unit
    return params


class Writer:
    """Sends state-changing cmdlets (only records them in check mode) and keeps the ordered
    ``actions``: ``{cmdlet, target, parameters, endpoint, status}`` with status planned, done or
    failed."""

    def __init__(self, check_mode: bool) -> None:
        self.check_mode = check_mode
        self.actions: list = []

    def send(self, client, cmdlet: str, parameters: dict, target: str, endpoint: str = "exchange") -> list:
        action = {"cmdlet": cmdlet, "target": target, "parameters": dict(parameters), "endpoint": endpoint,
                  "status": "planned" if self.check_mode else "sent"}
        self.actions.append(action)
        if self.check_mode:
            return []
        try:
            rows, errors = client.invoke(cmdlet, parameters, errors="return")
        except ExchangeError:
            action["status"] = "failed"
            raise
        if errors:
            action["status"] = "failed"
            errors[0].records = errors
            raise errors[0]
        action["status"] = "done"
        return rows


def failure_of(base: dict, exc: Exception, refused: tuple = ()) -> dict:
    """The failed result of a run that raised ``exc``: a refusal (``AdPermError`` or ``refused``),
    an error Exchange returned, or an unexpected failure (its traceback kept for -vvv)."""
    if isinstance(exc, (AdPermError,) + tuple(refused)):
        return dict(base, msg=exc.message, reason="refused: " + exc.message)
    if isinstance(exc, ExchangeError):
        return dict(base, msg=str(exc), reason="Exchange refused: %s" % exc, **exc.result())
    return dict(base, msg="unexpected error: %s: %s" % (type(exc).__name__, exc), reason="unexpected error",
                exception=traceback.format_exc())


def conclude(module, writer: Writer, clients: list, result: dict | None, failure: dict | None, **values) -> None:
    """End the module: the sessions' warnings, then ``failure`` (with the actions sent so far, the
    round trips and ``changed`` when a write was done) or ``result`` with ``values``, the actions,
    the round trips and, in diff mode, its before/after."""
    clients = [client for client in clients if client is not None]
    round_trips = sum(len(client.calls) for client in clients)
    for warning in [w for client in clients for w in client.warnings]:
        module.warn(warning)
    if failure is not None:
        failure.update(actions=writer.actions, round_trips=round_trips,
                       changed=any(a["status"] == "done" for a in writer.actions))
        module.fail_json(**failure)
    result.update(values, actions=writer.actions, round_trips=round_trips)
    if module._diff:
        result["diff"] = {"before": result["before"], "after": result["after"]}
    module.exit_json(**result)


__all__ = ["ACCESS_RIGHTS", "ACE_SELECT", "AdPermError", "FULL_CONTROL", "Writer", "access_rights", "account_plan",
           "ace", "ace_plan", "ace_state", "add_parameters", "conclude", "dn_name_and_parent", "failure_of", "is_dn", "netbios_name",
           "new_computer_parameters", "not_found", "object_dn", "read_aces", "read_computer", "read_dag_members", "remove_parameters",
           "rights_text", "split_dn", "summary"]
