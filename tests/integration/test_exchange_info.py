"""exchange.dr.exchange_info through ansible-playbook against the lab.

One lab and one playbook run for the whole module: the playbook runs every case (the good
ones and the failing ones with ``ignore_errors``), writes what each task registered to a JSON
file, and the tests below assert on that file, on the playbook's output and on the lab's
audit log.  The collection is reached through a temporary ``ansible_collections/exchange/dr``
symlink to the repository and ``ANSIBLE_COLLECTIONS_PATH``.
"""

from __future__ import annotations

import json
import re
import socket
import sys
from pathlib import Path

import pytest
import yaml

from exchange_lab import Lab
from harness import ADMIN, PASSWORD, harness_env, run_playbook

VIEWER = "CONTOSO\\viewer"
SERVERS = ["EX01", "EX02", "EX03", "EX04"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def task(name: str, register: str, failing: bool = False, **options) -> dict:
    entry = {"name": name, "exchange.dr.exchange_info": options, "register": register}
    if failing:
        entry["ignore_errors"] = True
    return entry


CASES = ("admin", "viewer", "query", "check", "ntlm_http", "basic_http_allowed", "wrong_password", "wrong_port",
         "untrusted", "basic_http", "bad_subset", "bad_query")


def playbook(lab: Lab, results: Path) -> list:
    ex01 = lab.host("EX01")
    https = {"port": ex01["https_port"], "ca_trust_path": lab.ca_file}
    http = {"port": ex01["http_port"], "ssl": False}
    return [{
        "name": "exchange_info against the lab",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/exchange.dr.exchange": {
            "server": "127.0.0.1", "auth": "basic", "username": ADMIN, "password": PASSWORD, "no_proxy": True}},
        "tasks": [
            task("everything as the administrator", "admin", **https),
            task("everything as the view-only user", "viewer", username=VIEWER, **https),
            task("copies and dags with a query", "query", gather_subset=["copies", "dags"],
                 query="{passive: length(copies[?!active]), members: dags[?name=='DAG1'].servers | [0]}", **https),
            {**task("check mode", "check", gather_subset=["dags"], **https), "check_mode": True},
            task("NTLM over HTTP (message encryption)", "ntlm_http", auth="ntlm", gather_subset=["servers"], **http),
            task("Basic over HTTP when allowed", "basic_http_allowed", allow_unencrypted=True,
                 gather_subset=["dags"], **http),
            task("wrong password", "wrong_password", True, password="wrong", **https),
            task("wrong port", "wrong_port", True, port=free_port(), ca_trust_path=lab.ca_file),
            task("https with an untrusted certificate", "untrusted", True, port=ex01["https_port"]),
            task("basic over http refused", "basic_http", True, **http),
            task("unknown subset", "bad_subset", True, gather_subset=["servers", "mailboxes"], **https),
            task("invalid query", "bad_query", True, query="copies[?status==", **https),
            {"name": "write what every case registered", "ansible.builtin.copy": {
                "dest": str(results), "mode": "0600",
                "content": "{{ %s | to_json }}" % ("{" + ", ".join("'%s': %s" % (c, c) for c in CASES) + "}")}},
        ],
    }]


def localhost_env(tmp: Path, lab: Lab) -> dict:
    """The harness env of ``lab`` with an inventory of localhost only (the connection is in module_defaults)."""
    env = harness_env(tmp, lab, inventory=None)
    env["inventory"] = tmp / "inventory.yml"
    env["inventory"].write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    return env


def play(env: dict, plays: list) -> dict:
    """ansible-playbook on ``plays``; it must succeed."""
    run = run_playbook(env, plays, name="playbook")
    assert run["rc"] == 0, run["output"]
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exchange_info")
    with Lab("two-datacenters", speed=200) as lab:
        results = tmp / "results.json"
        played = play(localhost_env(tmp, lab), playbook(lab, results))
        yield {"results": json.loads(results.read_text()), "output": played["output"],
               "audit": lab.audit(), "lab": lab}


