"""Exchange 2007 SP1 commands: the ``Microsoft.Exchange.Management.PowerShell.Admin`` snap-in
on the ``Microsoft.PowerShell`` configuration of an Exchange 2007 host (Exchange 2007 has no
remote Exchange endpoint: runbooks §0.1), and the native programs ``Setup.com`` and
``msiexec.exe`` of those hosts.

Model: ``model/e2007.py``.  Syntax: ``syntax/exchange2007.py`` (table ``exchange2007``).
Specification: seed 000 (seeds-synopsis.md), runbooks.md §7-§13, object-properties.md §1,
§2, §5, §9; the Exchange 2007 cmdlet pages named in the syntax module.  Choices are listed
in lab/README-model.md, "Exchange 2007 SP1: CCR, SCR, OAB".

Error conventions: Exchange 2007's task errors carry a FullyQualifiedErrorId of the form
``<hex>,<task class>`` (no ``[Server=...]`` prefix: that is added by 2010's remote
PowerShell); not found is "The operation could not be performed because object '<id>'
could not be found on domain controller '<dc>'."  Get-* not found is non-terminating,
every other validation failure terminating.  Write cmdlets refuse a user without write
rights with the AD access error (Exchange 2007 permissions are AD ACLs; no RBAC).
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any, Iterable

from .. import errors
from ..engine import native_command
from ..model import durations
from ..model import e2007 as m7
from ..objects import AD_BASE, AD_CONFIGURATION, CONFIGURABLE, T_EXCHANGE_SERVER, T_MAILBOX_DATABASE, T_MAILBOX_SERVER
from ..psobj import custom_object, make_object, ps_list
from ..registry import POWERSHELL, READ, WRITE, Invocation, cmdlet
from . import exchange_adpermission as adp
from .exchange_common import dc_fqdn, matches, text_of, texts_of
from .windows_common import lab_not_supported, require_confirmation, timespan

SNAPIN = m7.SNAPIN
SYS = "Microsoft.Exchange.Management.SystemConfigurationTasks"
RCP = "Microsoft.Exchange.Management.RecipientTasks"
EXCHANGE_VERSION_2007 = "0.1 (8.0.535.0)"  # object-properties §4 (unconfirmed there)
MVP_STRING = "System.String"

T_CMS_STATUS = [f"{SYS}.ClusteredMailboxServerStatus", CONFIGURABLE]
T_SG_COPY_STATUS = [f"{SYS}.StorageGroupCopyStatusEntry"]
T_RESTORE_RESULT = [f"{SYS}.RestoreStorageGroupCopyStatus"]
T_STORAGE_GROUP = ["Microsoft.Exchange.Data.Directory.SystemConfiguration.StorageGroup", *AD_CONFIGURATION]
T_MAILBOX = [
    "Microsoft.Exchange.Data.Directory.Management.Mailbox",
    "Microsoft.Exchange.Data.Directory.Management.MailEnabledOrgPerson",
    "Microsoft.Exchange.Data.Directory.Management.MailEnabledRecipient",
    "Microsoft.Exchange.Data.Directory.ADPresentationObject",
    *AD_BASE,
]
T_MOVE_MAILBOX = [f"{RCP}.MoveMailboxResult"]
T_OAB = ["Microsoft.Exchange.Data.Directory.SystemConfiguration.OfflineAddressBook", *AD_CONFIGURATION]
T_EVENT = ["System.Diagnostics.EventLogEntry", "System.ComponentModel.Component", "System.MarshalByRefObject"]
T_EVENT_LOG = ["System.Diagnostics.EventLog", "System.ComponentModel.Component", "System.MarshalByRefObject"]


# ------------------------------------------------------------------ hosts
def on_2007(host: Any) -> bool:
    """Exchange 2007 hosts: the snap-in is installed there (cmdlets/utility.host_snapins)."""
    return getattr(host, "kind", None) == "exchange" and str(getattr(host, "version", "")) == "2007"


def on_2007_mailbox(host: Any) -> bool:
    """Exchange 2007 Mailbox nodes (clustered mailbox role, active or passive): Setup.com
    is in their Exchange ``Bin`` folder, on the system PATH."""
    return on_2007(host) and "Mailbox" in (getattr(host, "roles", None) or [])


def _snapin(name: str, *, rbac: str = READ, variant: bool = False) -> Any:
    return cmdlet(name, syntax="exchange2007", rbac=rbac, configurations=(POWERSHELL,), snapin=SNAPIN,
                  available_on=on_2007, variant=variant)


# ------------------------------------------------------------------ errors
def _fqid(exception_short: str, task: str) -> str:
    code = format(abs(hash((exception_short, task))) & 0xFFFFFFFF, "X")
    return f"{code},{task}"


def _error(inv: Invocation, message: str, exception_type: str, task: str, *, category: int = errors.INVALID_OPERATION,
           target: str | None = None, bases: list[str] | None = None) -> errors.PSError:
    short = exception_type.rsplit(".", 1)[-1]
    chain = [exception_type, *(bases or [])]
    if exception_type.startswith("Microsoft.Exchange"):
        chain += ["Microsoft.Exchange.Data.LocalizedException", "System.Exception"]
    else:
        chain += ["System.SystemException", "System.Exception"]
    return errors.PSError(message=message, fqid=_fqid(short, task), category=category, exception_types=chain,
                          activity=inv.name, target_name=target, target_type=None if target is None else "String",
                          target_object=target)


def _invalid(inv: Invocation, message: str, task: str, target: str | None = None) -> errors.PSError:
    return _error(inv, message, "System.InvalidOperationException", task, target=target)


def _argument(inv: Invocation, message: str, task: str, target: str | None = None) -> errors.PSError:
    return _error(inv, message, "System.ArgumentException", task, category=errors.INVALID_ARGUMENT, target=target)


def _not_found(inv: Invocation, identity: str, task: str) -> errors.PSError:
    return _error(
        inv,
        f"The operation could not be performed because object '{identity}' could not be found on domain "
        f"controller '{dc_fqdn(inv)}'.",
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException", task,
        category=errors.NOT_SPECIFIED, target=identity,
    )


def _write_guard(inv: Invocation, task: str) -> None:
    """Exchange 2007 permissions are AD ACLs: a user without the Exchange administrator
    roles gets the directory's access error when the task writes."""
    if not inv.session.user.can_write:
        raise _error(
            inv,
            f"Active Directory operation failed on {dc_fqdn(inv)}. This error is not retriable. Additional "
            "information: Insufficient access rights to perform the operation.",
            "Microsoft.Exchange.Data.Directory.ADOperationException", task, category=errors.WRITE_ERROR,
            bases=["Microsoft.Exchange.Data.Directory.DataSourceOperationException"],
        )


def _confirm(inv: Invocation, action: str, target: str, *, built_in: bool, force: bool = False) -> None:
    """ShouldProcess over a remote session (runbooks §0.3): prompts by default when the
    2007 page says the Confirm default is $true (README lists which)."""
    require_confirmation(inv, action, target, prompts_by_default=built_in, force=force)


def _should_continue(inv: Invocation, query: str) -> errors.PSError:
    """A ShouldContinue query (not suppressed by -Confirm:$false, only by -Force) that a
    remote session cannot answer."""
    return errors.PSError(
        message=("A command that prompts the user failed because the host program or the command type does not "
                 "support user interaction. The host was attempting to request confirmation with the following "
                 f"message: {query}"),
        fqid=f"HostFunctionNotImplemented,{inv.name}",
        category=errors.NOT_IMPLEMENTED,
        exception_types=["System.Management.Automation.Host.HostException",
                         "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"],
        activity=inv.name,
    )


def _sleep(inv: Invocation, modelled_s: float, activity: str, status: str) -> bool:
    """Wait (lock released) with progress records."""
    steps = 4
    for i in range(steps):
        inv.write_progress(activity, status, int(100 * i / steps))
        if not inv.lab.clock.sleep(modelled_s / steps, lambda: inv.stopping):
            return False
    inv.write_progress(activity, status, 100)
    return True


def _begin(inv: Invocation) -> m7.Exchange2007State:
    inv.lab.tick()
    st = inv.lab.e2007
    st.refresh()
    return st


def _dn(inv: Invocation, *parts: str) -> str:
    dc = ",".join(f"DC={p}" for p in inv.lab.domain.split("."))
    return ",".join(parts) + (
        f",CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN={inv.lab.org_name},"
        f"CN=Microsoft Exchange,CN=Services,CN=Configuration,{dc}")


def _created(inv: Invocation) -> datetime.datetime:
    return inv.lab.clock._start.replace(microsecond=0) - datetime.timedelta(days=400)


def _cluster_unreachable(inv: Invocation, cluster: m7.FailoverCluster, task: str) -> errors.PSError:
    return _invalid(
        inv,
        f"Unable to contact the Cluster service on any node of cluster '{cluster.name}' "
        f"({', '.join(cluster.nodes)}). The cluster must be formed and the Cluster service must be running.",
        task, cluster.name)


def _found_or_error(inv: Invocation, found: Any, identity: Any, task: str, terminating: bool) -> Any:
    """``found`` when it is something; else the not-found error of ``identity``, raised
    (terminating) or written (non-terminating, ``found`` returned as it is)."""
    if not found:
        err = _not_found(inv, text_of(identity) or "", task)
        if terminating:
            raise err
        inv.write_error(err)
    return found


def _resolve_cms(inv: Invocation, st: m7.Exchange2007State, identity: Any, task: str, *,
                 terminating: bool) -> m7.ClusteredMailboxServer | None:
    return _found_or_error(inv, st.clustered_server(text_of(identity) or ""), identity, task, terminating)


# ================================================================ CMS status
def _db_mounted(st: m7.Exchange2007State, db: m7.Database2007) -> bool:
    cms = st.cms[db.server.lower()]
    g = st.storage_group_of(db)
    return (db.mounted and cms.state == "Online" and st.reachable(cms.active_node)
            and g.active_machine.lower() == cms.active_node.lower())


def _cms_status(inv: Invocation, st: m7.Exchange2007State, cms: m7.ClusteredMailboxServer) -> Any:
    operational, failed, in_use = st.replication_host_names(cms)
    state = cms.state
    if state == "Online" and any(not _db_mounted(st, d) and d.mounted for g in cms.storage_groups
                                 for d in g.databases):
        state = "PartiallyOnline"
    return make_object(T_CMS_STATUS, {
        "Identity": cms.name,
        "ClusteredMailboxServerName": f"{cms.name}.{inv.lab.domain}",
        "State": state,
        "OperationalMachines": st.operational_machines(cms),
        "FailedResources": list(cms.failed_resources),
        "OperationalReplicationHostNames": operational,
        "FailedReplicationHostNames": failed,
        "InUseReplicationHostNames": in_use,
        "IsValid": True,
        "ObjectState": "Unchanged",
    }, cms.name)


