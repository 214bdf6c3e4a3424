"""exchange.dr.dr_report and module_utils/report.py: the model, the switchover and drift inputs, the page, the module.

The facts are small hand-made exchange_info results in the shape the lab returns (two-datacenters, Exchange
2007 CCR/SCR); the browser test is tests/integration/test_dr_report.py.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange.dr.plugins.module_utils import report
from ansible_collections.exchange.dr.plugins.modules import dr_report

SERVERS = [("EX01", "DC1"), ("EX02", "DC1"), ("EX03", "DC2"), ("EX04", "DC2")]
HOME = {"DB01": "EX01", "DB02": "EX02", "DB05": "EX03"}


def facts_2019():
    servers = [{"name": name, "fqdn": "%s.contoso.com" % name.lower(), "site": site, "product": "2019", "dag": "DAG1",
                "database_copy_auto_activation_policy": "Unrestricted",
                "database_copy_activation_disabled_and_move_now": False} for name, site in SERVERS]
    dag = {"name": "DAG1", "servers": [n for n, _s in SERVERS], "operational_servers": [n for n, _s in SERVERS],
           "stopped_mailbox_servers": [], "servers_in_maintenance": [], "primary_active_manager": "EX01",
           "witness_server": "FS01.contoso.com", "witness_directory": "C:\\FSW", "alternate_witness_server": "FS02.contoso.com",
           "alternate_witness_directory": "C:\\FSW", "witness_share_in_use": "Primary", "datacenter_activation_mode": "DagOnly",
           "ip_addresses": ["10.1.1.50"]}
    databases, copies = [], []
    for db, home in HOME.items():
        order = [home] + [n for n, _s in SERVERS if n != home]
        databases.append({"name": db, "server": home, "master": "DAG1", "servers": order, "mounted": True,
                          "activation_preference": {s: i + 1 for i, s in enumerate(order)},
                          "replay_lag_times": {s: ("7.00:00:00" if s == "EX04" and db == "DB02" else "00:00:00") for s in order}})
        for i, server in enumerate(order):
            copies.append({"name": "%s\\%s" % (db, server), "database": db, "server": server, "active_server": home,
                           "active": server == home, "status": "Mounted" if server == home else "Healthy",
                           "activation_preference": i + 1, "activation_suspended": False, "copy_queue_length": 0,
                           "replay_queue_length": 2016 if (db, server) == ("DB02", "EX04") else 0,
                           "content_index_state": "NotApplicable", "error_message": None, "suspend_comment": None})
    components = [{"server": n, "component": c, "state": "Active"} for n, _s in SERVERS
                  for c in ("ServerWideOffline", "HubTransport")]
    return {"changed": False, "servers": servers, "dags": [dag], "databases": databases, "copies": copies,
            "components": components}


def facts_2007():
    servers = [{"name": "CMS1", "fqdn": "cms1.contoso.com", "site": "DC1", "product": "2007", "dag": None,
                "redundant_machines": ["MBX1A", "MBX1B"]},
               {"name": "CAS1", "fqdn": "cas1.contoso.com", "site": "DC1", "product": "2007", "dag": None,
                "redundant_machines": []}]
    cms = {"name": "CMS1", "state": "Online", "active_node": "MBX1A", "quorum_owner": "MBX1A",
           "operational_machines": ["MBX1A", "MBX1B"], "redundant_machines": ["MBX1A", "MBX1B"], "failed_resources": []}
    databases = [{"name": "DB%d" % i, "server": "CMS1", "master": None, "servers": ["CMS1"], "mounted": True,
                  "storage_group": "CMS1\\SG%d" % i} for i in (1, 2)]
    copies = []
    for i in (1, 2):
        for server, kind, replay in (("MBX1B", "ccr", 0), ("MBX2A", "scr", 338)):
            copies.append({"name": "CMS1\\SG%d\\%s" % (i, server), "database": "CMS1\\SG%d" % i, "server": server,
                           "active_server": "MBX1A", "active": False, "status": "Healthy", "activation_preference": None,
                           "activation_suspended": None, "copy_queue_length": 0, "replay_queue_length": replay,
                           "content_index_state": None, "error_message": None, "suspend_comment": None, "kind": kind})
    return {"servers": servers, "dags": [], "databases": databases, "copies": copies, "components": [],
            "clustered_mailbox_servers": [cms]}


# ----------------------------------------------------------------------------- model
def test_build_places_servers_copies_and_witnesses():
    data = report.build(facts_2019(), host_sites={"FS01": "DC1", "fs02": "DC2"}, generated="2026-03-14T10:00:00+00:00")
    (dag,) = data["dags"]
    assert [(s["name"], s["servers"], [w["server"] for w in s["witnesses"]]) for s in dag["sites"]] == [
        ("DC1", ["EX01", "EX02"], ["FS01.contoso.com"]), ("DC2", ["EX03", "EX04"], ["FS02.contoso.com"])]
    assert dag["witnesses_apart"] == [] and [w["in_use"] for w in dag["witnesses"]] == [True, False]
    db02 = next(d for d in dag["databases"] if d["name"] == "DB02")
    assert [c["server"] for c in db02["copies"]] == ["EX02", "EX01", "EX03", "EX04"]  # by activation preference
    lagged = db02["copies"][-1]
    assert (lagged["replay_lag"], lagged["state"]) == ("7d", "lagged")
    assert db02["copies"][0]["state"] == "active" and db02["active_server"] == "EX02"
    assert data["summary"] == {"dags": 1, "servers": 4, "databases": 3, "copies": 12, "copies_not_healthy": 0,
                               "databases_not_mounted": 0, "servers_in_maintenance": 0, "servers_blocked": 0}
    assert next(s for s in dag["servers"] if s["name"] == "EX01")["pam"] is True


def test_witness_without_a_known_site_is_drawn_apart():
    data = report.build(facts_2019())
    (dag,) = data["dags"]
    assert [w["server"] for w in dag["witnesses_apart"]] == ["FS01.contoso.com", "FS02.contoso.com"]
    assert "witness site" in report.svg_group(dag)


def test_maintenance_blocks_and_unhealthy_copies():
    facts = facts_2019()
    facts["dags"][0]["servers_in_maintenance"] = ["EX02"]
    facts["dags"][0]["stopped_mailbox_servers"] = ["EX04"]
    for row in facts["components"]:
        if row["server"] == "EX02":
            row["state"] = "Inactive"
    facts["servers"][2]["database_copy_auto_activation_policy"] = "Blocked"
    bad = next(c for c in facts["copies"] if c["name"] == "DB01\\EX03")
    bad.update(status="FailedAndSuspended", activation_suspended=True, copy_queue_length=120)
    dag = report.build(facts)["dags"][0]
    by = {s["name"]: s for s in dag["servers"]}
    assert by["EX02"]["maintenance"] == ["in ServersInMaintenance", "ServerWideOffline Inactive", "HubTransport Inactive"]
    assert by["EX03"]["activation_blocked"] and by["EX04"]["stopped"]
    svg = report.svg_group(dag)
    assert "activation Blocked" in svg and ">stopped<" in svg and ">maintenance<" in svg
    assert re.search(r"DB01\\EX03, passive, FailedAndSuspended, preference \d, copy queue 120, .*activation suspended", svg)
    assert 'class="row st-bad"' in svg and ">blk<" in svg


def test_unknown_dag_names_the_option():
    with pytest.raises(report.ReportInputError, match=r"^dags: no DAG .* named DAG9 in the organization; it has DAG1"):
        report.build(facts_2019(), dags=["dag1", "DAG9"])
    assert [g["name"] for g in report.build(facts_2019(), dags=["dag1"])["dags"]] == ["DAG1"]


@pytest.mark.parametrize("facts, message", [
    ("nope", "facts: expected the registered result of exchange.dr.exchange_info"),
    ({"servers": []}, "facts: the exchange_info result has no servers or dags"),
    ({"servers": [], "dags": "DAG1"}, "facts: dags must be a list of dictionaries"),
])
def test_bad_facts(facts, message):
    with pytest.raises(report.ReportInputError, match="^" + re.escape(message)):
        report.build(facts)


def test_exchange_2007_ccr_and_scr_view():
    data = report.build(facts_2007(), host_sites={"MBX2A": "DC2"})
    (cms,) = data["dags"]
    assert cms["kind"] == "cms" and cms["active_node"] == "MBX1A"
    assert [(s["name"], s["servers"]) for s in cms["sites"]] == [("DC1", ["MBX1A", "MBX1B"]), ("DC2", ["MBX2A"])]
    assert [s["role"] for s in cms["servers"]] == ["active node", "passive node", "SCR target"]
    sg1 = cms["databases"][0]
    assert sg1["label"] == "SG1 (DB1)" and [(c["server"], c["active"], c["kind"]) for c in sg1["copies"]] == [
        ("MBX1A", True, None), ("MBX1B", False, "ccr"), ("MBX2A", False, "scr")]
    page = report.render_html(data)
    assert "Clustered mailbox server (Exchange 2007 CCR/SCR) CMS1" in page and "SCR target" in page
    assert 'class="q q-warn"' not in page  # an SCR copy's replay queue is its built-in lag, not a warning
    # without the sites of the standby machines, the SCR target is in a "site unknown" column
    assert report.build(facts_2007())["dags"][0]["sites"][-1] == {"name": None, "servers": ["MBX2A"], "witnesses": []}


def test_many_copies_are_drawn_as_badges():
    facts = facts_2019()
    extra = []
    for i in range(40):
        extra.append(dict(facts["copies"][1], name="X%02d\\EX01" % i, database="X%02d" % i, server="EX01", active=False))
        facts["databases"].append(dict(facts["databases"][0], name="X%02d" % i, master="DAG1"))
    facts["copies"] += extra
    svg = report.svg_group(report.build(facts)["dags"][0])
    assert svg.count('class="badge') == 43 + 3 * 3 and 'class="row' not in svg
    assert "<title>X07\\EX01, passive, Healthy" in svg


# ----------------------------------------------------------------------------- inputs
DR_CONFIG = {"format": "exchange.dr/dr_config/v1", "generated": "2026-03-14T10:00:00+00:00", "check_mode": True,
             "summary": {}, "items": [
                 {"kind": "dns_record", "name": "mail.contoso.com", "status": "drift", "reason": "TTL 3600 (want 300)",
                  "drift": ["mail A 10.1.1.11 TTL 3600"]},
                 {"kind": "cno_permission", "name": "CLU2$ on CMS1", "status": "ok", "reason": "compliant: GenericAll"}]}


def test_read_dr_config_counts_items():
    dr = report.read_dr_config(DR_CONFIG)
    assert dr["summary"] == {"ok": 1, "drift": 1, "fixed": 0, "failed": 0}
    assert dr["items"][1]["drift"] == [] and dr["check_mode"] is True


@pytest.mark.parametrize("data, message", [
    ([], "not a dr_config report"),
    ({"format": "exchange.dr/dr_config/v9", "items": []}, "format 'exchange.dr/dr_config/v9' is not one this report reads"),
    ({"format": "exchange.dr/dr_config/v1", "items": {}}, "'items' must be a list"),
    ({"format": "exchange.dr/dr_config/v1", "items": [{"status": "broken"}]}, "item 0 has no status of ok, drift"),
])
def test_read_dr_config_refuses(data, message):
    with pytest.raises(report.ReportInputError, match="^dr_config_report: " + re.escape(message)):
        report.read_dr_config(data)


RESTORE = {"changed": True, "dag": "DAG1", "logs_lost": 3,
           "before": {"databases": {"DB01": {"server": "EX01", "mounted": False}, "DB05": {"server": "EX03", "mounted": True}}},
           "after": {"databases": {"DB01": {"server": "EX03", "mounted": True}, "DB05": {"server": "EX03", "mounted": True}}},
           "activation": [{"database": "DB01", "from": "EX01", "to": "EX03", "action": "move", "how": "explicit",
                           "logs_lost": 3},
                          {"database": "DB05", "from": "EX03", "to": "EX03", "action": "none", "how": "automatic",
                           "logs_lost": None}]}
SWITCHOVER = {"changed": True, "database": "DB02", "action": "move", "logs_lost": 0,
              "before": {"active_server": "EX02", "mounted": True}, "after": {"active_server": "EX01", "mounted": True}}
REBALANCE = {"changed": True, "before": {"DB02": "EX01"}, "after": {"DB02": "EX02"},
             "moved": [{"database": "DB02", "from_server": "EX01", "to_server": "EX02", "logs_lost": 1}]}
MAINTENANCE = {"changed": True, "server": "EX02", "state": "maintenance",
               "before": {"server": "EX02", "active_databases": ["DB02"]}, "after": {"server": "EX02", "active_databases": []}}
FACT = {"action": "switchover", "dag": "DAG1", "databases": {"DB01": "EX03", "DB02": "EX04"}, "logs_lost": 0}


def test_switchover_moves_of_each_module():
    restore = report.switchover_moves(RESTORE)
    assert restore["logs_lost"] == 3 and restore["sources"][0]["kind"] == "dag_restore"
    assert restore["databases"]["DB01"] == {"before": "EX01", "before_mounted": False, "after": "EX03",
                                            "after_mounted": True, "logs_lost": 3, "how": "move (explicit)"}
    assert report.switchover_moves([SWITCHOVER])["databases"]["DB02"]["after"] == "EX01"
    # applied in order: first before, last after, logs lost added up; a looped register is unfolded
    chained = report.switchover_moves({"results": [SWITCHOVER, REBALANCE, {"skipped": True}]})
    assert chained["databases"]["DB02"]["before"] == "EX02" and chained["databases"]["DB02"]["after"] == "EX02"
    assert chained["logs_lost"] == 1 and [s["kind"] for s in chained["sources"]] == ["database_switchover", "dag_rebalance"]
    maintenance = report.switchover_moves(MAINTENANCE)["databases"]["DB02"]
    assert maintenance["before"] == "EX02" and maintenance["after"] is None  # the current placement says where
    assert report.switchover_moves(FACT)["databases"]["DB02"]["after"] == "EX04"


def test_switchover_rows_cover_every_database():
    data = report.build(facts_2019(), switchover=report.switchover_moves(MAINTENANCE))
    rows = {r["database"]: r for r in data["switchover"]["databases"]}
    assert sorted(rows) == ["DB01", "DB02", "DB05"]
    assert rows["DB02"]["before"] == "EX02" and rows["DB02"]["after"] == "EX02" and not rows["DB02"]["moved"]
    assert rows["DB01"]["in_result"] is False and rows["DB01"]["after"] == "EX01"
    page = report.render_html(data)
    assert "(not in the result)" in page and "server_maintenance (maintenance, changed)" in page


@pytest.mark.parametrize("results, message", [
    ("DB01", "expected a registered result"),
    ([{"foo": 1}], "item 0 is not the result of exchange.dr.dag_restore"),
    ([1], "item 0 is not a registered result"),
])
def test_switchover_refuses(results, message):
    with pytest.raises(report.ReportInputError, match="^switchover_results: " + re.escape(message)):
        report.switchover_moves(results)


# ----------------------------------------------------------------------------- page
def test_page_is_self_contained_and_escaped():
    facts = facts_2019()
    facts["warnings"] = ["<script>alert(1)</script> EX05: Get-Queue failed"]
    data = report.build(facts, dr_config=report.read_dr_config(DR_CONFIG), switchover=report.switchover_moves(RESTORE),
                        problems=facts["warnings"], title="Contoso & co")
    page = report.render_html(data)
    lowered = page.lower()
    for forbidden in ("<script", "http://", "https://", "url(", "@import", "@font-face", "<link", " src="):
        assert forbidden not in lowered, forbidden
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<title>Contoso &amp; co</title>" in page
    assert "@media print" in page and page.count("<svg") == 1
    assert 'class="st st-drift">drift<' in page and "logs lost" in page


# ----------------------------------------------------------------------------- module
def run(capsys, args, check=False):
    with patch_module_args(dict(args, _ansible_check_mode=check)):
        with pytest.raises(SystemExit):
            dr_report.main()
    return json.loads(capsys.readouterr().out)


def test_module_writes_then_is_idempotent(tmp_path, capsys):
    (tmp_path / "dr_config.json").write_text(json.dumps(DR_CONFIG))
    args = {"facts": facts_2019(), "dest": str(tmp_path / "dr.html"), "dr_config_report": str(tmp_path / "dr_config.json"),
            "switchover_results": [SWITCHOVER], "host_sites": {"FS01": "DC1"}}
    first = run(capsys, args)
    assert first["changed"] is True and first["json_dest"] == str(tmp_path / "dr.json")
    assert first["dr_config"] == {"ok": 1, "drift": 1, "fixed": 0, "failed": 0}
    assert first["switchover"] == {"databases_moved": 1, "logs_lost": 0}
    data = json.loads((tmp_path / "dr.json").read_text())
    assert data["format"] == report.FORMAT and first["size"] == len((tmp_path / "dr.html").read_bytes())
    html_before = (tmp_path / "dr.html").read_text()
    second = run(capsys, args)
    assert second["changed"] is False and (tmp_path / "dr.html").read_text() == html_before
    changed = copy.deepcopy(args)
    changed["facts"]["copies"][1]["copy_queue_length"] = 42
    assert run(capsys, changed, check=True)["changed"] is True
    assert (tmp_path / "dr.html").read_text() == html_before  # check mode wrote nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dr.html", "dr.json", "dr_config.json"]


@pytest.mark.parametrize("extra, message", [
    ({"dags": ["DAG9"]}, "dags: no DAG (or Exchange 2007 clustered mailbox server) named DAG9"),
    ({"dr_config_report": "/nonexistent/dr_config.json"}, "dr_config_report: /nonexistent/dr_config.json does not exist"),
    ({"switchover_results": [{"foo": 1}]}, "switchover_results: item 0 is not the result"),
    ({"dest": "/nonexistent/dir/dr.html"}, "dest: directory /nonexistent/dir does not exist"),
])
def test_module_bad_input_writes_nothing(tmp_path, capsys, extra, message):
    args = dict({"facts": facts_2019(), "dest": str(tmp_path / "dr.html")}, **extra)
    result = run(capsys, args)
    assert result["failed"] is True and result["msg"].startswith(message), result["msg"]
    assert list(tmp_path.iterdir()) == []


def test_module_bad_dr_config_json(tmp_path, capsys):
    (tmp_path / "dr_config.json").write_text('{"format": "exchange.dr/dr_config/v1", "items": [')
    result = run(capsys, {"facts": facts_2019(), "dest": str(tmp_path / "dr.html"),
                          "dr_config_report": str(tmp_path / "dr_config.json")})
    assert result["msg"].startswith("dr_config_report: %s cannot be read as JSON" % (tmp_path / "dr_config.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dr_config.json"]
