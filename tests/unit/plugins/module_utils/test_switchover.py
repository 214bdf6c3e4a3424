"""switchover.py: the plans of database_switchover, dag_rebalance and database_copy.

Plain data in, plans out (no I/O).  The gate (runbooks §1.6), the skip switches (§1.5), the
mount dial and data loss (§1.3), the idempotence rules (§2), the rebalance (§4) and the copy
states (§6) are each checked over their whole input space where it is small enough, against
oracles written from the runbook.
"""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.exchange.dr.plugins.module_utils import switchover as sw
from ansible_collections.exchange.dr.plugins.module_utils.switchover import SwitchoverError

STATUSES = ("Healthy", "DisconnectedAndHealthy", "DisconnectedAndResynchronizing", "SeedingSource", "Initializing",
            "Resynchronizing", "Seeding", "Suspended", "Failed", "FailedAndSuspended", "ServiceDown", None)
V2010, V2013, V2016, V2019 = (14, 3), (15, 0), (15, 1), (15, 2)


# ------------------------------------------------------------------------------ builders
def copy(server, database="DB01", status="Healthy", pref=2, active=False, cq=0, rq=0, ci="NotApplicable",
         suspended=False, **extra):
    row = {"name": "%s\\%s" % (database, server), "database": database, "server": server, "active": active,
           "active_server": None, "status": status, "activation_preference": pref, "activation_suspended": suspended,
           "auto_activation_policy": "Unrestricted", "copy_queue_length": cq, "replay_queue_length": rq,
           "content_index_state": ci, "suspend_comment": None, "error_message": None}
    row.update(extra)
    return row


def database_copies(database="DB01", active="EX01", order=("EX01", "EX02", "EX03", "EX04"), **changes):
    """A database's four copies in preference order, active on ``active``; ``changes`` maps a
    server to the keys to change on its copy."""
    rows = []
    for pref, server in enumerate(order, start=1):
        is_active = server == active
        row = copy(server, database, "Mounted" if is_active else "Healthy", pref, is_active)
        row.update(changes.get(server, {}))
        rows.append(row)
    for row in rows:
        row["active_server"] = active
    return rows


def database_row(name="DB01", order=("EX01", "EX02", "EX03", "EX04"), lags=None, replication="Remote", master="DAG1"):
    lags = lags or {}
    return {"name": name, "master": master, "servers": list(order), "replication_type": replication,
            "activation_preference": {s: i for i, s in enumerate(order, start=1)},
            "replay_lag_times": {s: lags.get(s, "00:00:00") for s in order},
            "truncation_lag_times": {s: "00:00:00" for s in order}}


def server(name, site="DC1", version=V2019, dial="GoodAvailability", policy="Unrestricted", move_now=False,
           max_active=None, max_preferred=None):
    return {"name": name, "site": site, "major": version[0], "minor": version[1],
            "auto_database_mount_dial": dial, "database_copy_auto_activation_policy": policy,
            "database_copy_activation_disabled_and_move_now": move_now, "maximum_active_databases": max_active,
            "maximum_preferred_active_databases": max_preferred}


SERVERS = [server("EX01"), server("EX02"), server("EX03", "DC2"), server("EX04", "DC2")]
DAG = {"name": "DAG1", "servers": ["EX01", "EX02", "EX03", "EX04"],
       "operational_servers": ["EX01", "EX02", "EX03", "EX04"], "witness_share_in_use": "Primary"}


def options(**changes):
    return sw.gate_options(changes)


def decision(database="DB01", target=None, copies=None, row=None, source=None):
    copies = copies if copies is not None else database_copies(database)
    return sw.decide(database, row or database_row(database), copies, target, source)


# ----------------------------------------------------------------------- identity/options
@pytest.mark.parametrize("value", ["DB01", "  DB01 ", "Mailbox Database 0123456789"])
def test_identity_accepts_names(value):
    assert sw.identity(value, "database") == value.strip()


@pytest.mark.parametrize("value, fragment", [
    (None, "must be a"), ("", "must be a"), ("   ", "must be a"), (7, "must be a"),
    ("DB*", "wildcard"), ("DB?1", "wildcard"), ("DB[01]", "wildcard"), ("DB01\\EX01", "backslash"),
])
def test_identity_refuses_patterns_and_empty_names(value, fragment):
    with pytest.raises(SwitchoverError) as err:
        sw.identity(value, "target_server", "server name")
    assert err.value.option == "target_server"
    assert fragment in err.value.message and err.value.message.startswith("target_server ")


def test_gate_options_defaults_are_the_documented_ones():
    assert sw.gate_options() == {
        "copy_queue_limit": 10, "replay_queue_limit": 50, "allow_lagged": False, "allow_activation_suspended": False,
        "allow_data_loss": False, "mount_dial_override": "lossless", "skip_health_checks": False,
        "skip_active_copy_checks": False, "skip_lag_checks": False, "skip_client_experience_checks": False,
        "skip_maximum_active_databases_checks": False, "skip_cpu_checks": False, "skip_move_suppression_checks": False}
    assert set(sw.GATE_DEFAULTS) <= set(sw.SWITCHOVER_ARGSPEC)
    for key, default in sw.GATE_DEFAULTS.items():
        assert sw.SWITCHOVER_ARGSPEC[key]["default"] == default


@pytest.mark.parametrize("key, value", [("copy_queue_limit", 0), ("copy_queue_limit", -1), ("replay_queue_limit", True),
                                        ("replay_queue_limit", "50"), ("copy_queue_limit", 1.5)])
def test_gate_options_refuse_bad_limits(key, value):
    with pytest.raises(SwitchoverError) as err:
        sw.gate_options({key: value})
    assert err.value.option == key


def test_gate_options_refuse_unknown_dial_and_ignore_none():
    with pytest.raises(SwitchoverError) as err:
        sw.gate_options({"mount_dial_override": "Lossless"})
    assert err.value.option == "mount_dial_override"
    assert sw.gate_options({"copy_queue_limit": None})["copy_queue_limit"] == 10


