"""health.py: the planned-activation gate (runbooks §1.6) and best copy selection (§1.4).

The ten criteria sets are checked exhaustively against an oracle written straight from the
runbook's table, over every status, content index state and queue length boundary.
"""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.exchange.dr.plugins.module_utils import health
from ansible_collections.exchange.dr.plugins.module_utils.health import HealthInputError, best_copy, copy_health

CANDIDATES = ("Healthy", "DisconnectedAndHealthy", "DisconnectedAndResynchronizing", "SeedingSource")
OTHER_STATUSES = ("Initializing", "Resynchronizing", "Seeding", "Suspended", "Failed", "FailedAndSuspended",
                  "ServiceDown", "Mounted", "Dismounted", None)
CONTENT_INDEX = ("Healthy", "NotApplicable", "Crawling", "Failed", "Seeding", "Unknown", None)
COPY_QUEUES = (0, 9, 10, 500, None)
REPLAY_QUEUES = (0, 49, 50, 2016, None)


def copy(database="DB01", server="EX02", status="Healthy", cq=0, rq=0, ci="NotApplicable", pref=2, active=False,
         **extra):
    row = {"name": "%s\\%s" % (database, server), "database": database, "server": server, "active": active,
           "active_server": extra.pop("active_server", None), "status": status, "activation_preference": pref,
           "activation_suspended": False, "auto_activation_policy": "Unrestricted", "copy_queue_length": cq,
           "replay_queue_length": rq, "content_index_state": ci}
    row.update(extra)
    return row


def oracle(status, ci, cq, rq):
    """The runbook's table, §1.4, read literally."""
    if status not in CANDIDATES:
        return None
    healthy_ci = ci in ("Healthy", "NotApplicable")  # NotApplicable: no catalog gate (§1.1)
    crawling_ci = ci == "Crawling"
    cq_ok = cq is not None and cq < 10
    rq_ok = rq is not None and rq < 50
    if healthy_ci and cq_ok and rq_ok:
        return 1
    if crawling_ci and cq_ok and rq_ok:
        return 2
    if healthy_ci and rq_ok:
        return 3
    if crawling_ci and rq_ok:
        return 4
    if rq_ok:
        return 5
    if healthy_ci and cq_ok:
        return 6
    if crawling_ci and cq_ok:
        return 7
    if healthy_ci:
        return 8
    if crawling_ci:
        return 9
    return 10


# --------------------------------------------------------------------- criteria sets
@pytest.mark.parametrize("status, ci, cq, rq",
                         list(itertools.product(CANDIDATES + OTHER_STATUSES, CONTENT_INDEX, COPY_QUEUES, REPLAY_QUEUES)))
def test_criteria_set_matches_the_runbook_table(status, ci, cq, rq):
    assert health.criteria_set(copy(status=status, ci=ci, cq=cq, rq=rq)) == oracle(status, ci, cq, rq)


@pytest.mark.parametrize("number, ci, cq, rq", [
    (1, "Healthy", 9, 49),
    (2, "Crawling", 9, 49),
    (3, "Healthy", 10, 49),
    (4, "Crawling", 10, 49),
    (5, "Failed", 0, 0),
    (6, "Healthy", 9, 50),
    (7, "Crawling", 9, 50),
    (8, "Healthy", 10, 50),
    (9, "Crawling", 10, 50),
    (10, "Failed", 0, 50),
])
def test_one_example_per_set(number, ci, cq, rq):
    assert health.criteria_set(copy(ci=ci, cq=cq, rq=rq)) == number


def test_criteria_table_is_the_runbooks():
    assert health.CRITERIA_SETS == (
        ("Healthy", 10, 50), ("Crawling", 10, 50), ("Healthy", None, 50), ("Crawling", None, 50), ("any", None, 50),
        ("Healthy", 10, None), ("Crawling", 10, None), ("Healthy", None, None), ("Crawling", None, None),
        ("any", None, None))


