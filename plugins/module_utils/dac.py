# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads and writes of a datacenter switchover in DAC mode (runbooks §5): the DAG as one domain
controller sees it, the site cmdlets, database activation, and the Windows side (``ClusSvc``,
cluster nodes) of the surviving members.

Internal to exchange.dr: no stable API, for the collection's own modules only.

Used by ``dag_site``, ``dag_restore``, ``site_activation`` and ``dns_record``.  The decisions are
``datacenter.py``'s and ``dns.py``'s (pure); the run context (check mode, the ordered ``actions``,
progress lines, bounded waits) is ``database.Run`` with ``waiter.py``.  Every write goes through
:func:`send`, so check mode sends nothing and records the plan; cmdlets with a built-in
confirmation pause get ``-Confirm:$false`` (runbooks §0.3).
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils import database
from ansible_collections.exchange.dr.plugins.module_utils import exchange
from ansible_collections.exchange.dr.plugins.module_utils import windows
from ansible_collections.exchange.dr.plugins.module_utils.datacenter import PlanError
from ansible_collections.exchange.dr.plugins.module_utils.dns import DnsPlanError
from ansible_collections.exchange.dr.plugins.module_utils.errors import ConnectionFailure, ExchangeCommandError, ExchangeError

CLUSTER_SERVICE = "ClusSvc"
NOT_FOUND = "ManagementObjectNotFoundException"
# Get-ClusterNode when the local cluster is not running (no quorum, ClusSvc stopped): the
# cluster cannot be read, which is no error for a restore that is about to fix it.
CLUSTER_UNAVAILABLE_CATEGORIES = ("ConnectionError", "ResourceUnavailable", "OpenError")
MOVE_SELECT = ["Identity", "ActiveServerAtStart", "ActiveServerAtEnd", "Status", "ErrorMessage", "MountStatusAtMoveEnd",
               "NumberOfLogsLost"]
WINDOWS_CONNECTIONS_OPTION = "windows_connections"


class DacError(ExchangeError):
    """An operation did not reach its goal (a move that Active Manager refused); the message
    says which and why."""

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message

    def result(self) -> dict:
        return {key: value for key, value in self.details.items() if value is not None}


def execute(module, body) -> None:
    """``database.execute`` with the planners' input errors reported as task failures (one line
    naming the option) instead of unexpected errors."""
    def guarded(run):
        try:
            return body(run)
        except (PlanError, DnsPlanError) as exc:
            raise database.TaskFailed(str(exc)) from None
    database.execute(module, guarded)


def send(run, cmdlet: str, parameters: dict, target: str, select: list | None = None) -> list:
    """A state-changing cmdlet through ``run`` (only recorded in check mode); its first error
    record raises.  Returns the output rows."""
    rows, errors = run.send(cmdlet, parameters, target, select=select)
    database.raise_first(errors)
    return rows


# ------------------------------------------------------------------------------- reads
def read_dag(client, name: str, domain_controller: str | None = None, status: bool = True) -> dict:
    """The DAG ``name`` (``exchange.py``'s ``dags`` table); ``domain_controller`` reads Active
    Directory through that DC (``-DomainController``), which is how StoppedMailboxServers is seen
    from one datacenter."""
    params = {"Identity": name}
    if status:
        params["Status"] = None
    if domain_controller:
        params["DomainController"] = domain_controller
    rows, errors = client.invoke("Get-DatabaseAvailabilityGroup", params, select=exchange.select("dags"),
                                 errors="return")
    missing = [err for err in errors if err.error_id == NOT_FOUND]
    if missing or not rows:
        detail = " (%s)" % " ".join(missing[0].message.split()) if missing else ""
        raise PlanError("dag: no database availability group %s%s" % (name, detail))
    database.raise_first(errors)
    return exchange.normalise("dags", rows[0])


def require_dac(dag: dict) -> None:
    """Stop-/Restore-/Start-DatabaseAvailabilityGroup work only in DAC mode (runbooks §5.1)."""
    if (dag.get("datacenter_activation_mode") or "Off") != "DagOnly":
        raise PlanError("dag: %s has DatacenterActivationMode %s; the datacenter switchover cmdlets need DagOnly "
                        "(runbooks §5.1): Set-DatabaseAvailabilityGroup -Identity %s -DatacenterActivationMode DagOnly, "
                        "or follow the cluster procedure of runbooks §5.3"
                        % (dag.get("name"), dag.get("datacenter_activation_mode") or "Off", dag.get("name")))