# ------------------------------------------------------------------------ skip switches
@pytest.mark.parametrize("option, switch, since", sw.SKIP_SWITCHES)
@pytest.mark.parametrize("version", [V2010, V2013, V2016, V2019, None])
def test_switch_parameters_by_version(option, switch, since, version):
    if version is not None and version < since:
        with pytest.raises(SwitchoverError) as err:
            sw.switch_parameters({option: True}, version)
        assert err.value.option == option
        assert "needs Exchange" in err.value.message and "set %s false" % option in err.value.message
    else:
        assert sw.switch_parameters({option: True}, version) == {switch: None}
    assert sw.switch_parameters({option: False}, version) == {}


def test_switch_parameters_all_together():
    everything = {option: True for option, _s, _v in sw.SKIP_SWITCHES}
    assert sorted(sw.switch_parameters(everything, V2019)) == sorted(s for _o, s, _v in sw.SKIP_SWITCHES)


def test_product_names():
    assert sw.product_name((15, 0)) == "Exchange 2013"
    assert sw.product_name((15, 1)) == "Exchange 2016"
    assert sw.product_name((14, 3)) == "Exchange 14.3"
    assert sw.version_of(None) is None and sw.version_of({"major": None}) is None
    assert sw.version_of(server("EX01", version=V2016)) == V2016


# ------------------------------------------------------------------ mount dial/data loss
@pytest.mark.parametrize("override, server_dial, expected", [
    ("lossless", "BestAvailability", "Lossless"),
    ("good_availability", "Lossless", "GoodAvailability"),
    ("best_availability", None, "BestAvailability"),
    ("best_effort", None, "BestEffort"),
    ("none", "Lossless", "Lossless"),
    ("none", "bestavailability", "BestAvailability"),
    ("none", None, "GoodAvailability"),
    ("none", "Weird", "GoodAvailability"),
])
def test_effective_dial(override, server_dial, expected):
    row = server("EX02", dial=server_dial)
    assert sw.effective_dial(options(mount_dial_override=override), row) == expected
    if override != "none":
        assert sw.effective_dial(options(mount_dial_override=override), None) == expected


DIALS = ("Lossless", "GoodAvailability", "BestAvailability", "BestEffort")
QUEUES = (0, 4, 6, 7, 12, 13, None)
ACTIVE_STATES = ("Mounted", "Dismounted", "Mounting", "Dismounting", "ServiceDown", "Failed", "absent")


@pytest.mark.parametrize("dial, queue, active_status", list(itertools.product(DIALS, QUEUES, ACTIVE_STATES)))
def test_data_loss_oracle(dial, queue, active_status):
    target = copy("EX02", cq=queue)
    active = None if active_status == "absent" else copy("EX01", status=active_status, active=True)
    loss = sw.data_loss(target, active, dial)
    available = active_status in ("Mounted", "Dismounted", "Mounting", "Dismounting")
    limit = {"Lossless": 0, "GoodAvailability": 6, "BestAvailability": 12, "BestEffort": None}[dial]
    assert loss["mount_dial"] == dial
    assert loss["logs_at_risk"] == queue
    assert loss["source_available"] is available
    assert loss["lossy"] is (dial != "Lossless" and (queue is None or queue > 0))
    assert loss["logs_lost"] == (0 if available else queue)
    blocked = (not available) and bool(queue) and limit is not None and queue > limit
    assert (loss["blocked"] is not None) is blocked
    if blocked:
        assert "misses %d logs" % queue in loss["blocked"]


# ------------------------------------------------------------------------------ copy gate
def gate(target_changes=None, row=None, copies=None, **opts):
    copies = copies or database_copies(EX02=target_changes or {})
    target = sw.copy_on(copies, "EX02")
    return sw.copy_gate(target, copies, row or database_row(), options(**opts))


def test_copy_gate_passes_a_healthy_copy():
    assert gate() == []


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("skip", [False, True])
def test_copy_gate_status(status, skip):
    reasons = gate({"status": status}, skip_health_checks=skip)
    if status == "Seeding":  # the target being seeded makes the active copy a seeding source too
        assert reasons == ["status is Seeding (needs Healthy)",
                           "the active copy is a seeding source (skip_active_copy_checks cancels the seed)"]
    elif status == "Healthy" or (skip and status not in ("ServiceDown", None)):
        assert reasons == []
    elif status is None:
        assert reasons == ["status is unknown"]
    else:
        assert reasons == ["status is %s (needs Healthy)" % status]


@pytest.mark.parametrize("suspended, allow", list(itertools.product([False, True, None], [False, True])))
def test_copy_gate_activation_suspended(suspended, allow):
    reasons = gate({"activation_suspended": suspended}, allow_activation_suspended=allow)
    if allow or suspended is False:
        assert reasons == []
    else:
        assert reasons == ["activation is suspended" if suspended else "activation suspension is unknown"]


@pytest.mark.parametrize("cq, rq, skip", list(itertools.product([0, 9, 10, None], [0, 49, 50, None], [False, True])))
def test_copy_gate_queues(cq, rq, skip):
    reasons = gate({"copy_queue_length": cq, "replay_queue_length": rq}, skip_lag_checks=skip)
    expected = []
    if not skip:
        if cq is None:
            expected.append("copy queue length is unknown")
        elif cq >= 10:
            expected.append("copy queue length %d is not below 10" % cq)
        if rq is None:
            expected.append("replay queue length is unknown")
        elif rq >= 50:
            expected.append("replay queue length %d is not below 50" % rq)
    assert reasons == expected


def test_copy_gate_custom_limits():
    assert gate({"copy_queue_length": 3}, copy_queue_limit=3) == ["copy queue length 3 is not below 3"]
    assert gate({"replay_queue_length": 60}, replay_queue_limit=100) == []