@_snapin("Get-ClusteredMailboxServerStatus")
def get_clustered_mailbox_server_status(inv: Invocation) -> Iterable[Any]:
    """runbooks §7 (success check), object-properties §9 (shape)."""
    task = f"{SYS}.GetClusteredMailboxServerStatus"
    with inv.lab.lock:
        st = _begin(inv)
        if inv.has("Identity"):
            cms = _resolve_cms(inv, st, inv.get("Identity"), task, terminating=False)
        else:
            cl = st.cluster_of_node(inv.host.name)
            cms = st.cms_on_cluster(cl) if cl else None
            if cms is None:
                inv.write_error(_invalid(inv, f"No clustered mailbox server is installed on '{inv.host.name}'. "
                                              "Specify the Identity parameter.", task))
        if cms is None:
            return []
        cl = st.clusters[cms.cluster.lower()]
        if not st.cluster_up(cl):
            inv.write_error(_cluster_unreachable(inv, cl, task))
            return []
        return [_cms_status(inv, st, cms)]


# ==================================================================== move
def _unhealthy_copies(st: m7.Exchange2007State, cms: m7.ClusteredMailboxServer, ignore_dismounted: bool) -> list[str]:
    out = []
    for g in cms.storage_groups:
        if ignore_dismounted and not any(_db_mounted(st, d) for d in g.databases):
            continue
        c = g.ccr_copy()
        status = "Disabled" if c is None else st.copy_status(g, c)
        if status != "Healthy":
            out.append(f"{g.identity} ({status})")
    return out


@_snapin("Move-ClusteredMailboxServer", rbac=WRITE)
def move_clustered_mailbox_server(inv: Invocation) -> None:
    """runbooks §7: handoff to the passive node; refused when replication is unhealthy."""
    task = f"{SYS}.MoveClusteredMailboxServer"
    with inv.lab.lock:
        st = _begin(inv)
        cms = _resolve_cms(inv, st, inv.get("Identity"), task, terminating=True)
        cl = st.clusters[cms.cluster.lower()]
        if not st.cluster_up(cl):
            raise _cluster_unreachable(inv, cl, task)
        target = st.node_name(str(inv.get("TargetMachine")))
        if target is None or target not in cl.nodes:
            raise _argument(inv, f"'{inv.get('TargetMachine')}' is not a node of cluster '{cl.name}'. The target "
                                 "machine must be a member of the cluster.", task, str(inv.get("TargetMachine")))
        if target.lower() not in [m.lower() for m in cms.redundant_machines]:
            raise _argument(inv, f"'{target}' is not in the list of redundant machines of '{cms.name}' "
                                 f"({', '.join(cms.redundant_machines)}).", task, target)
        if cms.state != "Online":
            raise _invalid(inv, f"The clustered mailbox server '{cms.name}' is not running. Use "
                                "Start-ClusteredMailboxServer to start it.", task, cms.name)
        if target.lower() == cms.active_node.lower():
            raise _invalid(inv, f"The clustered mailbox server '{cms.name}' is already running on '{target}'. "
                                "The target machine cannot be running a clustered mailbox server.", task, target)
        if not st.reachable(target):
            raise _invalid(inv, f"The target machine '{target}' is not available (the cluster node is down).",
                           task, target)
        bad = _unhealthy_copies(st, cms, bool(inv.get("IgnoreDismounted")))
        if bad:
            raise _invalid(
                inv,
                f"The clustered mailbox server '{cms.name}' cannot be moved to '{target}' because replication is not "
                f"healthy for: {', '.join(bad)}. Resolve the replication problem (Get-StorageGroupCopyStatus) or "
                "use IgnoreDismounted for storage groups whose databases are dismounted.", task, cms.name)
        if inv.get("ValidateOnly"):
            return None
        _write_guard(inv, task)
        _confirm(inv, "Move-ClusteredMailboxServer", f"Moving clustered mailbox server \"{cms.name}\" to \"{target}\".",
                 built_in=True)
        source = cms.active_node
    started = inv.lab.clock.now()
    _sleep(inv, m7.CMS_MOVE_S, "Move-ClusteredMailboxServer", f"Moving {cms.name} to {target}")
    with inv.lab.lock:
        st = _begin(inv)
        if cms.active_node.lower() != source.lower() or not st.reachable(target):
            raise _invalid(inv, f"The move of '{cms.name}' to '{target}' did not complete: the cluster state changed "
                                "during the move.", task, cms.name)
        st.switch_active_node(cms, target)
        secs = int((inv.lab.clock.now() - started).total_seconds())
        st.write_event(target, "Application", "MSExchangeRepl", 100, "Information", "Action",
                       f"The clustered mailbox server '{cms.name}' was moved from '{source}' to '{target}'. "
                       f"The handoff took {secs} seconds. Move comment: {inv.get('MoveComment')}")
    return None


# ============================================================== start/stop
@_snapin("Stop-ClusteredMailboxServer", rbac=WRITE)
def stop_clustered_mailbox_server(inv: Invocation) -> None:
    """runbooks §7/§8 step 1: shut the CMS down without moving it (stays down until
    Start-ClusteredMailboxServer)."""
    task = f"{SYS}.StopClusteredMailboxServer"
    with inv.lab.lock:
        st = _begin(inv)
        cms = _resolve_cms(inv, st, inv.get("Identity"), task, terminating=True)
        cl = st.clusters[cms.cluster.lower()]
        if not st.cluster_up(cl):
            raise _cluster_unreachable(inv, cl, task)
        if cms.state != "Online":
            raise _invalid(inv, f"The clustered mailbox server '{cms.name}' is not running (State: {cms.state}).",
                           task, cms.name)
        _write_guard(inv, task)
        _confirm(inv, "Stop-ClusteredMailboxServer", f"Stopping clustered mailbox server \"{cms.name}\".",
                 built_in=True)
    _sleep(inv, m7.CMS_STOP_S, "Stop-ClusteredMailboxServer", f"Stopping {cms.name}")
    with inv.lab.lock:
        cms.state = "Offline"
        cms.stop_reason = str(inv.get("StopReason"))
    return None


@_snapin("Start-ClusteredMailboxServer", rbac=WRITE)
def start_clustered_mailbox_server(inv: Invocation) -> None:
    """Start a CMS stopped by Stop-ClusteredMailboxServer: on its last active node, else on
    the first available redundant machine."""
    task = f"{SYS}.StartClusteredMailboxServer"
    with inv.lab.lock:
        st = _begin(inv)
        cms = _resolve_cms(inv, st, inv.get("Identity"), task, terminating=True)
        cl = st.clusters[cms.cluster.lower()]
        if not st.cluster_up(cl):
            raise _cluster_unreachable(inv, cl, task)
        if cms.state == "Online":
            raise _invalid(inv, f"The clustered mailbox server '{cms.name}' is already running on "
                                f"'{cms.active_node}'.", task, cms.name)
        node = cms.active_node if st.reachable(cms.active_node) else next(
            (n for n in cms.redundant_machines if st.reachable(n)), None)
        if node is None:
            raise _invalid(inv, f"None of the redundant machines of '{cms.name}' is available.", task, cms.name)
        _write_guard(inv, task)
        _confirm(inv, "Start-ClusteredMailboxServer", f"Starting clustered mailbox server \"{cms.name}\".",
                 built_in=True)
    _sleep(inv, m7.CMS_START_S, "Start-ClusteredMailboxServer", f"Starting {cms.name}")
    with inv.lab.lock:
        st = _begin(inv)
        if node.lower() != cms.active_node.lower():
            st.switch_active_node(cms, node)
        cms.state = "Online"
        cms.stop_reason = None
    return None


# ======================================== continuous replication host names
def _scr_refusal(inv: Invocation, machine: str, cms: m7.ClusteredMailboxServer | None, task: str) -> errors.PSError:
    source = f" of '{cms.name}'" if cms else ""
    return _invalid(
        inv,
        f"'{machine}' is a standby continuous replication (SCR) target{source}. Continuous replication host names "
        "are supported only for cluster continuous replication (CCR) between the nodes of a clustered mailbox "
        "server's cluster; standby continuous replication does not support them.", task, machine)


def _scr_sources_of(st: m7.Exchange2007State, machine: str) -> list[m7.ClusteredMailboxServer]:
    return [m for m in st.cms.values() if any(g.scr_copy(machine) for g in m.storage_groups)]


def _network_name_failed(inv: Invocation, name: str, group: str) -> str:
    """Tim McMichael's setup error text (runbooks §8 "Failure symptom")."""
    return (f"Cluster Common Failure Exception: Failed to bring cluster resource Network name ({name}) in cluster "
            f"group {group} online.The group or resource is not in the correct state to perform the requested "
            "operation. (Exception from HRESULT:0x8007139f)")


def _log_cno_failure(st: m7.Exchange2007State, node: str, resource: str, cluster: str) -> None:
    """Failover clustering event 1193 in the node's System log: the three causes of seed
    000 Q1 (text of RES_NETNAME_ADD_COMPUTER_ACCOUNT_FAILED_STATUS, Windows Server docs)."""
    lab = st.lab
    cno = f"{cluster.upper()}$"
    st.write_event(
        node, "System", "Microsoft-Windows-FailoverClustering", 1193, "Error", "Network Name Resource",
        f"Cluster network name resource '{resource}' failed to create its associated computer object in domain "
        f"'{lab.domain}' for the following reason: Unable to update password for computer account.\n\n"
        "The associated error code is: 5\n\n"
        "Please work with your domain administrator to ensure that:\n"
        f"- The cluster identity '{cno}' can create computer objects. By default all computer objects are created "
        "in the 'Computers' container; consult the domain administrator if this location has been changed.\n"
        "- The quota for computer objects has not been reached.\n"
        f"- If there is an existing computer object, verify the Cluster Identity '{cno}' has 'Full Control' "
        "permission to that computer object using the Active Directory Users and Computers tool.")


def _in_site(inv: Invocation, ip: str, host: str) -> bool:
    h = inv.lab.host(host)
    site = inv.lab.sites.get(h.site.lower()) if h else None
    subnets = (site or {}).get("subnets") or []
    return not subnets or any(ipaddress.ip_address(ip) in ipaddress.ip_network(s) for s in subnets)


def _name_taken(inv: Invocation, st: m7.Exchange2007State, name: str) -> bool:
    low = name.lower()
    return (inv.lab.host(name) is not None or low in st.clusters or low in st.cms
            or any(h.name.lower() == low for m in st.cms.values() for h in m.host_names))


def _ip_taken(inv: Invocation, st: m7.Exchange2007State, ip: str) -> bool:
    used = {inv.lab.host_ip(h.name) for h in inv.lab.hosts}
    used |= {c.ip for c in st.clusters.values()} | {m.ip for m in st.cms.values()}
    used |= {h.ip for m in st.cms.values() for h in m.host_names}
    return ip in used


