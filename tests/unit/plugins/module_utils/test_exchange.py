"""exchange.py: typed reads, normalisation, one call per kind (per server for two kinds)."""

from __future__ import annotations

import pytest

from ansible_collections.exchange.dr.plugins.module_utils import exchange
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError


class FakeClient:
    """Answers ``invoke`` from canned plain rows per (cmdlet, first parameter value)."""

    def __init__(self, replies):
        self.replies = replies
        self.calls = []

    def invoke(self, cmdlet, params=None, select=None, errors="raise"):
        self.calls.append((cmdlet, dict(params or {}), list(select or [])))
        key = (cmdlet, next(iter((params or {}).values()), None)) if cmdlet in ("Get-ServerComponentState", "Get-Queue") else cmdlet
        reply = self.replies.get(key, [])
        if isinstance(reply, Exception):
            raise reply
        rows, errs = (reply if isinstance(reply, tuple) else (reply, []))
        return (rows, errs) if errors == "return" else rows


def server(name, version="Version 15.2 (Build 1544.4)", roles="Mailbox"):
    return {"Name": name, "Fqdn": name.lower() + ".contoso.com", "Site": "contoso.com/Configuration/Sites/DC1",
            "ServerRole": roles, "AdminDisplayVersion": version, "Edition": "Enterprise", "IsMailboxServer": "Mailbox" in roles}


def copy(db, srv, active_srv, status="Healthy"):
    return {"Name": "%s\\%s" % (db, srv), "DatabaseName": db, "MailboxServer": srv, "ActiveDatabaseCopy": active_srv.lower(),
            "ActiveCopy": srv == active_srv, "Status": "Mounted" if srv == active_srv else status,
            "CopyQueueLength": 0, "ReplayQueueLength": 2016, "LastInspectedLogTime": "2026-03-14T10:02:11Z"}


def error(target):
    return ExchangeCommandError("Get-Queue", "QueueViewerException", "NotSpecified", target, "unreachable", None)


REPLIES = {
    "Get-ExchangeServer": [server("EX01"), server("EX02", "Version 14.3 (Build 123.4)", "Mailbox, HubTransport"),
                           server("EDGE1", roles="Edge"), server("CAS1", "Version 15.0 (Build 1497.2)", "ClientAccess")],
    "Get-MailboxServer": [{"Name": "EX01", "DatabaseAvailabilityGroup": "DAG1", "DatabaseCopyAutoActivationPolicy": "Blocked",
                           "MaximumActiveDatabases": 20}, {"Name": "ex02", "DatabaseAvailabilityGroup": None}],
    "Get-DatabaseAvailabilityGroup": [{"Name": "DAG1", "Servers": ["EX01", "EX02"], "StoppedMailboxServers": ["ex02.contoso.com"],
                                       "PrimaryActiveManager": "EX01", "WitnessServer": "FS01.contoso.com",
                                       "DatabaseAvailabilityGroupIpv4Addresses": ["10.1.1.50"], "ReplicationPort": 64327}],
    "Get-MailboxDatabase": [{"Name": "DB08", "Servers": ["EX02", "EX01"], "MountedOnServer": "ex02.contoso.com",
                             "ActivationPreference": [{"Key": "EX02", "Value": 1}, {"Key": "EX01", "Value": 2}],
                             "ReplayLagTimes": [{"Key": "EX02", "Value": "PT0S"}, {"Key": "EX01", "Value": "P7D"}],
                             "DatabaseSize": "1.5 GB (1,610,612,736 bytes)", "Mounted": True}],
    "Get-MailboxDatabaseCopyStatus": [copy("DB08", "EX02", "EX02"), copy("DB08", "EX01", "EX02")],
    "Get-DatabaseAvailabilityGroupNetwork": [{"Identity": "DAG1\\MapiDagNetwork", "Name": "MapiDagNetwork",
                                              "Subnets": [{"SubnetId": "10.1.1.0/24", "State": "Up"}, "{10.2.1.0/24,Up}"],
                                              "Interfaces": [{"NodeName": "EX01", "State": "Up", "IPAddress": "10.1.1.11"},
                                                             "{EX02,Unreachable,10.2.1.12}"],
                                              "MapiAccessEnabled": True}],
    ("Get-ServerComponentState", "EX01"): [{"Identity": "EX01", "Component": "HubTransport", "State": "Inactive",
                                            "LocalStates": [{"Requester": "Maintenance", "State": "Inactive",
                                                             "Timestamp": "2026-03-14T10:02:11Z"}], "RemoteStates": []}],
    ("Get-ServerComponentState", "CAS1"): ExchangeCommandError("Get-ServerComponentState", "ServerUnavailable", None,
                                                               "CAS1", "CAS1 is not reachable", None),
    ("Get-Queue", "EX01"): [{"Identity": "EX01\\Submission", "Status": "Ready", "MessageCount": 3}],
    ("Get-Queue", "EX02"): ([{"Identity": "EX02\\Shadow\\3", "MessageCount": "0"}], [error("EX02")]),
}


