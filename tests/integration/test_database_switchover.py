"""database_switchover, dag_rebalance, database_copy and the database_switchover role through
ansible-playbook against the lab.

One lab for the module and two playbook runs, each writing what its tasks registered to a
JSON file; the tests assert on those files, on the lab's state (``lab.state()``) and on its
audit log (which cmdlets were sent, in which order):

* ``check``: everything in check mode (``--check --diff``); the state must not change and the
  audit must show reads only.
* ``apply``: the role twice (the second pass changes nothing and sends no Move), the
  switchovers, the failures (unknown database, target without a copy, lossy move without
  ``allow_data_loss``, no healthy target, a move Exchange refuses), the copy states and the
  rebalances (the last one changes nothing).  The exact sequence of writes is asserted.

Faults are injected before the first run: a copy queue of 4 logs on DB02\\EX01 (the lossy
case), every passive copy of DB05 Failed (no healthy target) and a replay queue of 20 logs on
DB08\\EX03 (inside the collection's gate, refused by Exchange's own lag check).
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

import harness
from harness import PASSWORD, REPO, lab_env, role_defaults_and_spec, run_playbook
FAST = {"poll_interval": 0.2, "timeout": 60}
CONNECTION = {"group/exchange.dr.exchange": "{{ exchange_dr_connection }}"}
READS = {"Select-Object"}


def switchover(register, failing=False, **options):
    task = {"name": "database_switchover %s" % register, "exchange.dr.database_switchover": dict(options, **FAST),
            "register": register}
    if failing:
        task["ignore_errors"] = True
    return task


def rebalance(register, **options):
    return {"name": "dag_rebalance %s" % register, "exchange.dr.dag_rebalance": dict(options, **FAST),
            "register": register}


def database_copy(register, failing=False, **options):
    task = {"name": "database_copy %s" % register, "exchange.dr.database_copy": dict(options, **FAST),
            "register": register}
    if failing:
        task["ignore_errors"] = True
    return task


def role(databases, **variables):
    return {"name": "the database_switchover role", "ansible.builtin.include_role": {"name": "exchange.dr.database_switchover"},
            "vars": dict({"database_switchover_databases": databases, "database_switchover_poll_interval": 0.2},
                         **variables)}


def write(path, names):
    content = "{{ {%s} | to_json }}" % ", ".join("'%s': %s" % (n, n) for n in names)
    return {"name": "write the results", "ansible.builtin.copy": {"dest": str(path), "mode": "0600", "content": content},
            "check_mode": False, "changed_when": False}


def play(tasks):
    return [{"name": "database activation against the lab", "hosts": "localhost", "gather_facts": False,
             "module_defaults": CONNECTION, "tasks": tasks}]


ROLE_INPUT = [{"database": "DB01", "target_server": "EX02"}, {"database": "DB03", "from_server": "EX01"}]

CHECK_CASES = ("role_first", "role_bad_input", "check_switch", "check_copy", "check_pref", "check_rebalance")


def check_playbook(results):
    return play([
        role(ROLE_INPUT),
        {"name": "keep the role's results", "ansible.builtin.set_fact": {
            "role_first": "{{ database_switchover_results }}"}},
        {"name": "the role refuses an item with both target_server and from_server", "block": [
            role([{"database": "DB01", "target_server": "EX02", "from_server": "EX01"}]),
        ], "rescue": [{"name": "keep the failure", "ansible.builtin.set_fact": {
            "role_bad_input": "{{ ansible_failed_result }}"}}]},
        switchover("check_switch", database="DB06", target_server="EX03"),
        database_copy("check_copy", database="DB04", mailbox_server="EX03", state="suspended", suspend_comment="SAN"),
        database_copy("check_pref", database="DB06", mailbox_server="EX01", activation_preference=2),
        rebalance("check_rebalance"),
        write(results, CHECK_CASES),
    ])


APPLY_CASES = ("role_first", "role_second", "move", "move_again", "lossy_refused", "lossy_allowed", "unknown",
               "copy_removed", "no_copy", "no_healthy", "refused", "suspend", "suspend_again", "activation_only", "resume",
               "preference", "preference_again", "rebalance_server", "rebalance_all", "rebalance_again")


def apply_playbook(results):
    return play([
        role(ROLE_INPUT, database_switchover_move_comment="patching EX01"),
        {"name": "keep the first run", "ansible.builtin.set_fact": {"role_first": "{{ database_switchover_results }}"}},
        role(ROLE_INPUT, database_switchover_move_comment="patching EX01"),
        {"name": "keep the second run", "ansible.builtin.set_fact": {"role_second": "{{ database_switchover_results }}"}},
        switchover("move", database="DB06", target_server="EX03", move_comment="CHG-42"),
        switchover("move_again", database="db06", target_server="ex03"),
        switchover("lossy_refused", True, database="DB02", target_server="EX01", mount_dial_override="good_availability"),
        switchover("lossy_allowed", database="DB02", target_server="EX01", mount_dial_override="good_availability",
                   allow_data_loss=True),
        switchover("unknown", True, database="DB99", target_server="EX02"),
        database_copy("copy_removed", database="DB07", mailbox_server="EX04", state="absent"),
        switchover("no_copy", True, database="DB07", target_server="EX04"),
        switchover("no_healthy", True, database="DB05", from_server="EX03"),
        switchover("refused", True, database="DB08", target_server="EX03"),
        database_copy("suspend", database="DB04", mailbox_server="EX03", state="suspended", suspend_comment="SAN"),
        database_copy("suspend_again", database="DB04", mailbox_server="EX03", state="suspended"),
        database_copy("activation_only", database="DB04", mailbox_server="EX03", state="activation_suspended"),
        database_copy("resume", database="DB04", mailbox_server="EX03", state="healthy"),
        database_copy("preference", database="DB06", mailbox_server="EX01", activation_preference=2),
        database_copy("preference_again", database="DB06", mailbox_server="EX01", activation_preference=2),
        rebalance("rebalance_server", preferred_server="EX01", move_comment="end of maintenance"),
        rebalance("rebalance_all"),
        rebalance("rebalance_again"),
        write(results, APPLY_CASES),
    ])


COPY_KEYS = ("preference", "status", "activation_suspended", "suspend_comment", "replay_lag_s", "truncation_lag_s",
             "copy_queue", "replay_queue")


def projection(state):
    """The parts of the lab's state the modules may change."""
    databases = {}
    for db in state["databases"]:
        databases[db["name"]] = {
            "active_server": db["active_server"], "mount_state": db["mount_state"],
            "copies": {c["server"]: {k: c[k] for k in COPY_KEYS} for c in db["copies"]}}
    servers = {s["name"]: {"mailbox": s["mailbox"], "components": {k: v["state"] for k, v in s["components"].items()}}
               for s in state["exchange_servers"]}
    return {"databases": databases, "servers": servers}