@pytest.mark.parametrize("state", ["Healthy", "NotApplicable", "Crawling", "Failed", "Seeding", None])
@pytest.mark.parametrize("skip", [False, True])
def test_copy_gate_content_index(state, skip):
    reasons = gate({"content_index_state": state}, skip_client_experience_checks=skip)
    if skip or state in ("Healthy", "NotApplicable"):
        assert reasons == []
    elif state is None:
        assert reasons == ["content index state is unknown"]
    else:
        assert reasons == ["content index is %s (needs Healthy or NotApplicable)" % state]


@pytest.mark.parametrize("allow, skip", list(itertools.product([False, True], [False, True])))
def test_copy_gate_lagged_copy(allow, skip):
    row = database_row(lags={"EX02": "7.00:00:00"})
    reasons = gate(row=row, allow_lagged=allow, skip_lag_checks=skip)
    if not allow:
        assert reasons == ["lagged copy (replay lag 7.00:00:00)"]
    elif not skip:
        assert reasons == ["lagged copy (replay lag 7.00:00:00): Exchange's lag check refuses it - set skip_lag_checks "
                           "true as well"]
    else:
        assert reasons == []


@pytest.mark.parametrize("statuses, seeding_source", [
    (("Healthy", "Healthy", "Healthy"), False),
    (("Seeding", "Healthy", "Healthy"), True),
    (("Seeding", "SeedingSource", "Healthy"), False),
    (("Failed", "Suspended", "Healthy"), False),
])
def test_active_is_seeding_source(statuses, seeding_source):
    copies = database_copies(EX02={"status": "Healthy"}, EX03={"status": statuses[0]}, EX04={"status": statuses[1]})
    copies[1]["status"] = statuses[2]
    assert sw.active_is_seeding_source(copies) is seeding_source


@pytest.mark.parametrize("skip", [False, True])
def test_copy_gate_active_copy_seeding(skip):
    copies = database_copies(EX03={"status": "Seeding"})
    reasons = gate(copies=copies, skip_active_copy_checks=skip)
    assert reasons == ([] if skip else ["the active copy is a seeding source (skip_active_copy_checks cancels the seed)"])


# ---------------------------------------------------------------------------- server gate
def sgate(row, explicit=True, components=(), dag=None, count=None, source=None, **opts):
    return sw.server_gate(row, "EX03", components, dag, count, options(**opts), explicit, source)


def test_server_gate_unknown_server():
    assert sgate(None) == ["EX03 is not a mailbox server of the organization"]


def test_server_gate_move_now_is_never_skipped():
    everything = {option: True for option, _s, _v in sw.SKIP_SWITCHES}
    assert sgate(server("EX03", move_now=True), **everything) == [
        "server EX03 has DatabaseCopyActivationDisabledAndMoveNow (maintenance)"]


@pytest.mark.parametrize("policy, explicit, source_site, blocked", [
    ("Unrestricted", False, "DC1", False),
    ("Blocked", True, "DC1", False),
    ("Blocked", False, "DC1", True),
    ("IntrasiteOnly", False, "DC2", False),
    ("IntrasiteOnly", False, "DC1", True),
    ("IntrasiteOnly", True, "DC1", False),
    ("IntrasiteOnly", False, None, False),
])
def test_server_gate_activation_policy(policy, explicit, source_site, blocked):
    source = server("EX01", site=source_site) if source_site else None
    reasons = sgate(server("EX03", site="DC2", policy=policy), explicit=explicit, source=source)
    assert bool(reasons) is blocked
    if blocked:
        assert "DatabaseCopyAutoActivationPolicy %s" % policy in reasons[0]


@pytest.mark.parametrize("component, state, blocked", [
    ("ServerWideOffline", "Inactive", True), ("HighAvailability", "Inactive", True),
    ("HighAvailability", "Active", False), ("HubTransport", "Inactive", False), ("ServerWideOffline", "Draining", True),
])
def test_server_gate_components(component, state, blocked):
    rows = [{"server": "EX03", "component": component, "state": state},
            {"server": "EX01", "component": "ServerWideOffline", "state": "Inactive"}]
    reasons = sgate(server("EX03"), components=rows)
    assert reasons == (["server EX03 has component %s %s" % (component, state)] if blocked else [])


def test_server_gate_dag_operational_servers():
    dag = dict(DAG, operational_servers=["EX01", "EX02"])
    assert sgate(server("EX03"), dag=dag) == ["server EX03 is not among the operational servers of DAG DAG1"]
    assert sgate(server("EX03"), dag=DAG) == []
    assert sgate(server("EX03"), dag=dict(DAG, operational_servers=None)) == []


@pytest.mark.parametrize("count, max_active, max_preferred, skip, expected", [
    (None, 1, 1, False, []),
    (2, None, None, False, []),
    (2, 3, None, False, []),
    (3, 3, None, False, ["MaximumActiveDatabases 3"]),
    (3, 3, None, True, ["MaximumActiveDatabases 3"]),
    (2, None, 2, False, ["MaximumPreferredActiveDatabases 2"]),
    (2, None, 2, True, []),
    (1, None, 2, False, []),
    (5, 5, 2, False, ["MaximumActiveDatabases 5", "MaximumPreferredActiveDatabases 2"]),
])
def test_server_gate_active_database_limits(count, max_active, max_preferred, skip, expected):
    row = server("EX03", max_active=max_active, max_preferred=max_preferred)
    reasons = sgate(row, count=count, skip_maximum_active_databases_checks=skip)
    assert len(reasons) == len(expected)
    for reason, label in zip(reasons, expected):
        assert reason.endswith("(%s)" % label) and "has %d active databases" % count in reason


def test_dag_gate():
    assert sw.dag_gate(None) == [] and sw.dag_gate(DAG) == []
    assert sw.dag_gate(dict(DAG, witness_share_in_use="InvalidConfiguration")) == [
        "DAG DAG1 has WitnessShareInUse InvalidConfiguration: fix the witness first"]


