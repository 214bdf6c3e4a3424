"""Service and SMB share cmdlets through plain pypsrp, their Exchange consequences, and
which Windows versions have which cmdlets (a test-only topology with a 2008 host)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypsrp.powershell import PowerShell

from conftest import pool, props, run
from exchange_lab import Lab
from exchange_lab.model import LabState

PS = "Microsoft.PowerShell"
OLD_WINDOWS = str(Path(__file__).resolve().parent / "data" / "windows-2008.yml")


def _copy_states(lab, server: str) -> dict[str, str]:
    with pool(lab, "EX04") as rp:
        res = run(rp, "Get-MailboxDatabaseCopyStatus", Server=server)
        return {props(o)["DatabaseName"]: props(o)["Status"] for o in res.output}


# ------------------------------------------------------------------------ services
def test_get_service_lists_the_documented_exchange_services(fresh_lab):
    with pool(fresh_lab, "EX01", configuration=PS) as rp:
        res = run(rp, "Get-Service", Name="MSExchange*")
        names = {props(s)["Name"] for s in res.output}
        assert {"MSExchangeRepl", "MSExchangeIS", "MSExchangeTransport", "MSExchangeFrontEndTransport",
                "MSExchangeADTopology"} <= names
        assert "MSExchangeUM" not in names and "MSExchangeNotificationsBroker" not in names  # 2019 has neither
        repl = props(run(rp, "Get-Service", Name="MSExchangeRepl").output[0])
        assert (repl["DisplayName"], repl["Status"], repl["StartType"]) == (
            "Microsoft Exchange Replication Service", "Running", "Automatic")
        assert repl["RequiredServices"] == ["MSExchangeADTopology"]
        assert run(rp, "Get-Service", Name="MSExchangeRepl").output[0].types[0] == "System.ServiceProcess.ServiceController"
        res = run(rp, "Get-Service", Name="MSExchangeFDS")  # Exchange 2007/2010 only
        assert not res.failed and not res.output
        assert res.error.fq_error == "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"
        assert str(res.error) == "Cannot find any service with service name 'MSExchangeFDS'."
        imap = props(run(rp, "Get-Service", Name="MSExchangeIMAP4", ComputerName="EX03").output[0])
        assert (imap["Status"], imap["StartType"], imap["MachineName"]) == ("Stopped", "Manual", "EX03")


def test_replication_service_stopped_shows_service_down(fresh_lab):
    with pool(fresh_lab, "EX02", configuration=PS) as rp:
        res = run(rp, "Stop-Service", Name="MSExchangeRepl")
        assert not res.errors
        # runbooks §1.1: ServiceDown = the Replication service is not running on that server
        assert set(_copy_states(fresh_lab, "EX02").values()) == {"ServiceDown"}
        res = run(rp, "Start-Service", Name="MSExchangeRepl")
        assert not res.errors
        states = _copy_states(fresh_lab, "EX02")
        assert states["DB02"] == "Mounted" and states["DB01"] in ("Initializing", "Healthy")  # Initializing lasts 15 modelled s = 75 ms at x200: a loaded machine may read it Healthy already
    # a ServiceController piped from another computer acts on that computer
    with pool(fresh_lab, "EX01", configuration=PS) as rp:
        ps = PowerShell(rp)
        ps.add_cmdlet("Get-Service").add_parameter("Name", "MSExchangeRepl").add_parameter("ComputerName", "EX03")
        ps.add_cmdlet("Stop-Service").add_parameter("PassThru")
        out = ps.invoke()
        assert not ps.had_errors and [(props(o)["MachineName"], props(o)["Status"]) for o in out] == [
            ("EX03", "Stopped")]
        assert props(run(rp, "Get-Service", Name="MSExchangeRepl").output[0])["Status"] == "Running"
    assert set(_copy_states(fresh_lab, "EX03").values()) == {"ServiceDown"}


def test_store_stopped_fails_databases_over_and_dependents_need_force(fresh_lab):
    with pool(fresh_lab, "EX03", configuration=PS) as rp:
        res = run(rp, "Stop-Service", Name="MSExchangeADTopology")
        assert not res.failed and res.error.fq_error == (
            "ServiceHasDependentServices,Microsoft.PowerShell.Commands.StopServiceCommand")
        assert props(run(rp, "Get-Service", Name="MSExchangeADTopology").output[0])["Status"] == "Running"
        # failure-modes information-store-stopped-or-paused-by-admin: automatic failover
        res = run(rp, "Stop-Service", Name="MSExchangeIS", PassThru=None)
        assert props(res.output[0])["Status"] == "Stopped"
    with pool(fresh_lab, "EX04") as ex:
        db05 = [props(o) for o in run(ex, "Get-MailboxDatabaseCopyStatus", Identity="DB05").output]
        assert [r["MailboxServer"] for r in db05 if r["ActiveCopy"]] == ["EX04"]
        dag = props(run(ex, "Get-DatabaseAvailabilityGroup", Identity="DAG1", Status=None).output[0])
        assert "EX03" not in dag["OperationalServers"]
    with pool(fresh_lab, "EX03", configuration=PS) as rp:
        res = run(rp, "Set-Service", Name="MSExchangeIS", StartupType="Disabled", PassThru=None)
        assert props(res.output[0])["StartType"] == "Disabled"
        res = run(rp, "Start-Service", Name="MSExchangeIS")
        assert res.error.fq_error == "CouldNotStartService,Microsoft.PowerShell.Commands.StartServiceCommand"
        run(rp, "Set-Service", Name="MSExchangeIS", StartupType="Automatic")
        assert not run(rp, "Start-Service", Name="MSExchangeIS").errors
        # with -Force the dependents stop first
        res = run(rp, "Stop-Service", Name="MSExchangeADTopology", Force=None)
        assert not res.errors
        rows = {props(s)["Name"]: props(s)["Status"] for s in run(rp, "Get-Service", Name="MSExchange*").output}
        assert rows["MSExchangeRepl"] == "Stopped" and rows["MSExchangeTransport"] == "Stopped"


# ---------------------------------------------------------------------- SMB shares
def test_scoped_share_create_grant_read_remove(fresh_lab):
    # EX01 owns the DAG's Cluster Group, so its cluster network name DAG1 is online there
    with pool(fresh_lab, "EX01", configuration=PS) as rp:
        res = run(rp, "New-SmbShare", Name="ExchangeOAB", Path="D:\\ExchangeOAB", ScopeName="DAG1",
                  ReadAccess="Exchange Servers")
        share = props(res.output[0])
        assert (share["Name"], share["ScopeName"], share["Scoped"], share["AvailabilityType"]) == (
            "ExchangeOAB", "DAG1", True, "Clustered")
        res = run(rp, "New-SmbShare", Name="ExchangeOAB", Path="D:\\ExchangeOAB", ScopeName="DAG1")
        assert res.failed and res.error.fq_error == "Windows System Error 2118,New-SmbShare"
        res = run(rp, "Grant-SmbShareAccess", Name="ExchangeOAB", AccountName="CONTOSO\\Organization Management",
                  AccessRight="Full")
        assert res.failed and res.error.fq_error == "HostFunctionNotImplemented,Grant-SmbShareAccess"  # prompts
        res = run(rp, "Grant-SmbShareAccess", Name="ExchangeOAB", ScopeName="DAG1",
                  AccountName="CONTOSO\\Organization Management", AccessRight="Full", Force=None)
        assert [(props(a)["AccountName"], props(a)["AccessRight"]) for a in res.output] == [
            ("CONTOSO\\Exchange Servers", "Read"), ("CONTOSO\\Organization Management", "Full")]
        res = run(rp, "Get-SmbShareAccess", Name="ExchangeOAB")
        assert {(props(a)["ScopeName"], props(a)["AccessControlType"]) for a in res.output} == {("DAG1", "Allow")}
        res = run(rp, "Grant-SmbShareAccess", Name="ExchangeOAB", AccountName="CONTOSO\\Nobody", Force=None)
        assert res.failed and str(res.error) == "No mapping between account names and security IDs was done."
        res = run(rp, "New-SmbShare", Name="Other", Path="D:\\Other", ScopeName="DAG2")
        assert res.failed and str(res.error) == "The network name cannot be found."
    # a share scoped to the cluster name is not one of EX02's own shares
    with pool(fresh_lab, "EX02", configuration=PS) as rp:
        res = run(rp, "Get-SmbShare", Name="ExchangeOAB")
        assert not res.output and res.error.fq_error == "CmdletizationQuery_NotFound_Name,Get-SmbShare"
        assert {props(s)["Name"] for s in run(rp, "Get-SmbShare").output} == {"ADMIN$", "C$", "IPC$"}
    with pool(fresh_lab, "EX01", configuration=PS) as rp:
        res = run(rp, "Revoke-SmbShareAccess", Name="ExchangeOAB", AccountName="Exchange Servers", Force=None)
        assert [props(a)["AccountName"] for a in res.output] == ["CONTOSO\\Organization Management"]
        assert not run(rp, "Remove-SmbShare", Name="ExchangeOAB", Confirm=False).errors
        assert run(rp, "Get-SmbShare", Name="ExchangeOAB").errors


def test_witness_share_and_default_shares(fresh_lab):
    with pool(fresh_lab, "FS01", configuration=PS) as rp:
        shares = {props(s)["Name"]: props(s) for s in run(rp, "Get-SmbShare").output}
        witness = shares["DAG1.contoso.com"]
        assert witness["Path"] == "C:\\DAGFileShareWitnesses\\DAG1.contoso.com" and witness["ScopeName"] == "*"
        access = run(rp, "Get-SmbShareAccess", Name="DAG1.contoso.com").output
        assert [(props(a)["AccountName"], props(a)["AccessRight"]) for a in access] == [("CONTOSO\\DAG1$", "Full")]
    with pool(fresh_lab, "DC01", configuration=PS) as rp:
        assert {"NETLOGON", "SYSVOL"} <= {props(s)["Name"] for s in run(rp, "Get-SmbShare").output}


# ---------------------------------------------------------------- Windows versions
@pytest.fixture(scope="module")
def old_lab():
    with Lab(OLD_WINDOWS, speed=200.0) as running:
        yield running


def test_smb_cmdlets_are_not_recognized_on_windows_2008(old_lab):
    with pool(old_lab, "FS08", configuration=PS) as rp:
        for cmdlet, params in (("Get-SmbShare", {}), ("New-SmbShare", {"Name": "X", "Path": "C:\\X"})):
            res = run(rp, cmdlet, **params)
            assert res.failed and res.error.fq_error == "CommandNotFoundException"
            assert str(res.error).startswith(f"The term '{cmdlet}' is not recognized")
        # the service cmdlets exist on every Windows version
        assert props(run(rp, "Get-Service", Name="LanmanServer").output[0])["Status"] == "Running"
    with pool(old_lab, "FS12", configuration=PS) as rp:
        assert {props(s)["Name"] for s in run(rp, "Get-SmbShare").output} == {"ADMIN$", "C$", "IPC$"}


def test_share_store_exists_on_windows_2008():
    """The model keeps the shares of a 2008 host (no cmdlets there): a later fix (runbooks
    §11, Exchange 2007 OAB share scoping) reads and changes them through this API."""
    lab = LabState.load(OLD_WINDOWS)
    assert [(h.name, h.windows) for h in lab.hosts] == [("DC01", "WS2019"), ("FS08", "WS2008"), ("FS12", "WS2012")]
    w = lab.windows
    assert {s.name for s in w.shares_on("FS08")} == {"ADMIN$", "C$", "IPC$"}
    w.new_share("FS08", "ExchangeOAB", "D:\\ExchangeOAB", aces=[w.share_ace("Everyone", "Read")])
    share = w.resolve_unc("\\\\FS08\\ExchangeOAB")
    assert share is not None and share.scope == "*"
    assert w.resolve_unc("\\\\fs08.contoso.com\\ExchangeOAB") is share
    assert w.resolve_unc("\\\\FS12\\ExchangeOAB") is None
