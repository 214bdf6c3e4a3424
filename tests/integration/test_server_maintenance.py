"""exchange.dr.server_maintenance, the server_switchover role and playbooks/planned_maintenance.yml
against the lab.

One lab for the module; the scenarios run in order (each a fixture the next depends on), each as its
own ansible-playbook run against the inventory ``exchange-lab inventory`` prints, so the audit log
between two runs is exactly what that run sent.  What changed is asserted on the lab's state (admin
API) and audit log, never on the module's word alone.
"""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from exchange_lab import Lab

import harness
from harness import (PASSWORD, REPO, invoke, lab_env, role_defaults_and_spec, run_play, run_playbook, session,
                     wait_for)

EX01_DATABASES = ["DB01", "DB03", "DB07"]
READS = ("Get-", "Select-Object")  # Add-PSSnapin counts: the 2007 case asserts it
# Waits scaled to the lab (speed 200: a 30 s switchover takes 0.15 s).
FAST = {"poll_interval": 0.2, "move_retry_delay": 0.5, "move_retries": 1, "timeout": 60}
ROLE_FAST = {"server_switchover_poll_interval": 0.2, "server_switchover_move_retry_delay": 0.5,
             "server_switchover_move_retries": 1, "server_switchover_timeout": 60,
             "server_switchover_rebalance_timeout": 60}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server_maintenance")
    with lab_env(tmp, "two-datacenters", home="home") as env:
        yield dict(env, records=tmp / "records")


def playbook(env, tasks, *args, hosts="EX01", name="case"):
    """Run ``tasks`` on ``hosts`` (failures ignored), return (registered results, audit of the run, output)."""
    run = run_play(env, tasks, *args, module_defaults="{{ exchange_dr_connection }}", hosts=hosts, name=name,
                   require_success=True, timeout=120)
    return run["results"], run["audit"], run["output"]


def maintenance(env, **options):
    task = dict({"mailbox_server": "{{ inventory_hostname }}",
                 "windows_connection": "{{ exchange_dr_windows_connection }}",
                 "record_file": str(env["records"] / "{{ inventory_hostname | lower }}.json")}, **FAST)
    task.update(options)
    return {"name": "server_maintenance", "exchange.dr.server_maintenance": task}


def role(env, state, **extra):
    variables = dict(ROLE_FAST, server_switchover_state=state, server_switchover_record_dir=str(env["records"]),
                     server_switchover_windows_connection="{{ exchange_dr_windows_connection }}")
    variables.update(extra)
    return {"name": "server_switchover %s" % state,
            "ansible.builtin.include_role": {"name": "exchange.dr.server_switchover"}, "vars": variables}


def writes(audit):
    return harness.writes(audit, "host", "cmdlet", reads=READS)


def server(lab, name):
    return next(s for s in lab.state()["exchange_servers"] if s["name"] == name)


def requester(component, who="Maintenance"):
    entries = [e for e in component["local"] + component["remote"] if e["requester"].lower() == who.lower()]
    return entries[-1]["state"] if entries else None


def active_on(lab, name):
    return sorted(d["name"] for d in lab.state()["databases"] if d["active_server"] == name)


def node_state(lab, name):
    return lab.state()["dags"][0]["cluster"]["nodes"][name]


# ----------------------------------------------------------------------------- scenarios
@pytest.fixture(scope="module")
def check_mode(env):
    before = env["lab"].state()
    results, audit, _output = playbook(env, [maintenance(env)], "--check", name="check")
    return {"result": results[0], "audit": audit, "before": before, "after": env["lab"].state()}


@pytest.fixture(scope="module")
def entered(env, check_mode):
    results, audit, output = playbook(env, [role(env, "maintenance")], name="enter")
    return {"audit": audit, "output": output, "state": env["lab"].state(),
            "record": json.loads((env["records"] / "ex01.json").read_text())}


@pytest.fixture(scope="module")
def entered_again(env, entered):
    """EX01 again (nothing to do), then EX02 while EX01 is in maintenance (refused): one run, no write."""
    ex02 = maintenance(env, mailbox_server="EX02",
                       windows_connection="{{ hostvars['EX02'].exchange_dr_windows_connection }}",
                       record_file=str(env["records"] / "ex02.json"))
    unknown = maintenance(env, mailbox_server="EX99", record_file=str(env["records"] / "ex99.json"))
    results, audit, _output = playbook(env, [maintenance(env), ex02, unknown], name="enter-again")
    return {"result": results[0], "guard": results[1], "unknown": results[2], "audit": audit}


@pytest.fixture(scope="module")
def guard(entered_again):
    return {"result": entered_again["guard"], "audit": entered_again["audit"]}


