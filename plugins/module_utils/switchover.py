# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure plans for database activation: switchover, rebalance and database copies.

Internal to exchange.dr: no stable API, for the collection's own modules only.

No I/O.  The inputs are the plain rows ``exchange.py`` reads (``databases``, ``copies``,
``servers``, ``dags``, ``components``); the outputs are plans: what to send, what the state
will be afterwards (check mode returns that prediction), and why something is refused.  The
copy-level health gate and Active Manager's ranking are ``health.py``'s; this module adds the
rest of the runbooks' gate for a planned activation and the decisions around it
(``shared/reference/runbooks.md``):

* §1.6, the gate: target copy Healthy, not activation-suspended, copy queue below 10, replay
  queue below 50, not lagged, content index Healthy (NotApplicable on 2019+), not a seeding
  source and the active copy not a seeding source; target server not
  ``DatabaseCopyActivationDisabledAndMoveNow``, components ServerWideOffline and
  HighAvailability Active, below MaximumActiveDatabases / MaximumPreferredActiveDatabases,
  among the DAG's operational servers; the DAG's witness not ``InvalidConfiguration``.
  Each skip switch of ``Move-ActiveMailboxDatabase`` (§1.5) relaxes the collection's gate of
  the same check and is sent to the cmdlet.
* §1.3, the mount dial: lossless by default.  A move whose dial lets the target mount with
  logs missing, to a copy that misses logs, could lose them: it needs ``allow_data_loss``.
* §2, idempotence: already active on the target and mounted: nothing; active but dismounted:
  mount only.  §4, rebalance: each database back on its activation-preference-1 copy.
* §6, copies: add/remove, settings, suspend/resume, activation-only suspension, reseed.

