# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions on database copies: the planned-activation gate and best copy selection.

Internal to exchange.dr: no stable API, for the collection's own modules and plugins only.

No I/O.  The inputs are the plain dicts ``exchange_info`` returns (``copies``, ``servers``,
``databases``, ``components``); the filters of ``plugins/filter/copy_health.py`` are thin
wrappers of :func:`copy_health` and :func:`best_copy`.  The rules are those of the project's
runbooks (``shared/reference/runbooks.md``):

* §1.6, the gate before any planned activation (strict by default, each check relaxable):
  status Healthy, activation not suspended, copy queue below 10 and replay queue below 50,
  not a lagged copy, content index Healthy (NotApplicable on Exchange 2019 and later counts
  as "no catalog gate").
* §1.4, Active Manager's best copy and server selection: candidates are the passive copies
  not blocked from activation; they are sorted by copy queue length then activation
  preference, or by activation preference alone when a server holding a copy uses the
  ``Lossless`` mount dial (or for a lossless targetless switchover); the first copy with a
  candidate status meeting the earliest of ten criteria sets wins.

Invalid input raises :class:`HealthInputError` with a message naming the parameter.
"""

from __future__ import annotations

from ansible_collections.exchange.dr.plugins.module_utils import convert

# §1.1: statuses a copy may have to be an activation candidate (failover).
CANDIDATE_STATUSES = ("Healthy", "DisconnectedAndHealthy", "DisconnectedAndResynchronizing", "SeedingSource")

# §1.4: the ten criteria sets, in order: (content index, copy queue below, replay queue below).
# "any" accepts every content index state; None means no limit.
BCSS_COPY_QUEUE = 10
BCSS_REPLAY_QUEUE = 50
CRITERIA_SETS = (
    ("Healthy", BCSS_COPY_QUEUE, BCSS_REPLAY_QUEUE),
    ("Crawling", BCSS_COPY_QUEUE, BCSS_REPLAY_QUEUE),
    ("Healthy", None, BCSS_REPLAY_QUEUE),
    ("Crawling", None, BCSS_REPLAY_QUEUE),
    ("any", None, BCSS_REPLAY_QUEUE),
    ("Healthy", BCSS_COPY_QUEUE, None),
    ("Crawling", BCSS_COPY_QUEUE, None),
    ("Healthy", None, None),
    ("Crawling", None, None),
    ("any", None, None),
)

# Content index states that count as Healthy: NotApplicable is what Exchange 2019 and later
# report (no per-copy catalog), which means "no catalog gate", not "unhealthy" (§1.1).
HEALTHY_CONTENT_INDEX = ("Healthy", "NotApplicable")

# §1.6: the only status a passive copy may have before a planned activation (the
# Disconnected* states are for failover); the active copy is healthy when Mounted.
GATE_STATUSES = ("Healthy",)
ACTIVE_STATUSES = ("Mounted",)
COMPONENTS_REQUIRED_ACTIVE = ("ServerWideOffline", "HighAvailability")


class HealthInputError(ValueError):
    """The data or a parameter given to a health decision is not usable (message names it)."""


# ----------------------------------------------------------------------------- helpers
def _same(a, b) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def _one_of(value, choices) -> bool:
    return any(_same(value, choice) for choice in choices)


def _require_copy(copy, where: str) -> dict:
    if not isinstance(copy, dict):
        raise HealthInputError("%s expects a copy (a dictionary, an item of exchange.dr.exchange_info's copies), "
                               "got %s" % (where, type(copy).__name__))
    if "status" not in copy:
        raise HealthInputError("%s: the copy has no 'status' key - pass an item of exchange.dr.exchange_info's "
                               "copies (keys: name, database, server, status, copy_queue_length, ...)" % where)
    return copy


def _list_of_dicts(value, parameter: str, where: str) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, dict) for item in value):
        raise HealthInputError("%s: %s must be a list of dictionaries (as exchange.dr.exchange_info returns them), "
                               "got %s" % (where, parameter, type(value).__name__))
    return list(value)


def _limit(value, parameter: str, where: str):
    if value is None:
        return None
    if isinstance(value, bool):
        raise HealthInputError("%s: %s must be an integer or null, got %r" % (where, parameter, value))
    if not isinstance(value, int):
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise HealthInputError("%s: %s must be an integer or null, got %r" % (where, parameter, value)) from None
    if value < 0:
        raise HealthInputError("%s: %s must not be negative, got %d" % (where, parameter, value))
    return value


def _states(value, parameter: str, where: str) -> list | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise HealthInputError("%s: %s must be a list of strings, got %r" % (where, parameter, value))
    return list(value)


def _flag(value, parameter: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise HealthInputError("%s: %s must be a boolean, got %r" % (where, parameter, value))
    return value


def _queue(copy: dict, key: str):
    value = convert.integer(copy.get(key))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def replay_lag_seconds(copy: dict, databases: list):
    """The replay lag of ``copy`` in seconds, from the copy itself (``replay_lag_time``) or the
    ``replay_lag_times`` of its database in ``databases``; None when unknown."""
    if copy.get("replay_lag_time") is not None:
        return convert.timespan_seconds(copy["replay_lag_time"])
    database, server = copy.get("database"), copy.get("server")
    for db in databases:
        if _same(db.get("name"), database):
            for name, lag in (db.get("replay_lag_times") or {}).items():
                if _same(name, server):
                    return convert.timespan_seconds(lag)
    return None


def content_index_matches(state, wanted: str) -> bool:
    """Whether a content index ``state`` meets a criteria set's requirement ``wanted``."""
    if wanted == "any":
        return True
    if wanted == "Healthy":
        return _one_of(state, HEALTHY_CONTENT_INDEX)
    return _same(state, wanted)