def test_active_counts_and_needs():
    copies = database_copies("DB01", "EX01") + database_copies("DB02", "EX01") + database_copies("DB03", "EX02")
    assert sw.active_counts(copies) == {"ex01": 2, "ex02": 1}
    assert sw.needs_active_counts(SERVERS, ["EX01", "EX02"]) is False
    assert sw.needs_active_counts([server("EX01", max_preferred=3)], ["ex01"]) is True
    assert sw.needs_active_counts([server("EX01", max_active=3)], ["EX02"]) is False


# ----------------------------------------------------------------------------- decide
def test_decide_unknown_database():
    with pytest.raises(SwitchoverError) as err:
        sw.decide("DB99", None, [], "EX02")
    assert err.value.option == "database" and "database DB99 was not found" in err.value.message


def test_decide_no_copies_and_not_replicated():
    with pytest.raises(SwitchoverError) as err:
        sw.decide("DB01", database_row(), [], "EX02")
    assert "has no database copies" in err.value.message
    single = [copy("EX01", status="Mounted", pref=1, active=True)]
    with pytest.raises(SwitchoverError) as err:
        sw.decide("DB01", database_row(order=("EX01",)), single, None)
    assert err.value.message == "database DB01 is not replicated (one copy, on EX01): it cannot be switched over"
    with pytest.raises(SwitchoverError):
        sw.decide("DB01", database_row(replication="None"), database_copies(), None)


def test_decide_target_without_copy():
    copies = [c for c in database_copies() if c["server"] != "EX04"]
    with pytest.raises(SwitchoverError) as err:
        sw.decide("DB01", database_row(), copies, "EX04")
    assert err.value.option == "target_server" and err.value.database == "DB01"
    assert err.value.message == ("target_server EX04 holds no copy of database DB01 (its copies are on EX01, EX02, "
                                 "EX03): add one with exchange.dr.database_copy or name one of those servers")


@pytest.mark.parametrize("status, action", [("Mounted", "none"), ("Mounting", "wait"), ("Dismounted", "mount"),
                                            ("Dismounting", "mount"), ("ServiceDown", "mount")])
def test_decide_target_already_active(status, action):
    copies = database_copies(active="EX02", EX02={"status": status})
    result = sw.decide("db01", database_row(), copies, "ex02")
    assert result["action"] == action and result["target_server"] == "EX02" and result["database"] == "DB01"
    assert result["before"] == {"active_server": "EX02", "status": status, "mounted": status == "Mounted"}


def test_decide_move_and_from_server():
    assert decision(target="EX03")["action"] == "move"
    assert decision()["action"] == "move" and decision()["target_server"] is None
    assert decision(source="EX01")["action"] == "move"
    off = decision(source="EX02")
    assert off["action"] == "none" and off["target_server"] == "EX01"
    with pytest.raises(SwitchoverError) as err:
        decision(source="EX09")
    assert err.value.option == "from_server"


# ---------------------------------------------------------------------------- plan_move
def plan(target=None, copies=None, servers=None, dag=None, components=(), counts=None, row=None, comment=None,
         source=None, **opts):
    copies = copies if copies is not None else database_copies()
    servers = SERVERS if servers is None else servers
    dag = DAG if dag is None else dag
    row = row or database_row()
    return sw.plan_move(sw.decide("DB01", row, copies, target, source), row, copies, servers, dag, components, counts,
                        options(**opts), comment)


def test_plan_explicit_target():
    result = plan("EX03", comment="CHG-1")
    assert result["selection"] == "explicit" and result["target_server"] == "EX03" and result["source_server"] == "EX01"
    assert result["parameters"] == {"Identity": "DB01", "ActivateOnServer": "EX03", "MountDialOverride": "Lossless",
                                    "MoveComment": "CHG-1", "Confirm": False}
    assert result["lossy"] is False and result["logs_lost"] == 0 and result["switches"] == []
    assert result["candidates"] == [{"server": "EX03", "rank": None, "criteria_set": None, "eligible": True,
                                     "reasons": []}]


def test_plan_explicit_target_failing_the_gate_names_it():
    copies = database_copies(EX03={"status": "Failed", "content_index_state": "Failed"})
    with pytest.raises(SwitchoverError) as err:
        plan("EX03", copies=copies)
    assert err.value.option == "target_server"
    assert err.value.message == ("database DB01 cannot be activated on EX03: status is Failed (needs Healthy); content "
                                 "index is Failed (needs Healthy or NotApplicable)")
    assert err.value.reasons == ["status is Failed (needs Healthy)",
                                 "content index is Failed (needs Healthy or NotApplicable)"]


def test_plan_explicit_target_on_a_blocked_server_is_allowed():
    servers = [server("EX01"), server("EX02"), server("EX03", "DC2", policy="Blocked"), server("EX04", "DC2")]
    assert plan("EX03", servers=servers)["target_server"] == "EX03"


def test_plan_targetless_lossless_follows_preference():
    result = plan()
    assert result["selection"] == "best_copy" and result["target_server"] == "EX02"
    assert result["candidates"][0] == {"server": "EX02", "rank": 1, "criteria_set": 1, "eligible": True, "reasons": []}


def test_plan_targetless_lossy_dial_orders_by_copy_queue():
    copies = database_copies(EX02={"copy_queue_length": 5}, EX03={"copy_queue_length": 1}, EX04={"copy_queue_length": 3})
    result = plan(copies=copies, mount_dial_override="good_availability", allow_data_loss=True)
    assert result["target_server"] == "EX03" and result["lossy"] is True and result["logs_at_risk"] == 1


def test_plan_targetless_skips_copies_failing_the_gate():
    copies = database_copies(EX02={"replay_queue_length": 20})  # still criteria set 1: ranked first
    result = plan(copies=copies, replay_queue_limit=10)
    assert result["target_server"] == "EX03"
    assert [(c["server"], c["eligible"]) for c in result["candidates"]] == [("EX02", False), ("EX03", True)]