@_snapin("Enable-ContinuousReplicationHostName", rbac=WRITE)
def enable_continuous_replication_host_name(inv: Invocation) -> None:
    """runbooks §12.1: CCR only (seed 000 Q3: not supported with SCR); creates a network
    name, so the cluster's CNO needs rights on its computer object (§10.1)."""
    task = f"{SYS}.EnableContinuousReplicationHostName"
    with inv.lab.lock:
        st = _begin(inv)
        machine_arg = str(inv.get("TargetMachine"))
        machine = st.node_name(machine_arg)
        scr_sources = _scr_sources_of(st, machine_arg.split(".", 1)[0])
        cms: m7.ClusteredMailboxServer | None = None
        if inv.has("Identity"):
            ident = text_of(inv.get("Identity")) or ""
            cms = st.clustered_server(ident)
            if cms is None:
                node = st.node_name(ident)
                if node is not None:
                    cl = st.cluster_of_node(node)
                    cms = st.cms_on_cluster(cl) if cl else None
                    if cms is None and (_scr_sources_of(st, node) or cl.standby):
                        raise _scr_refusal(inv, node, (_scr_sources_of(st, node) or [None])[0], task)
                if cms is None:
                    raise _not_found(inv, ident, task)
        elif machine is not None:
            cl = st.cluster_of_node(machine)
            cms = st.cms_on_cluster(cl) if cl else None
            if cms is None:
                if scr_sources or (cl and cl.standby):
                    raise _scr_refusal(inv, machine, (scr_sources or [None])[0], task)
                raise _invalid(inv, f"No clustered mailbox server runs on the cluster of '{machine}'.", task, machine)
        else:
            raise _not_found(inv, machine_arg, task)
        cl = st.clusters[cms.cluster.lower()]
        if machine is None or machine not in cl.nodes:
            if scr_sources or (machine and st.cluster_of_node(machine) and st.cluster_of_node(machine).standby):
                raise _scr_refusal(inv, machine or machine_arg, cms if cms in scr_sources else None, task)
            raise _argument(inv, f"'{machine_arg}' is not a node of cluster '{cl.name}' of clustered mailbox server "
                                 f"'{cms.name}'.", task, machine_arg)
        host_name = str(inv.get("HostName")).split(".", 1)[0]
        if not m7._NAME_RE.match(host_name):
            raise _argument(inv, f"'{host_name}' is not a valid host name (1-15 letters, digits or '-').", task,
                            host_name)
        if _name_taken(inv, st, host_name):
            raise _argument(inv, f"The host name '{host_name}' is already in use.", task, host_name)
        try:
            ip = str(ipaddress.IPv4Address(str(inv.get("IPv4Address"))))
        except ValueError:
            raise _argument(inv, f"'{inv.get('IPv4Address')}' is not a valid IPv4 address.", task) from None
        if _ip_taken(inv, st, ip):
            raise _argument(inv, f"The IP address {ip} is already in use.", task, ip)
        if not _in_site(inv, ip, machine):
            raise _argument(inv, f"The IP address {ip} is not on a network of node '{machine}'.", task, ip)
        if not st.reachable(machine):
            raise _invalid(inv, f"The node '{machine}' is not available.", task, machine)
        _write_guard(inv, task)
        _confirm(inv, "Enable-ContinuousReplicationHostName",
                 f"Enabling continuous replication host name \"{host_name}\" on \"{machine}\".", built_in=False)
    _sleep(inv, m7.REPLICATION_HOST_NAME_S, "Enable-ContinuousReplicationHostName", f"Creating {host_name}")
    with inv.lab.lock:
        st = _begin(inv)
        w = inv.lab.windows
        existing = w.find_object(f"{host_name}$", object_class="computer")
        if existing is not None and not st.has_full_control(cl.name, existing):
            _log_cno_failure(st, machine, f"Network Name ({host_name})", cl.name)
            raise _invalid(inv, _network_name_failed(inv, host_name, cms.name), task, host_name)
        if existing is None:
            from ..model.windows import Ace

            comp = w.new_computer(host_name.upper(), attrs={"DNSHostName": f"{host_name.lower()}.{inv.lab.domain}"})
            cno = st.cno(cl.name)
            comp.aces.insert(0, Ace(w.display_name(cno), cno.sid, ["GenericAll"], inheritance="All"))
        cms.host_names.append(m7.ReplicationHostName(host_name, machine, ip))
    return None


@_snapin("Disable-ContinuousReplicationHostName", rbac=WRITE)
def disable_continuous_replication_host_name(inv: Invocation) -> None:
    task = f"{SYS}.DisableContinuousReplicationHostName"
    with inv.lab.lock:
        st = _begin(inv)
        cms = _resolve_cms(inv, st, inv.get("Identity"), task, terminating=True)
        name = str(inv.get("HostName")).split(".", 1)[0]
        hn = next((h for h in cms.host_names if h.name.lower() == name.lower()), None)
        if hn is None:
            raise _argument(inv, f"'{name}' is not a continuous replication host name of '{cms.name}'.", task, name)
        _write_guard(inv, task)
        _confirm(inv, "Disable-ContinuousReplicationHostName",
                 f"Disabling continuous replication host name \"{hn.name}\".", built_in=True)
    _sleep(inv, m7.REPLICATION_HOST_NAME_S, "Disable-ContinuousReplicationHostName", f"Removing {hn.name}")
    with inv.lab.lock:
        if hn in cms.host_names:
            cms.host_names.remove(hn)
    return None


# ====================================================== storage group copies
def _log_numbers(st: m7.Exchange2007State, g: m7.StorageGroup2007, c: m7.SgCopy) -> dict[str, int]:
    gen = g.log_generation
    copied = max(0, gen - c.copy_queue)
    return {"generated": gen, "copied": copied, "replayed": max(0, copied - c.replay_queue)}


def _copy_status_object(inv: Invocation, st: m7.Exchange2007State, g: m7.StorageGroup2007,
                        c: m7.SgCopy | None, dumpster: bool) -> Any:
    now = inv.lab.clock.now()
    if c is None:
        status, copy_q, replay_q, nums = "Disabled", 0, 0, {"generated": 0, "copied": 0, "replayed": 0}
        suspend, comment, failed_msg, seeding = False, None, None, False
    else:
        status = st.copy_status(g, c)
        copy_q, replay_q, nums = c.copy_queue, c.replay_queue, _log_numbers(st, g, c)
        suspend, comment = c.status == "Suspended", c.suspend_comment
        failed_msg, seeding = c.failed_message, c.status == "Seeding"
    lag = datetime.timedelta(seconds=c.replay_lag_s if c else 0)
    return make_object(T_SG_COPY_STATUS, {
        "Identity": g.identity,
        "StorageGroupName": g.name,
        "SummaryCopyStatus": status,
        "Failed": status == "Failed",
        "FailedMessage": failed_msg,
        "Seeding": seeding,
        "Suspend": suspend,
        "SuspendComment": comment,
        "CopyQueueLength": copy_q,
        "ReplayQueueLength": replay_q,
        "LatestAvailableLogTime": now,
        "LastCopyNotificationedLogTime": now,
        "LastCopiedLogTime": now,
        "LastInspectedLogTime": now,
        "LastReplayedLogTime": now - lag,
        "LastLogGenerated": nums["generated"],
        "LastLogCopyNotified": nums["copied"],
        "LastLogCopied": nums["copied"],
        "LastLogInspected": nums["copied"],
        "LastLogReplayed": nums["replayed"],
        "LatestFullBackupTime": None,
        "LatestIncrementalBackupTime": None,
        "SnapshotBackup": None,
        "DumpsterStatistics": [] if dumpster else None,
        "DumpsterServersNotAvailable": None,
        "OutstandingDumpsterRequests": [],
        "IsValid": True,
        "ObjectState": "Unchanged",
    }, g.name)


def _resolve_sg(inv: Invocation, st: m7.Exchange2007State, identity: Any, task: str, *,
                terminating: bool) -> m7.StorageGroup2007 | None:
    return _found_or_error(inv, st.storage_group(text_of(identity) or ""), identity, task, terminating)


def _not_scr(inv: Invocation, g: m7.StorageGroup2007, machine: str, task: str) -> errors.PSError:
    return _invalid(inv, f"Standby continuous replication is not enabled for storage group '{g.identity}' on "
                         f"'{machine}'.", task, g.identity)


def _copy_for(inv: Invocation, st: m7.Exchange2007State, g: m7.StorageGroup2007, task: str, *,
              terminating: bool) -> m7.SgCopy | None:
    """The copy a command names: ``-StandbyMachine`` -> that SCR copy, else the CCR copy."""
    machine = inv.get("StandbyMachine")
    if machine:
        c = g.scr_copy(str(machine).split(".", 1)[0])
        if c is None:
            err = _not_scr(inv, g, str(machine), task)
            if terminating:
                raise err
            inv.write_error(err)
        return c
    c = g.ccr_copy()
    if c is None and terminating:
        raise _invalid(inv, f"Storage group '{g.identity}' has no continuous replication copy.", task, g.identity)
    return c


@_snapin("Get-StorageGroupCopyStatus")
def get_storage_group_copy_status(inv: Invocation) -> Iterable[Any]:
    """object-properties §2 (2007 equivalent): CCR copy, or the SCR copy on
    ``-StandbyMachine``."""
    task = f"{SYS}.GetStorageGroupCopyStatus"
    with inv.lab.lock:
        st = _begin(inv)
        if inv.has("Identity"):
            g = _resolve_sg(inv, st, inv.get("Identity"), task, terminating=False)
            groups = [g] if g else []
        elif inv.has("Server"):
            cms = _resolve_cms(inv, st, inv.get("Server"), task, terminating=False)
            groups = list(cms.storage_groups) if cms else []
        else:
            cl = st.cluster_of_node(inv.host.name)
            cms = st.cms_on_cluster(cl) if cl else None
            groups = list(cms.storage_groups) if cms else []
            if not groups and inv.get("StandbyMachine"):
                groups = [g for m in st.cms.values() for g in m.storage_groups]
        out = []
        for g in groups:
            if inv.get("StandbyMachine"):
                c = _copy_for(inv, st, g, task, terminating=False)
                if c is None:
                    continue
            else:
                c = g.ccr_copy()
            out.append(_copy_status_object(inv, st, g, c, bool(inv.get("DumpsterStatistics"))))
        return out