def test_criteria_values_are_case_insensitive_and_accept_text_numbers():
    assert health.criteria_set(copy(status="healthy", ci="crawling", cq="9", rq="1,000")) == 7


# ------------------------------------------------------------------------ copy_health
def test_healthy_passive_copy():
    assert copy_health(copy()) == {"name": "DB01\\EX02", "healthy": True, "reasons": []}


@pytest.mark.parametrize("change, reason", [
    ({"status": "Failed"}, "status is Failed (needs Healthy)"),
    ({"status": "DisconnectedAndHealthy"}, "status is DisconnectedAndHealthy (needs Healthy)"),
    ({"status": "SeedingSource"}, "status is SeedingSource (needs Healthy)"),
    ({"status": None}, "status is unknown"),
    ({"activation_suspended": True}, "activation is suspended"),
    ({"activation_suspended": None}, "activation suspension is unknown"),
    ({"copy_queue_length": 10}, "copy queue length 10 is not below 10"),
    ({"copy_queue_length": None}, "copy queue length is unknown"),
    ({"replay_queue_length": 50}, "replay queue length 50 is not below 50"),
    ({"replay_queue_length": None}, "replay queue length is unknown"),
    ({"content_index_state": "Crawling"}, "content index is Crawling (needs Healthy or NotApplicable)"),
    ({"content_index_state": None}, "content index state is unknown"),
    ({"replay_lag_time": "7.00:00:00"}, "lagged copy (replay lag 7.00:00:00)"),
])
def test_each_gate(change, reason):
    result = copy_health(dict(copy(), **change))
    assert result["healthy"] is False
    assert result["reasons"] == [reason]


@pytest.mark.parametrize("change, relax", [
    ({"status": "DisconnectedAndHealthy"}, {"statuses": ["Healthy", "DisconnectedAndHealthy"]}),
    ({"status": "Failed"}, {"statuses": "Failed"}),
    ({"activation_suspended": True}, {"allow_activation_suspended": True}),
    ({"copy_queue_length": 12}, {"copy_queue_limit": 13}),
    ({"copy_queue_length": None}, {"copy_queue_limit": None}),
    ({"replay_queue_length": 2016}, {"replay_queue_limit": None}),
    ({"replay_queue_length": 60}, {"replay_queue_limit": "61"}),
    ({"content_index_state": "Crawling"}, {"content_index_states": ["Healthy", "Crawling"]}),
    ({"content_index_state": "Failed"}, {"content_index_states": None}),
    ({"content_index_state": "Failed"}, {"content_index_states": []}),
    ({"replay_lag_time": "7.00:00:00"}, {"allow_lagged": True}),
])
def test_each_gate_can_be_relaxed(change, relax):
    assert copy_health(dict(copy(), **change))["healthy"] is False
    assert copy_health(dict(copy(), **change), **relax) == {"name": "DB01\\EX02", "healthy": True, "reasons": []}


def test_all_reasons_are_reported_in_order():
    bad = copy(status="Failed", cq=12, rq=2016, ci="Crawling", activation_suspended=True)
    assert copy_health(bad)["reasons"] == [
        "status is Failed (needs Healthy)", "activation is suspended", "copy queue length 12 is not below 10",
        "replay queue length 2016 is not below 50", "content index is Crawling (needs Healthy or NotApplicable)"]


def test_lag_from_the_databases():
    databases = [{"name": "DB01", "replay_lag_times": {"EX02": "00:00:00", "EX04": "7.00:00:00"}}]
    assert copy_health(copy(server="EX02"), databases=databases)["healthy"] is True
    assert copy_health(copy(server="ex04"), databases=databases)["reasons"] == ["lagged copy (replay lag 7.00:00:00)"]
    assert copy_health(copy(server="EX04"), databases=databases[0])["healthy"] is False
    assert copy_health(copy(server="EX04"), databases=databases, allow_lagged=True)["healthy"] is True
    assert copy_health(copy(database="DB02", server="EX04"), databases=databases)["healthy"] is True


