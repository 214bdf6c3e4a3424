"""The failure catalogue: every row of seed 003's failure table (shared/reference/
failure-modes.yml, 32 rows) as an injectable fault, plus four infrastructure faults
(``site_down``, ``wan_partition``, ``host_unreachable``, ``slow_network``).

A fault is injected with ``{"id": "<id>", "target": "<target>", ...options}`` through
``LabState.inject_fault`` (admin API ``POST /fault/inject``, ``exchange-lab fault inject
<id> --target X``) and cleared with the same id and target.  Targets:

* ``copy``     ``DB01\\EX02`` (a database copy) or ``DB01`` (its active copy)
* ``database`` ``DB01``
* ``server``   an Exchange server (``EX01``)
* ``dag``      a DAG (``DAG1``) or one of its members
* ``site``     an Active Directory site (``DC1``)
* ``sites``    two sites, ``DC1,DC2``
* ``host``     any host of the topology (``FS01``, ``EX03``)

Meaning of the pieces (lab/README-model.md, "Failure catalogue and automatic failover"):
injecting produces the row's reaction (activation, state of the active and passive
copies during repair); ``automatic_repair`` of the row happens by itself after a
modelled delay where the lab can model it (``delay_s`` overrides the delay); clearing
the fault is the row's repair action done by the administrator.

:class:`Catalogue` (``LabState.catalogue``) keeps what the state objects have no field
for (network partitions, the DACP bit of each server, hosts held down, copies that need a
reseed, copy-queue growth) and answers the hooks ``LabState`` and ``activation`` call:
:meth:`Catalogue.server_block`, :meth:`activation_block`, :meth:`mount_problem`,
:meth:`copy_status`, :meth:`guard_copy_status`, :meth:`quorum`.  Every fault is also a
plain JSON record in ``LabState.faults`` (``kind: failure``).  Callers hold the lab lock;
nothing here sleeps (durations go through ``LabState.schedule``).
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from . import activation, operations

if TYPE_CHECKING:  # pragma: no cover
    from .objects_state import Dag, Database, DatabaseCopy
    from .state import LabState

# ---------------------------------------------------------------- modelled numbers
# Every number is a modelling choice or has its source named (README-model.md).
PAGE_PATCH_S = 30.0  # ESE page patching of a -1018 page (choice)
# autoreseed.md: copies FailedAndSuspended for 15 consecutive minutes start the workflow,
# which first tries to resume them three times, 5 minutes apart; then a spare volume is
# allocated and the copy is reseeded.
AUTORESEED_START_S = 15 * 60.0 + 3 * 5 * 60.0
SCM_RESTART_S = 60.0  # Service Control Manager restarts the Information Store (choice)
SERVER_RESTART_S = 300.0  # Windows restarts itself after a stop error (choice)
NETWORK_SWITCH_S = 10.0  # replication moves to another DAG network (choice)
DISCARD_LOG_S = 30.0  # continuous replication discards an invalid log (choice)
LOGS_PER_MINUTE = 6.0  # log growth of a copy that does not receive logs (choice)
PARTIAL_NETWORK_LOGS_PER_MINUTE = 3.0  # high network error rate: half the rate (choice)
GROWTH_STEP_S = 10.0  # how often queue growth is applied (lab time)
COPY_CATCHUP_LOGS_PER_S = 10.0  # copying catches up after the network recovers (choice)

# Copy statuses a failed or diverged copy may not reach while the failure lasts.
_RECOVERING = (
    "Healthy",
    "Initializing",
    "Resynchronizing",
    "DisconnectedAndHealthy",
    "DisconnectedAndResynchronizing",
    "SeedingSource",
)
# server-failure causes (failure-modes.yml row 20) after which Windows restarts by itself
SERVER_FAILURE_CAUSES = (
    "complete power failure",
    "unrecoverable failure of the processor chip, motherboard or backplane",
    "operating system stop error",
    "operating system stops responding",
    "complete communication failure",
)
AUTO_RESTART_CAUSES = ("operating system stop error",)


@dataclass(frozen=True)
class Mode:
    """One catalogue entry: the row's oracle (failure-modes.yml) and the target kind."""

    id: str
    row: int | None
    target: str  # copy | database | server | dag | site | sites | host
    activation: str = "not_applicable"
    active_copy: str = "not_applicable"
    passive_copy: str = "not_applicable"
    automatic_repair: str = "none"
    recent_logs_may_be_lost: bool = False
    options: tuple[str, ...] = ()  # extra inject keys
    clear_options: tuple[str, ...] = ()  # extra clear keys
    passive_only: bool = False

    def oracle(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "activation": self.activation,
            "active_copy": self.active_copy,
            "passive_copy": self.passive_copy,
            "automatic_repair": self.automatic_repair,
        }
        if self.recent_logs_may_be_lost:
            out["recent_logs_may_be_lost"] = True
        return out


_AF, _DIU, _F = "automatic_failover", "dismounted_if_unrecoverable", "failed"
_UNLESS, _LOSSLESS, _OTHERS_OK = (
    "automatic_failover_unless_blocked",
    "automatic_failover_lossless",
    "automatic_failover_if_other_copies_ok",
)
_REBUILD = "rebuild_volume_after_drive_replacement"

