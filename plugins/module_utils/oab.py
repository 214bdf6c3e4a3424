# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OAB distribution from an Exchange 2007 SP1 clustered mailbox server on a Windows Server 2008
failover cluster (runbooks §11, seed 000 Q4): reads, the pure drift/plan decision, and the
verification by the Client Access servers' file distribution service.

Internal to exchange.dr: no stable API, for the collection's own modules only.

Used by ``oab_share_scope``.  The defect: below Exchange 2007 SP1 Update Rollup 5, OAB generation
publishes to ``\\\\<active node>\\ExchangeOAB``, a share scoped to the node name, while the CAS
file distribution service (FDS) copies from ``\\\\<CMS>\\ExchangeOAB``; the copy fails with
MSExchangeFDS event 1021.  The documented fix is RU5 or later on the CMS nodes: generation then
publishes to a share scoped to the CMS network name, with Read for Exchange Servers.

Reads: the snap-in cmdlets (one call each: Get-MailboxServer, Get-ClusteredMailboxServerStatus,
Get-ExchangeServer, Get-OfflineAddressBook) on the Exchange 2007 session; per node the installed
rollups (``Get-ItemProperty`` of the Exchange 2007 product's Windows Installer patch list; the
method community scripts use, **unconfirmed** in runbooks §11); per Client Access server its
Application log (``Get-EventLog``: Windows PowerShell 1.0 has no ``-ComputerName`` and no
source filter, so one call per server, newest :data:`EVENT_LOG_NEWEST` entries).
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.exchange.dr.plugins.module_utils import convert as c

NOT_FOUND = "ManagementObjectNotFoundException"
FIX_ROLLUP = 5  # runbooks §11: Exchange 2007 SP1 Update Rollup 5 or later
OAB_SHARE = "ExchangeOAB"
EXCHANGE_SERVERS = "Exchange Servers"
REQUIRED_ACCESS = "Read for Exchange Servers on the share and its folder"
FDS_SOURCE = "MSExchangeFDS"
FDS_EVENT = 1021
EVENT_LOG_NEWEST = 1000
# distribution of a Client Access server: event 1021 since the last generation; none logged;
# verified by a distribution this run started
FAILING, NOT_VERIFIED, OK = "failing", "not_verified", "ok"
# The Windows Installer patch list of the Exchange 2007 product (compressed product code).
PATCHES_KEY = ("HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products\\"
               "461C2B4266EDEF444B864AD6D9E5B613\\Patches")
_ROLLUP = re.compile(r"Update Rollup (\d+) for Exchange Server 2007(?: Service Pack (\d+))?", re.IGNORECASE)
_VERSION = re.compile(r"Version (\d+)\.(\d+) \(Build (\d+)\.(\d+)\)")
_MSP = re.compile(r"^[A-Za-z]:\\[^\r\n\x00\"]*\.msp$|^\\\\[^\r\n\x00\"]+\.msp$", re.IGNORECASE)

OAB_SELECT = ["Name", "Guid", "Server", "VirtualDirectories", "LastTouchedTime"]
EVENT_SELECT = ["Index", "EventID", "Source", "EntryType", "TimeGenerated", "Message"]


