"""FailoverClusters cmdlets on the Microsoft.PowerShell configuration of DAG members:
Get-Cluster, Get-ClusterNode, Suspend-/Resume-/Start-/Stop-ClusterNode, Get-ClusterGroup,
Get-ClusterResource, Get-ClusterQuorum, Set-ClusterQuorum, Get-ClusterNetwork.

The cluster is the one the Exchange model keeps behind each DAG (``dag.cluster``: nodes,
node states, owner of "Cluster Group" = the PAM; quorum from ``LabState.quorum``); node
changes go through ``LabState.set_node_state`` so Exchange reacts (a node Down fails its
databases over, a Paused node cannot become the PAM).  Behaviour from the
winserver2019-ps FailoverClusters pages; choices in lab/README-model.md ("Windows,
Active Directory and DNS").  Errors are ClusterCmdletException records whose
FullyQualifiedErrorId is ``<cmdlet>,Microsoft.FailoverClusters.PowerShell.<Verb><Noun>Command``
(the shape of the real Move-ClusterGroup error).
"""

from __future__ import annotations

from typing import Any

from psrpcore.types import PSUInt as PSUInt32  # System.UInt32

from .. import errors
from ..model import durations
from ..model.objects_state import lab_guid
from ..model.windows import CLUSSVC, OS_INFO, windows_of
from ..psobj import get_prop, make_object, type_names
from ..registry import POWERSHELL, READ, WRITE, cmdlet
from .windows_common import cluster_module_host, lab_not_supported, require_confirmation, text, texts

CONNECTION_ERROR = 27
T_CLUSTER_OBJECT = "Microsoft.FailoverClusters.PowerShell.ClusterObject"
T_CLUSTER = ["Microsoft.FailoverClusters.PowerShell.Cluster"]
T_NODE = ["Microsoft.FailoverClusters.PowerShell.ClusterNode", T_CLUSTER_OBJECT]
T_GROUP = ["Microsoft.FailoverClusters.PowerShell.ClusterGroup", T_CLUSTER_OBJECT]
T_RESOURCE = ["Microsoft.FailoverClusters.PowerShell.ClusterResource", T_CLUSTER_OBJECT]
T_NETWORK = ["Microsoft.FailoverClusters.PowerShell.ClusterNetwork", T_CLUSTER_OBJECT]
T_QUORUM = ["Microsoft.FailoverClusters.PowerShell.ClusterQuorumSettings"]
CORE_GROUP = "Cluster Group"
UINT32_MAX = PSUInt32(4294967295)


# --------------------------------------------------------------------- errors
def cluster_error(inv: Any, message: str, *, category: int = errors.NOT_SPECIFIED,
                  target: str | None = None) -> errors.PSError:
    verb, noun = inv.name.split("-", 1)
    return errors.PSError(
        message=message,
        fqid=f"{inv.name},Microsoft.FailoverClusters.PowerShell.{verb}{noun}Command",
        category=category,
        exception_types=["Microsoft.FailoverClusters.PowerShell.ClusterCmdletException", "System.Exception"],
        activity=inv.name,
        target_name=target,
        target_type=None if target is None else "String",
        target_object=target,
    )


def _not_running(inv: Any) -> errors.PSError:
    return cluster_error(
        inv,
        "The cluster service is not running.  Make sure that the service is running on all nodes in the cluster.\n"
        "    There are no more endpoints available from the endpoint mapper",
        category=CONNECTION_ERROR,
    )


def _unreachable(inv: Any, name: str) -> errors.PSError:
    return cluster_error(
        inv, f"Failed to connect to cluster '{name}'.\n    The RPC server is unavailable", category=CONNECTION_ERROR,
        target=name,
    )


def _node_error(inv: Any, action: str, node: str, detail: str) -> errors.PSError:
    return cluster_error(inv, f"An error occurred while {action} node '{node}'.\n    {detail}", target=node)


# ------------------------------------------------------------------ resolution
def _input_cluster(inv: Any) -> str | None:
    obj = inv.get("InputObject")
    if obj is None:
        return None
    value = get_prop(obj, "Cluster")
    return text(value) if value is not None else None


