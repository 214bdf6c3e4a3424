"""FailoverClusters cmdlets on the DAG's cluster, and what Exchange sees of them, through
plain pypsrp (Microsoft.PowerShell on the DAG members, Microsoft.Exchange for the DAG)."""

from __future__ import annotations

import time
from typing import Any

from pypsrp.powershell import PowerShell

from conftest import pool, props, run

PS = "Microsoft.PowerShell"


def _dag_status(lab, host: str = "EX04") -> dict:
    with pool(lab, host) as rp:
        res = run(rp, "Get-DatabaseAvailabilityGroup", Identity="DAG1", Status=None)
        assert not res.errors
        return props(res.output[0])


def pipe(rp, *commands: tuple[str, dict[str, Any]]) -> list[Any]:
    """Run ``cmd1 | cmd2 ...`` in one pipeline; returns the output (fails on an error)."""
    ps = PowerShell(rp)
    for name, params in commands:
        ps.add_cmdlet(name)
        for key, value in params.items():
            ps.add_parameter(key, value)
    out = ps.invoke()
    assert not ps.had_errors, [str(e) for e in ps.streams.error]
    return out


def _nodes(rp, **params) -> dict[str, str]:
    res = run(rp, "Get-ClusterNode", **params)
    assert not res.errors, res.errors
    return {props(n)["Name"]: props(n)["State"] for n in res.output}


def test_node_suspend_stop_start_resume_and_the_pam(fresh_lab):
    with pool(fresh_lab, "EX01", configuration=PS) as rp:
        res = run(rp, "Get-ClusterNode")
        rows = [props(n) for n in res.output]
        assert [(r["Name"], r["Id"], r["State"], r["Cluster"]) for r in rows] == [
            ("EX01", "1", "Up", "DAG1"), ("EX02", "2", "Up", "DAG1"), ("EX03", "3", "Up", "DAG1"),
            ("EX04", "4", "Up", "DAG1")]
        assert res.output[0].types[0] == "Microsoft.FailoverClusters.PowerShell.ClusterNode"

        # runbooks §3.2 4a: a paused node stays operational but can't become the PAM
        res = run(rp, "Suspend-ClusterNode", Name="EX02")
        assert [(props(n)["Name"], props(n)["State"]) for n in res.output] == [("EX02", "Paused")]
        dag = _dag_status(fresh_lab)
        assert dag["PrimaryActiveManager"] == "EX01" and "EX02" in dag["OperationalServers"]

        # stopping the cluster service takes the node Down: the PAM moves past the paused node
        res = run(rp, "Stop-Service", Name="ClusSvc", PassThru=None)
        assert props(res.output[0])["Status"] == "Stopped" and not res.errors
        dag = _dag_status(fresh_lab)
        assert dag["PrimaryActiveManager"] == "EX03"
        assert sorted(dag["OperationalServers"]) == ["EX02", "EX03", "EX04"]
        # ... and EX01's active databases failed over
        with pool(fresh_lab, "EX04") as ex:
            active = run(ex, "Get-MailboxDatabaseCopyStatus", Server="EX01", Active=None)
            assert active.output == []

        # the local cluster can't be reached any more; through the cluster name it can
        res = run(rp, "Get-ClusterNode")
        assert res.failed and "The cluster service is not running" in str(res.error)
        assert res.error.fq_error == "Get-ClusterNode,Microsoft.FailoverClusters.PowerShell.GetClusterNodeCommand"
        assert _nodes(rp, Cluster="DAG1")["EX01"] == "Down"

        res = run(rp, "Start-ClusterNode")
        assert [(props(n)["Name"], props(n)["State"]) for n in res.output] == [("EX01", "Joining")]
        time.sleep(0.1)  # CLUSTER_NODE_JOIN_S = 5 modelled s at speed 200
        assert _nodes(rp, Cluster="DAG1") == {"EX01": "Up", "EX02": "Paused", "EX03": "Up", "EX04": "Up"}
        assert props(run(rp, "Get-Service", Name="ClusSvc").output[0])["Status"] == "Running"

        # Resume-ClusterNode writes only the nodes it resumed (the page's pipeline example)
        ps_res = run(rp, "Resume-ClusterNode", Name=["EX02", "EX03"])
        assert [(props(n)["Name"], props(n)["State"]) for n in ps_res.output] == [("EX02", "Up")]
        groups = run(rp, "Get-ClusterGroup")
        assert [(props(g)["Name"], props(g)["OwnerNode"], props(g)["State"]) for g in groups.output] == [
            ("Cluster Group", "EX03", "Online")]
    audit = [a["cmdlet"] for a in fresh_lab.audit() if a["configuration"] == PS]
    assert "Suspend-ClusterNode" in audit and "Stop-Service" in audit and "Resume-ClusterNode" in audit


