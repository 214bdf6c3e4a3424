"""exchange.py: typed reads, normalisation, one call per kind (per server for two kinds)."""

from __future__ import annotations

import pytest

from ansible_collections.exchange.dr.plugins.module_utils import exchange
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError


class FakeClient:
    """Answers ``invoke`` from canned plain rows.

    Keys: the cmdlet; (cmdlet, first parameter value) for the per-server cmdlets; with pipeline
    ``input``, (cmdlet, item) per input object, or (cmdlet, item, StandbyMachine).  A reply that
    is an exception is a non-terminating error for that input object (raised for a call
    without input); ``(cmdlet, "pipeline")`` fails a piped call as a whole (terminating).
    """

    def __init__(self, replies, exchange_version="auto"):
        self.replies = replies
        self.exchange_version = exchange_version
        self.calls = []
        self.inputs = []

    def invoke(self, cmdlet, params=None, select=None, errors="raise", input=None):
        self.calls.append((cmdlet, dict(params or {}), list(select or [])))
        self.inputs.append(None if input is None else list(input))
        if input is not None:
            whole = self.replies.get((cmdlet, "pipeline"))
            if isinstance(whole, Exception):
                raise whole
            rows, errs = [], []
            for item in input:
                key = (cmdlet, item, params["StandbyMachine"]) if params and "StandbyMachine" in params else (cmdlet, item)
                reply = self.replies.get(key, [])
                if isinstance(reply, Exception):
                    errs.append(reply)
                else:
                    rows.extend(reply)
            if errs and errors == "raise":
                raise errs[0]
            return (rows, errs) if errors == "return" else rows
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
    assert "Servers" not in client.calls[0][2]  # derived, not sent
    assert db["activation_preference"] == {"EX02": 1, "EX01": 2}
    assert db["servers"] == ["EX02", "EX01"]
    assert list(db)[:6] == ["name", "guid", "server", "master", "servers", "activation_preference"]
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
    assert not {"DatabaseName", "MailboxServer"} & set(exchange.select("copies"))  # read from Name
    assert list(copies[0])[:4] == ["name", "database", "server", "active_server"]


@pytest.mark.parametrize("row, servers", [
    ({"ActivationPreference": [{"Key": "EX03", "Value": 3}, {"Key": "EX01", "Value": 1}, {"Key": "EX02", "Value": 2}]},
     ["EX01", "EX02", "EX03"]),
    ({"Server": "EX05", "ActivationPreference": []}, ["EX05"]),
    ({}, []),
])
def test_database_servers_are_the_preferences_in_order(row, servers):
    assert exchange.normalise("databases", row)["servers"] == servers


@pytest.mark.parametrize("name, database, server", [
    ("DB01\\EX02", "DB01", "EX02"),
    ("DB01\\ex02.contoso.com", "DB01", "ex02"),
    ("DB01", None, None),
    (None, None, None),
])
def test_copy_database_and_server_come_from_the_name(name, database, server):
    row = exchange.normalise("copies", {"Name": name})
    assert (row["name"], row["database"], row["server"]) == (name, database, server)


def test_networks(client):
    (net,) = exchange.read_networks(client)
    assert net["dag"] == "DAG1"
    assert net["subnets"] == [{"subnet": "10.1.1.0/24", "state": "Up"}, {"subnet": "10.2.1.0/24", "state": "Up"}]
    assert net["interfaces"] == [{"node": "EX01", "state": "Up", "ip_address": "10.1.1.11"},
                                 {"node": "EX02", "state": "Unreachable", "ip_address": "10.2.1.12"}]
    assert net["mapi_access_enabled"] is True and net["replication_enabled"] is None


def test_components_in_one_call_and_queues_per_server_with_problems_reported(client):
    servers = exchange.read_servers(client)
    client.calls, client.inputs = [], []
    components, problems = exchange.read_components(client, servers)
    assert client.calls == [("Get-ServerComponentState", {}, exchange.select("components"))]
    assert client.inputs == [["EX01", "CAS1"]]  # the server names go as pipeline input
    assert components == [{"server": "EX01", "component": "HubTransport", "state": "Inactive",
                           "local_states": [{"requester": "Maintenance", "state": "Inactive",
                                             "timestamp": "2026-03-14T10:02:11+00:00"}], "remote_states": []}]
    assert problems == ["Get-ServerComponentState failed: CAS1 is not reachable (error id ServerUnavailable, target CAS1)"]
    queues, problems = exchange.read_queues(client, servers)
    assert [c[1] for c in client.calls if c[0] == "Get-Queue"] == [{"Server": "EX01"}, {"Server": "EX02"}]
    assert [(q["server"], q["identity"], q["message_count"]) for q in queues] == [
        ("EX01", "EX01\\Submission", 3), ("EX02", "EX02\\Shadow\\3", 0)]
    assert problems == ["Get-Queue failed: unreachable (error id QueueViewerException, target EX02)"]


