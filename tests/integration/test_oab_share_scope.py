"""oab_share_scope (runbooks §11, seed 000 Q4) through ansible-playbook against the ``exchange2007-ccr-scr``
lab (clock x200): every 2007 host at Update Rollup 4, so OAB generation publishes to the node-scoped
``\\\\MBX1A\\ExchangeOAB`` and the Client Access servers' file distribution fails with event 1021.

One lab for the file, one scenario in order (``runs``): bad input, a check-mode drift report, a refused run
(no permission to install), the fix (RU5 on both nodes, passive first, then OAB generation and distribution),
and a second run that changes nothing.  Assertions are on the lab through read cmdlets (the nodes' patch
list, the CAS Application logs) and on its audit log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from exchange_lab import Lab

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "Passw0rd!"  # the lab's documented demo credential
PKG = "C:\\Updates\\Exchange2007-SP1-UR5-x64.msp"
HOSTS = ["MBX1A", "MBX1B", "CAS1", "CAS2"]
PATCHES = ("HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products\\"
           "461C2B4266EDEF444B864AD6D9E5B613\\Patches\\*")
SNAPIN = "Microsoft.Exchange.Management.PowerShell.Admin"
READS = ("Get-", "Select-Object", "Add-PSSnapin")
CONNS = "{{ dict(%s | zip(%s | map('extract', hostvars, 'exchange_dr_windows_connection'))) }}" % (HOSTS, HOSTS)
DEFAULTS = {"group/exchange.dr.exchange": "{{ hostvars['CAS1'].exchange_dr_windows_connection }}"}


def task(**args) -> dict:
    return {"exchange.dr.oab_share_scope": dict({"cms": "CMS1", "windows_connections": CONNS}, **args)}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oab_share_scope")
    collections = tmp / "collections"
    (collections / "ansible_collections" / "exchange").mkdir(parents=True)
    (collections / "ansible_collections" / "exchange" / "dr").symlink_to(REPO)
    with Lab("exchange2007-ccr-scr", speed=200) as lab:
        inventory = subprocess.run([sys.executable, "-m", "exchange_lab", "inventory", "--state-dir", str(lab.state_dir)],
                                   capture_output=True, text=True, timeout=60, check=True).stdout
        (tmp / "inventory.yml").write_text(inventory)
        yield {"lab": lab, "tmp": tmp,
               "env": dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_HOME=str(tmp / "ansible-home"),
                           ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")}


def play(env, tasks: list, *args: str) -> dict:
    """Run the tasks (each registers ``r<i>``; failures ignored): each task's result and the audit entries."""
    lab = env["lab"]
    body = [dict(t, name="t%d" % i, register="r%d" % i, ignore_errors=True) for i, t in enumerate(tasks)]
    out = env["tmp"] / "results.json"
    names = ", ".join("'r%d': r%d" % (i, i) for i in range(len(tasks)))
    body.append({"name": "results", "check_mode": False, "ansible.builtin.copy": {
        "dest": str(out), "mode": "0600", "content": "{{ {%s} | to_json }}" % names}})
    path = env["tmp"] / "play.yml"
    path.write_text(yaml.safe_dump([{"name": "oab", "hosts": "localhost", "gather_facts": False,
                                     "module_defaults": DEFAULTS, "tasks": body}], sort_keys=False))
    start = len(lab.audit())
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(env["tmp"] / "inventory.yml"), str(path), *args],
                          cwd=env["tmp"], env=env["env"], capture_output=True, text=True, timeout=300, check=False)
    assert out.exists(), proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    out.unlink()
    return {"results": [results["r%d" % i] for i in range(len(tasks))], "audit": lab.audit()[start:]}


def writes(run) -> list:
    return [(e["host"], e["cmdlet"]) for e in run["audit"] if not e["cmdlet"].startswith(READS)]


def ps(lab, host: str, cmdlet: str, snapin: bool = False, **params) -> list:
    """One cmdlet on ``host``'s Microsoft.PowerShell endpoint (with the 2007 snap-in if asked); plain pypsrp."""
    h = lab.host(host)
    wsman = WSMan("127.0.0.1", port=h["https_port"], ssl=True, cert_validation=lab.ca_file, auth="basic",
                  username="CONTOSO\\administrator", password=PASSWORD, no_proxy=True)
    with RunspacePool(wsman, configuration_name="Microsoft.PowerShell") as pool:
        if snapin:
            PowerShell(pool).add_cmdlet("Add-PSSnapin").add_parameter("Name", SNAPIN).invoke()
        shell = PowerShell(pool)
        shell.add_cmdlet(cmdlet)
        for name, value in params.items():
            shell.add_parameter(name, value)
        output = shell.invoke()
        assert not shell.had_errors, [str(e) for e in shell.streams.error]
        return [dict(o.adapted_properties, **o.extended_properties) for o in output]


def rollups(lab) -> dict:
    return {node: [r["DisplayName"] for r in ps(lab, node, "Get-ItemProperty", Path=PATCHES)]
            for node in ("MBX1A", "MBX1B")}


def fds_events(lab, cas: str) -> list:
    return [e for e in ps(lab, cas, "Get-EventLog", LogName="Application")
            if e["EventID"] == 1021 and e["Source"] == "MSExchangeFDS"]


