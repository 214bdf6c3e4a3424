"""exchange.dr.exchange_info through ansible-playbook against the lab.

One lab and one playbook run for the whole module: the playbook runs every case (the good
ones and the failing ones with ``ignore_errors``), writes what each task registered to a JSON
file, and the tests below assert on that file, on the playbook's output and on the lab's
audit log.  The collection is reached through a temporary ``ansible_collections/exchange/dr``
symlink to the repository and ``ANSIBLE_COLLECTIONS_PATH``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from exchange_lab import Lab

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
ADMIN = "CONTOSO\\administrator"
VIEWER = "CONTOSO\\viewer"
PASSWORD = "Passw0rd!"  # the lab's documented demo credential
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


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exchange_info")
    collections = tmp / "collections"
    (collections / "ansible_collections" / "exchange").mkdir(parents=True)
    (collections / "ansible_collections" / "exchange" / "dr").symlink_to(REPO)
    with Lab("two-datacenters", speed=200) as lab:
        results = tmp / "results.json"
        (tmp / "playbook.yml").write_text(yaml.safe_dump(playbook(lab, results), sort_keys=False))
        (tmp / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_HOME=str(tmp / "ansible-home"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
        proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(tmp / "inventory.yml"), str(tmp / "playbook.yml")],
                              cwd=tmp, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield {"results": json.loads(results.read_text()), "output": proc.stdout + proc.stderr,
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
    # one call per kind, component states and queues once per server
    assert admin["round_trips"] == 6 + 2 * len(SERVERS)


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
                   r"networks, queues\. Got no match for: mailboxes"),
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