Bad input raises :class:`SwitchoverError` naming the module option to fix (``option``).
"""

from __future__ import annotations

import re

from ansible_collections.exchange.dr.plugins.module_utils import convert, health

# --------------------------------------------------------------------------- constants
# mount_dial_override option value -> MountDialOverride value (§1.3), and the copy queue each
# dial accepts at mount time (None: any).
MOUNT_DIALS = {
    "lossless": "Lossless",
    "good_availability": "GoodAvailability",
    "best_availability": "BestAvailability",
    "best_effort": "BestEffort",
    "none": "None",
}
DIAL_LIMITS = {"Lossless": 0, "GoodAvailability": 6, "BestAvailability": 12, "BestEffort": None}
DEFAULT_SERVER_DIAL = "GoodAvailability"  # Set-MailboxServer -AutoDatabaseMountDial default

# option -> (Move-ActiveMailboxDatabase switch, oldest Exchange (major, minor) that has it) (§1.5, §2).
SKIP_SWITCHES = (
    ("skip_health_checks", "SkipHealthChecks", (14, 0)),
    ("skip_active_copy_checks", "SkipActiveCopyChecks", (14, 0)),
    ("skip_lag_checks", "SkipLagChecks", (14, 0)),
    ("skip_client_experience_checks", "SkipClientExperienceChecks", (14, 0)),
    ("skip_maximum_active_databases_checks", "SkipMaximumActiveDatabasesChecks", (15, 0)),
    ("skip_cpu_checks", "SkipCpuChecks", (15, 1)),
    ("skip_move_suppression_checks", "SkipMoveSuppressionChecks", (15, 1)),
)
ACTIVATE_PREFERRED_SINCE = (15, 0)  # -ActivatePreferredOnServer: Exchange 2013 and later
COMPONENTS_SINCE = (15, 0)  # server component states: Exchange 2013 and later
PRODUCTS = {(14, 0): "2010", (15, 0): "2013", (15, 1): "2016", (15, 2): "2019"}

# Gate options and their defaults (documented in plugins/doc_fragments/switchover.py).
GATE_DEFAULTS = {
    "copy_queue_limit": health.BCSS_COPY_QUEUE,
    "replay_queue_limit": health.BCSS_REPLAY_QUEUE,
    "allow_lagged": False,
    "allow_activation_suspended": False,
    "allow_data_loss": False,
    "mount_dial_override": "lossless",
}
GATE_DEFAULTS.update((option, False) for option, _switch, _since in SKIP_SWITCHES)

# Mirrors plugins/doc_fragments/switchover.py (DOCUMENTATION): keep in step.
SWITCHOVER_ARGSPEC = {
    "mount_dial_override": {"type": "str", "default": "lossless", "choices": list(MOUNT_DIALS)},
    "allow_data_loss": {"type": "bool", "default": False},
    "allow_lagged": {"type": "bool", "default": False},
    "allow_activation_suspended": {"type": "bool", "default": False},
    "copy_queue_limit": {"type": "int", "default": health.BCSS_COPY_QUEUE},
    "replay_queue_limit": {"type": "int", "default": health.BCSS_REPLAY_QUEUE},
    "move_comment": {"type": "str"},
}
SWITCHOVER_ARGSPEC.update((option, {"type": "bool", "default": False}) for option, _switch, _since in SKIP_SWITCHES)

# Statuses no skip switch makes activatable: no complete database (Seeding) or no replication
# service to ask (ServiceDown); the lab and Exchange refuse them whatever is skipped.
NEVER_ACTIVATABLE = ("Seeding", "ServiceDown")
ACTIVE_STATUSES = ("Mounted", "Mounting", "Dismounted", "Dismounting")
SUSPENDED_STATUSES = ("Suspended", "FailedAndSuspended")
MAX_LAG_SECONDS = 14 * 86400  # ReplayLagTime / TruncationLagTime maximum (PS: Add-/Set-MailboxDatabaseCopy)
COPY_STATES = ("present", "absent", "suspended", "activation_suspended", "healthy", "reseeded")
COPY_SETTINGS = ("activation_preference", "replay_lag_time", "truncation_lag_time")
_WILDCARD = re.compile(r"[*?\[\]]")


class SwitchoverError(ValueError):
    """A request that cannot or must not be carried out; ``option`` is the module option to fix."""

    def __init__(self, message: str, option: str | None = None, database: str | None = None,
                 reasons: list | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.option = option
        self.database = database
        self.reasons = list(reasons) if reasons else [message]


# ----------------------------------------------------------------------------- helpers
def same(a, b) -> bool:
    """Exchange names compare case-insensitively (runbooks §0.6)."""
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def identity(value, option: str, kind: str = "name") -> str:
    """A database or server name as the user gave it, checked: not empty, no wildcard (a
    wildcard or an empty identity makes Exchange's Get-* return several or every object,
    runbooks §0.4), no backslash (that is a copy identity)."""
    if not isinstance(value, str) or not value.strip():
        raise SwitchoverError("%s must be a %s, got %r" % (option, kind, value), option)
    text = value.strip()
    if _WILDCARD.search(text):
        raise SwitchoverError("%s must be one %s, not a pattern: %r has wildcard characters" % (option, kind, text),
                              option)
    if "\\" in text:
        raise SwitchoverError("%s must be a %s without a backslash (give the database and the server as separate "
                              "options), got %r" % (option, kind, text), option)
    return text


def version_of(server: dict | None):
    """(major, minor) of a ``servers`` row, or None when unknown."""
    if not server:
        return None
    major, minor = server.get("major"), server.get("minor")
    if isinstance(major, int) and isinstance(minor, int):
        return (major, minor)
    return None


def product_name(since) -> str:
    return "Exchange %s" % PRODUCTS.get(tuple(since), "%d.%d" % tuple(since))


def find(rows, name, key: str = "name"):
    """The row of ``rows`` whose ``key`` is ``name`` (case-insensitive), or None."""
    return next((row for row in rows or () if same(row.get(key), name)), None)


def copies_of(copies, database: str) -> list:
    return [c for c in copies or () if same(c.get("database"), database)]


def active_copy(copies):
    """The active copy among one database's copies (``active`` true), or None."""
    return next((c for c in copies if c.get("active") is True), None)


def copy_on(copies, server):
    return find(copies, server, "server")


def _queue(row: dict, key: str):
    value = convert.integer(row.get(key))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def active_is_seeding_source(copies) -> bool:
    """Whether the active copy of the database is seeding another copy: a passive copy is
    Seeding and no passive copy is the SeedingSource (a seed comes from the active copy unless
    ``-SourceServer`` names a passive copy, which then shows SeedingSource)."""
    passive = [c for c in copies if c.get("active") is not True]
    seeding = any(same(c.get("status"), "Seeding") for c in passive)
    return seeding and not any(same(c.get("status"), "SeedingSource") for c in passive)


def state_of(copies) -> dict:
    """Where a database is active and how: ``{"active_server", "status", "mounted"}``."""
    active = active_copy(copies)
    if active is None:
        return {"active_server": None, "status": None, "mounted": False}
    return {"active_server": active.get("server"), "status": active.get("status"),
            "mounted": same(active.get("status"), "Mounted")}


def gate_options(options: dict | None = None) -> dict:
    """The gate options with their defaults filled in, validated."""
    merged = dict(GATE_DEFAULTS)
    merged.update({key: value for key, value in (options or {}).items() if value is not None})
    for key in ("copy_queue_limit", "replay_queue_limit"):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SwitchoverError("%s must be a whole number of logs, at least 1 (the gate refuses a queue that is not "
                                  "below it), got %r" % (key, value), key)
    if merged["mount_dial_override"] not in MOUNT_DIALS:
        raise SwitchoverError("mount_dial_override must be one of %s, got %r"
                              % (", ".join(MOUNT_DIALS), merged["mount_dial_override"]), "mount_dial_override")
    return merged