# The 32 rows of failure-modes.yml, in the seed's order, with their oracle fields:
# Mode(id, row, target, activation, active_copy, passive_copy, automatic_repair, ...).
# fmt: off
CATALOGUE: tuple[Mode, ...] = (
    Mode("ese-soft-database-failure", 1, "copy", "possible_automatic_failover",
         "manual_switchover_or_failover_or_online_repair", _F, "patch_bad_page", options=("delay_s",)),
    Mode("ese-semi-soft-database-failure", 2, "copy", _AF, _DIU, _F, _REBUILD, clear_options=("drive_replaced",)),
    Mode("ese-semi-soft-log-failure", 3, "copy", _AF, _DIU, _F, _REBUILD, clear_options=("drive_replaced",)),
    Mode("ese-software-error-or-resource-exhaustion", 4, "copy", _AF, _DIU, _F, "none"),
    Mode("ntfs-block-failure", 5, "copy", _AF, _DIU, _F, _REBUILD, recent_logs_may_be_lost=True,
         options=("volume",), clear_options=("drive_replaced",)),
    Mode("database-or-log-drive-failure", 6, "copy", _AF, _DIU, _F, "reformat_or_replace_then_full_rebuild",
         options=("delay_s",)),
    Mode("database-or-log-volume-failure", 7, "copy", _AF, _DIU, _F, "reformat_or_replace", options=("delay_s",)),
    Mode("database-or-log-volume-out-of-space", 8, "copy", _OTHERS_OK, "dismounted", _F, "none"),
    Mode("admin-dismounts-wrong-database", 9, "database", _UNLESS, "dismounted", "not_applicable", "none"),
    Mode("admin-suspends-wrong-database-copy", 10, "copy", "auto_recovery_may_be_prevented", "not_applicable",
         "suspended", "none", passive_only=True),
    Mode("admin-dismounts-database-for-storage-maintenance", 11, "database", _UNLESS, "dismounted",
         "not_applicable", "none"),
    Mode("admin-suspends-copy-for-storage-maintenance", 12, "copy", "auto_recovery_may_be_prevented",
         "not_applicable", "suspended", "none", passive_only=True),
    Mode("admin-dismounts-database-for-offline-maintenance", 13, "database", "outage_until_repaired", "dismounted",
         "suspended", "none"),
    Mode("san-disk-or-storage-controller-failure", 14, "server", _AF, "dismounted", "any", "none"),
    Mode("server-hardware-maintenance", 15, "server", _UNLESS, "dismounted", "any", "none"),
    Mode("server-software-maintenance", 16, "server", _UNLESS, "dismounted", "any", "none"),
    Mode("information-store-stopped-or-paused-by-admin", 17, "server", _AF, "dismounted", "any", "none"),
    Mode("information-store-fails-os-running", 18, "server", _AF, "dismounted", "any",
         "scm_restarts_information_store", options=("delay_s",)),
    Mode("information-store-partial-failure", 19, "server", "possible_automatic_failover",
         "mounted_partially_functional", "any_possibly_partially_functional", "none"),
    Mode("server-failure", 20, "server", _AF, "dismounted", "any", "restart_computer", options=("delay_s", "cause")),
    Mode("dag-quorum-failure", 21, "dag", "outage_until_repaired", "dismounted", "any", "none"),
    Mode("mapi-network-failure", 22, "server", _LOSSLESS, "dismounted", "any", "retry_communication"),
    Mode("replication-network-failure", 23, "server", "copy_or_seed_interruption", "unchanged", "any",
         "retry_communication", options=("delay_s", "logs_per_minute")),
    Mode("multiple-network-failure", 24, "server", _LOSSLESS, "dismounted", "any", "retry_communication"),
    Mode("partial-network-failure", 25, "server", "none", "mounted_possible_performance_issues", "any", "none",
         options=("logs_per_minute",)),
    Mode("undetected-os-hang", 26, "server", "none", "any", "any", "none", options=("logs_per_minute",)),
    Mode("os-drive-failure", 27, "server", _AF, "dismounted", "any", "none"),
    Mode("os-drive-out-of-space", 28, "server", _AF, "dismounted", "any", "none"),
    Mode("exchange-binaries-drive-failure", 29, "server", _AF, "dismounted", "any", "none"),
    Mode("exchange-binaries-drive-out-of-space", 30, "server", _AF, "dismounted", "any", "none"),
    Mode("invalid-new-log-detected", 31, "copy", _OTHERS_OK, "dismounted", _F, "none"),
    Mode("continuous-replication-detects-invalid-log", 32, "copy", "not_applicable", "not_applicable", _F,
         "discard_log", options=("delay_s",), passive_only=True),
)
# fmt: on
# Infrastructure faults beyond the seed's table.
EXTRA: tuple[Mode, ...] = (
    Mode("site_down", None, "site"),
    Mode("wan_partition", None, "sites"),
    Mode("host_unreachable", None, "host"),
    Mode("slow_network", None, "host", options=("logs_per_minute",)),
)
MODES: dict[str, Mode] = {m.id: m for m in (*CATALOGUE, *EXTRA)}

# ----------------------------------------------------------- behaviour of the rows
# Copy-level storage/ESE/log failures: (status of the failed copy while passive, what the
# active copy does).  "online_repair" = page patching while mounted; "failover" = the
# database fails and Active Manager activates another copy (BCSS).
_COPY_FAILURES: dict[str, tuple[str, str | None]] = {
    "ese-soft-database-failure": ("Failed", "online_repair"),
    "ese-semi-soft-database-failure": ("Failed", "failover"),
    "ese-semi-soft-log-failure": ("Failed", "failover"),
    "ese-software-error-or-resource-exhaustion": ("Failed", "failover"),
    "ntfs-block-failure": ("Failed", "failover"),
    "database-or-log-drive-failure": ("FailedAndSuspended", "failover"),
    "database-or-log-volume-failure": ("FailedAndSuspended", "failover"),
    "database-or-log-volume-out-of-space": ("Failed", "failover"),
    "invalid-new-log-detected": ("Failed", "failover"),
    "continuous-replication-detects-invalid-log": ("Failed", None),
}
# ErrorMessage texts of the failed copies (the lab's wording).
_ERRORS = {
    "ese-soft-database-failure": "The database copy encountered a read verification error (-1018) on a page.",
    "ese-semi-soft-database-failure": "The database volume returned errors on reads.",
    "ese-semi-soft-log-failure": "The log volume returned unrecoverable errors on reads or writes.",
    "ese-software-error-or-resource-exhaustion": (
        "The Extensible Storage Engine terminated the instance (event 1022: checkpoint depth too deep)."
    ),
    "ntfs-block-failure": "A read or write of an NTFS control structure failed on the {volume} volume.",
    "database-or-log-drive-failure": "The drive that holds the database or its logs has failed and can't be accessed.",
    "database-or-log-volume-failure": "The volume that holds the database or its logs has failed.",
    "database-or-log-volume-out-of-space": "The volume that holds the database or its logs is out of free space.",
    "invalid-new-log-detected": (
        "A new log file breaks the log sequence: a file with the same generation already exists."
    ),
    "continuous-replication-detects-invalid-log": (
        "Continuous replication found an invalid log while copying or replaying."
    ),
}
_VOLUME_REBUILD = ("database-or-log-drive-failure", "database-or-log-volume-failure")
_DRIVE_REPLACEABLE = ("ese-semi-soft-database-failure", "ese-semi-soft-log-failure", "ntfs-block-failure")
_ADMIN_SUSPEND = {
    "admin-suspends-wrong-database-copy": "Suspended by the administrator (wrong database copy).",
    "admin-suspends-copy-for-storage-maintenance": "Suspended for storage, NTFS or volume maintenance.",
}
_ADMIN_DISMOUNT = ("admin-dismounts-wrong-database", "admin-dismounts-database-for-storage-maintenance")
_OFFLINE_MAINTENANCE = "admin-dismounts-database-for-offline-maintenance"
_OFFLINE_COMMENT = "Suspended for offline database maintenance."
_DIVERGED = (
    "The database copy diverged from the active copy during offline maintenance of the active "
    "database; it needs to be reseeded (Update-MailboxDatabaseCopy)."
)
_RESEED = "The database copy's volume was rebuilt; the copy needs to be reseeded (Update-MailboxDatabaseCopy)."
# Servers that can't take part in DAG operations while the fault lasts, and whether the
# failover of their databases must be lossless.
_IMPAIRED: dict[str, tuple[str, bool]] = {
    "mapi-network-failure": ("not reachable on the MAPI network", True),
    "multiple-network-failure": ("not reachable on several DAG networks", True),
    "os-drive-out-of-space": ("the operating system drive is out of space", False),
    "exchange-binaries-drive-failure": ("the drive that holds the Exchange binaries failed", False),
    "exchange-binaries-drive-out-of-space": ("the drive that holds the Exchange binaries is out of space", False),
}
_HOST_DOWN = ("server-failure", "os-drive-failure", "server-hardware-maintenance", "server-software-maintenance")
_GRACEFUL = ("server-hardware-maintenance", "server-software-maintenance")
_STORE = ("information-store-stopped-or-paused-by-admin", "information-store-fails-os-running")
_STORE_SERVICE = "MSExchangeIS"
# Faults that slow or stop the copying of logs: (which copies, default logs per minute).
# "both" = copies on the host and copies whose active copy is on the host; "incoming" =
# copies on the host only.
_GROWTH: dict[str, tuple[str, float]] = {
    "slow_network": ("both", LOGS_PER_MINUTE),
    "partial-network-failure": ("both", PARTIAL_NETWORK_LOGS_PER_MINUTE),
    "undetected-os-hang": ("incoming", LOGS_PER_MINUTE),
    "replication-network-failure": ("both", LOGS_PER_MINUTE),
}
_WHICH = {"incoming": "copies on", "both": "copies on and from"}
_DEFAULT_DELAY = {
    "ese-soft-database-failure": PAGE_PATCH_S,
    "database-or-log-drive-failure": AUTORESEED_START_S,
    "database-or-log-volume-failure": AUTORESEED_START_S,
    "information-store-fails-os-running": SCM_RESTART_S,
    "server-failure": SERVER_RESTART_S,
    "replication-network-failure": NETWORK_SWITCH_S,
    "continuous-replication-detects-invalid-log": DISCARD_LOG_S,
}


