"""The DR report (playbooks/dr_report.yml, role and module exchange.dr.dr_report) against the lab, in Chromium.

One lab (two-datacenters, clock x200) and one playbook run for the module:

1. a copy is suspended by mistake (the lab's ``admin-suspends-wrong-database-copy``);
2. EX02 goes into maintenance (``server_maintenance``; its registered result is the switchover result);
3. the playbook's role reads the organization once (exchange_info) and writes the report with the drift report of
   dr_config (a sample file in the contract's shape, exchange.dr/dr_config/v1);
4. the module again with the same data (idempotent), in check mode into a new directory (nothing written), and
   for a DAG that does not exist (fails naming ``dags``, nothing written);
5. the playbook itself in check mode (nothing written, not even the report's directory).

The page is then opened in headless Chromium (Debian's ``chromium``; ``tools/install_chromium.sh`` installs it):
the rendered DOM must show every server and database of the lab, in the SVG picture and in the tables, and a
1366x768 screenshot is taken.  With EXCHANGE_DR_UPDATE_DOCS=1 the screenshot replaces docs/images/dr_report.png
(the README shows it); otherwise the test leaves the working tree alone and only checks that picture's shape.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from exchange_lab import Lab
from harness import REPO, lab_env, role_defaults_and_spec, run_playbook

SCREENSHOT = REPO / "docs" / "images" / "dr_report.png"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FAST = {"poll_interval": 0.2, "move_retry_delay": 0.5, "move_retries": 1, "timeout": 60}

DR_CONFIG = {
    "format": "exchange.dr/dr_config/v1", "generated": "2026-03-14T10:00:00+00:00", "check_mode": True,
    "summary": {"ok": 2, "drift": 2, "fixed": 1, "failed": 0},
    "items": [
        {"kind": "cno_permission", "name": "CONTOSO\\DAG1$ on DAG1", "status": "ok",
         "reason": "compliant: CONTOSO\\DAG1$ has GenericAll on the DAG1 computer object", "drift": []},
        {"kind": "dns_record", "name": "mail.contoso.com", "status": "drift",
         "reason": "the client namespace's TTL is 3600 s, the DR runbook wants 300 s (runbooks \u00a713)",
         "drift": ["mail.contoso.com A 10.1.1.11 TTL 3600 (want 300)", "mail.contoso.com A 10.1.1.12 TTL 3600 (want 300)"]},
        {"kind": "dag_network", "name": "DAG1\\ReplicationDagNetwork01", "status": "fixed",
         "reason": "replication was disabled on the replication network", "drift": ["ReplicationEnabled False (want True)"]},
        {"kind": "site_activation", "name": "DC2 servers of DAG1", "status": "drift",
         "reason": "the DR site's servers may activate automatically",
         "drift": ["EX03 DatabaseCopyAutoActivationPolicy Unrestricted (want Blocked)",
                   "EX04 DatabaseCopyAutoActivationPolicy Unrestricted (want Blocked)"]},
        {"kind": "dns_record", "name": "autodiscover.contoso.com", "status": "ok", "reason": "compliant: TTL 300",
         "drift": []},
    ],
}


def chromium() -> str:
    """The chromium binary; its absence fails the test (the set-up installs it), it is not a reason to skip."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("chromium is not installed: run tools/install_chromium.sh (Debian's chromium package) - the DR "
                    "report must be checked in a real browser", pytrace=False)
    return found


def browse(page: Path, *args) -> subprocess.CompletedProcess:
    """Headless Chromium on ``page`` with a new empty profile, nothing from the network."""
    with tempfile.TemporaryDirectory(prefix="dr-report-chromium-") as profile:
        return subprocess.run([chromium(), *CHROMIUM_FLAGS, "--user-data-dir=%s" % profile, *args, page.as_uri()],
                              capture_output=True, text=True, timeout=120, check=False)