@_snapin("Restore-StorageGroupCopy", rbac=WRITE)
def restore_storage_group_copy(inv: Invocation) -> Iterable[Any]:
    """runbooks §8 step 2 / §9 step 1: make the SCR copy mountable and end replication to
    it.  When the source is not available the remaining logs are lost: without -Force the
    task asks whether to continue (a remote session can't answer); with -Force it warns."""
    task = f"{SYS}.RestoreStorageGroupCopy"
    with inv.lab.lock:
        st = _begin(inv)
        g = _resolve_sg(inv, st, inv.get("Identity"), task, terminating=True)
        if not inv.get("StandbyMachine"):
            raise lab_not_supported(inv, "Restore-StorageGroupCopy of a CCR copy is not modelled; move the clustered "
                                         "mailbox server with Move-ClusteredMailboxServer.")
        if inv.get("ReplaceLocations"):
            raise lab_not_supported(inv, "ReplaceLocations (LCR) is not modelled.")
        c = _copy_for(inv, st, g, task, terminating=True)
        if not st.reachable(c.machine):
            raise _invalid(inv, f"The standby machine '{c.machine}' is not available.", task, c.machine)
        cms = st.cms[g.server.lower()]
        force = bool(inv.get("Force"))
        _write_guard(inv, task)
        if not force:
            _confirm(inv, "Restore-StorageGroupCopy", f"Restoring storage group copy \"{g.identity}\" on "
                                                       f"\"{c.machine}\".", built_in=True)
        lost = 0
        if not c.restored:
            if not st.source_available(cms):
                if not force:
                    raise _should_continue(
                        inv, f"The source of storage group '{g.identity}' is not available. Log files that were not "
                             f"copied to '{c.machine}' can't be copied and will be lost. Do you want to continue?")
                lost = c.copy_queue
        replay = c.replay_queue
    if not c.restored:
        _sleep(inv, m7.RESTORE_SG_COPY_S + replay / m7.REPLAY_LOGS_PER_S, "Restore-StorageGroupCopy",
               f"Activating the copy of {g.identity} on {c.machine}")
    with inv.lab.lock:
        st = _begin(inv)
        if not c.restored:
            if st.source_available(cms):
                c.copy_queue = 0
            else:
                inv.write_warning(
                    f"The source server for storage group '{g.identity}' is not available. The transaction logs that "
                    f"were not copied to '{c.machine}' could not be copied ({lost} log files); data loss is expected "
                    "for this storage group.")
            g.log_generation = max(0, g.log_generation - c.copy_queue)
            c.copy_queue = 0
            c.replay_queue = 0
            c.restored = True
            c.status = "Disabled"
            c.last_change = inv.lab.clock.now()
            if cms.active_node.lower() == c.machine.lower():
                g.active_machine = c.machine
        nums = _log_numbers(st, g, c)
        now = inv.lab.clock.now()
        return [make_object(T_RESTORE_RESULT, {
            "Identity": g.identity,
            "StorageGroupName": g.name,
            "LastLogGenerated": nums["generated"],
            "LastLogInspected": nums["copied"],
            "LatestAvailableLogTime": now,
            "LastInspectedLogTime": now,
            "IsValid": True,
            "ObjectState": "Unchanged",
        }, g.identity)]


def _lag(inv: Invocation, name: str, task: str) -> float | None:
    if not inv.has(name):
        return None
    td = timespan(inv.get(name))
    if td is None or td.total_seconds() < 0 or td.total_seconds() > m7.MAX_LAG_S:
        raise _argument(inv, f"The value of parameter {name} must be between 00:00:00 and 7.00:00:00.", task)
    return td.total_seconds()


@_snapin("Enable-StorageGroupCopy", rbac=WRITE)
def enable_storage_group_copy(inv: Invocation) -> None:
    """SCR: a copy on a standby machine (runbooks §8 step 7).  Lags are set only here: to
    change them, disable and enable again."""
    task = f"{SYS}.EnableStorageGroupCopy"
    with inv.lab.lock:
        st = _begin(inv)
        g = _resolve_sg(inv, st, inv.get("Identity"), task, terminating=True)
        cms = st.cms[g.server.lower()]
        if not inv.get("StandbyMachine"):
            raise _invalid(inv, f"Storage group '{g.identity}' is on a clustered mailbox server; its cluster "
                                "continuous replication copy is always enabled (local continuous replication is "
                                "not available on a clustered mailbox server).", task, g.identity)
        machine = str(inv.get("StandbyMachine")).split(".", 1)[0]
        if not st.is_2007_host(machine) or "Mailbox" not in st.host_roles(inv.lab.host(machine).name):
            raise _argument(inv, f"'{machine}' is not an Exchange 2007 server with the Mailbox server role.", task,
                            machine)
        machine = inv.lab.host(machine).name
        if machine in st.clusters[cms.cluster.lower()].nodes:
            raise _argument(inv, f"'{machine}' is a node of the clustered mailbox server's own cluster.", task, machine)
        if g.scr_copy(machine) is not None:
            raise _invalid(inv, f"Standby continuous replication is already enabled for '{g.identity}' on "
                                f"'{machine}'.", task, g.identity)
        replay = _lag(inv, "ReplayLagTime", task)
        trunc = _lag(inv, "TruncationLagTime", task)
        if not st.reachable(machine):
            raise _invalid(inv, f"The standby machine '{machine}' is not available.", task, machine)
        _write_guard(inv, task)
        _confirm(inv, "Enable-StorageGroupCopy", f"Enabling standby continuous replication of \"{g.identity}\" to "
                                                 f"\"{machine}\".", built_in=False)
        replay = 86400.0 if replay is None else replay
        c = m7.SgCopy(machine, "scr", replay_lag_s=replay, truncation_lag_s=trunc or 0.0,
                      replay_queue=m7.scr_replay_backlog(replay), last_change=inv.lab.clock.now())
        g.copies.append(c)
        if inv.get("SeedingPostponed"):
            c.status = "Suspended"
            c.seeded = False
            c.suspend_comment = "Seeding postponed by the administrator."
        else:
            st.settle(g, c)
    return None


@_snapin("Disable-StorageGroupCopy", rbac=WRITE)
def disable_storage_group_copy(inv: Invocation) -> None:
    task = f"{SYS}.DisableStorageGroupCopy"
    with inv.lab.lock:
        st = _begin(inv)
        g = _resolve_sg(inv, st, inv.get("Identity"), task, terminating=True)
        if not inv.get("StandbyMachine"):
            raise _invalid(inv, f"The cluster continuous replication copy of '{g.identity}' cannot be disabled.",
                           task, g.identity)
        c = _copy_for(inv, st, g, task, terminating=True)
        _write_guard(inv, task)
        _confirm(inv, "Disable-StorageGroupCopy", f"Disabling standby continuous replication of \"{g.identity}\" to "
                                                  f"\"{c.machine}\".", built_in=True)
        g.copies.remove(c)
    return None


@_snapin("Suspend-StorageGroupCopy", rbac=WRITE)
def suspend_storage_group_copy(inv: Invocation) -> None:
    """Already suspended: no error (the page says so)."""
    task = f"{SYS}.SuspendStorageGroupCopy"
    with inv.lab.lock:
        st = _begin(inv)
        g = _resolve_sg(inv, st, inv.get("Identity"), task, terminating=True)
        c = _copy_for(inv, st, g, task, terminating=True)
        if not st.reachable(c.machine):
            raise _invalid(inv, f"The Microsoft Exchange Replication service on '{c.machine}' could not be contacted.",
                           task, c.machine)
        if c.restored:
            raise _invalid(inv, f"The copy of '{g.identity}' on '{c.machine}' was restored; replication to it has "
                                "ended.", task, g.identity)
        _write_guard(inv, task)
        _confirm(inv, "Suspend-StorageGroupCopy", f"Suspending replication of \"{g.identity}\" to \"{c.machine}\".",
                 built_in=True)
        if c.status != "Suspended":
            c.status = "Suspended"
            c.last_change = inv.lab.clock.now()
        if inv.has("SuspendComment"):
            c.suspend_comment = str(inv.get("SuspendComment"))
    return None


@_snapin("Resume-StorageGroupCopy", rbac=WRITE)
def resume_storage_group_copy(inv: Invocation) -> None:
    task = f"{SYS}.ResumeStorageGroupCopy"
    with inv.lab.lock:
        st = _begin(inv)
        g = _resolve_sg(inv, st, inv.get("Identity"), task, terminating=True)
        c = _copy_for(inv, st, g, task, terminating=True)
        if not st.reachable(c.machine):
            raise _invalid(inv, f"The Microsoft Exchange Replication service on '{c.machine}' could not be contacted.",
                           task, c.machine)
        if not c.seeded:
            raise _invalid(inv, f"The copy of '{g.identity}' on '{c.machine}' has no database; seed it with "
                                "Update-StorageGroupCopy.", task, g.identity)
        _write_guard(inv, task)
        _confirm(inv, "Resume-StorageGroupCopy", f"Resuming replication of \"{g.identity}\" to \"{c.machine}\".",
                 built_in=False)
        if c.status == "Suspended":
            c.suspend_comment = None
            st.settle(g, c)
    return None


@_snapin("Update-StorageGroupCopy", rbac=WRITE)
def update_storage_group_copy(inv: Invocation) -> None:
    """Seed a suspended copy from the active copy (runbooks §8 step 7; the copy must be
    suspended first).  Existing files need -DeleteExistingFiles."""
    task = f"{SYS}.UpdateStorageGroupCopy"
    with inv.lab.lock:
        st = _begin(inv)
        g = _resolve_sg(inv, st, inv.get("Identity"), task, terminating=True)
        c = _copy_for(inv, st, g, task, terminating=True)
        cms = st.cms[g.server.lower()]
        if c.status != "Suspended":
            raise _invalid(inv, f"The copy of '{g.identity}' on '{c.machine}' must be suspended before it can be "
                                f"seeded (SummaryCopyStatus: {st.copy_status(g, c)}). Run Suspend-StorageGroupCopy "
                                "first.", task, g.identity)
        if not st.source_available(cms) or g.active_machine.lower() != cms.active_node.lower():
            raise _invalid(inv, f"The source of storage group '{g.identity}' is not available for seeding.", task,
                           g.identity)
        if not st.reachable(c.machine):
            raise _invalid(inv, f"The target machine '{c.machine}' is not available.", task, c.machine)
        if c.seeded and not inv.get("DeleteExistingFiles"):
            raise _invalid(inv, f"Database or log files of '{g.identity}' already exist on '{c.machine}'. Use the "
                                "DeleteExistingFiles parameter to remove them.", task, g.identity)
        hosts = texts_of(inv.get("DataHostNames"))
        if hosts:
            if c.kind != "ccr":
                raise _argument(inv, "DataHostNames applies to cluster continuous replication copies only.", task)
            known = [n.lower() for n in cms.redundant_machines] + [h.name.lower() for h in cms.host_names]
            bad = [h for h in hosts if h.split(".", 1)[0].lower() not in known]
            if len(hosts) > 2 or bad:
                raise _argument(inv, "DataHostNames takes at most two continuous replication host names of the "
                                     f"cluster; not valid: {', '.join(bad) or ', '.join(hosts)}.", task)
        _write_guard(inv, task)
        _confirm(inv, "Update-StorageGroupCopy", f"Seeding \"{g.identity}\" on \"{c.machine}\".", built_in=True,
                 force=bool(inv.get("Force")))
        c.status = "Seeding"
        c.seeding = True
    _sleep(inv, m7.SEED_SG_S, "Update-StorageGroupCopy", f"Seeding {g.identity} on {c.machine}")
    with inv.lab.lock:
        st = _begin(inv)
        c.seeding = False
        c.seeded = True
        c.failed_message = None
        c.copy_queue = 0
        c.replay_queue = m7.scr_replay_backlog(c.replay_lag_s) if c.kind == "scr" else 0
        if inv.get("ManualResume"):
            c.status = "Suspended"
            c.suspend_comment = None
        else:
            c.suspend_comment = None
            st.settle(g, c)
    return None


