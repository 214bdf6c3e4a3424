"""Unit tests of the pure planners of a datacenter switchover and failback (datacenter.py, dns.py)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.exchange.dr.plugins.module_utils import datacenter as dc
from ansible_collections.exchange.dr.plugins.module_utils import dns

MEMBERS = ["EX01", "EX02", "EX03", "EX04"]
SITES = {"EX01": "DC1", "EX02": "DC1", "EX03": "DC2", "EX04": "DC2"}
# activation preference order of each database (the two-datacenters topology of the lab)
ORDER = {
    "DB01": ["EX01", "EX02", "EX03", "EX04"],
    "DB02": ["EX02", "EX01", "EX04", "EX03"],
    "DB05": ["EX03", "EX04", "EX01", "EX02"],
    "DB08": ["EX02", "EX01", "EX03", "EX04"],
}


def servers(policy=None):
    return [{"name": name, "site": SITES[name], "fqdn": name.lower() + ".contoso.com", "dag": "DAG1",
             "database_copy_auto_activation_policy": (policy or {}).get(name, "Unrestricted"),
             "database_copy_activation_disabled_and_move_now": False, "auto_database_mount_dial": "GoodAvailability"}
            for name in MEMBERS]


def dag(**changes):
    row = {"name": "DAG1", "servers": list(MEMBERS), "operational_servers": list(MEMBERS),
           "stopped_mailbox_servers": [], "started_mailbox_servers": list(MEMBERS), "witness_server": "FS01.contoso.com",
           "witness_directory": "C:\\DAGFileShareWitnesses\\DAG1.contoso.com", "alternate_witness_server": "FS02.contoso.com",
           "alternate_witness_directory": "C:\\DAGFileShareWitnesses\\DAG1.contoso.com", "witness_share_in_use": "Primary",
           "datacenter_activation_mode": "DagOnly"}
    row.update(changes)
    return row


def databases(active=None, mounted=None):
    rows = []
    for name, order in ORDER.items():
        server = (active or {}).get(name, order[0])
        rows.append({"name": name, "master": "DAG1", "server": server, "mounted": (mounted or {}).get(name, True),
                     "servers": list(order), "activation_preference": {s: i + 1 for i, s in enumerate(order)},
                     "replay_lag_times": {s: ("7.00:00:00" if name == "DB08" and s == "EX04" else "00:00:00")
                                          for s in order}})
    return rows


def copies(active=None, status=None, queue=None, suspended=None):
    rows = []
    for name, order in ORDER.items():
        server_active = (active or {}).get(name, order[0])
        for i, server in enumerate(order):
            key = "%s\\%s" % (name, server)
            is_active = server == server_active
            rows.append({"name": key, "database": name, "server": server, "active": is_active,
                         "status": (status or {}).get(key, "Mounted" if is_active else "Healthy"),
                         "activation_preference": i + 1, "copy_queue_length": (queue or {}).get(key, 0),
                         "replay_queue_length": 2016 if key == "DB08\\EX04" else 0,
                         "activation_suspended": (suspended or {}).get(key, False),
                         "content_index_state": "NotApplicable"})
    return rows


def site_down_copies():
    """DC1 unreachable: its copies ServiceDown, the DC2 copies healthy."""
    status = {"%s\\%s" % (db, s): "ServiceDown" for db in ORDER for s in ("EX01", "EX02")}
    return copies(status=status)


# ---------------------------------------------------------------------------- names and sites
@pytest.mark.parametrize("a, b, expected", [
    ("EX01", "ex01", True), ("ex01.contoso.com", "EX01", True), ("EX01", "EX02", False), (None, "EX01", False),
    ("", "", False),
])
def test_same(a, b, expected):
    assert dc.same(a, b) is expected


def test_union_and_without_keep_order_and_spelling():
    assert dc.union(["EX03"], ["ex03", "EX01"]) == ["EX03", "EX01"]
    assert dc.without(["EX01", "EX02", "EX03"], ["ex02.contoso.com"]) == ["EX01", "EX03"]


def test_members_in_site():
    assert dc.members_in_site(dag(), servers(), "dc2") == ["EX03", "EX04"]
    assert dc.members_in_site(dag(), servers(), "DC9") == []


@pytest.mark.parametrize("site, names, expected", [
    ("DC1", None, ["EX01", "EX02"]),
    (None, ["ex03", "EX03", "EX04"], ["EX03", "EX04"]),
])
def test_resolve_members(site, names, expected):
    assert dc.resolve_members(dag(), servers(), site, names) == expected


@pytest.mark.parametrize("site, names, message", [
    ("DC9", None, "active_directory_site: no member of DAG DAG1 is in Active Directory site DC9 (sites of the "
                  "organization: DC1, DC2)"),
    (None, ["EX09"], "mailbox_servers: EX09 is not a member of DAG DAG1 (members: EX01, EX02, EX03, EX04)"),
    (None, [], "give active_directory_site or mailbox_servers: the DAG members to act on"),
])
def test_resolve_members_errors(site, names, message):
    with pytest.raises(dc.PlanError) as err:
        dc.resolve_members(dag(), servers(), site, names)
    assert str(err.value) == message


# ------------------------------------------------------------------------------- dag_site
def test_stop_plan_marks_only_what_is_missing():
    plan = dc.site_state_plan(dag(stopped_mailbox_servers=["EX01"], started_mailbox_servers=["EX02", "EX03", "EX04"]),
                              ["EX01", "EX02"], "stopped")
    assert plan["pending"] == ["EX02"] and plan["changed"]
    assert plan["after"] == {"stopped_mailbox_servers": ["EX01", "EX02"], "started_mailbox_servers": ["EX03", "EX04"]}


def test_stop_plan_idempotent():
    state = dag(stopped_mailbox_servers=["EX01", "EX02"], started_mailbox_servers=["EX03", "EX04"])
    plan = dc.site_state_plan(state, ["EX01", "EX02"], "stopped")
    assert plan["pending"] == [] and not plan["changed"] and plan["after"] == plan["before"]


@pytest.mark.parametrize("stopped, started, pending", [
    (["EX01", "EX02"], ["EX03", "EX04"], ["EX01", "EX02"]),
    ([], ["EX03", "EX04", "EX01"], ["EX02"]),  # a -ConfigurationOnly start half done
    ([], MEMBERS, []),
])
def test_start_plan(stopped, started, pending):
    plan = dc.site_state_plan(dag(stopped_mailbox_servers=stopped, started_mailbox_servers=started), ["EX01", "EX02"],
                              "started")
    assert plan["pending"] == pending
    assert plan["after"]["stopped_mailbox_servers"] == []
    assert set(plan["after"]["started_mailbox_servers"]) == set(MEMBERS)


def test_site_state_plan_rejects_a_verb():
    with pytest.raises(dc.PlanError, match="state must be one of stopped, started"):
        dc.site_state_plan(dag(), ["EX01"], "stop")


@pytest.mark.parametrize("stopped, witness, expected", [
    ([], "Alternate", True), (["EX01"], "Alternate", False), ([], "Primary", False), ([], None, False),
])
def test_needs_quorum_reevaluation(stopped, witness, expected):
    assert dc.needs_quorum_reevaluation(dag(stopped_mailbox_servers=stopped, witness_share_in_use=witness)) is expected


@pytest.mark.parametrize("server, directory, expected", [
    (None, None, {}),
    ("fs01", None, {}),
    ("FS01.contoso.com", "c:\\dagfilesharewitnesses\\dag1.contoso.com", {}),
    ("FS03", None, {"WitnessServer": "FS03"}),
    ("FS03", "C:\\W", {"WitnessServer": "FS03", "WitnessDirectory": "C:\\W"}),
    ("FS01", "C:\\W", {"WitnessDirectory": "C:\\W"}),
])
def test_witness_changes(server, directory, expected):
    assert dc.witness_changes(dag(), server, directory) == expected


def test_unreachable_servers():
    rows = site_down_copies()
    assert dc.unreachable_servers(["EX01", "EX02", "EX03"], rows, []) == ["EX01", "EX02"]
    assert dc.unreachable_servers(["EX01"], rows, ["EX01"]) == []  # operational wins
    assert dc.unreachable_servers(["EX09"], rows, []) == []  # no copies: not judged unreachable


# ------------------------------------------------------------------------------ dag_restore
@pytest.mark.parametrize("count, primary, expected", [
    (1, False, "Alternate"), (2, False, "Alternate"), (3, False, "None"), (4, False, "Alternate"),
    (2, True, "Primary"), (3, True, "None"),
])
def test_expected_witness(count, primary, expected):
    assert dc.expected_witness(count, primary) == expected


def stopped_dc1(**changes):
    values = {"stopped_mailbox_servers": ["EX01", "EX02"], "started_mailbox_servers": ["EX03", "EX04"],
              "operational_servers": []}
    values.update(changes)
    return dag(**values)


def test_restore_plan_after_a_site_failure():
    plan = dc.restore_plan(stopped_dc1(), servers(), "DC2", None, {"EX03": "Running", "EX04": "Running"})
    assert plan["survivors"] == ["EX03", "EX04"] and plan["evict"] == ["EX01", "EX02"]
    assert not plan["done"] and plan["witness_share_in_use"] == "Alternate"
    assert plan["steps"] == [
        {"action": "stop_cluster_service", "server": "EX03", "status": "Running"},
        {"action": "stop_cluster_service", "server": "EX04", "status": "Running"},
        {"action": "restore", "parameters": {"Identity": "DAG1", "ActiveDirectorySite": "DC2"}},
    ]
    assert plan["after"]["cluster_nodes"] == ["EX03", "EX04"] and plan["after"]["evicted"] == ["EX01", "EX02"]
    assert plan["warnings"] == []


def test_restore_plan_resumes_after_cluster_service_stopped():
    plan = dc.restore_plan(stopped_dc1(), servers(), "DC2", None, {"ex03": "Stopped", "EX04": "Stopped"})
    assert [s["action"] for s in plan["steps"]] == ["restore"]


def test_restore_plan_done_when_cluster_and_witness_as_left_by_a_restore():
    state = stopped_dc1(witness_share_in_use="Alternate", operational_servers=["EX03", "EX04"])
    plan = dc.restore_plan(state, servers(), "DC2", ["EX03", "EX04"], {"EX03": "Running", "EX04": "Running"})
    assert plan["done"] and plan["steps"] == []
    # the stopped members still cluster nodes (the planned case, before the restore): not done
    plan = dc.restore_plan(state, servers(), "DC2", MEMBERS, {"EX03": "Running", "EX04": "Running"})
    assert not plan["done"]


def test_restore_plan_witness_options():
    plan = dc.restore_plan(stopped_dc1(alternate_witness_server=None), servers(), "DC2", None, {},
                           alternate_witness_server="FS02", alternate_witness_directory="C:\\W",
                           stop_cluster_service=False)
    assert plan["steps"] == [{"action": "restore", "parameters": {
        "Identity": "DAG1", "ActiveDirectorySite": "DC2", "AlternateWitnessServer": "FS02",
        "AlternateWitnessDirectory": "C:\\W"}}]
    assert plan["after"]["alternate_witness_server"] == "FS02"
    plan = dc.restore_plan(stopped_dc1(alternate_witness_server=None), servers(), "DC2", None, {},
                           use_primary_witness_server=True, stop_cluster_service=False)
    assert plan["steps"][0]["parameters"]["UsePrimaryWitnessServer"] is None
    assert plan["witness_share_in_use"] == "Primary"


@pytest.mark.parametrize("state, site, message", [
    (stopped_dc1(alternate_witness_server=None), "DC2", "alternate_witness_server: DAG DAG1 has no alternate witness"),
    (dag(), "DC2", "DAG members outside site DC2 are not in StoppedMailboxServers: EX01, EX02."),
    (dag(stopped_mailbox_servers=["EX03", "EX04"]), "DC2", "active_directory_site: every member of DAG DAG1 in site DC2"),
    (dag(), "DC9", "active_directory_site: no member of DAG DAG1 is in Active Directory site DC9"),
])
def test_restore_plan_errors(state, site, message):
    with pytest.raises(dc.PlanError) as err:
        dc.restore_plan(state, servers(), site, None, {})
    assert message in str(err.value)


def test_restore_plan_in_check_mode_assumes_an_earlier_stop():
    plan = dc.restore_plan(dag(), servers(), "DC2", MEMBERS, {"EX03": "Running", "EX04": "Running"}, check_mode=True)
    assert "check mode assumes an earlier step stops them" in plan["warnings"][0]
    assert plan["after"]["stopped_mailbox_servers"] == ["EX01", "EX02"]
    assert [s["action"] for s in plan["steps"]] == ["stop_cluster_service", "stop_cluster_service", "restore"]


# ----------------------------------------------------------------------- database activation
def test_preferred_server_and_home_databases():
    rows = databases()
    assert dc.preferred_server(rows[1]) == "EX02"
    assert dc.preferred_server({"activation_preference": {}}) is None
    assert dc.home_databases(rows, ["EX01", "EX02"]) == ["DB01", "DB02", "DB08"]
    assert dc.home_databases(rows, ["EX03", "EX04"], dag="DAG1") == ["DB05"]
    assert dc.home_databases(rows, ["EX03", "EX04"], dag="DAG2") == []


def test_select_databases():
    assert [r["name"] for r in dc.select_databases(databases(), ["db02", "DB01"], "DAG1")] == ["DB02", "DB01"]
    with pytest.raises(dc.PlanError, match=r"^databases: no database DB99 in DAG DAG1 \(databases: DB01, DB02"):
        dc.select_databases(databases(), ["DB99"], "DAG1")


def test_activation_after_a_site_failure_bcss_order():
    rows = databases(mounted={"DB01": False, "DB02": False, "DB05": False, "DB08": False})
    plan = dc.activation_plan(rows, site_down_copies(), ["EX03", "EX04"], dag="DAG1")
    by_db = {e["database"]: e for e in plan}
    assert (by_db["DB01"]["action"], by_db["DB01"]["to"]) == ("move", "EX03")  # equal queues: preference
    assert (by_db["DB02"]["action"], by_db["DB02"]["to"]) == ("move", "EX04")
    assert (by_db["DB05"]["action"], by_db["DB05"]["to"]) == ("mount", "EX03")
    assert by_db["DB08"]["to"] == "EX03"  # the lagged copy on EX04 is never chosen
    assert all(e["logs_at_risk"] == 0 for e in plan)
    assert dc.move_parameters(by_db["DB01"]) == {"Identity": "DB01", "ActivateOnServer": "EX03", "Confirm": False}


def test_activation_prefers_the_shorter_copy_queue_like_active_manager():
    queue = {"DB01\\EX03": 3}
    plan = dc.activation_plan(databases(), copies(queue=queue), ["EX03", "EX04"], names=["DB01"])
    assert plan[0]["to"] == "EX04"
    plan = dc.activation_plan(databases(), copies(queue=queue), ["EX03", "EX04"], names=["DB01"], order="preference")
    assert plan[0]["to"] == "EX03"


def test_activation_explicit_target_allowed_on_blocked_and_suspended():
    suspended = {"DB01\\EX03": True, "DB01\\EX04": True}
    plan = dc.activation_plan(databases(), copies(suspended=suspended), ["EX03", "EX04"], names=["DB01"])
    assert plan[0]["action"] == "move" and plan[0]["to"] == "EX03"


def test_activation_lossy_needs_allow_data_loss():
    status = {"DB01\\EX01": "ServiceDown", "DB01\\EX02": "ServiceDown"}
    queue = {"DB01\\EX03": 4, "DB01\\EX04": 9}
    plan = dc.activation_plan(databases(mounted={"DB01": False}), copies(status=status, queue=queue), ["EX03", "EX04"],
                              names=["DB01"])
    assert plan[0]["action"] == "blocked" and plan[0]["logs_at_risk"] == 4
    assert "would lose up to 4 log(s)" in plan[0]["reason"] and "set allow_data_loss" in plan[0]["reason"]
    plan = dc.activation_plan(databases(mounted={"DB01": False}), copies(status=status, queue=queue), ["EX03", "EX04"],
                              names=["DB01"], allow_data_loss=True)
    assert (plan[0]["action"], plan[0]["to"], plan[0]["mount_dial"]) == ("move", "EX03", "BestEffort")
    assert dc.move_parameters(plan[0]) == {"Identity": "DB01", "ActivateOnServer": "EX03", "Confirm": False,
                                           "MountDialOverride": "BestEffort", "SkipLagChecks": None}


def test_activation_reachable_source_is_lossless():
    plan = dc.activation_plan(databases(), copies(queue={"DB01\\EX03": 4, "DB01\\EX04": 9}), ["EX03", "EX04"],
                              names=["DB01"])
    assert plan[0]["action"] == "move" and plan[0]["logs_at_risk"] == 0


def test_activation_blocked_reasons():
    status = {"DB01\\EX03": "FailedAndSuspended", "DB01\\EX04": "Seeding"}
    plan = dc.activation_plan(databases(), copies(status=status), ["EX03", "EX04"], names=["DB01"])
    assert plan[0]["action"] == "blocked"
    assert plan[0]["reason"] == ("no copy of DB01 in the site can be activated (EX03: status FailedAndSuspended; "
                                 "EX04: status Seeding)")
    plan = dc.activation_plan(databases(), copies(), ["EX03", "EX04"], names=["DB01"], eligible=["EX04"])
    assert plan[0]["to"] == "EX04"
    plan = dc.activation_plan(databases(), copies(), ["EX04"], names=["DB08"])
    assert plan[0]["action"] == "blocked" and "lagged copy (replay lag 7.00:00:00)" in plan[0]["reason"]


def test_activation_gate_for_a_failback():
    rows = databases(active={"DB01": "EX03"})
    cps = copies(active={"DB01": "EX03"}, status={"DB01\\EX01": "Initializing"})
    plan = dc.activation_plan(rows, cps, ["EX01", "EX02"], names=["DB01"], order="preference", gate=True)
    assert plan[0]["to"] == "EX02"  # EX01 is not healthy yet: the next preference in the site
    cps = copies(active={"DB01": "EX03"}, status={"DB01\\EX01": "Initializing"}, queue={"DB01\\EX02": 12})
    plan = dc.activation_plan(rows, cps, ["EX01", "EX02"], names=["DB01"], order="preference", gate=True)
    assert plan[0]["action"] == "blocked"
    assert plan[0]["reason"] == ("no copy of DB01 in the site can be activated (EX01: status Initializing; "
                                 "EX02: copy queue length 12 is not below 10)")
    plan = dc.activation_plan(rows, cps, ["EX01", "EX02"], names=["DB01"], order="preference")
    assert plan[0]["to"] == "EX02"  # without the gate (check mode) the queue does not matter


def test_activation_nothing_to_do_and_predicted_placement():
    plan = dc.activation_plan(databases(), copies(), ["EX01", "EX02"], names=["DB01", "DB02"])
    assert [e["action"] for e in plan] == ["none", "none"]
    moved = dc.activation_plan(databases(), copies(), ["EX03", "EX04"], names=["DB01"])
    assert dc.predict_placement(databases(), moved)["DB01"] == {"server": "EX03", "mounted": True}
    assert dc.predict_placement(databases(), moved)["DB02"] == {"server": "EX02", "mounted": True}


@pytest.mark.parametrize("policy, expected", [({}, True), ({"EX03": "Blocked", "EX04": "Blocked"}, False),
                                              ({"EX03": "Blocked"}, True)])
def test_automatic_activation_expected(policy, expected):
    assert dc.automatic_activation_expected(site_down_copies(), "DB01", servers(policy), databases(),
                                            ["EX03", "EX04"]) is expected


def test_dismount_plan():
    rows = databases(active={"DB01": "EX03", "DB02": "EX04"}, mounted={"DB02": False})
    assert dc.dismount_plan(rows, ["EX03", "EX04"], ["DB01", "DB02", "DB08"], "DAG1") == ["DB01"]
    assert dc.dismount_plan(rows, ["EX03", "EX04"]) == ["DB01", "DB05"]


def test_readiness_plan():
    rows = databases(active={"DB01": "EX03", "DB02": "EX04", "DB08": "EX03"})
    cps = copies(active={"DB01": "EX03", "DB02": "EX04", "DB08": "EX03"},
                 status={"DB01\\EX01": "Initializing", "DB01\\EX02": "Initializing", "DB02\\EX02": "FailedAndSuspended",
                         "DB02\\EX01": "FailedAndSuspended"})
    plan = {e["database"]: e for e in dc.readiness_plan(rows, cps, ["EX01", "EX02"], ["DB01", "DB02", "DB05", "DB08"])}
    assert (plan["DB01"]["action"], plan["DB01"]["server"]) == ("wait", "EX01")
    assert (plan["DB02"]["action"], plan["DB02"]["server"]) == ("reseed", "EX02")
    assert (plan["DB08"]["action"], plan["DB08"]["server"]) == ("ready", "EX02")
    assert plan["DB05"]["action"] == "ready"  # its DC1 copies are healthy
    blocked = dc.readiness_plan(rows, cps, ["EX01", "EX02"], ["DB02"], reseed=False)[0]
    assert blocked["action"] == "blocked" and "set reseed to allow it" in blocked["reasons"][-1]
    lagged_only = dc.readiness_plan(databases(), copies(), ["EX04"], ["DB08"])[0]
    assert lagged_only["action"] == "blocked" and lagged_only["reasons"] == ["no copy in the site that is not lagged"]
    active_here = dc.readiness_plan(rows, cps, ["EX03", "EX04"], ["DB01"])[0]
    assert (active_here["action"], active_here["status"]) == ("ready", "Mounted")


def test_policy_plan():
    rows = servers({"EX03": "Blocked"})
    expected = [{"server": "EX04", "before": "Unrestricted", "after": "Blocked"}]
    assert dc.policy_plan(rows, ["EX03", "EX04"], "Blocked") == expected
    assert dc.policy_plan(rows, ["ex03"], "Blocked") == []
    with pytest.raises(dc.PlanError, match="auto_activation_policy must be one of"):
        dc.policy_plan(rows, ["EX03"], "blocked-ish")


# ------------------------------------------------------------------------------------ DNS
def mail(*records):
    return {"mail": [{"data": d, "ttl": t} for d, t in records]}


@pytest.mark.parametrize("name, expected", [
    ("mail", "mail"), ("mail.contoso.com", "mail"), ("MAIL.Contoso.Com.", "MAIL"), ("contoso.com", "@"), ("@", "@"),
    ("mail.fabrikam.com", "mail.fabrikam.com"),
])
def test_relative(name, expected):
    assert dns.relative(name, "contoso.com") == expected


def test_record_plan_moves_addresses_in_place():
    plan = dns.record_plan(mail(("10.1.1.11", 300), ("10.1.1.12", 300)), ["mail"], ["10.2.1.13", "10.2.1.14"], None)
    assert [(c["action"], c["old"]["data"], c["new"]["data"], c["new"]["ttl"]) for c in plan["changes"]] == [
        ("set", "10.1.1.11", "10.2.1.13", 300), ("set", "10.1.1.12", "10.2.1.14", 300)]
    assert plan["after"] == {"mail": [{"data": "10.2.1.13", "ttl": 300}, {"data": "10.2.1.14", "ttl": 300}]}
    assert plan["old_ttl"] == 300


def test_record_plan_adds_and_removes():
    plan = dns.record_plan(mail(("10.1.1.11", 3600)), ["mail"], ["10.2.1.13", "10.2.1.14", "10.2.1.15"], 300)
    assert [c["action"] for c in plan["changes"]] == ["set", "add", "add"]
    assert plan["changes"][1]["new"] == {"data": "10.2.1.14", "ttl": 300}
    plan = dns.record_plan(mail(("10.1.1.11", 60), ("10.1.1.12", 600)), ["mail"], ["10.1.1.11"], None)
    assert [(c["action"], c["old"]["data"]) for c in plan["changes"]] == [("remove", "10.1.1.12")]
    assert plan["old_ttl"] == 600
    plan = dns.record_plan({}, ["owa"], ["10.1.1.100"], None)
    assert plan["changes"] == [{"name": "owa", "action": "add", "old": None, "new": {"data": "10.1.1.100", "ttl": None}}]
    assert plan["after"]["owa"] == [{"data": "10.1.1.100", "ttl": dns.DEFAULT_TTL}] and plan["old_ttl"] == 0


def test_record_plan_ttl_only_and_idempotence():
    plan = dns.record_plan(mail(("10.1.1.11", 3600), ("10.1.1.12", 300)), ["mail"], None, 300)
    assert [(c["old"]["data"], c["new"]["ttl"]) for c in plan["changes"]] == [("10.1.1.11", 300)]
    assert plan["old_ttl"] == 3600
    same = dns.record_plan(mail(("10.1.1.11", 300), ("10.1.1.12", 300)), ["mail"], ["10.1.1.12", "10.1.1.11"], 300)
    assert same["changes"] == [] and same["old_ttl"] == 0 and same["after"] == same["before"]


def test_record_plan_absent():
    current = mail(("10.1.1.11", 300), ("10.1.1.12", 60))
    plan = dns.record_plan(current, ["mail"], ["10.1.1.12"], None, "absent")
    assert [(c["action"], c["old"]["data"]) for c in plan["changes"]] == [("remove", "10.1.1.12")]
    plan = dns.record_plan(current, ["mail"], None, None, "absent")
    assert len(plan["changes"]) == 2 and plan["after"] == {"mail": []} and plan["old_ttl"] == 300


@pytest.mark.parametrize("current, data, ttl, state, message", [
    ({}, ["10.1.1.300"], None, "present", "data: '10.1.1.300' is not an IPv4 address"),
    ({}, ["10.1.1.1", "10.1.1.1"], None, "present", "data: an address is listed twice"),
    ({}, None, 300, "present", "name: mail has no A record to set the TTL of; give data to create it"),
    (mail(("10.1.1.1", 60)), None, None, "present", "give data, ttl or both for state=present"),
    ({}, ["10.1.1.1"], 0, "present", "ttl: 0 is not a number of seconds"),
    ({}, ["10.1.1.1"], None, "gone", "state must be present or absent"),
])
def test_record_plan_errors(current, data, ttl, state, message):
    with pytest.raises(dns.DnsPlanError) as err:
        dns.record_plan(copy.deepcopy(current), ["mail"], data, ttl, state)
    assert message in str(err.value)


def test_normalise_and_parameters():
    row = {"HostName": "mail", "RecordType": "A", "RecordData": {"IPv4Address": "10.1.1.11", "PSComputerName": None},
           "TimeToLive": "PT5M"}
    assert dns.normalise(row) == {"name": "mail", "data": "10.1.1.11", "ttl": 300}
    change = {"name": "mail", "action": "set", "old": {"data": "10.1.1.11", "ttl": 300},
              "new": {"data": "10.2.1.13", "ttl": 60}}
    params = dns.parameters("contoso.com", change)
    assert params["OldInputObject"] == {"HostName": "mail", "RecordType": "A", "RecordClass": "IN",
                                        "RecordData": {"IPv4Address": "10.1.1.11"}, "TimeToLive": "00:05:00"}
    assert params["NewInputObject"]["TimeToLive"] == "00:01:00"
    assert dns.parameters("contoso.com", {"name": "mail", "action": "add", "old": None,
                                          "new": {"data": "10.2.1.13", "ttl": None}}) == {
        "ZoneName": "contoso.com", "Name": "mail", "IPv4Address": ["10.2.1.13"]}
    assert dns.parameters("contoso.com", {"name": "mail", "action": "remove", "old": {"data": "10.1.1.12", "ttl": 60},
                                          "new": None})["Force"] is None
    with pytest.raises(ValueError):
        dns.parameters("contoso.com", {"name": "mail", "action": "rename"})