@pytest.fixture(scope="module")
def left(env, guard):
    results, audit, _output = playbook(env, [role(env, "active")], name="exit")
    return {"audit": audit, "state": env["lab"].state(),
            "record": json.loads((env["records"] / "ex01.json").read_text())}


@pytest.fixture(scope="module")
def left_again(env, left):
    tasks = [maintenance(env, state="active"),
             {"name": "rebalance", "exchange.dr.dag_rebalance": {"preferred_server": "EX01"}}]
    results, audit, _output = playbook(env, tasks, name="exit-again")
    return {"results": results, "audit": audit}


@pytest.fixture(scope="module")
def floor(env, left_again):
    lab = env["lab"]
    for copy in ("EX03", "EX04"):
        lab.inject_fault({"kind": "copy_status", "database": "DB01", "server": copy, "status": "Failed"})
    try:
        results, audit, _output = playbook(env, [maintenance(env)], name="floor")
    finally:
        lab.clear_faults()
    wait_for(lambda: all(c["status"] == "Healthy" for d in lab.state()["databases"] for c in d["copies"]
                         if d["name"] == "DB01" and c["server"] != "EX01"))
    return {"result": results[0], "audit": audit}


@pytest.fixture(scope="module")
def resumed(env, floor):
    """DB01's other copies are activation-suspended (still Healthy, so the floor holds): the first run
    gets as far as the moves and fails on DB01; with the copies resumed, a second run finishes."""
    lab = env["lab"]
    with session(lab, "EX01", "Microsoft.Exchange", path="PowerShell") as pool:
        for copy in ("EX02", "EX03", "EX04"):
            invoke(pool, "Suspend-MailboxDatabaseCopy", {"Identity": "DB01\\%s" % copy, "ActivationOnly": True,
                                                         "SuspendComment": "test: hold DB01", "Confirm": False})
        first, first_audit, _output = playbook(env, [maintenance(env)], name="resume-1")
        middle = lab.state()
        for copy in ("EX02", "EX03", "EX04"):
            invoke(pool, "Resume-MailboxDatabaseCopy", {"Identity": "DB01\\%s" % copy})
    wait_for(lambda: all(c["status"] == "Healthy" and not c["activation_suspended"] for d in lab.state()["databases"]
                         for c in d["copies"] if d["name"] == "DB01" and c["server"] != "EX01"))
    second, second_audit, _output = playbook(env, [maintenance(env)], name="resume-2")
    after = lab.state()
    cleanup, _audit, _output = playbook(env, [maintenance(env, state="active")], name="resume-exit")
    assert cleanup[0]["changed"] and not cleanup[0].get("failed")
    return {"first": first[0], "first_audit": first_audit, "middle": middle, "second": second[0],
            "second_audit": second_audit, "after": after}


@pytest.fixture(scope="module")
def planned(env, resumed):
    lab = env["lab"]
    lab.reset()
    extra = dict(ROLE_FAST, server_switchover_record_dir=str(env["records"] / "playbook"))
    return run_playbook(env, REPO / "playbooks" / "planned_maintenance.yml", "--limit", "EX01",
                        "-e", json.dumps(dict(extra, planned_maintenance_hosts="dag_DAG1")), timeout=120)


# --------------------------------------------------------------------------------- tests
def test_check_mode_plans_and_changes_nothing(check_mode):
    result = check_mode["result"]
    assert result["changed"] is True and not result.get("failed")
    assert writes(check_mode["audit"]) == []
    planned = [s["name"] for s in result["steps"] if s["status"] == "planned"]
    assert planned == ["hub_transport_draining", "transport_restart", "suspend_cluster_node",
                       "activation_disabled_and_move_now", "activation_policy_blocked", "move_databases",
                       "redirect_messages", "server_wide_offline_inactive"]
    assert result["before"]["active_databases"] == EX01_DATABASES
    predicted = result["after"]
    assert (predicted["activation_policy"], predicted["cluster_node"], predicted["active_databases"]) == (
        "Blocked", "Paused", [])
    assert predicted["maintenance_requester"] == {"HubTransport": "Draining", "ServerWideOffline": "Inactive"}
    assert result["in_maintenance"] is True and result["progress"]["planned"] == 8
    before, after = check_mode["before"]["exchange_servers"], check_mode["after"]["exchange_servers"]
    assert [s["mailbox"] for s in before] == [s["mailbox"] for s in after]
    assert [s["components"] for s in before] == [s["components"] for s in after]
    assert check_mode["after"]["dags"][0]["cluster"] == check_mode["before"]["dags"][0]["cluster"]