def switch_parameters(options: dict, version=None) -> dict:
    """The skip switches to send (``{"SkipLagChecks": None, ...}``, None = a bare switch).
    A switch the target's Exchange version does not have is refused, naming the option."""
    switches = {}
    for option, switch, since in SKIP_SWITCHES:
        if not options.get(option):
            continue
        if version is not None and tuple(version) < since:
            raise SwitchoverError("%s needs %s or later (Move-ActiveMailboxDatabase -%s); the target runs %s: set %s "
                                  "false" % (option, product_name(since), switch, product_name(version), option),
                                  option)
        switches[switch] = None
    return switches


def effective_dial(options: dict, server: dict | None) -> str:
    """The mount dial the target applies: the override, or with ``none`` the target
    server's AutoDatabaseMountDial (GoodAvailability when unknown)."""
    dial = MOUNT_DIALS[options["mount_dial_override"]]
    if dial == "None":
        dial = (server or {}).get("auto_database_mount_dial") or DEFAULT_SERVER_DIAL
        dial = next((known for known in DIAL_LIMITS if same(known, dial)), DEFAULT_SERVER_DIAL)
    return dial


def data_loss(target: dict, active: dict | None, dial: str) -> dict:
    """What a move to ``target`` risks (§1.3, §1.4 "attempt copy last logs").

    ``logs_at_risk``: the target's copy queue (None when unknown).  ``source_available``: the
    active copy's server answers (its status is one an active copy has), so attempt-copy-last-
    logs can fetch the missing logs.  ``lossy``: the dial lets the target mount with logs
    missing and logs are (or may be) missing.  ``logs_lost``: the prediction (0 when the
    source can supply them).  ``blocked``: why the mount will be refused, or None.
    """
    at_risk = _queue(target, "copy_queue_length")
    source_available = active is not None and any(same(active.get("status"), s) for s in ACTIVE_STATUSES)
    limit = DIAL_LIMITS.get(dial)
    lossy = dial != "Lossless" and (at_risk is None or at_risk > 0)
    predicted = 0 if source_available else at_risk
    blocked = None
    if not source_available and at_risk and limit is not None and at_risk > limit:
        blocked = ("the copy misses %d logs and the active copy cannot supply them: the mount dial %s accepts at most "
                   "%d missing" % (at_risk, dial, limit))
    return {"mount_dial": dial, "lossy": lossy, "logs_at_risk": at_risk, "logs_lost": predicted,
            "source_available": source_available, "blocked": blocked}


# ------------------------------------------------------------------------------- gates
def copy_gate(target: dict, copies: list, database: dict | None, options: dict) -> list:
    """Reasons the target copy fails the §1.6 gate (empty: it passes)."""
    status = target.get("status")
    if options["skip_health_checks"] and isinstance(status, str) and not any(same(status, s) for s in NEVER_ACTIVATABLE):
        statuses = [status]
    else:
        statuses = list(health.GATE_STATUSES)
    lag_gate = not options["skip_lag_checks"]
    result = health.copy_health(
        target, statuses=statuses,
        copy_queue_limit=options["copy_queue_limit"] if lag_gate else None,
        replay_queue_limit=options["replay_queue_limit"] if lag_gate else None,
        content_index_states=None if options["skip_client_experience_checks"] else list(health.HEALTHY_CONTENT_INDEX),
        allow_activation_suspended=options["allow_activation_suspended"],
        allow_lagged=options["allow_lagged"], databases=[database] if database else [])
    reasons = list(result["reasons"])
    lag = health.replay_lag_seconds(target, [database] if database else [])
    if lag and options["allow_lagged"] and lag_gate:
        reasons.append("lagged copy (replay lag %s): Exchange's lag check refuses it - set skip_lag_checks true as well"
                       % convert.timespan_text(lag))
    if not options["skip_active_copy_checks"] and active_is_seeding_source(copies):
        reasons.append("the active copy is a seeding source (skip_active_copy_checks cancels the seed)")
    return reasons


