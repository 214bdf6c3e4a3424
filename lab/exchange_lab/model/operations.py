"""Model operations behind the database and DAG cmdlets (exchange_database_ops.py,
exchange_dac.py): administrator switchover checks, seeding, copy add/remove, lag
play-down and the DAC site operations.

Functions take the ``LabState`` and are called with ``state.lock`` held.  Nothing here
sleeps; durations are returned or scheduled (``state.schedule``).  Every number is
listed in lab/README-model.md ("Database and DAG operations") with its source or as a
modelling choice.

Per-copy bookkeeping the state classes have no field for (a seed in progress, the
ReplayLagMaxDelay setting) and the database files left on a server are kept on the
state objects themselves (attributes ``_ops`` on a ``DatabaseCopy`` and
``_ops_files`` on an ``ExchangeServer``), so ``LabState.reset()``, which rebuilds
those objects, also forgets them.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import activation, durations
from .objects_state import CANDIDATE_STATUSES, Dag, Database, DatabaseCopy, ExchangeServer

if TYPE_CHECKING:  # pragma: no cover
    from .state import LabState

# --------------------------------------------------------------------------- numbers
# runbooks §1.5 / activate-db-copies.md: a copy whose replay queue is greater than 6
# needs -SkipLagChecks.
LAG_CHECK_MAX_REPLAY_QUEUE = 6
# No number is documented for the copy queue part of the lag check (runbooks §1.5); the
# lab uses the same 6 (modelling choice, README-model.md).  Not the failover numbers.
LAG_CHECK_MAX_COPY_QUEUE = 6
# Set-/Add-MailboxDatabaseCopy: ReplayLagTime and TruncationLagTime at most 14 days.
MAX_LAG_S = 14 * 86400.0
# Add-/Set-MailboxDatabaseCopy -ReplayLagMaxDelay default (PS: "24:00:00").
DEFAULT_REPLAY_LAG_MAX_DELAY_S = 86400.0
# runbooks §6.3: "Replay rate to plan with: at least 2 logs/s per database".
REPLAY_LOGS_PER_S = 2.0
# Seeding a database copy (database and catalog, or database only): choice.
SEED_S = 60.0
# Seeding only the content index catalog: choice.
CATALOG_SEED_S = 10.0
# -SkipHealthChecks "performs additional validation to ensure that the log files are
# consistent, which can take a considerable amount of time" (PS:Move-ActiveMailboxDatabase):
# the lab adds one more switchover time (choice).
SKIP_HEALTH_CHECKS_EXTRA_S = durations.SWITCHOVER_PER_DATABASE_S
# Update-MailboxDatabaseCopy -MaximumSeedsInParallel default (PS: "The default value is 10").
DEFAULT_MAX_SEEDS_IN_PARALLEL = 10

# Mount dial thresholds (runbooks §1.3); BestEffort mounts whatever the copy queue.
DIAL_LIMITS: dict[str, int | None] = {
    "Lossless": 0,
    "GoodAvailability": 6,
    "BestAvailability": 12,
    "BestEffort": None,
}
MOUNT_DIAL_OVERRIDES = ("None", "Lossless", "GoodAvailability", "BestAvailability", "BestEffort")

# Statuses an explicit administrator switchover accepts without -SkipHealthChecks:
# the BCSS candidate statuses (§1.1) plus Suspended (runbooks §6.3 activates a suspended
# lagged copy with -SkipLagChecks only).
MOVE_HEALTHY = (*CANDIDATE_STATUSES, "Suspended")
# Statuses no skip switch gets past: the copy has no usable database or cannot be reached.
MOVE_NEVER = ("Seeding", "ServiceDown")

_tokens = itertools.count(1)


# --------------------------------------------------------------------------- extras
def copy_extras(c: DatabaseCopy) -> dict[str, Any]:
    """Per-copy bookkeeping without a field in ``DatabaseCopy`` (see module docstring)."""
    extras = getattr(c, "_ops", None)
    if extras is None:
        extras = {"replay_lag_max_delay_s": DEFAULT_REPLAY_LAG_MAX_DELAY_S, "seed": None, "settings": {}}
        setattr(c, "_ops", extras)
    return extras


def files_on(state: "LabState", srv: ExchangeServer) -> set[str]:
    """Names (lower case) of the databases whose files are on ``srv``.  At first use:
    every database with a copy there (the topology's copies are seeded)."""
    files = getattr(srv, "_ops_files", None)
    if files is None:
        files = {db.name.lower() for db in state.databases_on(srv.name)}
        setattr(srv, "_ops_files", files)
    return files


def fault_of(state: "LabState", kind: str, db: Database, server: str) -> dict | None:
    for f in state.faults:
        if (
            f["kind"] == kind
            and f.get("database", "").lower() == db.name.lower()
            and f["server"].lower() == server.lower()
        ):
            return f
    return None


def settle(state: "LabState", db: Database, server: str) -> None:
    """A passive copy goes Initializing, then (after ``INITIALIZING_S``) Healthy -- or
    back to the status of a copy_status fault still injected on it."""
    c = db.copy_on(server)
    if c is None:
        return
    state.set_copy_status(db, c.server, "Initializing")

    def done() -> None:
        if c.status != "Initializing" or c.server.lower() == db.active_server.lower() or db.copy_on(c.server) is not c:
            return
        fault = fault_of(state, "copy_status", db, c.server)
        if fault is not None:
            state.set_copy_status(
                db, c.server, fault["status"], error_message="Injected fault: the copy cannot copy or replay logs."
            )
        else:
            state.set_copy_status(db, c.server, "Healthy")

    state.schedule(durations.INITIALIZING_S, done, f"{c.identity} Initializing -> Healthy")


def timespan_text(seconds: float) -> str:
    td = datetime.timedelta(seconds=seconds)
    days, rem = divmod(int(td.total_seconds()), 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    core = f"{h:02d}:{m:02d}:{s:02d}"
    return f"{days}.{core}" if days else core


# ------------------------------------------------------------ switchover checks (§1.5)
@dataclass
class Skips:
    health: bool = False
    active_copy: bool = False
    lag: bool = False
    client_experience: bool = False
    max_active: bool = False
    cpu: bool = False
    move_suppression: bool = False

    @classmethod
    def all(cls) -> "Skips":
        return cls(True, True, True, True, True, True, True)


def seeds_from(db: Database, server: str) -> list[DatabaseCopy]:
    """Copies of ``db`` being seeded from ``server``."""
    out = []
    for c in db.copies:
        seed = copy_extras(c)["seed"]
        if seed is not None and seed.state == "Seeding" and seed.source.lower() == server.lower():
            out.append(c)
    return out


def move_block(state: "LabState", db: Database, c: DatabaseCopy, skips: Skips, *, explicit: bool) -> str | None:
    """Why an administrator switchover of ``db`` to the passive copy ``c`` is refused
    (None = allowed).  Checks of runbooks §1.5 with their skip switches; the activation
    blocks of §1.6 that no switch skips; Blocked/IntrasiteOnly policies and
    ActivationSuspended only for targetless moves (an explicit target is allowed on them:
    runbooks §5.2 step 5, DOCS datacenter-switchovers "you must explicitly identify the
    target")."""
    srv = state.server(c.server)
    dag = state.dag(db.dag) if db.dag else None
    if srv is None or not srv.up:
        return (
            f"{c.server}: A server-side administrative operation has failed. The Microsoft Exchange "
            f"Replication service may not be running on server {srv.fqdn if srv else c.server}."
        )
    if dag is not None:
        if any(s.lower() == srv.name.lower() for s in dag.stopped):
            return (
                f"Server '{srv.name}' is in the StoppedMailboxServers list of database availability group "
                f"'{dag.name}'; Active Manager on a stopped server doesn't mount databases."
            )
        node = dag.cluster.node(srv.name)
        if node is None:
            return f"Server '{srv.name}' isn't a node of the cluster of database availability group '{dag.name}'."
        if node.state not in ("Up", "Paused"):
            return f"The cluster node '{srv.name}' is {node.state}."
    if srv.activation_disabled_and_move_now:
        return (
            f"Database copy '{db.name}' on server '{srv.name}' can't be activated because the server is "
            f"configured with DatabaseCopyActivationDisabledAndMoveNow."
        )
    if state.version_at_least(srv, "2013"):
        for comp in ("ServerWideOffline", "HighAvailability"):
            if srv.components.get(comp) is not None and srv.components.state(comp) != "Active":
                return f"Server '{srv.name}' can't host active databases: its component {comp} is {srv.components.state(comp)}."
    if not explicit:
        if c.activation_suspended:
            return (
                f"Database copy '{db.name}' on server '{srv.name}' is suspended for activation (ActivationSuspended)."
            )
        src = state.server(db.active_server)
        if srv.auto_activation_policy == "Blocked":
            return f"Server '{srv.name}' has DatabaseCopyAutoActivationPolicy 'Blocked'."
        if srv.auto_activation_policy == "IntrasiteOnly" and src is not None and src.site != srv.site:
            return f"Server '{srv.name}' has DatabaseCopyAutoActivationPolicy 'IntrasiteOnly' and is in another site."
    status = state.copy_status(db, c)
    seed = copy_extras(c)["seed"]
    if status in MOVE_NEVER or (seed is not None and seed.state == "Seeding"):
        return f"Database copy '{db.name}' on server '{srv.name}' has status '{status}' and can't be activated."
    if not skips.health and status not in MOVE_HEALTHY:
        return (
            f"Database copy '{db.name}' on server '{srv.name}' has status '{status}'. The copy must be healthy "
            f"to be activated (-SkipHealthChecks overrides this check)."
        )
    if not skips.active_copy and seeds_from(db, db.active_server):
        return (
            f"The active copy of database '{db.name}' on server '{db.active_server}' is a seeding source "
            f"(-SkipActiveCopyChecks cancels the seed)."
        )
    if not skips.lag:
        if status == "SeedingSource" or seeds_from(db, c.server):
            return f"Database copy '{db.name}' on server '{srv.name}' is a seeding source (-SkipLagChecks overrides this check)."
        if c.replay_lag_s > 0:
            return (
                f"Database copy '{db.name}' on server '{srv.name}' is a lagged copy (ReplayLagTime "
                f"{timespan_text(c.replay_lag_s)}) (-SkipLagChecks overrides this check)."
            )
        if c.replay_queue > LAG_CHECK_MAX_REPLAY_QUEUE:
            return (
                f"Database copy '{db.name}' on server '{srv.name}' has a replay queue length of {c.replay_queue} "
                f"logs, more than the {LAG_CHECK_MAX_REPLAY_QUEUE} allowed (-SkipLagChecks overrides this check)."
            )
        if c.copy_queue > LAG_CHECK_MAX_COPY_QUEUE:
            return (
                f"Database copy '{db.name}' on server '{srv.name}' has a copy queue length of {c.copy_queue} "
                f"logs, more than the {LAG_CHECK_MAX_COPY_QUEUE} allowed (-SkipLagChecks overrides this check)."
            )
    if not skips.client_experience and c.content_index not in ("Healthy", "NotApplicable"):
        # wording of the real error (search index: a Move-ActiveMailboxDatabase failure)
        return (
            f"Database copy '{db.name}' on server '{srv.name}' has content index catalog files in the "
            f"following state: '{c.content_index}'."
        )
    count = state.active_database_count(srv.name)
    if srv.max_active is not None and count >= srv.max_active:
        return (
            f"Server '{srv.name}' already has {count} active databases, the MaximumActiveDatabases "
            f"value ({srv.max_active})."
        )
    if (
        not skips.max_active
        and srv.max_preferred_active is not None
        and state.version_at_least(srv, "2013")
        and count >= srv.max_preferred_active
    ):
        return (
            f"Server '{srv.name}' already has {count} active databases, the MaximumPreferredActiveDatabases "
            f"value ({srv.max_preferred_active}) (-SkipMaximumActiveDatabasesChecks overrides this check)."
        )
    return None


def ranked_for_move(state: "LabState", db: Database, *, lossless: bool) -> list[DatabaseCopy]:
    """Passive copies in Active Manager's BCSS order (runbooks §1.4) for a targetless
    switchover: sorted by activation preference for a lossless move (or when any server
    uses Lossless), else by copy queue then preference; then by the first of the ten
    criteria sets each copy meets.  Only BCSS candidate statuses; blocks and the
    administrator checks are applied by the caller (``move_block``)."""
    copies = [c for c in db.copies if c.server.lower() != db.active_server.lower()]
    lossless = lossless or any(
        (s := state.server(c.server)) is not None and s.mount_dial == "Lossless" for c in db.copies
    )
    copies.sort(key=(lambda c: c.preference) if lossless else (lambda c: (c.copy_queue, c.preference)))
    ranked: list[DatabaseCopy] = []
    for ci, cq_max, rq_max in activation.CRITERIA:
        for c in copies:
            if c in ranked or state.copy_status(db, c) not in CANDIDATE_STATUSES:
                continue
            if ci != "any" and not (
                c.content_index in ("Healthy", "NotApplicable") if ci == "Healthy" else c.content_index == ci
            ):
                continue
            if cq_max is not None and not c.copy_queue < cq_max:
                continue
            if rq_max is not None and not c.replay_queue < rq_max:
                continue
            ranked.append(c)
    return ranked


def effective_dial(state: "LabState", target: DatabaseCopy, override: str | None) -> str:
    """-MountDialOverride: omitted -> Lossless; None -> the target server's
    AutoDatabaseMountDial (runbooks §1.3, PS:Move-ActiveMailboxDatabase)."""
    if override is None:
        return "Lossless"
    if override == "None":
        srv = state.server(target.server)
        return srv.mount_dial if srv else "GoodAvailability"
    return override


def logs_lost(state: "LabState", db: Database, target: DatabaseCopy) -> int:
    """Logs the target will not get: none when the old active server is reachable
    ("attempt copy last logs" copies the rest, runbooks §1.4), else its copy queue."""
    return 0 if state.is_reachable(db.active_server) else target.copy_queue


def dial_allows(dial: str, lost: int) -> bool:
    limit = DIAL_LIMITS.get(dial)
    return limit is None or lost <= limit


def cancel_seeds_from_active(state: "LabState", db: Database) -> list[str]:
    """-SkipActiveCopyChecks "cancels the seed operation" of seeds from the active copy."""
    out = []
    for c in seeds_from(db, db.active_server):
        cancel_seed(state, db, c, reason="The seeding operation was cancelled because the source database was moved.")
        out.append(c.identity)
    return out


# -------------------------------------------------------------------------- seeding
@dataclass
class Seed:
    token: int
    source: str
    catalog_only: bool
    database_only: bool
    manual_resume: bool
    duration_s: float
    state: str = "Seeding"  # Seeding | Done | Cancelled
    ci_before: str = "Healthy"


def seed_duration(catalog_only: bool) -> float:
    return CATALOG_SEED_S if catalog_only else SEED_S


def start_seed(
    state: "LabState",
    db: Database,
    c: DatabaseCopy,
    source: str,
    *,
    catalog_only: bool = False,
    database_only: bool = False,
    manual_resume: bool = False,
) -> Seed:
    """Start seeding the passive copy ``c`` from ``source`` (runbooks §6.1: Seeding ->
    Initializing -> Healthy).  Completion is scheduled after the modelled seed time."""
    srv = state.server(c.server)
    seed = Seed(
        next(_tokens),
        source,
        catalog_only,
        database_only,
        manual_resume,
        seed_duration(catalog_only),
        ci_before=srv.content_index_state if srv else "Healthy",
    )
    copy_extras(c)["seed"] = seed
    if not catalog_only:
        state.set_copy_status(db, c.server, "Seeding", suspend_comment=None)
    if not database_only and c.content_index != "NotApplicable":
        c.content_index = "Seeding"
    src_copy = db.copy_on(source)
    if src_copy is not None and source.lower() != db.active_server.lower() and src_copy.status == "Healthy":
        state.set_copy_status(db, source, "SeedingSource")

    def done() -> None:
        if copy_extras(c)["seed"] is seed and seed.state == "Seeding" and db.copy_on(c.server) is c:
            finish_seed(state, db, c, seed)

    state.schedule(seed.duration_s, done, f"seed {c.identity} from {source}")
    return seed


def _release_source(state: "LabState", db: Database, seed: Seed) -> None:
    src_copy = db.copy_on(seed.source)
    if src_copy is not None and src_copy.status == "SeedingSource" and not seeds_from(db, seed.source):
        state.set_copy_status(db, src_copy.server, "Healthy")


def finish_seed(state: "LabState", db: Database, c: DatabaseCopy, seed: Seed) -> None:
    seed.state = "Done"
    srv = state.server(c.server)
    if srv is not None:
        files_on(state, srv).add(db.name.lower())
    if c.content_index == "Seeding":
        c.content_index = seed.ci_before
    if not seed.catalog_only:
        if fault_of(state, "copy_queue", db, c.server) is None:
            c.copy_queue = 0
            c.replay_queue = 0
        c.error_message = None
        if seed.manual_resume:
            state.set_copy_status(db, c.server, "Suspended")
        else:
            c.activation_suspended = False
            settle(state, db, c.server)
    _release_source(state, db, seed)


def cancel_seed(state: "LabState", db: Database, c: DatabaseCopy, *, reason: str) -> bool:
    """Stop a seed in progress: the copy is left FailedAndSuspended with partial files
    (a new seed needs -DeleteExistingFiles)."""
    seed = copy_extras(c)["seed"]
    if seed is None or seed.state != "Seeding":
        return False
    seed.state = "Cancelled"
    srv = state.server(c.server)
    if srv is not None:
        files_on(state, srv).add(db.name.lower())
    if c.content_index == "Seeding":
        c.content_index = "Failed" if seed.ci_before != "NotApplicable" else seed.ci_before
    if not seed.catalog_only:
        state.set_copy_status(db, c.server, "FailedAndSuspended", error_message=reason)
    _release_source(state, db, seed)
    return True


# ----------------------------------------------------------------- copy add / remove
def renumber(db: Database) -> None:
    """Preferences 1..n in the current order (Exchange keeps them contiguous)."""
    db.copies.sort(key=lambda c: c.preference)
    for i, c in enumerate(db.copies, start=1):
        c.preference = i


def set_preference(db: Database, c: DatabaseCopy, preference: int) -> None:
    """Move ``c`` to ``preference``; the copies in between shift by one."""
    others = [x for x in sorted(db.copies, key=lambda x: x.preference) if x is not c]
    others.insert(preference - 1, c)
    for i, x in enumerate(others, start=1):
        x.preference = i
    db.copies.sort(key=lambda x: x.preference)


def add_copy(
    state: "LabState",
    db: Database,
    srv: ExchangeServer,
    *,
    preference: int | None,
    replay_lag_s: float,
    truncation_lag_s: float,
    replay_lag_max_delay_s: float | None,
) -> DatabaseCopy:
    now = state.clock.now()
    c = DatabaseCopy(
        database=db.name,
        server=srv.name,
        preference=len(db.copies) + 1,
        replay_lag_s=replay_lag_s,
        truncation_lag_s=truncation_lag_s,
        content_index=srv.content_index_state,
        last_status_transition=now,
        instance_start=now,
    )
    db.copies.append(c)
    if preference is not None:
        set_preference(db, c, preference)
    if replay_lag_max_delay_s is not None:
        copy_extras(c)["replay_lag_max_delay_s"] = replay_lag_max_delay_s
    return c


def remove_copy(state: "LabState", db: Database, c: DatabaseCopy) -> None:
    """Remove a passive copy's configuration; its files stay on the server
    (PS:Remove-MailboxDatabaseCopy)."""
    srv = state.server(c.server)
    if srv is not None:
        files_on(state, srv)  # record the files before the copy goes
    seed = copy_extras(c)["seed"]
    if seed is not None and seed.state == "Seeding":
        seed.state = "Cancelled"
        _release_source(state, db, seed)
    for other in db.copies:
        s = copy_extras(other)["seed"]
        if s is not None and s.state == "Seeding" and s.source.lower() == c.server.lower():
            cancel_seed(
                state,
                db,
                other,
                reason=f"The seeding operation was cancelled because the source copy {c.identity} was removed.",
            )
    db.copies.remove(c)
    renumber(db)


def schedule_lag_playdown(state: "LabState", db: Database, c: DatabaseCopy) -> None:
    """A copy whose replay lag is removed replays its queue at the planning rate of
    runbooks §6.3 (2 logs/s)."""
    if c.replay_queue <= 0 or fault_of(state, "copy_queue", db, c.server) is not None:
        return
    delay = c.replay_queue / REPLAY_LOGS_PER_S

    def done() -> None:
        if db.copy_on(c.server) is c and c.replay_lag_s == 0 and fault_of(state, "copy_queue", db, c.server) is None:
            c.replay_queue = 0

    state.schedule(delay, done, f"{c.identity} replays its queue (lag removed)")


# --------------------------------------------------------------------------- DAC
def stop_servers(state: "LabState", dag: Dag, names: list[str], *, configuration_only: bool) -> list[str]:
    """Stop-DatabaseAvailabilityGroup: mark ``names`` stopped (StoppedMailboxServers,
    out of StartedMailboxServers).  Without -ConfigurationOnly, Active Manager on each
    reachable server is stopped: its active databases dismount (runbooks §5.2, "Stopped
    is an Active Manager state that prevents databases from mounting") and the PAM role
    leaves it.  Returns the servers that could not be contacted (AD only)."""
    state.stop_mailbox_servers(dag, names)
    unreachable = []
    if configuration_only:
        return unreachable
    stopped = {n.lower() for n in dag.stopped}
    for name in names:
        srv = state.server(name)
        if srv is None or not srv.up:
            unreachable.append(name)
            continue
        for db in state.active_databases(srv.name):
            if db.dag == dag.name and db.mount_state != "Dismounted":
                db.mount_state = "Dismounted"
                db.dismounted_by_system = True
        owner = dag.cluster.group_owner
        if owner and owner.lower() == srv.name.lower():
            for node in dag.cluster.nodes.values():
                if node.name.lower() not in stopped and node.state == "Up" and state.is_reachable_host(node.name):
                    state.move_cluster_group(dag, node.name)
                    break
    # Active Manager reacts as to any loss of the servers (the model's rule): with quorum,
    # databases dismounted on stopped servers fail over by BCSS; without, they wait.
    state.evaluate_quorum(dag)
    return unreachable


def start_servers(state: "LabState", dag: Dag, names: list[str], *, configuration_only: bool) -> list[str]:
    """Start-DatabaseAvailabilityGroup: remove ``names`` from StoppedMailboxServers, add
    them to StartedMailboxServers and, unless -ConfigurationOnly, join the reachable ones
    to the DAG's cluster (PS:Start-DatabaseAvailabilityGroup).  The quorum model is
    re-evaluated by Set-DatabaseAvailabilityGroup afterwards (runbooks §5.5).  Returns
    the servers that could not be contacted."""
    state.start_mailbox_servers(dag, names)
    unreachable = []
    if configuration_only:
        return unreachable
    for name in names:
        srv = state.server(name)
        if srv is None or not srv.up:
            unreachable.append(name)
            continue
        if dag.cluster.node(srv.name) is None:
            state.add_node(dag, srv.name)
    state.evaluate_quorum(dag)
    return unreachable


@dataclass
class RestorePlan:
    survivors: list[str]
    evict: list[str]
    witness_in_use: str  # Primary | Alternate | None
    alternate_server: str | None
    alternate_directory: str | None
    error: str | None = None


def plan_restore(
    state: "LabState",
    dag: Dag,
    survivors: list[str],
    *,
    alternate_server: str | None,
    alternate_directory: str | None,
    use_primary: bool,
) -> RestorePlan:
    """What Restore-DatabaseAvailabilityGroup will do, or why it fails: evict the
    StoppedMailboxServers from the cluster, keep ``survivors``; witness: the alternate
    one when the survivors are an even number or a single server (the primary with
    -UsePrimaryWitnessServer), none for an odd number of three or more.  It fails when it
    can't shrink quorum: no survivor, a witness needed but none configured or not
    reachable, or no quorum with the survivors (runbooks §5.2 step 4)."""
    evict = [n.name for n in dag.cluster.nodes.values() if any(s.lower() == n.name.lower() for s in dag.stopped)]
    alt_server = alternate_server or dag.alternate_witness_server
    alt_dir = alternate_directory or dag.alternate_witness_directory
    plan = RestorePlan(list(survivors), evict, "None", alt_server, alt_dir)
    if not survivors:
        plan.error = (
            f"No DAG members are left to restore the cluster of database availability group '{dag.name}' "
            f"with: every member is in StoppedMailboxServers."
        )
        return plan
    count = len(survivors)
    needs_witness = count % 2 == 0 or count == 1
    witness_host: str | None = None
    if needs_witness:
        if use_primary:
            plan.witness_in_use, witness_host = "Primary", dag.witness_server
        else:
            if not alt_server:
                plan.error = (
                    f"The quorum of database availability group '{dag.name}' can't be shrunk to {count} "
                    f"server(s) without a witness: no alternate witness server is configured. Specify "
                    f"-AlternateWitnessServer and -AlternateWitnessDirectory."
                )
                return plan
            plan.witness_in_use, witness_host = "Alternate", alt_server
    up = sum(1 for s in survivors if state.is_reachable_host(s))
    uses_witness = count % 2 == 0
    witness_up = bool(witness_host) and state.host_up(witness_host)
    total = count + (1 if uses_witness else 0)
    votes = up + (1 if uses_witness and witness_up else 0)
    if uses_witness and not witness_up:
        plan.error = (
            f"The quorum of database availability group '{dag.name}' can't be shrunk to {count} servers: "
            f"the witness server '{witness_host}' can't be reached, so a server could not be restarted "
            f"without a loss of quorum."
        )
    elif votes * 2 <= total:
        plan.error = (
            f"The quorum of database availability group '{dag.name}' can't be shrunk: only {up} of the "
            f"{count} remaining server(s) are reachable."
        )
    return plan


def restore(state: "LabState", dag: Dag, plan: RestorePlan) -> None:
    """Apply a successful ``plan_restore``: store an alternate witness given on the
    command line, switch the witness, evict the stopped servers (one quorum evaluation at
    the end), and let Active Manager activate the databases where healthy and not
    blocked (BCSS, runbooks §5.2 step 5)."""
    if plan.witness_in_use == "Alternate":
        dag.alternate_witness_server = plan.alternate_server
        dag.alternate_witness_directory = plan.alternate_directory
    dag.witness_in_use = plan.witness_in_use
    for name in plan.evict:
        node = dag.cluster.nodes.pop(name.lower(), None)
        if node is not None and not any(e.lower() == node.name.lower() for e in dag.cluster.evicted):
            dag.cluster.evicted.append(node.name)
    owner = dag.cluster.group_owner
    if owner and dag.cluster.node(owner) is None:
        dag.cluster.group_owner = None
    # The operator stopped the Cluster service on the survivors first (runbooks §5.2 step 3);
    # Restore forcibly evicts the stopped servers "thereby re-establishing quorum for the
    # cluster enabling the surviving DAG members to start" (Restore-DatabaseAvailabilityGroup
    # reference): it brings the cluster up again on every reachable survivor.
    for name in plan.survivors:
        node = dag.cluster.node(name)
        if node is not None and node.state == "Down" and state.is_reachable_host(name):
            node.state = "Up"
    state.evaluate_quorum(dag)
