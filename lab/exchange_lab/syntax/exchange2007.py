"""Declarations of the Exchange 2007 SP1 snap-in commands the lab implements (table
``exchange2007``).

The reference data (``shared/reference/cmdlets/``) covers Exchange 2010 and later only; its
README lists the 2007 cmdlets under "Known gaps".  These declarations are hand-written,
in the shape of the generated tables (``utility._decl``), from:

* the Exchange 2007 SP1 cmdlet pages as stored in the search index (learn.microsoft.com
  ``previous-versions/office/exchange-server-2007`` and the unifiedpeople.ru mirror of the
  Exchange 2007 help): Move-/Start-/Stop-ClusteredMailboxServer,
  Get-ClusteredMailboxServerStatus, Get-StorageGroupCopyStatus (SP1 form, with
  ``-StandbyMachine``/``-DumpsterStatistics``), Restore-StorageGroupCopy (SP1 form),
  Update-StorageGroupCopy (SP1 form), Move-Mailbox (the ``-ConfigurationOnly`` set);
* runbooks.md §7-§12 for Enable-/Disable-ContinuousReplicationHostName,
  Enable-/Disable-/Suspend-/Resume-StorageGroupCopy (parameters named there);
* the 2010 pages of ``exchange.json`` for the commands Exchange 2007 shares with 2010
  (Add-/Get-/Remove-ADPermission, Get-OfflineAddressBook, Update-FileDistributionService,
  Get-ExchangeServer, Get-MailboxServer), copied without their "Applicable" lines;
* Windows PowerShell 1.0's Get-EventLog (Windows Server 2008 ships PowerShell 1.0, which
  Exchange 2007 SP1 runs in).

Every parameter whose 2007 form no page read for this work confirms is listed in
lab/README-model.md ("Exchange 2007 SP1: CCR, SCR, OAB", "Unconfirmed parameters").
Positions: ``Identity`` is positional (1) as on every Exchange page that shows a position;
the 2007 pages' syntax lines do not show positions.  Native programs (``Setup.com``,
``msiexec.exe``) have no declaration: the engine passes their arguments as text.
"""

from __future__ import annotations

import copy
from typing import Any

from .utility import _P, _all, _decl

SOURCE_2007 = "hand-written from the Exchange 2007 SP1 cmdlet pages and runbooks.md (see module docstring)"
RISK = ["WhatIf", "Confirm"]

_ID_PIPE = ["ByValue", "ByPropertyName"]


def _one(params: list[_P], *, risk: bool, source: str = SOURCE_2007) -> dict[str, Any]:
    """A single-set declaration."""
    out = _decl("__AllParameterSets", ["__AllParameterSets"], params)
    out["source"] = source
    out["risk_mitigation_parameters"] = list(RISK) if risk else []
    return out


def _multi(default: str | None, sets: list[str], params: list[_P], *, risk: bool,
           source: str = SOURCE_2007) -> dict[str, Any]:
    out = _decl(default, sets, params)
    out["source"] = source
    out["risk_mitigation_parameters"] = list(RISK) if risk else []
    return out


_S = ["__AllParameterSets"]


def _p(name: str, typ: str, mandatory: bool = False, position: int | None = None, *,
       pipe: list[str] | None = None) -> _P:
    return (name, typ, _all(_S, mandatory, position), [], list(pipe or []))


DC = _p("DomainController", "Fqdn")


def _from_2010(exchange: dict[str, Any], name: str) -> dict[str, Any]:
    """A 2010+ declaration of ``exchange.json`` for the 2007 snap-in: the same sets and
    parameters without the version applicability (the 2007 form is unconfirmed)."""
    decl = copy.deepcopy(exchange[name])
    decl["source"] = f"{decl.get('source')} (2010 page; the 2007 form is unconfirmed)"
    decl.pop("applies_to", None)
    for s in decl.get("parameter_sets", []):
        s.pop("applicable", None)
    for info in decl.get("parameters", {}).values():
        info["applicable"] = None
    return decl