def server_gate(server: dict | None, name: str, components, dag: dict | None, active_count, options: dict,
                explicit: bool, source: dict | None = None) -> list:
    """Reasons the target server fails the §1.6 gate (empty: it passes).  ``active_count``: the
    databases active on it now (None: unknown, the limits are then not checked)."""
    reasons = []
    if server is None:
        return ["%s is not a mailbox server of the organization" % name]
    if server.get("database_copy_activation_disabled_and_move_now"):
        reasons.append("server %s has DatabaseCopyActivationDisabledAndMoveNow (maintenance)" % name)
    policy = server.get("database_copy_auto_activation_policy")
    if not explicit and same(policy, "Blocked"):
        reasons.append("server %s has DatabaseCopyAutoActivationPolicy Blocked (name it as target_server to activate "
                       "there)" % name)
    if (not explicit and same(policy, "IntrasiteOnly") and source and source.get("site") and server.get("site")
            and not same(source["site"], server["site"])):
        reasons.append("server %s has DatabaseCopyAutoActivationPolicy IntrasiteOnly and is in site %s, the active copy "
                       "in %s" % (name, server["site"], source["site"]))
    for row in components or ():
        if same(row.get("server"), name) and any(same(row.get("component"), c) for c in health.COMPONENTS_REQUIRED_ACTIVE):
            if not same(row.get("state"), "Active"):
                reasons.append("server %s has component %s %s" % (name, row.get("component"), row.get("state")))
    if dag is not None:
        operational = dag.get("operational_servers")
        if isinstance(operational, list) and dag.get("servers") and not any(same(s, name) for s in operational):
            reasons.append("server %s is not among the operational servers of DAG %s" % (name, dag.get("name")))
    if active_count is not None:
        limits = (("maximum_active_databases", "MaximumActiveDatabases", True),
                  ("maximum_preferred_active_databases", "MaximumPreferredActiveDatabases",
                   not options["skip_maximum_active_databases_checks"]))
        for key, label, applies in limits:
            limit = server.get(key)
            if applies and isinstance(limit, int) and not isinstance(limit, bool) and active_count >= limit:
                reasons.append("server %s has %d active databases (%s %d)" % (name, active_count, label, limit))
    return reasons


def dag_gate(dag: dict | None) -> list:
    if dag is not None and same(dag.get("witness_share_in_use"), "InvalidConfiguration"):
        return ["DAG %s has WitnessShareInUse InvalidConfiguration: fix the witness first" % dag.get("name")]
    return []


def needs_active_counts(servers, names) -> bool:
    """Whether any of the servers ``names`` has an active-database limit (then the module reads
    the active copies of the organization to count them)."""
    for name in names:
        row = find(servers, name) or {}
        if any(isinstance(row.get(k), int) and not isinstance(row.get(k), bool)
               for k in ("maximum_active_databases", "maximum_preferred_active_databases")):
            return True
    return False


def active_counts(copies) -> dict:
    """Active databases per server (lower-case name) among ``copies``."""
    counts = {}
    for row in copies or ():
        if row.get("active") is True and isinstance(row.get("server"), str):
            counts[row["server"].lower()] = counts.get(row["server"].lower(), 0) + 1
    return counts


# --------------------------------------------------------------------------- switchover
def decide(database: str, database_row: dict | None, copies: list, target_server: str | None = None,
           from_server: str | None = None) -> dict:
    """What a database_switchover request needs, before any gate (§2 steps 1-2).

    Returns ``{"action", "database", "target_server", "before"}``: ``action`` is ``none``
    (already active on the target and mounted, or not active on ``from_server``), ``wait``
    (active on the target and Mounting), ``mount`` (active on the target, not mounted) or
    ``move``.  Raises :class:`SwitchoverError` for an unknown database, one that cannot move,
    or a target without a copy.
    """
    if database_row is None:
        raise SwitchoverError("database %s was not found: check the name (Get-MailboxDatabase found no such database)"
                              % database, "database", database)
    name = database_row.get("name") or database
    mine = copies_of(copies, name)
    if not mine:
        raise SwitchoverError("database %s has no database copies (Get-MailboxDatabaseCopyStatus returned none)" % name,
                              "database", name)
    servers = ", ".join(c.get("server") or "?" for c in mine)
    if len(mine) < 2 or same(database_row.get("replication_type"), "None"):
        raise SwitchoverError("database %s is not replicated (one copy, on %s): it cannot be switched over" % (name, servers),
                              "database", name)
    before = state_of(mine)
    result = {"database": name, "before": before, "target_server": None, "action": "move"}
    if target_server is not None:
        target = copy_on(mine, target_server)
        if target is None:
            raise SwitchoverError("target_server %s holds no copy of database %s (its copies are on %s): add one with "
                                  "exchange.dr.database_copy or name one of those servers"
                                  % (target_server, name, servers), "target_server", name)
        result["target_server"] = target.get("server")
        if target.get("active") is True:
            status = target.get("status")
            result["action"] = "none" if same(status, "Mounted") else "wait" if same(status, "Mounting") else "mount"
        return result
    if from_server is not None:
        source = copy_on(mine, from_server)
        if source is None:
            raise SwitchoverError("from_server %s holds no copy of database %s (its copies are on %s)"
                                  % (from_server, name, servers), "from_server", name)
        if source.get("active") is not True:
            result["action"] = "none"
            result["target_server"] = before["active_server"]
    return result