@_snapin("Get-StorageGroup")
def get_storage_group(inv: Invocation) -> Iterable[Any]:
    """Storage groups; ``StandbyMachines`` lists the SCR targets with their lags (layout
    unconfirmed, object-properties §1)."""
    task = f"{SYS}.GetStorageGroup"
    with inv.lab.lock:
        st = _begin(inv)
        if inv.has("Identity"):
            g = _resolve_sg(inv, st, inv.get("Identity"), task, terminating=False)
            groups = [g] if g else []
        elif inv.has("Server"):
            cms = _resolve_cms(inv, st, inv.get("Server"), task, terminating=False)
            groups = list(cms.storage_groups) if cms else []
        else:
            groups = [g for m in st.cms.values() for g in m.storage_groups]
        out = []
        for g in groups:
            standby = [make_object(["Microsoft.Exchange.Data.Directory.SystemConfiguration.StandbyMachineEntry"], {
                "NodeName": c.machine,
                "ReplayLagTime": datetime.timedelta(seconds=c.replay_lag_s),
                "TruncationLagTime": datetime.timedelta(seconds=c.truncation_lag_s),
            }, c.machine) for c in g.scr_copies() if not c.restored]
            out.append(make_object(T_STORAGE_GROUP, {
                "Name": g.name,
                "Server": g.server,
                "ServerName": g.server,
                "LogFolderPath": g.log_path,
                "SystemFolderPath": g.system_path,
                "LogFilePrefix": g.log_prefix,
                "CircularLoggingEnabled": False,
                "HasLocalCopy": False,
                "CopyLogFolderPath": None,
                "CopySystemFolderPath": None,
                "StandbyMachines": standby,
                "Recovery": False,
                "ExchangeVersion": EXCHANGE_VERSION_2007,
                "DistinguishedName": _dn(inv, f"CN={g.name}", "CN=InformationStore", f"CN={g.server}", "CN=Servers"),
                "Identity": g.identity,
                "Guid": g.guid,
                "IsValid": True,
                "ObjectState": "Unchanged",
            }, g.identity))
        return out


# ================================================================ databases
def _database_object(inv: Invocation, st: m7.Exchange2007State, db: m7.Database2007, status: bool) -> Any:
    g = st.storage_group_of(db)
    return make_object(T_MAILBOX_DATABASE, {
        "Name": db.name,
        "Server": db.server,
        "ServerName": db.server,
        "StorageGroup": g.identity,
        "StorageGroupName": g.name,
        "EdbFilePath": db.edb_path,
        "LogFolderPath": g.log_path,
        "AllowFileRestore": db.allow_file_restore,
        "MountAtStartup": True,
        "Recovery": False,
        "Mounted": _db_mounted(st, db) if status else None,
        "BackupInProgress": False if status else None,
        "OnlineMaintenanceInProgress": False if status else None,
        "ExchangeVersion": EXCHANGE_VERSION_2007,
        "DistinguishedName": _dn(inv, f"CN={db.name}", f"CN={g.name}", "CN=InformationStore", f"CN={db.server}",
                                 "CN=Servers"),
        "Identity": db.identity,
        "Guid": db.guid,
        "IsValid": True,
        "ObjectState": "Unchanged",
    }, db.identity)


def _resolve_db(inv: Invocation, st: m7.Exchange2007State, identity: Any, task: str, *,
                terminating: bool) -> m7.Database2007 | None:
    return _found_or_error(inv, st.database(text_of(identity) or ""), identity, task, terminating)


@_snapin("Get-MailboxDatabase", variant=True)
def get_mailbox_database(inv: Invocation) -> Iterable[Any]:
    task = f"{SYS}.GetMailboxDatabase"
    status = bool(inv.get("Status"))
    with inv.lab.lock:
        st = _begin(inv)
        if inv.has("Identity"):
            db = _resolve_db(inv, st, inv.get("Identity"), task, terminating=False)
            dbs = [db] if db else []
        elif inv.has("Server"):
            cms = _resolve_cms(inv, st, inv.get("Server"), task, terminating=False)
            dbs = [d for g in cms.storage_groups for d in g.databases] if cms else []
        elif inv.has("StorageGroup"):
            g = _resolve_sg(inv, st, inv.get("StorageGroup"), task, terminating=False)
            dbs = list(g.databases) if g else []
        else:
            dbs = [d for m in st.cms.values() for g in m.storage_groups for d in g.databases]
        return [_database_object(inv, st, d, status) for d in dbs]


@_snapin("Mount-Database", rbac=WRITE, variant=True)
def mount_database(inv: Invocation) -> None:
    """Mount a database of a running CMS whose storage group's files are on the active
    node (after /RecoverCMS: the storage groups restored there, runbooks §8 step 5)."""
    task = f"{SYS}.MountDatabase"
    with inv.lab.lock:
        st = _begin(inv)
        db = _resolve_db(inv, st, inv.get("Identity"), task, terminating=True)
        cms = st.cms[db.server.lower()]
        g = st.storage_group_of(db)
        if _db_mounted(st, db):
            return None
        if cms.state != "Online" or not st.reachable(cms.active_node):
            raise _invalid(inv, f"Couldn't mount the database that you specified. Specified database: {db.identity}; "
                                f"Error code: The clustered mailbox server '{cms.name}' is not running.", task,
                           db.identity)
        if g.active_machine.lower() != cms.active_node.lower():
            raise _invalid(inv, f"Couldn't mount the database that you specified. Specified database: {db.identity}; "
                                f"Error code: The database files of storage group '{g.identity}' are not on "
                                f"'{cms.active_node}' (restore the storage group copy there first).", task,
                           db.identity)
        _write_guard(inv, task)
        _confirm(inv, "Mount-Database", f"Mounting database \"{db.identity}\".", built_in=False)
    _sleep(inv, durations.MOUNT_S, "Mount-Database", f"Mounting {db.identity}")
    with inv.lab.lock:
        db.mounted = True
    return None


@_snapin("Dismount-Database", rbac=WRITE, variant=True)
def dismount_database(inv: Invocation) -> None:
    task = f"{SYS}.DismountDatabase"
    with inv.lab.lock:
        st = _begin(inv)
        db = _resolve_db(inv, st, inv.get("Identity"), task, terminating=True)
        if not _db_mounted(st, db):
            db.mounted = False
            return None
        _write_guard(inv, task)
        _confirm(inv, "Dismount-Database", f"Dismounting database \"{db.identity}\".", built_in=True)
    _sleep(inv, durations.DISMOUNT_S, "Dismount-Database", f"Dismounting {db.identity}")
    with inv.lab.lock:
        db.mounted = False
    return None


# ================================================================ mailboxes
def _mailbox_object(inv: Invocation, mb: m7.Mailbox2007) -> Any:
    lab = inv.lab
    dc = ",".join(f"DC={p}" for p in lab.domain.split("."))
    return make_object(T_MAILBOX, {
        "Name": mb.name,
        "Alias": mb.alias,
        "DisplayName": mb.name,
        "Database": mb.database.identity,
        "ServerName": mb.database.server.lower(),
        "PrimarySmtpAddress": f"{mb.alias}@{lab.domain}",
        "UserPrincipalName": f"{mb.alias}@{lab.domain}",
        "SamAccountName": mb.alias,
        "RecipientType": "UserMailbox",
        "RecipientTypeDetails": "UserMailbox",
        "ObjectClass": ["top", "person", "organizationalPerson", "user"],
        "LegacyExchangeDN": f"/o={lab.org_name}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/"
                            f"cn={mb.alias}",
        "ExchangeVersion": EXCHANGE_VERSION_2007,
        "DistinguishedName": f"CN={mb.name},CN=Users,{dc}",
        "Identity": f"{lab.domain}/Users/{mb.name}",
        "Guid": m7.lab_guid("mailbox2007", mb.alias),
        "IsValid": True,
        "ObjectState": "Unchanged",
    }, mb.name)


def _find_mailboxes(inv: Invocation, st: m7.Exchange2007State, identity: str) -> list[m7.Mailbox2007]:
    low = identity.strip().lower()
    out = []
    for mb in st.mailboxes:
        forms = {mb.alias.lower(), mb.name.lower(), f"{mb.alias}@{inv.lab.domain}".lower(),
                 f"{inv.lab.netbios}\\{mb.alias}".lower(), f"{inv.lab.domain}/users/{mb.name}".lower()}
        if low in forms or any(matches(identity, f) for f in (mb.alias, mb.name)):
            out.append(mb)
    return out


@_snapin("Get-Mailbox", variant=True)
def get_mailbox(inv: Invocation) -> Iterable[Any]:
    """runbooks §9 step 4: ``Get-Mailbox -Database <Source>\\<SG>\\<DB>``."""
    task = f"{RCP}.GetMailbox"
    with inv.lab.lock:
        st = _begin(inv)
        if inv.has("Identity"):
            ident = text_of(inv.get("Identity")) or ""
            found = _find_mailboxes(inv, st, ident)
            if not found:
                inv.write_error(_not_found(inv, ident, task))
        elif inv.has("Database"):
            db = _resolve_db(inv, st, inv.get("Database"), task, terminating=False)
            found = [mb for mb in st.mailboxes if db is not None and mb.database is db]
        elif inv.has("Server"):
            cms = _resolve_cms(inv, st, inv.get("Server"), task, terminating=False)
            found = [mb for mb in st.mailboxes if cms is not None and mb.database.server == cms.name]
        else:
            found = list(st.mailboxes)
        size = inv.get("ResultSize")
        if size is not None and str(size).lower() != "unlimited":
            try:
                found = found[: int(str(size))]
            except ValueError:
                raise _argument(inv, f"'{size}' is not a valid ResultSize (a number or Unlimited).", task) from None
        return [_mailbox_object(inv, mb) for mb in found]


