"""Exchange 2013+ datacenter switchover cmdlets (DAC mode): Stop-, Restore- and
Start-DatabaseAvailabilityGroup.

Specification: runbooks §5.1, §5.2, §5.5; the cmdlet pages (PS:Stop-/Restore-/Start-
DatabaseAvailabilityGroup), DOCS:2016 datacenter-switchovers.md and dac-mode.md.  The
model side is ``model/operations.py``; choices are in lab/README-model.md ("Database and
DAG operations").  Errors are terminating; what the task can't do on an unreachable
server is a warning (runbooks §5.2 step 6: "the tasks fail only when the fundamental
goal fails; everything else is a warning").
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..model import operations as ops
from ..registry import WRITE, cmdlet
from .exchange_common import begin, not_found, short_name, task_class, task_error, text_of
from .exchange_database_ops import exchange_2013_plus, require_confirmation
from .exchange_read import resolve_dags

T_STOP = task_class("StopDatabaseAvailabilityGroup")
T_START = task_class("StartDatabaseAvailabilityGroup")
T_RESTORE = task_class("RestoreDatabaseAvailabilityGroup")
DAG_ERROR = "Microsoft.Exchange.Management.SystemConfigurationTasks.DagTaskOperationFailedException"


def _dag_error(inv: Any, message: str, task: str, target: str | None = None) -> errors.PSError:
    return task_error(inv, message, DAG_ERROR, task, target=target)


def _dac_dag(inv: Any, task: str) -> Any:
    """The DAG, which must be in DAC mode: the three cmdlets "can be run against a DAG
    only when the DAG is configured with a DatacenterActivationMode value of DagOnly"
    (PS pages; runbooks §5.1)."""
    identity = text_of(inv.get("Identity"))
    dags = resolve_dags(inv, identity, task, terminating=True)
    if len(dags) != 1:
        raise _dag_error(
            inv, f"The identity '{identity}' matches more than one database availability group.", task, target=identity
        )
    dag = dags[0]
    if dag.datacenter_activation_mode != "DagOnly":
        raise _dag_error(
            inv,
            f"This operation can be performed only when database availability group '{dag.name}' "
            f"is in Datacenter Activation Coordination mode (DatacenterActivationMode is "
            f"'{dag.datacenter_activation_mode}', DagOnly is required). Use "
            f"Set-DatabaseAvailabilityGroup -DatacenterActivationMode DagOnly.",
            task,
            target=dag.name,
        )
    return dag


def _site(inv: Any, value: Any, task: str) -> str:
    """An AD site by name (a ``.../Sites/<name>`` path is accepted too)."""
    text = text_of(value) or ""
    name = text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    site = inv.lab.sites.get(name.lower())
    if site is None:
        raise not_found(inv, text, task)
    return site["name"]


def _member(inv: Any, dag: Any, value: Any, task: str) -> str:
    text = text_of(value) or ""
    srv = inv.lab.server(text) or inv.lab.server(short_name(text))
    if srv is None:
        raise not_found(inv, text, task)
    if not dag.is_member(srv.name):
        raise _dag_error(
            inv,
            f"Server '{srv.name}' isn't a member of database availability group '{dag.name}'.",
            task,
            target=srv.name,
        )
    return srv.name


def _members_in_site(inv: Any, dag: Any, site: str) -> list[str]:
    return [m for m in dag.members if (s := inv.lab.server(m)) is not None and s.site.lower() == site.lower()]


def _targets(inv: Any, dag: Any, task: str) -> tuple[list[str], str]:
    """The servers of -ActiveDirectorySite or -MailboxServer, and a description."""
    if inv.has("MailboxServer") and inv.get("MailboxServer") is not None:
        name = _member(inv, dag, inv.get("MailboxServer"), task)
        return [name], f'server "{name}"'
    site = _site(inv, inv.get("ActiveDirectorySite"), task)
    return _members_in_site(inv, dag, site), f'the members in Active Directory site "{site}"'


@cmdlet("Stop-DatabaseAvailabilityGroup", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def stop_database_availability_group(inv: Any) -> None:
    """Marks members stopped (StoppedMailboxServers, runbooks §5.2 steps 1-2).  Without
    -ConfigurationOnly, Active Manager on each reachable member is put into the Stopped
    state: its active databases dismount.  -ConfigurationOnly only updates Active
    Directory.  Built-in pause (runbooks §0.3)."""
    lab = inv.lab
    config_only = bool(inv.get("ConfigurationOnly"))
    with lab.lock:
        begin(inv)
        dag = _dac_dag(inv, T_STOP)
        servers, what = _targets(inv, dag, T_STOP)
    require_confirmation(
        inv,
        f'Stopping {what} of database availability group "{dag.name}"'
        + (" (Active Directory only)." if config_only else "."),
        T_STOP,
        built_in_pause=True,
    )
    if not servers:
        inv.write_warning(
            f"Database availability group '{dag.name}' has no members in that Active Directory site; "
            f"nothing was stopped."
        )
        return
    with lab.lock:
        begin(inv)
        unreachable = ops.stop_servers(lab, dag, servers, configuration_only=config_only)
    for name in unreachable:
        inv.write_warning(
            f"Server '{name}' couldn't be contacted. It was marked as stopped in Active Directory only; "
            f"make sure it is turned off, or it may mount databases (split brain)."
        )


@cmdlet("Restore-DatabaseAvailabilityGroup", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def restore_database_availability_group(inv: Any) -> None:
    """Forcibly evicts the StoppedMailboxServers from the DAG's cluster, re-establishes
    quorum with the surviving members and uses the alternate witness when the survivors
    are an even number or a single server (-UsePrimaryWitnessServer, 2013+, keeps the
    current witness); fails when it can't shrink quorum (runbooks §5.2 step 4).  The
    databases then activate where healthy and not blocked (BCSS, step 5).  The Cluster
    service on the survivors is not modelled (step 3 is not required).  Built-in pause."""
    lab = inv.lab
    with lab.lock:
        begin(inv)
        dag = _dac_dag(inv, T_RESTORE)
        stopped = {s.lower() for s in dag.stopped}
        survivors = [m for m in dag.members if m.lower() not in stopped]
        site = None
        if inv.has("ActiveDirectorySite") and inv.get("ActiveDirectorySite") is not None:
            site = _site(inv, inv.get("ActiveDirectorySite"), T_RESTORE)
            in_site = {m.lower() for m in _members_in_site(inv, dag, site)}
            outside = [m for m in survivors if m.lower() not in in_site]
            if outside:
                raise _dag_error(
                    inv,
                    f"Server(s) {', '.join(outside)} of database availability group '{dag.name}' "
                    f"aren't in Active Directory site '{site}' and aren't stopped. Run "
                    f"Stop-DatabaseAvailabilityGroup for them first.",
                    T_RESTORE,
                    target=dag.name,
                )
            survivors = [m for m in survivors if m.lower() in in_site]
        alt_server = None
        if inv.has("AlternateWitnessServer") and inv.get("AlternateWitnessServer") is not None:
            text = text_of(inv.get("AlternateWitnessServer")) or ""
            host = lab.host(text) or lab.host(short_name(text))
            if host is None:
                raise _dag_error(
                    inv,
                    f"The witness server '{text}' couldn't be resolved. Specify a server that can "
                    f"be reached by name.",
                    T_RESTORE,
                    target=text,
                )
            if dag.is_member(host.name):
                raise _dag_error(
                    inv,
                    f"The witness server '{text}' is a member of database availability group "
                    f"'{dag.name}'. Specify a server that isn't a member of the DAG.",
                    T_RESTORE,
                    target=text,
                )
            alt_server = f"{host.name}.{lab.domain}"
        alt_dir = text_of(inv.get("AlternateWitnessDirectory")) if inv.has("AlternateWitnessDirectory") else None
        if alt_server and not alt_dir and not dag.alternate_witness_directory:
            alt_dir = f"C:\\DAGFileShareWitnesses\\{dag.name}.{lab.domain}"
        plan = ops.plan_restore(
            lab,
            dag,
            survivors,
            alternate_server=alt_server,
            alternate_directory=alt_dir,
            use_primary=bool(inv.get("UsePrimaryWitnessServer")),
        )
        if plan.error is not None:
            raise _dag_error(inv, plan.error, T_RESTORE, target=dag.name)
        where = f' in Active Directory site "{site}"' if site else ""
    require_confirmation(
        inv,
        f'Restoring database availability group "{dag.name}" with the members{where} '
        f"({', '.join(plan.survivors)}); evicting {', '.join(plan.evict) or 'no servers'} from "
        f"its cluster.",
        T_RESTORE,
        built_in_pause=True,
    )
    with lab.lock:
        begin(inv)
        plan = ops.plan_restore(
            lab,
            dag,
            plan.survivors,
            alternate_server=alt_server,
            alternate_directory=alt_dir,
            use_primary=bool(inv.get("UsePrimaryWitnessServer")),
        )
        if plan.error is not None:
            raise _dag_error(inv, plan.error, T_RESTORE, target=dag.name)
        ops.restore(lab, dag, plan)
        down = [s for s in plan.survivors if not lab.is_reachable_host(s)]
    for name in down:
        inv.write_warning(f"Server '{name}' couldn't be contacted; it stays a node of the cluster of '{dag.name}'.")


@cmdlet("Start-DatabaseAvailabilityGroup", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def start_database_availability_group(inv: Any) -> None:
    """Re-incorporates members after a datacenter switchover (runbooks §5.5 step 1): out
    of StoppedMailboxServers, into StartedMailboxServers, and (unless
    -ConfigurationOnly) joined to the DAG's cluster.  Databases are not moved (that is
    Move-ActiveMailboxDatabase's job); the quorum model is re-evaluated by
    Set-DatabaseAvailabilityGroup with no other parameter.  Confirmation: modelled with a
    built-in pause like Stop/Restore (runbooks §5.5 passes -Confirm:$false)."""
    lab = inv.lab
    config_only = bool(inv.get("ConfigurationOnly"))
    with lab.lock:
        begin(inv)
        dag = _dac_dag(inv, T_START)
        servers, what = _targets(inv, dag, T_START)
    require_confirmation(
        inv,
        f'Starting {what} of database availability group "{dag.name}"'
        + (" (Active Directory only)." if config_only else "."),
        T_START,
        built_in_pause=True,
    )
    if not servers:
        inv.write_warning(
            f"Database availability group '{dag.name}' has no members in that Active Directory site; "
            f"nothing was started."
        )
        return
    with lab.lock:
        begin(inv)
        unreachable = ops.start_servers(lab, dag, servers, configuration_only=config_only)
    for name in unreachable:
        inv.write_warning(
            f"Server '{name}' couldn't be contacted. It was marked as started in Active Directory only; "
            f"it joins the cluster of '{dag.name}' when Start-DatabaseAvailabilityGroup is run again "
            f"while it is reachable."
        )