def resolve_cluster(inv: Any, *, running: bool = True, name: str | None = None) -> Any:
    """The DAG whose cluster the call addresses: ``-Cluster`` (the cluster name, its FQDN
    or a node name), the cluster of a piped object, else the local node's cluster.
    ``running``: the cluster must be up (quorum) and, locally, this node's cluster service
    running.  Raises the connection error."""
    lab = inv.lab
    name = name or text(inv.get("Cluster")) or _input_cluster(inv)
    if name:
        short = name.split(".", 1)[0]
        dag = next((d for d in lab.dags.values() if d.name.lower() == short.lower() and d.ip_addresses), None)
        via_node = None
        if dag is None:
            node_dag = lab.dag_of(short)
            if node_dag is not None and node_dag.cluster.node(short) is not None:
                dag, via_node = node_dag, short
        if dag is None:
            raise _unreachable(inv, name)
        if running:
            if via_node is not None and not lab.windows.service_running(via_node, CLUSSVC):
                raise _unreachable(inv, name)
            if not lab.quorum(dag)["has_quorum"]:
                raise _unreachable(inv, name)
        return dag
    dag = lab.dag_of(inv.host.name)
    if dag is None or dag.cluster.node(inv.host.name) is None:
        raise _not_running(inv)
    if running and (not lab.windows.service_running(inv.host.name, CLUSSVC) or not lab.quorum(dag)["has_quorum"]):
        raise _not_running(inv)
    return dag


def _node_names(inv: Any) -> list[str]:
    """-Name, else a piped node's Name, else the local node."""
    names = texts(inv.get("Name"))
    if names:
        return names
    obj = inv.get("InputObject")
    if obj is not None:
        n = get_prop(obj, "Name")
        if n is not None:
            return [text(n) or ""]
    return [inv.host.name]


# --------------------------------------------------------------------- objects
def node_object(lab: Any, dag: Any, node: Any) -> Any:
    host = lab.host(node.name)
    _os, _ver, major, minor, build = OS_INFO[windows_of(host)]
    up = node.state in ("Up", "Paused") and lab.is_reachable_host(node.name)
    return make_object(
        T_NODE,
        {
            "Cluster": dag.name,
            "State": node.state,
            "Id": str(lab.windows.node_id(dag, node.name)),
            "Name": node.name,
            "NodeName": node.name,
            "Description": "",
            "DrainStatus": "Completed" if node.state == "Paused" else "NotInitiated",
            "DynamicWeight": PSUInt32(1 if up else 0),
            "NodeWeight": PSUInt32(1),
            "MajorVersion": PSUInt32(major),
            "MinorVersion": PSUInt32(minor),
            "BuildNumber": PSUInt32(build),
            "StatusInformation": "Normal",
        },
        node.name,
    )


def cluster_object(lab: Any, dag: Any) -> Any:
    info = lab.windows.cluster_info(dag)
    return make_object(
        T_CLUSTER,
        {
            "Domain": lab.domain,
            "Name": dag.name,
            "Id": str(info.id),
            "Description": "",
            "AddEvictDelay": PSUInt32(60),
            "CrossSubnetDelay": PSUInt32(1000),
            "CrossSubnetThreshold": PSUInt32(5),
            "SameSubnetDelay": PSUInt32(1000),
            "SameSubnetThreshold": PSUInt32(5),
            "DynamicQuorum": PSUInt32(1),
            "FixQuorum": PSUInt32(0),
            "PreventQuorum": PSUInt32(0),
            "QuarantineDuration": PSUInt32(7200),
            "QuarantineThreshold": PSUInt32(3),
        },
        dag.name,
    )


def _group_object(lab: Any, dag: Any) -> Any:
    owner = dag.cluster.group_owner
    return make_object(
        T_GROUP,
        {
            "Cluster": dag.name,
            "IsCoreGroup": True,
            "OwnerNode": owner,
            "State": "Online" if owner else "Offline",
            "Name": CORE_GROUP,
            "Description": "",
            "PersistentState": PSUInt32(1),
            "FailoverThreshold": UINT32_MAX,
            "FailoverPeriod": PSUInt32(6),
            "AutoFailbackType": PSUInt32(0),
            "FailbackWindowStart": UINT32_MAX,
            "FailbackWindowEnd": UINT32_MAX,
            "AntiAffinityClassNames": [],
            "Id": str(lab_guid("cluster-group", f"{dag.name}:{CORE_GROUP}")),
        },
        CORE_GROUP,
    )