def writes(audit):
    """The state-changing calls of an audit slice: (cmdlet, parameters) in order."""
    return harness.writes(audit, "cmdlet", "parameters")


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("database_switchover")
    with lab_env(tmp, "two-datacenters") as env:
        lab = env["lab"]
        lab.inject_fault({"kind": "copy_queue", "database": "DB02", "server": "EX01", "copy_queue": 4})
        for server in ("EX04", "EX01", "EX02"):
            lab.inject_fault({"kind": "copy_status", "database": "DB05", "server": server, "status": "Failed"})
        lab.inject_fault({"kind": "copy_queue", "database": "DB08", "server": "EX03", "replay_queue": 20})
        runs = {}
        for name, builder, flags in (("check", check_playbook, ["--check", "--diff"]), ("apply", apply_playbook, [])):
            results = tmp / ("%s.json" % name)
            before = projection(lab.state())
            run = run_playbook(env, builder(results), *flags, name=name)
            assert run["rc"] == 0, run["output"]
            runs[name] = {"results": json.loads(results.read_text()), "output": run["output"],
                          "audit": run["audit"], "before": before, "after": projection(run["state"])}
        yield runs


def items(registered):
    """The per-database results of the role's loop."""
    return {r["database"]: r for r in registered["results"]}


# ---------------------------------------------------------------------------- check mode
def test_check_mode_changes_nothing_and_only_reads(lab_run):
    check = lab_run["check"]
    assert check["before"] == check["after"]
    sent = {a["cmdlet"] for a in check["audit"]}
    assert sent and all(c.startswith("Get-") or c in READS for c in sent), sorted(sent)


