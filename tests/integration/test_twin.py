"""Rehearsal twins: playbooks/capture_twin.yml and exchange.dr.twin_capture against the lab.

Each scenario captures a twin of a lab through ``ansible-playbook`` with the inventory of
``exchange-lab inventory``, starts a lab from the twin (as ``exchange-lab start`` does), captures
that lab again and asserts that the two captures are equal for every modelled property.  The
two-datacenters twin is also pseudonymised, fed bad input, and rehearsed on with an unchanged
playbook of the collection (datacenter switchover in check mode).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from exchange_lab import Lab
from exchange_lab.model import topology

import harness
from harness import REPO, SPEED, ansible, collection_env, invoke, lab_inventory, session

# What Windows Server 2008 and Exchange 2007 do not expose (supplement of the 2007 capture).
SUPPLEMENT_2007 = {
    "sites": [{"name": "DC1", "subnets": ["10.1.0.0/16"]}, {"name": "DC2", "subnets": ["10.2.0.0/16"]}],
    "hosts": [
        {"name": "DC01", "kind": "dc", "site": "DC1", "version": "WS2008", "ip": "10.1.1.10"},
        {"name": "DC02", "kind": "dc", "site": "DC2", "version": "WS2008", "ip": "10.2.1.10"},
        {"name": "MBX1A", "ip": "10.1.1.21", "replication_ip": "10.1.2.21"},
        {"name": "MBX1B", "ip": "10.1.1.22", "replication_ip": "10.1.2.22"},
        {"name": "CAS1", "ip": "10.1.1.31"},
        {"name": "MBX2A", "ip": "10.2.1.21", "site": "DC2"},
        {"name": "MBX2B", "kind": "exchange", "site": "DC2", "version": "2007", "build": "Version 8.1 (Build 240.6)",
         "windows": "WS2008", "roles": ["Mailbox"], "ip": "10.2.1.22"},
        {"name": "CAS2", "ip": "10.2.1.31"},
    ],
    "exchange2007": {
        "clusters": [{"name": "CLU1", "nodes": ["MBX1A", "MBX1B"], "ip": "10.1.1.40"},
                     {"name": "CLU2", "nodes": ["MBX2A", "MBX2B"], "ip": "10.2.1.40", "standby": True}],
        "clustered_mailbox_servers": [{"name": "CMS1", "cluster": "CLU1", "ip": "10.1.1.50", "host_record_ttl": 3600}],
        "rollup": 4,
        "rollup_packages": [{"path": "C:\\Updates\\Exchange2007-SP1-UR5-x64.msp", "rollup": 5}],
    },
    "dns": {"zones": [{"name": "contoso.com", "servers": ["DC01", "DC02"], "register_hosts": {"ttl": 1200}}]},
}
SUBNETS = {"sites": [{"name": "DC1", "subnets": ["10.1.0.0/16"]}, {"name": "DC2", "subnets": ["10.2.0.0/16"]}]}
ORIGINAL_NAMES = ["EX01", "EX02", "EX03", "EX04", "DC01", "DC02", "FS01", "FS02", "DAG1", "DB01", "DB08", "DC1", "DC2",
                  "contoso", "Contoso"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("twin")
    collection_env(tmp)
    return tmp


def run(tmp: Path, inv: Path, playbook, *args, ok: bool = True) -> subprocess.CompletedProcess:
    if isinstance(playbook, list):
        path = tmp / ("play-%d.yml" % time.monotonic_ns())
        path.write_text(yaml.safe_dump(playbook, sort_keys=False))
        playbook = path
    proc = ansible({"tmp": tmp, "env": collection_env(tmp)}, "ansible-playbook", "-i", str(inv), str(playbook), *args)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def capture(tmp: Path, lab: Lab, dest: Path, *extra) -> subprocess.CompletedProcess:
    inv = lab_inventory(lab, tmp / ("inventory-%s.yml" % dest.stem))
    return run(tmp, inv, REPO / "playbooks" / "capture_twin.yml", "-e", "capture_twin_dest=%s" % dest, *extra)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def comparable(doc: dict) -> dict:
    out = json.loads(json.dumps(doc))
    out["capture"].pop("captured_at", None)
    return out


def by_name(items) -> dict:
    return {i["name"]: i for i in items}


def set_maintenance_draining(lab: Lab, server: str) -> None:
    """HubTransport of ``server`` Draining for Maintenance (runbooks §3.2 step 1), through PSRP."""
    with session(lab, server, "Microsoft.Exchange", path="PowerShell") as pool:
        invoke(pool, "Set-ServerComponentState",
               {"Identity": server, "Component": "HubTransport", "State": "Draining", "Requester": "Maintenance"})


# ----------------------------------------------------------------------------- two-datacenters
@pytest.fixture(scope="module")
def twodc(workdir):
    supplement = workdir / "subnets.json"
    supplement.write_text(json.dumps({"capture_twin_supplement": SUBNETS}))
    first, second = workdir / "twin-1.yml", workdir / "twin-2.yml"
    with Lab("two-datacenters", speed=SPEED) as lab:
        set_maintenance_draining(lab, "EX04")
        capture(workdir, lab, first, "-e", "@%s" % supplement)
        # pseudonymised, check mode, idempotence and bad input in one more run
        inv = lab_inventory(lab, workdir / "inventory-extra.yml")
        extra = run(workdir, inv, extra_plays(workdir, first), "-e", "@%s" % supplement)
        results = json.loads((workdir / "extra.json").read_text())
    with Lab(str(first), speed=SPEED, process=True) as twin:  # as `exchange-lab start --topology twin-1.yml`
        capture(workdir, twin, second, "-e", "@%s" % supplement)
        state = twin.state()
        inv = lab_inventory(twin, workdir / "inventory-twin.yml")
        audit_before = len(twin.audit())
        rehearsal = run(workdir, inv, REPO / "playbooks" / "datacenter_switchover.yml", "--check",
                        "-e", "datacenter_switchover_dns_wait=false")
        writes = harness.writes(twin.audit()[audit_before:], reads=("Get-", "Test-", "Select-"))
    return {"first": first, "second": second, "results": results, "state": state, "rehearsal": rehearsal,
            "writes": writes, "extra_output": extra.stdout}


def extra_plays(tmp: Path, first: Path) -> list:
    def capture_task(name, register, failing=False, **options):
        task = {"name": name, "exchange.dr.twin_capture": dict(
            {"facts": "{{ org }}", "domain_controller": "dc01.contoso.com",
             "windows_connection": "{{ hostvars['DC01'].exchange_dr_windows_connection }}",
             "supplement": "{{ capture_twin_supplement }}"}, **options), "register": register}
        if failing:
            task["ignore_errors"] = True
        return task
    cases = ("pseudo", "again", "check", "collide", "unknown_name", "bad_pseudonym", "no_facts", "bad_dir")
    return [{
        "name": "twin_capture cases", "hosts": "localhost", "gather_facts": False,
        "module_defaults": {"group/exchange.dr.exchange": "{{ hostvars['EX01'].exchange_dr_connection }}"},
        "tasks": [
            {"name": "read the organization", "exchange.dr.exchange_info": {}, "register": "org"},
            capture_task("pseudonymised", "pseudo", dest=str(tmp / "pseudo.yml"), pseudonymise=True,
                         pseudonym_map={"EX01": "MBX-A1", "DAG1": "DAGX"}),
            capture_task("same capture again", "again", dest=str(first)),
            {**capture_task("check mode", "check", dest=str(tmp / "check.yml")), "check_mode": True},
            capture_task("colliding pseudonyms", "collide", True, dest=str(tmp / "collide.yml"), pseudonymise=True,
                         pseudonym_map={"EX01": "SAME", "EX02": "same"}),
            capture_task("pseudonym of an unknown name", "unknown_name", True, dest=str(tmp / "unknown.yml"),
                         pseudonymise=True, pseudonym_map={"EX99": "X"}),
            capture_task("pseudonym not a host name", "bad_pseudonym", True, dest=str(tmp / "badname.yml"),
                         pseudonymise=True, pseudonym_map={"EX01": "this name is far too long"}),
            capture_task("no facts", "no_facts", True, facts={"changed": False}, dest=str(tmp / "nofacts.yml")),
            capture_task("missing directory", "bad_dir", True, dest=str(tmp / "nowhere" / "twin.yml")),
            {"name": "results", "ansible.builtin.copy": {
                "dest": str(tmp / "extra.json"), "mode": "0600",
                "content": "{{ %s | to_json }}" % ("{" + ", ".join("'%s': %s" % (c, c) for c in cases) + "}")}},
        ],
    }]


def test_twin_of_two_datacenters_round_trips(twodc):
    first, second = load_yaml(twodc["first"]), load_yaml(twodc["second"])
    assert first["capture"]["format"] == "exchange.dr/twin" and first["capture"]["version"] == 1
    assert list(first)[-1] == "end_of_capture"
    assert comparable(first) == comparable(second)
    # the twin is the original for every modelled property (hosts in another order)
    original, twin = topology.load("two-datacenters"), topology.load(str(twodc["first"]))
    for key in ("org", "sites", "dags", "databases"):
        assert twin[key] == original[key], key
    ex04 = by_name(twin["hosts"])["EX04"]
    assert ex04["components"] == [{"component": "HubTransport", "requester": "Maintenance", "state": "Draining",
                                   "local": True, "remote": True}]
    for h in twin["hosts"]:
        h.pop("components", None)
    assert by_name(twin["hosts"]) == by_name(original["hosts"])

    def records(spec):
        return sorted(spec["dns"]["zones"][0]["records"], key=lambda r: (r["name"], r["data"]))
    assert records(twin) == records(original)
    assert [u["name"] for u in twin["users"]] == ["CONTOSO\\administrator", "CONTOSO\\viewer"]


def test_twin_lab_runs_the_collection_unchanged(twodc):
    state = twodc["state"]
    dag = state["dags"][0]
    assert dag["datacenter_activation_mode"] == "DagOnly"
    assert dag["witness_server"] == "FS01.contoso.com" and dag["alternate_witness_server"] == "FS02.contoso.com"
    db08 = next(d for d in state["databases"] if d["name"] == "DB08")
    assert db08["active_server"] == "EX02"
    hub = next(s for s in state["exchange_servers"] if s["name"] == "EX04")["components"]["HubTransport"]
    assert hub["state"] == "Draining"
    assert "failed=0" in twodc["rehearsal"].stdout
    assert twodc["writes"] == []  # --check: the plan only


def test_no_secret_written(twodc):
    for path in (twodc["first"], twodc["second"]):
        text = path.read_text()
        assert "Passw0rd!" not in text  # the password the capture connected with
        assert not re.search(r"(?im)^\s*-?\s*password\s*:", text)
        for user in load_yaml(path)["users"]:
            assert set(user) == {"name", "upn", "roles"}


def test_pseudonymised_capture_is_consistent_and_anonymous(twodc, workdir):
    result = twodc["results"]["pseudo"]
    assert result["changed"] and not result.get("failed")
    mapping = result["pseudonyms"]
    assert mapping["EX01"] == "MBX-A1" and mapping["DAG1"] == "DAGX" and mapping["contoso.com"] == "twin.example"
    text = (workdir / "pseudo.yml").read_text()
    body = text.split("\n", 4)[-1]
    for name in ORIGINAL_NAMES:
        assert not re.search(r"(?i)(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % name, body), name
    pseudo = topology.load(str(workdir / "pseudo.yml"))  # every reference resolves: renamed consistently
    plain = topology.load(str(twodc["first"]))
    assert len(pseudo["hosts"]) == len(plain["hosts"]) and len(pseudo["databases"]) == len(plain["databases"])
    db = by_name(pseudo["databases"])[mapping["DB08"]]
    assert [c["server"] for c in db["copies"]] == [mapping[s] for s in ("EX02", "EX01", "EX03", "EX04")]
    assert db["copies"][3]["replay_lag"] == 7 * 86400
    dag = pseudo["dags"][0]
    assert dag["name"] == "DAGX" and dag["witness_server"] == mapping["FS01"]
    assert dag["witness_directory"] == "C:\\DAGFileShareWitnesses\\DAGX.twin.example"
    assert pseudo["org"]["netbios"] == "TWIN" and pseudo["users"][0]["name"] == "TWIN\\administrator"


def test_idempotent_check_mode_and_bad_input(twodc, workdir):
    res = twodc["results"]
    assert res["again"]["changed"] is False
    assert res["check"]["changed"] is True and res["check"]["topology"]["capture"]["format"] == "exchange.dr/twin"
    assert not (workdir / "check.yml").exists()
    msg = res["collide"]["msg"]
    assert res["collide"]["failed"] and msg.startswith("pseudonym_map: ") and "would both become" in msg
    assert "EX01" in msg and "EX02" in msg
    assert res["unknown_name"]["msg"] == "pseudonym_map: ex99 is not a name of the captured organization"
    assert res["bad_pseudonym"]["msg"].startswith("pseudonym_map: 'this name is far too long'")
    assert res["no_facts"]["msg"].startswith("facts: no servers")
    assert res["bad_dir"]["msg"].startswith("dest: directory ")
    for name in ("collide.yml", "unknown.yml", "badname.yml", "nofacts.yml"):
        assert not (workdir / name).exists(), name
    assert not [p for p in workdir.iterdir() if p.name.startswith(".twin-")]  # no temporary file left


# ------------------------------------------------------------------------------ Exchange 2007
def test_twin_of_exchange2007_round_trips(workdir):
    supplement = workdir / "supplement-2007.json"
    supplement.write_text(json.dumps({"capture_twin_supplement": SUPPLEMENT_2007}))
    first, second = workdir / "e2007-1.yml", workdir / "e2007-2.yml"
    args = ("-e", "@%s" % supplement, "-e", "capture_twin_exchange_version=2007")
    with Lab("exchange2007-ccr-scr", speed=SPEED) as lab:
        proc = capture(workdir, lab, first, *args)
    assert "Get-ADComputer is not available" in proc.stdout + proc.stderr  # WS2008: told, not failed
    with Lab(str(first), speed=SPEED) as twin:
        capture(workdir, twin, second, *args)
        e2007 = twin.state()  # the twin lab serves the CCR/SCR view
    assert comparable(load_yaml(first)) == comparable(load_yaml(second))
    original, copy = topology.load("exchange2007-ccr-scr"), topology.load(str(first))
    assert copy["exchange2007"] == original["exchange2007"]
    assert by_name(copy["hosts"]) == by_name(original["hosts"])
    assert copy["sites"] == original["sites"]
    assert e2007["hosts"]


# ---------------------------------------------------------------------------------- large
def test_capture_of_large_takes_seconds(workdir):
    dest = workdir / "large.yml"
    with Lab("large", speed=SPEED) as lab:
        inv = lab_inventory(lab, workdir / "inventory-large.yml")
        started = time.monotonic()
        proc = run(workdir, inv, REPO / "playbooks" / "capture_twin.yml", "-e", "capture_twin_dest=%s" % dest, "-v")
        wall = time.monotonic() - started
    elapsed = [float(x) for x in re.findall(r'"elapsed": ([0-9.]+)', proc.stdout)]
    doc = topology.load(str(dest))
    assert len(doc["databases"]) == 400 and sum(len(d["copies"]) for d in doc["databases"]) == 1600
    print("large capture: exchange_info %.2f s + twin_capture %.2f s, playbook wall %.1f s" % (elapsed[0], elapsed[1], wall))
    (workdir.parent / "large-capture-time.txt").write_text("%.2f %.2f %.1f\n" % (elapsed[0], elapsed[1], wall))
    assert sum(elapsed) < 10 and wall < 30


def test_lab_refuses_a_truncated_twin(twodc, workdir):
    text = twodc["first"].read_text()
    cut = workdir / "cut.yml"
    cut.write_text(text[: len(text) // 2].rsplit("\n", 1)[0] + "\n")
    proc = subprocess.run([sys.executable, "-m", "exchange_lab", "start", "--topology", str(cut), "--state-dir",
                           str(workdir / "cut-state")], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert str(cut) in proc.stderr and "truncated capture" in proc.stderr