def cluster_resources(lab: Any, dag: Any) -> list[dict[str, Any]]:
    """The resources of the DAG's core group: the cluster network name and its IP
    addresses (DAGs with an administrative access point; the address in the owner's subnet
    is online, the others offline), and the file share witness while one is in use."""
    owner = dag.cluster.group_owner
    out: list[dict[str, Any]] = []
    if dag.ip_addresses:
        out.append({"name": "Cluster Name", "type": "Network Name", "state": "Online" if owner else "Offline",
                    "network": True})
        online_ip = lab.windows.network_name_subnet_ip(dag)
        for i, ip in enumerate(dag.ip_addresses):
            out.append({
                "name": "Cluster IP Address" if i == 0 else f"Cluster IP Address {ip}",
                "type": "IP Address",
                "state": "Online" if owner and ip == online_ip else "Offline",
                "network": True,
            })
    if dag.witness_in_use in ("Primary", "Alternate"):
        witness = dag.witness_server if dag.witness_in_use == "Primary" else dag.alternate_witness_server
        out.append({"name": "File Share Witness", "type": "File Share Witness",
                    "state": "Online" if owner and witness and lab.host_up(witness) else "Failed", "network": False})
    return out


def _resource_object(lab: Any, dag: Any, r: dict[str, Any]) -> Any:
    return make_object(
        T_RESOURCE,
        {
            "Cluster": dag.name,
            "IsCoreResource": True,
            "IsNetworkClassResource": r["network"],
            "IsStorageClassResource": False,
            "OwnerNode": dag.cluster.group_owner,
            "ResourceType": r["type"],
            "State": r["state"],
            "OwnerGroup": CORE_GROUP,
            "Name": r["name"],
            "MaintenanceMode": False,
            "Description": "",
            "SeparateMonitor": False,
            "PersistentState": PSUInt32(1),
            "LooksAlivePollInterval": UINT32_MAX,
            "IsAlivePollInterval": UINT32_MAX,
            "RestartAction": PSUInt32(2),
            "RestartThreshold": PSUInt32(1),
            "RestartDelay": PSUInt32(500),
            "RestartPeriod": PSUInt32(900000),
            "RetryPeriodOnFailure": PSUInt32(3600000),
            "PendingTimeout": PSUInt32(180000),
            "DeadlockTimeout": PSUInt32(300000),
            "ResourceSpecificStatus": "",
        },
        r["name"],
    )


def quorum_object(lab: Any, dag: Any) -> Any:
    uses_witness = dag.witness_in_use in ("Primary", "Alternate")
    return make_object(
        T_QUORUM,
        {
            "Cluster": dag.name,
            "QuorumResource": "File Share Witness" if uses_witness else None,
            "QuorumType": "NodeAndFileShareMajority" if uses_witness else "NodeMajority",
        },
        dag.name,
    )


def _network_object(dag: Any, n: dict[str, Any]) -> Any:
    return make_object(
        T_NETWORK,
        {
            "Cluster": dag.name,
            "State": n["state"],
            "Name": n["name"],
            "Ipv6Addresses": [],
            "Ipv6PrefixLengths": [],
            "Ipv4Addresses": [n["address"]],
            "Ipv4PrefixLengths": [PSUInt32(n["prefix"])],
            "Address": n["address"],
            "AddressMask": n["mask"],
            "Description": "",
            "Role": n["role"],
            "Id": str(n["id"]),
        },
        n["name"],
    )


def _find_node(dag: Any, name: str) -> Any:
    return dag.cluster.node(str(name).split(".", 1)[0])


def _write(inv: Any, out: list[Any]) -> None:
    for o in out:
        inv.write_output(o)


# ------------------------------------------------------------------ Get-Cluster

def _pick_named(inv: Any, items: list, missing: str) -> list:
    """``items`` (dicts with a ``name``) whose name is one of ``-Name`` (all without it); each name
    that matches none writes "An error occurred while retrieving <missing>" (non-terminating)."""
    names = texts(inv.get("Name"))
    if not names:
        return items
    picked = []
    for name in names:
        hit = [item for item in items if item["name"].lower() == name.lower()]
        if not hit:
            inv.write_error(cluster_error(inv, "An error occurred while retrieving " + missing.format(name),
                                          category=errors.OBJECT_NOT_FOUND, target=name))
        picked.extend(hit)
    return picked