def evaluate(target: dict, copies: list, database: dict | None, server: dict | None, components, dag: dict | None,
             active_count, options: dict, explicit: bool, source: dict | None = None) -> list:
    """Every reason the passive copy ``target`` must not be activated (empty: it may)."""
    return (copy_gate(target, copies, database, options)
            + server_gate(server, target.get("server"), components, dag, active_count, options, explicit, source)
            + dag_gate(dag))


def plan_move(decision: dict, database_row: dict, copies: list, servers=(), dag: dict | None = None, components=(),
              counts: dict | None = None, options: dict | None = None, move_comment: str | None = None) -> dict:
    """The move of a ``decide`` result whose action is ``move``: the target (explicit, or the
    best copy by Active Manager's criteria that passes the gate), the mount dial, the data-loss
    decision and the exact ``Move-ActiveMailboxDatabase`` parameters.

    ``counts`` are active databases per server (``active_counts``; None: limits unchecked).
    Raises :class:`SwitchoverError` when the target fails the gate, no copy passes it, or the
    move could lose logs without ``allow_data_loss``.
    """
    options = gate_options(options)
    name = decision["database"]
    mine = copies_of(copies, name)
    active = active_copy(mine)
    source = find(servers, active.get("server")) if active else None
    dial_name = MOUNT_DIALS[options["mount_dial_override"]]
    explicit = decision["target_server"] is not None
    candidates = []
    if explicit:
        order = [(copy_on(mine, decision["target_server"]), None, None)]
    else:
        ranked = health.best_copy(mine, database=name, servers=list(servers or ()), databases=[database_row],
                                  lossless=dial_name == "Lossless", targetless=True, explain=True)
        order = []
        for entry in ranked:
            if entry["rank"] is None:
                if entry["excluded"] != "active copy":
                    candidates.append({"server": entry["server"], "rank": None, "criteria_set": None, "eligible": False,
                                       "reasons": [entry["excluded"]]})
                continue
            order.append((copy_on(mine, entry["server"]), entry["rank"], entry["criteria_set"]))
    chosen = None
    for target, rank, criteria in order:
        name_on = target.get("server")
        server = find(servers, name_on)
        count = None if counts is None else counts.get(name_on.lower(), 0)
        reasons = evaluate(target, mine, database_row, server, components, dag, count, options, explicit, source)
        loss = data_loss(target, active, effective_dial(options, server))
        if loss["blocked"]:
            reasons.append(loss["blocked"])
        entry = {"server": name_on, "rank": rank, "criteria_set": criteria, "eligible": not reasons,
                 "reasons": reasons}
        candidates.insert(len([c for c in candidates if c["rank"] is not None]), entry)
        if not reasons and chosen is None:
            chosen = (target, server, loss)
            if not explicit:
                break
    if chosen is None:
        if explicit:
            reasons = candidates[0]["reasons"]
            raise SwitchoverError("database %s cannot be activated on %s: %s" % (
                name, decision["target_server"], "; ".join(reasons)), "target_server", name, reasons)
        detail = "; ".join("%s: %s" % (c["server"], ", ".join(c["reasons"])) for c in candidates) or "no passive copy"
        raise SwitchoverError("no healthy target for database %s: %s - fix those copies (exchange.dr.database_copy) or "
                              "name target_server and relax the gate options" % (name, detail), "target_server", name,
                              ["%s: %s" % (c["server"], ", ".join(c["reasons"])) for c in candidates])
    target, server, loss = chosen
    if loss["lossy"] and not options["allow_data_loss"]:
        queue = "an unknown number of" if loss["logs_at_risk"] is None else "up to %d" % loss["logs_at_risk"]
        raise SwitchoverError(
            "moving database %s to %s with mount dial %s could lose %s logs (the copy queue of %s): set allow_data_loss "
            "true to accept that, or keep mount_dial_override lossless (the default), which mounts only with every log"
            % (name, target.get("server"), loss["mount_dial"], queue, target.get("name") or target.get("server")),
            "allow_data_loss", name)
    switches = switch_parameters(options, version_of(server))
    parameters = {"Identity": name, "ActivateOnServer": target.get("server"), "MountDialOverride": dial_name}
    if move_comment:
        parameters["MoveComment"] = move_comment
    parameters.update(switches)
    parameters["Confirm"] = False
    return {
        "database": name,
        "source_server": active.get("server") if active else None,
        "target_server": target.get("server"),
        "selection": "explicit" if explicit else "best_copy",
        "candidates": candidates,
        "mount_dial_override": dial_name,
        "mount_dial": loss["mount_dial"],
        "lossy": loss["lossy"],
        "logs_at_risk": loss["logs_at_risk"],
        "logs_lost": loss["logs_lost"],
        "switches": sorted(switches),
        "parameters": parameters,
    }


