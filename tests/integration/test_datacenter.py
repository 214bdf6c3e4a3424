"""Datacenter switchover and failback (runbooks §5) against the lab, through the playbooks.

One lab for the module (two-datacenters, clock x200) and one scenario, run once by the ``runs``
fixture; each test checks one aspect of it:

1. pre-staging: a 1 s TTL on the namespaces, the DR servers EX03 and EX04 blocked from automatic
   activation (so the switchover needs explicit targets);
2. site DC1 fails (``site_down``) and the alternate witness FS02 is unreachable: the switchover
   terminates DC1 and stops ClusSvc in DC2, then the restore fails;
3. FS02 is back: the switchover in check mode changes nothing, then the real run resumes (no second
   Stop-DatabaseAvailabilityGroup, no second Stop-Service) and completes; a third run changes nothing;
4. DC1 is repaired: the failback in check mode changes nothing, the real run completes; after a drift of
   EX04's activation policy a second run re-applies that block and changes nothing else.

Before the pre-staging, the switchover is refused by its preflight (the namespaces' TTL of 3600 s is
longer than the TTL wait allowed) without any change. Bad input is tried in the pre-staging playbook:
each refusal names the option and writes nothing.

The playbooks run with the inventory of ``exchange-lab inventory``; assertions are on the lab's state
and audit log only.
"""

from __future__ import annotations

import json

import pytest
import yaml

import harness
from harness import PASSWORD, REPO, lab_env, ps, run_playbook
DC1, DC2 = ["EX01", "EX02"], ["EX03", "EX04"]
HOME = {"DB01": "EX01", "DB02": "EX02", "DB03": "EX01", "DB04": "EX02", "DB05": "EX03", "DB06": "EX04",
        "DB07": "EX01", "DB08": "EX02"}
READS = ("Get-", "Select-Object")
BLOCKED = json.dumps({"datacenter_switchover_blocked_servers": DC2})

PREP_TASKS = [
    {"name": "short TTL", "exchange.dr.dns_record": {"zone": "contoso.com", "name": ["mail", "autodiscover"], "ttl": 1},
     "module_defaults": {"group/exchange.dr.exchange": "{{ hostvars['DC02'].exchange_dr_windows_connection }}"}},
    {"name": "DR servers blocked", "exchange.dr.site_activation": {
        "dag": "DAG1", "active_directory_site": "DC2", "auto_activation_policy": "Blocked"},
     "module_defaults": {"group/exchange.dr.exchange": "{{ hostvars['EX03'].exchange_dr_connection }}"}},
]


def _bad(name: str, module: str, args: dict) -> dict:
    return {"name": name, module: args, "register": name.replace(" ", "_"), "ignore_errors": True}


PREPARE = [{
    "name": "bad input, then pre-staging", "hosts": "localhost", "gather_facts": False,
    "module_defaults": {"group/exchange.dr.exchange": "{{ hostvars['EX03'].exchange_dr_connection }}"},
    "tasks": [
        _bad("unknown site", "exchange.dr.dag_site", {"dag": "DAG1", "state": "stopped", "active_directory_site": "DC9"}),
        _bad("not a member", "exchange.dr.dag_site", {"dag": "DAG1", "state": "started", "mailbox_servers": ["EX09"]}),
        _bad("restore with DC1 running", "exchange.dr.dag_restore", {"dag": "DAG1", "active_directory_site": "DC2"}),
        _bad("unknown database", "exchange.dr.site_activation", {"dag": "DAG1", "active_directory_site": "DC1",
                                                                 "state": "active", "databases": ["DB99"]}),
        {"name": "results", "ansible.builtin.copy": {"dest": "{{ playbook_dir }}/bad-input.json", "mode": "0600", "content": (
            "{{ {'unknown site': unknown_site.msg, 'not a member': not_a_member.msg, "
            "'restore with DC1 running': restore_with_DC1_running.msg, 'unknown database': unknown_database.msg} "
            "| to_json }}")}},
    ] + PREP_TASKS,
}]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with lab_env(tmp_path_factory.mktemp("datacenter"), "two-datacenters") as env:
        (env["tmp"] / "prepare.yml").write_text(yaml.safe_dump(PREPARE, sort_keys=False))
        yield env


def writes(run) -> list:
    return harness.writes(run, reads=READS)


def sequence(run) -> list:
    return harness.writes(run, "host", "cmdlet", "status", reads=READS)


def dag(state) -> dict:
    return state["dags"][0]


def placement(state) -> dict:
    return {d["name"]: (d["active_server"], d["mount_state"]) for d in state["databases"]}


def namespace(state, name) -> list:
    zone = state["dns"]["zones"][0]
    return sorted((r["data"], r["ttl"]) for r in zone["records"] if r["name"] == name and r["type"] == "A")


def policy(state, server) -> str:
    return next(s["mailbox"]["DatabaseCopyAutoActivationPolicy"] for s in state["exchange_servers"] if s["name"] == server)