@cmdlet("Get-Cluster", syntax="windows", rbac=READ, configurations=(POWERSHELL,), available_on=cluster_module_host)
def get_cluster(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        lab.tick()
        if inv.has("Domain"):
            domain = text(inv.get("Domain")) or ""
            dags = [d for d in lab.dags.values() if d.ip_addresses] if domain.lower() in (
                lab.domain.lower(), lab.netbios.lower()) else []
            out = [cluster_object(lab, d) for d in dags if lab.quorum(d)["has_quorum"]]
        else:
            dag = resolve_cluster(inv, name=(texts(inv.get("Name")) or [None])[0])
            out = [cluster_object(lab, dag)]
    _write(inv, out)


# -------------------------------------------------------------- Get-ClusterNode
@cmdlet("Get-ClusterNode", syntax="windows", rbac=READ, configurations=(POWERSHELL,), available_on=cluster_module_host)
def get_cluster_node(inv: Any) -> None:
    lab = inv.lab
    out = []
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv)
        names = texts(inv.get("Name"))
        if not names:
            out = [node_object(lab, dag, n) for n in dag.cluster.nodes.values()]
        for name in names:
            node = _find_node(dag, name)
            if node is None:
                inv.write_error(cluster_error(
                    inv, f"The node '{name}' was not found in the cluster.\n    The cluster node was not found.",
                    category=errors.OBJECT_NOT_FOUND, target=name))
                continue
            out.append(node_object(lab, dag, node))
    _write(inv, out)


# ----------------------------------------------------- Suspend/Resume-ClusterNode
@cmdlet("Suspend-ClusterNode", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=cluster_module_host)
def suspend_cluster_node(inv: Any) -> None:
    """Pauses nodes (runbooks §3.2 step 4a).  ``-Drain`` drains clustered roles; a DAG's
    cluster has only the core "Cluster Group", which draining does not move (the
    maintenance runbook moves it explicitly, §3.2 4d)."""
    lab = inv.lab
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv)
        nodes = []
        for name in _node_names(inv):
            node = _find_node(dag, name)
            if node is None:
                raise _node_error(inv, "pausing", name, "The cluster node was not found.")
            if node.state == "Down":
                raise _node_error(inv, "pausing", node.name, "The cluster node is down.")
            nodes.append(node)
        target = text(inv.get("TargetNode"))
        if target is not None:
            tnode = _find_node(dag, target)
            if tnode is None or tnode.state != "Up":
                raise _node_error(inv, "draining", nodes[0].name if nodes else target,
                                  f"The target node '{target}' is not an Up node of the cluster.")
        for node in nodes:
            require_confirmation(inv, "Suspend-ClusterNode", node.name, prompts_by_default=False)
        pending = [n for n in nodes if n.state != "Paused"]
    if pending and not lab.clock.sleep(durations.CLUSTER_NODE_PAUSE_S, lambda: inv.stopping):
        return
    with lab.lock:
        for node in pending:
            if node.state in ("Up", "Joining"):
                lab.set_node_state(dag, node.name, "Paused")
        out = [node_object(lab, dag, n) for n in nodes]
    _write(inv, out)


@cmdlet("Resume-ClusterNode", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=cluster_module_host)
def resume_cluster_node(inv: Any) -> None:
    """Resumes paused nodes; nodes that are not paused are left alone and not written
    (the page's ``Get-ClusterNode | Resume-ClusterNode`` example)."""
    lab = inv.lab
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv)
        nodes = []
        for name in _node_names(inv):
            node = _find_node(dag, name)
            if node is None:
                raise _node_error(inv, "resuming", name, "The cluster node was not found.")
            if node.state == "Paused":
                nodes.append(node)
    if nodes and not lab.clock.sleep(durations.CLUSTER_NODE_RESUME_S, lambda: inv.stopping):
        return
    with lab.lock:
        for node in nodes:
            if node.state == "Paused":
                lab.set_node_state(dag, node.name, "Up")
        out = [node_object(lab, dag, n) for n in nodes]
    _write(inv, out)


