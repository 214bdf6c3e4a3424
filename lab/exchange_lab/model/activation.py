"""Active Manager's best copy and server selection (runbooks §1.3, §1.4) and the moves
built on it.

Callers hold ``state.lock``.  Nothing here sleeps: durations are the caller's business
(``state.schedule`` for background work, ``state.clock.sleep`` in a cmdlet with the lock
released).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .objects_state import CANDIDATE_STATUSES, Database, DatabaseCopy

if TYPE_CHECKING:  # pragma: no cover
    from .state import LabState

# Mount dial thresholds: copy queue length allowed for an automatic mount (§1.3).
DIAL_MAX_COPY_QUEUE = {"Lossless": 0, "GoodAvailability": 6, "BestAvailability": 12, "BestEffort": None}

# The ten criteria sets of §1.4: (content index, copy queue <, replay queue <).
# "any" = any content index state; None = no limit.
CRITERIA = [
    ("Healthy", 10, 50),
    ("Crawling", 10, 50),
    ("Healthy", None, 50),
    ("Crawling", None, 50),
    ("any", None, 50),
    ("Healthy", 10, None),
    ("Crawling", 10, None),
    ("Healthy", None, None),
    ("Crawling", None, None),
    ("any", None, None),
]


@dataclass
class MoveResult:
    database: str
    source: str
    target: str | None
    mounted: bool
    reason: str = ""
    logs_lost: int = 0


def _ci_matches(ci: str, wanted: str) -> bool:
    if wanted == "any":
        return True
    if wanted == "Healthy":
        # NotApplicable (2019+, no per-copy catalog) is treated as "no catalog gate".
        return ci in ("Healthy", "NotApplicable")
    return ci == wanted


def blocked_reason(
    state: "LabState",
    db: Database,
    copy: DatabaseCopy,
    *,
    source_site: str | None,
    targetless: bool = True,
    honour_preferred_max: bool = True,
) -> str | None:
    """Why this passive copy cannot be activated by Active Manager (None = it can)."""
    server = state.server(copy.server)
    if server is None or not state.is_operational(copy.server):
        return "unreachable"
    if copy.activation_suspended:
        return "activation suspended"
    if targetless and copy.replay_lag_s > 0:
        # runbooks §1.2: lagged copies are disaster-recovery copies, not highly available
        # ones; §1.6: activating one is an explicit operator decision
        return "lagged copy"
    catalogue = getattr(state, "catalogue", None)
    if catalogue is not None:
        reason = catalogue.activation_block(db, copy)  # failed storage, reseed, DACP (failures.py)
        if reason is not None:
            return reason
    if server.activation_disabled_and_move_now:
        return "DatabaseCopyActivationDisabledAndMoveNow"
    if targetless and server.auto_activation_policy == "Blocked":
        return "DatabaseCopyAutoActivationPolicy Blocked"
    if targetless and server.auto_activation_policy == "IntrasiteOnly" and source_site and server.site != source_site:
        return "DatabaseCopyAutoActivationPolicy IntrasiteOnly"
    if state.version_at_least(server, "2013"):
        for comp in ("ServerWideOffline", "HighAvailability"):
            if server.components.get(comp) is not None and server.components.state(comp) != "Active":
                return f"component {comp} not Active"
    active_count = state.active_database_count(copy.server)
    if server.max_active is not None and active_count >= server.max_active:
        return "MaximumActiveDatabases reached"
    if honour_preferred_max and server.max_preferred_active is not None and active_count >= server.max_preferred_active:
        return "MaximumPreferredActiveDatabases reached"
    return None


def ranked_candidates(
    state: "LabState",
    db: Database,
    *,
    lossless_switchover: bool = False,
    targetless: bool = True,
    exclude: tuple[str, ...] = (),
) -> list[tuple[DatabaseCopy, int]]:
    """Candidate copies in Active Manager's order, each with the criteria set it meets
    (1..10).  Copies that meet no set are left out."""
    src = state.server(db.active_server)
    source_site = src.site if src else None
    excluded = {e.lower() for e in exclude}
    pool: list[DatabaseCopy] = []
    for c in db.copies:
        if c.server.lower() == db.active_server.lower() or c.server.lower() in excluded:
            continue
        if blocked_reason(state, db, c, source_site=source_site, targetless=targetless) is None:
            pool.append(c)
    lossless = lossless_switchover or any(
        (s := state.server(c.server)) is not None and s.mount_dial == "Lossless" for c in db.copies
    )
    if lossless:
        pool.sort(key=lambda c: c.preference)
    else:
        pool.sort(key=lambda c: (c.copy_queue, c.preference))
    ranked: list[tuple[DatabaseCopy, int]] = []
    taken: set[int] = set()
    for set_no, (ci, cq_max, rq_max) in enumerate(CRITERIA, start=1):
        for c in pool:
            if id(c) in taken:
                continue
            status = state.copy_status(db, c)
            if status not in CANDIDATE_STATUSES:
                continue
            if not _ci_matches(c.content_index, ci):
                continue
            if cq_max is not None and not c.copy_queue < cq_max:
                continue
            if rq_max is not None and not c.replay_queue < rq_max:
                continue
            ranked.append((c, set_no))
            taken.add(id(c))
    return ranked


def select_target(
    state: "LabState",
    db: Database,
    *,
    source_reachable: bool,
    lossless_switchover: bool = False,
    targetless: bool = True,
    exclude: tuple[str, ...] = (),
    dial: str | None = None,
) -> DatabaseCopy | None:
    """The copy Active Manager would mount: the best candidate whose copy queue (after
    "attempt copy last logs", which empties it when the old active is reachable) passes
    the target server's AutoDatabaseMountDial (or ``dial`` when given); otherwise the
    next candidate."""
    for copy, _set in ranked_candidates(
        state, db, lossless_switchover=lossless_switchover, targetless=targetless, exclude=exclude
    ):
        remaining = 0 if source_reachable else copy.copy_queue
        server = state.server(copy.server)
        limit = DIAL_MAX_COPY_QUEUE.get(dial or (server.mount_dial if server else "GoodAvailability"))
        if limit is None or remaining <= limit:
            return copy
    return None


def failover(
    state: "LabState", db: Database, reason: str, *, source_reachable: bool = False, lossless: bool = False
) -> MoveResult:
    """Automatic failover of ``db`` away from its failed active server (ACLL copies the
    last logs only when that server is still reachable).  No target: the database stays
    dismounted (failure-modes.yml, context notes).  ``lossless``: the activation must be
    lossless (failure-modes ``mapi-network-failure``, ``multiple-network-failure``):
    candidates in activation-preference order and the Lossless dial.  A mount that misses
    logs is recorded in ``state.data_loss`` (``LabState.activate_copy``)."""
    source = db.active_server
    target = select_target(
        state, db, source_reachable=source_reachable, lossless_switchover=lossless, dial="Lossless" if lossless else None
    )
    if target is None:
        state.set_mount_state(db, "Dismounted")
        db.dismounted_by_system = True
        return MoveResult(db.name, source, None, False, f"{reason}: no copy meets the activation criteria")
    lost = 0 if source_reachable else target.copy_queue
    state.activate_copy(db, target.server, mount=True, initiator="Automatic", logs_lost=lost)
    return MoveResult(db.name, source, target.server, db.mounted, reason, lost)


def move_off_server(
    state: "LabState", server: str, *, reason: str = "DatabaseCopyActivationDisabledAndMoveNow"
) -> list[MoveResult]:
    """Lossless server switchover by Active Manager: every mounted replicated database
    active on ``server`` moves to its best copy (BCSS, targetless; Blocked servers are not
    targets).  A database with no eligible copy stays where it is."""
    results = []
    for db in list(state.databases.values()):
        if db.active_server.lower() != server.lower() or not db.replicated:
            continue
        results.append(move_database(state, db, reason=reason))
    return results


def move_database(state: "LabState", db: Database, *, reason: str) -> MoveResult:
    """One targetless lossless switchover of ``db`` (source reachable: ACLL empties the
    copy queue).  No eligible copy: unchanged."""
    source = db.active_server
    target = select_target(state, db, source_reachable=state.is_reachable(source), lossless_switchover=True)
    if target is None:
        return MoveResult(db.name, source, None, db.mounted, f"{reason}: no eligible copy")
    state.activate_copy(db, target.server, mount=db.mounted or db.mount_state == "Mounting", initiator="Automatic")
    return MoveResult(db.name, source, target.server, db.mounted, reason)