@pytest.fixture
def client():
    return FakeClient(REPLIES)


def test_select_lists_every_table_property():
    for kind, table in exchange.PROPERTIES.items():
        assert exchange.select(kind) == [prop for prop, _key, _conv in table]
        keys = [key for _prop, key, _conv in table]
        assert len(keys) == len(set(keys)), kind


def test_servers_merge_mailbox_settings_and_version(client):
    servers = exchange.read_servers(client)
    assert [c[0] for c in client.calls] == ["Get-ExchangeServer", "Get-MailboxServer"]
    assert client.calls[0][2] == exchange.select("servers")
    ex01, ex02, edge, cas = servers
    assert (ex01["site"], ex01["roles"], ex01["product"], ex01["build"], ex01["dag"]) == (
        "DC1", ["Mailbox"], "2019", "15.2.1544.4", "DAG1")
    assert ex01["database_copy_auto_activation_policy"] == "Blocked" and ex01["maximum_active_databases"] == 20
    assert ex02["roles"] == ["Mailbox", "HubTransport"] and ex02["product"] == "2010" and ex02["dag"] is None
    assert edge["dag"] is None and "auto_database_mount_dial" in edge
    assert exchange.component_servers(servers) == ["EX01", "CAS1"]
    assert exchange.transport_servers(servers) == ["EX01", "EX02"]


def test_dags(client):
    (dag,) = exchange.read_dags(client)
    assert client.calls == [("Get-DatabaseAvailabilityGroup", {"Status": None}, exchange.select("dags"))]
    assert dag["servers"] == ["EX01", "EX02"]
    assert dag["stopped_mailbox_servers"] == ["ex02"]
    assert dag["operational_servers"] == [] and dag["witness_server"] == "FS01.contoso.com"
    assert dag["ip_addresses"] == ["10.1.1.50"] and dag["replication_port"] == 64327


def test_databases(client):
    (db,) = exchange.read_databases(client)
    assert client.calls[0][1] == {"Status": None}
    assert db["activation_preference"] == {"EX02": 1, "EX01": 2}
    assert db["replay_lag_times"] == {"EX02": "00:00:00", "EX01": "7.00:00:00"}
    assert db["truncation_lag_times"] == {}
    assert db["database_size"] == 1610612736
    assert db["mounted_on_server"] == "EX02"
    assert db["last_full_backup"] is None


def test_copies_in_one_call_with_active_server_spelled_like_the_servers(client):
    copies = exchange.read_copies(client)
    assert client.calls == [("Get-MailboxDatabaseCopyStatus", {}, exchange.select("copies"))]
    assert [(c["name"], c["active_server"], c["active"], c["status"]) for c in copies] == [
        ("DB08\\EX02", "EX02", True, "Mounted"), ("DB08\\EX01", "EX02", False, "Healthy")]
    assert copies[0]["last_inspected_log_time"] == "2026-03-14T10:02:11+00:00"