class Catalogue:
    """Failure state of one ``LabState`` (rebuilt with it on reset)."""

    def __init__(self, lab: "LabState") -> None:
        self.lab = lab
        self.partitions: set[frozenset[str]] = set()  # blocked site pairs (lower case)
        self.dacp: dict[str, bool] = {}  # server (lower) -> DACP bit; absent = 1
        self.needs_reseed: dict[tuple[str, str], str] = {}  # (db, server) lower -> message
        self._holds: dict[str, set[int]] = {}  # host (lower) -> uids of faults holding it down
        self._growth: dict[int, dict[str, Any]] = {}
        self._uids = itertools.count(1)

    # ============================================================ records
    def records(self, *ids: str, active_only: bool = True) -> list[dict]:
        return [
            f
            for f in self.lab.faults
            if f.get("kind") == "failure"
            and (not ids or f["id"] in ids)
            and (not active_only or f["state"] == "active")
        ]

    def _is_current(self, record: dict) -> bool:
        return record["state"] == "active" and any(f is record for f in self.lab.faults)

    def _note(self, record: dict, text: str) -> None:
        record["events"].append(f"{self.lab.clock.now().isoformat(timespec='seconds')} {text}")

    # ========================================================= validation
    def validate(self, spec: Any, partial: bool = False) -> dict:
        """Normalise an ``{"id", "target", ...}`` spec (``ValueError`` when invalid)."""
        if not isinstance(spec, dict):
            raise ValueError("a fault must be a mapping with an 'id' (or a 'kind')")
        fid = str(spec.get("id", "")).strip().lower()
        mode = MODES.get(fid)
        if mode is None:
            raise ValueError(f"unknown failure id {spec.get('id')!r} (known: {', '.join(MODES)})")
        allowed = {"id", "target", *(mode.clear_options if partial else mode.options)}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(
                f"{fid}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})"
            )
        fault: dict[str, Any] = {"kind": "failure", "id": fid}
        target = spec.get("target")
        if target is None or str(target).strip() == "":
            if not partial:
                raise ValueError(f"{fid}: missing 'target' ({_TARGET_HELP[mode.target]})")
            fault["target"] = None
        else:
            fault.update(self._target(mode, str(target).strip(), partial))
        if partial:
            if "drive_replaced" in spec:
                if not isinstance(spec["drive_replaced"], bool):
                    raise ValueError(f"{fid}: drive_replaced must be true or false")
                fault["drive_replaced"] = spec["drive_replaced"]
            return fault
        if "delay_s" in spec:
            v = spec["delay_s"]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"{fid}: delay_s must be a non-negative number of lab seconds, got {v!r}")
            fault["delay_s"] = float(v)
        elif fid in _DEFAULT_DELAY:
            fault["delay_s"] = _DEFAULT_DELAY[fid]
        if "logs_per_minute" in spec:
            v = spec["logs_per_minute"]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ValueError(f"{fid}: logs_per_minute must be a positive number, got {v!r}")
            fault["logs_per_minute"] = float(v)
        if "volume" in spec:
            v = str(spec["volume"]).lower()
            if v not in ("log", "database"):
                raise ValueError(f"{fid}: volume must be 'log' or 'database', got {spec['volume']!r}")
            fault["volume"] = v
        elif fid == "ntfs-block-failure":
            fault["volume"] = "log"
        if fid == "server-failure":
            cause = str(spec.get("cause", "operating system stop error")).lower()
            if cause not in SERVER_FAILURE_CAUSES:
                raise ValueError(f"{fid}: cause must be one of: {'; '.join(SERVER_FAILURE_CAUSES)}")
            fault["cause"] = cause
        return fault

    def _target(self, mode: Mode, text: str, partial: bool) -> dict[str, Any]:
        lab = self.lab
        kind = mode.target
        if kind in ("copy", "database"):
            name, _, server = text.partition("\\")
            db = lab.database(name)
            if db is None:
                raise ValueError(f"{mode.id}: unknown database {name!r}")
            if kind == "database":
                if server and (
                    lab.server(server) is None or lab.server(server).name.lower() != db.active_server.lower()
                ):
                    raise ValueError(f"{mode.id}: the target is a database ({db.name}), not a passive copy")
                return {"target": db.name, "database": db.name, "server": db.active_server}
            if server:
                srv = lab.server(server)
                if srv is None:
                    raise ValueError(f"{mode.id}: unknown Exchange server {server!r}")
                c = db.copy_on(srv.name)
                if c is None:
                    raise ValueError(f"{mode.id}: {db.name} has no copy on {srv.name}")
            elif partial:
                return {"target": None, "database": db.name}
            else:
                c = db.active_copy
            if not partial and mode.passive_only and c.server.lower() == db.active_server.lower():
                raise ValueError(f"{mode.id}: {c.identity} is the active copy; this failure applies to passive copies")
            return {"target": c.identity, "database": db.name, "server": c.server}
        if kind == "server":
            srv = lab.server(text)
            if srv is None:
                raise ValueError(f"{mode.id}: unknown Exchange server {text!r}")
            return {"target": srv.name, "server": srv.name}
        if kind == "dag":
            dag = lab.dag(text) or lab.dag_of(text)
            if dag is None:
                raise ValueError(f"{mode.id}: unknown DAG (or DAG member) {text!r}")
            return {"target": dag.name, "dag": dag.name}
        if kind == "site":
            site = self._site(mode, text)
            return {"target": site, "site": site}
        if kind == "sites":
            parts = [p.strip() for p in text.replace("|", ",").split(",") if p.strip()]
            if len(parts) != 2:
                raise ValueError(f"{mode.id}: target must name two sites, e.g. 'DC1,DC2'")
            sites = sorted({self._site(mode, p) for p in parts}, key=str.lower)
            if len(sites) != 2:
                raise ValueError(f"{mode.id}: the two sites must differ")
            return {"target": ",".join(sites), "sites": sites}
        host = lab.host(text)
        if host is None:
            raise ValueError(f"{mode.id}: unknown host {text!r}")
        if mode.id == "slow_network" and lab.server(host.name) is None:
            raise ValueError(f"{mode.id}: {host.name} is not an Exchange server (no database copies to replicate)")
        return {"target": host.name, "host": host.name}

    def _site(self, mode: Mode, text: str) -> str:
        site = self.lab.sites.get(text.lower().rsplit("/", 1)[-1])
        if site is None:
            raise ValueError(f"{mode.id}: unknown Active Directory site {text!r}")
        return site["name"]

    # ========================================================= inject / clear
    def inject(self, spec: Any) -> dict:
        lab = self.lab
        fault = self.validate(spec)
        for f in self.records(active_only=False):
            if f["id"] == fault["id"] and (f["target"] or "").lower() == fault["target"].lower():
                if f["state"] == "active":
                    raise ValueError(f"{fault['id']} is already injected for {fault['target']}; clear it first")
                lab.faults.remove(f)  # a repaired one is replaced
        mode = MODES[fault["id"]]
        record = {
            **fault,
            "uid": next(self._uids),
            "row": mode.row,
            "scope": mode.target,
            "automatic_repair": mode.automatic_repair,
            "state": "active",
            "injected_at": lab.clock.now().isoformat(),
            "events": [],
        }
        lab.faults.append(record)
        getattr(self, "_inject_" + _HANDLER[record["id"]])(record)
        return dict(record)

    def clear(self, spec: Any) -> int:
        wanted = self.validate(spec, partial=True)
        matches = [
            f
            for f in self.records(active_only=False)
            if f["id"] == wanted["id"]
            and (
                wanted["target"] is None
                and ("database" not in wanted or f.get("database", "").lower() == wanted["database"].lower())
                or wanted["target"] is not None
                and (f["target"] or "").lower() == wanted["target"].lower()
            )
        ]
        if not matches:
            raise ValueError(
                f"no {wanted['id']} fault is injected for {wanted['target'] or wanted.get('database', 'any target')}"
            )
        for f in reversed(matches):
            self.undo(f, drive_replaced=wanted.get("drive_replaced", False))
            self.lab.faults.remove(f)
        return len(matches)

    def undo(self, record: dict, *, drive_replaced: bool = False) -> None:
        """The repair action of the row (the caller removes the record)."""
        was_active = record["state"] == "active"
        record["state"] = "cleared"
        getattr(self, "_clear_" + _HANDLER[record["id"]])(record, was_active, drive_replaced)

    # ---------------------------------------------------------- copy failures
    def _inject_copy(self, record: dict) -> None:
        lab = self.lab
        fid = record["id"]
        db = lab.database(record["database"])
        c = db.copy_on(record["server"])
        hold, reaction = _COPY_FAILURES[fid]
        message = _ERRORS[fid].format(volume=record.get("volume", ""))
        delay = record.get("delay_s", 0.0)
        if c.server.lower() == db.active_server.lower():
            record["role"] = "active"
            if reaction == "online_repair":
                source = next(
                    (
                        x
                        for x in db.copies
                        if x is not c and lab.copy_status(db, x) in ("Healthy", "DisconnectedAndHealthy")
                    ),
                    None,
                )
                if source is None:
                    self._note(record, f"{db.name} stays mounted; no healthy passive copy can supply the page")
                    return
                self._note(record, f"{db.name} stays mounted on {c.server}; the page is patched from {source.identity}")
                self._after(record, delay, lambda: self._repaired(record, "bad page patched"), "patch the bad page")
                return
            record["holds"] = [{"database": db.name, "server": c.server, "status": hold, "message": message}]
            acll = not (fid == "ntfs-block-failure" and record.get("volume") == "log")
            if not acll:
                self._note(record, "the active log volume is damaged: the last logs can't be copied")
            self._failover(record, db, f"{fid} on {c.identity}", source_reachable=acll)
        else:
            record["role"] = "passive"
            if fid == "ese-soft-database-failure" and c.replay_lag_s > 0:
                # runbooks §6.3: lagged copies can't be page-patched; a -1018 forces a reseed
                self._needs_reseed(db, c, "A lagged copy can't be page-patched: the -1018 page forces a reseed.")
                self._note(record, f"{c.identity} is lagged: FailedAndSuspended until it is reseeded")
                return
            record["holds"] = [{"database": db.name, "server": c.server, "status": hold, "message": message}]
            lab.set_copy_status(db, c.server, hold, error_message=message)
            self._note(record, f"{c.identity} is {hold}")
            if fid == "ese-soft-database-failure":
                self._after(
                    record, delay, lambda: self._repaired(record, "bad page patched", resync=True), "patch the bad page"
                )
            elif fid == "continuous-replication-detects-invalid-log":
                self._after(
                    record,
                    delay,
                    lambda: self._repaired(record, "invalid log discarded", resync=True),
                    "discard the invalid log",
                )
        if fid in _VOLUME_REBUILD:
            dag = lab.dag(db.dag) if db.dag else None
            if dag is not None and dag.auto_reseed:
                self._after(record, delay, lambda: self._autoreseed(record), "AutoReseed")

    def _clear_copy(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        lab = self.lab
        db = lab.database(record["database"])
        c = db.copy_on(record["server"]) if db else None
        if db is None or c is None:
            return
        if not was_active:
            return
        if c.server.lower() != db.active_server.lower():
            if record["id"] in _VOLUME_REBUILD or (drive_replaced and record["id"] in _DRIVE_REPLACEABLE):
                self._rebuild_volume(db, c)
            elif record.get("holds"):
                c.error_message = None
                operations.settle(lab, db, c.server)
        self._reevaluate(db)

    def _autoreseed(self, record: dict) -> None:
        """autoreseed.md: a spare volume replaces the failed one and the copy is reseeded
        from the active copy.  Not possible while the failed copy is the active one."""
        lab = self.lab
        db = lab.database(record["database"])
        c = db.copy_on(record["server"]) if db else None
        if c is None or c.server.lower() == db.active_server.lower():
            self._note(record, "AutoReseed: the failed copy is the active copy; nothing to reseed from")
            return
        record["state"] = "repaired"
        self._note(record, f"AutoReseed: a spare volume was allocated for {c.identity}")
        self._rebuild_volume(db, c, force_seed=True)

    def _rebuild_volume(self, db: "Database", c: "DatabaseCopy", *, force_seed: bool = False) -> None:
        """The copy's volume is new (reformatted/replaced): its files are gone.  With
        AutoReseed on (or for the AutoReseed workflow itself) the copy is reseeded at once;
        else it is FailedAndSuspended until Update-MailboxDatabaseCopy."""
        lab = self.lab
        srv = lab.server(c.server)
        if srv is not None:
            operations.files_on(lab, srv).discard(db.name.lower())
        dag = lab.dag(db.dag) if db.dag else None
        auto = force_seed or (dag is not None and dag.auto_reseed)
        seed = operations.copy_extras(c)["seed"]
        if auto and lab.is_reachable(db.active_server) and not (seed is not None and seed.state == "Seeding"):
            self.needs_reseed.pop(_key(db.name, c.server), None)
            operations.start_seed(lab, db, c, db.active_server)
        else:
            self._needs_reseed(db, c, _RESEED)

    def _needs_reseed(self, db: "Database", c: "DatabaseCopy", message: str) -> None:
        self.needs_reseed[_key(db.name, c.server)] = message
        self.lab.set_copy_status(db, c.server, "FailedAndSuspended", error_message=message)

    # ---------------------------------------------------------- administrator
    def _inject_admin_suspend(self, record: dict) -> None:
        lab = self.lab
        db = lab.database(record["database"])
        c = db.copy_on(record["server"])
        lab.set_copy_status(db, c.server, "Suspended", suspend_comment=_ADMIN_SUSPEND[record["id"]])
        c.activation_suspended = True
        self._note(record, f"{c.identity} suspended (replication and activation)")

    def _clear_admin_suspend(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        lab = self.lab
        db = lab.database(record["database"])
        c = db.copy_on(record["server"]) if db else None
        if c is None or c.server.lower() == db.active_server.lower():
            return
        if c.status == "Suspended":
            operations.settle(lab, db, c.server)
        c.activation_suspended = False
        c.suspend_comment = None

    def _inject_admin_dismount(self, record: dict) -> None:
        """The seed's reaction to an administrator dismount: Active Manager activates
        another copy unless automatic activation is blocked (the old active server is
        reachable, so the activation is lossless)."""
        lab = self.lab
        db = lab.database(record["database"])
        lab.set_mount_state(db, "Dismounted")
        db.dismounted_by_system = False
        res = activation.failover(lab, db, f"{record['id']} ({db.name})", source_reachable=True)
        if res.target is None:
            db.dismounted_by_system = False  # an administrator's dismount: no automatic remount
            self._note(record, f"{db.name} stays dismounted on {db.active_server}: no copy may be activated")
        else:
            self._note(record, f"{db.name} activated on {res.target}")

    def _clear_admin_dismount(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        db = self.lab.database(record["database"])
        if db is not None and db.active_server.lower() == record["server"].lower():
            self._mount(db)

    def _inject_offline_maintenance(self, record: dict) -> None:
        lab = self.lab
        db = lab.database(record["database"])
        lab.set_mount_state(db, "Dismounted")
        db.dismounted_by_system = False
        record["suspended"] = []
        for c in db.copies:
            if c.server.lower() == db.active_server.lower():
                continue
            lab.set_copy_status(db, c.server, "Suspended", suspend_comment=_OFFLINE_COMMENT)
            c.activation_suspended = True
            record["suspended"].append(c.server)
        self._note(record, f"{db.name} dismounted; its passive copies are suspended")

    def _clear_offline_maintenance(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        """The maintenance is done: the database mounts; the passive copies diverged and
        need a reseed (the row's comment)."""
        lab = self.lab
        db = lab.database(record["database"])
        if db is None:
            return
        for server in record.get("suspended", []):
            c = db.copy_on(server)
            if c is not None and c.server.lower() != db.active_server.lower() and c.status == "Suspended":
                self._needs_reseed(db, c, _DIVERGED)
        if db.active_server.lower() == record["server"].lower():
            self._mount(db)

    # ---------------------------------------------------------- server level
    def _inject_storage(self, record: dict) -> None:
        """SAN, disk or storage controller failure: the server's databases can't be
        accessed; its active databases fail over (the server itself is reachable)."""
        lab = self.lab
        server = record["server"]
        record["holds"] = [
            {"database": db.name, "server": server, "status": "Failed", "message": "The storage of the server failed."}
            for db in lab.active_databases(server)
        ]
        self._fail_active_databases(record, server, source_reachable=True)

    def _clear_storage(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        lab = self.lab
        for h in record.get("holds", []):
            db = lab.database(h["database"])
            c = db.copy_on(h["server"]) if db else None
            if c is not None and c.server.lower() != db.active_server.lower() and c.status == "Failed":
                c.error_message = None
                operations.settle(lab, db, c.server)
        self._reevaluate_dag_of(record["server"])

    def _inject_impaired(self, record: dict) -> None:
        reason, lossless = _IMPAIRED[record["id"]]
        self._note(record, f"{record['server']}: {reason}")
        self._fail_active_databases(record, record["server"], source_reachable=True, lossless=lossless)

    def _clear_impaired(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        lab = self.lab
        if record["id"] == "exchange-binaries-drive-failure":
            for db in lab.databases_on(record["server"]):
                c = db.copy_on(record["server"])
                if c.server.lower() != db.active_server.lower() and c.status == "Healthy":
                    operations.settle(lab, db, c.server)
        self._reevaluate_dag_of(record["server"])

    def _inject_host_down(self, record: dict) -> None:
        server = record["server"]
        if record["id"] in _GRACEFUL:
            # a planned shutdown: the databases move while the server still answers
            self._fail_active_databases(record, server, source_reachable=True)
        self._hosts_down(record, [server])
        if record["id"] == "server-failure":
            self._note(record, f"cause: {record['cause']}")
            if record["cause"] in AUTO_RESTART_CAUSES:
                self._after(record, record["delay_s"], lambda: self._restart(record), f"{server} restarts")

    def _restart(self, record: dict) -> None:
        record["state"] = "repaired"
        self._note(record, f"{record['server']} restarted")
        self._hosts_up(record, [record["server"]])

    def _clear_host_down(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        self._hosts_up(record, [record["server"]])

    def _inject_store(self, record: dict) -> None:
        lab = self.lab
        server = record["server"]
        windows = getattr(lab, "windows", None)
        if windows is not None and windows.service(server, _STORE_SERVICE) is not None:
            # model/windows.py: the store stops, its databases fail over (or stay dismounted)
            windows.stop_service(server, _STORE_SERVICE, force=True)
            record["service_stopped"] = True
        else:
            record["service_stopped"] = False
            self._fail_active_databases(record, server, source_reachable=True)
        self._note(record, f"Microsoft Exchange Information Store stopped on {server}")
        if record["id"] == "information-store-fails-os-running":
            self._after(
                record,
                record["delay_s"],
                lambda: self._store_restart(record),
                f"SCM restarts {_STORE_SERVICE} on {server}",
            )

    def _store_restart(self, record: dict) -> None:
        record["state"] = "repaired"
        self._note(record, f"the Service Control Manager restarted {_STORE_SERVICE}")
        self._start_store(record)

    def _start_store(self, record: dict) -> None:
        lab = self.lab
        if record.get("service_stopped"):
            lab.windows.start_service(record["server"], _STORE_SERVICE)
        self._reevaluate_dag_of(record["server"])

    def _clear_store(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        if was_active:
            self._start_store(record)

    def _inject_silent(self, record: dict) -> None:
        """Not detected: no activation; only the copying of logs suffers (if at all)."""
        if record["id"] == "information-store-partial-failure":
            self._note(record, f"part of the store on {record['server']} stopped working; not detected")
            return
        self._start_growth(record, record["server"])

    def _clear_silent(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        self._stop_growth(record)

    def _inject_replication_network(self, record: dict) -> None:
        """Replication moves to another replication-enabled DAG network after a short
        interruption; with none left, copying stops until the network is repaired."""
        lab = self.lab
        server = record["server"]
        dag = lab.dag_of(server)
        alternative = self._alternative_network(dag, server) if dag else None
        now = lab.clock.elapsed()
        if alternative is not None:
            record["interrupted_until_s"] = now + record["delay_s"]
            record["switched_to"] = alternative
            self._note(record, f"replication of {server} moves to {alternative} after an interruption")
        else:
            record["interrupted_until_s"] = None
            self._note(record, f"{server} has no other replication network: copying stops")
            self._start_growth(record, server)

    def _clear_replication_network(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        self._stop_growth(record)

    def _alternative_network(self, dag: "Dag", server: str) -> str | None:
        srv = self.lab.server(server)
        addresses = [a for a in (srv.ip, srv.replication_ip) if a]
        failed = srv.replication_ip or srv.ip

        def contains(net: Any, address: str) -> bool:
            return any(ipaddress.ip_address(address) in ipaddress.ip_network(s, strict=False) for s in net.subnets)

        for net in dag.networks:
            if net.ignore_network or not net.replication_enabled or contains(net, failed):
                continue
            if any(contains(net, a) for a in addresses):
                return net.name
        return None

    def _inject_quorum(self, record: dict) -> None:
        dag = self.lab.dag(record["dag"])
        self._note(record, f"the cluster of {dag.name} lost quorum")
        self.lab.evaluate_quorum(dag)

    def _clear_quorum(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        dag = self.lab.dag(record["dag"])
        if dag is not None:
            self._react(dag, "quorum repaired")

    # ---------------------------------------------------------- infrastructure
    def _inject_site(self, record: dict) -> None:
        self._hosts_down(record, self._site_hosts(record["site"]))

    def _clear_site(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        self._hosts_up(record, self._site_hosts(record["site"]))

    def _inject_host(self, record: dict) -> None:
        if record["id"] == "slow_network":
            self._start_growth(record, record["host"])
            return
        self._hosts_down(record, [record["host"]])

    def _clear_host(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        if record["id"] == "slow_network":
            self._stop_growth(record)
            return
        self._hosts_up(record, [record["host"]])

    def _inject_partition(self, record: dict) -> None:
        self.partitions.add(frozenset(s.lower() for s in record["sites"]))
        self._note(record, f"{record['sites'][0]} and {record['sites'][1]} can't reach each other")
        for dag in self.lab.dags.values():
            self._react(dag, f"WAN partition {record['target']}")

    def _clear_partition(self, record: dict, was_active: bool, drive_replaced: bool) -> None:
        pair = frozenset(s.lower() for s in record["sites"])
        others = [
            f
            for f in self.records("wan_partition")
            if f is not record and frozenset(s.lower() for s in f["sites"]) == pair
        ]
        if not others:
            self.partitions.discard(pair)
        for dag in self.lab.dags.values():
            self._react(dag, "WAN restored")

    def _site_hosts(self, site: str) -> list[str]:
        return [h.name for h in self.lab.hosts if h.site.lower() == site.lower()]

    # ============================================================= effects
    def _after(self, record: dict, delay: float, fn: Callable[[], None], label: str) -> None:
        def run() -> None:
            if self._is_current(record):
                fn()

        self.lab.schedule(delay, run, f"{record['id']} {record['target']}: {label}")

    def _repaired(self, record: dict, what: str, *, resync: bool = False) -> None:
        record["state"] = "repaired"
        self._note(record, what)
        if resync:
            db = self.lab.database(record["database"])
            c = db.copy_on(record["server"]) if db else None
            if c is not None and c.server.lower() != db.active_server.lower():
                c.error_message = None
                operations.settle(self.lab, db, c.server)

    def _failover(
        self, record: dict, db: "Database", reason: str, *, source_reachable: bool, lossless: bool = False
    ) -> None:
        res = activation.failover(self.lab, db, reason, source_reachable=source_reachable, lossless=lossless)
        if res.target is None:
            self._note(record, f"{db.name} dismounted on {res.source}: no copy meets the activation criteria")
        else:
            self._note(record, f"{db.name} failed over from {res.source} to {res.target} ({res.logs_lost} logs lost)")

    def _fail_active_databases(
        self, record: dict, server: str, *, source_reachable: bool, lossless: bool = False
    ) -> None:
        for db in list(self.lab.active_databases(server)):
            if db.mount_state == "Dismounted":
                continue
            self._failover(
                record, db, f"{record['id']} on {server}", source_reachable=source_reachable, lossless=lossless
            )

    def _mount(self, db: "Database") -> None:
        lab = self.lab
        if db.mount_state != "Mounted" and lab.is_operational(db.active_server) and self.mount_problem(db) is None:
            lab.set_mount_state(db, "Mounted")

    def _reevaluate(self, db: "Database") -> None:
        dag = self.lab.dag(db.dag) if db.dag else None
        if dag is not None:
            self.lab.evaluate_quorum(dag)
        elif db.dismounted_by_system:
            self._mount(db)

    def _reevaluate_dag_of(self, server: str) -> None:
        dag = self.lab.dag_of(server)
        if dag is not None:
            self.lab.evaluate_quorum(dag)
        else:
            for db in self.lab.active_databases(server):
                if db.dismounted_by_system:
                    self._mount(db)

    # -- hosts going down and coming back (atomically: a site fails at once) -------------
    def held_down(self, host: str) -> bool:
        """A catalogue fault (site_down, host_unreachable, server-failure ...) keeps the
        host down."""
        return bool(self._holds.get(host.lower()))

    def _hosts_down(self, record: dict, names: list[str]) -> None:
        lab = self.lab
        newly = []
        for name in names:
            h = lab.host(name)
            self._holds.setdefault(h.name.lower(), set()).add(record["uid"])
            if lab.host_up(h.name):
                newly.append(h.name)
        for name in newly:
            lab._host_up[name.lower()] = False
            srv = lab.server(name)
            if srv is None:
                continue
            srv.up = False
            dag = lab.dag_of(name)
            node = dag.cluster.node(name) if dag else None
            if node is not None and node.state != "Down":
                node.state = "Down"
        if newly:
            self._note(record, f"unreachable: {', '.join(newly)}")
        for dag in lab.dags.values():
            self._react(dag, f"{record['id']} {record['target']}")
        for name in newly:
            for db in lab.active_databases(name):
                if db.mount_state != "Dismounted":
                    db.mount_state = "Dismounted"
                    db.dismounted_by_system = True

    def _hosts_up(self, record: dict, names: list[str]) -> None:
        lab = self.lab
        back = []
        for name in names:
            h = lab.host(name)
            holds = self._holds.get(h.name.lower(), set())
            holds.discard(record["uid"])
            if holds or lab.host_up(h.name):
                continue
            if any(f.get("kind") == "server_down" and f["server"].lower() == h.name.lower() for f in lab.faults):
                continue
            back.append(h.name)
        for name in back:
            lab._host_up[name.lower()] = True
            srv = lab.server(name)
            if srv is None:
                continue
            srv.up = True
            self.server_restarted(srv.name)
            dag = lab.dag_of(name)
            node = dag.cluster.node(name) if dag else None
            if node is not None and node.state == "Down":
                node.state = "Up"
        for name in back:
            srv = lab.server(name)
            if srv is None:
                continue
            for db in lab.databases_on(name):
                c = db.copy_on(name)
                if db.active_server.lower() != name.lower() and c.status in ("Healthy", "ServiceDown"):
                    operations.settle(lab, db, c.server)
        if back:
            self._note(record, f"reachable again: {', '.join(back)}")
        for dag in lab.dags.values():
            self._react(dag, f"{record['id']} {record['target']} repaired")

    def _react(self, dag: "Dag", reason: str) -> None:
        """Active Manager after a change of connectivity: with quorum, the PAM moves into
        the partition that has quorum and the databases active on servers that are down or
        cut off fail over (the old active server can't be reached: no "attempt copy last
        logs"); then the usual quorum evaluation (dismount all without quorum; remount the
        databases dismounted by a failure where their server is back)."""
        lab = self.lab
        q = lab.quorum(dag)
        if q["has_quorum"]:
            members = {n.lower() for n in self._quorum_members(dag)}
            owner = (dag.cluster.group_owner or "").lower()
            node = dag.cluster.node(owner) if owner else None
            if owner not in members or node is None or node.state != "Up":
                dag.cluster.group_owner = next(
                    (n.name for n in dag.cluster.nodes.values() if n.name.lower() in members and n.state == "Up"), None
                )
            for db in list(lab.databases.values()):
                if db.dag != dag.name or db.mount_state == "Dismounted":
                    continue
                srv = lab.server(db.active_server)
                if srv is None or not srv.up or srv.name.lower() not in members:
                    activation.failover(lab, db, reason, source_reachable=False)
        lab.evaluate_quorum(dag)

    # -- growth of copy queues --------------------------------------------------------
    def _start_growth(self, record: dict, host: str) -> None:
        which, default_rate = _GROWTH[record["id"]]
        rate = record.get("logs_per_minute", default_rate)
        record["logs_per_minute"] = rate
        self._growth[record["uid"]] = {"host": host, "which": which, "rate": rate, "first": {}, "added": {}}
        self._note(
            record,
            f"copy queues grow by {rate:g} logs per minute ({_WHICH[which]} {host})",
        )
        self._growth_step(record)

    def _growth_step(self, record: dict) -> None:
        data = self._growth.get(record["uid"])
        if data is None or not self._is_current(record):
            return
        lab = self.lab
        now = lab.clock.elapsed()
        host = data["host"].lower()
        for db in lab.databases.values():
            for c in db.copies:
                if c.server.lower() == db.active_server.lower():
                    continue
                if not (c.server.lower() == host or data["which"] == "both" and db.active_server.lower() == host):
                    continue
                key = (db.name, c.server)
                first = data["first"].setdefault(key, now)
                total = int(data["rate"] * (now - first) / 60.0)
                inc = total - data["added"].get(key, 0)
                if inc > 0:
                    c.copy_queue += inc
                    data["added"][key] = total
        lab.schedule(
            GROWTH_STEP_S, lambda: self._growth_step(record), f"{record['id']} {record['target']}: copy queues grow"
        )

    def _stop_growth(self, record: dict) -> None:
        """Copying resumes: the logs that piled up are copied at the catch-up rate."""
        data = self._growth.pop(record["uid"], None)
        if data is None:
            return
        lab = self.lab
        added = {k: v for k, v in data["added"].items() if v > 0}
        if not added:
            return

        def caught_up() -> None:
            for (name, server), n in added.items():
                db = lab.database(name)
                c = db.copy_on(server) if db else None
                if c is not None and c.server.lower() != db.active_server.lower():
                    c.copy_queue = max(0, c.copy_queue - n)

        lab.schedule(
            max(added.values()) / COPY_CATCHUP_LOGS_PER_S,
            caught_up,
            f"{record['id']} {record['target']}: copying catches up",
        )

    # ============================================================== network
    def _site_of(self, host: str) -> str | None:
        h = self.lab.host(host)
        return h.site.lower() if h else None

    def can_communicate(self, a: str, b: str) -> bool:
        """Both hosts up, and their sites not cut off from each other."""
        lab = self.lab
        if not (lab.host_up(a) and lab.host_up(b)):
            return False
        sa, sb = self._site_of(a), self._site_of(b)
        return sa == sb or frozenset((sa, sb)) not in self.partitions

    def affects_quorum(self, dag: "Dag") -> bool:
        return bool(self.partitions) or bool(
            [f for f in self.records("dag-quorum-failure") if f["dag"].lower() == dag.name.lower()]
        )

    def quorum(self, dag: "Dag") -> dict:
        """Quorum with network partitions: each partition of reachable nodes counts its
        own votes; the file share witness votes for one partition that can reach it (the
        PAM's if it can, else the first); a partition needs a majority of all votes.
        ``dag-quorum-failure`` forces the loss."""
        lab = self.lab
        nodes = list(dag.cluster.nodes.values())
        count = len(nodes)
        uses_witness = count % 2 == 0 and count > 0
        total = count + (1 if uses_witness else 0)
        witness = lab._witness_host(dag) if uses_witness else None
        witness_up = bool(witness) and lab.host_up(witness)
        up = [n.name for n in nodes if n.state in ("Up", "Paused") and lab.is_reachable_host(n.name)]
        groups: list[list[str]] = []
        for name in up:
            for g in groups:
                if self.can_communicate(name, g[0]):
                    g.append(name)
                    break
            else:
                groups.append([name])
        owner = (dag.cluster.group_owner or "").lower()
        reach = [g for g in groups if witness_up and any(self.can_communicate(n, witness) for n in g)]
        with_witness = next((g for g in reach if owner in {n.lower() for n in g}), reach[0] if reach else None)

        def votes(g: list[str]) -> int:
            return len(g) + (1 if g is with_witness else 0)

        best = max(groups, key=lambda g: (votes(g), owner in {n.lower() for n in g}), default=[])
        best_votes = votes(best) if best else 0
        forced = bool([f for f in self.records("dag-quorum-failure") if f["dag"].lower() == dag.name.lower()])
        return {
            "model": "NodeAndFileShareMajority" if uses_witness else "NodeMajority",
            "nodes": count,
            "nodes_up": len(best),
            "witness": witness,
            "witness_up": bool(best) and with_witness is best,
            "votes": best_votes,
            "total_votes": total,
            "has_quorum": not forced and total > 0 and best_votes * 2 > total,
            "partitions": groups,
            "quorum_partition": list(best),
            "forced_loss": forced,
        }

    def _quorum_members(self, dag: "Dag") -> list[str]:
        q = self.lab.quorum(dag)
        if "quorum_partition" in q:
            return q["quorum_partition"] if q["has_quorum"] else []
        return [
            n.name
            for n in dag.cluster.nodes.values()
            if n.state in ("Up", "Paused") and self.lab.is_reachable_host(n.name)
        ]

    # ================================================================ hooks
    def server_block(self, server: str) -> str | None:
        """Why a reachable server can't take part in DAG operations (``is_operational``)."""
        key = server.lower()
        for f in self.records(*_IMPAIRED):
            if f["server"].lower() == key:
                return _IMPAIRED[f["id"]][0]
        dag = self.lab.dag_of(server)
        if dag is not None and self.affects_quorum(dag) and self.partitions:
            q = self.quorum(dag)
            if dag.cluster.node(server) is not None and key not in {n.lower() for n in q["quorum_partition"]}:
                return "cut off from the cluster partition that has quorum"
        return None

    def _hold(self, db: "Database", server: str) -> dict | None:
        for f in self.records():
            for h in f.get("holds", ()):
                if h["database"].lower() == db.name.lower() and h["server"].lower() == server.lower():
                    return h
        return None

    def _storage_failed(self, server: str) -> bool:
        return any(
            f["server"].lower() == server.lower() for f in self.records("san-disk-or-storage-controller-failure")
        )

    def activation_block(self, db: "Database", copy: "DatabaseCopy") -> str | None:
        """Why Active Manager may not activate this copy (BCSS candidate list)."""
        if _key(db.name, copy.server) in self.needs_reseed:
            return "the copy needs to be reseeded"
        hold = self._hold(db, copy.server)
        if hold is not None:
            return hold["message"]
        if self._storage_failed(copy.server):
            return "the storage of the server failed"
        if not self.dacp_ok(copy.server):
            return "DACP bit is 0 (datacenter activation coordination)"
        return None

    def mount_problem(self, db: "Database", server: str | None = None) -> str | None:
        """Why the copy of ``db`` on ``server`` (default: the active one) can't be mounted."""
        server = server or db.active_server
        for f in self.records(_OFFLINE_MAINTENANCE):
            if f["database"].lower() == db.name.lower():
                return f"Database '{db.name}' is being maintained offline."
        hold = self._hold(db, server)
        if hold is not None:
            return f"Database copy '{db.name}\\{server}' has failed: {hold['message']}"
        if _key(db.name, server) in self.needs_reseed:
            return f"Database copy '{db.name}\\{server}' needs to be reseeded."
        if self._storage_failed(server):
            return f"The storage of server '{server}' failed."
        reason = self.server_block(server)
        if reason is not None:
            return f"Server '{server}' can't mount databases: {reason}."
        if not self.dacp_ok(server):
            return (
                f"Active Manager on server '{server}' isn't allowed to mount databases: its Datacenter "
                f"Activation Coordination (DACP) bit is 0 and no other member of the database "
                f"availability group with the bit set can be contacted."
            )
        return None

    def copy_status(self, db: "Database", c: "DatabaseCopy", status: str) -> str:
        """What Status shows, given the stored status (display only)."""
        if status == "ServiceDown":
            return status
        if any(f["server"].lower() == c.server.lower() for f in self.records("exchange-binaries-drive-failure")):
            return "ServiceDown"
        if c.server.lower() == db.active_server.lower() or status not in ("Healthy", "Initializing", "Resynchronizing"):
            return status
        if self._disconnected(db, c):
            return "DisconnectedAndHealthy" if status == "Healthy" else "DisconnectedAndResynchronizing"
        return status

    def _disconnected(self, db: "Database", c: "DatabaseCopy") -> bool:
        lab = self.lab
        active = db.active_server
        if (
            self.partitions
            and lab.host_up(c.server)
            and lab.host_up(active)
            and not self.can_communicate(c.server, active)
        ):
            return True
        now = lab.clock.elapsed()
        for f in self.records("replication-network-failure"):
            if f["server"].lower() in (c.server.lower(), active.lower()):
                until = f.get("interrupted_until_s")
                if until is None or now < until:
                    return True
        return False

    def guard_copy_status(self, db: "Database", c: "DatabaseCopy", status: str) -> tuple[str, str | None]:
        """A failed copy does not heal while its failure lasts, and a copy that needs a
        reseed stays FailedAndSuspended until a seed starts."""
        key = _key(db.name, c.server)
        if status == "Seeding":
            self.needs_reseed.pop(key, None)
            return status, None
        if status in _RECOVERING:
            hold = self._hold(db, c.server)
            if hold is not None:
                return hold["status"], hold["message"]
            if key in self.needs_reseed:
                return "FailedAndSuspended", self.needs_reseed[key]
        return status, None

    # ================================================================= DACP
    def server_restarted(self, server: str) -> None:
        """Active Manager starts: its DACP bit is 0 (dac-mode.md)."""
        self.dacp[server.lower()] = False

    def dacp_ok(self, server: str) -> bool:
        """dac-mode.md: in DAC mode a starting Active Manager may mount only after another
        member answers with its bit set to 1.  Lab choice: it may also when it can talk to
        every member that isn't in StoppedMailboxServers (the whole DAG restarted)."""
        lab = self.lab
        srv = lab.server(server)
        dag = lab.dag_of(server)
        if srv is None or dag is None or dag.datacenter_activation_mode != "DagOnly":
            return True
        key = srv.name.lower()
        if self.dacp.get(key, True):
            return True
        if not srv.up:
            return False
        others = [m for m in dag.members if m.lower() != key]
        for m in others:
            if self.dacp.get(m.lower(), True) and lab.is_reachable(m) and self.can_communicate(srv.name, m):
                self.dacp[key] = True
                return True
        running = [m for m in others if not any(s.lower() == m.lower() for s in dag.stopped)]
        if all(lab.is_reachable(m) and self.can_communicate(srv.name, m) for m in running):
            self.dacp[key] = True
            return True
        return False

    # ================================================================= dump
    def to_json(self) -> dict:
        lab = self.lab
        dacp = {}
        for dag in lab.dags.values():
            if dag.datacenter_activation_mode == "DagOnly":
                for m in dag.members:
                    dacp[m] = 1 if self.dacp_ok(m) else 0
        return {
            "catalogue": [{"id": m.id, "row": m.row, "target": m.target} for m in (*CATALOGUE, *EXTRA)],
            "partitions": sorted(sorted(lab.sites[s]["name"] for s in p) for p in self.partitions),
            "dacp": dacp,
            "needs_reseed": sorted(f"{lab.database(d).name}\\{lab.server(s).name}" for d, s in self.needs_reseed),
            "hosts_held_down": sorted(lab.host(h).name for h, uids in self._holds.items() if uids),
        }


def _key(database: str, server: str) -> tuple[str, str]:
    return database.lower(), server.lower()


_TARGET_HELP = {
    "copy": "a database copy 'DB01\\EX02' or a database 'DB01' (its active copy)",
    "database": "a database, e.g. 'DB01'",
    "server": "an Exchange server, e.g. 'EX01'",
    "dag": "a DAG, e.g. 'DAG1'",
    "site": "an Active Directory site, e.g. 'DC1'",
    "sites": "two Active Directory sites, e.g. 'DC1,DC2'",
    "host": "a host, e.g. 'FS01'",
}

# id -> handler suffix (``_inject_<h>`` / ``_clear_<h>``)
_HANDLER: dict[str, str] = {
    **{fid: "copy" for fid in _COPY_FAILURES},
    **{fid: "admin_suspend" for fid in _ADMIN_SUSPEND},
    **{fid: "admin_dismount" for fid in _ADMIN_DISMOUNT},
    _OFFLINE_MAINTENANCE: "offline_maintenance",
    "san-disk-or-storage-controller-failure": "storage",
    **{fid: "host_down" for fid in _HOST_DOWN},
    **{fid: "store" for fid in _STORE},
    "information-store-partial-failure": "silent",
    "partial-network-failure": "silent",
    "undetected-os-hang": "silent",
    "dag-quorum-failure": "quorum",
    **{fid: "impaired" for fid in _IMPAIRED},
    "replication-network-failure": "replication_network",
    "site_down": "site",
    "wan_partition": "partition",
    "host_unreachable": "host",
    "slow_network": "host",
}
assert set(_HANDLER) == set(MODES), sorted(set(MODES) ^ set(_HANDLER))
