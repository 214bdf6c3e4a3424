"""Rehearsal twins (model/twin.py): the capture format marker, truncation, lab passwords for
users captured without one, and the ``components:`` host key."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange_lab.model import LabState, TopologyError  # noqa: E402
from exchange_lab.model import topology, twin  # noqa: E402

TWIN = textwrap.dedent("""\
    # Rehearsal twin written by exchange.dr.twin_capture
    capture: {format: exchange.dr/twin, version: 1, captured_at: '2026-11-25T10:00:00+00:00'}
    name: twin
    org: {name: Contoso, domain: contoso.com, netbios: CONTOSO}
    users:
    - {name: 'CONTOSO\\administrator', upn: administrator@contoso.com, roles: [Organization Management]}
    sites: [{name: DC1}, {name: DC2}]
    hosts:
    - {name: FS01, kind: fileserver, site: DC1, version: WS2019, ip: 10.1.1.20}
    - name: EX01
      kind: exchange
      site: DC1
      version: '2019'
      build: Version 15.2 (Build 1544.4)
      ip: 10.1.1.11
      components:
      - {component: HubTransport, requester: Maintenance, state: Draining}
      - {component: ServerWideOffline, requester: Maintenance, state: Inactive, local: false, remote: true}
    - {name: EX02, kind: exchange, site: DC2, version: '2019', build: Version 15.2 (Build 1544.4), ip: 10.2.1.12}
    dags:
    - {name: DAG1, members: [EX01, EX02], witness_server: FS01, witness_directory: 'C:\\W'}
    databases:
    - {name: DB01, copies: [{server: EX01, preference: 1}, {server: EX02, preference: 2, replay_lag: '1.00:00:00'}]}
    end_of_capture: true
    """)


def write(tmp_path: Path, text: str, name: str = "twin.yml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(TopologyError) as exc:
        topology.load(path)
    assert str(path) in str(exc.value)  # every message names the file
    return str(exc.value)


def test_twin_loads_with_the_lab_password(tmp_path, monkeypatch):
    monkeypatch.delenv(twin.PASSWORD_ENV, raising=False)
    spec = topology.load(write(tmp_path, TWIN))
    assert spec["users"][0]["password"] == "Passw0rd!"  # lab-only demo credential
    monkeypatch.setenv(twin.PASSWORD_ENV, "Lab-Only-1")
    lab = LabState.load(write(tmp_path, TWIN))
    assert lab.authenticate("CONTOSO\\administrator", "Lab-Only-1") is not None
    assert lab.authenticate("CONTOSO\\administrator", "Passw0rd!") is None


def test_components_are_applied_in_order(tmp_path):
    lab = LabState.load(write(tmp_path, TWIN))
    comps = next(s for s in lab.to_json()["exchange_servers"] if s["name"] == "EX01")["components"]
    assert comps["HubTransport"]["local"][0]["state"] == "Draining"
    assert comps["ServerWideOffline"]["state"] == "Inactive"
    assert comps["ServerWideOffline"]["local"] == [] and comps["ServerWideOffline"]["remote"][0]["requester"] == "Maintenance"
    assert comps["HubTransport"]["state"] == "Inactive"  # ServerWideOffline Inactive wins (object-properties §6)
    other = next(s for s in lab.to_json()["exchange_servers"] if s["name"] == "EX02")["components"]
    assert other["HubTransport"]["state"] == "Active"


@pytest.mark.parametrize("old,new,expected", [
    ("format: exchange.dr/twin", "format: acme/twin", "capture.format: unknown capture format 'acme/twin'"),
    ("version: 1,", "version: 2,", "capture.version: capture format version 2 is newer than this lab reads (up to 1)"),
    ("version: 1,", "version: one,", "capture.version: 'one' is not a capture format version"),
    ("captured_at:", "colour: red, captured_at:", "capture: unknown key 'colour'"),
    ("end_of_capture: true\n", "", "truncated capture: the file does not end with 'end_of_capture: true'"),
    ("end_of_capture: true\n", "end_of_capture: true\ngenerate: {}\n", "end_of_capture: must be the last key"),
    ("- {component: HubTransport,", "- {component: Teleport,", "components[0].component: 'Teleport' is not"),
    ("requester: Maintenance, state: Draining", "requester: Maintenance, state: Asleep", "'Asleep' is not one of"),
])
def test_bad_captures_name_the_file_and_the_problem(tmp_path, old, new, expected):
    assert old in TWIN
    assert expected in error(tmp_path, TWIN.replace(old, new, 1))


def test_end_marker_without_capture_marker(tmp_path):
    text = TWIN.replace("capture: {format: exchange.dr/twin, version: 1, captured_at: '2026-11-25T10:00:00+00:00'}\n", "")
    assert "end_of_capture: found without a capture: marker" in error(tmp_path, text)


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.8, 0.97])
def test_truncated_anywhere_is_refused(tmp_path, fraction):
    text = TWIN[: int(len(TWIN) * fraction)]
    message = error(tmp_path, text)
    assert "truncated capture" in message


def test_components_only_on_exchange_hosts(tmp_path):
    text = TWIN.replace("version: WS2019, ip: 10.1.1.20}",
                        "version: WS2019, ip: 10.1.1.20, components: [{component: HubTransport, requester: Maintenance, "
                        "state: Inactive}]}")
    assert "'components' is only valid for kind 'exchange'" in error(tmp_path, text)


def test_shipped_topologies_are_not_twins():
    for name in ("two-datacenters", "large", "exchange2007-ccr-scr"):
        assert "capture" not in topology.load(name)
