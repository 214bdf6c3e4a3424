"""replication_hostname with a fake PowerShell Remoting client (the ``Client.from_module`` seam).

The fake keeps seed 000's clustered mailbox server CMS1 (CCR nodes MBX1A, MBX1B, SCR target MBX2A),
its continuous replication host names and the computer objects of those names with their ACEs,
and answers with rows shaped as the lab's Exchange 2007 snap-in returns them.  The tests check the
ordered cmdlets, check mode (no write), idempotence, the refusals before any write and the plan.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError
from ansible_collections.exchange.dr.plugins.modules import replication_hostname as rh

NODES = ["MBX1A", "MBX1B"]
WRITES = ("Enable-ContinuousReplicationHostName", "Disable-ContinuousReplicationHostName")
NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"


def not_found(cmdlet, identity):
    return ExchangeCommandError(cmdlet, "1219F4E7", "NotSpecified", identity,
                                "The operation could not be performed because object '%s' could not be found on "
                                "domain controller 'dc01.contoso.com'." % identity, "1219F4E7,Task",
                                exception_type=NOT_FOUND)


class Cms:
    def __init__(self):
        self.host_names = {}  # name -> (node, ip)
        self.failed = []
        self.computers = {}  # name -> [principals with GenericAll]
        self.calls = []
        self.params = None


class FakeClient:
    def __init__(self, cms):
        self.cms = cms
        self.calls = []
        self.warnings = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def invoke(self, cmdlet, params=None, select=None, errors="raise"):
        params = dict(params or {})
        self.calls.append((cmdlet, params))
        self.cms.calls.append((cmdlet, params))
        try:
            rows = getattr(self, "do_" + cmdlet.replace("-", "_"))(params)
        except ExchangeCommandError as exc:
            if errors == "return" and cmdlet.startswith("Get-"):
                return [], [exc]
            raise
        return (rows, []) if errors == "return" else rows

    def do_Get_MailboxServer(self, p):
        if p["Identity"] != "CMS1":
            raise not_found("Get-MailboxServer", p["Identity"])
        return [{"Name": "CMS1", "RedundantMachines": list(NODES)}]

    def do_Get_ClusteredMailboxServerStatus(self, _p):
        custom = [n.lower() for n in self.cms.host_names if n not in self.cms.failed]
        return [{"Identity": "CMS1", "State": "Online", "OperationalMachines": ["MBX1A <Active, Quorum Owner>", "MBX1B"],
                 "OperationalReplicationHostNames": ["mbx1a", "mbx1b"] + custom,
                 "FailedReplicationHostNames": [n.lower() for n in self.cms.failed],
                 "InUseReplicationHostNames": custom or ["mbx1a", "mbx1b"]}]

    def do_Get_StorageGroupCopyStatus(self, p):
        if p["StandbyMachine"] == "MBX2A":
            return [{"Identity": "CMS1\\SG1", "SummaryCopyStatus": "Healthy"},
                    {"Identity": "CMS1\\SG2", "SummaryCopyStatus": "Healthy"}]
        raise not_found("Get-StorageGroupCopyStatus", p["StandbyMachine"])

    def do_Get_ADPermission(self, p):
        if p["Identity"] not in self.cms.computers:
            raise not_found("Get-ADPermission", p["Identity"])
        dn = "CN=%s,CN=Computers,DC=contoso,DC=com" % p["Identity"]
        if "Owner" in p:
            return [{"Identity": dn}]
        return [{"Identity": dn, "User": p["User"], "AccessRights": ["GenericAll"], "Deny": False,
                 "IsInherited": False} for u in self.cms.computers[p["Identity"]] if u == p["User"]]

    def do_Enable_ContinuousReplicationHostName(self, p):
        self.cms.host_names[p["HostName"]] = (p["TargetMachine"], p["IPv4Address"])
        return []

    def do_Disable_ContinuousReplicationHostName(self, p):
        self.cms.host_names.pop(p["HostName"])
        return []


@pytest.fixture
def cms(monkeypatch):
    state = Cms()

    def from_module(cls, module):
        state.params = dict(module.params)
        return FakeClient(state)
    monkeypatch.setattr(rh.Client, "from_module", classmethod(from_module))
    return state


def run(capsys, args, check=False):
    base = {"server": "mbx1a.contoso.com", "username": "CONTOSO\\administrator", "password": "S3cret!",
            "auth": "basic", "_ansible_check_mode": check, "_ansible_diff": True}
    with patch_module_args(dict(base, **args)):
        with pytest.raises(SystemExit):
            rh.main()
    return json.loads(capsys.readouterr().out)


def writes(state):
    return [(c, p) for c, p in state.calls if c in WRITES]


MBX1A = {"identity": "CMS1", "target_machine": "MBX1A", "host_name": "MBX1A-REPL", "ipv4_address": "10.1.2.121"}


def test_check_mode_plans_and_sends_nothing(cms, capsys):
    result = run(capsys, MBX1A, check=True)
    assert result["changed"] and writes(cms) == []
    assert cms.params["exchange_version"] == "2007"  # the snap-in endpoint is chosen by the module
    assert [c for c, _p in cms.calls] == ["Get-MailboxServer", "Get-ClusteredMailboxServerStatus"]
    assert result["actions"][0]["status"] == "planned"
    assert result["drift"] == ["CMS1: continuous replication host name mbx1a-repl missing on MBX1A (10.1.2.121)"]
    assert result["after"] == {"operational": ["mbx1a", "mbx1b", "mbx1a-repl"], "failed": [],
                               "in_use": ["mbx1a-repl"]}
    assert [(p["check"], p["status"]) for p in result["preconditions"]] == [
        ("ccr_node", "ok"), ("cno_rights", "not_checked"), ("name_resolution", "not_checked")]


def test_apply_verifies_then_idempotent(cms, capsys):
    done = run(capsys, dict(MBX1A, host_name="mbx1a-repl.contoso.com"))
    assert writes(cms) == [("Enable-ContinuousReplicationHostName", {
        "Identity": "CMS1", "TargetMachine": "MBX1A", "HostName": "mbx1a-repl", "IPv4Address": "10.1.2.121",
        "Confirm": False})]
    assert done["changed"] and cms.calls[-1][0] == "Get-ClusteredMailboxServerStatus"  # verified by reading back
    again = run(capsys, MBX1A)
    assert not again["changed"] and again["drift"] == [] and len(writes(cms)) == 1
    assert again["reason"] == "compliant: CMS1 already has the continuous replication host name mbx1a-repl"


def test_absent_disables_then_idempotent(cms, capsys):
    cms.host_names["MBX1B-REPL"] = ("MBX1B", "10.1.2.122")
    args = {"identity": "CMS1", "host_name": "MBX1B-REPL", "state": "absent"}
    planned = run(capsys, args, check=True)
    assert planned["changed"] and writes(cms) == [] and planned["after"]["in_use"] == ["mbx1a", "mbx1b"]
    done = run(capsys, args)
    assert writes(cms) == [("Disable-ContinuousReplicationHostName", {"Identity": "CMS1", "HostName": "MBX1B-REPL",
                                                                      "Confirm": False})]
    assert done["after"]["operational"] == ["mbx1a", "mbx1b"]
    assert not run(capsys, args)["changed"]


def test_scr_target_refused_before_any_write(cms, capsys):
    result = run(capsys, dict(MBX1A, target_machine="MBX2A", host_name="MBX2A-REPL", ipv4_address="10.2.2.121"))
    assert result["failed"] and writes(cms) == []
    assert [c for c, _p in cms.calls] == ["Get-MailboxServer", "Get-StorageGroupCopyStatus"]
    assert "standby continuous replication (SCR) target of CMS1\\SG1, CMS1\\SG2" in result["msg"]
    assert "not for standby continuous replication (SCR) (seed 000 Q3" in result["msg"]
    assert result["preconditions"][0]["status"] == "failed"


def test_refused_in_check_mode_too(cms, capsys):
    result = run(capsys, dict(MBX1A, target_machine="MBX2A"), check=True)
    assert result["failed"] and result["msg"].startswith("target_machine: MBX2A is not a CCR node")


def test_machine_that_is_neither_node_nor_scr_target(cms, capsys):
    result = run(capsys, dict(MBX1A, target_machine="CAS1"))
    assert result["failed"] and "it is not a node of the clustered mailbox server's CCR cluster" in result["msg"]


def test_failed_host_name_is_drift_not_touched(cms, capsys):
    cms.host_names["MBX1A-REPL"] = ("MBX1A", "10.1.2.121")
    cms.failed.append("MBX1A-REPL")
    result = run(capsys, MBX1A)
    assert not result["changed"] and writes(cms) == []
    assert result["drift"][0].startswith("CMS1: continuous replication host name mbx1a-repl is failed")
    assert result["reason"].startswith("not fixable by the module")


def test_cno_check_with_cluster(cms, capsys):
    cms.computers["MBX1A-REPL"] = []  # a stale computer object the cluster has no right on
    refused = run(capsys, dict(MBX1A, cluster="CONTOSO\\CLU1"))
    assert refused["failed"] and writes(cms) == []
    assert refused["msg"].startswith("cluster: the cluster name object CONTOSO\\CLU1$ lacks Full Control on the "
                                     "existing computer object CN=MBX1A-REPL,CN=Computers,DC=contoso,DC=com")
    assert refused["preconditions"][-1] == {"check": "cno_rights", "status": "failed", "detail": (
        "CONTOSO\\CLU1$ lacks Full Control on CN=MBX1A-REPL,CN=Computers,DC=contoso,DC=com")}
    cms.computers["MBX1A-REPL"] = ["CONTOSO\\CLU1$"]
    done = run(capsys, dict(MBX1A, cluster="CONTOSO\\CLU1"))
    assert done["changed"] and len(writes(cms)) == 1
    assert done["preconditions"][1]["status"] == "ok"


def test_exchange_error_on_enable(cms, capsys, monkeypatch):
    def fail(self, p):
        raise ExchangeCommandError("Enable-ContinuousReplicationHostName", "5A1B2C3D", "InvalidOperation", "MBX1A-REPL",
                                   "Failed to bring cluster resource Network name (MBX1A-REPL) online. "
                                   "(Exception from HRESULT:0x8007139f)", "5A1B2C3D,Task")
    monkeypatch.setattr(FakeClient, "do_Enable_ContinuousReplicationHostName", fail)
    result = run(capsys, MBX1A)
    assert result["failed"] and "0x8007139f" in result["msg"] and result["actions"][0]["status"] == "failed"


@pytest.mark.parametrize("args, message", [
    ({"target_machine": None}, "target_machine is required with state=present"),
    ({"ipv4_address": None}, "ipv4_address is required with state=present"),
    ({"ipv4_address": "10.1.2"}, "ipv4_address: '10.1.2' is not an IPv4 address"),
    ({"host_name": "MBX1A_REPL"}, "host_name: 'MBX1A_REPL' is not a computer name"),
    ({"host_name": "MBX1A-REPLICATION"}, "host_name: 'MBX1A-REPLICATION' is not a computer name"),
    ({"identity": ""}, "identity: '' is not a computer name"),
    ({"exchange_version": "2013"}, "exchange_version 2013: continuous replication host names exist only on"),
])
def test_bad_input_fails_naming_the_option(cms, capsys, args, message):
    result = run(capsys, dict(MBX1A, **args))
    assert result["failed"] and result["msg"].startswith(message), result["msg"]
    assert cms.calls == [] and result["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"host_name": "MBX1B"}, "host_name: MBX1B is the name of a node of CMS1"),
    ({"identity": "CMS9"}, "identity: no clustered mailbox server CMS9"),
])
def test_refusals_after_reading(cms, capsys, args, message):
    result = run(capsys, dict(MBX1A, **args))
    assert result["failed"] and result["msg"].startswith(message) and writes(cms) == []


def test_plan_is_pure():
    status = {"operational": ["mbx1a", "mbx1b", "x"], "failed": [], "in_use": ["x"]}
    request = {"identity": "CMS1", "host_name": "X", "target_machine": "MBX1A", "ipv4_address": "10.1.2.1"}
    assert rh.plan(status, NODES, request, "present")["action"] is None
    gone = rh.plan(status, NODES, request, "absent")
    assert gone["action"] == "disable" and gone["after"] == {"operational": ["mbx1a", "mbx1b"], "failed": [],
                                                             "in_use": ["mbx1a", "mbx1b"]}
    assert status["in_use"] == ["x"]  # the input is not changed