def predict(target_server: str) -> dict:
    """The state check mode reports after a move or mount onto ``target_server``."""
    return {"active_server": target_server, "status": "Mounted", "mounted": True}


# ---------------------------------------------------------------------------- rebalance
def preferred_server(database_row: dict, copies: list):
    """The server of the database's activation-preference-1 copy (copy status first, then the
    database's ActivationPreference list), or None."""
    for row in copies:
        if convert.integer(row.get("activation_preference")) == 1:
            return row.get("server")
    for name, preference in (database_row.get("activation_preference") or {}).items():
        if convert.integer(preference) == 1:
            spelled = copy_on(copies, name)
            return spelled.get("server") if spelled else name
    return None


def rebalance_scope(databases, copies, server: str | None = None, names=None, dag: str | None = None) -> dict:
    """Which databases a rebalance looks at and which of them are off their preferred copy.

    Returns ``{"todo": [(database_row, preferred)], "unchanged": [...], "failed": [...]}``;
    ``unchanged`` and ``failed`` entries are the result items.  Unknown ``names`` raise
    :class:`SwitchoverError` (option ``databases``); so does a ``dag`` no database belongs to.
    """
    rows = list(databases or ())
    if names:
        missing = [n for n in names if find(rows, n) is None]
        if missing:
            known = ", ".join(sorted((r.get("name") or "?" for r in rows), key=str.lower)[:10])
            raise SwitchoverError("databases: %s not found (databases of the organization: %s)"
                                  % (", ".join(missing), known), "databases")
        rows = [find(rows, n) for n in dict.fromkeys(n.lower() for n in names)]
    if dag is not None:
        rows = [r for r in rows if same(r.get("master"), dag)]
        if not rows:
            raise SwitchoverError("dag: no database belongs to a DAG named %s" % dag, "dag")
    todo, unchanged, failed = [], [], []
    for row in rows:
        mine = copies_of(copies, row.get("name"))
        if len(mine) < 2 or same(row.get("replication_type"), "None"):
            if names:
                failed.append({"database": row.get("name"), "target_server": None,
                               "reasons": ["not replicated: it has one copy"]})
            continue
        preferred = preferred_server(row, mine)
        if server is not None and not same(preferred, server):
            continue
        state = state_of(mine)
        if preferred is None:
            failed.append({"database": row.get("name"), "target_server": None,
                           "reasons": ["no copy has activation preference 1"]})
        elif same(state["active_server"], preferred):
            unchanged.append({"database": row.get("name"), "active_server": state["active_server"]})
        else:
            todo.append((row, preferred))
    return {"todo": todo, "unchanged": unchanged, "failed": failed}


def plan_rebalance(scope: dict, copies, servers=(), dags=(), components=(), counts=None, options=None,
                   move_comment: str | None = None, server: str | None = None) -> dict:
    """Per database of ``rebalance_scope``'s ``todo``: a move plan (explicit target, the
    preferred server) or a failure with its reasons; one failure does not affect the others.

    ``activate_preferred`` is true when one ``Move-ActiveMailboxDatabase
    -ActivatePreferredOnServer <server>`` can do every move (a ``server`` was given, it runs
    Exchange 2013 or later and every database to move passed the gate); its parameters are
    ``preferred_parameters``.  That cmdlet moves every database of the organization preferring
    ``server``: pass ``server`` only when the scope is not narrowed by database names or a DAG.
    Counts of active databases are updated as moves are planned.
    """
    options = gate_options(options)
    counts = None if counts is None else dict(counts)
    moves, failed = [], list(scope["failed"])
    for row, preferred in scope["todo"]:
        mine = copies_of(copies, row.get("name"))
        decision = {"database": row.get("name"), "before": state_of(mine), "target_server": preferred,
                    "action": "move"}
        dag = find(dags, row.get("master"))
        try:
            plan = plan_move(decision, row, mine, servers, dag, components, counts, options, move_comment)
        except SwitchoverError as exc:
            failed.append({"database": row.get("name"), "target_server": preferred, "reasons": exc.reasons})
            continue
        if counts is not None:
            counts[preferred.lower()] = counts.get(preferred.lower(), 0) + 1
        moves.append(plan)
    result = {"moves": moves, "failed": failed, "unchanged": list(scope["unchanged"]),
              "activate_preferred": False, "preferred_parameters": None}
    version = version_of(find(servers, server)) if server else None
    if server and moves and not failed and (version is None or version >= ACTIVATE_PREFERRED_SINCE):
        first = moves[0]["parameters"]
        parameters = {"ActivatePreferredOnServer": moves[0]["target_server"],
                      "MountDialOverride": first["MountDialOverride"]}
        if move_comment:
            parameters["MoveComment"] = move_comment
        parameters.update((key, None) for key in sorted(set().union(*(m["switches"] for m in moves))))
        parameters["Confirm"] = False
        result.update(activate_preferred=True, preferred_parameters=parameters)
    return result


