"""The exchange.dr.exchange inventory plugin: options, file names, hosts, groups and variables.

The plugin's client is replaced at its seam (``exchange.Client``); the whole plugin against the
lab, through ansible-inventory, is tests/integration/test_inventory.py.
"""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.exchange.dr.plugins.inventory import exchange as plugin_module
from ansible_collections.exchange.dr.plugins.module_utils.errors import ConnectionFailure
from ansible_collections.exchange.dr.plugins.module_utils.psrp import CONNECTION_ARGSPEC

DOC = yaml.safe_load(plugin_module.DOCUMENTATION)


def server(name, site="DC1", version="Version 15.2 (Build 1544.4)", roles="Mailbox"):
    return {"Name": name, "Fqdn": name.lower() + ".contoso.com", "Site": "contoso.com/Configuration/Sites/" + site,
            "ServerRole": roles, "AdminDisplayVersion": version, "Edition": "Enterprise", "IsMailboxServer": True}


REPLIES = {
    "Get-ExchangeServer": [server("EX01"), server("EX02"), server("EX03", "DC2"),
                           server("EX13", "DC-3", "Version 15.0 (Build 1497.2)", "Mailbox, ClientAccess"),
                           server("SE01", "DC1", "Version 15.2 (Build 2562.17)")],
    "Get-DatabaseAvailabilityGroup": [{"Name": "DAG1", "Servers": ["EX01", "ex02.contoso.com", "EX03"]},
                                      {"Name": "DAG-2", "Servers": ["EX13"]}],
}


class FakeClient:
    instances = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls = []
        FakeClient.instances.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def invoke(self, cmdlet, params=None, select=None, errors="raise"):
        self.calls.append((cmdlet, params, list(select or [])))
        return [dict(row) for row in REPLIES[cmdlet]]


@pytest.fixture
def fake_client(monkeypatch):
    FakeClient.instances = []
    monkeypatch.setattr(plugin_module, "Client", FakeClient)
    return FakeClient


def make_plugin(monkeypatch, **options):
    values = {key: spec.get("default") for key, spec in DOC["options"].items()}
    values.update({"compose": {}, "groups": {}, "keyed_groups": [], "strict": False, "cache": False,
                   "server": "ex01.contoso.com", "username": "viewer@CONTOSO.COM", "password": "secret-pw"})
    values.update(options)
    plugin = plugin_module.InventoryModule()
    plugin.inventory = InventoryData()
    plugin.templar = Templar(loader=DataLoader())
    monkeypatch.setattr(plugin, "get_option", lambda key: values[key])
    return plugin


def hostvars(plugin, host):
    """The variables the plugin set on ``host`` (without the magic ones)."""
    variables = plugin.inventory.get_host(host).vars
    return {key: value for key, value in variables.items() if key not in ("inventory_file", "inventory_dir")}


def trusted(value):
    """Expressions as they come from the configuration file, which ansible-core trusts as templates."""
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return trust_as_template(value) if isinstance(value, str) else value


def members(plugin, group):
    return sorted(h.name for h in plugin.inventory.groups[group].get_hosts())


# ---------------------------------------------------------------------------- options
def test_connection_options_mirror_the_modules():
    options = DOC["options"]
    for name, spec in CONNECTION_ARGSPEC.items():
        documented = options[name]
        assert documented["type"] == spec["type"], name
        assert documented.get("default") == spec.get("default"), name
        assert documented.get("required", False) == spec.get("required", False), name
        assert [str(c) for c in documented.get("choices", [])] == spec.get("choices", []), name
        assert documented["env"] == [{"name": "EXCHANGE_DR_%s" % name.upper()}], name
    assert set(options) - set(CONNECTION_ARGSPEC) == {"plugin", "host_vars"}
    assert DOC["extends_documentation_fragment"] == ["ansible.builtin.constructed", "ansible.builtin.inventory_cache"]