def test_servers_dags_copies_as_administrator(run):
    admin = run["results"]["admin"]
    assert admin["changed"] is False and not admin.get("failed")
    assert [s["name"] for s in admin["servers"]] == SERVERS
    assert {s["site"] for s in admin["servers"]} == {"DC1", "DC2"}
    assert all(s["product"] == "2019" and s["dag"] == "DAG1" for s in admin["servers"])
    (dag,) = admin["dags"]
    assert dag["name"] == "DAG1" and dag["servers"] == SERVERS and dag["datacenter_activation_mode"] == "DagOnly"
    assert len(admin["databases"]) == 8
    assert len(admin["copies"]) == 32
    assert sum(c["active"] for c in admin["copies"]) == 8
    db08 = next(d for d in admin["databases"] if d["name"] == "DB08")
    assert db08["replay_lag_times"]["EX04"] == "7.00:00:00"
    assert isinstance(db08["database_size"], int)
    assert {c["server"] for c in admin["components"]} == set(SERVERS)
    assert {n["name"] for n in admin["networks"]} == {"MapiDagNetwork", "ReplicationDagNetwork01"}
    assert {q["server"] for q in admin["queues"]} == set(SERVERS)
    # one call per kind (component states of every server in one, the names as pipeline input),
    # queues once per transport server
    assert admin["round_trips"] == 7 + len(SERVERS)
    assert not admin.get("warnings")


def test_viewer_reads_the_same(run):
    viewer, admin = run["results"]["viewer"], run["results"]["admin"]
    assert not viewer.get("failed")
    for kind in ("servers", "dags", "copies", "networks"):
        assert len(viewer[kind]) == len(admin[kind])
    calls = [a for a in run["audit"] if a["user"].lower().endswith("viewer")]
    assert calls and all(a["outcome"] == "ok" for a in calls)


def test_query(run):
    assert run["results"]["query"]["query_result"] == {"passive": 24, "members": SERVERS}
    assert set(run["results"]["query"]) >= {"copies", "dags"}
    assert "servers" not in run["results"]["query"]


def test_check_mode_and_other_transports(run):
    assert run["results"]["check"]["dags"][0]["name"] == "DAG1"
    assert [s["name"] for s in run["results"]["ntlm_http"]["servers"]] == SERVERS
    assert run["results"]["basic_http_allowed"]["dags"][0]["name"] == "DAG1"


def test_only_reads_were_sent(run):
    cmdlets = {a["cmdlet"] for a in run["audit"]}
    assert cmdlets <= {"Get-ExchangeServer", "Get-MailboxServer", "Get-DatabaseAvailabilityGroup", "Get-MailboxDatabase",
                       "Get-MailboxDatabaseCopyStatus", "Get-ServerComponentState",
                       "Get-DatabaseAvailabilityGroupNetwork", "Get-Queue", "Select-Object"}


@pytest.mark.parametrize("case, expected", [
    ("wrong_password", r"401 from 127\.0\.0\.1:\d+ - check username/password; Kerberos needs a UPN user name"),
    ("wrong_port", r"nothing listens on 127\.0\.0\.1:\d+ \(connection refused\)"),
    ("untrusted", r"the TLS certificate of 127\.0\.0\.1:\d+ is not trusted .* set ca_trust_path .* validate_certs false"),
    ("basic_http", r"auth basic over plain HTTP \(ssl false\) .* use ssl true \(HTTPS\), or set allow_unencrypted true"),
    ("bad_subset", r"value of gather_subset must be one or more of: all, servers, dags, databases, copies, components, "
                   r"networks, queues, clustered_mailbox_servers\. Got no match for: mailboxes"),
    ("bad_query", r"^query is not a valid JMESPath expression: "),
])
def test_failures_are_one_clear_line(run, case, expected):
    result = run["results"][case]
    assert result["failed"] is True
    assert re.search(expected, result["msg"]), result["msg"]
    assert "\n" not in result["msg"]
    assert PASSWORD not in result["msg"]


def test_no_traceback_and_no_secret_in_output(run):
    assert "Traceback" not in run["output"]
    # ansible-core 2.19 registers "(traceback unavailable)" for any failure without a captured traceback
    assert all(r.get("exception", "(traceback unavailable)") == "(traceback unavailable)" for r in run["results"].values())
    assert PASSWORD not in run["output"]