@pytest.mark.parametrize("status, healthy", [("Mounted", True), ("Dismounted", False), ("Healthy", False)])
def test_active_copy_is_healthy_when_mounted(status, healthy):
    result = copy_health(copy(server="EX01", active=True, status=status, rq=0, replay_lag_time="1.00:00:00"))
    assert result["healthy"] is healthy
    if not healthy:
        assert result["reasons"] == ["status is %s (needs Mounted)" % status]


@pytest.mark.parametrize("value, kwargs, message", [
    ("DB01\\EX02", {}, "copy_health expects a copy (a dictionary, an item of exchange.dr.exchange_info's copies), "
                       "got str"),
    ({"name": "DB01"}, {}, "copy_health: the copy has no 'status' key"),
    (None, {"statuses": []}, "copy_health: statuses must name at least one copy status"),
    (None, {"statuses": [1]}, "copy_health: statuses must be a list of strings, got [1]"),
    (None, {"copy_queue_limit": -1}, "copy_health: copy_queue_limit must not be negative, got -1"),
    (None, {"replay_queue_limit": "many"}, "copy_health: replay_queue_limit must be an integer or null, got 'many'"),
    (None, {"copy_queue_limit": True}, "copy_health: copy_queue_limit must be an integer or null, got True"),
    (None, {"allow_lagged": "yes"}, "copy_health: allow_lagged must be a boolean, got 'yes'"),
    (None, {"allow_activation_suspended": 1}, "copy_health: allow_activation_suspended must be a boolean, got 1"),
    (None, {"content_index_states": {"a": 1}}, "copy_health: content_index_states must be a list of strings"),
    (None, {"databases": "DB01"}, "copy_health: databases must be a list of dictionaries"),
])
def test_bad_input_names_the_parameter(value, kwargs, message):
    with pytest.raises(HealthInputError) as exc:
        copy_health(copy() if value is None else value, **kwargs)
    assert str(exc.value).startswith(message)


# -------------------------------------------------------------------------- best_copy
def db01(**changes):
    """DB01 active on EX01; passive copies on EX02 (pref 2), EX03 (3), EX04 (4); ``changes`` per server."""
    rows = [copy(server="EX01", pref=1, active=True, status="Mounted")]
    rows += [copy(server=name, pref=pref) for name, pref in (("EX02", 2), ("EX03", 3), ("EX04", 4))]
    for row in rows:
        row.update(changes.get(row["server"], {}))
    return rows


def servers(**changes):
    rows = []
    for name, site in (("EX01", "DC1"), ("EX02", "DC1"), ("EX03", "DC2"), ("EX04", "DC2")):
        row = {"name": name, "site": site, "auto_database_mount_dial": "GoodAvailability",
               "database_copy_auto_activation_policy": "Unrestricted",
               "database_copy_activation_disabled_and_move_now": False, "maximum_active_databases": None,
               "maximum_preferred_active_databases": None}
        row.update(changes.get(name, {}))
        rows.append(row)
    return rows


def ranking(result):
    return [(row["server"], row["criteria_set"]) for row in result]


def test_all_equal_goes_by_preference():
    result = best_copy(db01())
    assert ranking(result) == [("EX02", 1), ("EX03", 1), ("EX04", 1)]
    assert [row["rank"] for row in result] == [1, 2, 3]
    assert result[0] == {"rank": 1, "name": "DB01\\EX02", "database": "DB01", "server": "EX02", "criteria_set": 1,
                         "status": "Healthy", "activation_preference": 2, "copy_queue_length": 0,
                         "replay_queue_length": 0, "content_index_state": "NotApplicable",
                         "ordered_by": "copy_queue_length", "excluded": None}


