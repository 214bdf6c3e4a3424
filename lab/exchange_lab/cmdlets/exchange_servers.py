"""Exchange 2013+ server cmdlets: mailbox server settings, server component states,
transport queues and Test-ReplicationHealth.

Get-* not-found: non-terminating error; Set-*/actions: terminating (lab/README-model.md).
"""

from __future__ import annotations

import re
from typing import Any

from .. import errors, objects
from ..model import activation, durations
from ..model.components import DRAINABLE, EXEMPT_FROM_SWO, REQUESTERS, STATES
from ..registry import READ, WRITE, cmdlet
from .exchange_common import (
    argument_error,
    begin,
    matches,
    no_change_warning,
    not_found,
    resolve_servers,
    task_class,
    task_error,
    text_of,
    texts_of,
)

T_SET_MAILBOX_SERVER = task_class("SetMailboxServer")
T_GET_COMPONENT = task_class("GetServerComponentState")
T_SET_COMPONENT = task_class("SetServerComponentState")
T_GET_QUEUE = "Microsoft.Exchange.Management.QueueViewerTasks.GetQueue"
T_REDIRECT = "Microsoft.Exchange.Management.QueueViewerTasks.RedirectMessage"
T_TEST_REPLICATION = "Microsoft.Exchange.Monitoring.TestReplicationHealth"

POLICIES = ("Unrestricted", "IntrasiteOnly", "Blocked")
MOUNT_DIALS = ("Lossless", "GoodAvailability", "BestAvailability")


def _exchange_2010_plus(host: Any) -> bool:
    return getattr(host, "kind", None) == "exchange" and getattr(host, "version", "") in (
        "2010",
        "2013",
        "2016",
        "2019",
    )


def _exchange_2013_plus(host: Any) -> bool:
    return getattr(host, "kind", None) == "exchange" and getattr(host, "version", "") in ("2013", "2016", "2019")


def _canonical(inv: Any, value: Any, allowed: tuple[str, ...], param: str, task: str) -> str:
    text = text_of(value)
    for a in allowed:
        if text is not None and a.lower() == text.lower():
            return a
    raise argument_error(
        inv,
        f'Cannot convert value "{text}" of parameter {param}. Valid values are: ' f"{', '.join(allowed)}.",
        task,
        target=text,
    )


# ------------------------------------------------------------------ Set-MailboxServer
_MODELLED = {
    "DatabaseCopyAutoActivationPolicy": "auto_activation_policy",
    "DatabaseCopyActivationDisabledAndMoveNow": "activation_disabled_and_move_now",
    "AutoDatabaseMountDial": "mount_dial",
    "MaximumActiveDatabases": "max_active",
    "MaximumPreferredActiveDatabases": "max_preferred_active",
}
_NOT_SETTINGS = {"Identity", "DomainController"}
_UNSET = object()


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "$true", "1")
    return bool(value)