@pytest.mark.parametrize("name, accepted", [
    ("lab.exchange.yml", True),
    ("org.exchange.yaml", True),
    ("inventory/prod.exchange.dr.exchange.yml", True),
    ("exchange.yml", True),
    ("lab.exchange.json", False),
    ("hosts.yml", False),
    ("exchange.yml.bak", False),
])
def test_verify_file(tmp_path, name, accepted):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("plugin: exchange.dr.exchange\n")
    assert plugin_module.InventoryModule().verify_file(str(path)) is accepted


def test_verify_file_needs_the_file(tmp_path):
    assert plugin_module.InventoryModule().verify_file(str(tmp_path / "missing.exchange.yml")) is False


# ------------------------------------------------------------------------------- read
def test_two_round_trips_projected(monkeypatch, fake_client):
    plugin = make_plugin(monkeypatch, port=8443, auth="kerberos")
    servers = plugin._read_servers()
    (client,) = fake_client.instances
    assert [(cmdlet, params) for cmdlet, params, _select in client.calls] == [
        ("Get-ExchangeServer", None), ("Get-DatabaseAvailabilityGroup", None)]
    assert client.calls[1][2] == ["Name", "Servers"]
    assert "Fqdn" in client.calls[0][2] and "Site" in client.calls[0][2]
    assert client.kwargs == {key: {"server": "ex01.contoso.com", "port": 8443, "auth": "kerberos",
                                   "username": "viewer@CONTOSO.COM", "password": "secret-pw"}.get(
                                       key, CONNECTION_ARGSPEC[key].get("default")) for key in CONNECTION_ARGSPEC}
    assert servers[0] == {"name": "EX01", "fqdn": "ex01.contoso.com", "site": "DC1", "roles": ["Mailbox"],
                          "product": "2019", "build": "15.2.1544.4", "dag": "DAG1"}
    assert [(s["name"], s["dag"], s["product"]) for s in servers] == [
        ("EX01", "DAG1", "2019"), ("EX02", "DAG1", "2019"), ("EX03", "DAG1", "2019"), ("EX13", "DAG-2", "2013"),
        ("SE01", None, "SE")]


def test_password_template_is_rendered(monkeypatch, fake_client):
    monkeypatch.setenv("EXCHANGE_TEST_PASSWORD", "from-the-env")
    plugin = make_plugin(monkeypatch, password="{{ lookup('ansible.builtin.env', 'EXCHANGE_TEST_PASSWORD') }}")
    monkeypatch.setattr(plugin.templar, "is_template", lambda value: "{{" in value)
    monkeypatch.setattr(plugin.templar, "template", lambda value: "from-the-env" if "lookup" in value else value)
    plugin._read_servers()
    assert fake_client.instances[0].kwargs["password"] == "from-the-env"


class RefusedClient(FakeClient):
    def invoke(self, cmdlet, params=None, select=None, errors="raise"):
        raise ConnectionFailure("401 from ex01.contoso.com:443 - check username/password")


def test_connection_failure_is_one_parser_error(monkeypatch):
    monkeypatch.setattr(plugin_module, "Client", RefusedClient)
    plugin = make_plugin(monkeypatch)
    with pytest.raises(AnsibleParserError) as exc:
        plugin._read_servers()
    assert str(exc.value) == ("exchange.dr.exchange cannot read the Exchange servers from ex01.contoso.com: "
                              "401 from ex01.contoso.com:443 - check username/password")
    assert "secret-pw" not in str(exc.value)


def test_missing_pypsrp_names_the_pip_package(monkeypatch, tmp_path):
    monkeypatch.setattr(plugin_module, "HAS_PYPSRP", False)
    monkeypatch.setattr(plugin_module.InventoryModule, "_read_config_data", lambda self, path: None)
    plugin = plugin_module.InventoryModule()
    with pytest.raises(AnsibleError) as exc:
        plugin.parse(InventoryData(), DataLoader(), str(tmp_path / "lab.exchange.yml"), cache=False)
    assert "Failed to import the required Python library (pypsrp)" in str(exc.value)
    assert "pip install pypsrp" in str(exc.value)