@_snapin("Move-Mailbox", rbac=WRITE, variant=True)
def move_mailbox(inv: Invocation) -> Iterable[Any]:
    """Database portability (runbooks §9 step 4): ``-ConfigurationOnly`` changes only the
    mailbox's AD attributes.  Content moves are not modelled."""
    task = f"{RCP}.MoveMailbox"
    with inv.lab.lock:
        st = _begin(inv)
        if not inv.get("ConfigurationOnly"):
            raise lab_not_supported(inv, "Moving mailbox content is not modelled; use -ConfigurationOnly (database "
                                         "portability).")
        ident = text_of(inv.get("Identity")) or ""
        found = _find_mailboxes(inv, st, ident)
        if len(found) != 1:
            raise _not_found(inv, ident, task) if not found else _argument(
                inv, f"The identity '{ident}' matches more than one mailbox.", task, ident)
        mb = found[0]
        target = _resolve_db(inv, st, inv.get("TargetDatabase"), task, terminating=True)
        if inv.get("ValidateOnly"):
            return []
        _write_guard(inv, task)
        _confirm(inv, "Move-Mailbox", f"Moving mailbox \"{mb.name}\" to database \"{target.identity}\" "
                                      "(configuration only).", built_in=True)
        source = mb.database
        mb.database = target
        now = inv.lab.clock.now()
        return [make_object(T_MOVE_MAILBOX, {
            "Identity": f"{inv.lab.domain}/Users/{mb.name}",
            "DisplayName": mb.name,
            "Alias": mb.alias,
            "SourceServer": source.server,
            "SourceDatabase": source.identity,
            "TargetServer": target.server,
            "TargetDatabase": target.identity,
            "MoveType": "IntraOrg",
            "MoveStage": "Completed",
            "StartTime": now,
            "EndTime": now,
            "StatusCode": 0,
            "StatusMessage": "This mailbox has been moved to the target database.",
        }, mb.name)]


# ===================================================================== OAB
def _find_oab(inv: Invocation, st: m7.Exchange2007State, identity: Any, task: str, *,
              terminating: bool) -> list[m7.OfflineAddressBook2007]:
    ident = (text_of(identity) or "").lstrip("\\")
    found = [o for o in st.oabs if matches(ident, o.name) or str(o.guid) == ident.strip("{}").lower()]
    return _found_or_error(inv, found, identity, task, terminating)


def _oab_object(inv: Invocation, o: m7.OfflineAddressBook2007) -> Any:
    return make_object(T_OAB, {
        "AdminDisplayName": o.name,
        "Server": o.server,
        "AddressLists": ["\\Default Global Address List"],
        "Versions": ["Version2", "Version3", "Version4"],
        "IsDefault": True,
        "PublicFolderDatabase": None,
        "PublicFolderDistributionEnabled": False,
        "WebDistributionEnabled": bool(o.virtual_directories),
        "DiffRetentionPeriod": 30,
        "VirtualDirectories": [f"{c}\\OAB (Default Web Site)" for c in o.virtual_directories],
        "LastTouchedTime": o.last_generated,
        "ExchangeVersion": EXCHANGE_VERSION_2007,
        "Name": o.name,
        "DistinguishedName": f"CN={o.name},CN=Offline Address Lists,CN=Address Lists Container,CN={inv.lab.org_name},"
                             "CN=Microsoft Exchange,CN=Services,CN=Configuration,"
                             + ",".join(f"DC={p}" for p in inv.lab.domain.split(".")),
        "Identity": f"\\{o.name}",
        "Guid": o.guid,
        "IsValid": True,
        "ObjectState": "Unchanged",
    }, f"\\{o.name}")


@_snapin("Get-OfflineAddressBook", variant=True)
def get_offline_address_book(inv: Invocation) -> Iterable[Any]:
    task = f"{SYS}.GetOfflineAddressBook"
    with inv.lab.lock:
        st = _begin(inv)
        if inv.has("Identity"):
            oabs = _find_oab(inv, st, inv.get("Identity"), task, terminating=False)
        elif inv.has("Server"):
            cms = _resolve_cms(inv, st, inv.get("Server"), task, terminating=False)
            oabs = [o for o in st.oabs if cms is not None and o.server.lower() == cms.name.lower()]
        else:
            oabs = list(st.oabs)
        return [_oab_object(inv, o) for o in oabs]


@_snapin("Update-OfflineAddressBook", rbac=WRITE, variant=True)
def update_offline_address_book(inv: Invocation) -> None:
    """OAB generation on the CMS's active node, published to the ``ExchangeOAB`` share:
    scoped to the node name below Update Rollup 5, to the CMS name from RU5 (runbooks §11).
    The lab waits for the generation to finish."""
    task = f"{SYS}.UpdateOfflineAddressBook"
    with inv.lab.lock:
        st = _begin(inv)
        oabs = _find_oab(inv, st, inv.get("Identity"), task, terminating=True)
        if len(oabs) > 1:
            raise _argument(inv, f"The identity '{text_of(inv.get('Identity'))}' matches more than one offline "
                                 "address book.", task)
        o = oabs[0]
        cms = st.cms[o.server.lower()]
        if not st.source_available(cms):
            raise _invalid(inv, f"The offline address book generation server '{cms.name}' is not available.", task,
                           cms.name)
        _write_guard(inv, task)
        _confirm(inv, "Update-OfflineAddressBook", f"Updating offline address book \"\\{o.name}\".", built_in=False)
    _sleep(inv, m7.OAB_GENERATION_S, "Update-OfflineAddressBook", f"Generating \\{o.name} on {cms.name}")
    with inv.lab.lock:
        st = _begin(inv)
        if not st.source_available(cms):
            raise _invalid(inv, f"The offline address book generation server '{cms.name}' is not available.", task,
                           cms.name)
        share = st.publish_share(cms, create=True)
        o.version += 1
        o.last_generated = inv.lab.clock.now()
        share.other.setdefault("oab_versions", {})[str(o.guid)] = o.version
    return None


@_snapin("Update-FileDistributionService", rbac=WRITE, variant=True)
def update_file_distribution_service(inv: Invocation) -> None:
    """The Client Access server's FDS copies each OAB it distributes from
    ``\\\\<CMSName>\\ExchangeOAB\\<guid>``; when it can't, MSExchangeFDS event 1021 goes to
    its Application log (seed 000 Q4).  The lab waits for the copy."""
    task = f"{SYS}.UpdateFileDistributionService"
    with inv.lab.lock:
        st = _begin(inv)
        ident = (text_of(inv.get("Identity")) or "").split(".", 1)[0]
        cas = next((c for c in st.cas_servers() if c.lower() == ident.lower()), None)
        if cas is None:
            raise _not_found(inv, text_of(inv.get("Identity")) or "", task)
        kind = str(inv.get("Type") or "OAB")
        if not inv.lab.host_up(cas):
            raise _invalid(inv, f"The Microsoft Exchange File Distribution service on '{cas}' could not be contacted. "
                                "The RPC server is unavailable.", task, cas)
        if not inv.lab.windows.service_running(cas, m7.FDS):
            raise _invalid(inv, f"The Microsoft Exchange File Distribution service on '{cas}' is not running.", task,
                           cas)
        _write_guard(inv, task)
        _confirm(inv, "Update-FileDistributionService", f"Updating the file distribution service on \"{cas}\".",
                 built_in=False)
    if kind.lower() != "oab":
        return None
    _sleep(inv, m7.FDS_SYNC_S, "Update-FileDistributionService", f"Synchronizing {cas}")
    with inv.lab.lock:
        st = _begin(inv)
        pid = st.process_id(cas, "MSExchangeFDS.exe")
        for o in st.oabs:
            if cas.lower() not in [v.lower() for v in o.virtual_directories]:
                continue
            unc = f"\\\\{o.server}\\{m7.OAB_SHARE}\\{o.guid}"
            share = st.resolve_unc(unc)
            version = (share.other.get("oab_versions", {}).get(str(o.guid)) if share is not None else None)
            if version is None or not st.share_readable_by_exchange_servers(share):
                st.write_event(
                    cas, "Application", "MSExchangeFDS", 1021, "Warning", "General",
                    f"Process MSExchangeFDS.exe (PID={pid}). Could not find directory {unc}. This is normal if it "
                    "has never been generated. Otherwise, make sure this directory and share has read permission "
                    "for \"Exchange Servers\" group.")
                continue
            o.distributed[cas.lower()] = version
    return None


# ================================================================= servers
def _server_names(st: m7.Exchange2007State) -> list[str]:
    return [m.name for m in st.cms.values()] + st.cas_servers()


def _build_of(inv: Invocation, host: str) -> str:
    srv = inv.lab.server(host)
    return srv.build if srv else "Version 8.1 (Build 240.6)"


def _exchange_server_object(inv: Invocation, st: m7.Exchange2007State, name: str, status: bool) -> Any:
    lab = inv.lab
    cms = st.clustered_server(name)
    if cms is not None:
        site = st.clusters[cms.cluster.lower()].site
        roles = ["Mailbox"]
        build = _build_of(inv, cms.active_node)
        fqdn = f"{cms.name.lower()}.{lab.domain}"
        guid = cms.guid
    else:
        h = lab.host(name)
        site, roles, build, fqdn = h.site, [r for r in h.roles], _build_of(inv, h.name), h.fqdn
        guid = m7.lab_guid("server", h.name)
    dc = lab.domain_controller_for(site)
    props = {
        "Name": name,
        "DataPath": f"{m7.INSTALL_PATH}\\Mailbox",
        "Domain": lab.domain,
        "Edition": "Enterprise",
        "ExchangeLegacyDN": f"/o={lab.org_name}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/"
                            f"cn=Servers/cn={name}",
        "Fqdn": fqdn,
        "IsHubTransportServer": "HubTransport" in roles,
        "IsClientAccessServer": "ClientAccess" in roles,
        "IsExchange2007OrLater": True,
        "IsEdgeServer": "Edge" in roles,
        "IsMailboxServer": "Mailbox" in roles,
        "IsMemberOfCluster": "Yes" if cms is not None else "No",
        "IsProvisionedServer": False,
        "IsUnifiedMessagingServer": "UnifiedMessaging" in roles,
        "NetworkAddress": [f"ncacn_vns_spp:{name}", f"netbios:{name}", f"ncacn_np:{name}", f"ncacn_spx:{name}",
                           f"ncacn_ip_tcp:{fqdn}", f"ncalrpc:{name}"],
        "OrganizationalUnit": f"{lab.domain}/{name}",
        "AdminDisplayVersion": build,
        "Site": lab.site_dn(site),
        "ServerRole": ", ".join(roles),
        "ErrorReportingEnabled": None,
        "StaticDomainControllers": [],
        "StaticGlobalCatalogs": [],
        "StaticConfigDomainController": None,
        "StaticExcludedDomainControllers": [],
        "CurrentDomainControllers": [dc.fqdn] if status and dc else None,
        "CurrentGlobalCatalogs": [dc.fqdn] if status and dc else None,
        "CurrentConfigDomainController": dc.fqdn if status and dc else None,
        "ProductID": None,
        "IsExchangeTrialEdition": False,
        "IsExpiredExchangeTrialEdition": False,
        "RemainingTrialPeriod": datetime.timedelta(0),
        "IsValid": True,
        "ExchangeVersion": EXCHANGE_VERSION_2007,
        "DistinguishedName": _dn(inv, f"CN={name}", "CN=Servers"),
        "Identity": name,
        "Guid": guid,
        "ObjectCategory": f"{lab.domain}/Configuration/Schema/ms-Exch-Exchange-Server",
        "ObjectClass": ["top", "server", "msExchExchangeServer"],
        "WhenChanged": _created(inv),
        "WhenCreated": _created(inv),
        "OriginatingServer": dc.fqdn if dc else f"dc.{lab.domain}",
        "ObjectState": "Unchanged",
    }
    return make_object(T_EXCHANGE_SERVER, props, name)