def test_components_fall_back_to_one_call_per_server_when_the_pipeline_fails(client):
    client.replies = {**REPLIES, ("Get-ServerComponentState", "pipeline"): ExchangeCommandError(
        "Get-ServerComponentState", "ServerUnavailable", None, "CAS1", "CAS1 is not reachable", None)}
    components, problems = exchange.read_components(client, exchange.read_servers(client))
    assert [(c[0], c[1]) for c in client.calls[2:]] == [
        ("Get-ServerComponentState", {}), ("Get-ServerComponentState", {"Identity": "EX01"}),
        ("Get-ServerComponentState", {"Identity": "CAS1"})]
    assert [c["server"] for c in components] == ["EX01"] and len(problems) == 1


def test_a_per_server_problem_names_the_server():
    client = FakeClient({("Get-Queue", "EX01"): ExchangeCommandError(
        "Get-Queue", "CommandNotFoundException", "ObjectNotFound", "Get-Queue", "not recognized", None)})
    rows, problems = exchange.read_queues(client, [{"name": "EX01", "major": 15, "roles": ["Mailbox"]}])
    assert rows == [] and problems[0].startswith("EX01: Get-Queue failed: not recognized")


def test_no_component_call_without_2013_servers():
    client = FakeClient({})
    assert exchange.read_components(client, [{"name": "EX02", "major": 14, "roles": ["Mailbox"]}]) == ([], [])
    assert client.calls == []


@pytest.mark.parametrize("server, transport", [
    ({"name": "A", "major": 15, "roles": ["Mailbox"]}, True),
    ({"name": "A", "major": 14, "roles": ["Mailbox"]}, False),  # 2010 Mailbox role: no transport
    ({"name": "A", "major": 14, "roles": ["Mailbox", "HubTransport"]}, True),
    ({"name": "A", "major": 8, "roles": ["ClientAccess", "HubTransport"]}, True),
    ({"name": "A", "roles": ["Mailbox"]}, True),  # version unknown: as 2013+
    ({"name": "A", "major": 15, "roles": ["Edge"]}, False),
])
def test_transport_servers(server, transport):
    assert exchange.transport_servers([server]) == (["A"] if transport else [])


@pytest.mark.parametrize("subsets, calls, kinds", [
    (["all"], ["Get-ExchangeServer", "Get-MailboxServer", "Get-DatabaseAvailabilityGroup", "Get-MailboxDatabase",
               "Get-MailboxDatabaseCopyStatus", "Get-DatabaseAvailabilityGroupNetwork", "Get-ServerComponentState",
               "Get-Queue", "Get-Queue"], [k for k in exchange.SUBSETS if k != "clustered_mailbox_servers"]),
    (["copies"], ["Get-MailboxDatabaseCopyStatus"], ["copies"]),
    (["dags", "networks"], ["Get-DatabaseAvailabilityGroup", "Get-DatabaseAvailabilityGroupNetwork"], ["dags", "networks"]),
    (["queues"], ["Get-ExchangeServer", "Get-MailboxServer", "Get-Queue", "Get-Queue"], ["queues"]),
    ([], [], []),
])
def test_gather_reads_only_what_is_asked(client, subsets, calls, kinds):
    facts, _problems = exchange.gather(client, subsets)
    assert [c[0] for c in client.calls] == calls
    assert list(facts) == kinds


def test_clustered_mailbox_servers_asked_of_2010_or_later_is_empty_with_a_note(client):
    facts, problems = exchange.gather(client, ["clustered_mailbox_servers"])
    assert facts == {"clustered_mailbox_servers": []} and client.calls == []
    assert problems == ["clustered mailbox servers exist in Exchange 2007 only (set exchange_version 2007 to read "
                        "them): clustered_mailbox_servers returned empty"]


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


# ----------------------------------------------------------------------------- Exchange 2007
def server_2007(name, roles, clustered):
    return dict(server(name, "Version 8.1 (Build 240.6)", roles), IsMemberOfCluster="Yes" if clustered else "No")


def sg_status(identity, status="Healthy", replay=0, failed=None):
    return {"Identity": identity, "StorageGroupName": identity.split("\\")[-1], "SummaryCopyStatus": status,
            "CopyQueueLength": 0, "ReplayQueueLength": replay, "LastLogGenerated": 9650, "LastLogInspected": 9650,
            "LastLogReplayed": 9650 - replay, "LastInspectedLogTime": "2026-03-14T10:02:11Z",
            "LastReplayedLogTime": "2026-03-13T10:02:11Z", "FailedMessage": failed, "SuspendComment": None}


