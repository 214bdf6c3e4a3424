"""The model: authentication, clock, component rules, quorum, faults, BCSS, reset/dump."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange_lab.model import HostInfo, LabState  # noqa: E402
from exchange_lab.model import activation  # noqa: E402
from exchange_lab.model.clock import Clock  # noqa: E402
from exchange_lab.model.components import ComponentTable, components_for  # noqa: E402


@pytest.fixture
def lab() -> LabState:
    return LabState.load("two-datacenters", speed=1000.0)


# ----------------------------------------------------------------- contract basics
def test_contract_attributes(lab):
    assert lab.domain == "contoso.com" and lab.netbios == "CONTOSO"
    assert isinstance(lab.hosts[0], HostInfo)
    assert lab.audit is None
    assert hasattr(lab.lock, "acquire") and lab.lock.acquire(blocking=False)
    lab.lock.release()
    assert set(lab.users) == {"CONTOSO\\administrator", "CONTOSO\\viewer"}


@pytest.mark.parametrize(
    "name",
    [
        "CONTOSO\\administrator",
        "contoso\\Administrator",
        "administrator@contoso.com",
        "ADMINISTRATOR@CONTOSO.COM",
        "contoso.com\\administrator",
    ],
)
def test_authenticate_accepts_forms(lab, name):
    user = lab.authenticate(name, "Passw0rd!")
    assert user is not None and user.name == "CONTOSO\\administrator"
    assert user.roles == ["Organization Management"] and user.can_write


def test_authenticate_rejects(lab):
    assert lab.authenticate("CONTOSO\\administrator", "passw0rd!") is None
    assert lab.authenticate("OTHER\\administrator", "Passw0rd!") is None
    assert lab.authenticate("nobody@contoso.com", "Passw0rd!") is None
    viewer = lab.authenticate("viewer@contoso.com", "Passw0rd!")
    assert viewer.roles == ["View-Only Organization Management"] and not viewer.can_write


def test_to_json_is_serialisable_stable_and_has_no_password(lab):
    a = json.dumps(lab.to_json())
    b = lab.to_json()
    assert "Passw0rd!" not in a
    assert list(b) == [
        "topology",
        "clock",
        "org",
        "users",
        "sites",
        "hosts",
        "exchange_servers",
        "dags",
        "databases",
        "dns",
        "faults",
        "pending",
        "data_loss",
        "failures",
    ]
    assert b["dags"][0]["quorum"]["has_quorum"] is True


def test_reset_restores_topology(lab):
    lab.database("DB01").mount_state = "Dismounted"
    lab.server("EX01").auto_activation_policy = "Blocked"
    lab.inject_fault({"kind": "server_down", "server": "EX04"})
    lab.reset()
    assert lab.database("DB01").mounted
    assert lab.server("EX01").auto_activation_policy == "Unrestricted"
    assert lab.server("EX04").up and lab.faults == []


# ---------------------------------------------------------------------------- clock
def test_clock_scales_and_stops():
    clock = Clock(speed=100.0)
    t0 = clock.now()
    start = time.monotonic()
    assert clock.sleep(10) is True  # 10 modelled s = 0.1 real s
    assert 0.08 <= time.monotonic() - start < 1.0
    assert (clock.now() - t0).total_seconds() >= 9.0
    threading.Timer(0.05, clock.stop).start()
    start = time.monotonic()
    assert clock.sleep(10_000) is False  # interrupted
    assert time.monotonic() - start < 1.0
    with pytest.raises(ValueError):
        Clock(0)


def test_clock_sleep_polls_stopping():
    clock = Clock(speed=1.0)
    flag = {"stop": False}
    threading.Timer(0.05, lambda: flag.update(stop=True)).start()
    start = time.monotonic()
    assert clock.sleep(60, lambda: flag["stop"]) is False
    assert time.monotonic() - start < 1.0


# ----------------------------------------------------------------------- components
def test_component_lists_per_version():
    assert "UMCallRouter" in components_for("2013") and "UMCallRouter" in components_for("2016")
    assert "UMCallRouter" not in components_for("2019")
    assert "MailboxDeliveryProxy" not in components_for("2013")
    assert components_for("2019")[0] == "ServerWideOffline"


def test_component_effective_state_rules(lab):
    t = ComponentTable("2019")
    now = lab.clock.now()
    assert t.state("HubTransport") == "Active"
    assert t.state("ForwardSyncDaemon") == "Inactive"  # on-premises default
    t.get("HubTransport").set("Maintenance", "Draining", now)
    assert t.state("HubTransport") == "Draining"
    t.get("HubTransport").set("Functional", "Inactive", now)
    assert t.state("HubTransport") == "Inactive"  # Inactive wins
    t.get("HubTransport").set("Functional", "Active", now)
    assert t.state("HubTransport") == "Draining"
    t.get("ServerWideOffline").set("Maintenance", "Inactive", now)
    for name in t.names():
        expected = "Active" if name in ("Monitoring", "RecoveryActionsEnabled") else "Inactive"
        assert t.state(name) == expected, name
    assert t.effective("OwaProxy") == ("Inactive", True)
    t.get("ServerWideOffline").set("Maintenance", "Active", now)
    assert t.state("OwaProxy") == "Active"


def test_component_local_remote_newest_wins(lab):
    t = ComponentTable("2016")
    c = t.get("HighAvailability")
    t0 = lab.clock.now()
    import datetime

    c.set("Maintenance", "Inactive", t0, local=False, remote=True)
    c.set("Maintenance", "Active", t0 + datetime.timedelta(seconds=1), local=True, remote=False)
    assert t.state("HighAvailability") == "Active"
    c.set("Maintenance", "Inactive", t0 + datetime.timedelta(seconds=2), local=False, remote=True)
    assert t.state("HighAvailability") == "Inactive"


# --------------------------------------------------------------------- quorum / PAM
def test_quorum_node_and_file_share_majority(lab):
    dag = lab.dag("DAG1")
    q = lab.quorum(dag)
    assert (q["model"], q["total_votes"], q["votes"]) == ("NodeAndFileShareMajority", 5, 5)
    lab.set_node_state(dag, "EX01", "Down")
    assert lab.primary_active_manager(dag) == "EX02"  # cluster group moved
    lab.set_node_state(dag, "EX02", "Down")
    assert lab.quorum(dag)["has_quorum"] is True  # 2 nodes + witness = 3 of 5
    lab.set_node_state(dag, "EX03", "Down")
    assert lab.quorum(dag)["has_quorum"] is False
    assert all(not db.mounted for db in lab.databases.values())
    assert lab.operational_servers(dag) == []
    lab.set_node_state(dag, "EX03", "Up")
    assert lab.quorum(dag)["has_quorum"] is True
    assert lab.database("DB05").mounted  # remounted on its own server


def test_paused_node_still_votes_and_keeps_group(lab):
    dag = lab.dag("DAG1")
    lab.set_node_state(dag, "EX01", "Paused")
    assert lab.primary_active_manager(dag) == "EX01"
    assert "EX01" in lab.operational_servers(dag)
    assert lab.move_cluster_group(dag) == "EX02"
    with pytest.raises(ValueError):
        lab.move_cluster_group(dag, "EX01")  # a paused node can't become the PAM


# ---------------------------------------------------------------------------- faults
def test_fault_copy_status_and_clear(lab):
    f = lab.inject_fault({"kind": "copy_status", "database": "db01", "server": "ex03", "status": "failed"})
    assert f == {"kind": "copy_status", "server": "EX03", "database": "DB01", "status": "Failed", "previous": "Healthy"}
    db = lab.database("DB01")
    assert lab.copy_status(db, db.copy_on("EX03")) == "Failed"
    assert lab.to_json()["faults"][0]["status"] == "Failed"
    assert lab.clear_fault({"kind": "copy_status", "database": "DB01", "server": "EX03"}) == 1
    assert db.copy_on("EX03").status == "Initializing"
    lab.clock.sleep(16)
    lab.tick()
    assert db.copy_on("EX03").status == "Healthy"


def test_fault_queues_and_content_index(lab):
    lab.inject_fault(
        {"kind": "copy_queue", "database": "DB01", "server": "EX03", "copy_queue": 200, "replay_queue": 80}
    )
    lab.inject_fault({"kind": "content_index", "database": "DB01", "server": "EX02", "state": "Failed"})
    db = lab.database("DB01")
    assert (db.copy_on("EX03").copy_queue, db.copy_on("EX03").replay_queue) == (200, 80)
    assert lab.log_positions(db, db.copy_on("EX03"))["inspected"] == db.log_generation - 200
    assert db.copy_on("EX02").content_index == "Failed"
    assert lab.clear_fault(None) == 2
    assert db.copy_on("EX03").copy_queue == 0 and db.copy_on("EX02").content_index == "NotApplicable"


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"kind": "meteor"}, "unknown fault kind"),
        ({"kind": "copy_status", "database": "DB01", "server": "EX03"}, "missing key(s) status"),
        ({"kind": "copy_status", "database": "DB01", "server": "EX03", "status": "Sad"}, "is not one of"),
        ({"kind": "copy_status", "database": "DB01", "server": "EX01", "status": "Failed"}, "is the active copy"),
        ({"kind": "copy_queue", "database": "DB99", "server": "EX03", "copy_queue": 1}, "unknown database"),
        ({"kind": "copy_queue", "database": "DB01", "server": "EX03", "copy_queue": -1}, "non-negative integer"),
        ({"kind": "server_down", "server": "EX99"}, "unknown Exchange server"),
        ({"kind": "server_down", "server": "EX01", "colour": 1}, "unknown key(s) colour"),
    ],
)
def test_fault_validation(lab, spec, message):
    with pytest.raises(ValueError) as exc:
        lab.inject_fault(spec)
    assert message in str(exc.value)


def test_clear_unknown_fault(lab):
    with pytest.raises(ValueError, match="no server_down fault"):
        lab.clear_fault({"kind": "server_down", "server": "EX01"})


def test_server_down_fails_over_by_bcss_and_back(lab):
    dag = lab.dag("DAG1")
    lab.inject_fault({"kind": "server_down", "server": "EX01"})
    assert dag.cluster.node("EX01").state == "Down"
    assert lab.primary_active_manager(dag) == "EX02"
    for name in ("DB01", "DB03", "DB07"):
        db = lab.database(name)
        assert db.active_server == "EX02" and db.mounted  # preference 2, same criteria set
        assert lab.copy_status(db, db.copy_on("EX01")) == "ServiceDown"
    assert "EX01" not in lab.operational_servers(dag)
    lab.clear_fault({"kind": "server_down", "server": "EX01"})
    assert dag.cluster.node("EX01").state == "Up"
    db = lab.database("DB01")
    assert db.active_server == "EX02" and db.copy_on("EX01").status == "Initializing"


def test_bcss_skips_blocked_suspended_and_lagging(lab):
    db = lab.database("DB01")
    lab.server("EX02").auto_activation_policy = "Blocked"
    db.copy_on("EX03").activation_suspended = True
    lab.inject_fault({"kind": "copy_queue", "database": "DB01", "server": "EX04", "copy_queue": 3, "replay_queue": 0})
    ranked = activation.ranked_candidates(lab, db)
    assert [(c.server, s) for c, s in ranked] == [("EX04", 1)]
    # unreachable source: copy queue 3 <= GoodAvailability (6) -> mounts on EX04
    assert activation.select_target(lab, db, source_reachable=False).server == "EX04"
    lab.server("EX04").mount_dial = "Lossless"
    assert activation.select_target(lab, db, source_reachable=False) is None
    assert activation.select_target(lab, db, source_reachable=True).server == "EX04"


def test_bcss_criteria_order(lab):
    db = lab.database("DB01")
    lab.inject_fault({"kind": "copy_queue", "database": "DB01", "server": "EX02", "copy_queue": 0, "replay_queue": 60})
    lab.inject_fault({"kind": "copy_status", "database": "DB01", "server": "EX03", "status": "Failed"})
    ranked = activation.ranked_candidates(lab, db)
    assert [(c.server, s) for c, s in ranked] == [("EX04", 1), ("EX02", 6)]


def test_move_off_server(lab):
    lab.server("EX01").activation_disabled_and_move_now = True
    results = activation.move_off_server(lab, "EX01")
    assert sorted(r.database for r in results) == ["DB01", "DB03", "DB07"]
    assert all(r.target == "EX02" for r in results)
    assert lab.active_databases("EX01") == []


def test_move_off_server_keeps_database_without_eligible_copy(lab):
    for s in ("EX02", "EX03", "EX04"):
        lab.server(s).auto_activation_policy = "Blocked"
    results = activation.move_off_server(lab, "EX01")
    assert all(r.target is None for r in results)
    assert lab.database("DB01").active_server == "EX01" and lab.database("DB01").mounted


def test_scheduler_runs_due_work_in_order(lab):
    seen = []
    lab.schedule(2, lambda: seen.append("b"), "b")
    lab.schedule(1, lambda: seen.append("a"), "a")
    lab.schedule(10_000, lambda: seen.append("late"), "late")
    lab.clock.sleep(3)
    lab.tick()
    assert seen == ["a", "b"]
    assert [p["label"] for p in lab.pending()] == ["late"]


def test_dc_lookup(lab):
    assert lab.domain_controller_for("DC2").name == "DC02"
    assert lab.server("EX03.CONTOSO.COM").name == "EX03"


def test_cluster_node_down_fails_databases_over(lab):
    dag = lab.dag("DAG1")
    lab.set_node_state(dag, "EX04", "Down")  # e.g. cluster service stopped
    db = lab.database("DB06")
    assert db.active_server == "EX03" and db.mounted
    assert "EX04" not in lab.operational_servers(dag)
    assert lab.copy_status(db, db.copy_on("EX04")) == "Initializing"  # server itself is still up


def test_evict_and_add_node_change_the_quorum_model(lab):
    dag = lab.dag("DAG1")
    lab.evict_node(dag, "EX01")
    q = lab.quorum(dag)
    assert (q["model"], q["nodes"], q["total_votes"]) == ("NodeMajority", 3, 3)
    assert dag.cluster.evicted == ["EX01"] and lab.primary_active_manager(dag) == "EX02"
    lab.add_node(dag, "EX01")
    assert list(dag.cluster.nodes) == ["ex01", "ex02", "ex03", "ex04"] and dag.cluster.evicted == []
    assert lab.quorum(dag)["model"] == "NodeAndFileShareMajority"