# --------------------------------------------------------------------------- populate
@pytest.fixture
def servers(monkeypatch, fake_client):
    return make_plugin(monkeypatch)._read_servers()


def test_hosts_groups_and_variables(monkeypatch, servers):
    plugin = make_plugin(monkeypatch)
    plugin._populate(servers)
    assert members(plugin, "exchange_servers") == ["EX01", "EX02", "EX03", "EX13", "SE01"]
    assert members(plugin, "site_DC1") == ["EX01", "EX02", "SE01"]
    assert members(plugin, "site_DC_3") == ["EX13"]
    assert members(plugin, "dag_DAG1") == ["EX01", "EX02", "EX03"]
    assert members(plugin, "dag_DAG_2") == ["EX13"]
    assert members(plugin, "exchange_2019") == ["EX01", "EX02", "EX03"]
    assert members(plugin, "exchange_2013") == ["EX13"]
    assert members(plugin, "exchange_se") == ["SE01"]
    assert hostvars(plugin, "EX13") == {
        "exchange_dr_fqdn": "ex13.contoso.com", "exchange_dr_site": "DC-3", "exchange_dr_dag": "DAG-2",
        "exchange_dr_version": "2013", "exchange_dr_build": "15.0.1497.2",
        "exchange_dr_roles": ["Mailbox", "ClientAccess"]}
    assert hostvars(plugin, "SE01")["exchange_dr_dag"] is None


def test_host_vars_are_set_as_written(monkeypatch, servers):
    connection = {"server": "{{ exchange_dr_fqdn }}", "auth": "kerberos"}
    plugin = make_plugin(monkeypatch, host_vars={"ansible_connection": "local", "exchange_dr_connection": connection})
    plugin._populate(servers)
    variables = hostvars(plugin, "EX02")
    assert variables["ansible_connection"] == "local"
    assert variables["exchange_dr_connection"] == connection


def test_host_vars_must_be_a_dict(monkeypatch, servers):
    plugin = make_plugin(monkeypatch, host_vars=["ansible_connection=local"])
    with pytest.raises(AnsibleParserError, match="host_vars must be a dictionary of variables, got list"):
        plugin._populate(servers)


def test_constructed_options(monkeypatch, servers):
    plugin = make_plugin(
        monkeypatch,
        compose=trusted({"ansible_host": "exchange_dr_fqdn", "short_site": "exchange_dr_site | lower"}),
        groups=trusted({"primary": "exchange_dr_site == 'DC1'", "cas": "'ClientAccess' in exchange_dr_roles"}),
        keyed_groups=trusted([{"key": "exchange_dr_roles", "prefix": "role"}]))
    plugin._populate(servers)
    assert hostvars(plugin, "EX03")["ansible_host"] == "ex03.contoso.com"
    assert hostvars(plugin, "EX13")["short_site"] == "dc-3"
    assert members(plugin, "primary") == ["EX01", "EX02", "SE01"]
    assert members(plugin, "cas") == ["EX13"]
    assert members(plugin, "role_Mailbox") == ["EX01", "EX02", "EX03", "EX13", "SE01"]
    assert members(plugin, "role_ClientAccess") == ["EX13"]


def test_strict_compose_errors(monkeypatch, servers):
    lenient = make_plugin(monkeypatch, compose=trusted({"x": "no_such_var.attr"}))
    lenient._populate(servers)
    assert "x" not in hostvars(lenient, "EX01")
    strict = make_plugin(monkeypatch, compose=trusted({"x": "no_such_var.attr"}), strict=True)
    with pytest.raises(AnsibleError, match="Could not set x for host EX01"):
        strict._populate(servers)
