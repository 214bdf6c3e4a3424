"""Exchange 2007 SP1 CCR / SCR / OAB (seed 000, runbooks §7-§13), through plain pypsrp.

One lab of the ``exchange2007-ccr-scr`` topology for the module; every test starts from
the topology (``reset``).  Exchange 2007 has no remote Exchange endpoint: sessions open
``Microsoft.PowerShell`` on an Exchange 2007 host and load the snap-in.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool

from exchange_lab import Lab

from conftest import Result, props, run, wsman

SNAPIN = "Microsoft.Exchange.Management.PowerShell.Admin"


@pytest.fixture(scope="module")
def lab07() -> Iterator[Lab]:
    with Lab("exchange2007-ccr-scr", speed=200.0) as running:
        yield running


@pytest.fixture
def l7(lab07: Lab) -> Lab:
    lab07.reset()
    return lab07


@contextlib.contextmanager
def shell(lab: Lab, host: str, *, snapin: bool = True, **kw: Any) -> Iterator[RunspacePool]:
    """A Microsoft.PowerShell session on ``host`` with the Exchange 2007 snap-in loaded."""
    with RunspacePool(wsman(lab, host, **kw), configuration_name="Microsoft.PowerShell") as rp:
        if snapin:
            res = run(rp, "Add-PSSnapin", Name=SNAPIN)
            assert not failed(res), res.errors
        yield rp


def native(rp: RunspacePool, command: str, *args: str) -> Result:
    ps = PowerShell(rp)
    ps.add_cmdlet(command)
    for a in args:
        ps.add_argument(a)
    out = ps.invoke()
    res = Result(ps, out)
    ps.close()
    return res


def events(rp: RunspacePool, log: str, event_id: int) -> list[dict[str, Any]]:
    res = run(rp, "Get-EventLog", LogName=log)
    assert not failed(res), res.errors
    return [props(e) for e in res.output if props(e)["EventID"] == event_id]


def failed(res: Result) -> bool:
    """A terminating error (pipeline Failed) or non-terminating error records."""
    return res.failed or bool(res.errors)


def message(res: Result) -> str:
    return str(res.error)


# ----------------------------------------------------------------- endpoints
def test_no_exchange_endpoint_and_snapin_required(l7: Lab) -> None:
    with pytest.raises(WSManFaultError):
        with RunspacePool(wsman(l7, "MBX1A"), configuration_name="Microsoft.Exchange"):
            pass
    with shell(l7, "MBX1A", snapin=False) as rp:
        res = run(rp, "Get-ClusteredMailboxServerStatus", Identity="CMS1")
        assert failed(res) and "is not recognized" in message(res)
        assert not failed(run(rp, "Add-PSSnapin", Name=SNAPIN))
        res = run(rp, "Get-ClusteredMailboxServerStatus", Identity="CMS1")
        assert not failed(res), res.errors
        # Windows PowerShell 1.0 (Exchange 2007 SP1 on Windows Server 2008): no -Source
        res = run(rp, "Get-EventLog", LogName="Application", Source="MSExchangeFDS")
        assert failed(res) and "NamedParameterNotFound" in str(res.error.fq_error)


def test_clustered_mailbox_server_status(l7: Lab) -> None:
    with shell(l7, "MBX1B") as rp:
        res = run(rp, "Get-ClusteredMailboxServerStatus", Identity="CMS1")
        p = props(res.output[0])
        assert p["State"] == "Online"
        assert p["ClusteredMailboxServerName"] == "CMS1.contoso.com"
        assert p["OperationalMachines"] == ["MBX1A <Active, Quorum Owner>", "MBX1B"]
        # no continuous replication host names: the node names (runbooks §12.1)
        assert p["OperationalReplicationHostNames"] == ["mbx1a", "mbx1b"]
        assert p["InUseReplicationHostNames"] == ["mbx1a", "mbx1b"]
        server = props(run(rp, "Get-ExchangeServer", Identity="CMS1").output[0])
        assert server["AdminDisplayVersion"] == "Version 8.1 (Build 240.6)"
        assert server["IsMemberOfCluster"] == "Yes"
        # a MultiValuedProperty: pypsrp 0.9.1 keeps its raw <LST> (README-model.md)
        redundant = props(run(rp, "Get-MailboxServer", Identity="CMS1").output[0])["RedundantMachines"]
        assert "<S>MBX1A</S><S>MBX1B</S>" in str(redundant)


def test_move_clustered_mailbox_server(l7: Lab) -> None:
    with shell(l7, "MBX1A") as rp:
        res = run(rp, "Move-ClusteredMailboxServer", Identity="CMS1", TargetMachine="MBX1B", Confirm=False)
        assert failed(res) and "MissingMandatoryParameter" in str(res.error.fq_error)
        # replication unhealthy: refused (also with -ValidateOnly)
        assert not failed(run(rp, "Suspend-StorageGroupCopy", Identity="CMS1\\SG1", SuspendComment="backup",
                       Confirm=False))
        res = run(rp, "Move-ClusteredMailboxServer", Identity="CMS1", TargetMachine="MBX1B", MoveComment="patch",
                  ValidateOnly=None)
        assert failed(res) and "CMS1\\SG1 (Suspended)" in message(res)
        assert not failed(run(rp, "Resume-StorageGroupCopy", Identity="CMS1\\SG1", Confirm=False))
        l7_wait_healthy(rp)
        res = run(rp, "Move-ClusteredMailboxServer", Identity="CMS1", TargetMachine="MBX1B", MoveComment="patch")
        assert failed(res) and "HostFunctionNotImplemented" in str(res.error.fq_error)  # -Confirm default $true
        res = run(rp, "Move-ClusteredMailboxServer", Identity="CMS1", TargetMachine="MBX1B", MoveComment="patch",
                  Confirm=False)
        assert not failed(res), res.errors
        p = props(run(rp, "Get-ClusteredMailboxServerStatus", Identity="CMS1").output[0])
        assert p["OperationalMachines"] == ["MBX1A <Quorum Owner>", "MBX1B <Active>"]
        copies = run(rp, "Get-StorageGroupCopyStatus", Server="CMS1").output
        assert {props(c)["SummaryCopyStatus"] for c in copies} <= {"Initializing", "Healthy"}
    with shell(l7, "MBX1B") as rp:
        moved = events(rp, "Application", 100)
        assert moved and "Move comment: patch" in moved[0]["Message"]


def l7_wait_healthy(rp: RunspacePool) -> None:
    import time

    for _ in range(50):
        copies = run(rp, "Get-StorageGroupCopyStatus", Server="CMS1").output
        if all(props(c)["SummaryCopyStatus"] == "Healthy" for c in copies):
            return
        time.sleep(0.05)
    raise AssertionError("copies did not become Healthy")


def test_continuous_replication_host_names_ccr_only(l7: Lab) -> None:
    with shell(l7, "MBX1A") as rp:
        res = run(rp, "Enable-ContinuousReplicationHostName", Identity="CMS1", TargetMachine="MBX1A",
                  HostName="MBX1A-REPL", IPv4Address="10.1.2.121", Confirm=False)
        assert not failed(res), res.errors
        p = props(run(rp, "Get-ClusteredMailboxServerStatus", Identity="CMS1").output[0])
        assert "mbx1a-repl" in p["OperationalReplicationHostNames"]
        assert p["InUseReplicationHostNames"] == ["mbx1a-repl"]
        # the SCR target of the standby cluster: refused (seed 000 Q3)
        res = run(rp, "Enable-ContinuousReplicationHostName", Identity="CMS1", TargetMachine="MBX2A",
                  HostName="MBX2A-REPL", IPv4Address="10.2.2.121", Confirm=False)
        assert failed(res) and "not support" in message(res) and "(SCR)" in message(res)
    with shell(l7, "MBX2A") as rp:
        res = run(rp, "Enable-ContinuousReplicationHostName", TargetMachine="MBX2A", HostName="MBX2A-REPL",
                  IPv4Address="10.2.2.121", Confirm=False)
        assert failed(res) and "cluster continuous replication (CCR)" in message(res)


def test_scr_site_failover_with_recover_cms(l7: Lab) -> None:
    """runbooks §8: primary site lost -> Restore-StorageGroupCopy on the SCR target ->
    Setup /RecoverCMS fails (CNO lacks Full Control, seed 000 Q1) -> grant -> succeeds."""
    for node in ("MBX1A", "MBX1B", "CAS1"):
        l7.inject_fault({"kind": "server_down", "server": node})
    with shell(l7, "MBX2A") as rp:
        res = run(rp, "Get-ClusteredMailboxServerStatus", Identity="CMS1")
        assert failed(res) and "CLU1" in message(res)
        scr = run(rp, "Get-StorageGroupCopyStatus", Server="CMS1", StandbyMachine="MBX2A").output
        assert [props(c)["SummaryCopyStatus"] for c in scr] == ["Healthy", "Healthy"]
        # the source is gone: without -Force the task asks (a remote session can't answer)
        res = run(rp, "Restore-StorageGroupCopy", Identity="CMS1\\SG1", StandbyMachine="MBX2A", Confirm=False)
        assert failed(res) and "HostFunctionNotImplemented" in str(res.error.fq_error)
        for sg in ("SG1", "SG2"):
            res = run(rp, "Restore-StorageGroupCopy", Identity=f"CMS1\\{sg}", StandbyMachine="MBX2A", Force=None)
            assert not failed(res), res.errors
            assert res.warnings and "could not be copied" in res.warnings[0]
            assert props(res.output[0])["Identity"] == f"CMS1\\{sg}"

        res = native(rp, "Setup.com", "/RecoverCMS", "/CMSName:CMS1", "/CMSIPv4Addresses:10.2.1.50")
        assert failed(res)
        assert "0x8007139f" in message(res) and "Network name (CMS1)" in message(res)
        assert any("FAILED" in str(line) for line in res.output)
        (cluster_event,) = events(rp, "System", 1193)[:1]
        assert "'CLU2$' has 'Full Control' permission to that computer object" in cluster_event["Message"]
        assert events(rp, "Application", 1002)

        # runbooks §10.1: check, then grant Full Control to the standby cluster's CNO
        assert run(rp, "Get-ADPermission", Identity="CMS1", User="CONTOSO\\CLU2$").output == []
        res = run(rp, "Add-ADPermission", Identity="CMS1", User="CONTOSO\\CLU2$", AccessRights="GenericAll")
        assert not failed(res), res.errors
        ace = props(run(rp, "Get-ADPermission", Identity="CMS1", User="CONTOSO\\CLU2$").output[0])
        assert "GenericAll" in ace["AccessRights"] and ace["Deny"] is False

        res = native(rp, "Setup.com", "/RecoverCMS", "/CMSName:CMS1", "/CMSIPv4Addresses:10.2.1.50")
        assert not failed(res), res.errors
        assert "completed successfully" in " ".join(str(x) for x in res.output)

        p = props(run(rp, "Get-ClusteredMailboxServerStatus", Identity="CMS1").output[0])
        assert p["State"] == "Online" and "MBX2A <Active, Quorum Owner>" in p["OperationalMachines"]
        dbs = [props(d) for d in run(rp, "Get-MailboxDatabase", Server="CMS1", Status=None).output]
        assert [(d["Identity"], d["Mounted"]) for d in dbs] == [("CMS1\\SG1\\DB1", True), ("CMS1\\SG2\\DB2", True)]
        mbx = props(run(rp, "Get-MailboxServer", Identity="CMS1").output[0])
        assert "<S>MBX2A</S><S>MBX2B</S>" in str(mbx["RedundantMachines"])
        assert props(run(rp, "Get-ExchangeServer", Identity="CMS1").output[0])["Site"].endswith("/Sites/DC2")
        users = [props(m)["Alias"] for m in run(rp, "Get-Mailbox", Database="CMS1\\SG1\\DB1").output]
        assert users == ["alice", "bob"]
        # the new passive node has no copy yet (runbooks §8 step 7)
        ccr = [props(c) for c in run(rp, "Get-StorageGroupCopyStatus", Server="CMS1").output]
        assert {c["SummaryCopyStatus"] for c in ccr} == {"Failed"}

    zone = next(z for z in l7.state()["dns"]["zones"] if z["name"] == "contoso.com")
    (record,) = [r for r in zone["records"] if r["name"] == "cms1"]
    assert record["data"] == "10.2.1.50"


def test_recover_cms_refused_while_source_online(l7: Lab) -> None:
    with shell(l7, "MBX2B") as rp:
        res = native(rp, "Setup.com", "/RecoverCMS", "/CMSName:CMS1", "/CMSIPv4Addresses:10.2.1.50")
        assert failed(res) and "is online on 'MBX1A'" in message(res)


def test_oab_share_scoping_and_rollup_5(l7: Lab) -> None:
    """seed 000 Q4 / runbooks §11: below RU5 the OAB share is scoped to the node name and
    the CAS's FDS logs event 1021; with RU5 on the CMS nodes the next generation publishes
    to \\\\CMS1\\ExchangeOAB and the FDS copy succeeds."""
    with shell(l7, "CAS1") as rp:
        assert not failed(run(rp, "Update-OfflineAddressBook", Identity="Default Offline Address Book",
                       Confirm=False))
        assert not failed(run(rp, "Update-FileDistributionService", Identity="CAS1", Confirm=False))
        before = events(rp, "Application", 1021)
        assert len(before) == 1
        assert before[0]["Source"] == "MSExchangeFDS" and before[0]["EntryType"] == "Warning"
        assert "\\\\CMS1\\ExchangeOAB\\" in before[0]["Message"]
        assert 'read permission for "Exchange Servers" group' in before[0]["Message"]
    for node in ("MBX1B", "MBX1A"):
        with shell(l7, node, snapin=False) as rp:
            res = native(rp, "msiexec.exe", "/update", "C:\\Updates\\Exchange2007-SP1-UR5-x64.msp", "/quiet")
            assert not failed(res), res.errors
    with shell(l7, "CAS1") as rp:
        assert not failed(run(rp, "Update-OfflineAddressBook", Identity="\\Default Offline Address Book",
                       Confirm=False))
        assert not failed(run(rp, "Update-FileDistributionService", Identity="CAS1", Confirm=False))
        assert len(events(rp, "Application", 1021)) == 1  # no new event 1021


def test_viewer_cannot_write(l7: Lab) -> None:
    with shell(l7, "MBX1A", user="CONTOSO\\viewer") as rp:
        assert not failed(run(rp, "Get-StorageGroupCopyStatus", Server="CMS1"))
        res = run(rp, "Suspend-StorageGroupCopy", Identity="CMS1\\SG1", Confirm=False)
        assert failed(res) and "Insufficient access rights" in message(res)


def test_topology_block_is_validated() -> None:
    """The exchange2007: block is checked like the rest of a topology file."""
    import yaml

    from exchange_lab.model.topology import TOPOLOGY_DIR, TopologyError, validate

    data = yaml.safe_load((TOPOLOGY_DIR / "exchange2007-ccr-scr.yml").read_text(encoding="utf-8"))
    data["exchange2007"]["clustered_mailbox_servers"][0]["storage_groups"][0]["scr"][0]["machine"] = "MBX1B"
    with pytest.raises(TopologyError, match="is a node of the source cluster"):
        validate(data, "t.yml")
    data = yaml.safe_load((TOPOLOGY_DIR / "exchange2007-ccr-scr.yml").read_text(encoding="utf-8"))
    data["exchange2007"]["clustered_mailbox_servers"][0]["cluster"] = "CLU2"
    with pytest.raises(TopologyError, match="standby cluster"):
        validate(data, "t.yml")
    data["hosts"][2]["build"] = "Version 15.2 (Build 1544.4)"
    with pytest.raises(TopologyError, match="not an Exchange 2007 build"):
        validate(data, "t.yml")


def test_installed_rollup_in_the_registry(l7: Lab) -> None:
    """The Exchange 2007 product's patch list (Get-ItemProperty ...\\Patches\\*) names the
    installed update rollup: 4 in the topology, 5 after msiexec /update (runbooks §11)."""
    key = ("HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products\\"
           "461C2B4266EDEF444B864AD6D9E5B613\\Patches")
    with shell(l7, "MBX1B", snapin=False) as rp:
        res = run(rp, "Get-ItemProperty", Path=key + "\\*", Name="DisplayName")
        assert not failed(res), res.errors
        assert [props(o)["DisplayName"] for o in res.output] == [
            "Update Rollup 4 for Exchange Server 2007 Service Pack 1"]
        child = props(res.output[0])["PSChildName"]
        assert not failed(run(rp, "Get-ItemProperty", LiteralPath=key + "\\" + child))
        res = run(rp, "Get-ItemProperty", Path=key + "\\0000")
        assert failed(res) and "Cannot find path" in message(res)
        res = run(rp, "Get-ItemProperty", Path="HKLM:\\SOFTWARE\\Contoso")
        assert failed(res) and "NotSupportedByLab" in str(res.errors[0].fq_error)
        assert not failed(native(rp, "msiexec.exe", "/update", "C:\\Updates\\Exchange2007-SP1-UR5-x64.msp", "/quiet"))
        res = run(rp, "Get-ItemProperty", Path=key + "\\*")
        assert [props(o)["DisplayName"] for o in res.output] == [
            "Update Rollup 5 for Exchange Server 2007 Service Pack 1"]
    with shell(l7, "MBX1A", snapin=False) as rp:  # per host: MBX1A is still at RU4
        res = run(rp, "Get-ItemProperty", Path=key + "\\*")
        assert "Update Rollup 4" in props(res.output[0])["DisplayName"]