@pytest.fixture(scope="module")
def runs(env):
    lab = env["lab"]
    out = {"rollups_before": rollups(lab)}
    # the scheduled FDS run of CAS1 fails today (seed 000 Q4): event 1021
    ps(lab, "CAS1", "Update-FileDistributionService", snapin=True, Identity="CAS1", Confirm=False)
    out["events_before"] = {cas: fds_events(lab, cas) for cas in ("CAS1", "CAS2")}
    out["bad"] = play(env, [
        task(install_rollup=True),
        task(rollup_package="C:\\Updates\\ru5.exe", install_rollup=True),
        task(offline_address_book=["Other OAB"]),
        task(exchange_version="2016"),
        task(windows_connections={"CAS1": {"prot": 5986}}),
    ])
    out["check"] = play(env, [task(rollup_package=PKG, install_rollup=True)], "--check", "--diff")
    out["refused"] = play(env, [task(rollup_package=PKG)])
    out["fix"] = play(env, [task(rollup_package=PKG, install_rollup=True)])
    out["rollups_after"] = rollups(lab)
    out["events_after"] = {cas: fds_events(lab, cas) for cas in ("CAS1", "CAS2")}
    out["again"] = play(env, [task(rollup_package=PKG, install_rollup=True)], "--check")
    out["again_apply"] = play(env, [task(rollup_package=PKG, install_rollup=True)])
    return out


def test_bad_input_is_refused_naming_the_option(runs):
    messages = [r["msg"] for r in runs["bad"]["results"]]
    assert all(r["failed"] for r in runs["bad"]["results"])
    assert "install_rollup" in messages[0] and "rollup_package" in messages[0]
    assert "rollup_package must be the path of an .msp package" in messages[1]
    assert "offline_address_book: no OAB generated by CMS1: Other OAB" in messages[2]
    assert "exchange_version must be 2007" in messages[3]
    assert "windows_connections.CAS1" in messages[4]
    assert writes(runs["bad"]) == []


def test_check_mode_reports_share_and_access_and_changes_nothing(runs):
    (result,) = runs["check"]["results"]
    assert result["changed"] and not result.get("failed")
    assert writes(runs["check"]) == []
    assert any("MBX1A (node of CMS1): Exchange 2007 SP1 Update Rollup 4, below Update Rollup 5" in d
               and "\\\\MBX1A\\ExchangeOAB, a share scoped to the node name" in d for d in result["drift"])
    assert any(d.startswith("CAS1: MSExchangeFDS event 1021") and "\\\\CMS1\\ExchangeOAB\\" in d
               and "Read for Exchange Servers on the share and its folder" in d for d in result["drift"])
    assert result["before"]["distribution"] == {"CAS1": "failing", "CAS2": "not_verified"}
    assert result["before"]["share"] == {"unc": "\\\\MBX1A\\ExchangeOAB", "scope": "MBX1A",
                                         "access": "Exchange Servers: Read"}
    assert result["after"]["share"]["unc"] == "\\\\CMS1\\ExchangeOAB"
    assert result["diff"]["after"]["rollups"] == {"MBX1A": 5, "MBX1B": 5}
    installs = [(a["cmdlet"], a["target"]) for a in result["actions"]][:2]
    assert installs == [("msiexec.exe", "MBX1B"), ("msiexec.exe", "MBX1A")]
    assert runs["rollups_before"] == {n: ["Update Rollup 4 for Exchange Server 2007 Service Pack 1"]
                                      for n in ("MBX1A", "MBX1B")}


def test_without_permission_the_run_fails_and_names_the_fix(runs):
    (result,) = runs["refused"]["results"]
    assert result["failed"] and "Update Rollup 5 or later on MBX1B, MBX1A" in result["msg"]
    assert "install_rollup=true" in result["msg"] and writes(runs["refused"]) == []


def test_fix_installs_rollup_then_verifies_distribution(runs):
    (result,) = runs["fix"]["results"]
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert writes(runs["fix"]) == [("MBX1B", "msiexec.exe"), ("MBX1A", "msiexec.exe"),
                                   ("CAS1", "Update-OfflineAddressBook"), ("CAS1", "Update-FileDistributionService"),
                                   ("CAS1", "Update-FileDistributionService")]
    msiexec = [e for e in runs["fix"]["audit"] if e["cmdlet"] == "msiexec.exe"]
    assert all(e["parameters"]["Arguments"] == ["/update", PKG, "/quiet"] and e["outcome"] == "ok" for e in msiexec)
    fds = [e["parameters"]["Identity"] for e in runs["fix"]["audit"] if e["cmdlet"] == "Update-FileDistributionService"]
    assert fds == ["CAS1", "CAS2"]
    assert runs["rollups_after"] == {n: ["Update Rollup 5 for Exchange Server 2007 Service Pack 1"]
                                     for n in ("MBX1A", "MBX1B")}
    # no new event 1021: the FDS copies succeeded
    assert runs["events_after"] == runs["events_before"] and len(runs["events_before"]["CAS1"]) == 1
    assert result["verification"] == {"CAS1": [], "CAS2": []}
    assert result["after"]["share"] == {"unc": "\\\\CMS1\\ExchangeOAB", "scope": "CMS1",
                                        "access": "Exchange Servers: Read"}
    assert result["after"]["distribution"] == {"CAS1": "ok", "CAS2": "ok"}
    assert result["reason"].startswith("fixed:") and len(result["drift"]) == 3


def test_second_run_is_idempotent(runs):
    for key in ("again", "again_apply"):
        (result,) = runs[key]["results"]
        assert not result["changed"] and result["drift"] == [] and result["reason"].startswith("compliant")
        assert writes(runs[key]) == []