def _match_servers(inv: Invocation, st: m7.Exchange2007State, identity: Any, task: str) -> list[str]:
    names = _server_names(st)
    if identity is None:
        return names
    ident = (text_of(identity) or "")
    short = ident.split(".", 1)[0] if "*" not in ident else ident
    found = [n for n in names if matches(short, n)]
    if not found:
        inv.write_error(_not_found(inv, ident, task))
    return found


@_snapin("Get-ExchangeServer", variant=True)
def get_exchange_server(inv: Invocation) -> Iterable[Any]:
    """2007 form (object-properties §4): AdminDisplayVersion ``Version 8.1 (Build 240.6)``
    (the SP build: update rollups do not show there, runbooks §11), IsMemberOfCluster;
    the CMSs and the Client Access servers (cluster nodes have no server object)."""
    task = f"{SYS}.GetExchangeServer"
    with inv.lab.lock:
        st = _begin(inv)
        if inv.has("Domain"):
            names = _server_names(st) if str(inv.get("Domain")).lower() == inv.lab.domain.lower() else []
        else:
            names = _match_servers(inv, st, inv.get("Identity"), task)
        return [_exchange_server_object(inv, st, n, bool(inv.get("Status"))) for n in names]


@_snapin("Get-MailboxServer", variant=True)
def get_mailbox_server(inv: Invocation) -> Iterable[Any]:
    """Clustered mailbox servers with RedundantMachines (object-properties §5; rewritten by
    /RecoverCMS, runbooks §8)."""
    task = f"{SYS}.GetMailboxServer"
    with inv.lab.lock:
        st = _begin(inv)
        names = [m.name for m in st.cms.values()]
        if inv.has("Identity"):
            ident = text_of(inv.get("Identity")) or ""
            names = [n for n in names if matches(ident.split(".", 1)[0], n)]
            if not names:
                inv.write_error(_not_found(inv, ident, task))
        out = []
        for n in names:
            cms = st.cms[n.lower()]
            out.append(make_object(T_MAILBOX_SERVER, {
                "Name": cms.name,
                "RedundantMachines": ps_list(list(cms.redundant_machines), [
                    f"Microsoft.Exchange.Data.MultiValuedProperty`1[[{MVP_STRING}]]",
                    "Microsoft.Exchange.Data.MultiValuedPropertyBase"]),
                "DataPath": f"{m7.INSTALL_PATH}\\Mailbox",
                "Locale": [],
                "ExchangeVersion": EXCHANGE_VERSION_2007,
                "DistinguishedName": _dn(inv, f"CN={cms.name}", "CN=Servers"),
                "Identity": cms.name,
                "Guid": cms.guid,
                "IsValid": True,
                "ObjectState": "Unchanged",
            }, cms.name))
        return out


# ============================================================ AD permission
class _Sink2007:
    """Rewrites the 2010+ error records of the shared ADPermission implementation into
    Exchange 2007's form (FQID without the remote-PowerShell prefix, 2007 wording)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write_output(self, obj: Any) -> None:
        self.real.write_output(obj)

    def write_error(self, err: errors.PSError) -> None:
        self.real.write_error(_to_2007(err))

    def write_warning(self, message: str) -> None:
        self.real.write_warning(message)

    def write_verbose(self, message: str) -> None:
        self.real.write_verbose(message)

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        self.real.write_progress(activity, status, percent)

    @property
    def stopping(self) -> bool:
        return bool(getattr(self.real, "stopping", False))


def _to_2007(err: errors.PSError) -> errors.PSError:
    if err.fqid.startswith("[Server="):
        err.fqid = err.fqid.split("] ", 2)[-1]
    err.message = err.message.replace("The operation couldn't be performed because object",
                                      "The operation could not be performed because object").replace(
        "' couldn't be found on '", "' could not be found on domain controller '")
    return err


def _run_shared(inv: Invocation, func: Any, task: str) -> Any:
    if func is not adp.get_ad_permission:
        _write_guard(inv, task)
    shim = Invocation(inv.name, inv.parameter_set, inv.params, inv.common, inv.input, inv.session,
                      _Sink2007(inv.sink))
    try:
        return func(shim)
    except errors.PSError as err:
        raise _to_2007(err) from None


@_snapin("Get-ADPermission", variant=True)
def get_ad_permission_2007(inv: Invocation) -> Any:
    """runbooks §10.1 check: the standby cluster's CNO on the CMS computer object."""
    return _run_shared(inv, adp.get_ad_permission, f"{RCP}.GetADPermission")


@_snapin("Add-ADPermission", rbac=WRITE, variant=True)
def add_ad_permission_2007(inv: Invocation) -> Any:
    """runbooks §10.1 fix: ``-User <DOMAIN>\\<StandbyCluster>$ -AccessRights GenericAll``."""
    return _run_shared(inv, adp.add_ad_permission, f"{RCP}.AddADPermission")


@_snapin("Remove-ADPermission", rbac=WRITE, variant=True)
def remove_ad_permission_2007(inv: Invocation) -> Any:
    return _run_shared(inv, adp.remove_ad_permission, f"{RCP}.RemoveADPermission")


# =============================================================== event log
_LOGS = ("Application", "Security", "System", "Windows PowerShell")


def _event_object(e: m7.EventEntry) -> Any:
    return make_object(T_EVENT, {
        "EventID": e.event_id,
        "MachineName": e.machine,
        "Data": [],
        "Index": e.index,
        "Category": e.category,
        "CategoryNumber": 0,
        "EntryType": e.entry_type,
        "Message": e.message,
        "Source": e.source,
        "ReplacementStrings": [],
        "InstanceId": e.event_id,
        "TimeGenerated": e.time,
        "TimeWritten": e.time,
        "UserName": None,
        "Site": None,
        "Container": None,
    }, f"System.Diagnostics.EventLogEntry")


@cmdlet("Get-EventLog", syntax="exchange2007", rbac=READ, configurations=(POWERSHELL,), available_on=on_2007,
        variant=True)
def get_event_log(inv: Invocation) -> Iterable[Any]:
    """Windows PowerShell 1.0's Get-EventLog on an Exchange 2007 host: the Application and
    System logs the lab writes (newest first)."""
    task = "Microsoft.PowerShell.Commands.GetEventLogCommand"
    with inv.lab.lock:
        st = _begin(inv)
        if inv.get("List"):
            if inv.get("AsString"):
                return list(_LOGS)
            return [make_object(T_EVENT_LOG, {
                "Log": log,
                "LogDisplayName": log,
                "MaximumKilobytes": 20480 if log != "Windows PowerShell" else 15360,
                "OverflowAction": "OverwriteAsNeeded",
                "MinimumRetentionDays": 0,
                "Entries": "System.Diagnostics.EventLogEntryCollection",
                "MachineName": ".",
            }, log) for log in _LOGS]
        name = str(inv.get("LogName"))
        log = next((x for x in _LOGS if x.lower() == name.lower()), None)
        if log is None:
            raise errors.PSError(
                message=f"The event log '{name}' on computer '.' does not exist.",
                fqid=f"System.InvalidOperationException,{task}",
                category=errors.NOT_SPECIFIED,
                exception_types=["System.InvalidOperationException", "System.SystemException", "System.Exception"],
                activity=inv.name,
            )
        entries = list(reversed(st.event_log(inv.host.name, log)))
        newest = inv.get("Newest")
        if newest is not None:
            entries = entries[: max(0, int(newest))]
        return [_event_object(e) for e in entries]


# ========================================================= update rollups
# The Windows Installer registry key of the Exchange 2007 product (compressed product code
# 461C2B4266EDEF444B864AD6D9E5B613): one subkey per installed patch under Patches, with its
# DisplayName.  Community scripts read the update rollup level there (Get-ExchangeServerPlus
# style scripts, found through the search index); runbooks §11 calls the method unconfirmed.
E2007_PATCHES_KEY = ("HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products\\"
                     "461C2B4266EDEF444B864AD6D9E5B613\\Patches")
_REG_PREFIX = "Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE"


def _patch_entries(st: m7.Exchange2007State, host: str) -> list[tuple[str, str]]:
    """(subkey, DisplayName) of the rollups installed on ``host``: the lab keeps only the
    highest level, so only that rollup is listed (superseded entries: not modelled)."""
    level = st.rollup_of(host)
    if level <= 0:
        return []
    code = m7.lab_guid("patch", f"E2007SP1-UR{level}").hex.upper()
    return [(code, f"Update Rollup {level} for Exchange Server 2007 Service Pack 1")]


def _registry_path(text: str) -> str:
    t = text.strip().replace("/", "\\")
    low = t.lower()
    for prefix in ("microsoft.powershell.core\\registry::hkey_local_machine", "registry::hkey_local_machine",
                   "hkey_local_machine", "hklm:"):
        if low.startswith(prefix):
            return "HKLM:" + t[len(prefix):].rstrip("\\")
    return t


@cmdlet("Get-ItemProperty", syntax="exchange2007", rbac=READ, configurations=(POWERSHELL,), available_on=on_2007)
def get_item_property(inv: Invocation) -> Iterable[Any]:
    """Windows PowerShell 1.0's Get-ItemProperty on an Exchange 2007 host, for the one registry
    key the lab models: the Exchange 2007 product's installed patches (``...\\Patches\\*`` or
    one patch subkey), whose DisplayName names the update rollup (README-model.md, item 12).
    Any other path is ``NotSupportedByLab``; a missing subkey is PowerShell's PathNotFound."""
    task = "Microsoft.PowerShell.Commands.GetItemPropertyCommand"
    literal = inv.has("LiteralPath")
    paths = texts_of(inv.get("LiteralPath") if literal else inv.get("Path"))
    names = [n.lower() for n in texts_of(inv.get("Name"))] if inv.has("Name") else None
    key = E2007_PATCHES_KEY.lower()
    out = []
    with inv.lab.lock:
        st = _begin(inv)
        entries = _patch_entries(st, inv.host.name)
        for raw in paths:
            path = _registry_path(raw)
            low = path.lower()
            if not low.startswith(key):
                inv.write_error(lab_not_supported(inv, "The lab's registry has only the Exchange 2007 product's "
                                                       f"patch list: {E2007_PATCHES_KEY}\\*."))
                continue
            child = path[len(key):].strip("\\")
            if not child and not literal:
                matched: list[tuple[str, str]] = []  # the key itself has no values
            elif child == "*" and not literal:
                matched = entries
            else:
                matched = [e for e in entries if e[0].lower() == child.lower()]
                if not matched:
                    inv.write_error(errors.PSError(
                        message=f"Cannot find path '{raw}' because it does not exist.",
                        fqid=f"PathNotFound,{task}",
                        category=errors.OBJECT_NOT_FOUND,
                        exception_types=["System.Management.Automation.ItemNotFoundException",
                                         "System.Management.Automation.SessionStateException",
                                         "System.Management.Automation.RuntimeException", "System.SystemException",
                                         "System.Exception"],
                        activity=inv.name, target_name=raw, target_type="String", target_object=raw))
                    continue
            for code, display in matched:
                values = {"DisplayName": display, "State": 1, "Uninstallable": 1}
                if names is not None:
                    values = {k: v for k, v in values.items() if k.lower() in names}
                parent = f"{_REG_PREFIX}{E2007_PATCHES_KEY[5:]}"
                out.append(custom_object({
                    **values,
                    "PSPath": f"{parent}\\{code}",
                    "PSParentPath": parent,
                    "PSChildName": code,
                    "PSDrive": "HKLM",
                    "PSProvider": "Microsoft.PowerShell.Core\\Registry",
                }))
    return out