# ------------------------------------------------------- Start/Stop-ClusterNode
def _local_only(inv: Any, action: str, node: Any) -> None:
    """The pages' note: these cmdlets cannot act remotely without CredSSP.  The lab's
    sessions are remote (Basic/NTLM, never CredSSP): they may act on the session's own
    node only; another node needs the credentials delegated, which fails."""
    if node.name.lower() != inv.host.name.lower():
        raise _node_error(inv, action, node.name, "Access is denied")


@cmdlet("Stop-ClusterNode", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=cluster_module_host)
def stop_cluster_node(inv: Any) -> None:
    """Stops the Cluster service on a node; refused when the cluster would lose quorum
    (the page: "the operation is not permitted")."""
    lab = inv.lab
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv)
        nodes = []
        for name in _node_names(inv):
            node = _find_node(dag, name)
            if node is None:
                raise _node_error(inv, "stopping", name, "The cluster node was not found.")
            _local_only(inv, "stopping", node)
            nodes.append(node)
        for node in nodes:
            if node.state == "Down":
                continue
            previous = node.state
            node.state = "Down"
            keeps = lab.quorum(dag)["has_quorum"]
            node.state = previous
            if not keeps:
                raise _node_error(inv, "stopping", node.name,
                                  "Stopping the Cluster service on this node would cause the cluster to lose quorum.")
            require_confirmation(inv, "Stop-ClusterNode", node.name, prompts_by_default=False)
        pending = [n for n in nodes if n.state != "Down"]
    if pending and not lab.clock.sleep(durations.CLUSTER_NODE_PAUSE_S, lambda: inv.stopping):
        return
    with lab.lock:
        for node in pending:
            if node.state != "Down":
                lab.windows.stop_service(node.name, CLUSSVC)
        out = [node_object(lab, dag, n) for n in nodes]
    _write(inv, out)


@cmdlet("Start-ClusterNode", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=cluster_module_host)
def start_cluster_node(inv: Any) -> None:
    """Starts the Cluster service on a node: the node is Joining (the page's output), then
    Up once it has joined (model/windows.py ``join_node``)."""
    lab = inv.lab
    if inv.get("ForceQuorum") or inv.get("PreventQuorum"):
        raise lab_not_supported(
            inv,
            "The lab does not model forced or prevented quorum (Start-ClusterNode -ForceQuorum/-FixQuorum/"
            "-PreventQuorum); its cluster quorum is node majority with the file share witness.",
        )
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv, running=False)
        nodes = []
        for name in _node_names(inv):
            node = _find_node(dag, name)
            if node is None:
                raise _node_error(inv, "starting", name, "The cluster node was not found.")
            _local_only(inv, "starting", node)
            nodes.append(node)
        for node in nodes:
            svc = lab.windows.service(node.name, CLUSSVC)
            if node.state == "Down" and svc is not None and lab.windows.service_start_type(node.name, svc) == "Disabled":
                raise _node_error(inv, "starting", node.name, "The service cannot be started, either because it is "
                                  "disabled or because it has no enabled devices associated with it.")
            if node.state == "Down":
                lab.windows.join_node(dag, node.name)
        out = [node_object(lab, dag, n) for n in nodes]
    _write(inv, out)


# ------------------------------------------------------- groups and resources
@cmdlet("Get-ClusterGroup", syntax="windows", rbac=READ, configurations=(POWERSHELL,), available_on=cluster_module_host)
def get_cluster_group(inv: Any) -> None:
    lab = inv.lab
    out = []
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv)
        owner_filter = None
        obj = inv.get("InputObject")
        if obj is not None and any(t.endswith("ClusterNode") for t in type_names(obj)):
            owner_filter = text(get_prop(obj, "Name"))
        names = texts(inv.get("Name"))
        for name in names:
            if name.lower() != CORE_GROUP.lower():
                inv.write_error(cluster_error(
                    inv, f"An error occurred while retrieving clustered role '{name}'.\n"
                         "    The cluster group could not be found.",
                    category=errors.OBJECT_NOT_FOUND, target=name))
        if not names or any(n.lower() == CORE_GROUP.lower() for n in names):
            if owner_filter is None or (dag.cluster.group_owner or "").lower() == owner_filter.lower():
                out.append(_group_object(lab, dag))
    _write(inv, out)