def test_plan_targetless_excluded_copies_are_listed():
    servers = [server("EX01"), server("EX02", policy="Blocked"), server("EX03", "DC2"), server("EX04", "DC2")]
    copies = database_copies(EX03={"activation_suspended": True})
    result = plan(copies=copies, servers=servers)
    assert result["target_server"] == "EX04"
    assert result["candidates"][0]["server"] == "EX04"
    excluded = {c["server"]: c["reasons"] for c in result["candidates"] if c["rank"] is None}
    assert excluded == {"EX02": ["server EX02 has DatabaseCopyAutoActivationPolicy Blocked"],
                        "EX03": ["activation suspended"]}


def test_plan_no_healthy_target_names_the_database():
    copies = database_copies("DB05", active="EX03", order=("EX03", "EX04", "EX01", "EX02"),
                             EX04={"status": "Failed"}, EX01={"status": "Failed"}, EX02={"status": "FailedAndSuspended"})
    row = database_row("DB05", order=("EX03", "EX04", "EX01", "EX02"))
    with pytest.raises(SwitchoverError) as err:
        sw.plan_move(sw.decide("DB05", row, copies), row, copies, SERVERS, DAG, (), None, options())
    assert err.value.option == "target_server" and err.value.database == "DB05"
    assert err.value.message.startswith("no healthy target for database DB05: ")
    for name in ("EX04", "EX01", "EX02"):
        assert name in err.value.message
    assert len(err.value.reasons) == 3


def test_plan_lossy_move_needs_allow_data_loss():
    copies = database_copies(EX02={"copy_queue_length": 4})
    with pytest.raises(SwitchoverError) as err:
        plan("EX02", copies=copies, mount_dial_override="good_availability")
    assert err.value.option == "allow_data_loss"
    assert err.value.message == ("moving database DB01 to EX02 with mount dial GoodAvailability could lose up to 4 logs "
                                 "(the copy queue of DB01\\EX02): set allow_data_loss true to accept that, or keep "
                                 "mount_dial_override lossless (the default), which mounts only with every log")
    allowed = plan("EX02", copies=copies, mount_dial_override="good_availability", allow_data_loss=True)
    assert allowed["lossy"] is True and allowed["logs_at_risk"] == 4 and allowed["logs_lost"] == 0
    assert allowed["parameters"]["MountDialOverride"] == "GoodAvailability"


def test_plan_lossless_with_a_copy_queue_is_not_lossy():
    copies = database_copies(EX02={"copy_queue_length": 4})
    result = plan("EX02", copies=copies)
    assert result["lossy"] is False and result["logs_at_risk"] == 4 and result["logs_lost"] == 0


def test_plan_dial_none_uses_the_server_dial():
    copies = database_copies(EX02={"copy_queue_length": 4})
    servers = [server("EX01"), server("EX02", dial="Lossless"), server("EX03", "DC2"), server("EX04", "DC2")]
    result = plan("EX02", copies=copies, servers=servers, mount_dial_override="none")
    assert result["mount_dial"] == "Lossless" and result["lossy"] is False
    assert result["parameters"]["MountDialOverride"] == "None"
    with pytest.raises(SwitchoverError) as err:
        plan("EX02", copies=copies, mount_dial_override="none")
    assert err.value.option == "allow_data_loss"


def test_plan_unknown_copy_queue_is_lossy_with_a_lossy_dial():
    copies = database_copies(EX02={"copy_queue_length": None})
    with pytest.raises(SwitchoverError) as err:
        plan("EX02", copies=copies, mount_dial_override="best_effort", skip_lag_checks=True)
    assert "could lose an unknown number of logs" in err.value.message


def test_plan_source_down_blocks_a_lossless_mount_with_missing_logs():
    copies = database_copies(EX01={"status": "ServiceDown"}, EX02={"copy_queue_length": 3})
    with pytest.raises(SwitchoverError) as err:
        plan("EX02", copies=copies)
    assert "the copy misses 3 logs and the active copy cannot supply them" in err.value.message
    result = plan("EX02", copies=copies, mount_dial_override="good_availability", allow_data_loss=True)
    assert result["logs_lost"] == 3


def test_plan_switches_and_version():
    result = plan("EX02", skip_lag_checks=True, skip_cpu_checks=True)
    assert result["switches"] == ["SkipCpuChecks", "SkipLagChecks"]
    assert list(result["parameters"])[-1] == "Confirm"
    old = [server("EX01", version=V2013), server("EX02", version=V2013)]
    with pytest.raises(SwitchoverError) as err:
        plan("EX02", servers=old, skip_cpu_checks=True)
    assert err.value.option == "skip_cpu_checks"


def test_plan_counts_limits():
    servers = [server("EX01"), server("EX02", max_preferred=1), server("EX03", "DC2"), server("EX04", "DC2")]
    with pytest.raises(SwitchoverError) as err:
        plan("EX02", servers=servers, counts={"ex02": 1})
    assert "MaximumPreferredActiveDatabases 1" in err.value.message
    assert plan("EX02", servers=servers, counts={"ex02": 1}, skip_maximum_active_databases_checks=True)
    assert plan(servers=servers, counts={"ex02": 1})["target_server"] == "EX03"


def test_plan_lagged_copies_and_targetless_moves():
    row = database_row(lags={"EX02": "7.00:00:00"})
    assert plan(row=row)["target_server"] == "EX03"  # a lagged copy is never the automatic choice
    with pytest.raises(SwitchoverError):
        plan("EX02", row=row)
    assert plan("EX02", row=row, allow_lagged=True, skip_lag_checks=True)["switches"] == ["SkipLagChecks"]


def test_plan_dag_witness_invalid_blocks_everything():
    with pytest.raises(SwitchoverError) as err:
        plan(dag=dict(DAG, witness_share_in_use="InvalidConfiguration"))
    assert "WitnessShareInUse InvalidConfiguration" in err.value.message


