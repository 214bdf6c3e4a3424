"""Inventories against the lab: ``exchange-lab inventory`` and the exchange.dr.exchange plugin.

One lab for the module.  Each inventory is checked with ``ansible-inventory --list`` (groups and
host variables) and used by a small playbook whose modules take their connection options from
``module_defaults: {group/exchange.dr.exchange: "{{ exchange_dr_connection }}"}``; the lab's
audit log shows which host each call reached.  The playbooks also run the copy filters on the
data exchange_info returns.
"""

from __future__ import annotations

import json

import pytest
import yaml

import harness
from harness import PASSWORD, lab_fixture, lab_inventory
EXCHANGE = ["EX01", "EX02", "EX03", "EX04"]


def plain(value):
    """ansible-inventory marks values that are not trusted templates as {"__ansible_unsafe": ...}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def group_hosts(listing, group):
    return sorted(listing.get(group, {}).get("hosts", []))


env = lab_fixture("two-datacenters", inventory=None, ANSIBLE_INVENTORY_UNPARSED_FAILED="1")


def ansible(env, tool, *args, check=True):
    proc = harness.ansible(env, tool, *args)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def audit_since(lab, start):
    return [(a["host"], a["cmdlet"]) for a in lab.audit()[start:] if a["cmdlet"] != "Select-Object"]


# ------------------------------------------------------------------- exchange-lab inventory
PLAYBOOK_STATIC = [
    {
        "name": "every DAG member, each through its own endpoint",
        "hosts": "dag_DAG1",
        "gather_facts": False,
        "module_defaults": {"group/exchange.dr.exchange": "{{ exchange_dr_connection }}"},
        "tasks": [
            {"name": "read the DAG", "exchange.dr.exchange_info": {"gather_subset": ["dags"]}, "register": "info"},
            {"name": "check it", "ansible.builtin.assert": {"that": ["info.dags[0].servers | length == 4"]}},
        ],
    },
    {
        "name": "the organization from localhost, with the copy filters",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/exchange.dr.exchange": "{{ exchange_dr_connection }}"},
        "tasks": [
            {"name": "read servers, databases and copies",
             "exchange.dr.exchange_info": {"gather_subset": ["servers", "databases", "copies", "components"]},
             "register": "org"},
            {"name": "apply the filters", "ansible.builtin.set_fact": {
                "unhealthy": "{{ org.copies | rejectattr('active') | map('exchange.dr.copy_health', "
                             "databases=org.databases) | rejectattr('healthy') | list }}",
                "db08": "{{ org | exchange.dr.best_copy(database='DB08', explain=true) }}",
                "db01_lossless": "{{ org | exchange.dr.best_copy(database='DB01', lossless=true) "
                                 "| map(attribute='server') | list }}",
                "sizes": "{{ ['1.5 GB (1,610,612,736 bytes)', 'Unlimited'] | map('exchange.dr.exchange_bytes') "
                         "| list }}",
            }},
            {"name": "write the results", "ansible.builtin.copy": {
                "dest": "{{ playbook_dir }}/static-results.json", "mode": "0600",
                "content": "{{ {'unhealthy': unhealthy, 'db08': db08, 'db01_lossless': db01_lossless, "
                           "'sizes': sizes, 'copies': org.copies | length} | to_json }}"}},
        ],
    },
]


@pytest.fixture(scope="module")
def static(env):
    lab, tmp = env["lab"], env["tmp"]
    path = lab_inventory(lab, tmp / "lab-inventory.yml")
    listing = json.loads(ansible(env, "ansible-inventory", "-i", str(path), "--list").stdout)
    (tmp / "static.yml").write_text(yaml.safe_dump(PLAYBOOK_STATIC, sort_keys=False))
    start = len(lab.audit())
    run = ansible(env, "ansible-playbook", "-i", str(path), "static.yml")
    return {"listing": listing, "output": run.stdout + run.stderr, "calls": audit_since(lab, start),
            "results": json.loads((tmp / "static-results.json").read_text())}


def test_static_inventory_lists_groups_and_connections(static, env):
    listing = static["listing"]
    assert group_hosts(listing, "exchange_servers") == EXCHANGE
    assert group_hosts(listing, "domain_controllers") == ["DC01", "DC02"]
    assert group_hosts(listing, "file_servers") == ["FS01", "FS02"]
    assert group_hosts(listing, "site_DC1") == ["DC01", "EX01", "EX02", "FS01"]
    assert group_hosts(listing, "dag_DAG1") == EXCHANGE
    assert group_hosts(listing, "exchange_2019") == EXCHANGE
    ex04 = plain(listing["_meta"]["hostvars"]["EX04"])
    assert ex04["exchange_dr_connection"]["port"] == env["lab"].host("EX04")["https_port"]
    assert ex04["ansible_connection"] == "local"
    assert (ex04["exchange_dr_site"], ex04["exchange_dr_dag"]) == ("DC2", "DAG1")


def test_static_inventory_drives_a_playbook(static):
    # the DAG play reached each member on its own endpoint; localhost used the organization endpoint (EX01)
    dag_calls = sorted(host for host, cmdlet in static["calls"] if cmdlet == "Get-DatabaseAvailabilityGroup")
    assert dag_calls == EXCHANGE
    assert {host for host, cmdlet in static["calls"] if cmdlet == "Get-MailboxDatabaseCopyStatus"} == {"EX01"}
    assert PASSWORD not in static["output"]


def test_filters_on_lab_data(static):
    results = static["results"]
    assert results["copies"] == 32
    assert results["unhealthy"] == [{"name": "DB08\\EX04", "healthy": False, "reasons": [
        "replay queue length 2016 is not below 50", "lagged copy (replay lag 7.00:00:00)"]}]
    ranked = [(c["server"], c["rank"], c["criteria_set"], c["excluded"]) for c in results["db08"]]
    assert ranked == [("EX01", 1, 1, None), ("EX03", 2, 1, None), ("EX02", None, None, "active copy"),
                      ("EX04", None, None, "lagged copy (replay lag 7.00:00:00)")]
    assert results["db01_lossless"] == ["EX02", "EX03", "EX04"]
    assert results["sizes"] == [1610612736, None]


# ---------------------------------------------------------------- the inventory plugin
def plugin_config(lab, **changes):
    ex01 = lab.host("EX01")
    connection = {"server": "127.0.0.1", "port": ex01["https_port"], "auth": "basic", "username": "CONTOSO\\viewer",
                  "password": PASSWORD, "ca_trust_path": lab.ca_file, "no_proxy": True}
    config = {
        "plugin": "exchange.dr.exchange",
        **connection,
        "host_vars": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            # the lab has one port per host; a real organization would use server: "{{ exchange_dr_fqdn }}"
            "lab_https_ports": {h: lab.host(h)["https_port"] for h in EXCHANGE},
            "exchange_dr_connection": dict(connection, port="{{ lab_https_ports[inventory_hostname] }}"),
        },
        "compose": {"ansible_host": "exchange_dr_fqdn"},
        "groups": {"primary_datacenter": "exchange_dr_site == 'DC1'"},
        "keyed_groups": [{"key": "exchange_dr_roles", "prefix": "role"}],
        "strict": True,
    }
    config.update(changes)
    return config


PLAYBOOK_PLUGIN = [{
    "name": "every Exchange server of the plugin's inventory",
    "hosts": "exchange_servers",
    "gather_facts": False,
    "module_defaults": {"group/exchange.dr.exchange": "{{ exchange_dr_connection }}"},
    "tasks": [
        {"name": "read the servers", "exchange.dr.exchange_info": {"gather_subset": ["servers"]}, "register": "info"},
        {"name": "check the names", "ansible.builtin.assert": {
            "that": ["inventory_hostname in info.servers | map(attribute='name')"]}},
        {"name": "probe the connection", "exchange.dr.connection_debug": {}, "register": "probe"},
        {"name": "check the probe", "ansible.builtin.assert": {
            "that": ["probe.ok", "probe.tcp.reachable", "probe.endpoint.username == 'CONTOSO\\\\viewer'"]}},
    ],
}]


@pytest.fixture(scope="module")
def plugin(env):
    lab, tmp = env["lab"], env["tmp"]
    (tmp / "lab.exchange.yml").write_text(yaml.safe_dump(plugin_config(lab), sort_keys=False))
    start = len(lab.audit())
    listing = json.loads(ansible(env, "ansible-inventory", "-i", "lab.exchange.yml", "--list").stdout)
    inventory_calls = audit_since(lab, start)
    (tmp / "plugin.yml").write_text(yaml.safe_dump(PLAYBOOK_PLUGIN, sort_keys=False))
    start = len(lab.audit())
    run = ansible(env, "ansible-playbook", "-i", "lab.exchange.yml", "plugin.yml")
    return {"listing": listing, "inventory_calls": inventory_calls, "output": run.stdout + run.stderr,
            "calls": audit_since(lab, start)}


def test_plugin_groups(plugin):
    listing = plugin["listing"]
    assert group_hosts(listing, "exchange_servers") == EXCHANGE
    assert group_hosts(listing, "site_DC1") == ["EX01", "EX02"]
    assert group_hosts(listing, "site_DC2") == ["EX03", "EX04"]
    assert group_hosts(listing, "dag_DAG1") == EXCHANGE
    assert group_hosts(listing, "exchange_2019") == EXCHANGE
    assert group_hosts(listing, "primary_datacenter") == ["EX01", "EX02"]
    assert group_hosts(listing, "role_Mailbox") == EXCHANGE


def test_plugin_hostvars(plugin, env):
    ex03 = plain(plugin["listing"]["_meta"]["hostvars"]["EX03"])
    assert {k: v for k, v in ex03.items() if k.startswith("exchange_dr_") and k != "exchange_dr_connection"} == {
        "exchange_dr_fqdn": "ex03.contoso.com", "exchange_dr_site": "DC2", "exchange_dr_dag": "DAG1",
        "exchange_dr_version": "2019", "exchange_dr_build": "15.2.1544.4", "exchange_dr_roles": ["Mailbox"]}
    assert ex03["ansible_host"] == "ex03.contoso.com"
    # host_vars are set as written: the template is rendered by the play, with the host's variables
    assert ex03["exchange_dr_connection"]["port"] == "{{ lab_https_ports[inventory_hostname] }}"


def test_plugin_reads_with_two_projected_calls(plugin):
    assert plugin["inventory_calls"] == [("EX01", "Get-ExchangeServer"), ("EX01", "Get-DatabaseAvailabilityGroup")]


def test_plugin_inventory_drives_a_playbook(plugin):
    # each host's templated connection reached that host's endpoint (Get-MailboxServer: exchange_info only;
    # ansible-playbook also parses the inventory, which reads Get-ExchangeServer on EX01)
    reads = sorted(host for host, cmdlet in plugin["calls"] if cmdlet == "Get-MailboxServer")
    assert reads == EXCHANGE
    assert "failed=0" in plugin["output"] and PASSWORD not in plugin["output"]


def test_plugin_cache(env):
    lab, tmp = env["lab"], env["tmp"]
    config = plugin_config(lab, cache=True, cache_plugin="ansible.builtin.jsonfile",
                           cache_connection=str(tmp / "inventory-cache"))
    (tmp / "cached.exchange.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    start = len(lab.audit())
    first = json.loads(ansible(env, "ansible-inventory", "-i", "cached.exchange.yml", "--list").stdout)
    second = json.loads(ansible(env, "ansible-inventory", "-i", "cached.exchange.yml", "--list").stdout)
    assert [c for _h, c in audit_since(lab, start)] == ["Get-ExchangeServer", "Get-DatabaseAvailabilityGroup"]
    assert plain(first) == plain(second)
    assert group_hosts(second, "dag_DAG1") == EXCHANGE


def test_plugin_failure_is_one_clear_message(env):
    lab, tmp = env["lab"], env["tmp"]
    (tmp / "wrong.exchange.yml").write_text(yaml.safe_dump(plugin_config(lab, password="wrong-password"),
                                                           sort_keys=False))
    proc = ansible(env, "ansible-inventory", "-i", "wrong.exchange.yml", "--list", check=False)
    assert proc.returncode != 0
    output = " ".join((proc.stdout + proc.stderr).split())
    assert "exchange.dr.exchange cannot read the Exchange servers from 127.0.0.1: 401 from 127.0.0.1:" in output
    assert "wrong-password" not in output and "Traceback" not in output