# ------------------------------------------------------------------------ copy health
def copy_health(copy, statuses=GATE_STATUSES, copy_queue_limit=BCSS_COPY_QUEUE, replay_queue_limit=BCSS_REPLAY_QUEUE,
                content_index_states=HEALTHY_CONTENT_INDEX, allow_activation_suspended=False, allow_lagged=False,
                databases=None) -> dict:
    """The §1.6 gate for one copy: ``{"name", "healthy", "reasons"}``.

    A passive copy passes when its status is one of ``statuses`` (default Healthy), activation is
    not suspended, its copy queue is below ``copy_queue_limit`` and its replay queue below
    ``replay_queue_limit`` (None skips a queue check), its content index state is one of
    ``content_index_states`` (None or empty skips it) and it is not lagged (known from
    ``databases``, exchange_info's databases, or the copy's ``replay_lag_time``).  The active copy
    passes the status check when Mounted.  An unknown value fails its check.
    """
    where = "copy_health"
    copy = _require_copy(copy, where)
    statuses = _states(statuses, "statuses", where)
    if not statuses:
        raise HealthInputError("%s: statuses must name at least one copy status (default Healthy)" % where)
    copy_queue_limit = _limit(copy_queue_limit, "copy_queue_limit", where)
    replay_queue_limit = _limit(replay_queue_limit, "replay_queue_limit", where)
    content_index_states = _states(content_index_states, "content_index_states", where)
    allow_activation_suspended = _flag(allow_activation_suspended, "allow_activation_suspended", where)
    allow_lagged = _flag(allow_lagged, "allow_lagged", where)
    databases = _list_of_dicts(databases, "databases", where)

    reasons = []
    status = copy.get("status")
    active = copy.get("active") is True
    wanted = list(ACTIVE_STATUSES) if active else statuses
    if status is None:
        reasons.append("status is unknown")
    elif not _one_of(status, wanted):
        reasons.append("status is %s (needs %s)" % (status, " or ".join(wanted)))
    if not allow_activation_suspended and copy.get("activation_suspended") is not False:
        reasons.append("activation is suspended" if copy.get("activation_suspended") else
                       "activation suspension is unknown")
    for key, label, limit in (("copy_queue_length", "copy queue", copy_queue_limit),
                              ("replay_queue_length", "replay queue", replay_queue_limit)):
        if limit is None:
            continue
        length = _queue(copy, key)
        if length is None:
            reasons.append("%s length is unknown" % label)
        elif length >= limit:
            reasons.append("%s length %d is not below %d" % (label, length, limit))
    if content_index_states:
        state = copy.get("content_index_state")
        if state is None:
            reasons.append("content index state is unknown")
        elif not _one_of(state, content_index_states):
            reasons.append("content index is %s (needs %s)" % (state, " or ".join(content_index_states)))
    if not allow_lagged and not active:
        lag = replay_lag_seconds(copy, databases)
        if lag:
            reasons.append("lagged copy (replay lag %s)" % convert.timespan_text(lag))
    return {"name": copy.get("name"), "healthy": not reasons, "reasons": reasons}