REPLIES_2007 = {
    "Get-ExchangeServer": [server_2007("CMS1", "Mailbox", True), server_2007("MBX3", "Mailbox", False),
                           server_2007("CAS1", "ClientAccess, HubTransport", False),
                           server_2007("CAS2", "ClientAccess, HubTransport", False)],
    "Get-MailboxServer": [{"Name": "CMS1", "RedundantMachines": ["MBX1A", "MBX1B"]},
                          {"Name": "MBX3", "RedundantMachines": []}],
    ("Get-ClusteredMailboxServerStatus", "CMS1"): [{
        "Identity": "CMS1", "ClusteredMailboxServerName": "CMS1.contoso.com", "State": "Online",
        "OperationalMachines": ["MBX1B <Quorum Owner>", "MBX1A <Active>"], "FailedResources": [],
        "OperationalReplicationHostNames": ["mbx1a", "mbx1b"], "FailedReplicationHostNames": [],
        "InUseReplicationHostNames": ["mbx1a", "mbx1b"]}],
    "Get-StorageGroup": [
        {"Identity": "CMS1\\SG1", "Server": "CMS1",
         "StandbyMachines": [{"NodeName": "MBX2A", "ReplayLagTime": "P1D", "TruncationLagTime": "PT0S"}]},
        {"Identity": "CMS1\\SG2", "Server": "CMS1", "StandbyMachines": []},
        {"Identity": "MBX3\\SG3", "Server": "MBX3", "StandbyMachines": ["MBX2A"]},
    ],
    ("Get-StorageGroupCopyStatus", "CMS1\\SG1"): [sg_status("CMS1\\SG1")],
    ("Get-StorageGroupCopyStatus", "CMS1\\SG2"): [sg_status("CMS1\\SG2", "Failed", failed="log copy failed")],
    ("Get-StorageGroupCopyStatus", "CMS1\\SG1", "MBX2A"): [sg_status("CMS1\\SG1", replay=338)],
    ("Get-StorageGroupCopyStatus", "MBX3\\SG3", "MBX2A"): [sg_status("MBX3\\SG3", "Suspended", replay=12)],
    "Get-MailboxDatabase": [{"Name": "DB1", "Guid": "ae9bff75-97ab-5548-a250-b8b30c802e2d", "Server": "CMS1",
                             "StorageGroup": "CMS1\\SG1", "Mounted": True, "EdbFilePath": "D:\\DB1.edb",
                             "MountAtStartup": True, "Recovery": False}],
    ("Get-Queue", "CAS1"): [{"Identity": "CAS1\\Submission", "Status": "Ready", "MessageCount": 0}],
    ("Get-Queue", "CAS2"): error("CAS2"),
}


@pytest.fixture
def client_2007():
    return FakeClient(REPLIES_2007, exchange_version="2007")


def test_2007_all_reads_the_ccr_scr_view(client_2007):
    facts, problems = exchange.gather(client_2007, ["all"])
    assert [(c[0], c[1], i) for c, i in zip(client_2007.calls, client_2007.inputs)] == [
        ("Get-ExchangeServer", {}, None), ("Get-MailboxServer", {}, None),
        ("Get-ClusteredMailboxServerStatus", {}, ["CMS1"]),
        ("Get-StorageGroup", {}, None),
        ("Get-StorageGroupCopyStatus", {}, ["CMS1\\SG1", "CMS1\\SG2"]),
        ("Get-StorageGroupCopyStatus", {"StandbyMachine": "MBX2A"}, ["CMS1\\SG1", "MBX3\\SG3"]),
        ("Get-MailboxDatabase", {"Status": None}, None),
        ("Get-Queue", {"Server": "CAS1"}, None), ("Get-Queue", {"Server": "CAS2"}, None)]
    assert list(facts) == list(exchange.SUBSETS)
    assert facts["dags"] == facts["components"] == facts["networks"] == []
    assert problems == [
        "Get-Queue failed: unreachable (error id QueueViewerException, target CAS2)",
        "Exchange 2007 has no database availability groups (2010+), server component states (2013+), DAG networks "
        "(2010+): dags, components, networks returned empty (CCR/SCR replication is in clustered_mailbox_servers "
        "and copies)"]