def test_enter_maintenance_with_the_role(entered):
    state = entered["state"]
    ex01 = next(s for s in state["exchange_servers"] if s["name"] == "EX01")
    assert requester(ex01["components"]["HubTransport"]) == "Draining"
    assert requester(ex01["components"]["ServerWideOffline"]) == "Inactive"
    assert ex01["components"]["ServerWideOffline"]["state"] == "Inactive"
    assert ex01["mailbox"]["DatabaseCopyAutoActivationPolicy"] == "Blocked"
    assert ex01["mailbox"]["DatabaseCopyActivationDisabledAndMoveNow"] is True
    assert state["dags"][0]["cluster"]["nodes"]["EX01"] == "Paused"
    assert not [d["name"] for d in state["databases"] if d["active_server"] == "EX01"]
    assert {q["name"]: q["message_count"] for q in ex01["queues"]}["Submission"] == 0
    # the runbook's order (§3.2): drain, restart transport, pause node, block activation, redirect, offline
    sent = [cmdlet for host, cmdlet in writes(entered["audit"])]
    assert sent[:6] == ["Set-ServerComponentState", "Stop-Service", "Start-Service", "Suspend-ClusterNode",
                        "Set-MailboxServer", "Set-MailboxServer"]
    assert sent[-2:] == ["Redirect-Message", "Set-ServerComponentState"]
    assert {host for host, _cmdlet in writes(entered["audit"])} == {"EX01"}
    windows = [(a["configuration"], a["cmdlet"]) for a in entered["audit"] if a["cmdlet"].endswith(("-Service", "Node"))]
    assert all(config == "Microsoft.PowerShell" for config, _cmdlet in windows)
    assert entered["record"]["activation_policy"] == "Unrestricted" and entered["record"]["state"] == "maintenance"
    assert entered["record"]["transport_restart_pending"] is None
    assert "Move-ClusterGroup is not available on EX01" in entered["output"]
    assert PASSWORD not in entered["output"]


def test_second_run_changes_nothing(entered_again):
    result = entered_again["result"]
    assert result["changed"] is False and not result.get("failed")
    assert writes(entered_again["audit"]) == []
    assert {s["status"] for s in result["steps"]} == {"skipped"}
    assert result["pre_maintenance"] == {"activation_policy": "Unrestricted", "source": "record"}
    assert result["in_maintenance"] is True


def test_an_unknown_server_fails_cleanly(entered_again):
    result = entered_again["unknown"]
    assert result["failed"] and result["msg"] == ("mailbox_server EX99 is not an Exchange server of the organization "
                                                  "(servers: EX01, EX02, EX03, EX04)")


def test_maintenance_guard_names_the_server_in_maintenance(guard):
    result = guard["result"]
    assert result["failed"] and result["changed"] is False
    assert "EX01 is already in maintenance and max_servers_in_maintenance is 1" in result["msg"]
    assert "nothing was changed" in result["msg"]
    assert writes(guard["audit"]) == []
    assert result["checks"]["servers_in_maintenance"] == ["EX01"]


def test_exit_restores_policy_node_components_and_databases(left):
    state = left["state"]
    ex01 = next(s for s in state["exchange_servers"] if s["name"] == "EX01")
    names = ("ServerWideOffline", "HubTransport", "Monitoring", "RecoveryActionsEnabled", "HighAvailability")
    assert all(ex01["components"][c]["state"] == "Active" for c in names)
    assert ex01["mailbox"]["DatabaseCopyAutoActivationPolicy"] == "Unrestricted"
    assert ex01["mailbox"]["DatabaseCopyActivationDisabledAndMoveNow"] is False
    assert state["dags"][0]["cluster"]["nodes"]["EX01"] == "Up"
    assert sorted(d["name"] for d in state["databases"] if d["active_server"] == "EX01") == EX01_DATABASES
    sent = [cmdlet for host, cmdlet in writes(left["audit"])]
    assert sent[:7] == ["Set-ServerComponentState", "Resume-ClusterNode", "Set-MailboxServer", "Set-MailboxServer",
                        "Set-ServerComponentState", "Stop-Service", "Start-Service"]
    assert "Move-ActiveMailboxDatabase" in sent[7:]  # the rebalance
    assert left["record"]["state"] == "active"


def test_exit_again_changes_nothing(left_again):
    maintenance_result, rebalance = left_again["results"]
    assert maintenance_result["changed"] is False and rebalance["changed"] is False
    assert writes(left_again["audit"]) == []


def test_redundancy_floor_refuses_naming_the_database(floor):
    result = floor["result"]
    assert result["failed"] and writes(floor["audit"]) == []
    assert "redundancy floor (min_healthy_copies 2): DB01 would keep 1 healthy copy" in result["msg"]
    assert "EX03 Failed" in result["msg"] and "EX04 Failed" in result["msg"]
    assert "DB03" not in result["msg"]