class Texts(HTMLParser):
    """Text of a rendered DOM, the SVG's <text>/<title> and the tables' cells apart."""

    def __init__(self):
        super().__init__()
        self.stack, self.svg, self.tables, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br", "rect", "circle", "path", "line"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag not in self.stack:
            return
        while self.stack:
            if self.stack.pop() == tag:
                break

    def handle_data(self, data):
        if "svg" in self.stack and self.stack[-1] in ("text", "title"):
            self.svg.append(data)
        elif "table" in self.stack:
            self.tables.append(data)


def playbook(tmp: Path, lab: Lab, out: Path) -> list:
    bad = tmp / "bad"
    checked = tmp / "checked"
    bad.mkdir()
    checked.mkdir()
    direct = {"facts": "{{ dr_report__facts }}", "host_sites": "{{ dr_report__host_sites }}"}
    return [{
        "name": "maintenance of EX02, then the DR report", "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "EX02 into maintenance", "exchange.dr.server_maintenance": dict(
                mailbox_server="EX02", state="maintenance",
                windows_connection="{{ hostvars['EX02'].exchange_dr_windows_connection }}",
                record_file=str(tmp / "ex02.json"), **FAST),
             "module_defaults": {"group/exchange.dr.exchange": "{{ hostvars['EX01'].exchange_dr_connection }}"},
             "register": "maintenance"},
            {"name": "the report", "ansible.builtin.include_role": {"name": "exchange.dr.dr_report"},
             "vars": {"dr_report_dest": str(out / "dr.html"), "dr_report_dr_config_report": str(tmp / "dr_config.json"),
                      "dr_report_switchover_results": ["{{ maintenance }}"], "dr_report_title": "Contoso DR report"}},
            {"name": "the same data again", "exchange.dr.dr_report": dict(
                direct, dest=str(out / "dr.html"), title="Contoso DR report", dr_config_report=str(tmp / "dr_config.json"),
                switchover_results=["{{ maintenance }}"]), "register": "again"},
            {"name": "check mode", "exchange.dr.dr_report": dict(direct, dest=str(checked / "dr.html")),
             "check_mode": True, "register": "check"},
            {"name": "a DAG that does not exist", "exchange.dr.dr_report": dict(
                direct, dest=str(bad / "dr.html"), dags=["DAG1", "DAG9"]), "register": "unknown_dag", "ignore_errors": True},
            {"name": "a missing drift report", "exchange.dr.dr_report": dict(
                direct, dest=str(bad / "dr.html"), dr_config_report=str(tmp / "missing.json")),
             "register": "missing_dr_config", "ignore_errors": True},
            {"name": "write what was registered", "ansible.builtin.copy": {
                "dest": str(tmp / "results.json"), "mode": "0600",
                "content": "{{ {'maintenance': maintenance, 'role': dr_report_result, 'again': again, 'check': check, "
                           "'unknown_dag': unknown_dag, 'missing_dr_config': missing_dr_config} | to_json }}"}},
        ],
    }]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dr_report")
    (tmp / "dr_config.json").write_text(json.dumps(DR_CONFIG))
    out = tmp / "reports"  # created by the role
    with lab_env(tmp, "two-datacenters", home="home") as env:
        lab = env["lab"]
        lab.inject_fault({"id": "admin-suspends-wrong-database-copy", "target": "DB03\\EX04"})
        played = run_playbook(env, playbook(tmp, lab, out), name="play")
        assert played["rc"] == 0, played["output"]
        state = played["state"]
        checked = run_playbook(env, REPO / "playbooks" / "dr_report.yml", "--check",
                               "-e", "dr_report_dest=%s" % (tmp / "c" / "dr.html"), name="checked")
        yield {"tmp": tmp, "out": out, "output": played["stdout"], "state": state, "checked": checked,
               "results": json.loads((tmp / "results.json").read_text()),
               "servers": sorted(s["name"] for s in state["exchange_servers"]),
               "databases": sorted(d["name"] for d in state["databases"])}