# ------------------------------------------------------------------------- best copy
def criteria_set(copy: dict):
    """The earliest of the ten criteria sets (1-10) ``copy`` meets, or None (status not a
    candidate status, §1.1)."""
    if not _one_of(copy.get("status"), CANDIDATE_STATUSES):
        return None
    copy_queue = _queue(copy, "copy_queue_length")
    replay_queue = _queue(copy, "replay_queue_length")
    for number, (content_index, copy_below, replay_below) in enumerate(CRITERIA_SETS, start=1):
        if not content_index_matches(copy.get("content_index_state"), content_index):
            continue
        if copy_below is not None and (copy_queue is None or copy_queue >= copy_below):
            continue
        if replay_below is not None and (replay_queue is None or replay_queue >= replay_below):
            continue
        return number
    return None  # unreachable: set 10 accepts every candidate status


def _by_name(rows: list) -> dict:
    return {row["name"].lower(): row for row in rows if isinstance(row.get("name"), str)}


def _blocked(copy: dict, server: dict | None, source: dict | None, components: list, active_count: dict,
             databases: list, targetless: bool):
    """Why Active Manager would not consider this passive copy (None = it would)."""
    if copy.get("activation_suspended"):
        return "activation suspended"
    if targetless and _same(copy.get("auto_activation_policy"), "Blocked"):
        return "auto activation policy Blocked"
    lag = replay_lag_seconds(copy, databases)
    if lag:
        return "lagged copy (replay lag %s)" % convert.timespan_text(lag)
    if server is None:
        return None
    if server.get("database_copy_activation_disabled_and_move_now"):
        return "server %s has DatabaseCopyActivationDisabledAndMoveNow" % server["name"]
    policy = server.get("database_copy_auto_activation_policy")
    if targetless and _same(policy, "Blocked"):
        return "server %s has DatabaseCopyAutoActivationPolicy Blocked" % server["name"]
    if (targetless and _same(policy, "IntrasiteOnly") and source is not None
            and source.get("site") and server.get("site") and not _same(source["site"], server["site"])):
        return "server %s has DatabaseCopyAutoActivationPolicy IntrasiteOnly and is in another site" % server["name"]
    for component in components:
        required = _one_of(component.get("component"), COMPONENTS_REQUIRED_ACTIVE)
        if required and _same(component.get("server"), server["name"]) and not _same(component.get("state"), "Active"):
            return "server %s has component %s %s" % (server["name"], component["component"], component.get("state"))
    count = active_count.get(server["name"].lower(), 0)  # active copies among the copies given
    limits = (("maximum_active_databases", "MaximumActiveDatabases", True),
              ("maximum_preferred_active_databases", "MaximumPreferredActiveDatabases", targetless))
    for key, label, applies in limits:
        limit = convert.integer(server.get(key))
        if applies and isinstance(limit, int) and not isinstance(limit, bool) and count >= limit:
            return "server %s has %d active databases (%s %d)" % (server["name"], count, label, limit)
    return None


