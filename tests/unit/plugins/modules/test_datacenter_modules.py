"""dag_site, dag_restore, site_activation and dns_record with a fake PowerShell Remoting client.

Only the seam of ``psrp.py`` is faked (``database.Client`` for the Exchange/DNS session and
``dac.windows_client_for`` for the Windows sessions): the fake keeps a small DAG model, answers the
reads with rows shaped as a remote session returns them and applies the writes, and records every
cmdlet.  The tests check the ordered cmdlets, check mode (no write), idempotence and failures.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange.dr.plugins.module_utils import dac, database
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError
from ansible_collections.exchange.dr.plugins.modules import dag_restore, dag_site, dns_record, site_activation

MEMBERS = ["EX01", "EX02", "EX03", "EX04"]
SITE = {"EX01": "DC1", "EX02": "DC1", "EX03": "DC2", "EX04": "DC2"}
ORDER = {"DB01": ["EX01", "EX02", "EX03", "EX04"], "DB05": ["EX03", "EX04", "EX01", "EX02"]}
WRITE_PREFIXES = ("Stop-", "Start-", "Set-", "Restore-", "Move-", "Mount-", "Dismount-", "Add-", "Remove-", "Update-",
                  "Suspend-")


class Org:
    """The state the fake clients read and write."""

    def __init__(self, site_down=False, blocked=(), dac_mode="DagOnly", ttl=300):
        self.dac_mode = dac_mode
        self.stopped, self.started = [], list(MEMBERS)
        self.witness = "Primary"
        self.nodes = list(MEMBERS)
        self.site_down = site_down
        self.clussvc = {m: "Running" for m in MEMBERS}
        self.policy = {m: ("Blocked" if m in blocked else "Unrestricted") for m in MEMBERS}
        self.active = {db: order[0] for db, order in ORDER.items()}
        self.mounted = {db: not (site_down or db == "DB05" and site_down) for db in ORDER}
        self.records = {"mail": [("10.1.1.11", ttl), ("10.1.1.12", ttl)], "ex03": [("10.2.1.13", 1200)],
                        "ex04": [("10.2.1.14", 1200)]}
        self.calls = []

    def down(self, server):
        return self.site_down and SITE[server] == "DC1"

    def operational(self):
        quorum = not self.site_down or self.witness == "Alternate"
        return [m for m in MEMBERS if quorum and not self.down(m) and m not in self.stopped and m in self.nodes]


class FakeClient:
    def __init__(self, org, windows_host=None):
        self.org = org
        self.host = windows_host
        self.calls = []
        self.warnings = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def close(self):
        return None

    def invoke(self, cmdlet, params=None, select=None, errors="raise"):
        params = dict(params or {})
        self.calls.append((cmdlet, params))
        self.org.calls.append((self.host, cmdlet, params))
        try:
            rows = getattr(self, "do_" + cmdlet.replace("-", "_"))(params)
        except ExchangeCommandError as exc:
            if errors == "return" and exc.error_id == "ManagementObjectNotFoundException":
                return [], [exc]  # a non-terminating error, as Exchange's Get-* write them
            raise
        return (rows, []) if errors == "return" else rows

    # Exchange reads
    def do_Get_ExchangeServer(self, _p):
        return [{"Name": m, "Fqdn": m.lower() + ".contoso.com", "Site": "contoso.com/Configuration/Sites/" + SITE[m],
                 "ServerRole": "Mailbox", "AdminDisplayVersion": "Version 15.2 (Build 1544.4)"} for m in MEMBERS]

    def do_Get_MailboxServer(self, _p):
        return [{"Name": m, "DatabaseAvailabilityGroup": "DAG1", "DatabaseCopyAutoActivationPolicy": self.org.policy[m],
                 "AutoDatabaseMountDial": "GoodAvailability", "DatabaseCopyActivationDisabledAndMoveNow": False}
                for m in MEMBERS]

    def do_Get_DatabaseAvailabilityGroup(self, _p):
        o = self.org
        return [{"Name": "DAG1", "Servers": list(MEMBERS), "OperationalServers": o.operational(),
                 "StoppedMailboxServers": list(o.stopped), "StartedMailboxServers": list(o.started),
                 "WitnessServer": "FS01.contoso.com", "WitnessDirectory": "C:\\DAGFileShareWitnesses\\DAG1.contoso.com",
                 "AlternateWitnessServer": "FS02.contoso.com", "WitnessShareInUse": o.witness,
                 "DatacenterActivationMode": o.dac_mode}]

    def do_Get_MailboxDatabase(self, _p):
        return [{"Name": db, "Server": self.org.active[db], "MasterServerOrAvailabilityGroup": "DAG1",
                 "Servers": list(order), "ActivationPreference": {s: i + 1 for i, s in enumerate(order)},
                 "ReplayLagTimes": {s: "00:00:00" for s in order}, "Mounted": self.org.mounted[db]}
                for db, order in ORDER.items()]

    def do_Get_MailboxDatabaseCopyStatus(self, _p):
        rows = []
        for db, order in ORDER.items():
            for i, s in enumerate(order):
                active = self.org.active[db] == s
                status = "ServiceDown" if self.org.down(s) else ("Mounted" if self.org.mounted[db] else "Dismounted") \
                    if active else "Healthy"
                rows.append({"Name": "%s\\%s" % (db, s), "DatabaseName": db, "MailboxServer": s,
                             "ActiveDatabaseCopy": self.org.active[db].lower(), "ActiveCopy": active, "Status": status,
                             "ActivationPreference": i + 1, "ActivationSuspended": False, "CopyQueueLength": 0,
                             "ReplayQueueLength": 0, "ContentIndexState": "NotApplicable"})
        return rows

    # Exchange writes
    def do_Stop_DatabaseAvailabilityGroup(self, p):
        for m in MEMBERS:
            if SITE[m] == p["ActiveDirectorySite"] and m not in self.org.stopped:
                self.org.stopped.append(m)
        self.org.started = [m for m in self.org.started if m not in self.org.stopped]
        return []

    def do_Start_DatabaseAvailabilityGroup(self, p):
        for m in MEMBERS:
            if SITE[m] == p["ActiveDirectorySite"]:
                self.org.stopped = [s for s in self.org.stopped if s != m]
                if m not in self.org.started:
                    self.org.started.append(m)
                if m not in self.org.nodes:
                    self.org.nodes.append(m)
        return []

    def do_Set_DatabaseAvailabilityGroup(self, _p):
        self.org.witness = "Primary"
        return []

    def do_Restore_DatabaseAvailabilityGroup(self, p):
        self.org.nodes = [m for m in self.org.nodes if m not in self.org.stopped]
        self.org.witness = "Alternate"
        self.org.clussvc.update({m: "Running" for m in self.org.nodes})  # the restore starts the cluster
        for db in ORDER:  # Active Manager mounts again, or activates what it may by itself
            if self.org.active[db] in self.org.nodes:
                self.org.mounted[db] = True
                continue
            target = next((s for s in ORDER[db] if s in self.org.nodes and self.org.policy[s] != "Blocked"), None)
            if target:
                self.org.active[db], self.org.mounted[db] = target, True
        return []

    def do_Move_ActiveMailboxDatabase(self, p):
        start = self.org.active[p["Identity"]]
        self.org.active[p["Identity"]] = p["ActivateOnServer"]
        return [{"Identity": p["Identity"], "ActiveServerAtStart": start, "ActiveServerAtEnd": p["ActivateOnServer"],
                 "Status": "Succeeded", "MountStatusAtMoveEnd": "Mounted" if self.org.mounted[p["Identity"]] else
                 "Dismounted", "NumberOfLogsLost": 0}]

    def do_Mount_Database(self, p):
        self.org.mounted[p["Identity"]] = True
        return []

    def do_Dismount_Database(self, p):
        self.org.mounted[p["Identity"]] = False
        return []

    def do_Set_MailboxServer(self, p):
        self.org.policy[p["Identity"]] = p["DatabaseCopyAutoActivationPolicy"]
        return []

    # Windows
    def do_Get_Service(self, p):
        return [{"Name": "ClusSvc", "DisplayName": "Cluster Service", "Status": self.org.clussvc[self.host],
                 "StartType": "Automatic"}]

    def do_Stop_Service(self, p):
        self.org.clussvc[self.host] = "Stopped"
        return []

    def do_Get_ClusterNode(self, _p):
        if self.org.witness != "Alternate" and self.org.site_down:
            raise ExchangeCommandError("Get-ClusterNode", "ClusterCmdletException", "ConnectionError", None,
                                       "The cluster service is not running.", None)
        return [{"Name": n, "State": "Up"} for n in self.org.nodes]

    # DNS
    def do_Get_DnsServerResourceRecord(self, p):
        # -Name: that name's records; without it, every A record of the zone
        names = [p["Name"]] if "Name" in p else list(self.org.records)
        return [{"HostName": name, "RecordType": "A", "RecordData": {"IPv4Address": d},
                 "TimeToLive": "PT%dS" % t} for name in names for d, t in self.org.records.get(name, [])]

    def do_Add_DnsServerResourceRecordA(self, p):
        ttl = [int(part) for part in p.get("TimeToLive", "01:00:00").split(":")]
        self.org.records.setdefault(p["Name"], []).extend(
            (address, ttl[0] * 3600 + ttl[1] * 60 + ttl[2]) for address in p["IPv4Address"])
        return []

    def do_Set_DnsServerResourceRecord(self, p):
        old, new = p["OldInputObject"], p["NewInputObject"]
        records = self.org.records[old["HostName"]]
        index = [d for d, _t in records].index(old["RecordData"]["IPv4Address"])
        ttl = int(new["TimeToLive"].split(":")[0]) * 3600 + int(new["TimeToLive"].split(":")[1]) * 60 + \
            int(new["TimeToLive"].split(":")[2])
        records[index] = (new["RecordData"]["IPv4Address"], ttl)
        return []


@pytest.fixture
def org(monkeypatch):
    state = Org()

    def install(new):
        monkeypatch.setattr(database.Client, "from_module", classmethod(lambda cls, module: FakeClient(new)))
        monkeypatch.setattr(dac, "windows_client_for",
                            lambda module, server, connections: FakeClient(new, windows_host=server["name"]))
        return new
    install(state)
    state.install = install
    return state


def run(module, capsys, args, check=False):
    base = {"server": "ex03.contoso.com", "username": "CONTOSO\\administrator", "password": "S3cret!", "auth": "basic",
            "_ansible_check_mode": check, "_ansible_diff": True, "poll_interval": 0.01}
    with patch_module_args(dict(base, **args)):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def writes(state):
    return [(host, cmdlet) for host, cmdlet, _p in state.calls if cmdlet.startswith(WRITE_PREFIXES)]


# ----------------------------------------------------------------------------------- dag_site
def test_dag_site_stop_check_then_apply_then_idempotent(org, capsys):
    args = {"dag": "DAG1", "active_directory_site": "DC1", "state": "stopped", "configuration_only": True,
            "domain_controller": "dc02.contoso.com"}
    planned = run(dag_site, capsys, args, check=True)
    assert planned["changed"] and writes(org) == []
    assert planned["actions"][0]["status"] == "planned"
    assert planned["after"]["stopped_mailbox_servers"] == ["EX01", "EX02"]
    done = run(dag_site, capsys, args)
    assert done["changed"] and writes(org) == [(None, "Stop-DatabaseAvailabilityGroup")]
    sent = [p for _h, c, p in org.calls if c == "Stop-DatabaseAvailabilityGroup"][0]
    assert sent == {"Identity": "DAG1", "ActiveDirectorySite": "DC1", "DomainController": "dc02.contoso.com",
                    "ConfigurationOnly": None, "Confirm": False}
    assert done["diff"]["after"]["stopped_mailbox_servers"] == ["EX01", "EX02"]
    again = run(dag_site, capsys, args)
    assert not again["changed"] and len(writes(org)) == 1
    assert "S3cret!" not in json.dumps(again)


def test_dag_site_start_reevaluates_quorum_and_resumes(org, capsys):
    org.stopped, org.started, org.witness = ["EX01", "EX02"], ["EX03", "EX04"], "Alternate"
    args = {"dag": "DAG1", "active_directory_site": "DC1", "state": "started"}
    result = run(dag_site, capsys, args)
    assert writes(org) == [(None, "Start-DatabaseAvailabilityGroup"), (None, "Set-DatabaseAvailabilityGroup")]
    assert [p for _h, c, p in org.calls if c == "Set-DatabaseAvailabilityGroup"] == [{"Identity": "DAG1"}]
    assert result["after"]["witness_share_in_use"] == "Primary" and result["after"]["stopped_mailbox_servers"] == []
    # interrupted after the start: the next run only re-evaluates the quorum model
    org.calls.clear()
    org.witness = "Alternate"
    run(dag_site, capsys, args)
    assert writes(org) == [(None, "Set-DatabaseAvailabilityGroup")]
    org.calls.clear()
    assert not run(dag_site, capsys, args)["changed"] and writes(org) == []


@pytest.mark.parametrize("args, message", [
    ({"state": "stopped"}, "one of the following is required: active_directory_site, mailbox_servers"),
    ({"state": "stopped", "active_directory_site": "DC1", "mailbox_servers": ["EX01"]},
     "parameters are mutually exclusive: active_directory_site|mailbox_servers"),
    ({"state": "stopped", "active_directory_site": "DC1", "witness_server": "FS01"},
     "witness_server is only used with state=started (the witness goes back on failback)"),
    ({"state": "stopped", "mailbox_servers": []}, "mailbox_servers must name at least one DAG member"),
    ({"state": "stop", "active_directory_site": "DC1"}, "value of state must be one of: stopped, started, got: stop"),
])
def test_dag_site_bad_input(org, capsys, args, message):
    result = run(dag_site, capsys, dict(args, dag="DAG1"))
    assert result["failed"] and result["msg"] == message
    assert writes(org) == []


def test_dag_site_needs_dac_mode(org, capsys):
    org.install(Org(dac_mode="Off"))
    result = run(dag_site, capsys, {"dag": "DAG1", "active_directory_site": "DC1", "state": "stopped"})
    assert result["failed"] and result["msg"].startswith("dag: DAG1 has DatacenterActivationMode Off; the datacenter "
                                                         "switchover cmdlets need DagOnly (runbooks §5.1)")


# -------------------------------------------------------------------------------- dag_restore
def site_down(blocked=()):
    state = Org(site_down=True, blocked=blocked)
    state.stopped, state.started = ["EX01", "EX02"], ["EX03", "EX04"]
    return state


def test_dag_restore_with_blocked_servers_uses_explicit_targets(org, capsys):
    state = org.install(site_down(blocked=("EX03", "EX04")))
    args = {"dag": "DAG1", "active_directory_site": "DC2"}
    planned = run(dag_restore, capsys, args, check=True)
    assert planned["changed"] and writes(state) == []
    assert [a["cmdlet"] for a in planned["actions"]] == ["Stop-Service", "Stop-Service",
                                                         "Restore-DatabaseAvailabilityGroup",
                                                         "Move-ActiveMailboxDatabase"]
    assert {e["database"]: e["how"] for e in planned["activation"]} == {"DB01": "explicit", "DB05": "automatic"}
    result = run(dag_restore, capsys, args)  # the move leaves DB01 dismounted here: the module mounts it
    assert writes(state) == [("EX03", "Stop-Service"), ("EX04", "Stop-Service"),
                             (None, "Restore-DatabaseAvailabilityGroup"), (None, "Move-ActiveMailboxDatabase"),
                             (None, "Mount-Database")]
    activation = {e["database"]: (e["action"], e["how"], e["to"]) for e in result["activation"]}
    assert activation == {"DB01": ("move", "explicit", "EX03"), "DB05": ("none", "automatic", "EX03")}
    assert result["after"]["cluster_nodes"] == ["EX03", "EX04"] and result["after"]["witness_share_in_use"] == "Alternate"
    assert result["after"]["databases"] == {"DB01": {"server": "EX03", "mounted": True},
                                            "DB05": {"server": "EX03", "mounted": True}}
    state.calls.clear()
    again = run(dag_restore, capsys, args)
    assert not again["changed"] and again["restore"]["done"] and writes(state) == []


def test_dag_restore_lets_active_manager_activate_unblocked_databases(org, capsys):
    state = org.install(site_down())
    result = run(dag_restore, capsys, {"dag": "DAG1", "active_directory_site": "DC2"})
    assert [c for _h, c in writes(state)] == ["Stop-Service", "Stop-Service", "Restore-DatabaseAvailabilityGroup"]
    assert {e["database"]: e["how"] for e in result["activation"]} == {"DB01": "automatic", "DB05": "automatic"}


def test_dag_restore_refuses_before_any_session_when_members_outside_are_running(org, capsys):
    result = run(dag_restore, capsys, {"dag": "DAG1", "active_directory_site": "DC2"})
    assert result["failed"] and result["msg"].startswith("DAG members outside site DC2 are not in StoppedMailboxServers")
    assert all(host is None for host, _c, _p in org.calls)  # no Windows session was used


def test_dag_restore_windows_connections_are_validated(org, capsys):
    result = run(dag_restore, capsys, {"dag": "DAG1", "active_directory_site": "DC2",
                                       "windows_connections": {"EX03": {"port": "not-a-port"}}})
    assert result["failed"] and result["msg"].startswith("windows_connections.EX03:")


# ---------------------------------------------------------------------------- site_activation
def test_site_activation_failback_steps(org, capsys):
    org.active = {"DB01": "EX03", "DB05": "EX03"}
    args = {"dag": "DAG1", "active_directory_site": "DC2", "state": "dismounted"}
    result = run(site_activation, capsys, args)
    assert writes(org) == [(None, "Dismount-Database")]  # DB01 goes home; DB05 lives in DC2
    assert result["databases"] == [{"database": "DB01", "action": "dismount"}]
    org.calls.clear()
    result = run(site_activation, capsys, {"dag": "DAG1", "active_directory_site": "DC1", "state": "active"})
    assert writes(org) == [(None, "Move-ActiveMailboxDatabase"), (None, "Mount-Database")]
    assert result["after"]["databases"] == {"DB01": {"server": "EX01", "mounted": True}}
    org.calls.clear()
    assert not run(site_activation, capsys, {"dag": "DAG1", "active_directory_site": "DC1", "state": "active"})["changed"]


def test_site_activation_policy(org, capsys):
    args = {"dag": "DAG1", "active_directory_site": "DC2", "auto_activation_policy": "Blocked", "mailbox_servers": ["EX04"]}
    result = run(site_activation, capsys, args)
    assert result["policies"] == [{"server": "EX04", "before": "Unrestricted", "after": "Blocked"}]
    assert org.policy["EX04"] == "Blocked" and org.policy["EX03"] == "Unrestricted"
    assert not run(site_activation, capsys, args)["changed"]
    result = run(site_activation, capsys, {"dag": "DAG1", "active_directory_site": "DC2"})
    assert result["failed"] and result["msg"] == "one of the following is required: state, auto_activation_policy"


# ------------------------------------------------------------------------------------ dns_record
def test_dns_record_moves_and_waits(org, capsys):
    args = {"zone": "contoso.com", "name": ["mail.contoso.com"], "data_from_hosts": ["ex03", "ex04.contoso.com"],
            "wait_for_ttl": True, "timeout": 1}
    org.records["mail"] = [("10.1.1.11", 1), ("10.1.1.12", 1)]
    planned = run(dns_record, capsys, args, check=True)
    assert planned["changed"] and planned["waited"] == 1.0 and writes(org) == []
    result = run(dns_record, capsys, args)
    assert [c for _h, c in writes(org)] == ["Set-DnsServerResourceRecord"] * 2
    assert result["after"] == {"mail": [{"data": "10.2.1.13", "ttl": 1}, {"data": "10.2.1.14", "ttl": 1}]}
    assert 0.9 <= result["waited"] < 2 and result["old_ttl"] == 1
    assert not run(dns_record, capsys, args)["changed"]


def test_dns_record_reads_names_and_hosts_at_once_and_adds_in_one_command(org, capsys):
    org.records.update({"ex05": [("10.2.1.15", 1200)], "ex06": [("10.2.1.16", 1200)]})
    args = {"zone": "contoso.com", "name": ["mail"], "data_from_hosts": ["ex03", "ex04", "ex05", "ex06"], "ttl": 60}
    result = run(dns_record, capsys, args)
    reads = [p for _h, c, p in org.calls if c == "Get-DnsServerResourceRecord"]
    # before: the zone's A records once for the name and the four hosts; after: the one name
    assert reads == [{"ZoneName": "contoso.com", "RRType": "A"}, {"ZoneName": "contoso.com", "Name": "mail", "RRType": "A"}]
    assert [c for _h, c in writes(org)] == ["Set-DnsServerResourceRecord"] * 2 + ["Add-DnsServerResourceRecordA"]
    assert [a["parameters"].get("IPv4Address") for a in result["actions"]] == [None, None, ["10.2.1.15", "10.2.1.16"]]
    assert [c["action"] for c in result["changes"]] == ["set", "set", "add", "add"]
    assert result["after"]["mail"] == [{"data": "10.2.1.%d" % i, "ttl": 60} for i in (13, 14, 15, 16)]
    assert not run(dns_record, capsys, args)["changed"]


def test_dns_record_refuses_a_ttl_longer_than_the_timeout(org, capsys):
    result = run(dns_record, capsys, {"zone": "contoso.com", "name": "mail", "data": ["10.2.1.13"], "wait_for_ttl": True,
                                      "timeout": 60})
    assert result["failed"] and result["msg"].startswith("timeout: the records to change have a TTL of 300 s, longer "
                                                         "than timeout 60 s; nothing was changed")
    assert writes(org) == []


@pytest.mark.parametrize("args, message", [
    ({"data": ["10.1.1.300"]}, "data: '10.1.1.300' is not an IPv4 address"),
    ({"data": []}, "data must not be empty: use state=absent to remove the records"),
    ({"data": ["10.1.1.1"], "data_from_hosts": ["ex03"]}, "parameters are mutually exclusive: data|data_from_hosts"),
    ({"ttl": 0}, "ttl must be a number of seconds between 1 and 2147483647, got 0"),
    ({"data_from_hosts": ["ex09"]}, "data_from_hosts: ex09 has no A record in zone contoso.com"),
])
def test_dns_record_bad_input(org, capsys, args, message):
    result = run(dns_record, capsys, dict(args, zone="contoso.com", name="mail"))
    assert result["failed"] and result["msg"] == message
    assert writes(org) == []


def test_dns_record_uses_the_windows_endpoint(monkeypatch, capsys):
    seen = {}

    def from_module(cls, module):
        seen.update(configuration_name=module.params["configuration_name"], path=module.params["path"])
        return FakeClient(Org())
    monkeypatch.setattr(database.Client, "from_module", classmethod(from_module))
    run(dns_record, capsys, {"zone": "contoso.com", "name": "mail", "ttl": 300})
    assert seen == {"configuration_name": "Microsoft.PowerShell", "path": "wsman"}


def test_unknown_dag_names_the_option(org, capsys, monkeypatch):
    def not_found(self, _p):
        raise ExchangeCommandError("Get-DatabaseAvailabilityGroup", "ManagementObjectNotFoundException", "ObjectNotFound",
                                   "DAG9", "The operation couldn't be performed because object 'DAG9' couldn't be "
                                   "found on 'dc02.contoso.com'.", None)
    monkeypatch.setattr(FakeClient, "do_Get_DatabaseAvailabilityGroup", not_found)
    result = run(dag_site, capsys, {"dag": "DAG9", "active_directory_site": "DC1", "state": "stopped"})
    assert result["failed"] and result["msg"].startswith("dag: no database availability group DAG9 (The operation")