@cmdlet("Get-ClusterResource", syntax="windows", rbac=READ, configurations=(POWERSHELL,),
        available_on=cluster_module_host)
def get_cluster_resource(inv: Any) -> None:
    lab = inv.lab
    out = []
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv)
        resources = cluster_resources(lab, dag)
        obj = inv.get("InputObject")
        if obj is not None:
            tnames = type_names(obj)
            if any(t.endswith("ClusterNode") for t in tnames):
                owner = text(get_prop(obj, "Name")) or ""
                if (dag.cluster.group_owner or "").lower() != owner.lower():
                    resources = []
            elif any(t.endswith("ClusterGroup") for t in tnames):
                if (text(get_prop(obj, "Name")) or "").lower() != CORE_GROUP.lower():
                    resources = []
        resources = _pick_named(inv, resources, "cluster resource '{}'.\n    The cluster resource could not be found.")
        out = [_resource_object(lab, dag, r) for r in resources]
    _write(inv, out)


# ------------------------------------------------------------------- quorum
@cmdlet("Get-ClusterQuorum", syntax="windows", rbac=READ, configurations=(POWERSHELL,),
        available_on=cluster_module_host)
def get_cluster_quorum(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv)
        out = quorum_object(lab, dag)
    inv.write_output(out)


@cmdlet("Set-ClusterQuorum", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=cluster_module_host)
def set_cluster_quorum(inv: Any) -> None:
    """Node majority (``-NoWitness``/``-NodeMajority``) or node and file share majority
    (``-FileShareWitness``/``-NodeAndFileShareMajority \\\\server\\share``).  The model's
    witness is the DAG's witness server or its alternate one (what Exchange configures);
    a share elsewhere, disk witnesses (a DAG's cluster has no disks) and cloud witnesses
    are refused."""
    lab = inv.lab
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv)
        if inv.get("CloudWitness") or inv.has("AccountName") or inv.has("AccessKey") or inv.has("Endpoint"):
            raise lab_not_supported(inv, "The lab has no cloud witness (Set-ClusterQuorum -CloudWitness).")
        for key in ("DiskWitness", "DiskOnly"):
            if inv.has(key):
                disk = text(inv.get(key)) or ""
                raise cluster_error(
                    inv, f"An error occurred while retrieving cluster resource '{disk}'.\n"
                         "    The cluster resource could not be found.",
                    category=errors.OBJECT_NOT_FOUND, target=disk)
        if inv.get("NoWitness"):
            dag.witness_in_use = "None"
            lab.evaluate_quorum(dag)
        elif inv.has("FileShareWitness"):
            path = text(inv.get("FileShareWitness")) or ""
            parts = [p for p in path.replace("/", "\\").split("\\") if p]
            server = parts[0].split(".", 1)[0] if parts else ""
            host = lab.host(server)
            share = lab.windows.resolve_unc(path) if len(parts) >= 2 else None
            if host is None or not lab.host_up(host.name) or share is None:
                raise cluster_error(
                    inv, f"There was an error configuring the file share witness '{path}'.\n"
                         "    The network name cannot be found.",
                    target=path)
            if dag.witness_server and lab.host(dag.witness_server) is host:
                dag.witness_in_use = "Primary"
            elif dag.alternate_witness_server and lab.host(dag.alternate_witness_server) is host:
                dag.witness_in_use = "Alternate"
            else:
                raise lab_not_supported(
                    inv,
                    f"The lab's cluster witness can only be the DAG's witness server or alternate witness server; "
                    f"'{path}' is on neither (set them with Set-DatabaseAvailabilityGroup).",
                )
            lab.evaluate_quorum(dag)
        out = quorum_object(lab, dag)
    inv.write_output(out)


# ------------------------------------------------------------------ networks
@cmdlet("Get-ClusterNetwork", syntax="windows", rbac=READ, configurations=(POWERSHELL,),
        available_on=cluster_module_host)
def get_cluster_network(inv: Any) -> None:
    lab = inv.lab
    out = []
    with lab.lock:
        lab.tick()
        dag = resolve_cluster(inv)
        networks = lab.windows.cluster_networks(dag)
        networks = _pick_named(inv, networks, "cluster network '{}'.\n    The cluster network was not found.")
        out = [_network_object(dag, n) for n in networks]
    _write(inv, out)