def _unpack(copies, servers, databases, components, where):
    """``copies`` may be exchange_info's whole result: take its lists where not given."""
    if isinstance(copies, dict) and "copies" in copies and "status" not in copies:
        result = copies
        copies = result.get("copies")
        servers = result.get("servers") if servers is None else servers
        databases = result.get("databases") if databases is None else databases
        components = result.get("components") if components is None else components
    return (_list_of_dicts(copies, "the input (copies)", where), _list_of_dicts(servers, "servers", where),
            _list_of_dicts(databases, "databases", where), _list_of_dicts(components, "components", where))


def best_copy(copies, database=None, servers=None, databases=None, components=None, lossless=False,
              targetless=True, explain=False) -> list:
    """Active Manager's ranking of the passive copies of one database (§1.4).

    ``copies`` is exchange_info's ``copies`` (or its whole result, whose ``servers``,
    ``databases`` and ``components`` are then used).  ``database`` names the database when the
    copies belong to several.  Returns the candidates best first, each a dict with ``rank``
    and the ``criteria_set`` (1-10) it meets; with ``explain`` the copies left out follow with
    ``rank`` and ``criteria_set`` None and ``excluded`` saying why.
    """
    where = "best_copy"
    copies, servers, databases, components = _unpack(copies, servers, databases, components, where)
    lossless = _flag(lossless, "lossless", where)
    targetless = _flag(targetless, "targetless", where)
    explain = _flag(explain, "explain", where)
    for copy in copies:
        _require_copy(copy, where)
    if database is not None and not isinstance(database, str):
        raise HealthInputError("%s: database must be a database name, got %r" % (where, database))

    names = sorted({c.get("database") for c in copies if isinstance(c.get("database"), str)}, key=str.lower)
    if database is None:
        if len(names) > 1:
            raise HealthInputError("%s: the copies belong to %d databases (%s): set database to one of them"
                                   % (where, len(names), ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")))
        database = names[0] if names else None
    mine = [c for c in copies if _same(c.get("database"), database)]
    if database is not None and not mine:
        raise HealthInputError("%s: no copy of database %s in the input" % (where, database))

    server_rows = _by_name(servers)
    active = next((c for c in mine if c.get("active") is True), None)
    source = server_rows.get(str(active.get("server")).lower()) if active else None
    active_count = {}
    for c in copies:
        if c.get("active") is True and isinstance(c.get("server"), str):
            active_count[c["server"].lower()] = active_count.get(c["server"].lower(), 0) + 1

    pool, excluded = [], []
    for c in mine:
        if c is active:
            excluded.append((c, "active copy"))
            continue
        reason = _blocked(c, server_rows.get(str(c.get("server")).lower()), source, components, active_count,
                          databases, targetless)
        if reason is None and criteria_set(c) is None:
            reason = "status %s is not a candidate status" % c.get("status")
        if reason:
            excluded.append((c, reason))
        else:
            pool.append(c)

    dials = [(server_rows.get(str(c.get("server")).lower()) or {}).get("auto_database_mount_dial") for c in mine]
    by_preference = lossless or any(_same(dial, "Lossless") for dial in dials)
    unknown = float("inf")

    def preference(c):
        value = convert.integer(c.get("activation_preference"))
        return value if isinstance(value, int) else unknown

    def queue(c):
        value = _queue(c, "copy_queue_length")
        return unknown if value is None else value

    pool.sort(key=preference if by_preference else (lambda c: (queue(c), preference(c))))
    ranked = sorted(pool, key=criteria_set)  # stable: within a set, the order above

    def entry(c, rank, number, reason):
        return {
            "rank": rank, "name": c.get("name"), "database": c.get("database"), "server": c.get("server"),
            "criteria_set": number, "status": c.get("status"),
            "activation_preference": convert.integer(c.get("activation_preference")),
            "copy_queue_length": _queue(c, "copy_queue_length"),
            "replay_queue_length": _queue(c, "replay_queue_length"),
            "content_index_state": c.get("content_index_state"),
            "ordered_by": "activation_preference" if by_preference else "copy_queue_length",
            "excluded": reason,
        }

    result = [entry(c, rank, criteria_set(c), None) for rank, c in enumerate(ranked, start=1)]
    if explain:
        result.extend(entry(c, None, None, reason) for c, reason in excluded)
    return result