class OabError(Exception):
    """A request the module refuses, or a fix that did not reach its goal; nothing more is done.
    The message names the option or the cause and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------- pure helpers
def same(a, b) -> bool:
    """Names equal case-insensitively, domain suffixes ignored (runbooks §0.6)."""
    return bool(a) and bool(b) and str(a).split(".", 1)[0].lower() == str(b).split(".", 1)[0].lower()


def valid_package(path: str) -> bool:
    """An ``.msp`` path on the nodes: ``C:\\...\\x.msp`` or ``\\\\server\\share\\x.msp``."""
    return bool(_MSP.match(path or ""))


def service_pack(admin_display_version: str | None) -> tuple:
    """``Version 8.1 (Build 240.6)`` -> ``(8, 1)`` (major, service pack); ``(None, None)`` if unknown."""
    match = _VERSION.search(admin_display_version or "")
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def rollup_level(display_names: list) -> tuple:
    """The highest ``Update Rollup <n> for Exchange Server 2007 Service Pack <sp>`` of a patch list:
    ``(n, sp)``; ``(0, None)`` when no update rollup is installed."""
    best = (0, None)
    for name in display_names:
        match = _ROLLUP.search(name or "")
        if match:
            found = (int(match.group(1)), int(match.group(2)) if match.group(2) else None)
            if (found[1] or 0, found[0]) > (best[1] or 0, best[0]):
                best = found
    return best


def active_node(machines: list) -> str | None:
    """The node tagged ``<Active ...>`` in ``OperationalMachines`` (``MBX1A <Active, Quorum Owner>``)."""
    for entry in machines:
        text = str(entry)
        if "<" in text and "active" in text.split("<", 1)[1].lower():
            return text.split("<", 1)[0].strip()
    return None


def _when(value):
    text = c.iso_datetime(value) if not isinstance(value, str) else value
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def fds_failures(events: list, since=None, after_index: int | None = None) -> list:
    """MSExchangeFDS 1021 entries of an Application log (rows of :data:`EVENT_SELECT`) written after
    ``since`` (an ISO time: the OAB's last generation) or with an Index above ``after_index``."""
    limit = _when(since) if since else None
    found = []
    for row in events:
        if c.integer(row.get("EventID")) != FDS_EVENT or (c.text(row.get("Source")) or "") != FDS_SOURCE:
            continue
        index = c.integer(row.get("Index"))
        when = _when(row.get("TimeGenerated"))
        if after_index is not None and (index is None or index <= after_index):
            continue
        if limit is not None and (when is None or when < limit):
            continue
        found.append({"index": index, "time": c.iso_datetime(row.get("TimeGenerated")),
                      "message": " ".join((c.text(row.get("Message")) or "").split())})
    return found


def newest_index(events: list) -> int:
    return max([c.integer(row.get("Index")) or 0 for row in events] or [0])


def unc_of(message: str) -> str | None:
    match = re.search(r"(\\\\[^\s]+?)\.?(?:\s|$)", message or "")
    return match.group(1) if match else None


def publishing_share(cms: str, active: str | None, levels: dict, sp: int | None) -> dict:
    """Where OAB generation publishes, as the active node's rollup level decides (runbooks §11)."""
    fixed = sp is not None and sp >= 2 or (active is not None and (levels.get(active) or 0) >= FIX_ROLLUP)
    if fixed or active is None:
        return {"unc": "\\\\%s\\%s" % (cms, OAB_SHARE), "scope": cms, "access": EXCHANGE_SERVERS + ": Read"}
    return {"unc": "\\\\%s\\%s" % (active, OAB_SHARE), "scope": active, "access": EXCHANGE_SERVERS + ": Read"}


def plan(cms: str, sp: int | None, nodes: list, active: str | None, levels: dict, failures: dict,
         package: str | None, install: bool) -> dict:
    """The drift and the steps to fix it (pure).

    ``nodes``: the CMS's redundant machines; ``levels``: node -> installed rollup level;
    ``failures``: Client Access server -> FDS 1021 entries since the OAB's last generation.
    Returns ``drift``, ``reason``, ``install_on`` (nodes to update, passive first), ``regenerate``
    (whether to regenerate and distribute the OAB), ``blocked`` (why the fix cannot run) and the
    ``before``/``after`` views.
    """
    drift, install_on = [], []
    below = [] if sp is not None and sp >= 2 else [n for n in nodes if (levels.get(n) or 0) < FIX_ROLLUP]
    share = publishing_share(cms, active, levels, sp)
    wanted = {"unc": "\\\\%s\\%s" % (cms, OAB_SHARE), "scope": cms, "access": EXCHANGE_SERVERS + ": Read"}
    for node in below:
        where = "publishes" if same(node, active) else "would publish, once %s is active," % node
        drift.append("%s (node of %s): Exchange 2007 SP1 Update Rollup %d, below Update Rollup %d: OAB generation "
                     "%s to \\\\%s\\%s, a share scoped to the node name that is not reachable as \\\\%s\\%s"
                     % (node, cms, levels.get(node) or 0, FIX_ROLLUP, where, node, OAB_SHARE, cms, OAB_SHARE))
    for cas in sorted(failures):
        entries = failures[cas]
        if entries:
            newest = entries[0]
            drift.append("%s: MSExchangeFDS event %d (%d since the last OAB generation, newest %s): cannot read %s; "
                         "the share needs %s" % (cas, FDS_EVENT, len(entries), newest["time"],
                                                 unc_of(newest["message"]) or wanted["unc"], REQUIRED_ACCESS))
    blocked = None
    if below:
        ordered = [n for n in below if not same(n, active)] + [n for n in below if same(n, active)]
        if package and install:
            install_on = ordered
        else:
            blocked = ("the supported fix is Exchange 2007 SP1 Update Rollup %d or later on %s (runbooks §11; read the "
                       "rollup's KB article first): install it (passive node first), or give rollup_package (the .msp "
                       "path on the nodes) and install_rollup=true to let this module install it"
                       % (FIX_ROLLUP, ", ".join(ordered)))
    regenerate = bool(below) or any(failures.values())
    if below:
        reason = ("OAB changes do not reach the Client Access servers: %s %s below Update Rollup %d, so the OAB "
                  "share is scoped to the node name instead of %s" % (", ".join(below), "is" if len(below) == 1
                                                                      else "are", FIX_ROLLUP, cms))
    elif drift:
        reason = ("the file distribution service failed (event %d) since the last OAB generation although the nodes "
                  "are at Update Rollup %d or later: regenerate the OAB so it is published to %s"
                  % (FDS_EVENT, FIX_ROLLUP, wanted["unc"]))
    else:
        reason = "compliant: every node of %s is at Update Rollup %d or later and the OAB share is %s" % (
            cms, FIX_ROLLUP, wanted["unc"])
    before = {"clustered_mailbox_server": cms, "service_pack": sp, "active_node": active,
              "rollups": {n: levels.get(n) for n in nodes}, "share": share,
              "distribution": {cas: (FAILING if entries else NOT_VERIFIED) for cas, entries in failures.items()}}
    after = {"clustered_mailbox_server": cms, "service_pack": sp, "active_node": active,
             "rollups": dict(before["rollups"]), "share": dict(share),
             "distribution": dict(before["distribution"])}
    if not blocked and regenerate:
        for node in install_on:  # predicted: at least RU5 (the package's level is read back after)
            after["rollups"][node] = FIX_ROLLUP
        after["share"] = wanted
        after["distribution"] = {cas: OK for cas in failures}
    return {"drift": drift, "reason": reason, "install_on": install_on, "regenerate": regenerate and not blocked,
            "blocked": blocked, "before": before, "after": after}


# --------------------------------------------------------------------------------- reads
def _rows(client, cmdlet: str, params: dict, select: list, option: str) -> list:
    rows, errors = client.invoke(cmdlet, params, select=select, errors="return")
    for error in errors:
        if error.error_id == NOT_FOUND:
            raise OabError("%s: %s" % (option, " ".join(error.message.split())))
        raise error
    return [c.to_plain(row) for row in rows]


def read_cms(client, cms: str) -> dict:
    """The CMS's nodes, active node, service pack and OABs: four snap-in calls."""
    servers = _rows(client, "Get-MailboxServer", {"Identity": cms}, ["Name", "RedundantMachines"],
                    "clustered_mailbox_server")
    if not servers:
        raise OabError("clustered_mailbox_server: no mailbox server %s" % cms)
    nodes = [c.text(n) for n in c.as_list(servers[0].get("RedundantMachines")) if c.text(n)]
    if not nodes:
        raise OabError("clustered_mailbox_server: %s is not a clustered mailbox server (no redundant machines); "
                       "the OAB share scoping issue concerns CCR/SCC clusters only (runbooks §11)" % cms)
    status = _rows(client, "Get-ClusteredMailboxServerStatus", {"Identity": cms}, ["Identity", "State",
                                                                                   "OperationalMachines"],
                   "clustered_mailbox_server")
    machines = [str(m) for m in c.as_list(status[0].get("OperationalMachines"))] if status else []
    version = _rows(client, "Get-ExchangeServer", {"Identity": cms}, ["Name", "AdminDisplayVersion"],
                    "clustered_mailbox_server")
    major, sp = service_pack(c.text(version[0].get("AdminDisplayVersion")) if version else None)
    oabs = []
    for row in _rows(client, "Get-OfflineAddressBook", {"Server": cms}, OAB_SELECT, "clustered_mailbox_server"):
        directories = [c.text(v) or "" for v in c.as_list(row.get("VirtualDirectories"))]
        oabs.append({"name": c.text(row.get("Name")), "guid": c.text(row.get("Guid")),
                     "client_access_servers": [d.split("\\", 1)[0] for d in directories if d],
                     "last_generated": c.iso_datetime(row.get("LastTouchedTime"))})
    return {"nodes": nodes, "active_node": active_node(machines), "state": c.enum(status[0].get("State"))
            if status else None, "major": major, "service_pack": sp, "oabs": oabs}


def read_rollup(client) -> tuple:
    """The installed update rollup of the session's host: ``(level, service_pack, display_names)``."""
    rows, errors = client.invoke("Get-ItemProperty", {"Path": PATCHES_KEY + "\\*", "Name": "DisplayName"},
                                 select=["PSChildName", "DisplayName"], errors="return")
    for error in errors:
        if error.error_id != "PathNotFound":  # no patch installed: the key may not exist
            raise error
    names = [c.text(row.get("DisplayName")) or "" for row in rows]
    level, sp = rollup_level(names)
    return level, sp, names


def read_application_log(client) -> list:
    """The newest :data:`EVENT_LOG_NEWEST` entries of the session host's Application log."""
    return [c.to_plain(row) for row in client.invoke("Get-EventLog", {"LogName": "Application",
                                                                      "Newest": EVENT_LOG_NEWEST},
                                                     select=EVENT_SELECT)]


__all__ = ["EVENT_LOG_NEWEST", "FIX_ROLLUP", "OabError", "PATCHES_KEY", "active_node", "fds_failures",
           "newest_index", "plan", "publishing_share", "read_application_log", "read_cms", "read_rollup",
           "rollup_level", "same", "service_pack", "valid_package"]