# ----------------------------------------------------------------------------- Exchange 2007
# exchange2007-ccr-scr (seed 000): CMS1 runs on the cluster CLU1 (MBX1A active, MBX1B), SCR
# target MBX2A for both storage groups (replay lag 1 day), CAS1/CAS2 Client Access + Hub
# Transport.  Every 2007 host serves Microsoft.PowerShell with the Exchange snap-in; the module
# talks to CAS1, a server holding no copy, so every read must name what it reads.
E2007_CASES = ("e2007_all", "e2007_viewer", "e2007_copies")


def playbook_2007(lab: Lab, results: Path, cases: tuple, **extra) -> list:
    cas1 = lab.host("CAS1")
    connection = {"server": "127.0.0.1", "port": cas1["https_port"], "ca_trust_path": lab.ca_file, "auth": "basic",
                  "username": ADMIN, "password": PASSWORD, "no_proxy": True, "exchange_version": "2007"}
    tasks = {
        "e2007_all": task("Exchange 2007: everything", "e2007_all"),
        "e2007_viewer": task("Exchange 2007: everything as the viewer", "e2007_viewer", username=VIEWER),
        "e2007_copies": task("Exchange 2007: copies with a query", "e2007_copies",
                             gather_subset=["copies", "clustered_mailbox_servers"],
                             query="copies[?kind=='ccr'].{copy: name, status: status}"),
    }
    return [{
        "name": "exchange_info against the Exchange 2007 lab",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/exchange.dr.exchange": dict(connection, **extra)},
        "tasks": [tasks[case] for case in cases] + [
            {"name": "write what every case registered", "ansible.builtin.copy": {
                "dest": str(results), "mode": "0600",
                "content": "{{ %s | to_json }}" % ("{" + ", ".join("'%s': %s" % (c, c) for c in cases) + "}")}}],
    }]