def test_copy_queue_first_then_preference():
    result = best_copy(db01(EX02={"copy_queue_length": 5}, EX03={"copy_queue_length": 2}, EX04={"copy_queue_length": 2}))
    assert ranking(result) == [("EX03", 1), ("EX04", 1), ("EX02", 1)]


@pytest.mark.parametrize("how", ["dial", "parameter"])
def test_lossless_orders_by_preference(how):
    copies = db01(EX02={"copy_queue_length": 5}, EX03={"copy_queue_length": 2})
    if how == "dial":
        result = best_copy(copies, servers=servers(EX04={"auto_database_mount_dial": "Lossless"}))
    else:
        result = best_copy(copies, lossless=True)
    assert ranking(result) == [("EX02", 1), ("EX03", 1), ("EX04", 1)]
    assert result[0]["ordered_by"] == "activation_preference"


def test_earlier_criteria_set_beats_a_better_sort_position():
    copies = db01(EX02={"content_index_state": "Crawling"}, EX03={"replay_queue_length": 60},
                  EX04={"copy_queue_length": 11, "status": "DisconnectedAndHealthy"})
    assert ranking(best_copy(copies)) == [("EX02", 2), ("EX04", 3), ("EX03", 6)]


@pytest.mark.parametrize("changes, server_changes, kwargs, left_out, reason", [
    ({"EX02": {"activation_suspended": True}}, {}, {}, "EX02", "activation suspended"),
    ({"EX02": {"auto_activation_policy": "Blocked"}}, {}, {}, "EX02", "auto activation policy Blocked"),
    ({"EX04": {"replay_lag_time": "7.00:00:00"}}, {}, {}, "EX04", "lagged copy (replay lag 7.00:00:00)"),
    ({"EX03": {"status": "Failed"}}, {}, {}, "EX03", "status Failed is not a candidate status"),
    ({"EX03": {"status": "ServiceDown"}}, {}, {}, "EX03", "status ServiceDown is not a candidate status"),
    ({}, {"EX02": {"database_copy_activation_disabled_and_move_now": True}}, {}, "EX02",
     "server EX02 has DatabaseCopyActivationDisabledAndMoveNow"),
    ({}, {"EX02": {"database_copy_auto_activation_policy": "Blocked"}}, {}, "EX02",
     "server EX02 has DatabaseCopyAutoActivationPolicy Blocked"),
    ({}, {"EX03": {"database_copy_auto_activation_policy": "IntrasiteOnly"}}, {}, "EX03",
     "server EX03 has DatabaseCopyAutoActivationPolicy IntrasiteOnly and is in another site"),
    ({}, {"EX02": {"maximum_active_databases": 0}}, {}, "EX02",
     "server EX02 has 0 active databases (MaximumActiveDatabases 0)"),
    ({}, {"EX02": {"maximum_preferred_active_databases": 0}}, {}, "EX02",
     "server EX02 has 0 active databases (MaximumPreferredActiveDatabases 0)"),
])
def test_blocked_copies_are_left_out(changes, server_changes, kwargs, left_out, reason):
    result = best_copy(db01(**changes), servers=servers(**server_changes), explain=True, **kwargs)
    assert left_out not in [row["server"] for row in result if row["rank"]]
    excluded = {row["server"]: row["excluded"] for row in result if not row["rank"]}
    assert excluded == {"EX01": "active copy", left_out: reason}
    assert all(row["criteria_set"] is None for row in result if not row["rank"])


@pytest.mark.parametrize("server_changes", [
    {"EX02": {"database_copy_auto_activation_policy": "Blocked"}},
    {"EX02": {"maximum_preferred_active_databases": 0}},
    {"EX03": {"database_copy_auto_activation_policy": "IntrasiteOnly"}},
])
def test_targeted_moves_ignore_what_only_binds_active_manager(server_changes):
    result = best_copy(db01(), servers=servers(**server_changes), targetless=False)
    assert ranking(result) == [("EX02", 1), ("EX03", 1), ("EX04", 1)]