def read_databases(client, dag: str, copies: bool = True) -> tuple:
    """The DAG's databases (``-Status``) and their copies: two round trips (one, and no copies,
    with ``copies=False``)."""
    databases = [row for row in exchange.read_databases(client) if (row.get("master") or "").lower() == dag.lower()]
    if not copies:
        return databases, []
    names = {row["name"].lower() for row in databases}
    rows = [row for row in exchange.read_copies(client) if (row.get("database") or "").lower() in names]
    return databases, rows


# ---------------------------------------------------------------------- site cmdlets
def _params(identity: str, domain_controller: str | None, **extra) -> dict:
    params = {"Identity": identity}
    params.update({key: value for key, value in extra.items() if value is not None})
    if domain_controller:
        params["DomainController"] = domain_controller
    return params


def site_cmdlet(run, state: str, dag: str, site: str | None, server: str | None, configuration_only: bool,
                domain_controller: str | None) -> None:
    """``Stop-`` (``state=stopped``) or ``Start-DatabaseAvailabilityGroup`` for a site or one server."""
    cmdlet = "Stop-DatabaseAvailabilityGroup" if state == "stopped" else "Start-DatabaseAvailabilityGroup"
    params = _params(dag, domain_controller, ActiveDirectorySite=site, MailboxServer=None if site else server)
    if configuration_only:
        params["ConfigurationOnly"] = None
    params["Confirm"] = False
    send(run, cmdlet, params, site or server)


def set_dag(run, dag: str, domain_controller: str | None = None, **settings) -> None:
    """``Set-DatabaseAvailabilityGroup``; with no setting, the bare call that makes the DAG
    re-evaluate its quorum model (runbooks §5.5 step 1)."""
    send(run, "Set-DatabaseAvailabilityGroup", _params(dag, domain_controller, **settings), dag)


def restore(run, parameters: dict, domain_controller: str | None = None) -> None:
    params = dict(parameters)
    if domain_controller:
        params["DomainController"] = domain_controller
    params["Confirm"] = False
    send(run, "Restore-DatabaseAvailabilityGroup", params, parameters.get("ActiveDirectorySite") or parameters["Identity"])


# ------------------------------------------------------------------- database activation
def move_outcome(parameters: dict, rows: list, errors: list) -> dict:
    """The result of ``Move-ActiveMailboxDatabase`` as ``{"database", "from", "to", "status", "mounted",
    "logs_lost"}``; Active Manager's refusal (a result with Status Failed and an error record) raises
    :class:`DacError` with Exchange's message."""
    row = rows[0] if rows else {}
    result = {"database": parameters["Identity"], "from": c.server_name(row.get("ActiveServerAtStart")),
              "to": c.server_name(row.get("ActiveServerAtEnd")), "status": c.enum(row.get("Status")),
              "mounted": c.enum(row.get("MountStatusAtMoveEnd")) == "Mounted",
              "logs_lost": c.integer(row.get("NumberOfLogsLost"))}
    if errors or result["status"] == "Failed":
        message = row.get("ErrorMessage") or (errors[0].message if errors else "the move failed")
        raise DacError("Move-ActiveMailboxDatabase %s to %s failed: %s" % (parameters["Identity"],
                                                                           parameters.get("ActivateOnServer"),
                                                                           " ".join(str(message).split())),
                       move=result, error=errors[0].to_dict() if errors else None)
    return result


def move(run, parameters: dict) -> dict | None:
    """An explicit ``Move-ActiveMailboxDatabase``; None in check mode."""
    rows, errors = run.send("Move-ActiveMailboxDatabase", parameters, parameters["Identity"], select=MOVE_SELECT)
    if run.check_mode:
        return None
    return move_outcome(parameters, rows, errors)


def mount(run, name: str) -> None:
    send(run, "Mount-Database", {"Identity": name}, name)


def dismount(run, name: str) -> None:
    send(run, "Dismount-Database", {"Identity": name, "Confirm": False}, name)


def set_activation_policy(run, server: str, policy: str) -> None:
    send(run, "Set-MailboxServer", {"Identity": server, "DatabaseCopyAutoActivationPolicy": policy}, server)


def reseed(run, name: str, server: str, status: str | None) -> None:
    """Reseed one copy (runbooks §6.1): suspend it unless it already is (FailedAndSuspended), then
    ``Update-MailboxDatabaseCopy -DeleteExistingFiles`` (the failed copy's files are still there)."""
    identity = "%s\\%s" % (name, server)
    if status not in ("Suspended", "FailedAndSuspended"):
        send(run, "Suspend-MailboxDatabaseCopy", {"Identity": identity, "SuspendComment":
                                                  "exchange.dr: reseed for a datacenter failback", "Confirm": False},
             identity)
    send(run, "Update-MailboxDatabaseCopy", {"Identity": identity, "DeleteExistingFiles": None, "Confirm": False},
         identity)


