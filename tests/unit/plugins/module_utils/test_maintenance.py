"""maintenance.py: the server switchover plan (runbooks §3), its checks and its prediction.

Snapshots are built from the two-datacenters topology (EX01, EX02 in DC1; EX03, EX04 in DC2; DB01 to
DB08 with four copies; EX01 active for DB01, DB03, DB07 and the PAM), then changed per case.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.exchange.dr.plugins.module_utils import maintenance as m

SERVERS = ["EX01", "EX02", "EX03", "EX04"]
SITES = {"EX01": "DC1", "EX02": "DC1", "EX03": "DC2", "EX04": "DC2"}
ACTIVE = {"DB01": "EX01", "DB02": "EX02", "DB03": "EX01", "DB04": "EX02", "DB05": "EX03", "DB06": "EX04",
          "DB07": "EX01", "DB08": "EX02"}
T0 = "2026-03-14T10:00:00+00:00"
T1 = "2026-03-14T11:00:00+00:00"


def component(name, *entries, local=True):
    """A components row; ``entries`` are (requester, state, timestamp)."""
    states = [{"requester": r, "state": s, "timestamp": t} for r, s, t in entries]
    return {"server": "EX01", "component": name, "state": None,
            "local_states": states if local else [], "remote_states": [] if local else states}


def components(*names, **entries):
    names = names or ("ServerWideOffline", "HubTransport", "FrontendTransport", "HighAvailability", "Monitoring",
                      "RecoveryActionsEnabled", "ForwardSyncDaemon", "ProvisioningRps")
    return {n: component(n, *entries.get(n, ())) for n in names}


def copies():
    rows = []
    for database, active in sorted(ACTIVE.items()):
        for pref, server in enumerate([active] + [s for s in SERVERS if s != active], start=1):
            rows.append({"name": "%s\\%s" % (database, server), "database": database, "server": server,
                         "active": server == active, "status": "Mounted" if server == active else "Healthy",
                         "activation_preference": pref, "activation_suspended": False, "suspend_comment": None})
    return rows


def server_rows():
    return [{"name": s, "fqdn": "%s.contoso.com" % s.lower(), "site": SITES[s], "dag": "DAG1", "family": "2013",
             "roles": ["Mailbox"], "activation_policy": "Unrestricted", "move_now": False,
             "components": components()} for s in SERVERS]


def snapshot(**changes):
    snap = {
        "server": "EX01", "fqdn": "ex01.contoso.com", "family": "2013", "product": "2019", "site": "DC1",
        "activation_policy": "Unrestricted", "move_now": False, "components": components(),
        "cluster_nodes": [{"name": s, "state": "Up"} for s in SERVERS],
        "dag": {"name": "DAG1", "servers": list(SERVERS), "servers_in_maintenance": [], "stopped_mailbox_servers": [],
                "primary_active_manager": "EX01", "witness_share_in_use": "Primary"},
        "copies": copies(), "servers": server_rows(),
        "queues": [{"identity": "EX01\\Submission", "message_count": 3},
                   {"identity": "EX01\\Shadow\\1", "message_count": 2}],
        "pam_move_available": True, "record": None,
    }
    snap.update(changes)
    return snap


def statuses(steps):
    return [(s["name"], s["status"]) for s in steps]


def copy_of(snap, database, server):
    return next(c for c in snap["copies"] if c["database"] == database and c["server"] == server)


# --------------------------------------------------------------------------- basics
@pytest.mark.parametrize("product, family", [("2007", "2007"), ("2010", "2010"), ("2013", "2013"), ("2016", "2013"),
                                             ("2019", "2013"), ("SE", "2013"), (None, None), ("2003", None)])
def test_family_of(product, family):
    assert m.family_of(product) == family


def test_requester_state_newest_entry_of_local_and_remote_wins():
    row = component("HubTransport", ("Maintenance", "Draining", T0))
    row["remote_states"] = [{"requester": "maintenance", "state": "Active", "timestamp": T1}]
    assert m.requester_state(row, "Maintenance") == "Active"
    row["remote_states"][0]["timestamp"] = "2026-03-14T09:00:00+00:00"
    assert m.requester_state(row, "Maintenance") == "Draining"
    assert m.requester_state(row, "Functional") is None
    assert m.requester_state(None, "Maintenance") is None


def test_effective_states_follow_the_requester_rules():
    comps = components(HubTransport=[("Maintenance", "Draining", T0)])
    assert m.effective_states(comps)["HubTransport"] == "Draining"
    assert m.effective_states(comps)["ForwardSyncDaemon"] == "Inactive"  # on-premises default
    comps["HubTransport"]["local_states"].append({"requester": "Functional", "state": "Inactive", "timestamp": T0})
    assert m.effective_states(comps)["HubTransport"] == "Inactive"  # any Inactive wins
    comps = components(ServerWideOffline=[("Maintenance", "Inactive", T0)])
    effective = m.effective_states(comps)
    assert effective["FrontendTransport"] == "Inactive" and effective["HighAvailability"] == "Inactive"
    assert effective["Monitoring"] == "Active" and effective["RecoveryActionsEnabled"] == "Active"


def test_queued_messages_ignores_shadow_queues():
    assert m.queued_messages([{"identity": "EX01\\Submission", "message_count": 3},
                              {"identity": "EX01\\Shadow\\1", "message_count": 2},
                              {"identity": "EX01\\contoso.com", "message_count": None}]) == 3
    assert m.queued_messages(None) == 0


def test_active_databases_counts_only_replicated_active_copies():
    rows = copies() + [{"name": "SOLO\\EX01", "database": "SOLO", "server": "EX01", "active": True,
                        "status": "Mounted"}]
    assert m.active_databases(rows, "EX01") == ["DB01", "DB03", "DB07"]
    assert m.active_databases(rows, "ex02") == ["DB02", "DB04", "DB08"]


# ------------------------------------------------------------------------ 2013+ enter
ENTER_2013 = ["hub_transport_draining", "transport_restart", "suspend_cluster_node", "activation_disabled_and_move_now",
              "activation_policy_blocked", "move_pam", "move_databases", "redirect_messages",
              "server_wide_offline_inactive"]


def test_enter_2013_plans_every_step_in_the_runbook_order():
    steps = m.plan(snapshot(), "maintenance")
    assert statuses(steps) == [(name, "planned") for name in ENTER_2013]
    by_name = {s["name"]: s for s in steps}
    assert by_name["hub_transport_draining"]["commands"] == [("Set-ServerComponentState", {
        "Identity": "EX01", "Component": "HubTransport", "State": "Draining", "Requester": "Maintenance"})]
    assert [c for c, _p in by_name["transport_restart"]["commands"]] == ["Stop-Service", "Start-Service"]
    assert by_name["transport_restart"]["endpoint"] == "windows"
    assert by_name["suspend_cluster_node"]["commands"] == [("Suspend-ClusterNode", {"Name": "EX01"})]
    assert by_name["move_pam"]["commands"] == [("Move-ClusterGroup", {"Name": "Cluster Group", "Node": "EX02"})]
    assert by_name["move_databases"]["databases"] == ["DB01", "DB03", "DB07"]
    assert by_name["move_databases"]["commands"] == [("Move-ActiveMailboxDatabase", {"Server": "EX01",
                                                                                     "Confirm": False})]
    assert by_name["redirect_messages"]["commands"] == [("Redirect-Message", {
        "Server": "EX01", "Target": "ex02.contoso.com", "Confirm": False})]
    assert by_name["server_wide_offline_inactive"]["commands"][0][1]["State"] == "Inactive"


def test_enter_2013_on_2016_drains_the_um_call_router():
    snap = snapshot(product="2016", components=components("ServerWideOffline", "HubTransport", "UMCallRouter"))
    names = [s["name"] for s in m.plan(snap, "maintenance")]
    assert names[:3] == ["hub_transport_draining", "um_call_router_draining", "transport_restart"]


def entered_snapshot():
    snap = snapshot(activation_policy="Blocked", move_now=True, queues=[{"identity": "EX01\\Submission",
                                                                         "message_count": 0}],
                    components=components(HubTransport=[("Maintenance", "Draining", T0)],
                                          ServerWideOffline=[("Maintenance", "Inactive", T0)]))
    snap["cluster_nodes"][0]["state"] = "Paused"
    snap["dag"]["primary_active_manager"] = "EX02"
    for c in snap["copies"]:
        if c["server"] == "EX01" and c["active"]:
            c.update(active=False, status="Healthy")
    return snap


def test_enter_2013_on_a_server_in_maintenance_skips_every_step_with_its_reason():
    steps = m.plan(entered_snapshot(), "maintenance")
    assert {s["status"] for s in steps} == {"skipped"}
    reasons = {s["name"]: s["reason"] for s in steps}
    assert reasons["hub_transport_draining"] == "already Draining"
    assert reasons["transport_restart"].startswith("HubTransport was already Draining before this run")
    assert reasons["suspend_cluster_node"] == "node already Paused"
    assert reasons["move_pam"] == "the PAM is EX02"
    assert reasons["move_databases"] == "no active replicated database on EX01"
    assert reasons["redirect_messages"] == "no message queued outside the shadow queues"
    assert reasons["server_wide_offline_inactive"] == "already Inactive"
    assert not m.writes_planned(steps)


def test_resume_plans_only_what_is_missing():
    snap = snapshot(activation_policy="Blocked", move_now=True,
                    components=components(HubTransport=[("Maintenance", "Draining", T0)]))
    snap["cluster_nodes"][0]["state"] = "Paused"
    planned = [s["name"] for s in m.plan(snap, "maintenance") if s["status"] == "planned"]
    assert planned == ["move_pam", "move_databases", "redirect_messages", "server_wide_offline_inactive"]


def test_a_pending_restart_in_the_record_is_planned_again():
    snap = snapshot(components=components(HubTransport=[("Maintenance", "Draining", T0)]),
                    record={"server": "EX01", "state": "maintenance", "transport_restart_pending": "maintenance"})
    step = next(s for s in m.plan(snap, "maintenance") if s["name"] == "transport_restart")
    assert step["status"] == "planned" and step["pending"] is True


def test_hub_transport_inactive_by_maintenance_counts_as_drained():
    snap = snapshot(components=components(HubTransport=[("Maintenance", "Inactive", T0)]))
    assert m.plan(snap, "maintenance")[0]["status"] == "skipped"


def test_another_requester_does_not_count_for_maintenance():
    snap = snapshot(components=components(HubTransport=[("Functional", "Inactive", T0)]))
    assert m.plan(snap, "maintenance")[0]["status"] == "planned"


def test_a_down_node_is_a_problem():
    snap = snapshot()
    snap["cluster_nodes"][0]["state"] = "Down"
    step = next(s for s in m.plan(snap, "maintenance") if s["name"] == "suspend_cluster_node")
    assert m.problems_of([step]) == ["the cluster node of EX01 is Down (a Down node cannot be paused): start its "
                                     "cluster service or bring the server back first"]


def test_move_pam_without_move_cluster_group_is_skipped_as_unavailable():
    step = next(s for s in m.plan(snapshot(pam_move_available=False), "maintenance") if s["name"] == "move_pam")
    assert step["status"] == "skipped" and step["unavailable"] is True
    assert "Move-ClusterGroup is not available on EX01" in step["reason"]


def test_move_pam_prefers_an_up_node_of_the_same_site():
    snap = snapshot()
    snap["cluster_nodes"][1]["state"] = "Paused"  # EX02
    assert m.pam_target(snap) == "EX03"
    snap["cluster_nodes"] = [{"name": "EX01", "state": "Up"}, {"name": "EX02", "state": "Down"}]
    step = next(s for s in m.plan(snap, "maintenance") if s["name"] == "move_pam")
    assert step["status"] == "planned" and "no other Up node" in step["problem"]
    assert m.problems_of([step]) == [step["problem"]]


def test_redirect_target_choice_and_exclusions():
    snap = snapshot()
    snap["servers"][1]["components"] = components(HubTransport=[("Maintenance", "Draining", T0)])  # EX02
    target, problem = m.redirect_target(snap)
    assert (target["name"], problem) == ("EX03", None)
    snap["servers"][2]["activation_policy"] = "Blocked"  # EX03
    assert m.redirect_target(snap)[0]["name"] == "EX04"
    snap["servers"][3]["components"] = components(ServerWideOffline=[("Maintenance", "Inactive", T0)])  # EX04
    target, problem = m.redirect_target(snap)
    assert target is None
    assert "EX02: HubTransport Draining" in problem and "EX03: activation policy Blocked" in problem
    assert "EX04: HubTransport Inactive, ServerWideOffline Inactive" in problem
    step = next(s for s in m.plan(snap, "maintenance") if s["name"] == "redirect_messages")
    assert step["problem"] == problem


def test_redirect_target_option_is_checked():
    snap = snapshot()
    assert m.redirect_target(snap, "ex04.contoso.com")[0]["name"] == "EX04"
    snap["servers"][3]["activation_policy"] = "Blocked"
    assert m.redirect_target(snap, "EX04") == (None, "redirect_target EX04 cannot take the queued mail: activation "
                                                     "policy Blocked")
    assert "is not another Exchange 2013 or later server" in m.redirect_target(snap, "EX01")[1]
    assert "is not another" in m.redirect_target(snap, "EX99")[1]


def test_queues_that_could_not_be_read_still_plan_the_redirect():
    step = next(s for s in m.plan(snapshot(queues=None), "maintenance") if s["name"] == "redirect_messages")
    assert step["status"] == "planned" and step["queued"] is None
    assert step["description"] == "redirect the queued messages to ex02.contoso.com"


def test_a_server_outside_a_dag_has_no_cluster_or_pam_steps():
    snap = snapshot(dag=None, cluster_nodes=[])
    names = [s["name"] for s in m.plan(snap, "maintenance")]
    assert "suspend_cluster_node" not in names and "move_pam" not in names
    assert m.preflight(snap)["problems"] == []


# ------------------------------------------------------------------------ 2013+ exit
EXIT_2013 = ["server_wide_offline_active", "resume_cluster_node", "activation_enabled", "activation_policy_restore",
             "high_availability_active", "hub_transport_active", "transport_restart", "functional_components_active"]


def test_exit_2013_reverses_and_restores_the_recorded_policy():
    snap = entered_snapshot()
    snap["activation_policy"] = "Blocked"
    snap["record"] = {"server": "EX01", "state": "maintenance", "activation_policy": "IntrasiteOnly"}
    steps = m.plan(snap, "active")
    assert [s["name"] for s in steps] == EXIT_2013
    status = dict(statuses(steps))
    assert [n for n in EXIT_2013 if status[n] == "planned"] == [
        "server_wide_offline_active", "resume_cluster_node", "activation_enabled", "activation_policy_restore",
        "hub_transport_active", "transport_restart"]
    policy = next(s for s in steps if s["name"] == "activation_policy_restore")
    assert policy["commands"][0][1]["DatabaseCopyAutoActivationPolicy"] == "IntrasiteOnly"
    assert policy["source"] == "record"
    assert status["high_availability_active"] == "skipped"  # no Maintenance entry: nothing to undo


def test_exit_restore_option_overrides_the_record():
    snap = entered_snapshot()
    snap["record"] = {"server": "EX01", "state": "maintenance", "activation_policy": "Unrestricted"}
    step = next(s for s in m.plan(snap, "active", {"restore_activation_policy": "Blocked"})
                if s["name"] == "activation_policy_restore")
    assert step["status"] == "skipped" and step["reason"] == "already Blocked" and step["source"] == "option"


def test_exit_without_record_refuses_a_blocked_server():
    step = next(s for s in m.plan(entered_snapshot(), "active") if s["name"] == "activation_policy_restore")
    assert step["status"] == "planned" and "no pre-maintenance value is recorded" in step["problem"]
    snap = snapshot()
    step = next(s for s in m.plan(snap, "active") if s["name"] == "activation_policy_restore")
    assert step["status"] == "skipped" and "nothing recorded" in step["reason"]


def test_exit_clears_functional_requester_and_high_availability():
    snap = snapshot(components=components(ServerWideOffline=[("Functional", "Inactive", T0)],
                                          Monitoring=[("Functional", "Inactive", T0)],
                                          HighAvailability=[("Maintenance", "Inactive", T0)]))
    steps = {s["name"]: s for s in m.plan(snap, "active")}
    assert steps["high_availability_active"]["status"] == "planned"
    functional = steps["functional_components_active"]
    assert functional["components"] == ["ServerWideOffline", "Monitoring"]
    assert {p["Requester"] for _c, p in functional["commands"]} == {"Functional"}


def test_exit_on_an_active_server_does_nothing():
    steps = m.plan(snapshot(), "active")
    assert not m.writes_planned(steps)
    assert steps[0]["reason"] == "no Maintenance entry"


# --------------------------------------------------------------------------------- 2010
def test_enter_2010_blocks_pauses_moves_and_suspends_activation():
    snap = snapshot(family="2010", product="2010", components={}, queues=[])
    snap["dag"]["servers_in_maintenance"] = None
    steps = m.plan(snap, "maintenance", when=T0)
    assert [s["name"] for s in steps] == ["activation_policy_blocked", "suspend_cluster_node", "move_databases",
                                          "move_pam", "suspend_copy_activation"]
    suspend = steps[-1]
    assert len(suspend["commands"]) == 8  # every copy on EX01, the active ones too (passive after the moves)
    cmdlet, params = suspend["commands"][0]
    assert cmdlet == "Suspend-MailboxDatabaseCopy" and params["Identity"] == "DB01\\EX01"
    assert params["ActivationOnly"] is None and params["Confirm"] is False
    assert params["SuspendComment"] == "Suspended ActivationOnly by exchange.dr.server_maintenance at %s" % T0


def test_exit_2010_resumes_only_copies_suspended_for_maintenance():
    snap = snapshot(family="2010", product="2010", components={}, activation_policy="Blocked",
                    record={"server": "EX01", "state": "maintenance", "activation_policy": "Unrestricted"})
    copy_of(snap, "DB01", "EX01").update(activation_suspended=True,
                                         suspend_comment="Suspended ActivationOnly by StartDagServerMaintenance.ps1")
    copy_of(snap, "DB02", "EX01").update(activation_suspended=True, suspend_comment="storage maintenance")
    copy_of(snap, "DB03", "EX01").update(activation_suspended=True,
                                         suspend_comment=m.SUSPEND_COMMENT % T0)
    steps = m.plan(snap, "active")
    assert [s["name"] for s in steps] == ["resume_cluster_node", "activation_policy_restore", "resume_copy_activation"]
    assert steps[-1]["copies"] == ["DB01\\EX01", "DB03\\EX01"]
    assert steps[-1]["commands"] == [("Resume-MailboxDatabaseCopy", {"Identity": "DB01\\EX01"}),
                                     ("Resume-MailboxDatabaseCopy", {"Identity": "DB03\\EX01"})]
    assert "activation_suspended_copies" in m.summary(snap)


# --------------------------------------------------------------------------------- 2007
def snapshot_2007(active="NODEA", operational=("NODEA", "NODEB"), copy_status="Healthy"):
    return {"server": "CMS1", "fqdn": "cms1.contoso.com", "family": "2007", "product": "2007",
            "cluster_node": "NODEA", "record": None,
            "cms": {"name": "CMS1", "state": "Online", "active_node": active,
                    "nodes": [{"name": n, "operational": True, "active": n == active} for n in operational],
                    "copies": [{"name": "SG1", "status": copy_status}, {"name": "SG2", "status": "Healthy"}]}}


def test_enter_2007_moves_the_clustered_mailbox_server_to_the_other_node():
    (step,) = m.plan(snapshot_2007(), "maintenance")
    assert step["status"] == "planned" and step["target"] == "NODEB"
    assert step["commands"] == [("Move-ClusteredMailboxServer", {
        "Identity": "CMS1", "TargetMachine": "NODEB", "MoveComment": "exchange.dr.server_maintenance: NODEA enters "
                                                                     "maintenance", "Confirm": False})]
    after = m.summary(m.predict(snapshot_2007(), [step]))
    assert after["active_node"] == "NODEB"
    assert m.in_maintenance(after, "2007") is True


def test_enter_2007_already_moved_or_without_a_target():
    (step,) = m.plan(snapshot_2007(active="NODEB"), "maintenance")
    assert step["status"] == "skipped" and step["reason"] == "CMS1 is active on NODEB"
    (step,) = m.plan(snapshot_2007(operational=("NODEA",)), "maintenance")
    assert "no other operational node" in step["problem"]
    assert m.plan(snapshot_2007(), "active") == []


def test_preflight_2007_wants_healthy_storage_group_copies():
    assert m.preflight(snapshot_2007())["problems"] == []
    problems = m.preflight(snapshot_2007(copy_status="Failed"))["problems"]
    assert problems == ["the storage group copies of CMS1 are not all Healthy (SG1 Failed): the clustered mailbox "
                        "server would move onto copies that are behind"]
    assert m.preflight(snapshot_2007(copy_status="Failed"), min_healthy_copies=0)["problems"] == []


# ---------------------------------------------------------------------------- preflight
def test_preflight_passes_on_a_healthy_dag():
    checks = m.preflight(snapshot())
    assert checks["problems"] == [] and checks["min_healthy_copies"] == 2
    assert checks["quorum"] == {"votes": 4, "needed": 3, "total": 5, "voting": ["EX02", "EX03", "EX04"],
                                "has_quorum": True}


def test_redundancy_floor_names_the_databases():
    snap = snapshot()
    copy_of(snap, "DB01", "EX03")["status"] = "Failed"
    copy_of(snap, "DB01", "EX04")["status"] = "FailedAndSuspended"
    copy_of(snap, "DB02", "EX03")["status"] = "Initializing"
    problems = m.preflight(snap)["problems"]
    assert problems == ["redundancy floor (min_healthy_copies 2): DB01 would keep 1 healthy copy (needs 2; other "
                        "copies: EX02 Healthy, EX03 Failed, EX04 FailedAndSuspended)"]
    assert m.preflight(snap, min_healthy_copies=1)["problems"] == []
    floor_3 = m.preflight(snap, min_healthy_copies=3)["problems"]
    assert [p.split(": ", 1)[1].split(" ", 1)[0] for p in floor_3] == ["DB01", "DB02"]  # the others keep 3


def test_redundancy_floor_counts_the_active_copy_elsewhere_and_not_servers_in_maintenance():
    snap = snapshot()
    snap["dag"]["servers_in_maintenance"] = ["EX02"]
    result = m.redundancy_problems(snap, 3, ["EX02"])
    # DB02 is active on EX02 (in maintenance): its healthy copies elsewhere are EX03 and EX04 only
    assert [p["database"] for p in result] == ["DB01", "DB02", "DB03", "DB04", "DB05", "DB06", "DB07", "DB08"]
    assert result[1]["servers"] == ["EX03", "EX04"]


def test_default_floor_is_one_for_a_two_member_dag():
    snap = snapshot()
    snap["dag"]["servers"] = ["EX01", "EX02"]
    assert m.default_min_healthy_copies(snap) == 1
    snap["dag"]["servers"] = SERVERS
    snap["dag"]["stopped_mailbox_servers"] = ["EX03", "EX04"]
    assert m.default_min_healthy_copies(snap) == 1
    snap["dag"]["stopped_mailbox_servers"] = []
    assert m.default_min_healthy_copies(snap) == 2


def test_maintenance_guard_names_the_servers():
    snap = snapshot()
    snap["dag"]["servers_in_maintenance"] = ["EX02"]
    problems = m.preflight(snap)["problems"]
    assert problems[0] == ("EX02 is already in maintenance and max_servers_in_maintenance is 1: finish its "
                           "maintenance first (state=active) or raise max_servers_in_maintenance")
    snap["cluster_nodes"][3]["state"] = "Paused"  # EX04: a paused node counts too
    assert m.in_maintenance_servers(snap) == ["EX02", "EX04"]
    problems = m.preflight(snap, max_servers_in_maintenance=2)["problems"]
    assert problems[0].startswith("EX02, EX04 are already in maintenance and max_servers_in_maintenance is 2")
    # three of four nodes away: the guard allows it, the quorum check does not
    assert m.preflight(snap, max_servers_in_maintenance=3, min_healthy_copies=1)["problems"] == [
        "the cluster of DAG1 would keep 2 of 5 votes without EX01, EX02, EX04 (needs 3): it would lose quorum when "
        "the node restarts"]


def test_quorum_must_survive_the_servers_going_down():
    snap = snapshot()
    snap["dag"]["witness_share_in_use"] = "None"
    snap["cluster_nodes"][3]["state"] = "Down"  # EX04
    snap["dag"]["servers_in_maintenance"] = ["EX02"]
    checks = m.preflight(snap, max_servers_in_maintenance=3, min_healthy_copies=0)
    assert checks["quorum"]["has_quorum"] is False
    assert checks["problems"] == ["the cluster of DAG1 would keep 1 of 4 votes without EX01, EX02 (needs 3): it "
                                  "would lose quorum when the node restarts"]


def test_invalid_witness_configuration_is_refused():
    snap = snapshot()
    snap["dag"]["witness_share_in_use"] = "InvalidConfiguration"
    assert any("WitnessShareInUse InvalidConfiguration" in p for p in m.preflight(snap)["problems"])


# ------------------------------------------------------------------- policies, records
def test_entry_policy_prefers_a_record_of_an_entry_not_left():
    assert m.entry_policy(snapshot()) == ("Unrestricted", "read")
    assert m.entry_policy(snapshot(activation_policy="Blocked")) == ("Blocked", "read")  # deliberately Blocked
    assert m.entry_policy(entered_snapshot()) == (None, "unknown")
    snap = entered_snapshot()
    snap["record"] = {"state": "maintenance", "activation_policy": "IntrasiteOnly"}
    assert m.entry_policy(snap) == ("IntrasiteOnly", "record")
    snap["record"]["state"] = "active"
    assert m.entry_policy(snap) == (None, "unknown")


def test_restore_policy_sources():
    assert m.restore_policy(snapshot(), "Blocked") == ("Blocked", "option")
    assert m.restore_policy(snapshot(record={"activation_policy": "IntrasiteOnly"}), "recorded") == (
        "IntrasiteOnly", "record")
    assert m.restore_policy(snapshot(record={"activation_policy": None}), "recorded") == (None, None)


def test_plan_refuses_unknown_versions_and_states():
    with pytest.raises(m.MaintenanceError, match="supports Exchange 2007"):
        m.plan(snapshot(family=None, product="2003"), "maintenance")
    with pytest.raises(m.MaintenanceError, match="state must be"):
        m.plan(snapshot(), "patched")


# ------------------------------------------------------------------- prediction, summary
def test_predict_enter_gives_the_maintenance_state():
    snap = snapshot()
    steps = m.plan(snap, "maintenance")
    original = copy.deepcopy(snap)
    after = m.summary(m.predict(snap, steps, T1))
    assert snap == original  # the snapshot itself is not changed
    assert after["activation_policy"] == "Blocked" and after["cluster_node"] == "Paused"
    assert after["primary_active_manager"] == "EX02" and after["active_databases"] == []
    assert after["queued_messages"] == 0 and after["activation_disabled_and_move_now"] is True
    assert after["maintenance_requester"] == {"HubTransport": "Draining", "ServerWideOffline": "Inactive"}
    assert after["components"]["HubTransport"] == "Inactive" and after["components"]["Monitoring"] == "Active"
    checks = m.verification(after, "2013", "maintenance")
    assert all(checks.values()) and m.in_maintenance(after, "2013")


def test_predict_exit_gives_the_active_state():
    snap = entered_snapshot()
    snap["record"] = {"state": "maintenance", "activation_policy": "Unrestricted"}
    after = m.summary(m.predict(snap, m.plan(snap, "active"), T1))
    assert after["components"]["ServerWideOffline"] == "Active" and after["components"]["HubTransport"] == "Active"
    assert after["cluster_node"] == "Up" and after["activation_policy"] == "Unrestricted"
    assert all(m.verification(after, "2013", "active").values())
    assert not m.in_maintenance(after, "2013")


def test_verification_reports_each_failed_check():
    before = m.summary(snapshot())
    checks = m.verification(before, "2013", "maintenance")
    assert checks == {"activation_blocked": False, "no_active_databases": False, "not_primary_active_manager": False,
                      "cluster_node_paused": False, "server_wide_offline_inactive": False,
                      "hub_transport_not_active": False, "queues_empty": False}


def test_in_maintenance_ignores_only_the_pam():
    snap = entered_snapshot()
    snap["dag"]["primary_active_manager"] = "EX01"
    after = m.summary(snap)
    assert m.verification(after, "2013", "maintenance")["not_primary_active_manager"] is False
    assert m.in_maintenance(after, "2013") is True


def test_progress_counts():
    steps = [{"status": "done"}, {"status": "skipped"}, {"status": "planned"}, {"status": "failed"}]
    assert m.progress(steps) == {"done": 1, "skipped": 1, "planned": 1, "failed": 1, "total": 4, "percent": 50}
    assert m.progress([])["percent"] == 100


def test_started_maintenance_signs():
    assert not m.started_maintenance(snapshot())
    assert m.started_maintenance(snapshot(move_now=True))
    snap = snapshot()
    copy_of(snap, "DB02", "EX01")["suspend_comment"] = "Suspended ActivationOnly by someone"
    assert m.started_maintenance(snap)


# -------------------------------------------------------------------------------- waits
class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_done_after_some_polls():
    fake = FakeClock()
    answers = iter([(False, 3), (False, 1), (True, 0)])
    result = m.wait_until(lambda: next(answers), 10, 2, sleep=fake.sleep, clock=fake.clock)
    assert result == {"done": True, "value": 0, "polls": 3, "elapsed": 4.0}
    assert fake.sleeps == [2, 2]


def test_wait_until_times_out_and_zero_timeout_polls_once():
    fake = FakeClock()
    result = m.wait_until(lambda: (False, "x"), 5, 2, sleep=fake.sleep, clock=fake.clock)
    assert result["done"] is False and result["polls"] == 3 and fake.now == 4
    fake = FakeClock()
    assert m.wait_until(lambda: (False, None), 0, 1, sleep=fake.sleep, clock=fake.clock)["polls"] == 1