def test_predict():
    assert sw.predict("EX02") == {"active_server": "EX02", "status": "Mounted", "mounted": True}


# ---------------------------------------------------------------------------- rebalance
def org(moved=()):
    """The lab's two-datacenters databases; ``moved`` maps database -> server it is active on."""
    layout = {"DB01": ("EX01", "EX02", "EX03", "EX04"), "DB02": ("EX02", "EX01", "EX04", "EX03"),
              "DB03": ("EX01", "EX02", "EX04", "EX03"), "DB05": ("EX03", "EX04", "EX01", "EX02")}
    moved = dict(moved)
    databases, copies = [], []
    for name, order in layout.items():
        databases.append(database_row(name, order))
        copies += database_copies(name, moved.get(name, order[0]), order)
    databases.append(database_row("SOLO", ("EX01",), replication="None", master="EX01"))
    copies.append(copy("EX01", "SOLO", "Mounted", 1, True))
    return databases, copies


def test_rebalance_scope_balanced():
    databases, copies = org()
    scope = sw.rebalance_scope(databases, copies)
    assert scope["todo"] == [] and scope["failed"] == []
    assert [u["database"] for u in scope["unchanged"]] == ["DB01", "DB02", "DB03", "DB05"]


def test_rebalance_scope_filters():
    databases, copies = org({"DB01": "EX02", "DB03": "EX02", "DB05": "EX04"})
    scope = sw.rebalance_scope(databases, copies)
    assert [(row["name"], pref) for row, pref in scope["todo"]] == [("DB01", "EX01"), ("DB03", "EX01"), ("DB05", "EX03")]
    by_server = sw.rebalance_scope(databases, copies, server="ex01")
    assert [row["name"] for row, _p in by_server["todo"]] == ["DB01", "DB03"] and by_server["unchanged"] == []
    named = sw.rebalance_scope(databases, copies, names=["db05", "DB02", "DB05"])
    assert [row["name"] for row, _p in named["todo"]] == ["DB05"]
    assert [u["database"] for u in named["unchanged"]] == ["DB02"]
    assert sw.rebalance_scope(databases, copies, dag="dag1")["todo"]


def test_rebalance_scope_errors_and_failures():
    databases, copies = org()
    with pytest.raises(SwitchoverError) as err:
        sw.rebalance_scope(databases, copies, names=["DB01", "DB77"])
    assert err.value.option == "databases" and err.value.message.startswith("databases: DB77 not found")
    with pytest.raises(SwitchoverError) as err:
        sw.rebalance_scope(databases, copies, dag="DAG9")
    assert err.value.option == "dag"
    solo = sw.rebalance_scope(databases, copies, names=["SOLO"])
    assert solo["failed"] == [{"database": "SOLO", "target_server": None, "reasons": ["not replicated: it has one copy"]}]
    no_pref = [dict(c, activation_preference=None) for c in copies]
    rows = [dict(d, activation_preference={}) for d in databases]
    failed = sw.rebalance_scope(rows, no_pref)["failed"]
    assert {f["database"] for f in failed} == {"DB01", "DB02", "DB03", "DB05"}


def test_preferred_server_from_the_database_row():
    rows = [dict(c, activation_preference=None) for c in database_copies()]
    assert sw.preferred_server(database_row(), rows) == "EX01"


def test_plan_rebalance_per_database_and_one_failure_does_not_stop_others():
    databases, copies = org({"DB01": "EX02", "DB03": "EX02", "DB05": "EX04"})
    sw.copy_on(sw.copies_of(copies, "DB03"), "EX01")["status"] = "Failed"
    scope = sw.rebalance_scope(databases, copies)
    result = sw.plan_rebalance(scope, copies, SERVERS, [DAG], (), None, {}, "rebalance")
    assert [(m["database"], m["target_server"]) for m in result["moves"]] == [("DB01", "EX01"), ("DB05", "EX03")]
    assert result["moves"][0]["parameters"]["MoveComment"] == "rebalance"
    assert result["failed"] == [{"database": "DB03", "target_server": "EX01",
                                 "reasons": ["status is Failed (needs Healthy)"]}]
    assert result["activate_preferred"] is False


def test_plan_rebalance_activate_preferred_on_server():
    databases, copies = org({"DB01": "EX02", "DB03": "EX02"})
    scope = sw.rebalance_scope(databases, copies, server="EX01")
    result = sw.plan_rebalance(scope, copies, SERVERS, [DAG], (), None, {"skip_lag_checks": True}, None, "EX01")
    assert result["activate_preferred"] is True
    assert result["preferred_parameters"] == {"ActivatePreferredOnServer": "EX01", "MountDialOverride": "Lossless",
                                              "SkipLagChecks": None, "Confirm": False}
    old = [server(s["name"], version=V2010) for s in SERVERS]
    assert sw.plan_rebalance(scope, copies, old, [DAG], (), None, {}, None, "EX01")["activate_preferred"] is False
    assert sw.plan_rebalance(scope, copies, SERVERS, [DAG], (), None, {}, None, None)["activate_preferred"] is False
    sw.copy_on(sw.copies_of(copies, "DB03"), "EX01")["status"] = "Failed"
    scope = sw.rebalance_scope(databases, copies, server="EX01")
    partial = sw.plan_rebalance(scope, copies, SERVERS, [DAG], (), None, {}, None, "EX01")
    assert partial["activate_preferred"] is False and len(partial["moves"]) == 1