@pytest.fixture(scope="module")
def run_2007(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exchange_info_2007")
    with Lab("exchange2007-ccr-scr", speed=200) as lab:
        env = localhost_env(tmp, lab)
        results = tmp / "results.json"
        play(env, playbook_2007(lab, results, E2007_CASES))
        before = json.loads(results.read_text())
        audit = lab.audit()
        # the active node fails: CCR moves CMS1 to MBX1B, the copy on MBX1A can no longer replicate
        lab.inject_fault({"kind": "server_down", "server": "MBX1A"})
        play(env, playbook_2007(lab, results, ("e2007_copies",)))
        after = json.loads(results.read_text())["e2007_copies"]
        yield {"results": before, "after_failover": after, "audit": audit}


def test_2007_servers_and_clustered_mailbox_servers(run_2007):
    result = run_2007["results"]["e2007_all"]
    assert not result.get("failed") and result["changed"] is False
    servers = {s["name"]: s for s in result["servers"]}
    assert sorted(servers) == ["CAS1", "CAS2", "CMS1"]  # 2007 lists the CMS, not its nodes
    assert all(s["product"] == "2007" and s["major"] == 8 and s["dag"] is None for s in servers.values())
    assert (servers["CMS1"]["is_member_of_cluster"], servers["CMS1"]["redundant_machines"]) == (True, ["MBX1A", "MBX1B"])
    assert servers["CAS1"]["roles"] == ["ClientAccess", "HubTransport"] and servers["CAS1"]["redundant_machines"] == []
    (cms1,) = result["clustered_mailbox_servers"]
    assert (cms1["name"], cms1["state"], cms1["active_node"], cms1["quorum_owner"]) == ("CMS1", "Online", "MBX1A", "MBX1A")
    assert cms1["operational_machines"] == ["MBX1A", "MBX1B"] and cms1["redundant_machines"] == ["MBX1A", "MBX1B"]
    # seed 000 Q3: no continuous replication host names of its own, so the node names are in use
    assert cms1["in_use_replication_host_names"] == ["mbx1a", "mbx1b"] and cms1["failed_resources"] == []


def test_2007_copies_ccr_and_scr_in_the_copies_shape(run_2007):
    result = run_2007["results"]["e2007_all"]
    copies = {c["name"]: c for c in result["copies"]}
    assert sorted(copies) == ["CMS1\\SG1\\MBX1B", "CMS1\\SG1\\MBX2A", "CMS1\\SG2\\MBX1B", "CMS1\\SG2\\MBX2A"]
    for name, copy in copies.items():
        kind = "scr" if name.endswith("MBX2A") else "ccr"
        assert (copy["kind"], copy["active_server"], copy["active"], copy["status"]) == (kind, "MBX1A", False, "Healthy")
        assert copy["database"] == name.rsplit("\\", 1)[0] and copy["server"] == name.rsplit("\\", 1)[1]
        assert copy["activation_preference"] is None and isinstance(copy["last_log_generated"], int)
    # SCR holds back 50 logs plus the 1-day replay lag at 12 logs an hour (lab model)
    assert copies["CMS1\\SG1\\MBX2A"]["replay_queue_length"] == 338
    assert copies["CMS1\\SG1\\MBX1B"]["replay_queue_length"] == 0
    assert set(copies["CMS1\\SG1\\MBX1B"]) == set(run_2007["results"]["e2007_all"]["copies"][0])


def test_2007_databases_and_subsets_without_a_2007_concept(run_2007):
    result = run_2007["results"]["e2007_all"]
    assert [(d["name"], d["server"], d["storage_group"], d["mounted"]) for d in result["databases"]] == [
        ("DB1", "CMS1", "CMS1\\SG1", True), ("DB2", "CMS1", "CMS1\\SG2", True)]
    assert result["dags"] == result["components"] == result["networks"] == []
    warnings = result["warnings"]
    assert any(w.startswith("Exchange 2007 has no database availability groups") and "dags, components, networks "
               "returned empty" in w for w in warnings)
    # the lab has no Exchange 2007 Get-Queue: each Hub Transport server is reported, the rest is returned
    assert result["queues"] == []
    assert sorted(w.split(":", 1)[0] for w in warnings if "Get-Queue failed" in w) == ["CAS1", "CAS2"]


def test_2007_round_trips_and_only_reads(run_2007):
    result = run_2007["results"]["e2007_all"]
    # Add-PSSnapin, Get-ExchangeServer, Get-MailboxServer, Get-ClusteredMailboxServerStatus, Get-StorageGroup,
    # Get-StorageGroupCopyStatus (CCR) and -StandbyMachine MBX2A (SCR), Get-MailboxDatabase, Get-Queue x 2
    assert result["round_trips"] == 10
    sent = {a["cmdlet"] for a in run_2007["audit"]}
    assert sent <= {"Add-PSSnapin", "Get-ExchangeServer", "Get-MailboxServer", "Get-ClusteredMailboxServerStatus",
                    "Get-StorageGroup", "Get-StorageGroupCopyStatus", "Get-MailboxDatabase", "Get-Queue",
                    "Select-Object"}
    viewer = run_2007["results"]["e2007_viewer"]
    assert not viewer.get("failed")
    assert len(viewer["copies"]) == len(result["copies"]) and viewer["clustered_mailbox_servers"]


def test_2007_query_and_failover(run_2007):
    before = run_2007["results"]["e2007_copies"]
    assert set(before) >= {"copies", "clustered_mailbox_servers"} and "servers" not in before
    assert before["query_result"] == [{"copy": "CMS1\\SG1\\MBX1B", "status": "Healthy"},
                                      {"copy": "CMS1\\SG2\\MBX1B", "status": "Healthy"}]
    after = run_2007["after_failover"]
    (cms1,) = after["clustered_mailbox_servers"]
    assert (cms1["active_node"], cms1["operational_machines"]) == ("MBX1B", ["MBX1B"])
    # the CCR copies are now on the node that is down; SP1 reports them ServiceDown
    assert after["query_result"] == [{"copy": "CMS1\\SG1\\MBX1A", "status": "ServiceDown"},
                                     {"copy": "CMS1\\SG2\\MBX1A", "status": "ServiceDown"}]
    assert {c["active_server"] for c in after["copies"]} == {"MBX1B"}