# ------------------------------------------------------------------------------ copies
def lag_time(value, option: str):
    """A ReplayLagTime/TruncationLagTime option (.NET ``d.hh:mm:ss`` text) to
    ``(seconds, text)``; None stays None.  Digits alone are refused: .NET reads ``7`` as seven
    days, and YAML reads an unquoted ``1:00:00`` as the number 3600."""
    if value is None:
        return None
    text = str(value).strip()
    seconds = None if re.match(r"^-?\d+$", text) else convert.timespan_seconds(text)
    if seconds is None:
        raise SwitchoverError("%s must be a time span d.hh:mm:ss, for example '7.00:00:00' or '00:00:00', got %r - quote "
                              "it in YAML (an unquoted 1:00:00 is read as the number 3600)" % (option, value), option)
    if seconds < 0 or seconds > MAX_LAG_SECONDS:
        raise SwitchoverError("%s must be between 00:00:00 and 14.00:00:00 (14 days), got %s"
                              % (option, convert.timespan_text(seconds)), option)
    return seconds, convert.timespan_text(seconds)


def copy_view(database_row: dict | None, row: dict | None, server: str) -> dict:
    """The managed view of one copy (before/after and diff)."""
    if row is None:
        return {"present": False, "server": server, "status": None, "active": False, "activation_suspended": None,
                "activation_preference": None, "replay_lag_time": None, "truncation_lag_time": None,
                "suspend_comment": None}

    def lag(key):
        for name, value in ((database_row or {}).get(key) or {}).items():
            if same(name, row.get("server")):
                return convert.timespan_text(value)
        return None

    return {"present": True, "server": row.get("server"), "status": row.get("status"), "active": row.get("active") is True,
            "activation_suspended": row.get("activation_suspended"),
            "activation_preference": convert.integer(row.get("activation_preference")),
            "replay_lag_time": lag("replay_lag_times"), "truncation_lag_time": lag("truncation_lag_times"),
            "suspend_comment": row.get("suspend_comment")}