def test_plan_rebalance_counts_grow_with_the_moves():
    databases, copies = org({"DB01": "EX02", "DB03": "EX02"})
    servers = [server("EX01", max_preferred=3), server("EX02"), server("EX03", "DC2"), server("EX04", "DC2")]
    scope = sw.rebalance_scope(databases, copies, server="EX01")
    counts = sw.active_counts(copies)  # EX01 holds SOLO only
    assert counts["ex01"] == 1
    result = sw.plan_rebalance(scope, copies, servers, [DAG], (), counts, {}, None, "EX01")
    assert [m["database"] for m in result["moves"]] == ["DB01", "DB03"]
    counts["ex01"] = 2
    result = sw.plan_rebalance(scope, copies, servers, [DAG], (), counts, {}, None, "EX01")
    assert [m["database"] for m in result["moves"]] == ["DB01"] and result["failed"][0]["database"] == "DB03"


# ---------------------------------------------------------------------------------- copies
@pytest.mark.parametrize("value, seconds, text", [
    ("7.00:00:00", 604800.0, "7.00:00:00"), ("00:00:00", 0.0, "00:00:00"), ("1:00:00", 3600.0, "01:00:00"),
    ("14.00:00:00", 1209600.0, "14.00:00:00"), ("0.12:30:00", 45000.0, "12:30:00"),
])
def test_lag_time(value, seconds, text):
    assert sw.lag_time(value, "replay_lag_time") == (seconds, text)
    assert sw.lag_time(None, "replay_lag_time") is None


@pytest.mark.parametrize("value, fragment", [("3600", "quote it"), ("7", "quote it"), ("a week", "d.hh:mm:ss"),
                                             ("14.00:00:01", "between"), ("-01:00:00", "between"), (3600, "quote it")])
def test_lag_time_refused(value, fragment):
    with pytest.raises(SwitchoverError) as err:
        sw.lag_time(value, "truncation_lag_time")
    assert err.value.option == "truncation_lag_time" and fragment in err.value.message


def copy_plan(state="present", changes=None, settings=None, server_name="EX03", copies=None, row=None, **kwargs):
    copies = copies if copies is not None else database_copies("DB04", "EX02", ("EX02", "EX01", "EX03", "EX04"),
                                                               **({"EX03": changes} if changes else {}))
    row = row or database_row("DB04", ("EX02", "EX01", "EX03", "EX04"))
    return sw.plan_copy("DB04", row, copies, server_name, state, settings, **kwargs)


def cmdlets(result):
    return list(result["actions"])


def test_plan_copy_unknown_database_and_bad_state():
    with pytest.raises(SwitchoverError) as err:
        sw.plan_copy("DB99", None, [], "EX01")
    assert err.value.option == "database"
    with pytest.raises(SwitchoverError) as err:
        copy_plan("resumed")
    assert err.value.option == "state"


def test_plan_copy_present_in_place():
    result = copy_plan()
    assert result["actions"] == [] and result["before"] == result["after"] and result["wait_for"] is None
    assert result["identity"] == "DB04\\EX03"
    assert result["before"] == {"present": True, "server": "EX03", "status": "Healthy", "active": False,
                                "activation_suspended": False, "activation_preference": 3,
                                "replay_lag_time": "00:00:00", "truncation_lag_time": "00:00:00",
                                "suspend_comment": None}


def test_plan_copy_settings_only_drift_is_sent():
    result = copy_plan(settings={"activation_preference": 3, "replay_lag_time": "1.00:00:00",
                                 "truncation_lag_time": "00:00:00"})
    assert cmdlets(result) == [("Set-MailboxDatabaseCopy", {"Identity": "DB04\\EX03", "ReplayLagTime": "1.00:00:00"})]
    assert result["after"]["replay_lag_time"] == "1.00:00:00"
    result = copy_plan(settings={"activation_preference": 1})
    assert cmdlets(result) == [("Set-MailboxDatabaseCopy", {"Identity": "DB04\\EX03", "ActivationPreference": 1})]


@pytest.mark.parametrize("preference", [0, 5, True, "2"])
def test_plan_copy_preference_out_of_range(preference):
    with pytest.raises(SwitchoverError) as err:
        copy_plan(settings={"activation_preference": preference})
    assert err.value.option == "activation_preference" and "between 1 and 4" in err.value.message


def test_plan_copy_add_missing_copy():
    copies = [c for c in database_copies("DB04", "EX02", ("EX02", "EX01", "EX03", "EX04")) if c["server"] != "EX03"]
    result = copy_plan(copies=copies, settings={"replay_lag_time": "7.00:00:00", "activation_preference": 4})
    assert cmdlets(result) == [("Add-MailboxDatabaseCopy", {
        "Identity": "DB04", "MailboxServer": "EX03", "ActivationPreference": 4, "ReplayLagTime": "7.00:00:00"})]
    assert result["before"]["present"] is False and result["after"]["present"] is True
    assert result["after"]["activation_preference"] == 4 and result["wait_for"] == ["Healthy"]
    plain = copy_plan(copies=copies)
    assert plain["after"]["activation_preference"] == 4 and plain["after"]["replay_lag_time"] == "00:00:00"
    suspended = copy_plan("suspended", copies=copies)
    assert [c for c, _p in cmdlets(suspended)] == ["Add-MailboxDatabaseCopy", "Suspend-MailboxDatabaseCopy"]
    reseeded = copy_plan("reseeded", copies=copies)
    assert [c for c, _p in cmdlets(reseeded)] == ["Add-MailboxDatabaseCopy"]
    assert copy_plan("absent", copies=copies)["actions"] == []


def test_plan_copy_absent():
    result = copy_plan("absent")
    assert cmdlets(result) == [("Remove-MailboxDatabaseCopy", {"Identity": "DB04\\EX03", "Confirm": False})]
    assert result["after"]["present"] is False
    with pytest.raises(SwitchoverError) as err:
        copy_plan("absent", settings={"activation_preference": 2})
    assert err.value.option == "activation_preference"


@pytest.mark.parametrize("state", ["absent", "suspended", "activation_suspended", "reseeded"])
def test_plan_copy_refuses_passive_states_on_the_active_copy(state):
    with pytest.raises(SwitchoverError) as err:
        copy_plan(state, server_name="EX02")
    assert err.value.option == "state" and "DB04\\EX02 is the active copy of DB04" in err.value.message


