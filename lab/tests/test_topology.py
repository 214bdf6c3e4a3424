"""Topology files: schema validation and the shipped topologies."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange_lab.model import LabState, TopologyError  # noqa: E402
from exchange_lab.model import topology  # noqa: E402

GOOD = textwrap.dedent("""\
    name: t
    org: {name: Contoso, domain: contoso.com, netbios: CONTOSO}
    users:
      - {name: 'CONTOSO\\administrator', upn: administrator@contoso.com, password: 'Passw0rd!', roles: [Organization Management]}
    sites: [{name: DC1}, {name: DC2}]
    hosts:
      - {name: DC01, kind: dc, site: DC1, version: WS2019, ip: 10.1.1.10}
      - {name: FS01, kind: fileserver, site: DC1, version: WS2019, ip: 10.1.1.20}
      - {name: EX01, kind: exchange, site: DC1, version: "2016", build: Version 15.1 (Build 2507.6), ip: 10.1.1.11}
      - {name: EX02, kind: exchange, site: DC2, version: "2016", build: Version 15.1 (Build 2507.6), ip: 10.2.1.12}
    dags:
      - {name: DAG1, members: [EX01, EX02], witness_server: FS01, witness_directory: 'C:\\W'}
    databases:
      - {name: DB01, copies: [{server: EX01, preference: 1}, {server: EX02, preference: 2}]}
    """)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "t.yml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_file_loads(tmp_path):
    lab = LabState.load(write(tmp_path, GOOD))
    assert [h.name for h in lab.hosts] == ["DC01", "FS01", "EX01", "EX02"]
    assert lab.database("DB01").active_server == "EX01"
    assert lab.dag("DAG1").members == ["EX01", "EX02"]


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("name: t\n", "name: t\ncolour: blue\n", "unknown key 'colour'"),
        ("sites: [{name: DC1}, {name: DC2}]", "sites: [{name: DC1}, {name: DC1}]", "duplicate site name 'DC1'"),
        ("{server: EX02, preference: 2}", "{server: EX99, preference: 2}", "unknown server 'EX99'"),
        ("name: EX02, kind", "name: EX01, kind", "duplicate host name 'EX01'"),
        ("ip: 10.2.1.12}", "}", "missing field 'ip'"),
        (
            'version: "2016", build: Version 15.1 (Build 2507.6), ip: 10.1.1.11',
            'version: "2016", build: Version 15.2 (Build 1544.4), ip: 10.1.1.11',
            "not an Exchange 2016 build",
        ),
        ("{server: EX02, preference: 2}", "{server: EX02, preference: 1}", "activation preference 1 used twice"),
        ("witness_server: FS01", "witness_server: EX01", "cannot be a member of the DAG"),
        ("site: DC2, version", "site: DC9, version", "unknown site 'DC9'"),
        ("kind: fileserver", "kind: printer", "'printer' is not one of"),
    ],
)
def test_validation_errors_are_one_line_and_name_the_file(tmp_path, old, new, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(TopologyError) as exc:
        LabState.load(path)
    text = str(exc.value)
    assert "\n" not in text
    assert text.startswith(str(path))
    assert message in text


def test_unknown_topology_name():
    with pytest.raises(TopologyError, match="no such topology file.*two-datacenters"):
        LabState.load("no-such-topology")


def test_yaml_syntax_error(tmp_path):
    with pytest.raises(TopologyError, match=r"line \d+: YAML error"):
        LabState.load(write(tmp_path, "name: [unclosed\n"))


def test_copy_on_server_outside_the_dag(tmp_path):
    text = GOOD.replace("members: [EX01, EX02]", "members: [EX01]")
    with pytest.raises(TopologyError, match="all be on servers of one DAG"):
        LabState.load(write(tmp_path, text))


def test_two_datacenters_contents():
    lab = LabState.load("two-datacenters")
    by_name = {h.name: h for h in lab.hosts}
    assert by_name["EX01"].fqdn == "ex01.contoso.com"
    assert (by_name["EX03"].site, by_name["EX03"].version, by_name["EX03"].kind) == ("DC2", "2019", "exchange")
    assert (by_name["DC01"].kind, by_name["DC01"].site, "DNS" in by_name["DC01"].roles) == ("dc", "DC1", True)
    assert (by_name["FS02"].kind, by_name["FS02"].site) == ("fileserver", "DC2")
    dag = lab.dag("DAG1")
    assert dag.members == ["EX01", "EX02", "EX03", "EX04"]
    assert dag.witness_server == "FS01.contoso.com"
    assert dag.witness_directory == "C:\\DAGFileShareWitnesses\\DAG1.contoso.com"
    assert dag.alternate_witness_server == "FS02.contoso.com"
    assert dag.datacenter_activation_mode == "DagOnly"
    assert len(lab.databases) == 8
    for db in lab.databases.values():
        assert len(db.copies) == 4
        assert db.active_server == db.copies[0].server and db.copies[0].preference == 1
        assert db.mounted
    assert lab.database("DB01").active_server == "EX01"
    assert lab.database("DB02").active_server == "EX02"
    assert lab.database("DB05").active_server == "EX03"
    assert lab.database("DB06").active_server == "EX04"
    dc1 = sum(1 for db in lab.databases.values() if lab.server(db.active_server).site == "DC1")
    assert dc1 == 6
    mail = [r for r in lab.dns_zones["contoso.com"]["records"] if r["name"] == "mail"]
    assert {r["data"] for r in mail} == {"10.1.1.11", "10.1.1.12"} and all(r["ttl"] == 3600 for r in mail)


def test_large_loads_fast():
    start = time.perf_counter()
    lab = LabState.load("large")
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0
    assert len(lab.servers) == 16
    assert len(lab.databases) == 400
    assert sum(len(db.copies) for db in lab.databases.values()) == 1600
    counts: dict[str, int] = {}
    for db in lab.databases.values():
        counts[db.active_server] = counts.get(db.active_server, 0) + 1
        assert len({c.server for c in db.copies}) == 4
    assert set(counts.values()) == {25}


def test_timespan_parser():
    assert topology.parse_timespan("7.00:00:00") == 7 * 86400
    assert topology.parse_timespan("00:30:00") == 1800
    with pytest.raises(ValueError):
        topology.parse_timespan("7 days")