# ============================================================ native programs
def _native_error(inv: Invocation, line: str) -> errors.PSError:
    """A native program's error line as PowerShell remoting reports stderr output."""
    return errors.PSError(
        message=line,
        fqid="NativeCommandError",
        category=errors.NOT_SPECIFIED,
        exception_types=["System.Management.Automation.RemoteException", "System.Exception"],
        activity=inv.name,
        target_object=line,
    )


_DOTS = " ......................... "


def _setup_args(args: list[str]) -> tuple[list[str], dict[str, str]]:
    switches, values = [], {}
    for a in args:
        text = a.strip()
        if not text:
            continue
        if text[0] in "/-":
            body = text[1:]
            name, sep, value = body.partition(":")
            if sep:
                values[name.lower()] = value.strip().strip('"')
            else:
                switches.append(name.lower())
        else:
            switches.append(text.lower())
    return switches, values


def _setup_fail(inv: Invocation, lines: list[str], phase: str, message: str) -> None:
    lines += [f"    {phase}{_DOTS}FAILED", f"     {message}", "",
              "The Microsoft Exchange Server setup operation did not complete. Visit http://support.microsoft.com and "
              "enter the Error ID to find more information.", "", "Exchange Server setup encountered an error."]
    for line in lines:
        inv.write_output(line)
    inv.write_error(_native_error(inv, message))


@cmdlet("Setup.com", syntax="exchange2007", rbac=WRITE, configurations=(POWERSHELL,), available_on=on_2007_mailbox)
@native_command
def setup_com(inv: Invocation) -> None:
    """Exchange 2007 ``Setup.com /RecoverCMS /CMSName:<name> /CMSIPv4Addresses:<ip>`` on a
    node of a standby cluster (runbooks §8 step 4).  The cluster recreates the CMS network
    name as its CNO: without Full Control on the CMS computer object the name does not come
    online (seed 000 Q1; Tim McMichael's error text; failover clustering event 1193)."""
    switches, values = _setup_args(list(inv.get("Arguments") or []))
    lines = ["Welcome to Microsoft Exchange Server 2007 Unattended Setup", ""]
    node = inv.host.name
    if "recovercms" not in switches:
        for line in lines:
            inv.write_output(line)
        inv.write_error(lab_not_supported(inv, "The lab's Setup.com runs only /RecoverCMS (runbooks §8)."))
        return None
    lines += ["Preparing Exchange Setup", "", "The following server roles will be recovered",
              "Clustered Mailbox Server Role", "", "Performing Microsoft Exchange Server Prerequisite Check", ""]
    checks = "Clustered Mailbox Server Role Checks"
    name = values.get("cmsname")
    ip_text = values.get("cmsipv4addresses") or values.get("cmsipv4address")
    unknown = [k for k in values if k not in ("cmsname", "cmsipv4addresses", "cmsipv4address")]
    unknown += [s for s in switches if s != "recovercms"]
    with inv.lab.lock:
        st = _begin(inv)
        if not inv.session.user.can_write:
            return _setup_fail(inv, lines, checks, "The user account does not have permission to recover a clustered "
                                                   "mailbox server: Exchange Organization Administrator permissions "
                                                   "are required.")
        if unknown:
            return _setup_fail(inv, lines, checks, f"The following parameters are not valid with /RecoverCMS: "
                                                   f"{', '.join('/' + u for u in unknown)}.")
        if not name or not ip_text:
            return _setup_fail(inv, lines, checks, "The /CMSName and /CMSIPv4Addresses parameters are required with "
                                                   "/RecoverCMS.")
        cms = st.clustered_server(name)
        if cms is None:
            return _setup_fail(inv, lines, checks, f"The clustered mailbox server '{name}' was not found in Active "
                                                   "Directory.")
        cl = st.cluster_of_node(node)
        if cl is None:
            return _setup_fail(inv, lines, checks, f"'{node}' is not a node of a failover cluster.")
        other = st.cms_on_cluster(cl)
        if other is not None and other is not cms:
            return _setup_fail(inv, lines, checks, f"Cluster '{cl.name}' already hosts clustered mailbox server "
                                                   f"'{other.name}'.")
        if cms.state == "Online" and st.cluster_up(st.clusters[cms.cluster.lower()]) and cms.cluster != cl.name:
            return _setup_fail(inv, lines, checks, f"The clustered mailbox server '{cms.name}' is online on "
                                                   f"'{cms.active_node}'. Stop it before recovering it elsewhere.")
        try:
            ip = str(ipaddress.IPv4Address(ip_text.split(",")[0].strip()))
        except ValueError:
            return _setup_fail(inv, lines, checks, f"'{ip_text}' is not a valid IPv4 address.")
        if not _in_site(inv, ip, node):
            return _setup_fail(inv, lines, checks, f"The IP address {ip} is not on a network of node '{node}'.")
        if ip != cms.ip and _ip_taken(inv, st, ip):
            return _setup_fail(inv, lines, checks, f"The IP address {ip} is already in use.")
    lines += [f"    {checks}{_DOTS}COMPLETED", "", "Configuring Microsoft Exchange Server", ""]
    _sleep(inv, m7.RECOVER_CMS_S, "Setup.com", f"Recovering clustered mailbox server {cms.name} on {cl.name}")
    with inv.lab.lock:
        st = _begin(inv)
        role = "Clustered Mailbox Server Role"
        vco = st.vco(cms)
        if vco is None or not st.has_full_control(cl.name, vco):
            message = _network_name_failed(inv, cms.name, cms.name)
            _log_cno_failure(st, node, f"Network Name ({cms.name})", cl.name)
            st.write_event(node, "Application", "MSExchangeSetup", 1002, "Error", "Microsoft Exchange Setup",
                           f"Exchange Server component {role} failed.\nError: {message}")
            return _setup_fail(inv, lines, role, message)
        # the CMS now lives on this cluster (runbooks §8: name kept, IP changed, redundant
        # machines rewritten to the standby cluster's nodes)
        cms.cluster = cl.name
        cms.active_node = node
        cms.redundant_machines = list(cl.nodes)
        cms.ip = ip
        cms.state = "Online"
        cms.stop_reason = None
        cms.host_names = []
        cms.host_record_ttl = m7.DEFAULT_HOST_RECORD_TTL
        passive = next((n for n in cl.nodes if n.lower() != node.lower()), None)
        now = inv.lab.clock.now()
        for g in cms.storage_groups:
            mine = g.scr_copy(node)
            if mine is not None and mine.restored:
                g.active_machine = node
            if mine is not None:
                g.copies.remove(mine)
            g.copies = [c for c in g.copies if c.kind == "scr" and c.machine.lower() not in
                        [n.lower() for n in cl.nodes]]
            if passive is not None:
                g.copies.insert(0, m7.SgCopy(passive, "ccr", status="Failed", seeded=False, last_change=now,
                                             failed_message=f"The passive copy on '{passive}' has no database files; "
                                                            "suspend it and seed it with Update-StorageGroupCopy."))
        zone = st._zone_for(f"{cms.name.lower()}.{inv.lab.domain}")
        if zone is not None:
            w = inv.lab.windows
            for rec in w.records(zone, cms.name.lower(), "A"):
                w.remove_record(zone, rec)
            w.add_record(zone, cms.name.lower(), "A", ip, cms.host_record_ttl, dynamic=True)
        st.write_event(node, "Application", "MSExchangeSetup", 1000, "Information", "Microsoft Exchange Setup",
                       f"Exchange Server component {role} was recovered successfully.")
    lines += [f"    {role}{_DOTS}COMPLETED", "", "The Microsoft Exchange Server setup operation completed successfully.",
              ""]
    for line in lines:
        inv.write_output(line)
    return None


_MSI_NOT_FOUND = ("This installation package could not be opened. Verify that the package exists and that you can "
                  "access it, or contact the application vendor to verify that this is a valid Windows Installer "
                  "package.")


@cmdlet("msiexec.exe", syntax="exchange2007", rbac=WRITE, configurations=(POWERSHELL,), available_on=on_2007)
@native_command
def msiexec(inv: Invocation) -> None:
    """``msiexec.exe /update <package.msp> [/quiet]`` (or ``/p``): installs an Exchange 2007
    update rollup staged on the host (topology ``exchange2007.rollup_packages``; the lab
    does not know real package names).  It raises the host's rollup level: from RU5 the
    OAB is published to the CMS-scoped share (runbooks §11).  No output, as msiexec with
    /quiet; failures are written as error lines."""
    args = [a for a in (inv.get("Arguments") or [])]
    path = None
    for i, a in enumerate(args):
        if a.lower() in ("/update", "/p", "-update", "-p") and i + 1 < len(args):
            path = args[i + 1].strip('"')
    if path is None:
        inv.write_error(lab_not_supported(inv, "The lab's msiexec.exe installs update rollups only: "
                                               "msiexec.exe /update <package.msp> /quiet."))
        return None
    with inv.lab.lock:
        st = _begin(inv)
        package = st.packages.get(path.lower())
        if package is None:
            inv.write_error(_native_error(inv, _MSI_NOT_FOUND))
            return None
        if not inv.session.user.can_write:
            inv.write_error(_native_error(inv, "You do not have sufficient privileges to complete this installation "
                                               "for all users of the machine. Log on as administrator and then retry "
                                               "this installation."))
            return None
    _sleep(inv, m7.ROLLUP_INSTALL_S, "msiexec.exe", f"Installing {path}")
    with inv.lab.lock:
        key = inv.host.name.lower()
        st.rollup[key] = max(st.rollup.get(key, 0), int(package["rollup"]))
    return None