@pytest.fixture(scope="module")
def rendered(run):
    """The page as headless Chromium renders it (DOM text), and its screenshot (copied under docs/ with
    EXCHANGE_DR_UPDATE_DOCS=1)."""
    page = run["out"] / "dr.html"
    dom = browse(page, "--dump-dom")
    assert dom.returncode == 0 and "<svg" in dom.stdout, dom.stderr[-2000:]
    shot = run["tmp"] / "dr_report.png"
    picture = browse(page, "--screenshot=%s" % shot, "--window-size=1366,768", "--hide-scrollbars")
    assert picture.returncode == 0 and shot.is_file(), picture.stderr[-2000:]
    if os.environ.get("EXCHANGE_DR_UPDATE_DOCS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    texts = Texts()
    texts.feed(dom.stdout)
    return {"dom": dom.stdout, "texts": texts, "png": shot.read_bytes()}


def test_every_server_and_database_is_drawn_and_listed(run, rendered):
    svg, tables = " ".join(rendered["texts"].svg), " ".join(rendered["texts"].tables)
    assert run["servers"] == ["EX01", "EX02", "EX03", "EX04"] and len(run["databases"]) == 8
    for name in run["servers"] + run["databases"]:
        assert re.search(r"\b%s\b" % name, svg), "%s is not in the picture" % name
        assert re.search(r"\b%s\b" % name, tables), "%s is not in the tables" % name
    for site in ("AD site DC1", "AD site DC2"):
        assert site in svg
    assert "FS01.contoso.com" in svg and "FS02.contoso.com" in svg  # witness and alternate witness
    svg_count = rendered["dom"].count("<svg")
    assert svg_count == 1  # one DAG


def test_the_picture_shows_states_the_operator_needs(run, rendered):
    svg = " ".join(rendered["texts"].svg)
    assert "maintenance" in svg and "PAM" in svg and "lag 7d" in svg
    # the suspended copy of DB03 on EX04, and the lagged copy of DB08 on EX04
    assert "DB03\\EX04, passive, Suspended" in svg
    assert re.search(r"DB08\\EX04, passive, Healthy, preference 4, copy queue 0, replay queue \d+, replay lag 7d", svg)
    # EX02 is in maintenance with its databases moved off (the picture shows no active copy there)
    data = json.loads((run["out"] / "dr.json").read_text())
    (dag,) = data["dags"]
    ex02 = next(s for s in dag["servers"] if s["name"] == "EX02")
    assert ex02["maintenance"] and ex02["activation_blocked"] and ex02["activation_policy"] == "Blocked"
    assert not [c for d in dag["databases"] for c in d["copies"] if c["server"] == "EX02" and c["active"]]
    assert [w["role"] for w in dag["witnesses"]] == ["witness", "alternate witness"]
    assert [(s["name"], [w["server"] for w in s["witnesses"]]) for s in dag["sites"]] == \
        [("DC1", ["FS01.contoso.com"]), ("DC2", ["FS02.contoso.com"])]


def test_drift_items_and_switchover_are_reported(run, rendered):
    tables = " ".join(rendered["texts"].tables)
    for item in DR_CONFIG["items"]:
        assert item["name"] in tables and item["reason"] in tables
    assert "EX03 DatabaseCopyAutoActivationPolicy Unrestricted (want Blocked)" in tables
    data = json.loads((run["out"] / "dr.json").read_text())
    assert data["format"] == "exchange.dr/dr_report/v1"
    assert data["dr_config"]["summary"] == {"ok": 2, "drift": 2, "fixed": 1, "failed": 0}
    moved = {r["database"]: (r["before"], r["after"]) for r in data["switchover"]["databases"] if r["moved"]}
    placement = {d["name"]: d["active_server"] for d in run["state"]["databases"]}
    assert sorted(moved) == ["DB02", "DB04", "DB08"]  # the databases that were active on EX02
    assert all(before == "EX02" and after == placement[db] != "EX02" for db, (before, after) in moved.items())
    assert data["switchover"]["logs_lost"] == 0
    assert len(data["switchover"]["databases"]) == 8  # every database, moved or not
    assert run["results"]["role"]["switchover"] == {"databases_moved": 3, "logs_lost": 0}


def test_self_contained_no_script_nothing_fetched(run):
    page = (run["out"] / "dr.html").read_text()
    lowered = page.lower()
    for forbidden in ("<script", "javascript:", "http://", "https://", "url(", "@import", "@font-face", "<link",
                      "<img", "<iframe", "<object", "<embed", " src=", "xlink:href"):
        assert forbidden not in lowered, forbidden
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', page))
    assert "@media print" in page


@pytest.mark.parametrize("which", ["taken now", "shown by the README"])
def test_screenshot_is_a_small_1366x768_png(rendered, which):
    png = rendered["png"] if which == "taken now" else SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1366, 768)
    assert len(png) < 300_000