def plan_copy(database: str, database_row: dict | None, copies: list, server: str, state: str = "present",
              settings: dict | None = None, suspend_comment: str | None = None, source_server: str | None = None,
              delete_existing_files: bool = False) -> dict:
    """The actions that bring the copy of ``database`` on ``server`` to ``state`` (§6).

    Returns ``{"identity", "before", "after", "actions", "wait_for"}``: ``actions`` are
    ``(cmdlet, parameters)`` in order; ``after`` is the predicted view; ``wait_for`` the copy
    statuses to wait for afterwards (None: nothing to wait for).  Settings are compared with the
    current ones and only drifted ones are sent.  States other than ``absent`` add a missing
    copy (Add-MailboxDatabaseCopy seeds it).
    """
    if state not in COPY_STATES:
        raise SwitchoverError("state must be one of %s, got %r" % (", ".join(COPY_STATES), state), "state")
    if database_row is None:
        raise SwitchoverError("database %s was not found: check the name (Get-MailboxDatabase found no such database)"
                              % database, "database", database)
    name = database_row.get("name") or database
    settings = {k: v for k, v in (settings or {}).items() if v is not None}
    lags = {k: lag_time(settings[k], k) for k in ("replay_lag_time", "truncation_lag_time") if k in settings}
    if state == "absent" and settings:
        raise SwitchoverError("%s cannot be used with state absent (the copy is removed)" % ", ".join(sorted(settings)),
                              sorted(settings)[0], name)
    mine = copies_of(copies, name)
    row = copy_on(mine, server)
    spelled = row.get("server") if row else server
    copy_id = "%s\\%s" % (name, spelled)
    before = copy_view(database_row, row, spelled)
    after = dict(before)
    actions = []
    wait_for = None
    preference = settings.get("activation_preference")
    if preference is not None:
        count = len(mine) + (0 if row is not None or state == "absent" else 1)
        if isinstance(preference, bool) or not isinstance(preference, int) or not 1 <= preference <= count:
            raise SwitchoverError("activation_preference must be between 1 and %d (the number of copies of %s), got %r"
                                  % (count, name, preference), "activation_preference", name)
    active = row is not None and row.get("active") is True
    if active and state in ("absent", "suspended", "activation_suspended", "reseeded"):
        raise SwitchoverError("%s is the active copy of %s: state %s applies to passive copies only - move the database "
                              "first (exchange.dr.database_switchover)" % (copy_id, name, state), "state", name)

    if state == "absent":
        if row is not None:
            actions.append(("Remove-MailboxDatabaseCopy", {"Identity": copy_id, "Confirm": False}))
            after = copy_view(database_row, None, spelled)
        return {"identity": copy_id, "before": before, "after": after, "actions": actions, "wait_for": None}

    if row is None:
        parameters = {"Identity": name, "MailboxServer": server}
        if preference is not None:
            parameters["ActivationPreference"] = preference
        for key, option in (("ReplayLagTime", "replay_lag_time"), ("TruncationLagTime", "truncation_lag_time")):
            if option in lags:
                parameters[key] = lags[option][1]
        actions.append(("Add-MailboxDatabaseCopy", parameters))
        after.update(present=True, status="Healthy", active=False, activation_suspended=False, suspend_comment=None,
                     activation_preference=preference if preference is not None else len(mine) + 1,
                     replay_lag_time=lags["replay_lag_time"][1] if "replay_lag_time" in lags else "00:00:00",
                     truncation_lag_time=lags["truncation_lag_time"][1] if "truncation_lag_time" in lags else "00:00:00")
        wait_for = ["Healthy"]
        current = after
    else:
        drift = {}
        if preference is not None and preference != before["activation_preference"]:
            drift["ActivationPreference"] = preference
            after["activation_preference"] = preference
        for key, option in (("ReplayLagTime", "replay_lag_time"), ("TruncationLagTime", "truncation_lag_time")):
            if option in lags and convert.timespan_seconds(before[option]) != lags[option][0]:
                drift[key] = lags[option][1]
                after[option] = lags[option][1]
        if drift:
            parameters = {"Identity": copy_id}
            parameters.update(drift)
            actions.append(("Set-MailboxDatabaseCopy", parameters))
        current = before

    status = current["status"]
    suspended = any(same(status, s) for s in SUSPENDED_STATUSES)
    comment = {"SuspendComment": suspend_comment} if suspend_comment else {}
    if state == "suspended":
        if not suspended:
            actions.append(("Suspend-MailboxDatabaseCopy", dict({"Identity": copy_id}, **comment, Confirm=False)))
            after.update(status="Suspended", activation_suspended=True,
                         suspend_comment=suspend_comment or before["suspend_comment"])
            wait_for = None
    elif state == "activation_suspended":
        if suspended:
            actions.append(("Resume-MailboxDatabaseCopy", {"Identity": copy_id, "ReplicationOnly": None}))
            after.update(status="Healthy", activation_suspended=True)
            wait_for = ["Healthy"]
        elif current["activation_suspended"] is not True:
            actions.append(("Suspend-MailboxDatabaseCopy",
                            dict({"Identity": copy_id, "ActivationOnly": None}, **comment, Confirm=False)))
            after.update(activation_suspended=True, suspend_comment=suspend_comment or before["suspend_comment"])
    elif state == "healthy":
        if suspended or current["activation_suspended"] is True:
            actions.append(("Resume-MailboxDatabaseCopy", {"Identity": copy_id}))
            after.update(status="Mounted" if active else "Healthy", activation_suspended=False, suspend_comment=None)
            wait_for = ["Healthy"]
        elif not active and not same(status, "Healthy"):
            after.update(status="Healthy")
            wait_for = ["Healthy"]
    elif state == "reseeded" and row is not None:
        if same(status, "Seeding"):
            after.update(status="Healthy", activation_suspended=False, suspend_comment=None)
            wait_for = ["Healthy"]
        elif not same(status, "Healthy"):
            if not suspended:
                actions.append(("Suspend-MailboxDatabaseCopy", dict(
                    {"Identity": copy_id, "SuspendComment": suspend_comment or "Reseed by exchange.dr.database_copy"},
                    Confirm=False)))
            parameters = {"Identity": copy_id}
            if source_server:
                parameters["SourceServer"] = source_server
            if delete_existing_files:
                parameters["DeleteExistingFiles"] = None
            parameters["Confirm"] = False
            actions.append(("Update-MailboxDatabaseCopy", parameters))
            after.update(status="Healthy", activation_suspended=False, suspend_comment=None)
            wait_for = ["Healthy"]
    return {"identity": copy_id, "before": before, "after": after, "actions": actions, "wait_for": wait_for}


def copy_diff(before: dict, after: dict) -> dict:
    """Only the keys that differ (for diff mode)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {"before": {k: before.get(k) for k in keys}, "after": {k: after.get(k) for k in keys}}