def test_networks(client):
    (net,) = exchange.read_networks(client)
    assert net["dag"] == "DAG1"
    assert net["subnets"] == [{"subnet": "10.1.1.0/24", "state": "Up"}, {"subnet": "10.2.1.0/24", "state": "Up"}]
    assert net["interfaces"] == [{"node": "EX01", "state": "Up", "ip_address": "10.1.1.11"},
                                 {"node": "EX02", "state": "Unreachable", "ip_address": "10.2.1.12"}]
    assert net["mapi_access_enabled"] is True and net["replication_enabled"] is None


def test_components_and_queues_per_server_with_problems_reported(client):
    servers = exchange.read_servers(client)
    components, problems = exchange.read_components(client, servers)
    assert [c[1] for c in client.calls if c[0] == "Get-ServerComponentState"] == [{"Identity": "EX01"}, {"Identity": "CAS1"}]
    assert components == [{"server": "EX01", "component": "HubTransport", "state": "Inactive",
                           "local_states": [{"requester": "Maintenance", "state": "Inactive",
                                             "timestamp": "2026-03-14T10:02:11+00:00"}], "remote_states": []}]
    assert problems == ["Get-ServerComponentState failed: CAS1 is not reachable (error id ServerUnavailable, target CAS1)"]
    queues, problems = exchange.read_queues(client, servers)
    assert [(q["server"], q["identity"], q["message_count"]) for q in queues] == [
        ("EX01", "EX01\\Submission", 3), ("EX02", "EX02\\Shadow\\3", 0)]
    assert problems == ["Get-Queue failed: unreachable (error id QueueViewerException, target EX02)"]


@pytest.mark.parametrize("subsets, calls, kinds", [
    (["all"], ["Get-ExchangeServer", "Get-MailboxServer", "Get-DatabaseAvailabilityGroup", "Get-MailboxDatabase",
               "Get-MailboxDatabaseCopyStatus", "Get-DatabaseAvailabilityGroupNetwork", "Get-ServerComponentState",
               "Get-ServerComponentState", "Get-Queue", "Get-Queue"], list(exchange.SUBSETS)),
    (["copies"], ["Get-MailboxDatabaseCopyStatus"], ["copies"]),
    (["dags", "networks"], ["Get-DatabaseAvailabilityGroup", "Get-DatabaseAvailabilityGroupNetwork"], ["dags", "networks"]),
    (["queues"], ["Get-ExchangeServer", "Get-MailboxServer", "Get-Queue", "Get-Queue"], ["queues"]),
    ([], [], []),
])
def test_gather_reads_only_what_is_asked(client, subsets, calls, kinds):
    facts, _problems = exchange.gather(client, subsets)
    assert [c[0] for c in client.calls] == calls
    assert list(facts) == kinds


def test_gather_lets_a_failing_organisation_wide_read_raise(client):
    client.replies = dict(REPLIES, **{"Get-MailboxDatabaseCopyStatus": error("DB08")})
    with pytest.raises(ExchangeCommandError):
        exchange.gather(client, ["copies"])


def test_membership_for_inventories_in_two_calls(client):
    servers = exchange.read_membership(client)
    assert client.calls == [
        ("Get-ExchangeServer", {}, exchange.select("servers")),
        ("Get-DatabaseAvailabilityGroup", {}, ["Name", "Servers"])]  # no -Status: no call to the members
    assert [(s["name"], s["dag"], s["product"], s["build"]) for s in servers] == [
        ("EX01", "DAG1", "2019", "15.2.1544.4"), ("EX02", "DAG1", "2010", "14.3.123.4"),
        ("EDGE1", None, "2019", "15.2.1544.4"), ("CAS1", None, "2013", "15.0.1497.2")]
