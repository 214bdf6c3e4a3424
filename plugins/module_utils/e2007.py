# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exchange 2007 SP1 (CCR clustered mailbox servers, SCR, database portability): reads, pure
decisions and the writes of an SCR site failover (runbooks §8, §9, §10.1; seed 000 Q1/Q2).

Internal to exchange.dr: no stable API, for the collection's own modules only.

Exchange 2007 has no remote PowerShell endpoint: a session is ``Microsoft.PowerShell`` on an
Exchange 2007 server with the snap-in ``Microsoft.Exchange.Management.PowerShell.Admin``
loaded (``psrp.Client`` with ``exchange_version="2007"`` does both; :func:`use_2007_endpoint`
sets the module's options).  Reads are one round trip per kind of object; the pure functions
(:func:`active_node`, :func:`cno_access`, :func:`restore_plan`, :func:`logs_lost`,
:func:`user_mailboxes`, ...) hold the decisions and are unit-tested without I/O.  Writes go
through ``database.Run.send`` so check mode sends nothing and records the plan.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils import dns
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError

NOT_FOUND = "ManagementObjectNotFoundException"
FULL_CONTROL = "GenericAll"

# Get-StorageGroupCopyStatus SummaryCopyStatus of an SCR copy (runbooks §14; lab README-model 8).
RESTORED = "Disabled"  # after Restore-StorageGroupCopy replication to the copy has ended
RESTORABLE = ("Healthy",)
RESTORABLE_WITH_LOSS = ("Suspended", "Initializing")  # the copy lags behind: only with allow_data_loss
NOT_RESTORABLE = ("Failed", "Seeding", "ServiceDown")
ONLINE_STATES = ("Online", "PartiallyOnline")
# Get-Mailbox rows that are no user's mailbox (runbooks §9 step 4 filter).
SYSTEM_MAILBOXES = ("SystemAttendantMailbox", "ExOleDbSystemMailbox")

CMS_STATUS_SELECT = ["Identity", "ClusteredMailboxServerName", "State", "OperationalMachines", "FailedResources"]
MAILBOX_SERVER_SELECT = ["Name", "RedundantMachines"]
ACE_SELECT = ["Identity", "User", "AccessRights", "Deny", "IsInherited"]
COPY_SELECT = ["Identity", "StorageGroupName", "SummaryCopyStatus", "CopyQueueLength", "ReplayQueueLength",
               "FailedMessage"]
DATABASE_SELECT = ["Identity", "Name", "StorageGroup", "Server", "Mounted"]
MAILBOX_SELECT = ["Identity", "Alias", "Database", "RecipientTypeDetails", "ObjectClass", "ServerName"]
_LOST = re.compile(r"\((\d+) log files?\)")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")


class RecoveryRefused(Exception):
    """A precondition of the recovery does not hold; nothing was changed.  The message names
    the cause and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------ options
def use_2007_endpoint(params: dict) -> None:
    """The Exchange connection of a 2007 module: ``Microsoft.PowerShell`` on WinRM (``wsman``)
    with the 2007 snap-in, unless the options name another endpoint."""
    if params.get("exchange_version") in (None, "auto"):
        params["exchange_version"] = "2007"


def netbios_name(value: str, option: str) -> str:
    """A computer (NetBIOS) name of at most 15 characters; ValueError naming ``option``."""
    text = (value or "").strip()
    if not _NAME.match(text):
        raise ValueError("%s: %r is not a computer name (letters, digits and hyphens, at most 15 characters)"
                         % (option, value))
    return text


def ipv4(value: str, option: str) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except ValueError:
        raise ValueError("%s: %r is not an IPv4 address" % (option, value)) from None


def cno_principal(cluster: str) -> str:
    """The computer account of a cluster name object: ``CONTOSO\\CLU2`` -> ``CONTOSO\\CLU2$``."""
    text = cluster.strip()
    return text if text.endswith("$") else text + "$"


def same(a, b) -> bool:
    """Names equal case-insensitively, domain suffixes ignored (runbooks §0.6)."""
    return bool(a) and bool(b) and str(a).split(".", 1)[0].lower() == str(b).split(".", 1)[0].lower()


def _principal_matches(user: str | None, principal: str) -> bool:
    """``CONTOSO\\CLU2$`` matches ``CONTOSO\\CLU2$`` and, when no domain is given, any ``X\\CLU2$``."""
    if not user:
        return False
    user, principal = user.lower(), principal.lower()
    if "\\" in principal:
        return user == principal
    return user.rsplit("\\", 1)[-1] == principal


# ------------------------------------------------------------------------------- reads
def _rows(client, cmdlet: str, params: dict, select: list) -> tuple:
    """Rows and the not-found message of a Get-* call (other errors raise)."""
    rows, errors = client.invoke(cmdlet, params, select=select, errors="return")
    missing = None
    for error in errors:
        if error.error_id != NOT_FOUND:
            raise error
        missing = " ".join(error.message.split())
    return [c.to_plain(row) for row in rows], missing


def read_cms_status(client, cms: str) -> dict:
    """``Get-ClusteredMailboxServerStatus -Identity <cms>`` as ``{"found", "reachable", "state",
    "active_node", "operational_machines", "error"}``.  The cluster of the CMS being unreachable
    (its site lost) is no failure here: ``reachable`` is False with the message in ``error``."""
    rows, errors = client.invoke("Get-ClusteredMailboxServerStatus", {"Identity": cms}, select=CMS_STATUS_SELECT,
                                 errors="return")
    for error in errors:
        if error.category in ("PermissionDenied", "InvalidArgument", "InvalidData"):
            raise error
        if error.error_id == NOT_FOUND:
            return {"found": False, "reachable": False, "state": None, "active_node": None,
                    "operational_machines": [], "error": " ".join(error.message.split())}
    if not rows:
        message = " ".join(errors[0].message.split()) if errors else "no status returned"
        return {"found": True, "reachable": False, "state": None, "active_node": None, "operational_machines": [],
                "error": message}
    row = rows[0]
    machines = [str(m) for m in c.as_list(row.get("OperationalMachines"))]
    state = c.enum(row.get("State"))
    return {"found": True, "reachable": True, "state": state, "active_node": active_node(machines, state),
            "operational_machines": machines, "error": None}


def active_node(machines: list, state: str | None = None) -> str | None:
    """The node tagged ``<Active ...>`` in ``OperationalMachines`` (``MBX1A <Active, Quorum
    Owner>``); None when the CMS is not online."""
    if state is not None and state not in ONLINE_STATES:
        return None
    for entry in machines or []:
        text = str(entry)
        name, _sep, tags = text.partition("<")
        if "active" in [t.strip().lower() for t in tags.rstrip(">").split(",")]:
            return name.strip()
    return None


def read_mailbox_servers(client) -> list:
    """Every mailbox server (clustered mailbox servers included) with its redundant machines
    (``Get-MailboxServer``): ``[{"name", "redundant_machines"}]``."""
    rows = client.invoke("Get-MailboxServer", None, select=MAILBOX_SERVER_SELECT)
    return [{"name": c.text(row.get("Name")), "redundant_machines": [str(m) for m in c.as_list(row.get(
        "RedundantMachines"))]} for row in (c.to_plain(r) for r in rows)]


def read_aces(client, identity: str) -> tuple:
    """The ACEs of AD object ``identity`` (``Get-ADPermission -Identity``, every principal in one
    round trip): ``(aces, missing)``; ``missing`` is the not-found message."""
    rows, missing = _rows(client, "Get-ADPermission", {"Identity": identity}, ACE_SELECT)
    aces = [{"identity": c.text(r.get("Identity")), "user": c.text(r.get("User")),
             "access_rights": [str(x) for x in c.flags(r.get("AccessRights"))], "deny": bool(r.get("Deny")),
             "inherited": bool(r.get("IsInherited"))} for r in rows]
    return aces, missing


def cno_access(aces: list, principal: str) -> dict:
    """Whether ``principal`` has Full Control (an allow ACE with GenericAll, explicit or inherited,
    and no deny GenericAll ACE: runbooks §10.1).  ``{"full_control", "allow", "deny", "object"}``."""
    mine = [a for a in aces if _principal_matches(a.get("user"), principal)]
    allow = [a for a in mine if not a["deny"] and FULL_CONTROL.lower() in [r.lower() for r in a["access_rights"]]]
    deny = [a for a in mine if a["deny"] and FULL_CONTROL.lower() in [r.lower() for r in a["access_rights"]]]
    return {"full_control": bool(allow) and not deny, "allow": bool(allow), "deny": bool(deny),
            "object": next((a["identity"] for a in aces if a.get("identity")), None)}


def read_scr_copies(client, cms: str, standby_machine: str) -> tuple:
    """SCR copies of ``cms``'s storage groups on ``standby_machine`` (``Get-StorageGroupCopyStatus
    -Server -StandbyMachine``): ``(copies, missing)``; ``missing`` lists the messages of the storage
    groups without a copy there."""
    rows, errors = client.invoke("Get-StorageGroupCopyStatus", {"Server": cms, "StandbyMachine": standby_machine},
                                 select=COPY_SELECT, errors="return")
    return [scr_copy(c.to_plain(row)) for row in rows], [" ".join(e.message.split()) for e in errors]


def read_scr_copy(client, storage_group: str, standby_machine: str) -> tuple:
    """One storage group's SCR copy (``-Identity <Server>\\<SG> -StandbyMachine``): ``(copy or None,
    message)``."""
    rows, errors = client.invoke("Get-StorageGroupCopyStatus", {"Identity": storage_group,
                                                                "StandbyMachine": standby_machine},
                                 select=COPY_SELECT, errors="return")
    message = " ".join(errors[0].message.split()) if errors else None
    return (scr_copy(c.to_plain(rows[0])) if rows else None), message


def scr_copy(row: dict) -> dict:
    return {"storage_group": c.text(row.get("Identity")), "name": c.text(row.get("StorageGroupName")),
            "status": c.enum(row.get("SummaryCopyStatus")), "copy_queue": c.integer(row.get("CopyQueueLength")) or 0,
            "replay_queue": c.integer(row.get("ReplayQueueLength")) or 0,
            "failed_message": c.text(row.get("FailedMessage"))}


def read_databases(client, server: str | None = None, identity: str | None = None) -> tuple:
    """``Get-MailboxDatabase -Server <server> -Status`` (or ``-Identity``): ``(databases, missing)``;
    each ``{"identity", "name", "storage_group", "server", "mounted"}``."""
    params = {"Identity": identity} if identity else {"Server": server}
    params["Status"] = None
    rows, missing = _rows(client, "Get-MailboxDatabase", params, DATABASE_SELECT)
    return [{"identity": c.text(r.get("Identity")), "name": c.text(r.get("Name")),
             "storage_group": c.text(r.get("StorageGroup")), "server": c.text(r.get("Server")),
             "mounted": r.get("Mounted") is True} for r in rows], missing


def read_mailboxes(client, database: str) -> list:
    """User mailboxes homed on ``database`` (``Get-Mailbox -Database -ResultSize Unlimited``,
    system mailboxes left out: :func:`user_mailboxes`)."""
    rows, _missing = _rows(client, "Get-Mailbox", {"Database": database, "ResultSize": "Unlimited"}, MAILBOX_SELECT)
    return user_mailboxes(rows)


def user_mailboxes(rows: list) -> list:
    out = []
    for r in rows:
        kinds = [str(x) for x in c.as_list(r.get("ObjectClass"))] + [str(c.enum(r.get("RecipientTypeDetails")) or "")]
        if any(k.lower() == s.lower() for k in kinds for s in SYSTEM_MAILBOXES):
            continue
        out.append({"identity": c.text(r.get("Identity")), "alias": c.text(r.get("Alias")),
                    "database": c.text(r.get("Database"))})
    return out


# ---------------------------------------------------------------------------- decisions
def restore_plan(copies: list, source_available: bool, allow_data_loss: bool) -> list:
    """Per storage group: ``{"storage_group", "status", "action" (restore/done), "force",
    "logs_at_risk"}``.  Raises :class:`RecoveryRefused` (nothing changed yet) when a copy cannot
    be activated, or when activating it would lose logs and ``allow_data_loss`` is false."""
    plan, lossy, broken = [], [], []
    for copy in copies:
        status = copy["status"]
        if status == RESTORED:
            plan.append({"storage_group": copy["storage_group"], "status": status, "action": "done", "force": False,
                         "logs_at_risk": 0})
            continue
        if status in NOT_RESTORABLE or status not in RESTORABLE + RESTORABLE_WITH_LOSS:
            reason = ": " + copy["failed_message"] if copy.get("failed_message") else ""
            broken.append("%s (%s%s)" % (copy["storage_group"], status, reason))
            continue
        force = not source_available
        if force or status in RESTORABLE_WITH_LOSS:
            lossy.append("%s (%s, %d logs in the copy queue)" % (copy["storage_group"], status, copy["copy_queue"]))
        plan.append({"storage_group": copy["storage_group"], "status": status, "action": "restore", "force": force,
                     "logs_at_risk": copy["copy_queue"] if force else 0})
    if broken:
        raise RecoveryRefused("the SCR copies of %s cannot be activated (Get-StorageGroupCopyStatus -StandbyMachine); "
                              "repair or reseed them first (Update-StorageGroupCopy), nothing was changed"
                              % ", ".join(broken))
    if lossy and not allow_data_loss:
        raise RecoveryRefused("activating the SCR copies would lose the logs not yet copied: %s. %s Set "
                              "allow_data_loss true to accept the loss (Restore-StorageGroupCopy -Force); nothing was "
                              "changed" % (", ".join(lossy), "The source is not available, so Restore-StorageGroupCopy "
                                           "needs -Force (runbooks §8 step 2)." if not source_available else ""))
    return plan


def logs_lost(warnings: list, storage_group: str) -> int | None:
    """The number of logs Restore-StorageGroupCopy reported lost for ``storage_group`` in its
    warning ("... could not be copied (<n> log files); data loss is expected ..."), else None."""
    for warning in warnings:
        if storage_group.lower() in warning.lower():
            match = _LOST.search(warning)
            if match:
                return int(match.group(1))
    return None


def setup_arguments(cms: str, ipv4_address: str) -> list:
    """``Setup.com /RecoverCMS /CMSName:<cms> /CMSIPv4Address:<ip>`` (runbooks §8 step 4) as the
    separate arguments of a native command (values validated beforehand)."""
    return ["/RecoverCMS", "/CMSName:%s" % netbios_name(cms, "cms"),
            "/CMSIPv4Address:%s" % ipv4(ipv4_address, "ipv4_address")]


CLIENT_CONSEQUENCE = (
    "Outlook 2007 finds the new database through Autodiscover (Client Access servers) without any change. Outlook "
    "2003 has no Autodiscover: its MAPI profile still names the old server and is redirected only while that "
    "server is online; with the old server down, run the Exchange Server Profile Redirector (exprofre.exe "
    "/targetgc=<GC>) from a logon script or reconfigure the profiles (seed 000 Q2, runbooks §9 step 5). Mail flows "
    "after Active Directory replication.")


# ---------------------------------------------------------------------------------- DNS
# The A records of the CMS name: dns.DnsRecords (DnsServer cmdlets, else dnscmd.exe on Windows Server 2008).
DNSCMD = dns.DNSCMD
DnsRecords = dns.DnsRecords
dnscmd_records = dns.dnscmd_records


# -------------------------------------------------------------------------------- writes
def send(run, cmdlet: str, parameters: dict, target: str, select: list | None = None) -> list:
    """A state-changing cmdlet through ``run`` (recorded only, in check mode); its first error
    record raises.  Returns the output rows."""
    rows, errors = run.send(cmdlet, parameters, target, select=select)
    if errors:
        first = errors[0]
        first.records = errors
        raise first
    return rows


def run_native(run, command: str, arguments: list, target: str) -> tuple:
    """A native program (``Setup.com``) through ``run``'s client, recorded in ``run.actions``:
    ``(lines, errors)``; ``([], [])`` in check mode."""
    return run.perform({"cmdlet": command, "target": target, "arguments": list(arguments)},
                       lambda: run.client.invoke_native(command, arguments),
                       "%s %s" % (command, " ".join(arguments)))


__all__ = ["CLIENT_CONSEQUENCE", "DNSCMD", "DnsRecords", "dnscmd_records", "ExchangeCommandError", "RecoveryRefused", "active_node", "cno_access",
           "cno_principal", "ipv4", "logs_lost", "netbios_name", "read_aces", "read_cms_status", "read_databases",
           "read_mailbox_servers", "read_mailboxes", "read_scr_copies", "read_scr_copy", "restore_plan", "run_native",
           "same", "send", "setup_arguments", "use_2007_endpoint", "user_mailboxes"]
