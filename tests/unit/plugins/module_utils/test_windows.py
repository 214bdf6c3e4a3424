"""windows.py: the Windows endpoint options and the service and cluster node calls (a fake client)."""

from __future__ import annotations

import pytest

from ansible_collections.exchange.dr.plugins.module_utils import windows as w
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError
from ansible_collections.exchange.dr.plugins.module_utils.psrp import CONNECTION_ARGSPEC

EXCHANGE = {"server": "127.0.0.1", "port": 443, "path": "PowerShell", "configuration_name": None,
            "username": "CONTOSO\\admin", "password": "secret", "auth": "basic", "ssl": True, "validate_certs": True,
            "ca_trust_path": "/ca.pem", "certificate_pem": None, "certificate_key_pem": None,
            "allow_unencrypted": False, "connection_timeout": 30, "operation_timeout": 20, "reconnection_retries": 0,
            "reconnection_backoff": 2.0, "proxy": None, "no_proxy": True, "message_encryption": "auto",
            "exchange_version": "auto"}


def test_spec_mirrors_the_connection_options_without_defaults_or_environment():
    spec = w.windows_connection_argument_spec()["windows_connection"]
    assert spec["type"] == "dict"
    options = spec["options"]
    assert set(options) == set(CONNECTION_ARGSPEC) - {"exchange_version"}
    assert options["path"] == {"type": "str", "default": "wsman"}
    assert options["configuration_name"] == {"type": "str", "default": "Microsoft.PowerShell"}
    assert options["password"]["no_log"] is True
    assert all("fallback" not in o and "required" not in o for o in options.values())
    assert all("default" not in o for name, o in options.items() if name not in ("path", "configuration_name"))
    assert options["auth"]["choices"] == CONNECTION_ARGSPEC["auth"]["choices"]


def test_omitted_windows_connection_is_derived_from_the_exchange_connection():
    params = w.windows_params(dict(EXCHANGE, windows_connection=None), "ex01.contoso.com")
    assert params["server"] == "ex01.contoso.com" and params["port"] == 5986
    assert (params["path"], params["configuration_name"]) == ("wsman", "Microsoft.PowerShell")
    assert (params["username"], params["password"], params["auth"]) == ("CONTOSO\\admin", "secret", "basic")
    assert params["ca_trust_path"] == "/ca.pem" and params["no_proxy"] is True
    assert "exchange_version" not in params


def test_given_suboptions_win_and_http_defaults_to_5985():
    given = {"server": None, "port": None, "path": "wsman", "configuration_name": "Microsoft.PowerShell",
             "username": "CONTOSO\\winadmin", "password": "other", "auth": "ntlm", "ssl": False}
    params = w.windows_params(dict(EXCHANGE, windows_connection=given), "ex02.contoso.com")
    assert (params["server"], params["port"], params["ssl"]) == ("ex02.contoso.com", 5985, False)
    assert (params["username"], params["password"], params["auth"]) == ("CONTOSO\\winadmin", "other", "ntlm")
    override = w.windows_params(dict(EXCHANGE, windows_connection=given), "ex02.contoso.com",
                                {"server": "127.0.0.1", "port": 40001})
    assert (override["server"], override["port"], override["username"]) == ("127.0.0.1", 40001, "CONTOSO\\admin")


class FakeClient:
    """Replies per cmdlet; records what is sent."""

    def __init__(self, replies):
        self.replies = replies
        self.sent = []

    def invoke(self, cmdlet, params=None, select=None, errors="raise"):
        self.sent.append((cmdlet, params))
        reply = self.replies.get(cmdlet, [])
        if callable(reply):
            reply = reply()
        return (reply, []) if errors == "return" else reply


def service(status):
    return [{"Name": "MSExchangeTransport", "DisplayName": "Microsoft Exchange Transport", "Status": status,
             "StartType": "Automatic"}]


@pytest.mark.parametrize("status, state, sent", [
    ("Running", "started", []),
    ("Stopped", "started", ["Start-Service"]),
    ("Running", "stopped", ["Stop-Service"]),
    ("Stopped", "stopped", []),
    ("Running", "restarted", ["Stop-Service", "Start-Service"]),
    ("Stopped", "restarted", ["Start-Service"]),
])
def test_set_service_state(status, state, sent):
    client = FakeClient({"Get-Service": service(status)})
    result = w.set_service_state(client, "MSExchangeTransport", state)
    assert result["commands"] == sent and result["changed"] is bool(sent)
    assert [c for c, _p in client.sent if c != "Get-Service"] == sent
    assert result["before"]["status"] == status


def test_set_service_state_force_and_errors():
    client = FakeClient({"Get-Service": service("Running")})
    w.set_service_state(client, "MSExchangeTransport", "stopped", force=True)
    assert client.sent[-2] == ("Stop-Service", {"Name": "MSExchangeTransport", "Force": None})
    with pytest.raises(ValueError):
        w.set_service_state(client, "MSExchangeTransport", "paused")
    missing = FakeClient({"Get-Service": []})
    with pytest.raises(ExchangeCommandError, match="Cannot find any service"):
        w.set_service_state(missing, "Nope", "started")


def test_get_service_not_found_is_none_and_other_errors_raise():
    error = ExchangeCommandError("Get-Service", "NoServiceFoundForGivenName", "ObjectNotFound", "Nope", "not found", None)

    class Missing(FakeClient):
        def invoke(self, cmdlet, params=None, select=None, errors="raise"):
            return [], [error]

    assert w.get_service(Missing({}), "Nope") is None
    error.error_id = "System.InvalidOperationException"
    with pytest.raises(ExchangeCommandError):
        w.get_service(Missing({}), "Nope")


def test_cluster_nodes_and_pause_resume():
    nodes = [{"Name": "EX01", "State": "Paused", "Cluster": "DAG1", "DrainStatus": "Completed", "DynamicWeight": 1,
              "NodeWeight": 1},
             {"Name": "EX02", "State": "Up", "Cluster": "DAG1", "DrainStatus": "NotInitiated", "DynamicWeight": 1,
              "NodeWeight": 1}]
    client = FakeClient({"Get-ClusterNode": nodes, "Suspend-ClusterNode": nodes[:1], "Resume-ClusterNode": [],
                         "Get-ClusterGroup": [{"Name": "Cluster Group", "OwnerNode": "EX02"}]})
    assert [(n["name"], n["state"]) for n in w.get_cluster_nodes(client)] == [("EX01", "Paused"), ("EX02", "Up")]
    assert w.get_cluster_node(client, "ex02.contoso.com")["state"] == "Up"
    assert w.get_cluster_node(client, "EX09") is None
    assert w.suspend_cluster_node(client, "ex01.contoso.com")["state"] == "Paused"
    assert client.sent[-1] == ("Suspend-ClusterNode", {"Name": "ex01"})
    assert w.resume_cluster_node(client, "EX01") is None
    assert w.cluster_core_group_owner(client) == "EX02"