def comparable(state) -> dict:
    """What a check-mode run must leave exactly as it was."""
    return {"dags": [{k: v for k, v in d.items() if k not in ("primary_active_manager", "quorum")} for d in state["dags"]],
            "databases": placement(state), "dns": state["dns"],
            "policies": {s["name"]: s["mailbox"] for s in state["exchange_servers"]}}


@pytest.fixture(scope="module")
def runs(env):
    lab, tmp = env["lab"], env["tmp"]
    switchover = str(REPO / "playbooks" / "datacenter_switchover.yml")
    failback = str(REPO / "playbooks" / "datacenter_failback.yml")
    result = {"ttl_refused": run_playbook(env, switchover)}  # the topology's namespaces have a TTL of 3600 s
    result["prepare"] = run_playbook(env, tmp / "prepare.yml")
    result["bad_messages"] = json.loads((tmp / "bad-input.json").read_text())
    result["before"] = lab.state()
    lab.inject_fault({"id": "site_down", "target": "DC1"})
    lab.inject_fault({"id": "host_unreachable", "target": "FS02"})
    result["outage"] = lab.state()
    result["failed"] = run_playbook(env, switchover)
    lab.clear_faults({"id": "host_unreachable", "target": "FS02"})
    result["check_before"] = lab.state()
    result["switchover_check"] = run_playbook(env, switchover, "--check")
    result["switchover"] = run_playbook(env, switchover)
    result["switchover_again"] = run_playbook(env, switchover)
    lab.clear_faults()
    result["failback_check_before"] = lab.state()
    result["failback_check"] = run_playbook(env, failback, "--check", "-e", BLOCKED)
    result["failback"] = run_playbook(env, failback, "-e", BLOCKED)
    unblock(lab, "EX04")  # someone lifts the block of a DR server: the next run re-applies it and nothing else
    result["drift"] = lab.state()
    result["failback_again"] = run_playbook(env, failback, "-e", BLOCKED)
    return result


# ----------------------------------------------------------------------------- the tests
def unblock(lab, server: str) -> None:
    """Set-MailboxServer -DatabaseCopyAutoActivationPolicy Unrestricted with plain pypsrp (not the collection)."""
    ps(lab, "EX03", "Set-MailboxServer", {"Identity": server, "DatabaseCopyAutoActivationPolicy": "Unrestricted"},
       configuration="Microsoft.Exchange", path="PowerShell")


def test_setup_and_bad_input(runs):
    run = runs["prepare"]
    assert run["rc"] == 0, run["output"]
    assert namespace(runs["before"], "mail") == [("10.1.1.11", 1), ("10.1.1.12", 1)]
    assert policy(runs["before"], "EX03") == policy(runs["before"], "EX04") == "Blocked"
    messages = runs["bad_messages"]
    assert messages["unknown site"].startswith("active_directory_site: no member of DAG DAG1 is in Active Directory site DC9")
    assert messages["not a member"].startswith("mailbox_servers: EX09 is not a member of DAG DAG1")
    assert messages["restore with DC1 running"].startswith("DAG members outside site DC2 are not in StoppedMailboxServers: EX01, EX02")
    assert messages["unknown database"].startswith("databases: no database DB99 in DAG DAG1")
    # every refusal came before any write: the only writes are the pre-staging's
    assert [c for _h, c, _o in sequence(run)] == ["Set-DnsServerResourceRecord"] * 4 + ["Set-MailboxServer"] * 2
    assert PASSWORD not in run["output"]


def test_preflight_refuses_a_long_ttl_before_any_change(runs):
    run = runs["ttl_refused"]
    assert run["rc"] != 0 and writes(run) == []
    output = " ".join(run["output"].split())
    assert "preflight: the client namespaces cannot move as configured: timeout: the records to change have a TTL of " \
           "3600 s, longer than timeout 900 s" in output
    assert "datacenter_switchover_dns_timeout" in output


def test_switchover_failure_part_way(runs):
    failed = runs["failed"]
    assert failed["rc"] != 0
    assert "Restore-DatabaseAvailabilityGroup failed" in failed["output"] and "FS02" in failed["output"]
    # runbooks §5.2: DC1 is down (and its AD), so step 1 is skipped; step 2, then ClusSvc in DC2, then the restore
    assert sequence(failed) == [("EX03", "Stop-DatabaseAvailabilityGroup", "ok"), ("EX03", "Stop-Service", "ok"),
                                ("EX04", "Stop-Service", "ok"),
                                ("EX03", "Restore-DatabaseAvailabilityGroup", "failed")]
    stop = writes(failed)[0]["parameters"]
    assert stop["ActiveDirectorySite"] == "DC1" and stop["ConfigurationOnly"] is True
    assert stop["DomainController"] == "dc02.contoso.com"
    assert dag(failed["state"])["stopped_mailbox_servers"] == DC1


def test_check_mode_changes_nothing(runs):
    for name, before in (("switchover_check", "check_before"), ("failback_check", "failback_check_before")):
        run = runs[name]
        assert run["rc"] == 0, run["output"]
        assert writes(run) == [], name
        assert comparable(run["state"]) == comparable(runs[before]), name
        assert run["changed"] > 0  # the plan says what a real run would change


