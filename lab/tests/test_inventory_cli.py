"""``exchange-lab inventory``: a static Ansible inventory of the running lab."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from pypsrp.powershell import RunspacePool
from pypsrp.wsman import WSMan

from conftest import props, run
from exchange_lab import inventory


def lab_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "exchange_lab", *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr)
    return proc


def hosts_of(inv, group):
    return sorted((inv["all"]["children"][group]["hosts"] or {}))


@pytest.fixture
def printed(fresh_lab):
    return yaml.safe_load(lab_cli("inventory", "--state-dir", str(fresh_lab.state_dir)).stdout)


def test_groups(printed):
    assert hosts_of(printed, "exchange_servers") == ["EX01", "EX02", "EX03", "EX04"]
    assert hosts_of(printed, "domain_controllers") == ["DC01", "DC02"]
    assert hosts_of(printed, "file_servers") == ["FS01", "FS02"]
    assert hosts_of(printed, "site_DC1") == ["DC01", "EX01", "EX02", "FS01"]
    assert hosts_of(printed, "site_DC2") == ["DC02", "EX03", "EX04", "FS02"]
    assert hosts_of(printed, "dag_DAG1") == ["EX01", "EX02", "EX03", "EX04"]
    assert hosts_of(printed, "exchange_2019") == ["EX01", "EX02", "EX03", "EX04"]


def test_host_variables_and_connections(printed, fresh_lab):
    ex03 = printed["all"]["children"]["exchange_servers"]["hosts"]["EX03"]
    assert ex03 == {
        "exchange_dr_fqdn": "ex03.contoso.com", "exchange_dr_site": "DC2", "exchange_dr_dag": "DAG1",
        "exchange_dr_version": "2019", "exchange_dr_build": "15.2.1544.4", "exchange_dr_roles": ["Mailbox"],
        "exchange_dr_connection": {
            "server": "127.0.0.1", "port": fresh_lab.host("EX03")["https_port"], "ssl": True, "validate_certs": True,
            "ca_trust_path": fresh_lab.ca_file, "auth": "basic", "username": "CONTOSO\\administrator",
            "password": "Passw0rd!", "no_proxy": True},
        "exchange_dr_windows_connection": {
            "server": "127.0.0.1", "port": fresh_lab.host("EX03")["https_port"], "ssl": True, "validate_certs": True,
            "ca_trust_path": fresh_lab.ca_file, "auth": "basic", "username": "CONTOSO\\administrator",
            "password": "Passw0rd!", "no_proxy": True, "path": "wsman", "configuration_name": "Microsoft.PowerShell"}}
    dc01 = printed["all"]["children"]["domain_controllers"]["hosts"]["DC01"]
    assert dc01["exchange_dr_roles"] == ["DomainController", "DNS"]
    assert dc01["exchange_dr_connection"]["port"] == fresh_lab.host("DC01")["https_port"]
    assert "exchange_dr_dag" not in dc01
    top = printed["all"]["vars"]
    assert top["ansible_connection"] == "local"
    assert top["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert top["exchange_dr_connection"]["port"] == fresh_lab.host("EX01")["https_port"]
    assert top["exchange_dr_lab"] == {"state_dir": str(fresh_lab.state_dir), "admin_url": fresh_lab.admin_url,
                                      "topology": "two-datacenters", "ca_file": fresh_lab.ca_file}


def test_connection_variables_open_a_session(fresh_lab):
    printed = yaml.safe_load(lab_cli("inventory", "--state-dir", str(fresh_lab.state_dir),
                                     "--user", "viewer@contoso.com").stdout)
    conn = printed["all"]["children"]["exchange_servers"]["hosts"]["EX02"]["exchange_dr_connection"]
    assert conn["username"] == "CONTOSO\\viewer"
    wsman = WSMan(conn["server"], port=conn["port"], path="PowerShell", ssl=conn["ssl"], auth=conn["auth"],
                  username=conn["username"], password=conn["password"], cert_validation=conn["ca_trust_path"],
                  no_proxy=conn["no_proxy"])
    with RunspacePool(wsman, configuration_name="Microsoft.Exchange") as pool:
        assert len(run(pool, "Get-ExchangeServer").output) == 4
    entry = fresh_lab.audit()[-1]
    assert (entry["host"], entry["user"], entry["outcome"]) == ("EX02", "CONTOSO\\viewer", "ok")
    windows = printed["all"]["children"]["exchange_servers"]["hosts"]["EX02"]["exchange_dr_windows_connection"]
    wsman = WSMan(windows["server"], port=windows["port"], path=windows["path"], ssl=windows["ssl"],
                  auth=windows["auth"], username=windows["username"], password=windows["password"],
                  cert_validation=windows["ca_trust_path"], no_proxy=windows["no_proxy"])
    with RunspacePool(wsman, configuration_name=windows["configuration_name"]) as pool:
        assert [props(o)["Name"] for o in run(pool, "Get-Service", Name="MSExchangeTransport").output] == [
            "MSExchangeTransport"]
    entry = fresh_lab.audit()[-1]
    assert (entry["host"], entry["configuration"], entry["cmdlet"]) == ("EX02", "Microsoft.PowerShell", "Get-Service")


def test_header_says_how_to_use_it(fresh_lab):
    text = lab_cli("inventory", "--state-dir", str(fresh_lab.state_dir)).stdout
    assert text.startswith("# Ansible inventory of the exchange.dr lab in %s" % fresh_lab.state_dir)
    assert 'group/exchange.dr.exchange: "{{ exchange_dr_connection }}"' in text


@pytest.mark.parametrize("args, needle", [
    (["--user", "CONTOSO\\nobody"], "no lab user 'CONTOSO\\nobody' (users of this topology: CONTOSO\\administrator, "
                                    "CONTOSO\\viewer)"),
])
def test_unknown_user(fresh_lab, args, needle):
    proc = lab_cli("inventory", "--state-dir", str(fresh_lab.state_dir), *args, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and needle in proc.stderr
    assert proc.stdout == ""


def test_not_a_lab_or_not_running(tmp_path):
    proc = lab_cli("inventory", "--state-dir", str(tmp_path), check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "not a lab state dir" in proc.stderr
    (tmp_path / "lab.json").write_text('{"pid": 0, "hosts": [], "ca_file": "x", "topology": "two-datacenters"}')
    proc = lab_cli("inventory", "--state-dir", str(tmp_path), check=False)
    assert proc.returncode == 1 and "is not running" in proc.stderr


def test_build_sanitises_group_names_and_handles_servers_outside_a_dag():
    info = {"ca_file": "/ca.pem", "state_dir": "/s", "admin_url": "http://a", "topology": "t", "hosts": [
        {"name": "EX10", "fqdn": "ex10.contoso.com", "site": "Branch-1", "roles": ["Mailbox"], "version": "2016",
         "kind": "exchange", "http_port": 1, "https_port": 2},
        {"name": "DC10", "fqdn": "dc10.contoso.com", "site": "Branch-1", "roles": ["DomainController"],
         "version": "WS2016", "kind": "dc", "http_port": 3, "https_port": 4}]}
    state = {"exchange_servers": [{"name": "EX10", "build": "Version 15.1 (Build 2507.6)"}], "dags": []}
    users = [{"name": "CONTOSO\\administrator", "sam": "administrator", "upn": "administrator@contoso.com",
              "password": "pw"}]
    built = inventory.build(info, state, users, "administrator")
    children = built["all"]["children"]
    assert set(children) == {"exchange_servers", "domain_controllers", "site_Branch_1", "exchange_2016"}
    ex10 = children["exchange_servers"]["hosts"]["EX10"]
    assert (ex10["exchange_dr_dag"], ex10["exchange_dr_build"]) == (None, "15.1.2507.6")
    assert built["all"]["vars"]["exchange_dr_connection"]["port"] == 2