def test_plan_copy_active_copy_present_and_healthy():
    assert copy_plan("healthy", server_name="EX02")["actions"] == []
    assert copy_plan("present", server_name="ex02")["identity"] == "DB04\\EX02"


# (state, status, activation_suspended) -> (cmdlets, after status, after activation_suspended, wait_for)
COPY_MATRIX = {
    ("suspended", "Healthy", False): (["Suspend"], "Suspended", True, None),
    ("suspended", "Healthy", True): (["Suspend"], "Suspended", True, None),
    ("suspended", "Suspended", True): ([], "Suspended", True, None),
    ("suspended", "FailedAndSuspended", True): ([], "FailedAndSuspended", True, None),
    ("suspended", "Failed", False): (["Suspend"], "Suspended", True, None),
    ("activation_suspended", "Healthy", False): (["Suspend-ActivationOnly"], "Healthy", True, None),
    ("activation_suspended", "Healthy", True): ([], "Healthy", True, None),
    ("activation_suspended", "Suspended", True): (["Resume-ReplicationOnly"], "Healthy", True, ["Healthy"]),
    ("activation_suspended", "FailedAndSuspended", True): (["Resume-ReplicationOnly"], "Healthy", True, ["Healthy"]),
    ("healthy", "Healthy", False): ([], "Healthy", False, None),
    ("healthy", "Healthy", True): (["Resume"], "Healthy", False, ["Healthy"]),
    ("healthy", "Suspended", True): (["Resume"], "Healthy", False, ["Healthy"]),
    ("healthy", "FailedAndSuspended", True): (["Resume"], "Healthy", False, ["Healthy"]),
    ("healthy", "Initializing", False): ([], "Healthy", False, ["Healthy"]),
    ("healthy", "Failed", False): ([], "Healthy", False, ["Healthy"]),
    ("reseeded", "Healthy", False): ([], "Healthy", False, None),
    ("reseeded", "Seeding", False): ([], "Healthy", False, ["Healthy"]),
    ("reseeded", "Failed", False): (["Suspend", "Update"], "Healthy", False, ["Healthy"]),
    ("reseeded", "Suspended", True): (["Update"], "Healthy", False, ["Healthy"]),
    ("reseeded", "FailedAndSuspended", True): (["Update"], "Healthy", False, ["Healthy"]),
    ("present", "Failed", False): ([], "Failed", False, None),
}


def short(cmdlet, params):
    name = cmdlet.split("-")[0]
    if "ActivationOnly" in params:
        name += "-ActivationOnly"
    if "ReplicationOnly" in params:
        name += "-ReplicationOnly"
    return name


@pytest.mark.parametrize("key", sorted(COPY_MATRIX))
def test_plan_copy_state_matrix(key):
    state, status, suspended = key
    expected, status_after, suspended_after, wait_for = COPY_MATRIX[key]
    result = copy_plan(state, {"status": status, "activation_suspended": suspended})
    assert [short(c, p) for c, p in cmdlets(result)] == expected
    assert result["after"]["status"] == status_after
    assert result["after"]["activation_suspended"] is suspended_after
    assert result["wait_for"] == wait_for
    for _cmdlet, params in cmdlets(result):
        assert params["Identity"] == "DB04\\EX03"


def test_plan_copy_confirm_and_comments():
    suspend = copy_plan("suspended", suspend_comment="SAN")
    assert cmdlets(suspend) == [("Suspend-MailboxDatabaseCopy", {"Identity": "DB04\\EX03", "SuspendComment": "SAN",
                                                                 "Confirm": False})]
    assert suspend["after"]["suspend_comment"] == "SAN"
    reseed = copy_plan("reseeded", {"status": "Failed"}, source_server="EX04", delete_existing_files=True)
    assert cmdlets(reseed) == [
        ("Suspend-MailboxDatabaseCopy", {"Identity": "DB04\\EX03", "SuspendComment": "Reseed by exchange.dr.database_copy",
                                         "Confirm": False}),
        ("Update-MailboxDatabaseCopy", {"Identity": "DB04\\EX03", "SourceServer": "EX04", "DeleteExistingFiles": None,
                                        "Confirm": False})]
    activation = copy_plan("activation_suspended", suspend_comment="DR")
    assert cmdlets(activation) == [("Suspend-MailboxDatabaseCopy", {"Identity": "DB04\\EX03", "ActivationOnly": None,
                                                                    "SuspendComment": "DR", "Confirm": False})]


def test_plan_copy_settings_then_state():
    result = copy_plan("suspended", settings={"activation_preference": 2})
    assert [c for c, _p in cmdlets(result)] == ["Set-MailboxDatabaseCopy", "Suspend-MailboxDatabaseCopy"]


def test_copy_view_reads_lags_case_insensitively():
    row = database_row("DB04", ("EX02", "EX01", "EX03", "EX04"), lags={"EX03": "P1D"})
    row["replay_lag_times"] = {k.lower(): v for k, v in row["replay_lag_times"].items()}
    view = sw.copy_view(row, copy("EX03", "DB04"), "EX03")
    assert view["replay_lag_time"] == "1.00:00:00" and view["truncation_lag_time"] == "00:00:00"
    assert sw.copy_view(row, None, "EX09")["present"] is False


def test_copy_diff_keeps_only_changes():
    before = {"present": True, "status": "Healthy", "activation_preference": 3}
    after = {"present": True, "status": "Suspended", "activation_preference": 3}
    assert sw.copy_diff(before, after) == {"before": {"status": "Healthy"}, "after": {"status": "Suspended"}}


def test_state_of_and_find():
    assert sw.state_of([]) == {"active_server": None, "status": None, "mounted": False}
    assert sw.find(SERVERS, "ex03")["site"] == "DC2" and sw.find(SERVERS, "EX09") is None
    assert sw.same("a", "A") and not sw.same(None, None) and not sw.same("a", None)