# ----------------------------------------------------------------------------- Windows
def windows_connections(module) -> dict:
    """``windows_connections`` (member name -> ``windows_connection`` suboptions), validated against
    the suboptions of ``windows_connection``; secrets are added to the module's ``no_log_values``.
    Fails the module naming the member and the option when a value is not valid.  Keys are lower
    case."""
    given = module.params.get(WINDOWS_CONNECTIONS_OPTION) or {}
    validator = ArgumentSpecValidator(windows.WINDOWS_CONNECTION_SPEC)
    result = {}
    for member, options in given.items():
        if not isinstance(options, dict):
            module.fail_json(msg="%s.%s must be a dictionary of windows_connection suboptions, got %s"
                             % (WINDOWS_CONNECTIONS_OPTION, member, type(options).__name__))
        validated = validator.validate(options)
        module.no_log_values.update(getattr(validated, "_no_log_values", set()))
        if validated.error_messages:
            module.fail_json(msg="%s.%s: %s" % (WINDOWS_CONNECTIONS_OPTION, member,
                                                "; ".join(validated.error_messages)))
        result[str(member).lower()] = {key: value for key, value in validated.validated_parameters.items()
                                       if key in options and value is not None}
    return result


def windows_client_for(module, server: dict, connections: dict):
    """A Windows client for the Exchange server ``server`` (a ``servers`` row): the endpoint of
    ``windows_connections`` for it over ``windows_connection``, else WinRM on its FQDN."""
    merged = {key: value for key, value in (module.params.get("windows_connection") or {}).items() if value is not None}
    merged.update(connections.get((server.get("name") or "").lower(), {}))
    return windows.windows_client(module, server.get("fqdn") or server.get("name"), merged)


def endpoint_failure(name: str, exc: ConnectionFailure) -> ConnectionFailure:
    """``exc`` naming the member whose Windows endpoint failed and the options that set it."""
    return ConnectionFailure("Windows endpoint of %s (windows_connections.%s or windows_connection): %s"
                             % (name, name, exc.message), server=exc.server, port=exc.port)


def cluster_service_status(client) -> str | None:
    found = windows.get_service(client, CLUSTER_SERVICE)
    return found["status"] if found else None


def stop_cluster_service_begin(run, server: str) -> dict:
    """Record ``Stop-Service ClusSvc`` on ``server`` in the run's actions (and progress); returns
    the action, for :func:`stop_cluster_service_end`."""
    action = {"cmdlet": "Stop-Service", "target": server, "parameters": {"Name": CLUSTER_SERVICE},
              "status": "planned" if run.check_mode else "sent"}
    run.actions.append(action)
    if run.check_mode:
        run.progress("check mode: would run Stop-Service %s on %s" % (CLUSTER_SERVICE, server))
    else:
        run.progress("Stop-Service %s on %s" % (CLUSTER_SERVICE, server))
    return action


def stop_cluster_service_end(action: dict, client, server: str, status: str | None = None) -> None:
    """Send the ``Stop-Service`` of :func:`stop_cluster_service_begin` and mark it done or failed.
    ``status``: the service's status just read on ``server``; when known (and not Stopped) the
    cmdlet is sent at once, otherwise the service is read first (a missing service raises)."""
    try:
        if status and status != "Stopped":
            client.invoke("Stop-Service", {"Name": CLUSTER_SERVICE})
        else:
            windows.set_service_state(client, CLUSTER_SERVICE, "stopped")
    except ExchangeError:
        action["status"] = "failed"
        raise
    action["status"] = "done"


def stop_cluster_service(run, client, server: str, status: str | None = None) -> None:
    """``Stop-Service ClusSvc`` on a member (runbooks §5.2 step 3), recorded in the run's actions;
    ``status`` as for :func:`stop_cluster_service_end`.  Check mode only records it."""
    action = stop_cluster_service_begin(run, server)
    if not run.check_mode:
        stop_cluster_service_end(action, client, server, status)


def cluster_nodes(client) -> list | None:
    """Names of the cluster's nodes as a member sees them; None when the cluster cannot be read
    (no quorum, or the cluster service stopped)."""
    try:
        return [node["name"] for node in windows.get_cluster_nodes(client)]
    except ExchangeCommandError as exc:
        if exc.category in CLUSTER_UNAVAILABLE_CATEGORIES or "cluster service is not running" in exc.message:
            return None
        raise