def test_check_mode_predicts_the_role(lab_run):
    first = items(lab_run["check"]["results"]["role_first"])
    assert first["DB01"]["changed"] and first["DB01"]["after"]["active_server"] == "EX02"
    assert first["DB03"]["plan"]["selection"] == "best_copy" and first["DB03"]["target_server"] == "EX02"
    for result in first.values():
        assert [a["status"] for a in result["actions"]] == ["planned"]
        assert result["polls"] == 0 and result["diff"]["before"]["active_server"] == "EX01"


def test_check_mode_predicts_modules(lab_run):
    results = lab_run["check"]["results"]
    switch = results["check_switch"]
    assert switch["changed"] and switch["after"] == {"active_server": "EX03", "status": "Mounted", "mounted": True}
    assert switch["actions"][0]["parameters"] == {
        "Identity": "DB06", "ActivateOnServer": "EX03", "MountDialOverride": "Lossless", "Confirm": False}
    copy = results["check_copy"]
    assert copy["changed"] and copy["after"]["status"] == "Suspended" and copy["after"]["suspend_comment"] == "SAN"
    assert copy["diff"] == {"before": {"status": "Healthy", "activation_suspended": False, "suspend_comment": None},
                            "after": {"status": "Suspended", "activation_suspended": True, "suspend_comment": "SAN"}}
    assert results["check_pref"]["after"]["activation_preference"] == 2
    balanced = results["check_rebalance"]
    assert not balanced["changed"] and balanced["moved"] == [] and balanced["failed"] == []
    assert len(balanced["unchanged"]) == 8


def test_role_preflight_refuses_ambiguous_items(lab_run):
    failure = lab_run["check"]["results"]["role_bad_input"]
    messages = [item["msg"] for item in failure["results"] if item.get("failed")]
    assert len(messages) == 1 and "DB01 must have exactly one of target_server" in messages[0]


# ---------------------------------------------------------------------------- switchover
def test_role_moves_then_is_idempotent(lab_run):
    results = lab_run["apply"]["results"]
    first, second = items(results["role_first"]), items(results["role_second"])
    assert first["DB01"]["changed"] and first["DB01"]["move_result"]["status"] == "Succeeded"
    assert first["DB01"]["move_result"]["active_server_at_end"] == "EX02"
    assert first["DB03"]["target_server"] == "EX02" and first["DB03"]["source_server"] == "EX01"
    assert not any(r["changed"] for r in second.values())
    assert [r["action"] for r in second.values()] == ["none", "none"]
    assert all(r["actions"] == [] and r["round_trips"] == 2 for r in second.values())


def test_switchover_result_fields(lab_run):
    move = lab_run["apply"]["results"]["move"]
    assert move["changed"] and move["action"] == "move"
    assert (move["source_server"], move["target_server"]) == ("EX04", "EX03")
    assert move["before"] == {"active_server": "EX04", "status": "Mounted", "mounted": True}
    assert move["after"] == {"active_server": "EX03", "status": "Mounted", "mounted": True}
    assert move["logs_lost"] == 0 and move["move_result"]["number_of_logs_lost"] == 0
    assert move["plan"]["parameters"]["MoveComment"] == "CHG-42"
    assert move["polls"] >= 1 and isinstance(move["elapsed"], float) and move["round_trips"] >= 7
    assert any("DB06 active on EX03" in line for line in move["progress"])
    again = lab_run["apply"]["results"]["move_again"]
    assert not again["changed"] and again["action"] == "none" and again["actions"] == []