def _as_optional_int(inv: Any, value: Any, param: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("", "$null", "unlimited"):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise argument_error(
            inv,
            f'Cannot convert value "{value}" of parameter {param} to type "System.Int32".',
            T_SET_MAILBOX_SERVER,
            target=str(value),
        ) from None
    if n < 0:
        raise argument_error(
            inv, f"The value {n} of parameter {param} must be 0 or greater.", T_SET_MAILBOX_SERVER, target=str(n)
        )
    return n


@cmdlet("Set-MailboxServer", syntax="exchange", rbac=WRITE, available_on=_exchange_2010_plus)
def set_mailbox_server(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        identity = text_of(inv.get("Identity"))
        servers = resolve_servers(inv, identity, T_SET_MAILBOX_SERVER, terminating=True)
        if len(servers) != 1:
            raise task_error(
                inv,
                f"The identity '{identity}' matches multiple servers. Specify a unique value.",
                "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
                T_SET_MAILBOX_SERVER,
                target=identity,
            )
        srv = servers[0]
        new: dict[str, Any] = {}
        for param, value in inv.params.items():
            if param in _NOT_SETTINGS:
                continue
            if param == "DatabaseCopyAutoActivationPolicy":
                new[param] = _canonical(inv, value, POLICIES, param, T_SET_MAILBOX_SERVER)
            elif param == "AutoDatabaseMountDial":
                new[param] = _canonical(inv, value, MOUNT_DIALS, param, T_SET_MAILBOX_SERVER)
            elif param == "DatabaseCopyActivationDisabledAndMoveNow":
                new[param] = _as_bool(value)
            elif param in ("MaximumActiveDatabases", "MaximumPreferredActiveDatabases"):
                new[param] = _as_optional_int(inv, value, param)
            else:
                new[param] = value
        changed = False
        move_now = False
        for param, value in new.items():
            attr = _MODELLED.get(param)
            if attr is not None:
                if getattr(srv, attr) != value:
                    if attr == "activation_disabled_and_move_now" and value:
                        move_now = True
                    setattr(srv, attr, value)
                    changed = True
            elif srv.other_settings.get(param, _UNSET) != value:
                srv.other_settings[param] = value
                changed = True
        if move_now:
            _schedule_move_off(lab, srv.name)
    if not changed:
        no_change_warning(inv, srv.name)


def _schedule_move_off(lab: Any, server: str) -> None:
    """DatabaseCopyActivationDisabledAndMoveNow $true: Active Manager moves the server's
    active databases away at once, one switchover after another (each takes the modelled
    switchover time); a database still on the server when its turn comes moves to its
    best eligible copy (BCSS, Blocked servers excluded)."""
    dbs = [db for db in lab.active_databases(server) if db.replicated]
    for k, db in enumerate(dbs, start=1):

        def move(db: Any = db) -> None:
            srv = lab.server(server)
            if srv is None or not srv.activation_disabled_and_move_now:
                return
            if db.active_server.lower() == server.lower():
                activation.move_database(lab, db, reason="DatabaseCopyActivationDisabledAndMoveNow")

        lab.schedule(k * durations.SWITCHOVER_PER_DATABASE_S, move, f"move {db.name} off {server}")


# ------------------------------------------------------------- server component states
@cmdlet("Get-ServerComponentState", syntax="exchange", rbac=READ, available_on=_exchange_2013_plus)
def get_server_component_state(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        servers = resolve_servers(inv, text_of(inv.get("Identity")), T_GET_COMPONENT, terminating=False)
        component = text_of(inv.get("Component"))
        out = []
        for srv in servers:
            if component is not None:
                comp = srv.components.get(component)
                if comp is None:
                    inv.write_error(
                        argument_error(inv, _invalid_component(component), T_GET_COMPONENT, target=component)
                    )
                    continue
                out.append(objects.component_state(lab, srv, comp.name))
            else:
                out.extend(objects.component_state(lab, srv, name) for name in srv.components.names())
    for o in out:
        inv.write_output(o)


def _invalid_component(name: str) -> str:
    return f"The component name '{name}' is not valid."


@cmdlet("Set-ServerComponentState", syntax="exchange", rbac=WRITE, available_on=_exchange_2013_plus)
def set_server_component_state(inv: Any) -> None:
    lab = inv.lab
    component = text_of(inv.get("Component")) or ""
    requester_in = text_of(inv.get("Requester")) or ""
    state_in = text_of(inv.get("State")) or ""
    local_only = bool(inv.get("LocalOnly"))
    remote_only = bool(inv.get("RemoteOnly"))
    with lab.lock:
        begin(inv)
        identity = text_of(inv.get("Identity"))
        servers = resolve_servers(inv, identity, T_SET_COMPONENT, terminating=True)
        srv = servers[0]
        comp = srv.components.get(component)
        if comp is None:
            raise argument_error(inv, _invalid_component(component), T_SET_COMPONENT, target=component)
        if local_only and comp.name in EXEMPT_FROM_SWO:
            raise argument_error(
                inv,
                f"The LocalOnly parameter can't be used with the {comp.name} component.",
                T_SET_COMPONENT,
                target=comp.name,
            )
        requester = next((r for r in REQUESTERS if r.lower() == requester_in.lower()), None)
        if requester is None:
            raise argument_error(
                inv,
                f"The requester '{requester_in}' is not valid. Valid requesters are: " f"{','.join(REQUESTERS)}.",
                T_SET_COMPONENT,
                target=requester_in,
            )
        if local_only and remote_only:
            raise argument_error(
                inv, "The LocalOnly and RemoteOnly parameters can't be used together.", T_SET_COMPONENT
            )
        state = next((s for s in STATES if s.lower() == state_in.lower()), None)
        if state is None:
            raise argument_error(
                inv,
                f'Cannot convert value "{state_in}" of parameter State. Valid values are: ' f"{', '.join(STATES)}.",
                T_SET_COMPONENT,
                target=state_in,
            )
        if state == "Draining" and comp.name not in DRAINABLE:
            raise argument_error(
                inv,
                f"The Draining state is valid only for the {' and '.join(DRAINABLE)} components. "
                f"Set component '{comp.name}' to Active or Inactive.",
                T_SET_COMPONENT,
                target=comp.name,
            )
        when = lab.clock.now()
        write_local = not remote_only
        if write_local and not srv.up:
            # the registry of a server that is down can't be written; AD still can
            if local_only:
                raise argument_error(
                    inv,
                    f"Server '{srv.fqdn}' couldn't be reached to update the local component "
                    f"state: The network path was not found.",
                    T_SET_COMPONENT,
                    target=srv.fqdn,
                )
            write_local = False
        comp.set(requester, state, when, local=write_local, remote=not local_only)


# ------------------------------------------------------------------------ transport
_FILTER_RE = re.compile(
    r"^\s*\{?\s*\$?_?\.?(\w+)\s+-(eq|ne|gt|lt|ge|le|like|notlike)\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+?))\s*\}?\s*$", re.I
)


def _queue_filter(inv: Any, text: str) -> list[tuple[str, str, str]]:
    """The supported -Filter subset: ``Property -op value`` terms joined by ``-and``."""
    terms = []
    for part in re.split(r"\s+-and\s+", text.strip().strip("{}"), flags=re.I):
        m = _FILTER_RE.match(part)
        if not m:
            raise argument_error(
                inv,
                f'The lab\'s Get-Queue supports only filters of the form "Property -op Value" '
                f"joined by -and (operators -eq -ne -gt -lt -ge -le -like -notlike); "
                f'"{text}" is not supported.',
                T_GET_QUEUE,
                target=text,
            )
        prop, op, v1, v2, v3 = m.groups()
        terms.append((prop, op.lower(), next(v for v in (v1, v2, v3) if v is not None)))
    return terms


def _queue_value(srv: Any, q: Any, prop: str) -> Any:
    return {
        "identity": f"{srv.name}\\{q.name}",
        "messagecount": q.message_count,
        "status": q.status,
        "deliverytype": q.delivery_type,
        "nexthopdomain": q.next_hop_domain,
        "nexthopcategory": q.next_hop_category,
    }.get(prop.lower(), _UNSET)


def _term_ok(inv: Any, srv: Any, q: Any, term: tuple[str, str, str]) -> bool:
    prop, op, raw = term
    value = _queue_value(srv, q, prop)
    if value is _UNSET:
        raise argument_error(
            inv,
            f"The lab's Get-Queue can't filter on property '{prop}' (supported: Identity, "
            f"MessageCount, Status, DeliveryType, NextHopDomain, NextHopCategory).",
            T_GET_QUEUE,
            target=prop,
        )
    if isinstance(value, int):
        try:
            other: Any = int(raw)
        except ValueError:
            raise argument_error(inv, f"'{raw}' is not a number.", T_GET_QUEUE, target=raw) from None
    else:
        other = raw
        value = str(value)
    if op in ("like", "notlike"):
        hit = matches(str(other), str(value))
        return hit if op == "like" else not hit
    if isinstance(value, str):
        value, other = value.lower(), str(other).lower()
    return {
        "eq": value == other,
        "ne": value != other,
        "gt": value > other,
        "lt": value < other,
        "ge": value >= other,
        "le": value <= other,
    }[op]


def _transport_down(inv: Any, srv: Any, task: str) -> errors.PSError:
    return task_error(
        inv,
        f'Failed to connect to the Microsoft Exchange Transport service on computer "{srv.name}". '
        f"Verify that a valid computer name was used and the Microsoft Exchange Transport service is started.",
        "Microsoft.Exchange.Data.QueueViewer.QueueViewerException",
        task,
        category=errors.RESOURCE_UNAVAILABLE,
        target=srv.name,
    )


@cmdlet("Get-Queue", syntax="exchange", rbac=READ, available_on=_exchange_2010_plus)
def get_queue(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        identity = text_of(inv.get("Identity"))
        pairs: list[tuple] = []
        if identity is not None:
            server_part, _, queue_part = identity.partition("\\")
            servers = resolve_servers(inv, server_part, T_GET_QUEUE, terminating=False)
            for srv in servers:
                if not srv.up:
                    inv.write_error(_transport_down(inv, srv, T_GET_QUEUE))
                    continue
                hits = [(srv, q) for q in srv.queues if matches(queue_part or "*", q.name)]
                if not hits:
                    inv.write_error(
                        task_error(
                            inv,
                            f'The queue "{identity}" couldn\'t be found on server "{srv.name}".',
                            "Microsoft.Exchange.Data.QueueViewer.QueueViewerException",
                            T_GET_QUEUE,
                            category=errors.OBJECT_NOT_FOUND,
                            target=identity,
                        )
                    )
                pairs.extend(hits)
        else:
            server = text_of(inv.get("Server")) or inv.host.name
            for srv in resolve_servers(inv, server, T_GET_QUEUE, terminating=False):
                if not srv.up:
                    inv.write_error(_transport_down(inv, srv, T_GET_QUEUE))
                    continue
                pairs.extend((srv, q) for q in srv.queues)
        filt = text_of(inv.get("Filter"))
        if filt:
            terms = _queue_filter(inv, filt)
            pairs = [(s, q) for s, q in pairs if all(_term_ok(inv, s, q, t) for t in terms)]
        include = [t.lower() for t in texts_of(inv.get("Include"))]
        exclude = [t.lower() for t in texts_of(inv.get("Exclude"))]
        if include:
            pairs = [
                (s, q) for s, q in pairs if q.delivery_type.lower() in include or q.next_hop_category.lower() in include
            ]
        if exclude:
            pairs = [
                (s, q)
                for s, q in pairs
                if q.delivery_type.lower() not in exclude and q.next_hop_category.lower() not in exclude
            ]
        size = inv.get("ResultSize")
        if size is not None and str(size).lower() != "unlimited":
            pairs = pairs[: int(size)]
        out = [objects.queue(lab, s, q) for s, q in pairs]
    for o in out:
        inv.write_output(o)


@cmdlet("Redirect-Message", syntax="exchange", rbac=WRITE, available_on=_exchange_2013_plus)
def redirect_message(inv: Any) -> None:
    """Moves every queued message of ``-Server`` (shadow queues excepted) to the
    Submission queue of ``-Target`` (an FQDN of another Mailbox server).  ``-Target`` is a
    MultiValuedProperty, so the binder hands over a list; the messages go to its first
    server (the lab does not spread them over several targets)."""
    lab = inv.lab
    with lab.lock:
        begin(inv)
        source = resolve_servers(inv, text_of(inv.get("Server")), T_REDIRECT, terminating=True)[0]
        targets = inv.get("Target")
        if isinstance(targets, (list, tuple)):
            targets = targets[0] if targets else None
        target_name = text_of(targets) or ""
        target = lab.server(target_name)
        if target is None:
            raise not_found(inv, target_name, T_REDIRECT)
        if target.name == source.name:
            raise argument_error(
                inv,
                f'The target server "{target_name}" must be a different server than the '
                f"server whose messages are redirected.",
                T_REDIRECT,
                target=target_name,
            )
        for srv in (source, target):
            if not srv.up:
                raise _transport_down(inv, srv, T_REDIRECT)
    if not lab.clock.sleep(durations.REDIRECT_MESSAGE_S, lambda: inv.stopping):
        return
    with lab.lock:
        moved = 0
        for q in source.queues:
            if not q.is_shadow and q.message_count:
                moved += q.message_count
                q.message_count = 0
        if moved:
            submission = next((q for q in target.queues if q.name == "Submission"), None)
            if submission is not None:
                submission.message_count += moved


# ------------------------------------------------------------ Test-ReplicationHealth
@cmdlet("Test-ReplicationHealth", syntax="exchange", rbac=READ, available_on=_exchange_2010_plus)
def test_replication_health(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        identity = text_of(inv.get("Identity")) or inv.host.name
        servers = resolve_servers(inv, identity, T_TEST_REPLICATION, terminating=False)
        out = []
        for srv in servers:
            for check, result, error in replication_checks(lab, srv):
                out.append(objects.replication_check(srv.name, check, check, result, error))
    for o in out:
        inv.write_output(o)


def replication_checks(lab: Any, srv: Any) -> list[tuple[str, str, str | None]]:
    """The checks of runbooks §1.7, computed from the model: (check, result, error)."""
    dag = lab.dag(srv.dag) if srv.dag else None
    up = srv.up
    node = dag.cluster.node(srv.name) if dag else None
    q = lab.quorum(dag) if dag else None
    checks: list[tuple[str, str, str | None]] = []

    def add(check: str, ok: bool, error: str | None, warn: bool = False) -> None:
        checks.append((check, "Passed" if ok else ("Warning" if warn else "Failed"), None if ok else error))

    down_err = f"Server {srv.name} is not reachable."
    add(
        "ClusterService",
        up and node is not None and node.state != "Down",
        f"The Cluster service on server {srv.name} is not running or the node is down.",
    )
    for name in ("ReplayService", "ActiveManager", "TasksRpcListener", "TcpListener", "ServerLocatorService"):
        ok = up if name != "ActiveManager" else lab.is_operational(srv.name)
        add(name, ok, down_err if not up else f"Active Manager on {srv.name} is not operational.")
    if dag is not None:
        down = [n.name for n in dag.cluster.nodes.values() if n.state == "Down" or not lab.is_reachable_host(n.name)]
        add(
            "DagMembersUp",
            not down,
            f"The following servers in the database availability group are not up: {', '.join(down)}.",
        )
        add("ClusterNetwork", not down, f"Network interfaces of {', '.join(down)} are unreachable.")
        add("QuorumGroup", q["has_quorum"], f"The cluster of {dag.name} has lost quorum.")
        if q["model"] == "NodeAndFileShareMajority":
            add("FileShareQuorum", q["witness_up"], f"The file share witness {q['witness']} is not reachable.")
        else:
            add("FileShareQuorum", True, None)
    dbs = lab.databases_on(srv.name)
    no_redundancy, no_availability, suspended, failed, initializing, disconnected, copy_behind, replay_behind = (
        [] for _ in range(8)
    )
    for db in dbs:
        healthy = [c for c in db.copies if lab.copy_status(db, c) in ("Healthy", "Mounted")]
        if db.replicated and len(healthy) < 2:
            no_redundancy.append(db.name)
        if db.replicated and not activation.ranked_candidates(lab, db):
            no_availability.append(db.name)
        c = db.copy_on(srv.name)
        status = lab.copy_status(db, c)
        if status in ("Suspended", "FailedAndSuspended"):
            suspended.append(c.identity)
        if status in ("Failed", "FailedAndSuspended"):
            failed.append(c.identity)
        if status == "Initializing":
            initializing.append(c.identity)
        if status.startswith("Disconnected"):
            disconnected.append(c.identity)
        if c.server.lower() != db.active_server.lower():
            if c.copy_queue >= 10:
                copy_behind.append(c.identity)
            if not c.replay_lag_s and c.replay_queue >= 50:
                replay_behind.append(c.identity)
    add(
        "DatabaseRedundancy",
        not no_redundancy,
        f"Databases with fewer than two healthy copies: {', '.join(no_redundancy)}.",
    )
    add(
        "DatabaseAvailability",
        not no_availability,
        f"Databases with no other copy available for activation: {', '.join(no_availability)}.",
    )
    add("DBCopySuspended", not suspended, f"Suspended database copies: {', '.join(suspended)}.")
    add("DBCopyFailed", not failed, f"Failed database copies: {', '.join(failed)}.")
    add("DBInitializing", not initializing, f"Database copies initializing: {', '.join(initializing)}.", warn=True)
    add("DBDisconnected", not disconnected, f"Disconnected database copies: {', '.join(disconnected)}.")
    add(
        "DBLogCopyKeepingUp",
        not copy_behind,
        f"Log copying is behind (copy queue of 10 or more) for: {', '.join(copy_behind)}.",
    )
    add(
        "DBLogReplayKeepingUp",
        not replay_behind,
        f"Log replay is behind (replay queue of 50 or more) for: {', '.join(replay_behind)}.",
    )
    return checks