def test_2007_servers_have_the_2010_shape_plus_cluster_fields(client_2007):
    cms1, mbx3, cas1, _cas2 = exchange.gather(client_2007, ["servers"])[0]["servers"]
    assert set(cms1) == set(exchange.read_servers(FakeClient(REPLIES))[0]) | {"is_member_of_cluster", "redundant_machines"}
    assert (cms1["product"], cms1["major"], cms1["is_member_of_cluster"], cms1["redundant_machines"], cms1["dag"]) == (
        "2007", 8, True, ["MBX1A", "MBX1B"], None)
    assert (mbx3["is_member_of_cluster"], mbx3["redundant_machines"]) == (False, [])
    assert cas1["roles"] == ["ClientAccess", "HubTransport"] and cas1["redundant_machines"] == []


def test_2007_clustered_mailbox_servers(client_2007):
    facts, problems = exchange.gather(client_2007, ["clustered_mailbox_servers"])
    assert [c[0] for c in client_2007.calls] == ["Get-MailboxServer", "Get-ClusteredMailboxServerStatus"]
    assert problems == []
    assert facts["clustered_mailbox_servers"] == [{
        "name": "CMS1", "fqdn": "CMS1.contoso.com", "state": "Online", "active_node": "MBX1A",
        "quorum_owner": "MBX1B", "operational_machines": ["MBX1B", "MBX1A"], "redundant_machines": ["MBX1A", "MBX1B"],
        "failed_resources": [], "operational_replication_host_names": ["mbx1a", "mbx1b"],
        "failed_replication_host_names": [], "in_use_replication_host_names": ["mbx1a", "mbx1b"]}]


def test_2007_copies_in_the_copies_shape_with_kind(client_2007):
    facts, problems = exchange.gather(client_2007, ["copies"])
    assert problems == []
    copies = facts["copies"]
    assert set(copies[0]) == set(exchange.read_copies(FakeClient(REPLIES))[0]) | {"kind"}
    assert [(c["name"], c["database"], c["server"], c["active_server"], c["active"], c["status"], c["kind"],
             c["replay_queue_length"]) for c in copies] == [
        ("CMS1\\SG1\\MBX1B", "CMS1\\SG1", "MBX1B", "MBX1A", False, "Healthy", "ccr", 0),
        ("CMS1\\SG2\\MBX1B", "CMS1\\SG2", "MBX1B", "MBX1A", False, "Failed", "ccr", 0),
        ("CMS1\\SG1\\MBX2A", "CMS1\\SG1", "MBX2A", "MBX1A", False, "Healthy", "scr", 338),
        ("MBX3\\SG3\\MBX2A", "MBX3\\SG3", "MBX2A", "MBX3", False, "Suspended", "scr", 12)]
    assert copies[1]["error_message"] == "log copy failed"
    assert copies[2]["last_replayed_log_time"] == "2026-03-13T10:02:11+00:00"
    assert copies[0]["activation_preference"] is None and copies[0]["content_index_state"] is None


def test_2007_copy_problems_are_reported_not_fatal(client_2007):
    client_2007.replies = {**REPLIES_2007, ("Get-StorageGroupCopyStatus", "MBX3\\SG3", "MBX2A"): error("MBX3\\SG3"),
                           ("Get-ClusteredMailboxServerStatus", "pipeline"): error("CMS1")}
    facts, problems = exchange.gather(client_2007, ["copies", "clustered_mailbox_servers"])
    assert facts["clustered_mailbox_servers"] == []
    # without the cluster status the nodes of the CCR copies are unknown; their status is still read
    assert [(c["name"], c["server"], c["active_server"], c["kind"], c["status"]) for c in facts["copies"]] == [
        ("CMS1\\SG1", None, None, "ccr", "Healthy"), ("CMS1\\SG2", None, None, "ccr", "Failed"),
        ("CMS1\\SG1\\MBX2A", "MBX2A", None, "scr", "Healthy")]
    assert len(problems) == 2 and all("failed: unreachable" in p for p in problems)


def test_2007_databases_in_the_databases_shape(client_2007):
    (db,) = exchange.gather(client_2007, ["databases"])[0]["databases"]
    assert set(db) == set(exchange.read_databases(FakeClient(REPLIES))[0]) | {"storage_group"}
    assert (db["name"], db["server"], db["servers"], db["storage_group"], db["mounted"], db["master"]) == (
        "DB1", "CMS1", ["CMS1"], "CMS1\\SG1", True, None)
    assert db["activation_preference"] == {} and db["database_size"] is None


@pytest.mark.parametrize("value, nodes", [
    ([{"NodeName": "MBX2A.contoso.com", "ReplayLagTime": "P1D"}], ["MBX2A"]),
    (["MBX2A", "MBX2B (1.00:00:00)"], ["MBX2A", "MBX2B"]),
    (None, []),
])
def test_standby_machines(value, nodes):
    assert exchange.normalise("storage_groups", {"StandbyMachines": value})["standby_machines"] == nodes
