"""Exchange read cmdlets called through a fake Invocation/sink."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import exchange_lab.cmdlets.exchange_dag  # noqa: E402,F401
import exchange_lab.cmdlets.exchange_read  # noqa: E402,F401
import exchange_lab.cmdlets.exchange_servers  # noqa: E402,F401
from exchange_lab.errors import PSError  # noqa: E402
from exchange_lab.model import LabState  # noqa: E402
from exchange_lab.psobj import get_prop, type_names  # noqa: E402
from exchange_lab.registry import CMDLETS, Invocation, Session  # noqa: E402


class Sink:
    def __init__(self) -> None:
        self.out: list[Any] = []
        self.errors: list[PSError] = []
        self.warnings: list[str] = []

    def write_output(self, obj: Any) -> None:
        self.out.append(obj)

    def write_error(self, err: PSError) -> None:
        self.errors.append(err)

    def write_warning(self, message: str) -> None:
        self.warnings.append(message)

    def write_verbose(self, message: str) -> None:
        pass

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        pass

    stopping = False


class Runner:
    def __init__(self, lab: LabState, host: str = "EX01", user: str = "CONTOSO\\administrator") -> None:
        self.lab = lab
        self.session = Session(host=lab.host(host), configuration="Microsoft.Exchange", user=lab.users[user], lab=lab)

    def __call__(self, name: str, parameter_set: str = "__AllParameterSets", **params: Any) -> Sink:
        sink = Sink()
        CMDLETS[name.lower()].func(Invocation(name, parameter_set, params, {}, [], self.session, sink))
        return sink


def p(obj: Any, name: str) -> Any:
    return get_prop(obj, name)


@pytest.fixture
def lab() -> LabState:
    return LabState.load("two-datacenters", speed=1000.0)


@pytest.fixture
def run(lab) -> Runner:
    return Runner(lab)


# --------------------------------------------------------------- Get-ExchangeServer
def test_get_exchange_server_all_and_by_fqdn(run):
    s = run("Get-ExchangeServer", "Identity")
    assert [p(o, "Name") for o in s.out] == ["EX01", "EX02", "EX03", "EX04"]
    s = run("Get-ExchangeServer", "Identity", Identity="ex03.contoso.com")
    o = s.out[0]
    assert p(o, "Name") == "EX03" and p(o, "Fqdn") == "ex03.contoso.com"
    assert p(o, "Site") == "contoso.com/Configuration/Sites/DC2"
    assert p(o, "AdminDisplayVersion") == "Version 15.2 (Build 1544.4)"
    assert p(o, "IsMailboxServer") is True and p(o, "CurrentDomainControllers") is None
    assert type_names(o)[0] == "Microsoft.Exchange.Data.Directory.Management.ExchangeServer"
    assert p(
        run("Get-ExchangeServer", "Identity", Identity="EX03", Status=True).out[0], "CurrentDomainControllers"
    ) == ["dc02.contoso.com"]


def test_get_exchange_server_not_found_is_non_terminating(run):
    s = run("Get-ExchangeServer", "Identity", Identity="EX99")
    assert s.out == []
    err = s.errors[0]
    assert (
        err.message
        == "The operation couldn't be performed because object 'EX99' couldn't be found on 'dc01.contoso.com'."
    )
    assert err.fqid.endswith(",Microsoft.Exchange.Management.SystemConfigurationTasks.GetExchangeServer")
    assert err.exception_types[0] == "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"


def test_get_mailbox_server(run):
    o = run("Get-MailboxServer", Identity="EX02").out[0]
    assert p(o, "DatabaseAvailabilityGroup") == "DAG1"
    assert p(o, "DatabaseCopyAutoActivationPolicy") == "Unrestricted"
    assert p(o, "DatabaseCopyActivationDisabledAndMoveNow") is False
    assert p(o, "AutoDatabaseMountDial") == "GoodAvailability"
    assert p(o, "MaximumActiveDatabases") is None and p(o, "MaximumPreferredActiveDatabases") is None


# ---------------------------------------------------------- Get-DatabaseAvailabilityGroup
def test_get_dag_without_and_with_status(run, lab):
    o = run("Get-DatabaseAvailabilityGroup", Identity="DAG1").out[0]
    assert p(o, "Servers") == ["EX01", "EX02", "EX03", "EX04"]
    assert p(o, "WitnessServer") == "FS01.contoso.com"
    assert p(o, "AlternateWitnessServer") == "FS02.contoso.com"
    assert p(o, "DatacenterActivationMode") == "DagOnly"
    for prop in (
        "OperationalServers",
        "PrimaryActiveManager",
        "ServersInMaintenance",
        "WitnessShareInUse",
        "NetworkNames",
    ):
        assert p(o, prop) is None, prop
    o = run("Get-DatabaseAvailabilityGroup", Identity="DAG1", Status=True).out[0]
    assert p(o, "OperationalServers") == ["EX01", "EX02", "EX03", "EX04"]
    assert p(o, "PrimaryActiveManager") == "EX01"
    assert p(o, "ServersInMaintenance") == []
    assert p(o, "WitnessShareInUse") == "Primary"
    assert p(o, "ReplicationPort") == 64327
    assert p(o, "NetworkNames") == ["MapiDagNetwork", "ReplicationDagNetwork01"]
    assert p(o, "StartedMailboxServers") == ["EX01", "EX02", "EX03", "EX04"]
    assert p(o, "StoppedMailboxServers") == []
    assert p(o, "PreferenceMoveFrequency") == datetime.timedelta(hours=1)


def test_get_dag_not_found(run):
    s = run("Get-DatabaseAvailabilityGroup", Identity="DAG9")
    assert s.out == [] and "'DAG9' couldn't be found" in s.errors[0].message


def test_get_dag_network(run):
    s = run("Get-DatabaseAvailabilityGroupNetwork", Identity="DAG1\\MapiDagNetwork")
    o = s.out[0]
    assert p(o, "Identity") == "DAG1\\MapiDagNetwork" and p(o, "MapiAccessEnabled") is True
    assert [x.PSObject.to_string for x in p(o, "Subnets")] == ["{10.1.1.0/24,Up}", "{10.2.1.0/24,Up}"]
    assert p(o, "Interfaces")[0].PSObject.to_string == "{EX01,Up,10.1.1.11}"
    assert len(run("Get-DatabaseAvailabilityGroupNetwork", Server="EX02").out) == 2


# --------------------------------------------------------------- Get-MailboxDatabase
def test_get_mailbox_database(run):
    s = run("Get-MailboxDatabase", "Identity")
    assert len(s.out) == 8
    o = run("Get-MailboxDatabase", "Identity", Identity="DB08").out[0]
    assert p(o, "Server") == "EX02" and p(o, "ReplicationType") == "Remote"
    assert p(o, "MasterServerOrAvailabilityGroup") == "DAG1"
    prefs = p(o, "ActivationPreference")
    assert [x.PSObject.to_string for x in prefs] == ["[EX02, 1]", "[EX01, 2]", "[EX03, 3]", "[EX04, 4]"]
    assert (p(prefs[0], "Key"), p(prefs[0], "Value")) == ("EX02", 1)
    assert type_names(prefs[0])[0].startswith(
        "System.Collections.Generic.KeyValuePair`2[[Microsoft.Exchange.Data.Directory.ADObjectId"
    )
    lags = p(o, "ReplayLagTimes")
    assert p(lags[3], "Value") == datetime.timedelta(days=7) and lags[3].PSObject.to_string == "[EX04, 7.00:00:00]"
    assert p(o, "Mounted") is None and p(o, "DatabaseSize") is None
    o = run("Get-MailboxDatabase", "Identity", Identity="DB08", Status=True).out[0]
    assert p(o, "Mounted") is True and p(o, "DatabaseSize") == "1.5 GB (1,610,612,736 bytes)"
    assert p(o, "MountedOnServer") == "ex02.contoso.com"


def test_get_mailbox_database_by_server_and_not_found(run):
    assert len(run("Get-MailboxDatabase", "Server", Server="EX03").out) == 8
    s = run("Get-MailboxDatabase", "Identity", Identity="NOPE")
    assert s.out == [] and len(s.errors) == 1


# ------------------------------------------------------ Get-MailboxDatabaseCopyStatus
def test_copy_status_by_database(run):
    s = run("Get-MailboxDatabaseCopyStatus", "Identity", Identity="DB01")
    rows = [(p(o, "Name"), p(o, "Status"), p(o, "ActiveCopy"), p(o, "ActivationPreference")) for o in s.out]
    assert rows == [
        ("DB01\\EX01", "Mounted", True, 1),
        ("DB01\\EX02", "Healthy", False, 2),
        ("DB01\\EX03", "Healthy", False, 3),
        ("DB01\\EX04", "Healthy", False, 4),
    ]
    active = s.out[0]
    assert p(active, "CopyQueueLength") == 0 and p(active, "LastLogGenerated") == 0
    assert p(s.out[1], "ActiveDatabaseCopy") == "ex01"  # lower case, as in real output
    assert p(s.out[1], "MailboxServer") == "EX02"
    assert p(s.out[1], "ContentIndexState") == "NotApplicable"  # Exchange 2019
    assert type_names(active)[0] == "Microsoft.Exchange.Management.SystemConfigurationTasks.DatabaseCopyStatusEntry"


def test_copy_status_single_copy_server_active_local(run, lab):
    s = run("Get-MailboxDatabaseCopyStatus", "Identity", Identity="DB08\\EX04")
    o = s.out[0]
    assert p(o, "ReplayQueueLength") == 2016 and p(o, "CopyQueueLength") == 0
    assert p(o, "LastLogInspected") - p(o, "LastLogReplayed") == 2016
    assert len(run("Get-MailboxDatabaseCopyStatus", "Server", Server="EX03").out) == 8
    active = run("Get-MailboxDatabaseCopyStatus", "Server", Server="EX01", Active=True).out
    assert sorted(p(o, "DatabaseName") for o in active) == ["DB01", "DB03", "DB07"]
    local = run("Get-MailboxDatabaseCopyStatus", "Identity", Local=True).out
    assert {p(o, "MailboxServer") for o in local} == {"EX01"} and len(local) == 8
    assert len(run("Get-MailboxDatabaseCopyStatus", "Identity").out) == 32


def test_copy_status_not_found(run):
    s = run("Get-MailboxDatabaseCopyStatus", "Identity", Identity="DB01\\EX99")
    assert s.out == []
    assert s.errors[0].fqid.endswith(",Microsoft.Exchange.Management.SystemConfigurationTasks.GetDatabaseCopyStatus")
    s = run("Get-MailboxDatabaseCopyStatus", "Server", Server="EX99")
    assert s.out == [] and len(s.errors) == 1


def test_copy_status_reflects_faults(run, lab):
    lab.inject_fault({"kind": "copy_status", "database": "DB01", "server": "EX03", "status": "Failed"})
    lab.inject_fault(
        {"kind": "copy_queue", "database": "DB01", "server": "EX04", "copy_queue": 200, "replay_queue": 80}
    )
    lab.inject_fault({"kind": "content_index", "database": "DB01", "server": "EX02", "state": "Failed"})
    rows = {p(o, "MailboxServer"): o for o in run("Get-MailboxDatabaseCopyStatus", "Identity", Identity="DB01").out}
    assert p(rows["EX03"], "Status") == "Failed" and p(rows["EX03"], "ErrorMessage")
    assert (p(rows["EX04"], "CopyQueueLength"), p(rows["EX04"], "ReplayQueueLength")) == (200, 80)
    assert p(rows["EX02"], "ContentIndexState") == "Failed"


def test_copy_status_server_down(run, lab):
    lab.inject_fault({"kind": "server_down", "server": "EX02"})
    rows = {p(o, "MailboxServer"): o for o in run("Get-MailboxDatabaseCopyStatus", "Identity", Identity="DB02").out}
    assert p(rows["EX02"], "Status") == "ServiceDown"
    assert p(rows["EX01"], "Status") == "Mounted" and p(rows["EX03"], "ActiveDatabaseCopy") == "ex01"


# ----------------------------------------------------------- Get-ServerComponentState
def test_get_server_component_state(run):
    s = run("Get-ServerComponentState", Identity="EX01")
    names = [p(o, "Component") for o in s.out]
    assert names[0] == "ServerWideOffline" and "HighAvailability" in names and "UMCallRouter" not in names
    states = {p(o, "Component"): p(o, "State") for o in s.out}
    assert states["HubTransport"] == "Active" and states["ProvisioningRps"] == "Inactive"
    o = run("Get-ServerComponentState", Identity="EX01", Component="hubtransport").out[0]
    assert (p(o, "Component"), p(o, "ServerFqdn"), p(o, "LocalStates"), p(o, "RemoteStates")) == (
        "HubTransport",
        "ex01.contoso.com",
        [],
        [],
    )
    s = run("Get-ServerComponentState", Identity="EX01", Component="Nope")
    assert s.out == [] and "not valid" in s.errors[0].message
    s = run("Get-ServerComponentState", Identity="EX99")
    assert "couldn't be found" in s.errors[0].message


# ---------------------------------------------------------------------- Get-Queue
def test_get_queue(run, lab):
    s = run("Get-Queue", "Server", Server="EX02")
    assert [p(o, "Identity") for o in s.out] == ["EX02\\Submission", "EX02\\Shadow\\1"]
    assert p(s.out[0], "MessageCount") == 3
    assert [p(o, "Identity") for o in run("Get-Queue", "Identity").out][0] == "EX01\\Submission"  # local server
    s = run("Get-Queue", "Server", Server="EX02", Filter="MessageCount -gt 2")
    assert [p(o, "Identity") for o in s.out] == ["EX02\\Submission"]
    s = run("Get-Queue", "Server", Server="EX02", Filter="Identity -notlike '*\\Shadow\\*'")
    assert [p(o, "Identity") for o in s.out] == ["EX02\\Submission"]
    with pytest.raises(PSError, match="supports only filters"):
        run("Get-Queue", "Server", Server="EX02", Filter="(MessageCount -gt 2) -or (Status -eq 'Retry')")
    assert len(run("Get-Queue", "Identity", Identity="EX02\\Submission").out) == 1
    lab.inject_fault({"kind": "server_down", "server": "EX02"})
    s = run("Get-Queue", "Server", Server="EX02")
    assert s.out == [] and "Microsoft Exchange Transport service" in s.errors[0].message


# --------------------------------------------------------------- Test-ReplicationHealth
def test_replication_health(run, lab):
    s = run("Test-ReplicationHealth", Identity="EX01")
    results = {p(o, "Check"): p(o, "Result") for o in s.out}
    assert list(results)[:3] == ["ClusterService", "ReplayService", "ActiveManager"]
    assert set(results.values()) == {"Passed"} and len(results) == 18
    lab.inject_fault({"kind": "copy_status", "database": "DB02", "server": "EX01", "status": "Failed"})
    lab.inject_fault({"kind": "server_down", "server": "EX04"})
    results = {
        p(o, "Check"): (p(o, "Result"), p(o, "Error")) for o in run("Test-ReplicationHealth", Identity="EX01").out
    }
    assert results["DBCopyFailed"][0] == "Failed" and "DB02\\EX01" in results["DBCopyFailed"][1]
    assert results["DagMembersUp"][0] == "Failed" and "EX04" in results["DagMembersUp"][1]
    assert results["QuorumGroup"][0] == "Passed"