def declarations(exchange: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every declaration of the table (``exchange`` is the parsed ``exchange.json``)."""
    sg_copy = "StorageGroupIdParameter"
    out: dict[str, dict[str, Any]] = {
        # ------------------------------------------------ clustered mailbox servers
        "Get-ClusteredMailboxServerStatus": _one([_p("Identity", "ServerIdParameter", False, 1, pipe=_ID_PIPE), DC],
                                                 risk=False),
        "Move-ClusteredMailboxServer": _one([
            _p("Identity", "ServerIdParameter", True, 1, pipe=_ID_PIPE),
            _p("MoveComment", "String", True),
            _p("TargetMachine", "String", True),
            DC,
            _p("IgnoreDismounted", "SwitchParameter"),
            _p("ValidateOnly", "SwitchParameter"),
        ], risk=True),
        "Start-ClusteredMailboxServer": _one([_p("Identity", "MailboxServerIdParameter", True, 1, pipe=_ID_PIPE), DC],
                                             risk=True),
        "Stop-ClusteredMailboxServer": _one([
            _p("Identity", "MailboxServerIdParameter", True, 1, pipe=_ID_PIPE),
            _p("StopReason", "String", True),
            DC,
        ], risk=True),
        # runbooks §12.1 (Tim McMichael's example omits -Identity; exact set unconfirmed)
        "Enable-ContinuousReplicationHostName": _one([
            _p("Identity", "MailboxServerIdParameter", False, 1, pipe=_ID_PIPE),
            _p("TargetMachine", "String", True),
            _p("HostName", "String", True),
            _p("IPv4Address", "IPAddress", True),
            DC,
        ], risk=True),
        "Disable-ContinuousReplicationHostName": _one([
            _p("Identity", "MailboxServerIdParameter", True, 1, pipe=_ID_PIPE),
            _p("HostName", "String", True),
            DC,
        ], risk=True),
        # ------------------------------------------------------ storage group copies
        "Get-StorageGroupCopyStatus": _multi("Identity", ["Identity", "Server"], [
            ("Identity", sg_copy, {"Identity": (False, 1)}, [], _ID_PIPE),
            ("Server", "ServerIdParameter", {"Server": (True, None)}, [], []),
            ("DomainController", "Fqdn", _all(["Identity", "Server"]), [], []),
            ("DumpsterStatistics", "SwitchParameter", _all(["Identity", "Server"]), [], []),
            ("StandbyMachine", "String", _all(["Identity", "Server"]), [], []),
        ], risk=False),
        "Restore-StorageGroupCopy": _one([
            _p("Identity", sg_copy, True, 1, pipe=_ID_PIPE),
            DC,
            _p("Force", "SwitchParameter"),
            _p("ReplaceLocations", "SwitchParameter"),
            _p("StandbyMachine", "String"),
        ], risk=True),
        "Enable-StorageGroupCopy": _one([
            _p("Identity", sg_copy, True, 1, pipe=_ID_PIPE),
            _p("StandbyMachine", "String"),
            _p("ReplayLagTime", "EnhancedTimeSpan"),
            _p("TruncationLagTime", "EnhancedTimeSpan"),
            _p("SeedingPostponed", "SwitchParameter"),
            DC,
        ], risk=True),
        "Disable-StorageGroupCopy": _one([
            _p("Identity", sg_copy, True, 1, pipe=_ID_PIPE),
            _p("StandbyMachine", "String"),
            DC,
        ], risk=True),
        "Suspend-StorageGroupCopy": _one([
            _p("Identity", sg_copy, True, 1, pipe=_ID_PIPE),
            _p("StandbyMachine", "String"),
            _p("SuspendComment", "String"),
            DC,
        ], risk=True),
        "Resume-StorageGroupCopy": _one([
            _p("Identity", sg_copy, True, 1, pipe=_ID_PIPE),
            _p("StandbyMachine", "String"),
            DC,
        ], risk=True),
        "Update-StorageGroupCopy": _one([
            _p("Identity", sg_copy, True, 1, pipe=_ID_PIPE),
            _p("DataHostNames", "String[]"),
            _p("DeleteExistingFiles", "SwitchParameter"),
            DC,
            _p("Force", "SwitchParameter"),
            _p("ManualResume", "SwitchParameter"),
            _p("StandbyMachine", "String"),
            _p("TargetPath", "LocalLongFullPath"),
        ], risk=True),
        "Get-StorageGroup": _multi("Identity", ["Identity", "Server"], [
            ("Identity", sg_copy, {"Identity": (False, 1)}, [], _ID_PIPE),
            ("Server", "ServerIdParameter", {"Server": (True, None)}, [], []),
            ("DomainController", "Fqdn", _all(["Identity", "Server"]), [], []),
        ], risk=False),
        # ------------------------------------------------------------------ databases
        "Get-MailboxDatabase": _multi("Identity", ["Identity", "Server", "StorageGroup"], [
            ("Identity", "DatabaseIdParameter", {"Identity": (False, 1)}, [], _ID_PIPE),
            ("Server", "ServerIdParameter", {"Server": (True, None)}, [], []),
            ("StorageGroup", sg_copy, {"StorageGroup": (True, None)}, [], []),
            ("DomainController", "Fqdn", _all(["Identity", "Server", "StorageGroup"]), [], []),
            ("Status", "SwitchParameter", _all(["Identity", "Server", "StorageGroup"]), [], []),
        ], risk=False),
        "Mount-Database": _one([
            _p("Identity", "DatabaseIdParameter", True, 1, pipe=_ID_PIPE),
            _p("AcceptDataLoss", "SwitchParameter"),
            DC,
            _p("Force", "SwitchParameter"),
        ], risk=True),
        "Dismount-Database": _one([_p("Identity", "DatabaseIdParameter", True, 1, pipe=_ID_PIPE), DC], risk=True),
        # -------------------------------------------------------------------- mailboxes
        "Get-Mailbox": _multi("Identity", ["Identity", "Database", "Server"], [
            ("Identity", "MailboxIdParameter", {"Identity": (False, 1)}, [], _ID_PIPE),
            ("Database", "DatabaseIdParameter", {"Database": (True, None)}, [], []),
            ("Server", "ServerIdParameter", {"Server": (True, None)}, [], []),
            ("ResultSize", "Unlimited", _all(["Identity", "Database", "Server"]), [], []),
            ("DomainController", "Fqdn", _all(["Identity", "Database", "Server"]), [], []),
        ], risk=False),
        "Move-Mailbox": _multi("Identity", ["Identity", "ConfigurationOnly"], [
            ("Identity", "MailboxIdParameter", {"Identity": (True, 1), "ConfigurationOnly": (True, 1)}, [], _ID_PIPE),
            ("TargetDatabase", "DatabaseIdParameter", _all(["Identity", "ConfigurationOnly"], True), [], []),
            ("ConfigurationOnly", "SwitchParameter", {"ConfigurationOnly": (True, None)}, [], []),
            ("DomainController", "Fqdn", _all(["Identity", "ConfigurationOnly"]), [], []),
            ("GlobalCatalog", "Fqdn", _all(["Identity", "ConfigurationOnly"]), [], []),
            ("IgnorePolicyMatch", "SwitchParameter", _all(["Identity", "ConfigurationOnly"]), [], []),
            ("ValidateOnly", "SwitchParameter", _all(["Identity", "ConfigurationOnly"]), [], []),
        ], risk=True),
        # ---------------------------------------------------------- OAB and servers
        "Get-OfflineAddressBook": _from_2010(exchange, "Get-OfflineAddressBook"),
        "Update-OfflineAddressBook": _one([_p("Identity", "OfflineAddressBookIdParameter", True, 1, pipe=_ID_PIPE), DC],
                                          risk=True),
        "Update-FileDistributionService": _from_2010(exchange, "Update-FileDistributionService"),
        "Get-ExchangeServer": _from_2010(exchange, "Get-ExchangeServer"),
        "Get-MailboxServer": _from_2010(exchange, "Get-MailboxServer"),
        "Add-ADPermission": _from_2010(exchange, "Add-ADPermission"),
        "Get-ADPermission": _from_2010(exchange, "Get-ADPermission"),
        "Remove-ADPermission": _from_2010(exchange, "Remove-ADPermission"),
        # ---------------------------------------------------- Windows PowerShell 1.0
        "Get-EventLog": _multi("LogName", ["LogName", "List"], [
            ("LogName", "String", {"LogName": (True, 1)}, [], []),
            ("Newest", "Int32", {"LogName": (False, None)}, [], []),
            ("List", "SwitchParameter", {"List": (True, None)}, [], []),
            ("AsString", "SwitchParameter", {"List": (False, None)}, [], []),
        ], risk=False, source="hand-written from Windows PowerShell 1.0's Get-EventLog (LogName and List sets)"),
        # Windows PowerShell 1.0's Get-ItemProperty (Path and LiteralPath sets), used on the
        # registry to read the installed Exchange 2007 update rollups (oab_share_scope).
        "Get-ItemProperty": _multi("Path", ["Path", "LiteralPath"], [
            ("Path", "String[]", {"Path": (True, 1)}, [], ["ByPropertyName"]),
            ("LiteralPath", "String[]", {"LiteralPath": (True, None)}, ["PSPath"], ["ByPropertyName"]),
            ("Name", "String[]", {"Path": (False, 2), "LiteralPath": (False, 2)}, [], []),
            ("Filter", "String", {"Path": (False, None), "LiteralPath": (False, None)}, [], []),
            ("Include", "String[]", {"Path": (False, None), "LiteralPath": (False, None)}, [], []),
            ("Exclude", "String[]", {"Path": (False, None), "LiteralPath": (False, None)}, [], []),
            ("Credential", "PSCredential", {"Path": (False, None), "LiteralPath": (False, None)}, [], []),
        ], risk=False, source="hand-written from Windows PowerShell 1.0's Get-ItemProperty (Path and LiteralPath sets)"),
    }
    out["Get-EventLog"]["module"] = "Microsoft.PowerShell.Management"
    out["Get-ItemProperty"]["module"] = "Microsoft.PowerShell.Management"
    return out
