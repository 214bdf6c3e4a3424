"""The exchange-lab command: start/stop as a background process, one-line errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from pypsrp.powershell import RunspacePool

from conftest import run
from pypsrp.wsman import WSMan


def lab_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "exchange_lab", *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr)
    return proc


def test_start_status_fault_audit_stop(tmp_path):
    state = tmp_path / "lab"
    info = json.loads(lab_cli("start", "--topology", "two-datacenters", "--state-dir", str(state), "--speed", "100").stdout)
    try:
        names = {h["name"] for h in info["hosts"]}
        assert {"EX01", "EX02", "EX03", "EX04", "DC01", "DC02", "FS01", "FS02"} <= names
        assert set(info) == {"hosts", "admin_url", "ca_file", "state_dir"}
        for h in info["hosts"]:
            assert {"name", "fqdn", "site", "roles", "version", "http_port", "https_port"} <= set(h)
        ex01 = next(h for h in info["hosts"] if h["name"] == "EX01")
        w = WSMan("127.0.0.1", port=ex01["https_port"], path="PowerShell", ssl=True, auth="basic",
                  username="CONTOSO\\viewer", password="Passw0rd!", cert_validation=info["ca_file"], no_proxy=True)
        with RunspacePool(w, configuration_name="Microsoft.Exchange") as rp:
            assert run(rp, "Get-MailboxDatabase", Identity="DB01").output
        audit = json.loads(lab_cli("audit", "--state-dir", str(state)).stdout)
        assert audit[-1]["cmdlet"] == "Get-MailboxDatabase"
        assert audit[-1]["user"] == "CONTOSO\\viewer"
        assert audit[-1]["host"] == "EX01" and audit[-1]["outcome"] == "ok"
        faults = json.loads(lab_cli("fault", "inject", "--state-dir", str(state), "--spec",
                                    json.dumps({"kind": "server_down", "server": "EX02"})).stdout)
        assert faults["faults"]
        bad = lab_cli("fault", "inject", "--state-dir", str(state), "--spec", '{"kind": "meteor"}', check=False)
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1
        state_json = json.loads(lab_cli("state", "--state-dir", str(state)).stdout)
        assert state_json["faults"]
        lab_cli("reset", "--state-dir", str(state))
        assert not json.loads(lab_cli("state", "--state-dir", str(state)).stdout)["faults"]
        second = lab_cli("start", "--topology", "two-datacenters", "--state-dir", str(state), check=False)
        assert second.returncode == 1 and "already running" in second.stderr
    finally:
        lab_cli("stop", "--state-dir", str(state))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", ex01["http_port"]), timeout=1).close()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--topology", "no-such-topology"], "no-such-topology"),
        (["--topology", "two-datacenters", "--speed", "0"], "--speed"),
    ],
)
def test_start_errors_are_one_line(tmp_path, args, needle):
    proc = lab_cli("start", "--state-dir", str(tmp_path / "s"), *args, check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and needle in proc.stderr


def test_bad_topology_file(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("org: {name: x}\nhosts: [ {name: EX01, kind: exchange} ]\nbogus_key: 1\n")
    proc = lab_cli("start", "--topology", str(bad), "--state-dir", str(tmp_path / "s"), check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "bad.yml" in proc.stderr


def test_state_dir_that_is_not_the_labs(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    proc = lab_cli("start", "--topology", "two-datacenters", "--state-dir", str(tmp_path), check=False)
    assert proc.returncode == 1 and "not a lab state dir" in proc.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    proc = lab_cli("stop", "--state-dir", str(tmp_path), check=False)
    assert proc.returncode == 1 and "not a lab state dir" in proc.stderr


def test_port_in_use(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    try:
        proc = lab_cli("start", "--topology", "two-datacenters", "--state-dir", str(tmp_path / "s"),
                       "--base-port", str(port), check=False)
    finally:
        sock.close()
    assert proc.returncode == 1 and f"{port}" in proc.stderr and "in use" in proc.stderr
