"""Datacenter switchover cmdlets (DAC mode) through the real protocol (pypsrp):
Stop-, Restore- and Start-DatabaseAvailabilityGroup (runbooks §5.2, §5.5)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any

from conftest import pool, props, run

T_DAG_TASK = "Microsoft.Exchange.Management.SystemConfigurationTasks"


def names(value: Any) -> list[str]:
    """A multi-valued property as sorted strings: pypsrp returns a list, or, for a list
    carrying MultiValuedProperty type names, an object holding the raw ``<Obj>`` XML."""
    if value is None:
        return []
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    return sorted(e.text or "" for e in ET.fromstring(value._xml).iter("S"))


def dag_status(rp: Any) -> dict[str, Any]:
    res = run(rp, "Get-DatabaseAvailabilityGroup", Identity="DAG1", Status=True)
    assert not res.failed, res.errors
    d = props(res.output[0])
    return {
        "stopped": names(d["StoppedMailboxServers"]),
        "started": names(d["StartedMailboxServers"]),
        "operational": names(d["OperationalServers"]),
        "witness": d["WitnessShareInUse"],
        "pam": d["PrimaryActiveManager"],
        "alternate": d["AlternateWitnessServer"],
    }


def placement(lab: Any) -> dict[str, tuple[str, str]]:
    return {d["name"]: (d["active_server"], d["mount_state"]) for d in lab.state()["databases"]}


def dac(rp: Any, cmdlet: str, **params: Any) -> Any:
    return run(rp, cmdlet, Identity="DAG1", Confirm=False, **params)


def test_dac_cmdlets_need_dac_mode(fresh_lab):
    with pool(fresh_lab) as rp:
        assert not run(rp, "Set-DatabaseAvailabilityGroup", Identity="DAG1", DatacenterActivationMode="Off").errors
        for cmdlet, params in (
            ("Stop-DatabaseAvailabilityGroup", {"ActiveDirectorySite": "DC1"}),
            ("Start-DatabaseAvailabilityGroup", {"MailboxServer": "EX01"}),
            ("Restore-DatabaseAvailabilityGroup", {"ActiveDirectorySite": "DC2"}),
        ):
            res = dac(rp, cmdlet, **params)
            assert res.failed, cmdlet
            assert "Datacenter Activation Coordination mode" in str(res.error)
            assert "FailureCategory=Cmdlet-DagTaskOperationFailedException" in res.error.fq_error
            assert res.error.fq_error.endswith(f"{T_DAG_TASK}.{cmdlet.replace('-', '')}")
        assert dag_status(rp)["stopped"] == []


def test_dac_cmdlets_need_confirm_false_over_remoting(fresh_lab):
    def prompts(res: Any, cmdlet: str) -> bool:
        return res.failed and res.error.fq_error == f"HostFunctionNotImplemented,{T_DAG_TASK}.{cmdlet.replace('-', '')}"

    with pool(fresh_lab) as rp:
        res = run(rp, "Stop-DatabaseAvailabilityGroup", Identity="DAG1", ActiveDirectorySite="DC1")
        assert prompts(res, "Stop-DatabaseAvailabilityGroup")
        assert "The host was attempting to request confirmation" in str(res.error)
        assert dag_status(rp)["stopped"] == []
        assert not dac(rp, "Stop-DatabaseAvailabilityGroup", ActiveDirectorySite="DC1", ConfigurationOnly=None).errors
        # validation comes first (as in a real task), then the prompt
        res = run(rp, "Restore-DatabaseAvailabilityGroup", Identity="DAG1", ActiveDirectorySite="DC2")
        assert prompts(res, "Restore-DatabaseAvailabilityGroup")
        assert fresh_lab.state()["dags"][0]["cluster"]["evicted"] == []
        res = run(rp, "Start-DatabaseAvailabilityGroup", Identity="DAG1", ActiveDirectorySite="DC1")
        assert prompts(res, "Start-DatabaseAvailabilityGroup")
        assert dag_status(rp)["stopped"] == ["EX01", "EX02"]


def test_switchover_with_a_reachable_primary_and_switchback(fresh_lab):
    with pool(fresh_lab, host="EX03") as rp:
        # terminate the primary datacenter (runbooks §5.2 step 1): Active Manager stopped
        assert not dac(rp, "Stop-DatabaseAvailabilityGroup", ActiveDirectorySite="DC1").errors
        st = dag_status(rp)
        assert st["stopped"] == ["EX01", "EX02"] and st["started"] == ["EX03", "EX04"]
        assert st["operational"] == ["EX03", "EX04"]
        # the DAG kept quorum, so Active Manager activated the databases in DC2 (BCSS)
        assert {srv for srv, _ in placement(fresh_lab).values()} <= {"EX03", "EX04"}
        assert {state for _, state in placement(fresh_lab).values()} == {"Mounted"}
        res = run(rp, "Move-ActiveMailboxDatabase", Identity="DB01", ActivateOnServer="EX01", Confirm=False)
        assert "StoppedMailboxServers" in props(res.output[0])["ErrorMessage"]
        # activate the second datacenter (step 4): stopped servers evicted, alternate witness
        assert not dac(rp, "Restore-DatabaseAvailabilityGroup", ActiveDirectorySite="DC2").errors
        st = dag_status(rp)
        assert st["witness"] == "Alternate" and st["operational"] == ["EX03", "EX04"]
        assert st["pam"] in ("EX03", "EX04")
        cluster = fresh_lab.state()["dags"][0]["cluster"]
        assert sorted(cluster["evicted"]) == ["EX01", "EX02"] and sorted(cluster["nodes"]) == ["EX03", "EX04"]
        # failback (§5.5): start the primary members, re-evaluate the quorum model, move back
        assert not dac(rp, "Start-DatabaseAvailabilityGroup", ActiveDirectorySite="DC1").errors
        st = dag_status(rp)
        assert st["stopped"] == [] and st["started"] == ["EX01", "EX02", "EX03", "EX04"]
        assert st["operational"] == ["EX01", "EX02", "EX03", "EX04"]
        assert st["witness"] == "Alternate"
        assert not run(rp, "Set-DatabaseAvailabilityGroup", Identity="DAG1").errors
        assert dag_status(rp)["witness"] == "Primary"
        # step 2: let the copies catch up (the old active copies went Initializing -> Healthy)
        time.sleep(16 / 200 + 0.05)
        res = run(rp, "Move-ActiveMailboxDatabase", Identity="DB01", ActivateOnServer="EX01", Confirm=False)
        assert not res.errors and props(res.output[0])["ActiveServerAtEnd"] == "EX01"


def test_site_failure_with_blocked_dr_servers_needs_explicit_moves(fresh_lab):
    with pool(fresh_lab, host="EX03") as rp:
        for srv in ("EX03", "EX04"):
            run(rp, "Set-MailboxServer", Identity=srv, DatabaseCopyAutoActivationPolicy="Blocked")
        fresh_lab.inject_fault({"kind": "server_down", "server": "EX01"})
        fresh_lab.inject_fault({"kind": "server_down", "server": "EX02"})
        # DB01 failed over to EX02 when EX01 went down, then had nowhere to go
        assert placement(fresh_lab)["DB01"] == ("EX02", "Dismounted")
        # the primary servers are down: Stop without -ConfigurationOnly warns, AD is updated
        res = dac(rp, "Stop-DatabaseAvailabilityGroup", ActiveDirectorySite="DC1")
        assert not res.errors and len(res.warnings) == 2 and "couldn't be contacted" in res.warnings[0]
        assert dag_status(rp)["stopped"] == ["EX01", "EX02"]
        assert not dac(rp, "Restore-DatabaseAvailabilityGroup", ActiveDirectorySite="DC2").errors
        st = dag_status(rp)
        assert st["operational"] == ["EX03", "EX04"] and st["witness"] == "Alternate"
        # Blocked: no automatic activation; an explicit target is allowed (§5.2 step 5)
        assert placement(fresh_lab)["DB01"] == ("EX02", "Dismounted")
        assert placement(fresh_lab)["DB05"] == ("EX03", "Mounted")
        res = run(rp, "Mount-Database", Identity="DB01")
        assert res.failed and "Replication service may not be running" in str(res.error)
        res = run(rp, "Move-ActiveMailboxDatabase", Identity="DB01", ActivateOnServer="EX03", Confirm=False)
        assert not res.errors
        r = props(res.output[0])
        assert (r["ActiveServerAtStart"], r["ActiveServerAtEnd"], r["MountStatusAtMoveEnd"]) == (
            "EX02",
            "EX03",
            "Mounted",
        )
        assert placement(fresh_lab)["DB01"] == ("EX03", "Mounted")


def test_restore_fails_when_it_cannot_shrink_quorum(fresh_lab):
    with pool(fresh_lab, host="EX04") as rp:
        res = dac(rp, "Restore-DatabaseAvailabilityGroup", ActiveDirectorySite="DC2")
        assert res.failed and "aren't stopped" in str(res.error)
        for srv in ("EX01", "EX02"):
            assert not dac(rp, "Stop-DatabaseAvailabilityGroup", MailboxServer=srv, ConfigurationOnly=None).errors
        assert not run(rp, "Set-DatabaseAvailabilityGroup", Identity="DAG1", AlternateWitnessServer="").errors
        res = dac(rp, "Restore-DatabaseAvailabilityGroup", ActiveDirectorySite="DC2")
        assert res.failed and "no alternate witness server is configured" in str(res.error)
        assert fresh_lab.state()["dags"][0]["cluster"]["evicted"] == []
        res = dac(
            rp,
            "Restore-DatabaseAvailabilityGroup",
            ActiveDirectorySite="DC2",
            AlternateWitnessServer="FS02",
            AlternateWitnessDirectory="C:\\DAG1W",
        )
        assert not res.errors
        st = dag_status(rp)
        assert st["witness"] == "Alternate" and st["alternate"] == "FS02.contoso.com"


def test_restore_with_the_primary_witness(fresh_lab):
    with pool(fresh_lab) as rp:
        assert not dac(rp, "Stop-DatabaseAvailabilityGroup", ActiveDirectorySite="DC1", ConfigurationOnly=None).errors
        assert not dac(
            rp, "Restore-DatabaseAvailabilityGroup", ActiveDirectorySite="DC2", UsePrimaryWitnessServer=None
        ).errors
        assert dag_status(rp)["witness"] == "Primary"


def test_stop_configuration_only_and_a_stopped_server_does_not_mount(fresh_lab):
    for srv in ("EX02", "EX03", "EX04"):
        fresh_lab.inject_fault({"kind": "copy_status", "database": "DB01", "server": srv, "status": "Failed"})
    with pool(fresh_lab) as rp:
        assert not dac(rp, "Stop-DatabaseAvailabilityGroup", MailboxServer="EX01", ConfigurationOnly=None).errors
        assert dag_status(rp)["stopped"] == ["EX01"]
        assert placement(fresh_lab)["DB01"] == ("EX01", "Mounted")  # AD only: the server is untouched
        assert not dac(rp, "Stop-DatabaseAvailabilityGroup", MailboxServer="EX01").errors
        # DB01 has no healthy copy elsewhere: it stays dismounted on the stopped server
        assert placement(fresh_lab)["DB01"] == ("EX01", "Dismounted")
        assert placement(fresh_lab)["DB03"][0] != "EX01"
        res = run(rp, "Mount-Database", Identity="DB01")
        assert res.failed and "stopped servers list" in str(res.error)
        assert not dac(rp, "Start-DatabaseAvailabilityGroup", MailboxServer="EX01").errors
        assert not run(rp, "Mount-Database", Identity="DB01").errors
        assert placement(fresh_lab)["DB01"] == ("EX01", "Mounted")


def test_dac_identity_errors(fresh_lab):
    with pool(fresh_lab) as rp:
        res = dac(rp, "Stop-DatabaseAvailabilityGroup", ActiveDirectorySite="DC9")
        assert res.failed and "couldn't be found" in str(res.error)
        res = dac(rp, "Stop-DatabaseAvailabilityGroup", MailboxServer="EX09")
        assert res.failed and "couldn't be found" in str(res.error)
        res = run(rp, "Stop-DatabaseAvailabilityGroup", Identity="DAG9", MailboxServer="EX01", Confirm=False)
        assert res.failed and "couldn't be found" in str(res.error)
        # -ActiveDirectorySite and -MailboxServer are different parameter sets
        res = dac(rp, "Start-DatabaseAvailabilityGroup", MailboxServer="EX01", ActiveDirectorySite="DC1")
        assert res.failed and res.error.fq_error.startswith("AmbiguousParameterSet")


def test_restore_after_cluster_service_stopped_on_survivors(fresh_lab):
    """Runbooks §5.2: stop the primary site, stop ClusSvc on the second-site members, restore."""
    with pool(fresh_lab) as rp:
        res = run(rp, "Stop-DatabaseAvailabilityGroup", Identity="DAG1", ActiveDirectorySite="DC1", Confirm=False)
        assert not res.failed, res.errors
    for server in ("EX03", "EX04"):
        with pool(fresh_lab, host=server, configuration="Microsoft.PowerShell") as wp:
            res = run(wp, "Stop-Service", Name="ClusSvc", Force=None)
            assert not res.failed, res.errors
    with pool(fresh_lab, host="EX03") as rp:
        res = run(rp, "Restore-DatabaseAvailabilityGroup", Identity="DAG1", ActiveDirectorySite="DC2", Confirm=False)
        assert not res.failed, res.errors
        dag = props(run(rp, "Get-DatabaseAvailabilityGroup", Identity="DAG1", Status=None).output[0])
        assert sorted(dag["OperationalServers"]) == ["EX03", "EX04"]
        assert dag["WitnessShareInUse"] == "Alternate"
        mounted = [props(o) for o in run(rp, "Get-MailboxDatabase", Status=None).output]
        assert all(m["Mounted"] for m in mounted), [(m["Name"], m["Mounted"]) for m in mounted]
