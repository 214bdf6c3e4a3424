"""Exchange 2013+ database and database-copy actions: Move-ActiveMailboxDatabase,
Mount-/Dismount-Database, Add-/Set-/Remove-/Suspend-/Resume-/Update-MailboxDatabaseCopy.

Specification: shared/reference/runbooks.md §1-§6 (cited below), the cmdlet pages of
MicrosoftDocs/office-docs-powershell and seed 003; choices are listed in
lab/README-model.md, "Database and DAG operations".  The model side is
``model/operations.py``.

Error conventions: identities that don't resolve and validation failures are
terminating (as every Set-*/action cmdlet of the lab); a switchover that Active Manager
refuses is a non-terminating error plus a result object with Status Failed (runbooks
§0.5: task failures are non-terminating errors; DSC runs moves with -ErrorAction Stop).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from .. import errors, psobj
from ..model import durations
from ..model import operations as ops
from ..psobj import make_object
from ..registry import WRITE, cmdlet
from .exchange_common import (
    argument_error,
    begin,
    invalid_operation,
    matches,
    no_change_warning,
    not_found,
    short_name,
    task_class,
    text_of,
)

T_MOVE = task_class("MoveActiveMailboxDatabase")
T_MOUNT = task_class("MountDatabase")
T_DISMOUNT = task_class("DismountDatabase")
T_ADD_COPY = task_class("AddMailboxDatabaseCopy")
T_SET_COPY = task_class("SetMailboxDatabaseCopy")
T_REMOVE_COPY = task_class("RemoveMailboxDatabaseCopy")
T_SUSPEND = task_class("SuspendDatabaseCopy")
T_RESUME = task_class("ResumeDatabaseCopy")
T_UPDATE = task_class("UpdateDatabaseCopy")

AM_ERROR = "Microsoft.Exchange.Cluster.Replay.AmDbActionWrapperException"
T_MOVE_RESULT = ["Microsoft.Exchange.Management.SystemConfigurationTasks.DatabaseMoveResult"]
POLICIES = ("Unrestricted", "IntrasiteOnly", "Blocked")


def exchange_2013_plus(host: Any) -> bool:
    return getattr(host, "kind", None) == "exchange" and getattr(host, "version", "") in ("2013", "2016", "2019")


# ------------------------------------------------------------------ confirmation
def require_confirmation(inv: Any, action: str, task: str, *, built_in_pause: bool) -> None:
    """ShouldProcess over remote PowerShell (runbooks §0.3).  A cmdlet with a built-in
    pause (ConfirmImpact High) prompts unless ``-Confirm:$false``; any cmdlet prompts with
    a bare ``-Confirm``.  A remote session has no interactive host to answer, so the
    prompt fails the pipeline as PowerShell does when it cannot prompt
    (``HostException``, FullyQualifiedErrorId ``HostFunctionNotImplemented``, category
    NotImplemented, message "A command that prompts the user failed because the host
    program or the command type does not support user interaction. The host was
    attempting to request confirmation with the following message: ...")."""
    confirm = inv.common.get("Confirm")
    if confirm is False or (confirm is None and not built_in_pause):
        return
    message = f"Are you sure you want to perform this action?\n{action}"
    raise errors.PSError(
        message=(
            "A command that prompts the user failed because the host program or the command type does not "
            "support user interaction. The host was attempting to request confirmation with the following "
            f"message: {message}"
        ),
        fqid=f"HostFunctionNotImplemented,{task}",
        category=errors.NOT_IMPLEMENTED,
        exception_types=[
            "System.Management.Automation.Host.HostException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
        ],
        activity=inv.name,
    )


# ------------------------------------------------------------------------ errors
def am_message(detail: str, db: str, server_fqdn: str) -> str:
    """Active Manager's error text (shape of the real errors in the search index)."""
    return f"An Active Manager operation failed. Error: The database action failed. Error: {detail} [Database: {db}, Server: {server_fqdn}]"


def am_error(inv: Any, message: str, task: str, target: str) -> errors.PSError:
    return errors.exchange_error(
        message,
        AM_ERROR,
        server=inv.host.name,
        cmdlet=inv.name,
        task_class=task,
        category=errors.INVALID_OPERATION,
        target=target,
    )


# -------------------------------------------------------------------- resolution
def resolve_database(inv: Any, identity: str | None, task: str) -> Any:
    lab = inv.lab
    text = identity or ""
    db = lab.database(text)
    if db is None:
        db = next((d for d in lab.databases.values() if str(d.guid).lower() == text.lower().strip("{}")), None)
    if db is None:
        found = [d for d in lab.databases.values() if any(ch in text for ch in "*?[") and matches(text, d.name)]
        if len(found) == 1:
            db = found[0]
    if db is None:
        raise not_found(inv, text, task)
    return db


def resolve_server(inv: Any, identity: str | None, task: str) -> Any:
    srv = inv.lab.server(identity or "")
    if srv is None:
        srv = inv.lab.server(short_name(identity or ""))
    if srv is None:
        raise not_found(inv, identity or "", task)
    return srv


def resolve_copy(inv: Any, identity: str | None, task: str) -> tuple[Any, Any]:
    """``<Database>\\<Server>`` (DatabaseCopyIdParameter)."""
    text = identity or ""
    db_part, sep, srv_part = text.partition("\\")
    if not sep or not db_part or not srv_part:
        raise argument_error(
            inv,
            f"The identity '{text}' isn't a database copy identity. Use the format <Database>\\<Server>.",
            task,
            target=text,
        )
    lab = inv.lab
    db = lab.database(db_part)
    srv = lab.server(srv_part) or lab.server(short_name(srv_part))
    c = db.copy_on(srv.name) if db is not None and srv is not None else None
    if c is None:
        raise not_found(inv, text, task)
    return db, c


def parse_timespan(inv: Any, value: Any, param: str, task: str) -> float:
    """EnhancedTimeSpan: a TimeSpan, or text as .NET parses it (``d``, ``[d.]h:m[:s[.f]]``)."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    text = str(value).strip()
    m = re.fullmatch(r"(-)?(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d+))?)?", text)
    if m:
        neg, d, h, mi, s, frac = m.groups()
        if int(h) > 23 or int(mi) > 59 or (s and int(s) > 59):
            m = None
        else:
            total = (
                int(d or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + int(s or 0) + (float(f"0.{frac}") if frac else 0.0)
            )
            return -total if neg else total
    if re.fullmatch(r"\d+", text):
        return int(text) * 86400.0
    raise argument_error(
        inv,
        f'Cannot convert value "{text}" of parameter {param} to type '
        f'"Microsoft.Exchange.Data.EnhancedTimeSpan". Use the format dd.hh:mm:ss.',
        task,
        target=text,
    )


def lag_value(inv: Any, value: Any, param: str, task: str) -> float:
    seconds = parse_timespan(inv, value, param, task)
    if seconds < 0 or seconds > ops.MAX_LAG_S:
        raise argument_error(
            inv,
            f"The value of parameter {param} must be between 00:00:00 and 14.00:00:00 "
            f"(14 days); '{ops.timespan_text(abs(seconds))}' is out of range.",
            task,
        )
    return seconds


def quorum_message(dag: Any) -> str:
    # wording of the real Active Manager error (search index)
    return (
        "An Active Manager operation encountered an error. To perform this operation, the server must be a "
        f"member of a database availability group, and the database availability group must have quorum. "
        f"Error: The cluster of database availability group '{dag.name}' doesn't have quorum."
    )


def sleep_with_progress(inv: Any, modelled_s: float, activity: str, status: str) -> bool:
    """Wait ``modelled_s`` lab seconds (lock released), writing progress records."""
    steps = 4
    for i in range(steps):
        inv.write_progress(activity, status, int(100 * i / steps))
        if not inv.lab.clock.sleep(modelled_s / steps, lambda: inv.stopping):
            return False
    inv.write_progress(activity, status, 100)
    return True


# ------------------------------------------------------ Move-ActiveMailboxDatabase
def _skips(inv: Any) -> ops.Skips:
    if inv.get("SkipAllChecks"):
        return ops.Skips.all()
    return ops.Skips(
        health=bool(inv.get("SkipHealthChecks")),
        active_copy=bool(inv.get("SkipActiveCopyChecks")),
        lag=bool(inv.get("SkipLagChecks")),
        client_experience=bool(inv.get("SkipClientExperienceChecks")),
        max_active=bool(inv.get("SkipMaximumActiveDatabasesChecks")),
        cpu=bool(inv.get("SkipCpuChecks")),
        move_suppression=bool(inv.get("SkipMoveSuppressionChecks")),
    )


def _dial_override(inv: Any) -> str | None:
    if not inv.has("MountDialOverride"):
        return None
    text = text_of(inv.get("MountDialOverride")) or ""
    for v in ops.MOUNT_DIAL_OVERRIDES:
        if v.lower() == text.lower():
            return v
    raise argument_error(
        inv,
        f'Cannot convert value "{text}" of parameter MountDialOverride. Valid values are: '
        f"{', '.join(ops.MOUNT_DIAL_OVERRIDES)}.",
        T_MOVE,
        target=text,
    )


def move_result(
    db: Any,
    start: str,
    end: str,
    status: str,
    error: str | None,
    mount_start: str,
    mount_end: str,
    lost: int | None,
    rpo: datetime.datetime | None,
) -> Any:
    """object-properties §9: one result object per database."""
    return make_object(
        T_MOVE_RESULT,
        {
            "Identity": db.name,
            "ActiveServerAtStart": start,
            "ActiveServerAtEnd": end,
            "Status": status,
            "ErrorMessage": error,
            "MountStatusAtMoveStart": mount_start,
            "MountStatusAtMoveEnd": mount_end,
            "NumberOfLogsLost": psobj.ps_int64(lost) if lost is not None else None,
            "RecoveryPointObjective": rpo,
            "IsValid": True,
            "ObjectState": "New",
        },
        to_string=db.name,
    )


def _mount_status(db: Any) -> str:
    return "Mounted" if db.mount_state == "Mounted" else "Dismounted"


def _choose_target(
    lab: Any, db: Any, target: str | None, skips: ops.Skips, override: str | None
) -> tuple[Any, str | None, str]:
    """(target copy, None, "") or (None, Active Manager message, fqdn for the message)."""
    src = lab.server(db.active_server)
    src_fqdn = src.fqdn if src else db.active_server
    dag = lab.dag(db.dag) if db.dag else None
    if dag is not None and not lab.quorum(dag)["has_quorum"]:
        return None, am_message(quorum_message(dag), db.name, src_fqdn), src_fqdn
    if target is not None:
        srv = lab.server(target)
        if srv.name.lower() == db.active_server.lower():
            # lab's wording: the move is refused, the database stays where it is
            return (
                None,
                am_message(f"The database '{db.name}' is already active on server '{srv.name}'.", db.name, srv.fqdn),
                srv.fqdn,
            )
        c = db.copy_on(srv.name)
        if c is None:
            return (
                None,
                am_message(f"Server '{srv.name}' doesn't host a copy of database '{db.name}'.", db.name, srv.fqdn),
                srv.fqdn,
            )
        reason = ops.move_block(lab, db, c, skips, explicit=True)
        if reason is None:
            dial = ops.effective_dial(lab, c, override)
            lost = ops.logs_lost(lab, db, c)
            if not ops.dial_allows(dial, lost):
                reason = (
                    f"The database '{db.name}' can't be mounted on server '{srv.name}': {lost} log(s) would be "
                    f"lost, more than the mount dial '{dial}' allows ({ops.DIAL_LIMITS[dial]})."
                )
        if reason is not None:
            return (
                None,
                am_message(
                    "An error occurred while trying to validate the specified database copy for "
                    f"possible activation. Error: {reason}",
                    db.name,
                    srv.fqdn,
                ),
                srv.fqdn,
            )
        return c, None, ""
    # targetless: Active Manager's best copy selection (runbooks §1.4, §2 "Preconditions")
    lossless = override in (None, "Lossless")
    ranked = ops.ranked_for_move(lab, db, lossless=lossless)
    reasons: list[str] = []
    for c in ranked:
        reason = ops.move_block(lab, db, c, skips, explicit=False)
        if reason is None:
            dial = ops.effective_dial(lab, c, override)
            lost = ops.logs_lost(lab, db, c)
            if ops.dial_allows(dial, lost):
                return c, None, ""
            reason = f"{lost} log(s) would be lost, more than the mount dial '{dial}' allows ({ops.DIAL_LIMITS[dial]})."
        reasons.append(f"{c.server}: {reason}")
    for c in db.copies:
        if c.server.lower() != db.active_server.lower() and c not in ranked:
            reason = ops.move_block(lab, db, c, skips, explicit=False) or (
                f"Database copy '{db.name}' on server '{c.server}' has status '{lab.copy_status(db, c)}', which "
                f"doesn't meet the activation criteria."
            )
            reasons.append(f"{c.server}: {reason}")
    detail = (
        "An error occurred while trying to select a database copy for possible activation. Error: The database "
        f"'{db.name}' was not mounted because errors occurred either while validating database copies for "
        f"possible activation, or while attempting to activate another copy. Detailed error(s): " + " ".join(reasons)
    )
    return None, am_message(detail, db.name, src_fqdn), src_fqdn


def _fail(inv: Any, db: Any, message: str, target: str, mount_start: str) -> list[tuple[str, Any]]:
    """A refused switchover: a Failed result object and a non-terminating error, to be
    written (``flush``) once the lab lock is released."""
    result = move_result(
        db, db.active_server, db.active_server, "Failed", message, mount_start, _mount_status(db), None, None
    )
    return [("output", result), ("error", am_error(inv, message, T_MOVE, target))]


def flush(inv: Any, pending: list[tuple[str, Any]]) -> None:
    """Write collected records (never while holding the lab lock)."""
    for kind, item in pending:
        if kind == "output":
            inv.write_output(item)
        elif kind == "error":
            inv.write_error(item)
        else:
            inv.write_warning(item)


@cmdlet("Move-ActiveMailboxDatabase", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def move_active_mailbox_database(inv: Any) -> None:
    """runbooks §2 (database switchover), §3.1 (server switchover, -Server), §4
    (-ActivatePreferredOnServer), §1.3-§1.5 (dial, BCSS, checks); seed 003 (no healthy
    target: error, the database stays mounted)."""
    lab = inv.lab
    skips = _skips(inv)
    override = _dial_override(inv)
    with lab.lock:
        begin(inv)
        target_name: str | None = None
        if inv.has("ActivateOnServer") and inv.get("ActivateOnServer") is not None:
            target_name = resolve_server(inv, text_of(inv.get("ActivateOnServer")), T_MOVE).name
        if inv.parameter_set == "Server":
            source = resolve_server(inv, text_of(inv.get("Server")), T_MOVE)
            dbs = [db for db in lab.active_databases(source.name) if db.replicated]
            action = f'Moving all active mailbox databases from server "{source.fqdn}"' + (
                f' to server "{lab.server(target_name).fqdn}".' if target_name else "."
            )
        elif inv.parameter_set == "ActivatePreferred":
            pref = resolve_server(inv, text_of(inv.get("ActivatePreferredOnServer")), T_MOVE)
            target_name = pref.name
            dbs = [
                db
                for db in lab.databases.values()
                if db.replicated
                and (c := db.copy_on(pref.name)) is not None
                and c.preference == 1
                and db.active_server.lower() != pref.name.lower()
            ]
            action = (
                f"Activating every mailbox database whose copy with activation preference 1 is on server "
                f'"{pref.fqdn}".'
            )
        else:
            db = resolve_database(inv, text_of(inv.get("Identity")), T_MOVE)
            if not db.replicated:
                raise invalid_operation(
                    inv,
                    f"The database '{db.name}' has only one copy and can't be moved (ReplicationType None).",
                    T_MOVE,
                    target=db.name,
                )
            dbs = [db]
            src = lab.server(db.active_server)
            action = f'Moving mailbox database "{db.name}" from server "{src.fqdn if src else db.active_server}"' + (
                f' to server "{lab.server(target_name).fqdn}".' if target_name else "."
            )
        if target_name is not None and inv.parameter_set in ("Identity", "SkipAllChecks"):
            for db in dbs:
                if db.copy_on(target_name) is None:
                    raise invalid_operation(
                        inv,
                        f"Server '{target_name}' doesn't host a copy of database '{db.name}'.",
                        T_MOVE,
                        target=target_name,
                    )
    require_confirmation(inv, action, T_MOVE, built_in_pause=True)

    if inv.get("MoveAllDatabasesOrNone") and len(dbs) > 1:
        pending: list[tuple[str, Any]] = []
        with lab.lock:
            begin(inv)
            failures = {}
            for db in dbs:
                c, message, fqdn = _choose_target(lab, db, target_name, skips, override)
                if c is None:
                    failures[db.name] = (message, fqdn)
            if failures:
                for db in dbs:
                    if db.name in failures:
                        message, fqdn = failures[db.name]
                    else:
                        message = (
                            f"Database '{db.name}' wasn't moved because -MoveAllDatabasesOrNone was specified "
                            f"and database(s) {', '.join(failures)} can't be moved."
                        )
                        fqdn = db.active_server
                    pending += _fail(inv, db, message, fqdn, _mount_status(db))
        if pending:
            flush(inv, pending)
            return
    for index, db in enumerate(dbs):
        if inv.stopping:
            return
        _move_one(inv, db, target_name, skips, override, index, len(dbs))


def _move_one(
    inv: Any, db: Any, target_name: str | None, skips: ops.Skips, override: str | None, index: int, total: int
) -> None:
    """One database switchover (SEED003 internal sequence): Active Manager validates the
    target, the database is dismounted on the source, the remaining logs are copied and
    the target mounts; the cmdlet returns when that modelled work is done."""
    lab = inv.lab
    pending: list[tuple[str, Any]] = []
    with lab.lock:
        begin(inv)
        start = db.active_server
        mount_start = _mount_status(db)
        remount = db.mount_state in ("Mounted", "Mounting") or db.dismounted_by_system
        c, message, fqdn = _choose_target(lab, db, target_name, skips, override)
        if c is None:
            pending = _fail(inv, db, message or "", fqdn, mount_start)
        else:
            if skips.active_copy:
                ops.cancel_seeds_from_active(lab, db)
            duration = durations.SWITCHOVER_PER_DATABASE_S + (ops.SKIP_HEALTH_CHECKS_EXTRA_S if skips.health else 0.0)
            target = c.server
    if c is None:
        flush(inv, pending)
        return
    status = f"Moving mailbox database '{db.name}' from server '{start}' to server '{target}' ({index + 1} of {total})."
    if not sleep_with_progress(inv, duration, "Move-ActiveMailboxDatabase", status):
        return
    with lab.lock:
        begin(inv)
        c2, message, fqdn = (None, None, "")
        if db.active_server != start or db.copy_on(target) is not c:
            message = am_message(
                f"The active copy of database '{db.name}' changed during the move (now on server "
                f"'{db.active_server}').",
                db.name,
                db.active_server,
            )
        else:
            c2, message, fqdn = _choose_target(lab, db, target, skips, override)
        if c2 is None:
            pending = _fail(inv, db, message or "", fqdn or target, mount_start)
        else:
            lost = ops.logs_lost(lab, db, c)
            lab.activate_copy(db, target, mount=remount, initiator="Administrator")
            rpo = lab.clock.now().replace(microsecond=0)
            result = move_result(
                db, start, db.active_server, "Succeeded", None, mount_start, _mount_status(db), lost, rpo
            )
            pending = [("output", result)]
    flush(inv, pending)


# ------------------------------------------------------------ Mount / Dismount
def _active_server_problem(lab: Any, db: Any) -> str | None:
    """Why the active copy's server can't mount or dismount (Active Manager)."""
    srv = lab.server(db.active_server)
    if srv is None or not srv.up:
        return (
            f"A server-side administrative operation has failed. The Microsoft Exchange Replication service may "
            f"not be running on server {srv.fqdn if srv else db.active_server}."
        )
    dag = lab.dag(db.dag) if db.dag else None
    if dag is not None:
        if not lab.quorum(dag)["has_quorum"]:
            return quorum_message(dag)
        if any(s.lower() == srv.name.lower() for s in dag.stopped):
            # runbooks §5.2: "Stopped" is an Active Manager state that prevents mounting
            return (
                "An Active Manager operation encountered an error. To perform this operation, the server must be "
                "a member of a database availability group, and the database availability group must have "
                f"quorum. Error: Server '{srv.name}' is in the stopped servers list of database availability "
                f"group '{dag.name}'."
            )
        if dag.cluster.node(srv.name) is None:
            return f"Server '{srv.name}' isn't a node of the cluster of database availability group '{dag.name}'."
    return None


@cmdlet("Mount-Database", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def mount_database(inv: Any) -> None:
    """Mounts the active copy (runbooks §2 step 2, §5.5 step 3e).  Already mounted: nothing
    to do.  -Force / -AcceptDataLoss are accepted; the lab's active copy never misses
    committed logs, so they change nothing."""
    lab = inv.lab
    with lab.lock:
        begin(inv)
        db = resolve_database(inv, text_of(inv.get("Identity")), T_MOUNT)
        if db.mount_state in ("Mounted", "Mounting"):
            return
        # an injected failure or the DACP bit (model/failures.py) can stand in the way too
        problem = _active_server_problem(lab, db) or lab.mount_problem(db)
        if problem is not None:
            raise invalid_operation(
                inv,
                f"Couldn't mount the database that you specified. Specified database: "
                f"{db.name}; Error code: An Active Manager operation failed. Error: {problem}",
                T_MOUNT,
                target=db.name,
            )
    require_confirmation(inv, f'Mounting database "{db.name}".', T_MOUNT, built_in_pause=False)
    with lab.lock:
        begin(inv)
        lab.set_mount_state(db, "Mounting")

        def done() -> None:
            if db.mount_state == "Mounting":
                lab.set_mount_state(db, "Mounted")

        lab.schedule(durations.MOUNT_S, done, f"mount {db.name}")
    sleep_with_progress(inv, durations.MOUNT_S, "Mount-Database", f"Mounting database '{db.name}'.")
    with lab.lock:
        begin(inv)


@cmdlet("Dismount-Database", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def dismount_database(inv: Any) -> None:
    """Dismounts the active copy (runbooks §5.5 step 3b); it stays dismounted (an
    administrator dismount is not repaired by Active Manager).  Built-in pause."""
    lab = inv.lab
    with lab.lock:
        begin(inv)
        db = resolve_database(inv, text_of(inv.get("Identity")), T_DISMOUNT)
        srv = lab.server(db.active_server)
        if db.mount_state in ("Dismounted", "Dismounting") and not db.dismounted_by_system:
            return
        if srv is None or not srv.up:
            raise invalid_operation(
                inv,
                f"Couldn't dismount the database that you specified. Specified database: "
                f"{db.name}; Error code: The Microsoft Exchange Information Store service "
                f"on server {srv.fqdn if srv else db.active_server} isn't reachable.",
                T_DISMOUNT,
                target=db.name,
            )
    require_confirmation(
        inv,
        f'Dismounting database "{db.name}". This may result in reduced availability for ' f"mailboxes in the database.",
        T_DISMOUNT,
        built_in_pause=True,
    )
    with lab.lock:
        begin(inv)
        db.dismounted_by_system = False
        if db.mount_state == "Dismounted":
            return
        lab.set_mount_state(db, "Dismounting")

        def done() -> None:
            if db.mount_state == "Dismounting":
                lab.set_mount_state(db, "Dismounted")
                db.dismounted_by_system = False

        lab.schedule(durations.DISMOUNT_S, done, f"dismount {db.name}")
    sleep_with_progress(inv, durations.DISMOUNT_S, "Dismount-Database", f"Dismounting database '{db.name}'.")
    with lab.lock:
        begin(inv)


# ------------------------------------------------------------- copy management
def _require_quorum(inv: Any, db: Any, task: str) -> None:
    dag = inv.lab.dag(db.dag) if db.dag else None
    if dag is not None and not inv.lab.quorum(dag)["has_quorum"]:
        raise invalid_operation(
            inv,
            f"The database availability group '{dag.name}' must have quorum for this "
            f"operation. {quorum_message(dag)}",
            task,
            target=db.name,
        )


def _copy_server_up(inv: Any, c: Any, task: str) -> Any:
    srv = inv.lab.server(c.server)
    if srv is None or not srv.up:
        raise invalid_operation(
            inv,
            f"A server-side administrative operation has failed. The Microsoft Exchange "
            f"Replication service may not be running on server "
            f"{srv.fqdn if srv else c.server}.",
            task,
            target=c.identity,
        )
    return srv


def _not_active(inv: Any, db: Any, c: Any, task: str, what: str) -> None:
    if c.server.lower() == db.active_server.lower():
        raise invalid_operation(
            inv, f"Database copy '{c.identity}' is the active copy of the database; {what}", task, target=c.identity
        )


@cmdlet("Add-MailboxDatabaseCopy", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def add_mailbox_database_copy(inv: Any) -> None:
    """Adds a passive copy (PS:Add-MailboxDatabaseCopy): same DAG, DAG with quorum, no
    copy there yet, circular logging off for the second copy; ActivationPreference
    1..n+1 (default last; the others shift as Exchange renumbers); lags ≤ 14 days.  The
    copy seeds from the active copy (Seeding -> Initializing -> Healthy, the cmdlet waits
    for the seed) unless -SeedingPostponed / -ConfigurationOnly (then Suspended, "needs to
    be seeded")."""
    lab = inv.lab
    postponed = bool(inv.get("SeedingPostponed"))
    config_only = bool(inv.get("ConfigurationOnly"))
    with lab.lock:
        begin(inv)
        db = resolve_database(inv, text_of(inv.get("Identity")), T_ADD_COPY)
        srv = resolve_server(inv, text_of(inv.get("MailboxServer")), T_ADD_COPY)
        if not db.dag or (srv.dag or "").lower() != db.dag.lower():
            raise invalid_operation(
                inv,
                f"Server '{srv.name}' isn't a member of database availability group "
                f"'{db.dag}', which hosts database '{db.name}'.",
                T_ADD_COPY,
                target=srv.name,
            )
        if db.copy_on(srv.name) is not None:
            raise invalid_operation(
                inv,
                f"Server '{srv.name}' already hosts a copy of database '{db.name}'.",
                T_ADD_COPY,
                target=f"{db.name}\\{srv.name}",
            )
        if not config_only:
            _require_quorum(inv, db, T_ADD_COPY)
        if db.circular_logging and len(db.copies) == 1:
            raise invalid_operation(
                inv,
                f"Circular logging is enabled for database '{db.name}'. Disable it before "
                f"adding the first passive copy.",
                T_ADD_COPY,
                target=db.name,
            )
        preference = inv.get("ActivationPreference")
        if preference is not None and not 1 <= int(preference) <= len(db.copies) + 1:
            raise argument_error(
                inv,
                f"The activation preference {preference} is out of range: it must be between 1 "
                f"and the number of copies of database '{db.name}' ({len(db.copies) + 1}).",
                T_ADD_COPY,
                target=str(preference),
            )
        replay_lag = (
            lag_value(inv, inv.get("ReplayLagTime"), "ReplayLagTime", T_ADD_COPY) if inv.has("ReplayLagTime") else 0.0
        )
        trunc_lag = (
            lag_value(inv, inv.get("TruncationLagTime"), "TruncationLagTime", T_ADD_COPY)
            if inv.has("TruncationLagTime")
            else 0.0
        )
        max_delay = (
            parse_timespan(inv, inv.get("ReplayLagMaxDelay"), "ReplayLagMaxDelay", T_ADD_COPY)
            if inv.has("ReplayLagMaxDelay")
            else None
        )
        seeding = not (postponed or config_only)
        if not config_only and not srv.up:
            raise invalid_operation(
                inv,
                f"A server-side administrative operation has failed. The Microsoft Exchange "
                f"Replication service may not be running on server {srv.fqdn}. Use "
                f"-ConfigurationOnly to add the copy in Active Directory only.",
                T_ADD_COPY,
                target=srv.name,
            )
        if seeding and not lab.is_reachable(db.active_server):
            raise invalid_operation(
                inv,
                f"The active copy of database '{db.name}' on server '{db.active_server}' "
                f"can't be reached to seed the new copy. Use -SeedingPostponed.",
                T_ADD_COPY,
                target=db.name,
            )
    require_confirmation(
        inv, f'Adding a copy of mailbox database "{db.name}" on server "{srv.fqdn}".', T_ADD_COPY, built_in_pause=False
    )
    with lab.lock:
        begin(inv)
        files_present = db.name.lower() in ops.files_on(lab, srv)
        c = ops.add_copy(
            lab,
            db,
            srv,
            preference=int(preference) if preference is not None else None,
            replay_lag_s=replay_lag,
            truncation_lag_s=trunc_lag,
            replay_lag_max_delay_s=max_delay,
        )
        seed = None
        if not seeding:
            c.activation_suspended = True
            lab.set_copy_status(
                db,
                srv.name,
                "Suspended",
                suspend_comment=(
                    f"Replication is suspended for database copy '{db.name}' because database needs to be seeded."
                ),
            )
        elif files_present:
            # PS:Remove-MailboxDatabaseCopy leaves the files; seeding over them fails
            # (PS:Update-MailboxDatabaseCopy -DeleteExistingFiles).
            c.activation_suspended = True
            message = (
                f"The seeding operation failed for database copy '{c.identity}': files of database "
                f"'{db.name}' already exist at the target location on server '{srv.name}'. Run "
                f"Update-MailboxDatabaseCopy -Identity {c.identity} -DeleteExistingFiles."
            )
            lab.set_copy_status(db, srv.name, "FailedAndSuspended", error_message=message)
            failure = invalid_operation(inv, message, T_ADD_COPY, target=c.identity)
        else:
            seed = ops.start_seed(lab, db, c, db.active_server)
    if files_present and seeding:
        inv.write_error(failure)
    if seed is not None:
        _wait_seeds(inv, [(db, c, seed)], seed.duration_s, T_ADD_COPY)


def _wait_seeds(inv: Any, seeds: list[tuple[Any, Any, Any]], duration: float, task: str) -> None:
    names = ", ".join(c.identity for _, c, _ in seeds)
    sleep_with_progress(inv, duration, inv.name, f"Seeding database copy {names}.")
    pending: list[tuple[str, Any]] = []
    with inv.lab.lock:
        begin(inv)
        for db, c, seed in seeds:
            if seed.state == "Cancelled":
                message = (
                    f"The seeding operation for database copy '{c.identity}' was cancelled: "
                    f"{c.error_message or 'cancelled.'}"
                )
                pending.append(("error", invalid_operation(inv, message, task, target=c.identity)))
    flush(inv, pending)


@cmdlet("Set-MailboxDatabaseCopy", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def set_mailbox_database_copy(inv: Any) -> None:
    """ActivationPreference (1..n, the others renumbered), ReplayLagTime and
    TruncationLagTime (≤ 14 days), ReplayLagMaxDelay (2016+);
    DatabaseCopyAutoActivationPolicy is "reserved for internal Microsoft use" (runbooks
    §6.2): stored, no effect.  Removing a replay lag lets the copy replay its queue at 2
    logs/s (runbooks §6.3).  No change: the "no settings modified" warning."""
    lab = inv.lab
    with lab.lock:
        begin(inv)
        db, c = resolve_copy(inv, text_of(inv.get("Identity")), T_SET_COPY)
        new: dict[str, Any] = {}
        if inv.has("ActivationPreference"):
            pref = int(inv.get("ActivationPreference"))
            if not 1 <= pref <= len(db.copies):
                raise argument_error(
                    inv,
                    f"The activation preference {pref} is out of range: it must be between 1 "
                    f"and the number of copies of database '{db.name}' ({len(db.copies)}).",
                    T_SET_COPY,
                    target=str(pref),
                )
            new["ActivationPreference"] = pref
        for param in ("ReplayLagTime", "TruncationLagTime"):
            if inv.has(param):
                new[param] = lag_value(inv, inv.get(param), param, T_SET_COPY)
        if inv.has("ReplayLagMaxDelay"):
            delay = parse_timespan(inv, inv.get("ReplayLagMaxDelay"), "ReplayLagMaxDelay", T_SET_COPY)
            if delay < 0:
                raise argument_error(inv, "The value of parameter ReplayLagMaxDelay can't be negative.", T_SET_COPY)
            new["ReplayLagMaxDelay"] = delay
        if inv.has("DatabaseCopyAutoActivationPolicy"):
            text = text_of(inv.get("DatabaseCopyAutoActivationPolicy")) or ""
            policy = next((p for p in POLICIES if p.lower() == text.lower()), None)
            if policy is None:
                raise argument_error(
                    inv,
                    f'Cannot convert value "{text}" of parameter DatabaseCopyAutoActivationPolicy. '
                    f"Valid values are: {', '.join(POLICIES)}.",
                    T_SET_COPY,
                    target=text,
                )
            new["DatabaseCopyAutoActivationPolicy"] = policy
        identity = c.identity
    require_confirmation(inv, f'Setting mailbox database copy "{identity}".', T_SET_COPY, built_in_pause=False)
    with lab.lock:
        begin(inv)
        extras = ops.copy_extras(c)
        changed = False
        if "ActivationPreference" in new and new["ActivationPreference"] != c.preference:
            ops.set_preference(db, c, new["ActivationPreference"])
            changed = True
        if "ReplayLagTime" in new and new["ReplayLagTime"] != c.replay_lag_s:
            old, c.replay_lag_s = c.replay_lag_s, new["ReplayLagTime"]
            changed = True
            if c.replay_lag_s == 0 and old > 0 and c.server.lower() != db.active_server.lower():
                ops.schedule_lag_playdown(lab, db, c)
        if "TruncationLagTime" in new and new["TruncationLagTime"] != c.truncation_lag_s:
            c.truncation_lag_s = new["TruncationLagTime"]
            changed = True
        if "ReplayLagMaxDelay" in new and new["ReplayLagMaxDelay"] != extras["replay_lag_max_delay_s"]:
            extras["replay_lag_max_delay_s"] = new["ReplayLagMaxDelay"]
            changed = True
        policy = new.get("DatabaseCopyAutoActivationPolicy")
        if policy is not None and extras["settings"].get("DatabaseCopyAutoActivationPolicy") != policy:
            extras["settings"]["DatabaseCopyAutoActivationPolicy"] = policy
            changed = True
    if not changed:
        no_change_warning(inv, identity)


@cmdlet("Remove-MailboxDatabaseCopy", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def remove_mailbox_database_copy(inv: Any) -> None:
    """Removes a passive copy's configuration (PS:Remove-MailboxDatabaseCopy): not the
    active copy; the DAG must have quorum; not the last passive copy while circular
    logging is on.  The copy need not be suspended (not a documented requirement).  The
    files stay on the server.  Built-in pause (a Remove-* cmdlet)."""
    lab = inv.lab
    with lab.lock:
        begin(inv)
        db, c = resolve_copy(inv, text_of(inv.get("Identity")), T_REMOVE_COPY)
        _not_active(
            inv,
            db,
            c,
            T_REMOVE_COPY,
            "the active copy can't be removed. Remove the passive copies, then use Remove-MailboxDatabase.",
        )
        _require_quorum(inv, db, T_REMOVE_COPY)
        if db.circular_logging and len(db.copies) == 2:
            raise invalid_operation(
                inv,
                f"Circular logging is enabled for database '{db.name}'. Disable it before "
                f"removing its last passive copy.",
                T_REMOVE_COPY,
                target=c.identity,
            )
        identity = c.identity
    require_confirmation(inv, f'Removing mailbox database copy "{identity}".', T_REMOVE_COPY, built_in_pause=True)
    with lab.lock:
        begin(inv)
        if db.copy_on(c.server) is c:
            ops.remove_copy(lab, db, c)


@cmdlet("Suspend-MailboxDatabaseCopy", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def suspend_mailbox_database_copy(inv: Any) -> None:
    """Suspends replication of a passive copy: Status Suspended, ActivationSuspended True,
    SuspendComment; -ActivationOnly blocks only activation (replication continues,
    runbooks §6.2).  -EnableReplayLag ("reserved for internal Microsoft use") changes
    nothing.  Built-in pause (runbooks §0.3: Microsoft's examples pass -Confirm:$false)."""
    lab = inv.lab
    comment = text_of(inv.get("SuspendComment"))
    with lab.lock:
        begin(inv)
        db, c = resolve_copy(inv, text_of(inv.get("Identity")), T_SUSPEND)
        _not_active(inv, db, c, T_SUSPEND, "only passive copies can be suspended.")
        _copy_server_up(inv, c, T_SUSPEND)
        if comment is not None and len(comment) > 512:
            raise argument_error(inv, "The SuspendComment parameter is limited to 512 characters.", T_SUSPEND)
        seed = ops.copy_extras(c)["seed"]
        if seed is not None and seed.state == "Seeding":
            raise invalid_operation(
                inv,
                f"Database copy '{c.identity}' is being seeded and can't be suspended. Use "
                f"Update-MailboxDatabaseCopy -CancelSeed.",
                T_SUSPEND,
                target=c.identity,
            )
        identity = c.identity
    what = "activation" if inv.get("ActivationOnly") else "replication"
    require_confirmation(
        inv, f'Suspending {what} for mailbox database copy "{identity}".', T_SUSPEND, built_in_pause=True
    )
    with lab.lock:
        begin(inv)
        if inv.parameter_set == "EnableReplayLag":
            return
        c.activation_suspended = True
        if comment is not None:
            c.suspend_comment = comment
        if not inv.get("ActivationOnly") and c.status not in ("Suspended", "FailedAndSuspended"):
            lab.set_copy_status(db, c.server, "Suspended", suspend_comment=comment)


@cmdlet("Resume-MailboxDatabaseCopy", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def resume_mailbox_database_copy(inv: Any) -> None:
    """Resumes a suspended copy: Initializing -> Healthy (runbooks §1.1, §6.2) and clears
    ActivationSuspended; -ReplicationOnly resumes replication but keeps
    ActivationSuspended True.  A copy that was never seeded can't resume.
    -DisableReplayLag ("reserved for internal Microsoft use") changes nothing."""
    lab = inv.lab
    with lab.lock:
        begin(inv)
        db, c = resolve_copy(inv, text_of(inv.get("Identity")), T_RESUME)
        _not_active(inv, db, c, T_RESUME, "only passive copies can be resumed.")
        srv = _copy_server_up(inv, c, T_RESUME)
        seed = ops.copy_extras(c)["seed"]
        if seed is not None and seed.state == "Seeding":
            raise invalid_operation(inv, f"Database copy '{c.identity}' is being seeded.", T_RESUME, target=c.identity)
        if c.status in ("Suspended", "FailedAndSuspended") and db.name.lower() not in ops.files_on(lab, srv):
            raise invalid_operation(
                inv,
                f"Database copy '{c.identity}' needs to be seeded before replication can "
                f"resume. Run Update-MailboxDatabaseCopy.",
                T_RESUME,
                target=c.identity,
            )
        identity = c.identity
    require_confirmation(inv, f'Resuming mailbox database copy "{identity}".', T_RESUME, built_in_pause=False)
    with lab.lock:
        begin(inv)
        if inv.parameter_set == "DisableReplayLag":
            return
        if c.status in ("Suspended", "FailedAndSuspended"):
            c.error_message = None
            ops.settle(lab, db, c.server)
        if not inv.get("ReplicationOnly"):
            c.activation_suspended = False
            c.suspend_comment = None


# -------------------------------------------------------- Update-MailboxDatabaseCopy
def _seed_source(inv: Any, db: Any, c: Any) -> str:
    lab = inv.lab
    if inv.has("SourceServer") and inv.get("SourceServer") is not None:
        srv = resolve_server(inv, text_of(inv.get("SourceServer")), T_UPDATE)
        src = db.copy_on(srv.name)
        if src is None or src is c:
            raise invalid_operation(
                inv,
                f"Server '{srv.name}' doesn't host another copy of database '{db.name}' to seed from.",
                T_UPDATE,
                target=srv.name,
            )
        status = lab.copy_status(db, src)
        if not srv.up or status not in ("Healthy", "SeedingSource", "Mounted", "Dismounted"):
            raise invalid_operation(
                inv,
                f"Database copy '{src.identity}' can't be a seeding source: its status is '{status}'.",
                T_UPDATE,
                target=src.identity,
            )
        return srv.name
    if not lab.is_reachable(db.active_server):
        raise invalid_operation(
            inv,
            f"The active copy of database '{db.name}' on server '{db.active_server}' can't "
            f"be reached. Use -SourceServer to seed from a healthy passive copy.",
            T_UPDATE,
            target=db.name,
        )
    return db.active_server


def _seed_blocker(inv: Any, db: Any, c: Any, delete: bool, catalog_only: bool, safe_delete: bool) -> str | None:
    """Why a copy can't be (re)seeded now (None = it can)."""
    lab = inv.lab
    srv = lab.server(c.server)
    if c.server.lower() == db.active_server.lower():
        return f"Database copy '{c.identity}' is the active copy and can't be seeded."
    if srv is None or not srv.up:
        return (
            f"The Microsoft Exchange Replication service may not be running on server {srv.fqdn if srv else c.server}."
        )
    seed = ops.copy_extras(c)["seed"]
    if seed is not None and seed.state == "Seeding":
        return f"Database copy '{c.identity}' is already being seeded."
    if c.status not in ("Suspended", "FailedAndSuspended"):
        # PS:Update-MailboxDatabaseCopy: "You must suspend a database copy before you can update it"
        return (
            f"Database copy '{c.identity}' must be suspended before it can be seeded (its status is "
            f"'{c.status}'). Run Suspend-MailboxDatabaseCopy first."
        )
    if not catalog_only and not delete and db.name.lower() in ops.files_on(lab, srv):
        return (
            f"Files of database '{db.name}' already exist at the target location on server '{srv.name}'. Use "
            f"-DeleteExistingFiles to remove them."
        )
    if safe_delete:
        healthy = [x for x in db.copies if x is not c and lab.copy_status(db, x) in ("Mounted", "Healthy")]
        if len(healthy) < 2:
            return (
                f"-SafeDeleteExistingFiles: database '{db.name}' doesn't have another healthy copy besides the "
                f"active copy, so the copy on '{srv.name}' can't be reseeded safely."
            )
    return None


@cmdlet("Update-MailboxDatabaseCopy", syntax="exchange", rbac=WRITE, available_on=exchange_2013_plus)
def update_mailbox_database_copy(inv: Any) -> None:
    """(Re)seeds a suspended passive copy (runbooks §6.1; PS:Update-MailboxDatabaseCopy):
    Seeding -> Initializing -> Healthy, or Suspended with -ManualResume; the cmdlet waits
    for the seed unless -BeginSeed.  Existing files need -DeleteExistingFiles (or
    -SafeDeleteExistingFiles).  -Server reseeds every passive copy of a server in batches
    of -MaximumSeedsInParallel (default 10); -CancelSeed stops a seed (the copy is left
    FailedAndSuspended).  Built-in pause (runbooks §0.3)."""
    lab = inv.lab
    database_only = bool(inv.get("DatabaseOnly"))
    catalog_only = bool(inv.get("CatalogOnly"))
    delete = bool(inv.get("DeleteExistingFiles")) or bool(inv.get("SafeDeleteExistingFiles"))
    safe_delete = bool(inv.get("SafeDeleteExistingFiles"))
    manual_resume = bool(inv.get("ManualResume"))
    if database_only and catalog_only:
        raise argument_error(inv, "The DatabaseOnly and CatalogOnly parameters can't be used together.", T_UPDATE)

    if inv.parameter_set == "CancelSeed":
        with lab.lock:
            begin(inv)
            db, c = resolve_copy(inv, text_of(inv.get("Identity")), T_UPDATE)
            seed = ops.copy_extras(c)["seed"]
            if seed is None or seed.state != "Seeding":
                raise invalid_operation(
                    inv,
                    f"No seeding operation is in progress for database copy '{c.identity}'.",
                    T_UPDATE,
                    target=c.identity,
                )
        require_confirmation(
            inv, f'Cancelling the seeding of mailbox database copy "{c.identity}".', T_UPDATE, built_in_pause=True
        )
        with lab.lock:
            begin(inv)
            ops.cancel_seed(lab, db, c, reason="The seeding operation was cancelled by an administrator.")
        return

    if inv.parameter_set == "ExplicitServer":
        with lab.lock:
            begin(inv)
            srv = resolve_server(inv, text_of(inv.get("Server")), T_UPDATE)
            parallel = inv.get("MaximumSeedsInParallel")
            parallel = ops.DEFAULT_MAX_SEEDS_IN_PARALLEL if parallel is None else int(parallel)
            if parallel < 1:
                raise argument_error(
                    inv, "The value of parameter MaximumSeedsInParallel must be 1 or greater.", T_UPDATE
                )
            work = []
            for db in lab.databases_on(srv.name):
                c = db.copy_on(srv.name)
                if c.server.lower() == db.active_server.lower():
                    continue
                work.append((db, c))
        require_confirmation(
            inv, f'Reseeding every passive mailbox database copy on server "{srv.fqdn}".', T_UPDATE, built_in_pause=True
        )
        batches = [work[i : i + parallel] for i in range(0, len(work), parallel)]
        for batch in batches:
            started = []
            errors_found: list[tuple[str, Any]] = []
            with lab.lock:
                begin(inv)
                for db, c in batch:
                    blocker = _seed_blocker(inv, db, c, delete, catalog_only, safe_delete)
                    if blocker is None and not lab.is_reachable(db.active_server):
                        blocker = f"The active copy of database '{db.name}' can't be reached."
                    if blocker is not None:
                        errors_found.append(("error", invalid_operation(inv, blocker, T_UPDATE, target=c.identity)))
                        continue
                    seed = ops.start_seed(
                        lab,
                        db,
                        c,
                        db.active_server,
                        catalog_only=catalog_only,
                        database_only=database_only,
                        manual_resume=manual_resume,
                    )
                    started.append((db, c, seed))
            flush(inv, errors_found)
            if started:
                _wait_seeds(inv, started, max(s.duration_s for _, _, s in started), T_UPDATE)
        return

    with lab.lock:
        begin(inv)
        db, c = resolve_copy(inv, text_of(inv.get("Identity")), T_UPDATE)
        blocker = _seed_blocker(inv, db, c, delete, catalog_only, safe_delete)
        if blocker is not None:
            raise invalid_operation(inv, blocker, T_UPDATE, target=c.identity)
        source = _seed_source(inv, db, c)
        if inv.has("Network") and inv.get("Network") is not None:
            net = text_of(inv.get("Network")) or ""
            dag = lab.dag(db.dag) if db.dag else None
            name = net.split("\\", 1)[-1]
            if dag is None or not any(n.name.lower() == name.lower() for n in dag.networks):
                raise not_found(inv, net, T_UPDATE)
    require_confirmation(
        inv, f'Seeding mailbox database copy "{c.identity}" from server "{source}".', T_UPDATE, built_in_pause=True
    )
    with lab.lock:
        begin(inv)
        seed = ops.start_seed(
            lab, db, c, source, catalog_only=catalog_only, database_only=database_only, manual_resume=manual_resume
        )
    if inv.get("BeginSeed"):
        return
    _wait_seeds(inv, [(db, c, seed)], seed.duration_s, T_UPDATE)