def test_switchover_resumes_and_completes(runs):
    run = runs["switchover"]
    assert run["rc"] == 0, run["output"]
    cmdlets = [c for _h, c, _o in sequence(run)]
    # no second Stop-DatabaseAvailabilityGroup, no second Stop-Service: both end states were reached
    assert cmdlets == ["Restore-DatabaseAvailabilityGroup"] + ["Move-ActiveMailboxDatabase"] * 6 + \
        ["Set-DnsServerResourceRecord"] * 4
    moves = {e["parameters"]["Identity"]: e["parameters"]["ActivateOnServer"] for e in writes(run)
             if e["cmdlet"] == "Move-ActiveMailboxDatabase"}
    assert sorted(moves) == ["DB01", "DB02", "DB03", "DB04", "DB07", "DB08"]  # blocked: explicit targets
    assert set(moves.values()) <= set(DC2) and moves["DB08"] == "EX03"  # never the lagged copy on EX04
    restore = writes(run)[0]["parameters"]
    assert (restore["ActiveDirectorySite"], restore["DomainController"]) == ("DC2", "dc02.contoso.com")
    assert "DAG DAG1 runs on EX03, EX04 (witness in use: Alternate)" in run["output"]


def test_state_after_switchover(runs):
    state = runs["switchover"]["state"]
    d = dag(state)
    assert d["stopped_mailbox_servers"] == DC1
    assert d["operational_servers"] == DC2
    assert d["witness_in_use"] == "Alternate" and d["alternate_witness_server"] == "FS02.contoso.com"
    assert sorted(d["cluster"]["nodes"]) == DC2 and sorted(d["cluster"]["evicted"]) == DC1
    where = placement(state)
    assert all(server in DC2 and mounted == "Mounted" for server, mounted in where.values()), where
    assert namespace(state, "mail") == namespace(state, "autodiscover") == [("10.2.1.13", 1), ("10.2.1.14", 1)]
    assert state["data_loss"] == []


def test_switchover_again_changes_nothing(runs):
    run = runs["switchover_again"]
    assert run["rc"] == 0, run["output"]
    assert run["changed"] == 0 and writes(run) == []


def test_failback(runs):
    run = runs["failback"]
    assert run["rc"] == 0, run["output"]
    cmdlets = [c for _h, c, _o in sequence(run)]
    # runbooks §5.5: start + bare Set (1), dismount in DC2 (3b), DNS back (3c), move and mount in DC1 (3d-3e)
    assert cmdlets == (["Start-DatabaseAvailabilityGroup", "Set-DatabaseAvailabilityGroup"] + ["Dismount-Database"] * 6
                       + ["Set-DnsServerResourceRecord"] * 4 + ["Move-ActiveMailboxDatabase", "Mount-Database"] * 6)
    bare = writes(run)[1]["parameters"]
    assert set(bare) == {"Identity", "DomainController"}  # re-evaluate the quorum model, nothing else
    state = run["state"]
    d = dag(state)
    assert d["stopped_mailbox_servers"] == [] and sorted(d["operational_servers"]) == sorted(DC1 + DC2)
    assert d["witness_in_use"] == "Primary" and sorted(d["cluster"]["nodes"]) == sorted(DC1 + DC2)
    assert placement(state) == {db: (server, "Mounted") for db, server in HOME.items()}
    assert namespace(state, "mail") == [("10.1.1.11", 1), ("10.1.1.12", 1)]
    assert policy(state, "EX03") == policy(state, "EX04") == "Blocked"
    assert state["data_loss"] == []


def test_failback_again_reapplies_only_the_drifted_block(runs):
    assert policy(runs["drift"], "EX04") == "Unrestricted"
    again = runs["failback_again"]
    assert again["rc"] == 0, again["output"]
    assert [(e["cmdlet"], e["parameters"]) for e in writes(again)] == [
        ("Set-MailboxServer", {"Identity": "EX04", "DatabaseCopyAutoActivationPolicy": "Blocked"})]
    assert again["changed"] == 1 and policy(again["state"], "EX04") == "Blocked"


# ---------------------------------------------------------------------- collection files
def test_role_defaults_match_argument_specs():
    root = REPO / "roles" / "datacenter_switchover"
    defaults = yaml.safe_load((root / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((root / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    assert set(specs) == {"main", "switchover", "failback"}
    assert specs["switchover"]["options"] == specs["failback"]["options"]
    main = specs["main"]["options"]
    assert set(main) == set(specs["switchover"]["options"]) | {"datacenter_switchover_action"}
    assert set(defaults) == set(main)
    for name, option in main.items():
        assert option["default"] == defaults[name], name


def test_modules_are_in_the_action_group():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    group = runtime["action_groups"]["exchange"]
    for module in ("dag_site", "dag_restore", "site_activation", "dns_record"):
        assert group.count(module) == 1