def test_lossy_move_needs_allow_data_loss(lab_run):
    refused = lab_run["apply"]["results"]["lossy_refused"]
    assert refused["failed"] and "could lose up to 4 logs" in refused["msg"] and "allow_data_loss" in refused["msg"]
    assert refused["actions"] == []
    allowed = lab_run["apply"]["results"]["lossy_allowed"]
    assert allowed["changed"] and allowed["plan"]["lossy"] and allowed["plan"]["logs_at_risk"] == 4
    assert allowed["logs_lost"] == 0  # the active copy was reachable: Active Manager copied the last logs


@pytest.mark.parametrize("case, expected", [
    ("unknown", r"^database DB99 was not found: check the name"),
    ("no_copy", r"^target_server EX04 holds no copy of database DB07 \(its copies are on EX01, EX02, EX03\)"),
    ("no_healthy", r"^no healthy target for database DB05: EX04: status Failed is not a candidate status; EX01: "),
])
def test_clean_failures(lab_run, case, expected):
    result = lab_run["apply"]["results"][case]
    assert result["failed"] and re.search(expected, result["msg"]), result["msg"]
    assert "\n" not in result["msg"] and result.get("actions", []) == []
    assert PASSWORD not in result["msg"]


def test_move_refused_by_exchange_is_a_clean_failure(lab_run):
    refused = lab_run["apply"]["results"]["refused"]
    assert refused["failed"] and refused["plan"]["candidates"][0]["eligible"]  # the collection's gate let it through
    assert refused["msg"].startswith("Move-ActiveMailboxDatabase did not move DB08 to EX03: ")
    assert "replay queue length of 20 logs" in refused["msg"]
    assert refused["error"]["error_id"] == "AmDbActionWrapperException"
    assert refused["move_result"]["status"] == "Failed"
    assert [a["status"] for a in refused["actions"]] == ["failed"]
    assert refused["after"] == refused["before"] == {"active_server": "EX02", "status": "Mounted", "mounted": True}


# --------------------------------------------------------------------------------- copies
def test_database_copy_states(lab_run):
    results = lab_run["apply"]["results"]
    assert results["copy_removed"]["changed"] and results["copy_removed"]["after"]["present"] is False
    assert results["suspend"]["after"]["status"] == "Suspended" and results["suspend"]["after"]["suspend_comment"] == "SAN"
    assert not results["suspend_again"]["changed"]
    only = results["activation_only"]
    assert only["changed"] and only["after"]["status"] == "Healthy" and only["after"]["activation_suspended"] is True
    resumed = results["resume"]
    assert resumed["changed"] and resumed["after"]["status"] == "Healthy" and resumed["after"]["activation_suspended"] is False
    assert results["preference"]["changed"] and results["preference"]["after"]["activation_preference"] == 2
    assert not results["preference_again"]["changed"]


def test_lab_state_after_apply(lab_run):
    state = lab_run["apply"]["after"]["databases"]
    assert {name: db["active_server"] for name, db in state.items()} == {
        "DB01": "EX01", "DB02": "EX02", "DB03": "EX01", "DB04": "EX02", "DB05": "EX03", "DB06": "EX04", "DB07": "EX01",
        "DB08": "EX02"}
    assert all(db["mount_state"] == "Mounted" for db in state.values())
    assert "EX04" not in state["DB07"]["copies"]
    assert state["DB06"]["copies"]["EX01"]["preference"] == 2
    ex03 = state["DB04"]["copies"]["EX03"]
    assert (ex03["status"], ex03["activation_suspended"]) == ("Healthy", False)


