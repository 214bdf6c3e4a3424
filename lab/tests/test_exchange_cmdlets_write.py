"""Exchange write cmdlets (servers, components, transport, DAG settings and networks)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_exchange_cmdlets import Runner, p  # noqa: E402

from exchange_lab.errors import PSError  # noqa: E402
from exchange_lab.model import LabState  # noqa: E402
from exchange_lab.registry import CMDLETS, WRITE  # noqa: E402


@pytest.fixture
def lab() -> LabState:
    return LabState.load("two-datacenters", speed=1000.0)


@pytest.fixture
def run(lab) -> Runner:
    return Runner(lab)


def test_write_cmdlets_are_registered_as_write():
    for name in (
        "Set-MailboxServer",
        "Set-ServerComponentState",
        "Redirect-Message",
        "Set-DatabaseAvailabilityGroup",
        "New-DatabaseAvailabilityGroupNetwork",
        "Set-DatabaseAvailabilityGroupNetwork",
    ):
        assert CMDLETS[name.lower()].rbac == WRITE


# ------------------------------------------------------------------ Set-MailboxServer
def test_set_mailbox_server_changes_and_noop_warning(run, lab):
    s = run("Set-MailboxServer", Identity="EX03", DatabaseCopyAutoActivationPolicy="blocked", MaximumActiveDatabases=10)
    assert s.warnings == [] and s.errors == []
    srv = lab.server("EX03")
    assert (srv.auto_activation_policy, srv.max_active) == ("Blocked", 10)
    s = run("Set-MailboxServer", Identity="EX03", DatabaseCopyAutoActivationPolicy="Blocked")
    assert s.warnings == ["The command completed successfully but no settings of 'EX03' have been modified."]
    s = run("Set-MailboxServer", Identity="EX03", MaximumActiveDatabases=None)
    assert srv.max_active is None and s.warnings == []
    o = run("Get-MailboxServer", Identity="EX03").out[0]
    assert p(o, "DatabaseCopyAutoActivationPolicy") == "Blocked"


def test_set_mailbox_server_errors_terminate(run):
    with pytest.raises(PSError) as exc:
        run("Set-MailboxServer", Identity="EX99", AutoDatabaseMountDial="Lossless")
    assert exc.value.fqid.endswith(",Microsoft.Exchange.Management.SystemConfigurationTasks.SetMailboxServer")
    with pytest.raises(PSError, match="Valid values are"):
        run("Set-MailboxServer", Identity="EX01", AutoDatabaseMountDial="Sometimes")


def test_activation_disabled_and_move_now_moves_databases(run, lab):
    lab.server("EX02").auto_activation_policy = "Blocked"
    run("Set-MailboxServer", Identity="EX01", DatabaseCopyActivationDisabledAndMoveNow=True)
    assert lab.server("EX01").activation_disabled_and_move_now is True
    assert len(lab.pending()) == 3
    lab.clock.sleep(91)  # 3 x 30 modelled seconds
    out = run("Get-MailboxDatabaseCopyStatus", "Server", Server="EX01", Active=True).out
    assert out == []
    for name in ("DB01", "DB03", "DB07"):
        db = lab.database(name)
        assert lab.server(db.active_server).auto_activation_policy != "Blocked"
        assert db.active_server != "EX01" and db.mounted


# ----------------------------------------------------------- Set-ServerComponentState
def test_set_component_state_and_maintenance_view(run, lab):
    run(
        "Set-ServerComponentState", Identity="EX01", Component="HubTransport", State="Draining", Requester="Maintenance"
    )
    o = run("Get-ServerComponentState", Identity="EX01", Component="HubTransport").out[0]
    assert p(o, "State") == "Draining"
    assert [(p(x, "Requester"), p(x, "State")) for x in p(o, "LocalStates")] == [("Maintenance", "Draining")]
    assert [(p(x, "Requester"), p(x, "State")) for x in p(o, "RemoteStates")] == [("Maintenance", "Draining")]
    run(
        "Set-ServerComponentState",
        Identity="EX01",
        Component="ServerWideOffline",
        State="Inactive",
        Requester="Maintenance",
    )
    states = {p(x, "Component"): p(x, "State") for x in run("Get-ServerComponentState", Identity="EX01").out}
    assert {k for k, v in states.items() if v == "Active"} == {"Monitoring", "RecoveryActionsEnabled"}
    dag = run("Get-DatabaseAvailabilityGroup", Identity="DAG1", Status=True).out[0]
    assert p(dag, "ServersInMaintenance") == ["EX01"]
    # undoing needs the same requester
    run(
        "Set-ServerComponentState",
        Identity="EX01",
        Component="ServerWideOffline",
        State="Active",
        Requester="Functional",
    )
    assert lab.server("EX01").components.state("OwaProxy") == "Inactive"
    run(
        "Set-ServerComponentState",
        Identity="EX01",
        Component="ServerWideOffline",
        State="Active",
        Requester="Maintenance",
    )
    assert lab.server("EX01").components.state("OwaProxy") == "Active"


@pytest.mark.parametrize(
    "params,message",
    [
        (dict(Component="OwaProxy", State="Draining", Requester="Maintenance"), "Draining state is valid only"),
        (dict(Component="Nope", State="Inactive", Requester="Maintenance"), "component name 'Nope' is not valid"),
        (dict(Component="OwaProxy", State="Inactive", Requester="Bob"), "requester 'Bob' is not valid"),
        (dict(Component="Monitoring", State="Inactive", Requester="Maintenance", LocalOnly=True), "LocalOnly"),
        (
            dict(Component="OwaProxy", State="Inactive", Requester="Maintenance", LocalOnly=True, RemoteOnly=True),
            "can't be used together",
        ),
    ],
)
def test_set_component_state_rejects(run, params, message):
    with pytest.raises(PSError) as exc:
        run("Set-ServerComponentState", Identity="EX01", **params)
    assert message in exc.value.message
    assert exc.value.exception_types[0] == "System.ArgumentException"


def test_set_component_state_local_remote_only(run, lab):
    run(
        "Set-ServerComponentState",
        Identity="EX02",
        Component="OwaProxy",
        State="Inactive",
        Requester="Sidelined",
        RemoteOnly=True,
    )
    comp = lab.server("EX02").components.get("OwaProxy")
    assert comp.local == {} and list(comp.remote) == ["sidelined"]
    lab.inject_fault({"kind": "server_down", "server": "EX03"})
    with pytest.raises(PSError, match="couldn't be reached"):
        run(
            "Set-ServerComponentState",
            Identity="EX03",
            Component="OwaProxy",
            State="Inactive",
            Requester="Maintenance",
            LocalOnly=True,
        )
    run("Set-ServerComponentState", Identity="EX03", Component="OwaProxy", State="Inactive", Requester="Maintenance")
    comp = lab.server("EX03").components.get("OwaProxy")
    assert comp.local == {} and list(comp.remote) == ["maintenance"]


# ------------------------------------------------------------------ Redirect-Message
def test_redirect_message(run, lab):
    run("Redirect-Message", Server="EX01", Target="ex02.contoso.com")
    ex01 = {p(o, "Identity"): p(o, "MessageCount") for o in run("Get-Queue", "Server", Server="EX01").out}
    assert ex01 == {"EX01\\Submission": 0, "EX01\\Shadow\\1": 2}
    ex02 = {p(o, "Identity"): p(o, "MessageCount") for o in run("Get-Queue", "Server", Server="EX02").out}
    assert ex02["EX02\\Submission"] == 6
    with pytest.raises(PSError, match="couldn't be found"):
        run("Redirect-Message", Server="EX01", Target="nowhere.contoso.com")
    with pytest.raises(PSError, match="different server"):
        run("Redirect-Message", Server="EX01", Target="ex01.contoso.com")


# --------------------------------------------------------- Set-DatabaseAvailabilityGroup
def test_set_dag_settings_and_noop(run, lab):
    s = run(
        "Set-DatabaseAvailabilityGroup",
        Identity="DAG1",
        AlternateWitnessServer="DC02",
        AlternateWitnessDirectory="C:\\FSW2",
        AutoDagAutoReseedEnabled=False,
    )
    assert s.warnings == []
    dag = lab.dag("DAG1")
    assert (dag.alternate_witness_server, dag.alternate_witness_directory, dag.auto_reseed) == (
        "DC02",
        "C:\\FSW2",
        False,
    )
    s = run("Set-DatabaseAvailabilityGroup", Identity="DAG1", AutoDagAutoReseedEnabled=False)
    assert s.warnings == ["The command completed successfully but no settings of 'DAG1' have been modified."]
    with pytest.raises(PSError, match="is a member of database availability group"):
        run("Set-DatabaseAvailabilityGroup", Identity="DAG1", WitnessServer="EX01")
    with pytest.raises(PSError, match="couldn't be found"):
        run("Set-DatabaseAvailabilityGroup", Identity="DAG9", DatacenterActivationMode="Off")


def test_set_dag_without_parameters_reevaluates_quorum(run, lab):
    dag = lab.dag("DAG1")
    dag.witness_in_use = "Alternate"
    s = run("Set-DatabaseAvailabilityGroup", Identity="DAG1")
    assert s.warnings == [] and dag.witness_in_use == "Primary"
    assert (
        p(run("Get-DatabaseAvailabilityGroup", Identity="DAG1", Status=True).out[0], "WitnessShareInUse") == "Primary"
    )


def test_set_dag_quorum_dependent_settings(run, lab):
    dag = lab.dag("DAG1")
    for node in ("EX01", "EX02", "EX03"):
        lab.set_node_state(dag, node, "Down")
    with pytest.raises(PSError, match="doesn't have quorum"):
        run("Set-DatabaseAvailabilityGroup", Identity="DAG1", ReplicationPort=64330)


# -------------------------------------------------------------------- DAG networks
def test_dag_networks_need_manual_configuration(run, lab):
    with pytest.raises(PSError, match="automatic network configuration"):
        run(
            "New-DatabaseAvailabilityGroupNetwork",
            DatabaseAvailabilityGroup="DAG1",
            Name="iSCSI",
            Subnets=["10.9.0.0/24"],
        )
    run("Set-DatabaseAvailabilityGroup", Identity="DAG1", ManualDagNetworkConfiguration=True)
    o = run(
        "New-DatabaseAvailabilityGroupNetwork",
        DatabaseAvailabilityGroup="DAG1",
        Name="Repl2",
        Subnets=["10.1.2.0/24"],
        ReplicationEnabled=True,
    ).out[0]
    assert p(o, "Identity") == "DAG1\\Repl2"
    nets = {n.name: n.subnets for n in lab.dag("DAG1").networks}
    assert nets["Repl2"] == ["10.1.2.0/24"] and nets["ReplicationDagNetwork01"] == ["10.2.2.0/24"]  # subnet moved
    s = run("Set-DatabaseAvailabilityGroupNetwork", Identity="DAG1\\MapiDagNetwork", ReplicationEnabled=False)
    assert s.warnings == [] and lab.dag("DAG1").networks[0].replication_enabled is False
    s = run("Set-DatabaseAvailabilityGroupNetwork", Identity="DAG1\\MapiDagNetwork", ReplicationEnabled=False)
    assert s.warnings == [
        "The command completed successfully but no settings of 'DAG1\\MapiDagNetwork' have been modified."
    ]
    with pytest.raises(PSError, match="couldn't be found"):
        run("Set-DatabaseAvailabilityGroupNetwork", Identity="DAG1\\Nope", IgnoreNetwork=True)