def test_resume_after_a_failure_part_way(resumed):
    first = resumed["first"]
    assert first["failed"] and "step move_databases" in first["msg"] and "DB01 still active on EX01" in first["msg"]
    statuses = {s["name"]: s["status"] for s in first["steps"]}
    assert statuses["suspend_cluster_node"] == "done" and statuses["move_databases"] == "failed"
    assert statuses["server_wide_offline_inactive"] == "planned"
    assert active_on_state(resumed["middle"], "EX01") == ["DB01"]
    second = resumed["second"]
    assert second["changed"] and not second.get("failed")
    done = [s["name"] for s in second["steps"] if s["status"] == "done"]
    assert done == ["move_databases", "server_wide_offline_inactive"]
    sent = [cmdlet for host, cmdlet in writes(resumed["second_audit"])]
    assert sent == ["Move-ActiveMailboxDatabase", "Set-ServerComponentState"]
    assert active_on_state(resumed["after"], "EX01") == []


def active_on_state(state, name):
    return sorted(d["name"] for d in state["databases"] if d["active_server"] == name)


def test_planned_maintenance_playbook_one_server(planned):
    assert planned["rc"] == 0, planned["output"]
    state = planned["state"]
    ex01 = next(s for s in state["exchange_servers"] if s["name"] == "EX01")
    assert ex01["components"]["ServerWideOffline"]["state"] == "Active"
    assert ex01["mailbox"]["DatabaseCopyAutoActivationPolicy"] == "Unrestricted"
    assert state["dags"][0]["cluster"]["nodes"]["EX01"] == "Up"
    assert active_on_state(state, "EX01") == EX01_DATABASES
    hosts = {host for host, _cmdlet in writes(planned["audit"])}
    assert hosts == {"EX01"}  # --limit EX01: no other server was touched
    sent = [cmdlet for host, cmdlet in writes(planned["audit"])]
    assert sent.index("Suspend-ClusterNode") < sent.index("Resume-ClusterNode") < len(sent) - 1
    assert sent[-1] == "Move-ActiveMailboxDatabase"
    assert "Patch window" in planned["stdout"] and "skipping" in planned["stdout"]


# ------------------------------------------------------------------- Exchange 2007 CCR
@pytest.fixture(scope="module")
def ccr(env):
    """Exchange 2007 SP1 CCR (CMS1 on MBX1A/MBX1B): enter maintenance on MBX1A, then again."""
    with Lab("exchange2007-ccr-scr", speed=200) as lab:
        connection = {"server": "127.0.0.1", "port": lab.host("MBX1A")["https_port"], "auth": "basic",
                      "username": "CONTOSO\\administrator", "password": PASSWORD, "ca_trust_path": lab.ca_file,
                      "no_proxy": True, "exchange_version": "2007"}
        task = dict(connection, mailbox_server="CMS1", cluster_node="MBX1A")
        ccr_env = dict(env, lab=lab)  # the same work directory, the 2007 lab
        runs = {}
        for name, check in (("enter", False), ("again", False)):
            run = run_play(ccr_env, [{"name": "server_maintenance", "exchange.dr.server_maintenance": task,
                                      "check_mode": check}], "-c", "local",
                           "-e", "ansible_python_interpreter=%s" % sys.executable, inventory="localhost,",
                           name="ccr-%s" % name, require_success=True, timeout=120)
            runs[name] = {"result": run["results"][0], "audit": run["audit"]}
        return runs


def test_exchange_2007_ccr_moves_the_clustered_mailbox_server(ccr):
    enter, again = ccr["enter"], ccr["again"]
    assert enter["result"]["changed"] and enter["result"]["in_maintenance"]
    assert enter["result"]["before"]["active_node"] == "MBX1A" and enter["result"]["after"]["active_node"] == "MBX1B"
    (move,) = [a for a in enter["audit"] if a["cmdlet"] == "Move-ClusteredMailboxServer"]
    assert move["parameters"]["TargetMachine"] in ("MBX1B", ["MBX1B"]) and move["outcome"] == "ok"
    assert again["result"]["changed"] is False
    assert [cmdlet for _host, cmdlet in writes(again["audit"])] == ["Add-PSSnapin"]
    assert again["result"]["steps"][0]["reason"] == "CMS1 is active on MBX1B"


# ---------------------------------------------------------------------- collection files
def test_role_defaults_match_argument_specs():
    defaults, spec = role_defaults_and_spec("server_switchover")
    assert set(defaults) == set(spec)
    for name, option in spec.items():
        assert option.get("default") == defaults[name], name


def test_module_is_in_the_action_group_once():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["action_groups"]["exchange"].count("server_maintenance") == 1