def test_stop_cluster_node_is_local_only_and_keeps_quorum(fresh_lab):
    with pool(fresh_lab, "EX01", configuration=PS) as rp:
        res = run(rp, "Stop-ClusterNode", Name="EX02")
        assert res.failed and str(res.error) == "An error occurred while stopping node 'EX02'.\n    Access is denied"
    for host in ("EX04", "EX03"):
        with pool(fresh_lab, host, configuration=PS) as rp:
            res = run(rp, "Stop-ClusterNode")
            assert [(props(n)["Name"], props(n)["State"]) for n in res.output] == [(host, "Down")]
    # two nodes and the witness left: a third stop would lose quorum (the page: not permitted)
    with pool(fresh_lab, "EX02", configuration=PS) as rp:
        res = run(rp, "Stop-ClusterNode")
        assert res.failed and "lose quorum" in str(res.error)
        assert _nodes(rp) == {"EX01": "Up", "EX02": "Up", "EX03": "Down", "EX04": "Down"}
    dag = _dag_status(fresh_lab, "EX01")
    assert sorted(dag["OperationalServers"]) == ["EX01", "EX02"]


def test_resources_quorum_networks_and_set_quorum(fresh_lab):
    with pool(fresh_lab, "EX02", configuration=PS) as rp:
        cluster = props(run(rp, "Get-Cluster").output[0])
        assert cluster["Name"] == "DAG1" and cluster["Domain"] == "contoso.com"
        res = run(rp, "Get-ClusterResource")
        rows = {props(r)["Name"]: (props(r)["ResourceType"], props(r)["State"], props(r)["OwnerGroup"])
                for r in res.output}
        assert rows == {
            "Cluster Name": ("Network Name", "Online", "Cluster Group"),
            "Cluster IP Address": ("IP Address", "Online", "Cluster Group"),  # 10.1.1.50: the PAM's subnet
            "Cluster IP Address 10.2.1.50": ("IP Address", "Offline", "Cluster Group"),
            "File Share Witness": ("File Share Witness", "Online", "Cluster Group"),
        }
        # a piped node: the resources it owns (the PAM is EX01)
        assert pipe(rp, ("Get-ClusterNode", {"Name": "EX02"}), ("Get-ClusterResource", {})) == []
        assert len(pipe(rp, ("Get-ClusterNode", {"Name": "EX01"}), ("Get-ClusterResource", {}))) == 4
        quorum = props(run(rp, "Get-ClusterQuorum").output[0])
        assert (quorum["QuorumType"], quorum["QuorumResource"]) == ("NodeAndFileShareMajority", "File Share Witness")
        nets = [props(n) for n in run(rp, "Get-ClusterNetwork").output]
        assert [(n["Name"], n["Address"], n["Role"], n["State"]) for n in nets] == [
            ("Cluster Network 1", "10.1.1.0", "ClusterAndClient", "Up"),
            ("Cluster Network 2", "10.2.1.0", "ClusterAndClient", "Up"),
            ("Cluster Network 3", "10.1.2.0", "Cluster", "Up"),
            ("Cluster Network 4", "10.2.2.0", "Cluster", "Up"),
        ]
        res = run(rp, "Get-ClusterResource", Name="Cluster Disk 1")
        assert not res.failed and "could not be found" in str(res.error)
        # the witness share Exchange created on FS01 (runbooks §10.2)
        res = run(rp, "Set-ClusterQuorum", FileShareWitness="\\\\FS01\\DAG1.contoso.com")
        assert props(res.output[0])["QuorumType"] == "NodeAndFileShareMajority" and not res.errors
        res = run(rp, "Set-ClusterQuorum", NodeMajority=None)
        assert props(res.output[0])["QuorumType"] == "NodeMajority"
        res = run(rp, "Set-ClusterQuorum", FileShareWitness="\\\\FS02\\DAG1.contoso.com")
        assert res.failed and "The network name cannot be found" in str(res.error)  # no share there yet
    assert _dag_status(fresh_lab)["WitnessShareInUse"] == "None"


def test_cluster_cmdlets_exist_only_on_cluster_nodes(fresh_lab):
    for host in ("DC01", "FS01"):
        with pool(fresh_lab, host, configuration=PS) as rp:
            res = run(rp, "Get-ClusterNode")
            assert res.failed and res.error.fq_error == "CommandNotFoundException"
    with pool(fresh_lab, "EX01") as rp:  # Windows cmdlets are not on the Exchange endpoint
        res = run(rp, "Get-ClusterNode")
        assert res.failed and res.error.fq_error == "CommandNotFoundException"


def test_named_resources_and_networks_unknown_names_are_non_terminating_errors(lab):
    with pool(lab, "EX01", configuration=PS) as rp:
        res = run(rp, "Get-ClusterNetwork")
        known = props(res.output[0])["Name"]
        res = run(rp, "Get-ClusterNetwork", Name=[known, "NoSuchNetwork"])
        assert [props(o)["Name"] for o in res.output] == [known]
        assert len(res.errors) == 1 and "cluster network 'NoSuchNetwork'" in str(res.errors[0])
        assert "The cluster network was not found." in str(res.errors[0])
        res = run(rp, "Get-ClusterResource", Name="NoSuchResource")
        assert res.output == [] and len(res.errors) == 1
        assert "cluster resource 'NoSuchResource'" in str(res.errors[0])
        assert "The cluster resource could not be found." in str(res.errors[0])