# ------------------------------------------------------------------------------ rebalance
def test_rebalance_after_moves(lab_run):
    results = lab_run["apply"]["results"]
    by_server = results["rebalance_server"]
    assert sorted(m["database"] for m in by_server["moved"]) == ["DB01", "DB03"]
    assert [u["database"] for u in by_server["unchanged"]] == ["DB07"]
    assert by_server["actions"][0]["parameters"] == {
        "ActivatePreferredOnServer": "EX01", "MountDialOverride": "Lossless", "MoveComment": "end of maintenance",
        "Confirm": False}
    everything = results["rebalance_all"]
    assert sorted((m["database"], m["from_server"], m["to_server"]) for m in everything["moved"]) == [
        ("DB02", "EX01", "EX02"), ("DB06", "EX03", "EX04")]
    assert everything["failed"] == [] and len(everything["unchanged"]) == 6
    again = results["rebalance_again"]
    assert not again["changed"] and again["moved"] == [] and len(again["unchanged"]) == 8


def test_apply_sent_exactly_these_writes_in_order(lab_run):
    sent = writes(lab_run["apply"]["audit"])
    lossless = {"MountDialOverride": "Lossless", "Confirm": False}
    assert sent == [
        ("Move-ActiveMailboxDatabase", dict({"Identity": "DB01", "ActivateOnServer": "EX02", "MoveComment": "patching EX01"},
                                            **lossless)),
        ("Move-ActiveMailboxDatabase", dict({"Identity": "DB03", "ActivateOnServer": "EX02", "MoveComment": "patching EX01"},
                                            **lossless)),
        ("Move-ActiveMailboxDatabase", dict({"Identity": "DB06", "ActivateOnServer": "EX03", "MoveComment": "CHG-42"},
                                            **lossless)),
        ("Move-ActiveMailboxDatabase", {"Identity": "DB02", "ActivateOnServer": "EX01",
                                        "MountDialOverride": "GoodAvailability", "Confirm": False}),
        ("Remove-MailboxDatabaseCopy", {"Identity": "DB07\\EX04", "Confirm": False}),
        ("Move-ActiveMailboxDatabase", dict({"Identity": "DB08", "ActivateOnServer": "EX03"}, **lossless)),
        ("Suspend-MailboxDatabaseCopy", {"Identity": "DB04\\EX03", "SuspendComment": "SAN", "Confirm": False}),
        ("Resume-MailboxDatabaseCopy", {"Identity": "DB04\\EX03", "ReplicationOnly": True}),
        ("Resume-MailboxDatabaseCopy", {"Identity": "DB04\\EX03"}),
        ("Set-MailboxDatabaseCopy", {"Identity": "DB06\\EX01", "ActivationPreference": 2}),
        ("Move-ActiveMailboxDatabase", dict({"ActivatePreferredOnServer": "EX01", "MoveComment": "end of maintenance"},
                                            **lossless)),
        ("Move-ActiveMailboxDatabase", dict({"Identity": "DB02", "ActivateOnServer": "EX02"}, **lossless)),
        ("Move-ActiveMailboxDatabase", dict({"Identity": "DB06", "ActivateOnServer": "EX04"}, **lossless)),
    ]
    failed = [(a["cmdlet"], a["parameters"].get("Identity")) for a in lab_run["apply"]["audit"] if a["outcome"] != "ok"]
    assert failed == [("Get-MailboxDatabase", "DB99"), ("Move-ActiveMailboxDatabase", "DB08")]


def test_no_traceback_and_no_secret_in_output(lab_run):
    for run in lab_run.values():
        assert "Traceback" not in run["output"] and PASSWORD not in run["output"]


# ---------------------------------------------------------------------- collection files
def test_role_defaults_match_argument_specs():
    defaults, spec = role_defaults_and_spec("database_switchover")
    assert set(defaults) == set(spec)
    for name, option in spec.items():
        if "default" in option:
            assert option["default"] == defaults[name], name
        else:
            assert isinstance(defaults[name], str) and defaults[name].startswith("{{"), name


def test_modules_are_in_the_action_group():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    group = runtime["action_groups"]["exchange"]
    for module in ("database_switchover", "dag_rebalance", "database_copy"):
        assert group.count(module) == 1
