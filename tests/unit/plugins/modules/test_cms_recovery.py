"""cms_recovery and module_utils/e2007.py: the pure decisions, and the module against a fake
PowerShell Remoting client (only the ``psrp.py`` seam is faked: ``database.Client.from_module`` for the
Exchange 2007 session, ``windows.windows_client`` for the DNS server).  The fake keeps a small model of
seed 000's organization (CMS1 on CLU1, SCR target MBX2A of the standby cluster CLU2), answers reads with
rows shaped as a remote session returns them, applies writes and records every command."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange.dr.plugins.module_utils import database, e2007, windows
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client
from ansible_collections.exchange.dr.plugins.modules import cms_recovery

SGS = ["CMS1\\SG1", "CMS1\\SG2"]
DBS = {"CMS1\\SG1\\DB1": "CMS1\\SG1", "CMS1\\SG2\\DB2": "CMS1\\SG2"}
READ_PREFIXES = ("Get-", "Add-PSSnapin")
RECOVER = {"cms": "CMS1", "standby_cluster": "CONTOSO\\CLU2", "standby_machine": "MBX2A", "ipv4_address": "10.2.1.50"}
ACE = {"Identity": "CN=CMS1,CN=Computers,DC=contoso,DC=com", "AccessRights": ["GenericAll"], "Deny": False,
       "IsInherited": False}


def error(cmdlet, error_id, message, category="InvalidOperation"):
    return ExchangeCommandError(cmdlet, error_id, category, None, message, error_id)


# ------------------------------------------------------------------------------ the fake
class Org:
    def __init__(self, source="unreachable", cno=False, copies="Healthy", setup_fails=None, dns_cmdlets=False):
        self.source = source  # online / offline / unreachable
        self.active, self.redundant = "MBX1A", ["MBX1A", "MBX1B"]
        self.aces = [dict(ACE, User="CONTOSO\\CLU1$")] + ([dict(ACE, User="CONTOSO\\CLU2$")] if cno else [])
        self.copies = {sg: {"status": copies, "queue": 3} for sg in SGS}
        self.mounted = {db: source == "online" for db in DBS}
        self.records = [("10.1.1.50", 3600)]
        self.mailboxes = {"alice": "CMS1\\SG1\\DB1", "bob": "CMS1\\SG1\\DB1", "carol": "CMS1\\SG2\\DB2",
                          "SystemMailbox{1}": "CMS1\\SG1\\DB1"}
        self.setup_fails = setup_fails
        self.dns_cmdlets = dns_cmdlets
        self.calls = []

    def recovered(self):
        return "MBX2A" in self.redundant


class FakeClient:
    def __init__(self, org, host="MBX2A"):
        self.org, self.host = org, host
        self.calls, self.warnings = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def close(self):
        return None

    def invoke(self, cmdlet, params=None, select=None, errors="raise", input=None):  # pylint: disable=redefined-builtin
        params = dict(params or {})
        self.calls.append(cmdlet)
        self.org.calls.append((self.host, cmdlet, params, input))
        rows, errs = getattr(self, "do_" + cmdlet.replace("-", "_"))(params, input)
        if errs and errors == "raise":
            raise errs[0]
        return (rows, errs) if errors == "return" else rows

    def invoke_native(self, command, arguments):
        self.calls.append(command)
        self.org.calls.append((self.host, command, {"Arguments": list(arguments)}, None))
        if command.endswith("dnscmd.exe"):
            return self.dnscmd(arguments)
        o = self.org
        if o.setup_fails:
            return ["Exchange Server setup encountered an error."], [error(command, "NativeCommandError", o.setup_fails)]
        o.active, o.redundant, o.source = "MBX2A", ["MBX2A", "MBX2B"], "online"
        for sg in SGS:
            restored = o.copies[sg]["status"] == "Disabled"
            for db, group in DBS.items():
                if group == sg:
                    o.mounted[db] = restored and sg == "CMS1\\SG1"  # SG2 left dismounted: the module mounts it
        o.records = [("10.2.1.50", 1200)]
        return ["The Microsoft Exchange Server setup operation completed successfully."], []

    def dnscmd(self, args):
        o = self.org
        if args[0] == "/EnumRecords":
            return ["Returned records:"] + ["@ [Aging:3670000] %d A\t%s" % (t, ip) for ip, t in o.records] + [
                "", "Command completed successfully."], []
        if args[0] == "/RecordDelete":
            o.records = [r for r in o.records if r[0] != args[4]]
        else:
            o.records.append((args[-1], int(args[3])))
        return ["Command completed successfully."], []

    # reads
    def do_Get_ClusteredMailboxServerStatus(self, p, _i):
        o = self.org
        if p["Identity"] != "CMS1":
            return [], [error("Get-ClusteredMailboxServerStatus", "ManagementObjectNotFoundException", "not found")]
        if o.source == "unreachable" and not o.recovered():
            return [], [error("Get-ClusteredMailboxServerStatus", "InvalidOperationException",
                              "Unable to contact the Cluster service on any node of cluster CLU1.")]
        state = "Online" if o.source == "online" else "Offline"
        machines = [("%s <Active>" % m) if state == "Online" and m == o.active else m for m in o.redundant]
        return [{"Identity": "CMS1", "State": state, "OperationalMachines": machines}], []

    def do_Get_MailboxServer(self, _p, _i):
        return [{"Name": "CMS1", "RedundantMachines": list(self.org.redundant)}], []

    def do_Get_ADPermission(self, _p, _i):
        return list(self.org.aces), []

    def do_Get_StorageGroupCopyStatus(self, p, _i):
        groups = [p["Identity"]] if "Identity" in p else SGS
        return [{"Identity": sg, "StorageGroupName": sg.split("\\")[1], "SummaryCopyStatus": self.org.copies[sg]["status"],
                 "CopyQueueLength": self.org.copies[sg]["queue"], "ReplayQueueLength": 338} for sg in groups], []

    def do_Get_MailboxDatabase(self, p, _i):
        dbs = [p["Identity"]] if "Identity" in p else list(DBS)
        if any(d not in DBS for d in dbs):
            return [], [error("Get-MailboxDatabase", "ManagementObjectNotFoundException", "no such database")]
        return [{"Identity": d, "Name": d.split("\\")[2], "StorageGroup": DBS[d], "Server": "CMS1",
                 "Mounted": self.org.mounted[d]} for d in dbs], []

    def do_Get_Mailbox(self, p, _i):
        rows = []
        for alias, db in self.org.mailboxes.items():
            if db == p["Database"]:
                system = alias.startswith("SystemMailbox")
                rows.append({"Identity": "contoso.com/Users/" + alias, "Alias": alias, "Database": db,
                             "RecipientTypeDetails": "UserMailbox",
                             "ObjectClass": ["top", "ExOleDbSystemMailbox"] if system else ["top", "user"]})
        return rows, []

    def do_Get_DnsServerResourceRecord(self, p, _i):
        if not self.org.dns_cmdlets:
            return [], [error("Get-DnsServerResourceRecord", "CommandNotFoundException", "not recognized")]
        return [{"HostName": p["Name"], "RecordData": {"IPv4Address": ip}, "TimeToLive": "00:%02d:00" % (t // 60)}
                for ip, t in self.org.records], []

    # writes
    def do_Stop_ClusteredMailboxServer(self, _p, _i):
        self.org.source = "offline"
        self.org.mounted = {db: False for db in DBS}
        return [], []

    def do_Restore_StorageGroupCopy(self, p, _i):
        o = self.org
        if o.source != "online" and "Force" not in p:
            return [], [error("Restore-StorageGroupCopy", "HostException", "cannot prompt")]
        if o.source != "online":
            self.warnings.append("Restore-StorageGroupCopy: The source server for storage group '%s' is not available. "
                                 "The transaction logs that were not copied to 'MBX2A' could not be copied (%d log "
                                 "files); data loss is expected for this storage group." % (p["Identity"],
                                                                                            o.copies[p["Identity"]]["queue"]))
        o.copies[p["Identity"]]["status"] = "Disabled"
        return [{"Identity": p["Identity"]}], []

    def do_Mount_Database(self, p, _i):
        self.org.mounted[p["Identity"]] = True
        return [], []

    def do_Move_Mailbox(self, p, input):  # pylint: disable=redefined-builtin
        for identity in input:
            self.org.mailboxes[identity.rsplit("/", 1)[-1]] = p["TargetDatabase"]
        return [], []

    def do_Set_DnsServerResourceRecord(self, p, _i):
        new = p["NewInputObject"]
        h, m, s = (int(x) for x in new["TimeToLive"].split(":"))
        self.org.records = [(new["RecordData"]["IPv4Address"], h * 3600 + m * 60 + s)]
        return [], []


@pytest.fixture
def org(monkeypatch):
    holder = {}

    def install(new):
        holder["org"] = new
        monkeypatch.setattr(database.Client, "from_module", classmethod(lambda cls, module: FakeClient(holder["org"])))
        monkeypatch.setattr(windows, "windows_client",
                            lambda module, server, connection=None: FakeClient(holder["org"], host="DC02"))
        return new
    state = install(Org())
    state.install = install
    return state


def run(capsys, args, check=False):
    base = {"server": "mbx2a.contoso.com", "username": "CONTOSO\\administrator", "password": "S3cret!",
            "auth": "basic", "_ansible_check_mode": check, "_ansible_diff": True, "poll_interval": 0.01}
    with patch_module_args(dict(base, **args)):
        with pytest.raises(SystemExit):
            cms_recovery.main()
    return json.loads(capsys.readouterr().out)


def writes(state):
    out = []
    for host, cmdlet, params, _input in state.calls:
        if cmdlet.startswith(READ_PREFIXES) or params.get("Arguments", [""])[0] == "/EnumRecords":
            continue
        out.append((host, cmdlet))
    return out


DNS = {"dns": {"zone": "contoso.com"}, "windows_connection": {"server": "dc02.contoso.com"}}


# ------------------------------------------------------------------------------ pure logic
@pytest.mark.parametrize("machines, state, expected", [
    (["MBX1A <Active, Quorum Owner>", "MBX1B"], "Online", "MBX1A"),
    (["MBX1A <Quorum Owner>", "MBX1B <Active>"], "PartiallyOnline", "MBX1B"),
    (["MBX1A <Quorum Owner>", "MBX1B"], "Online", None),
    (["MBX1A <Active>"], "Offline", None),
    ([], None, None),
])
def test_active_node(machines, state, expected):
    assert e2007.active_node(machines, state) == expected


@pytest.mark.parametrize("aces, principal, full", [
    ([{"user": "CONTOSO\\CLU2$", "access_rights": ["GenericAll"], "deny": False}], "CONTOSO\\CLU2$", True),
    ([{"user": "CONTOSO\\CLU2$", "access_rights": ["GenericAll"], "deny": False}], "CLU2$", True),
    ([{"user": "CONTOSO\\CLU2$", "access_rights": ["GenericRead"], "deny": False}], "CONTOSO\\CLU2$", False),
    ([{"user": "CONTOSO\\CLU1$", "access_rights": ["GenericAll"], "deny": False}], "CONTOSO\\CLU2$", False),
    ([{"user": "CONTOSO\\CLU2$", "access_rights": ["GenericAll"], "deny": False},
      {"user": "contoso\\clu2$", "access_rights": ["GenericAll"], "deny": True}], "CONTOSO\\CLU2$", False),
    ([{"user": "OTHER\\CLU2$", "access_rights": ["GenericAll"], "deny": False}], "CONTOSO\\CLU2$", False),
])
def test_cno_access(aces, principal, full):
    assert e2007.cno_access(aces, principal)["full_control"] is full


def copy(status, queue=0, sg="CMS1\\SG1"):
    return {"storage_group": sg, "status": status, "copy_queue": queue, "replay_queue": 0, "failed_message": None}


def test_restore_plan():
    plan = e2007.restore_plan([copy("Healthy", 4), copy("Disabled", sg="CMS1\\SG2")], True, False)
    assert [(p["action"], p["force"], p["logs_at_risk"]) for p in plan] == [("restore", False, 0), ("done", False, 0)]
    plan = e2007.restore_plan([copy("Healthy", 4)], False, True)
    assert plan[0]["force"] and plan[0]["logs_at_risk"] == 4
    with pytest.raises(e2007.RecoveryRefused, match="allow_data_loss.*nothing was changed"):
        e2007.restore_plan([copy("Healthy", 4)], False, False)
    with pytest.raises(e2007.RecoveryRefused, match="allow_data_loss"):
        e2007.restore_plan([copy("Suspended")], True, False)
    with pytest.raises(e2007.RecoveryRefused, match=r"CMS1\\SG1 \(Failed\).*reseed"):
        e2007.restore_plan([copy("Failed")], True, True)
    assert e2007.restore_plan([copy("Disabled")], False, False)[0]["action"] == "done"


def test_logs_lost_and_helpers():
    warnings = ["Restore-StorageGroupCopy: The source server for storage group 'CMS1\\SG2' is not available. The "
                "transaction logs that were not copied to 'MBX2A' could not be copied (7 log files); data loss ..."]
    assert e2007.logs_lost(warnings, "CMS1\\SG2") == 7
    assert e2007.logs_lost(warnings, "CMS1\\SG1") is None
    assert e2007.setup_arguments("CMS1", " 10.2.1.50") == ["/RecoverCMS", "/CMSName:CMS1", "/CMSIPv4Address:10.2.1.50"]
    with pytest.raises(ValueError, match="cms"):
        e2007.setup_arguments("CMS1 /newCMS", "10.2.1.50")
    assert e2007.cno_principal("CONTOSO\\CLU2") == "CONTOSO\\CLU2$" and e2007.cno_principal("CLU2$") == "CLU2$"
    assert e2007.dnscmd_records(["Returned records:", "@ [Aging:3670663] 1200 A\t10.2.1.50", "@ 300 A 10.2.1.51",
                                 "Command completed successfully."]) == [
        {"name": None, "data": "10.2.1.50", "ttl": 1200}, {"name": None, "data": "10.2.1.51", "ttl": 300}]
    rows = [{"Identity": "a", "Alias": "a", "Database": "d", "ObjectClass": ["top", "user"]},
            {"Identity": "s", "Alias": "s", "Database": "d", "ObjectClass": ["top", "SystemAttendantMailbox"]}]
    assert [m["alias"] for m in e2007.user_mailboxes(rows)] == ["a"]


def test_invoke_native_refuses_unsafe_arguments():
    client = Client(server="mbx2a.contoso.com", username="u", password="p", auth="basic", exchange_version="2007")
    with pytest.raises(ValueError, match="single-line"):
        client.invoke_native("Setup.com", ["/RecoverCMS", "/CMSName:CMS1\r\nRemove-Item C:\\"])
    with pytest.raises(ValueError, match="single-line"):
        client.invoke_native("Setup.com", [5])
    exchange = Client(server="ex01.contoso.com", username="u", password="p", auth="basic")
    with pytest.raises(ValueError, match="Microsoft.PowerShell"):
        exchange.invoke_native("Setup.com", ["/RecoverCMS"])
    assert client.calls == [] and exchange.calls == []


# ------------------------------------------------------------------------------ the module
def test_missing_cno_permission_fails_before_any_write(org, capsys):
    result = run(capsys, dict(RECOVER, allow_data_loss=True, **DNS))
    assert result["failed"] and writes(org) == []
    msg = result["msg"]
    assert "CONTOSO\\CLU2$" in msg and "lacks Full Control (GenericAll)" in msg and "seed 000 Q1" in msg
    assert "exchange.dr.cno_permission" in msg and "-AccessRights GenericAll" in msg
    assert "S3cret!" not in json.dumps(result)


def test_deny_ace_is_named(org, capsys):
    org.aces.append(dict(ACE, User="CONTOSO\\CLU2$"))
    org.aces.append(dict(ACE, User="CONTOSO\\CLU2$", Deny=True))
    result = run(capsys, dict(RECOVER, allow_data_loss=True))
    assert result["failed"] and "Deny Full Control" in result["msg"] and writes(org) == []


def test_source_down_needs_allow_data_loss(org, capsys):
    state = org.install(Org(cno=True))
    result = run(capsys, RECOVER)
    assert result["failed"] and "allow_data_loss" in result["msg"] and "3 logs" in result["msg"]
    assert writes(state) == [] and result["actions"] == []


def test_check_mode_then_apply_then_idempotent(org, capsys):
    state = org.install(Org(cno=True))
    plan = run(capsys, dict(RECOVER, allow_data_loss=True, **DNS), check=True)
    assert plan["changed"] and writes(state) == []
    assert [a["cmdlet"] for a in plan["actions"]] == [
        "Restore-StorageGroupCopy", "Restore-StorageGroupCopy", "Setup.com", "dnscmd.exe", "dnscmd.exe"]
    assert plan["after"]["active_node"] == "MBX2A" and plan["dns"]["after"] == [{"data": "10.2.1.50", "ttl": 300}]
    done = run(capsys, dict(RECOVER, allow_data_loss=True, **DNS))
    assert done["changed"], done.get("msg")
    assert writes(state) == [("MBX2A", "Restore-StorageGroupCopy"), ("MBX2A", "Restore-StorageGroupCopy"),
                             ("MBX2A", "Setup.com"), ("MBX2A", "Mount-Database"), ("DC02", "dnscmd.exe"),
                             ("DC02", "dnscmd.exe")]
    restore = [p for _h, c, p, _i in state.calls if c == "Restore-StorageGroupCopy"][0]
    assert restore == {"Identity": "CMS1\\SG1", "StandbyMachine": "MBX2A", "Force": None, "Confirm": False}
    assert [g["logs_lost"] for g in done["storage_groups"]] == [3, 3] and done["logs_lost"] == 6
    assert done["mounted"] == ["CMS1\\SG2\\DB2"] and state.records == [("10.2.1.50", 300)]
    assert done["after"]["databases"] == {"CMS1\\SG1\\DB1": True, "CMS1\\SG2\\DB2": True}
    assert done["diff"]["before"]["dns"] == [{"data": "10.1.1.50", "ttl": 3600}]
    count = len(writes(state))
    again = run(capsys, dict(RECOVER, allow_data_loss=True, **DNS))
    assert not again["changed"] and len(writes(state)) == count and again["preflight"]["recovered"]


def test_dns_through_the_dnsserver_cmdlets(org, capsys):
    state = org.install(Org(cno=True, dns_cmdlets=True))
    done = run(capsys, dict(RECOVER, allow_data_loss=True, **DNS))
    assert done["dns"]["method"] == "cmdlets"
    assert ("DC02", "Set-DnsServerResourceRecord") in writes(state) and state.records == [("10.2.1.50", 300)]


def test_source_online_needs_stop_source(org, capsys):
    state = org.install(Org(source="online", cno=True))
    refused = run(capsys, dict(RECOVER, allow_data_loss=True))
    assert refused["failed"] and "split brain" in refused["msg"] and writes(state) == []
    done = run(capsys, dict(RECOVER, allow_data_loss=True, stop_source=True, stop_reason="DR test"))
    assert done["changed"], done.get("msg")
    assert writes(state)[:2] == [("MBX2A", "Stop-ClusteredMailboxServer"), ("MBX2A", "Restore-StorageGroupCopy")]
    stop = [p for _h, c, p, _i in state.calls if c == "Stop-ClusteredMailboxServer"][0]
    assert stop == {"Identity": "CMS1", "StopReason": "DR test", "Confirm": False}


def test_setup_failure_is_reported_and_the_rerun_resumes(org, capsys):
    state = org.install(Org(cno=True, setup_fails="Failed to bring cluster resource Network name (CMS1) online "
                                                  "(Exception from HRESULT:0x8007139f)"))
    failed = run(capsys, dict(RECOVER, allow_data_loss=True))
    assert failed["failed"] and "0x8007139f" in failed["msg"] and "seed 000 Q1" in failed["msg"]
    assert [a["status"] for a in failed["actions"]] == ["done", "done", "failed"]
    state.setup_fails = None
    state.calls.clear()
    done = run(capsys, RECOVER)  # the copies are activated: nothing left to lose
    assert done["changed"] and [g["action"] for g in done["storage_groups"]] == ["done", "done"]
    assert writes(state) == [("MBX2A", "Setup.com"), ("MBX2A", "Mount-Database")]


def test_missing_scr_copy_and_failed_copy_are_refused(org, capsys):
    state = org.install(Org(cno=True, copies="Failed"))
    result = run(capsys, dict(RECOVER, allow_data_loss=True))
    assert result["failed"] and "reseed" in result["msg"] and writes(state) == []


@pytest.mark.parametrize("args, needle", [
    ({"cms": None}, "needs cms"),
    ({"ipv4_address": "10.2.1"}, "ipv4_address"),
    ({"cms": "CMS1 /newCMS"}, "cms"),
    ({"standby_cluster": "CONTOSO\\CLUSTER-NAME-TOO-LONG"}, "standby_cluster"),
    ({"setup_path": "Setup.com; Remove-Item"}, "setup_path"),
    ({"dns": {"zone": "contoso.com"}}, "windows_connection.server"),
    ({"dns": {"zone": "contoso.com", "ttl": 0}, "windows_connection": {"server": "dc02"}}, "dns.ttl"),
    ({"source_database": "CMS1\\SG1\\DB1"}, "portability only"),
    ({"method": "portability", "cms": None, "standby_cluster": None, "ipv4_address": None,
      "source_database": "CMS1\\SG1\\DB1", "target_database": "DB2"}, "target_database"),
    ({"method": "portability", "source_database": "CMS1\\SG1\\DB1", "target_database": "CMS1\\SG2\\DB2"},
     "recover_cms only"),
])
def test_bad_input(org, capsys, args, needle):
    params = dict(RECOVER, **args)
    result = run(capsys, {k: v for k, v in params.items() if v is not None})
    assert result["failed"] and needle in result["msg"] and org.calls == []


def test_portability(org, capsys):
    state = org.install(Org(source="online"))
    args = {"method": "portability", "source_database": "CMS1\\SG1\\DB1", "target_database": "CMS1\\SG2\\DB2",
            "standby_machine": "MBX2A"}
    plan = run(capsys, args, check=True)
    assert plan["changed"] and writes(state) == [] and plan["mailboxes_rehomed"] == ["alice", "bob"]
    done = run(capsys, args)
    assert writes(state) == [("MBX2A", "Restore-StorageGroupCopy"), ("MBX2A", "Move-Mailbox")]
    move = [(p, i) for _h, c, p, i in state.calls if c == "Move-Mailbox"][0]
    assert move == ({"TargetDatabase": "CMS1\\SG2\\DB2", "ConfigurationOnly": None, "Confirm": False},
                    ["contoso.com/Users/alice", "contoso.com/Users/bob"])
    assert state.mailboxes["SystemMailbox{1}"] == "CMS1\\SG1\\DB1"  # system mailboxes stay
    assert sorted(done["after"]["target"]["mailboxes"]) == ["alice", "bob", "carol"]
    assert "Outlook 2003" in done["client_consequence"]
    again = run(capsys, args)
    assert not again["changed"] and len(writes(state)) == 2


def test_portability_source_down_needs_allow_data_loss(org, capsys):
    state = org.install(Org(source="unreachable"))
    state.mounted["CMS1\\SG2\\DB2"] = True
    args = {"method": "portability", "source_database": "CMS1\\SG1\\DB1", "target_database": "CMS1\\SG2\\DB2",
            "standby_machine": "MBX2A"}
    refused = run(capsys, args)
    assert refused["failed"] and "allow_data_loss" in refused["msg"] and writes(state) == []
    unknown = run(capsys, dict(args, target_database="CMS9\\SG1\\DB9"))
    assert unknown["failed"] and "target_database: no mailbox database" in unknown["msg"]