def test_intrasite_only_in_the_same_site_is_a_candidate():
    result = best_copy(db01(), servers=servers(EX02={"database_copy_auto_activation_policy": "IntrasiteOnly"}))
    assert "EX02" in [row["server"] for row in result]


def test_maximum_active_counts_the_active_copies_of_every_database():
    copies = db01() + [copy(database="DB02", server="EX02", active=True, status="Mounted", pref=1),
                       copy(database="DB02", server="EX01", pref=2)]
    result = best_copy(copies, database="DB01", servers=servers(EX02={"maximum_active_databases": 1}), explain=True)
    assert [row["server"] for row in result if row["rank"]] == ["EX03", "EX04"]
    assert result[-1]["excluded"] == "server EX02 has 1 active databases (MaximumActiveDatabases 1)"


@pytest.mark.parametrize("component, state, excluded", [
    ("ServerWideOffline", "Inactive", True),
    ("HighAvailability", "Inactive", True),
    ("HubTransport", "Inactive", False),
    ("HighAvailability", "Active", False),
])
def test_components(component, state, excluded):
    components = [{"server": "EX02", "component": component, "state": state}]
    result = best_copy(db01(), servers=servers(), components=components)
    assert ("EX02" not in [row["server"] for row in result]) is excluded


def test_whole_exchange_info_result():
    result = {"copies": db01() + [copy(database="DB02", server="EX03")],
              "servers": servers(EX02={"database_copy_auto_activation_policy": "Blocked"}),
              "databases": [{"name": "DB01", "replay_lag_times": {"EX04": "7.00:00:00"}}],
              "components": [{"server": "EX03", "component": "HighAvailability", "state": "Inactive"}]}
    assert best_copy(result, database="db01") == []
    assert [row["excluded"] for row in best_copy(result, database="DB01", explain=True)] == [
        "active copy", "server EX02 has DatabaseCopyAutoActivationPolicy Blocked",
        "server EX03 has component HighAvailability Inactive", "lagged copy (replay lag 7.00:00:00)"]
    # explicit lists win over the result's own
    assert ranking(best_copy(result, database="DB01", servers=[], databases=[], components=[])) == [
        ("EX02", 1), ("EX03", 1), ("EX04", 1)]


def test_no_candidate_means_no_automatic_activation():
    copies = db01(EX02={"status": "Failed"}, EX03={"status": "Suspended"}, EX04={"status": "FailedAndSuspended"})
    assert best_copy(copies) == []


def test_single_copy_dict_and_empty_input():
    assert ranking(best_copy(copy())) == [("EX02", 1)]
    assert best_copy([]) == []
    assert best_copy({"copies": None}) == []


@pytest.mark.parametrize("value, kwargs, message", [
    (db01() + [copy(database="DB02")], {}, "best_copy: the copies belong to 2 databases (DB01, DB02): set database "
                                           "to one of them"),
    (db01(), {"database": "DB09"}, "best_copy: no copy of database DB09 in the input"),
    (db01(), {"database": 1}, "best_copy: database must be a database name, got 1"),
    (db01(), {"lossless": "true"}, "best_copy: lossless must be a boolean"),
    (db01(), {"servers": "EX01"}, "best_copy: servers must be a list of dictionaries"),
    ("DB01", {}, "best_copy: the input (copies) must be a list of dictionaries"),
    ([{"name": "x"}], {}, "best_copy: the copy has no 'status' key"),
])
def test_best_copy_bad_input(value, kwargs, message):
    with pytest.raises(HealthInputError) as exc:
        best_copy(value, **kwargs)
    assert str(exc.value).startswith(message)


def test_inputs_are_not_modified():
    copies = db01()
    snapshot = [dict(row) for row in copies]
    best_copy(copies, servers=servers(), explain=True)
    copy_health(copies[1])
    assert copies == snapshot