def test_idempotent_check_mode_and_bad_input(run):
    results = run["results"]
    assert results["role"]["changed"] is True and results["again"]["changed"] is False
    assert results["check"]["changed"] is True and not list((run["tmp"] / "checked").iterdir())
    assert results["unknown_dag"]["failed"] is True
    assert results["unknown_dag"]["msg"].startswith("dags: no DAG (or Exchange 2007 clustered mailbox server) named "
                                                    "DAG9 in the organization; it has DAG1")
    assert results["missing_dr_config"]["msg"].startswith("dr_config_report: %s does not exist" % (run["tmp"] / "missing.json"))
    assert not list((run["tmp"] / "bad").iterdir())  # nothing written, not even a temporary file
    assert "Passw0rd!" not in run["output"] and "Passw0rd!" not in (run["out"] / "dr.json").read_text()


def test_playbook_in_check_mode_writes_nothing(run):
    checked = run["checked"]
    assert checked["rc"] == 0, checked["output"]
    assert not (run["tmp"] / "c").exists()
    assert "DR report of DAG1: %s" % (run["tmp"] / "c" / "dr.html") in " ".join(checked["stdout"].split())


def test_role_defaults_match_argument_specs():
    defaults, spec = role_defaults_and_spec("dr_report")
    assert set(defaults) == set(spec)
    for name, option in spec.items():
        assert option.get("default") == defaults[name], name


@pytest.fixture(scope="module")
def run_2007(tmp_path_factory):
    """The playbook against the Exchange 2007 CCR/SCR lab: the clustered mailbox server drawn like a DAG."""
    tmp = tmp_path_factory.mktemp("dr_report_2007")
    with lab_env(tmp, "exchange2007-ccr-scr", home="home") as env:
        run = run_playbook(env, REPO / "playbooks" / "dr_report.yml", "-e", "dr_report_dest=%s" % (tmp / "dr.html"))
        assert run["rc"] == 0, run["output"]
        yield {"tmp": tmp, "data": json.loads((tmp / "dr.json").read_text())}


def test_exchange_2007_ccr_and_scr_view(run_2007):
    (cms,) = run_2007["data"]["dags"]
    assert (cms["name"], cms["kind"], cms["active_node"]) == ("CMS1", "cms", "MBX1A")
    # the SCR target's site comes from the inventory (exchange_dr_site): Exchange 2007 does not list standby nodes
    assert [(s["name"], s["servers"]) for s in cms["sites"]] == [("DC1", ["MBX1A", "MBX1B"]), ("DC2", ["MBX2A"])]
    assert {(db["name"], c["server"], c["kind"]) for db in cms["databases"] for c in db["copies"] if not c["active"]} == {
        ("CMS1\\SG1", "MBX1B", "ccr"), ("CMS1\\SG1", "MBX2A", "scr"),
        ("CMS1\\SG2", "MBX1B", "ccr"), ("CMS1\\SG2", "MBX2A", "scr")}
    dom = browse(run_2007["tmp"] / "dr.html", "--dump-dom")
    texts = Texts()
    texts.feed(dom.stdout)
    svg = " ".join(texts.svg)
    for name in ("MBX1A", "MBX1B", "MBX2A", "SG1 (DB1)", "SG2 (DB2)", "SCR target", "active node"):
        assert name in svg, name
