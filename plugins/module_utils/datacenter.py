# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning of a datacenter switchover and failback in DAC mode (runbooks §5).

Internal to exchange.dr: no stable API, for the collection's own modules only.

No I/O.  The inputs are the plain dicts ``exchange.py`` reads (``servers``, ``dags``,
``databases``, ``copies``) plus a few Windows facts (cluster nodes, ``ClusSvc`` status).  Each
phase of §5 has an observable end state, so every plan below starts from the live state and
lists only what is still missing; a run that stopped part way is resumed by planning again:

===============================  ==========================================  ====================
phase (runbooks)                 end state observed                          planner
===============================  ==========================================  ====================
terminate the primary (§5.2 1-2) ``StoppedMailboxServers`` (as one DC sees)  :func:`site_state_plan`
activate the second site (3-4)   cluster nodes, ``WitnessShareInUse``,       :func:`restore_plan`
                                 ``ClusSvc`` of the survivors
activate databases (5)           active server and mount state per database  :func:`activation_plan`
client access (§5.4, §5.5 3c)    DNS record data and TTL                     ``dns.record_plan``
re-incorporate (§5.5 1)          Stopped/StartedMailboxServers, witness      :func:`site_state_plan`,
                                                                             :func:`needs_quorum_reevaluation`
copies ready (§5.5 2)            copy status in the site                     :func:`readiness_plan`
switchback (§5.5 3b, 3d-e)       mount state, active server                  :func:`dismount_plan`,
                                                                             :func:`activation_plan`
site resilience (§5.5 5)         DatabaseCopyAutoActivationPolicy            :func:`policy_plan`
===============================  ==========================================  ====================

Invalid input raises :class:`PlanError` with a message naming the module option at fault.
"""

from __future__ import annotations

from ansible_collections.exchange.dr.plugins.module_utils import convert
from ansible_collections.exchange.dr.plugins.module_utils.health import (
    CANDIDATE_STATUSES,
    best_copy,
    copy_health,
    criteria_set,
    replay_lag_seconds,
)

SITE_STATES = ("stopped", "started")
ACTIVATION_POLICIES = ("Blocked", "IntrasiteOnly", "Unrestricted")
# An explicit target (Move-ActiveMailboxDatabase -ActivateOnServer) may also be a suspended copy
# (runbooks §5.2 step 5; §6.3 activates a suspended copy without a skip switch).
EXPLICIT_STATUSES = CANDIDATE_STATUSES + ("Suspended",)
# Copies that need a reseed before they can serve again (runbooks §5.5 step 2, §6.1).
RESEED_STATUSES = ("FailedAndSuspended",)


class PlanError(ValueError):
    """The input of a plan is not usable: the message names the option and the fix."""


# ------------------------------------------------------------------------------ names
def short(name) -> str:
    """A server name as compared: the short (NetBIOS) name, lower case."""
    return convert.server_name(name).lower() if isinstance(name, str) and name else ""


def same(a, b) -> bool:
    return bool(short(a)) and short(a) == short(b)


def among(name, names) -> bool:
    wanted = short(name)
    return bool(wanted) and any(short(n) == wanted for n in names or [])


def without(names, removed) -> list:
    return [n for n in names or [] if not among(n, removed)]


def union(names, added) -> list:
    result = list(names or [])
    for name in added or []:
        if not among(name, result):
            result.append(name)
    return result


def _site_of(servers: list) -> dict:
    return {short(s.get("name")): s.get("site") for s in servers or [] if s.get("name")}


def members_in_site(dag: dict, servers: list, site: str) -> list:
    """The members of ``dag`` whose AD site (``Get-ExchangeServer`` ``Site``) is ``site``."""
    sites = _site_of(servers)
    return [m for m in dag.get("servers") or [] if (sites.get(short(m)) or "").lower() == site.lower()]


def resolve_members(dag: dict, servers: list, site: str | None = None, mailbox_servers: list | None = None,
                    site_option: str = "active_directory_site", servers_option: str = "mailbox_servers") -> list:
    """The DAG members an operation targets: those of ``site`` or the named ``mailbox_servers``
    (spelled as the DAG spells them).  Raises :class:`PlanError` naming the option when the site has
    no member or a server is not a member."""
    members = list(dag.get("servers") or [])
    if site:
        found = members_in_site(dag, servers, site)
        if not found:
            known = sorted({s for s in _site_of(servers).values() if s}, key=str.lower)
            raise PlanError("%s: no member of DAG %s is in Active Directory site %s (sites of the organization: %s)"
                            % (site_option, dag.get("name"), site, ", ".join(known) or "none"))
        return found
    result = []
    for name in mailbox_servers or []:
        match = next((m for m in members if same(m, name)), None)
        if match is None:
            raise PlanError("%s: %s is not a member of DAG %s (members: %s)"
                            % (servers_option, name, dag.get("name"), ", ".join(members)))
        if match not in result:
            result.append(match)
    if not result:
        raise PlanError("give %s or %s: the DAG members to act on" % (site_option, servers_option))
    return result


# ----------------------------------------------------------------- stop / start (dag_site)
def site_state_plan(dag: dict, targets: list, state: str) -> dict:
    """Stop or start ``targets`` (``Stop-/Start-DatabaseAvailabilityGroup``).

    ``dag`` carries ``stopped_mailbox_servers`` and ``started_mailbox_servers`` as read from the
    domain controller the write goes to.  ``stopped`` is due for the targets not yet in
    StoppedMailboxServers; ``started`` for those still in StoppedMailboxServers or missing from
    StartedMailboxServers.  Returns ``{"pending", "changed", "before", "after"}`` with the two lists
    before and as predicted after the cmdlet.
    """
    if state not in SITE_STATES:
        raise PlanError("state must be one of %s, got %r" % (", ".join(SITE_STATES), state))
    stopped = list(dag.get("stopped_mailbox_servers") or [])
    started = list(dag.get("started_mailbox_servers") or [])
    if state == "stopped":
        pending = [t for t in targets if not among(t, stopped)]
        after = {"stopped_mailbox_servers": union(stopped, pending), "started_mailbox_servers": without(started, targets)}
    else:
        pending = [t for t in targets if among(t, stopped) or not among(t, started)]
        after = {"stopped_mailbox_servers": without(stopped, targets), "started_mailbox_servers": union(started, targets)}
    before = {"stopped_mailbox_servers": stopped, "started_mailbox_servers": started}
    return {"pending": pending, "changed": bool(pending), "before": before, "after": after}


def needs_quorum_reevaluation(dag: dict) -> bool:
    """After ``Start-DatabaseAvailabilityGroup`` the DAG re-evaluates its quorum model on a bare
    ``Set-DatabaseAvailabilityGroup`` (runbooks §5.5 step 1).  Observable as: no member stopped any
    more but the alternate witness (set by the restore) still in use."""
    return not (dag.get("stopped_mailbox_servers") or []) and (dag.get("witness_share_in_use") or "") == "Alternate"


def _host(name) -> str:
    return (name or "").split(".", 1)[0].lower() if isinstance(name, str) else ""


def witness_changes(dag: dict, witness_server: str | None, witness_directory: str | None) -> dict:
    """``Set-DatabaseAvailabilityGroup`` parameters that put the witness back (runbooks §5.5 3a):
    only what differs from the DAG (server compared by host name, directory case-insensitively)."""
    params = {}
    if witness_server and _host(witness_server) != _host(dag.get("witness_server")):
        params["WitnessServer"] = witness_server
    if witness_directory and witness_directory.lower() != (dag.get("witness_directory") or "").lower():
        params["WitnessDirectory"] = witness_directory
    if params and witness_directory and "WitnessDirectory" not in params:
        params["WitnessDirectory"] = witness_directory
    return params


# ------------------------------------------------------------------- reachability
def unreachable_servers(servers: list, copies: list, operational: list | None = None) -> list:
    """Servers Exchange cannot reach: not operational and every copy they hold reports
    ``ServiceDown`` (the status of a copy whose server or Replication service does not answer,
    runbooks §1.1).  A server without copies counts as reachable."""
    result = []
    for name in servers:
        if among(name, operational or []):
            continue
        mine = [c for c in copies or [] if same(c.get("server"), name)]
        if mine and all((c.get("status") or "") == "ServiceDown" for c in mine):
            result.append(name)
    return result


# ------------------------------------------------------------------- restore (dag_restore)
def expected_witness(survivor_count: int, use_primary_witness_server: bool) -> str:
    """``WitnessShareInUse`` after ``Restore-DatabaseAvailabilityGroup``: a witness for an even
    number of survivors or a single one (the alternate, or the primary with
    -UsePrimaryWitnessServer), none for an odd number of three or more (runbooks §5.2 step 4)."""
    if survivor_count % 2 == 0 or survivor_count == 1:
        return "Primary" if use_primary_witness_server else "Alternate"
    return "None"


def restore_plan(dag: dict, servers: list, site: str, cluster_nodes: list | None, cluster_service: dict,
                 alternate_witness_server: str | None = None, alternate_witness_directory: str | None = None,
                 use_primary_witness_server: bool = False, stop_cluster_service: bool = True,
                 check_mode: bool = False) -> dict:
    """Activate the Mailbox servers of ``site`` (runbooks §5.2 steps 3-4).

    ``dag`` is the DAG with ``-Status``; ``cluster_nodes`` the node names the cluster reports
    (None when it cannot be read: no quorum, cluster service stopped); ``cluster_service`` the
    ``ClusSvc`` status per survivor.  Done when the stopped members are no cluster nodes, the
    survivors are, and the witness in use is as the restore leaves it.  Otherwise the plan stops
    the cluster service on the survivors where it runs (step 3) and restores the DAG (step 4).
    Members outside ``site`` that are not stopped make the restore fail (Exchange refuses it); in
    check mode they are assumed to be stopped by an earlier step and reported in ``warnings``.
    """
    members = list(dag.get("servers") or [])
    stopped = list(dag.get("stopped_mailbox_servers") or [])
    in_site = members_in_site(dag, servers, site)
    if not in_site:
        known = sorted({s for s in _site_of(servers).values() if s}, key=str.lower)
        raise PlanError("active_directory_site: no member of DAG %s is in Active Directory site %s (sites: %s)"
                        % (dag.get("name"), site, ", ".join(known) or "none"))
    survivors = without(in_site, stopped)
    if not survivors:
        raise PlanError("active_directory_site: every member of DAG %s in site %s is in StoppedMailboxServers (%s): "
                        "start them first (exchange.dr.dag_site state=started)"
                        % (dag.get("name"), site, ", ".join(in_site)))
    warnings = []
    not_stopped = [m for m in members if not among(m, in_site) and not among(m, stopped)]
    if not_stopped:
        message = ("DAG members outside site %s are not in StoppedMailboxServers: %s. Stop them first "
                   "(exchange.dr.dag_site state=stopped, runbooks §5.2 steps 1-2)" % (site, ", ".join(not_stopped)))
        if not check_mode:
            raise PlanError(message)
        warnings.append(message + "; check mode assumes an earlier step stops them")
    evict = [m for m in members if not among(m, survivors)]
    witness = expected_witness(len(survivors), use_primary_witness_server)
    alternate = alternate_witness_server or dag.get("alternate_witness_server")
    if witness == "Alternate" and not alternate:
        raise PlanError("alternate_witness_server: DAG %s has no alternate witness and %d surviving member(s) need "
                        "one: set alternate_witness_server and alternate_witness_directory (or "
                        "use_primary_witness_server)" % (dag.get("name"), len(survivors)))
    nodes = cluster_nodes or []
    done = (cluster_nodes is not None
            and all(among(s, nodes) for s in survivors)
            and not any(among(e, nodes) for e in evict)
            and (dag.get("witness_share_in_use") or "") == witness)
    steps = []
    if not done:
        if stop_cluster_service:
            for name in survivors:
                status = (cluster_service or {}).get(name)
                if status is None:
                    status = next((v for k, v in (cluster_service or {}).items() if same(k, name)), None)
                if status != "Stopped":
                    steps.append({"action": "stop_cluster_service", "server": name, "status": status})
        params = {"Identity": dag.get("name"), "ActiveDirectorySite": site}
        if alternate_witness_server:
            params["AlternateWitnessServer"] = alternate_witness_server
        if alternate_witness_directory:
            params["AlternateWitnessDirectory"] = alternate_witness_directory
        if use_primary_witness_server:
            params["UsePrimaryWitnessServer"] = None
        steps.append({"action": "restore", "parameters": params})
    after = {
        "cluster_nodes": survivors if not done else list(nodes),
        "evicted": evict,
        "witness_share_in_use": witness,
        "alternate_witness_server": alternate if witness == "Alternate" else dag.get("alternate_witness_server"),
        "operational_servers": survivors,
        "stopped_mailbox_servers": union(stopped, not_stopped),
    }
    return {"survivors": survivors, "evict": evict, "witness_share_in_use": witness, "done": done, "steps": steps,
            "after": after, "warnings": warnings}


# -------------------------------------------------------------------- database activation
def _db_name(db: dict) -> str:
    return db.get("name") or ""


def _copies_of(copies: list, database: str) -> list:
    return [c for c in copies or [] if (c.get("database") or "").lower() == database.lower()]


def preferred_server(db: dict):
    """The server of the database's activation-preference-1 copy (None when unknown)."""
    prefs = db.get("activation_preference") or {}
    best = None
    for server, value in prefs.items():
        rank = convert.integer(value)
        if isinstance(rank, int) and (best is None or rank < best[1]):
            best = (server, rank)
    return best[0] if best else None


def home_databases(databases: list, site_servers: list, dag: str | None = None) -> list:
    """Names of the replicated databases whose activation-preference-1 copy is in the site (the
    databases a failback moves back, runbooks §5.5 3b-3e)."""
    result = []
    for db in databases or []:
        if dag and (db.get("master") or "").lower() != dag.lower():
            continue
        if among(preferred_server(db), site_servers):
            result.append(_db_name(db))
    return result


def select_databases(databases: list, names: list | None, dag: str | None, option: str = "databases") -> list:
    """The database rows named in ``names`` (all of ``dag``'s when None); unknown names raise."""
    rows = [db for db in databases or [] if not dag or (db.get("master") or "").lower() == dag.lower()]
    if names is None:
        return rows
    by_name = {_db_name(db).lower(): db for db in rows}
    missing = [n for n in names if n.lower() not in by_name]
    if missing:
        raise PlanError("%s: no database %s in DAG %s (databases: %s)" % (
            option, ", ".join(missing), dag, ", ".join(sorted((_db_name(db) for db in rows), key=str.lower))))
    return [by_name[n.lower()] for n in names]


def _rank(copy: dict, order: str):
    pref = convert.integer(copy.get("activation_preference"))
    pref = pref if isinstance(pref, int) else 1 << 30
    queue = convert.integer(copy.get("copy_queue_length"))
    queue = queue if isinstance(queue, int) else 1 << 30
    if order == "preference":
        return (pref,)
    number = criteria_set(copy) or 11
    return (number, queue, pref)


def explicit_candidates(copies: list, database: str, site_servers: list, databases: list, order: str = "bcss",
                        eligible: list | None = None, gate: bool = False) -> tuple:
    """Copies of ``database`` in the site that an explicit ``Move-ActiveMailboxDatabase
    -ActivateOnServer`` may activate, best first, and the others with the reason.

    A Blocked server or an activation-suspended copy is allowed (an explicit target overrides
    both, runbooks §5.2 step 5); a lagged copy is never chosen (§6.3 needs its own procedure).
    ``order`` ``bcss`` ranks like Active Manager (criteria set, copy queue, preference, §1.4);
    ``preference`` by activation preference (a failback to the preferred servers).  ``gate``
    applies the §1.6 planned-activation gate (Healthy, queues below 10/50)."""
    candidates, excluded = [], []
    for copy in _copies_of(copies, database):
        if not among(copy.get("server"), site_servers) or copy.get("active"):
            continue
        status = copy.get("status") or "Unknown"
        reason = None
        if eligible is not None and not among(copy.get("server"), eligible):
            reason = "server %s is not operational" % copy.get("server")
        elif replay_lag_seconds(copy, databases):
            reason = "lagged copy (replay lag %s)" % convert.timespan_text(replay_lag_seconds(copy, databases))
        elif status not in EXPLICIT_STATUSES:
            reason = "status %s" % status
        elif gate:
            verdict = copy_health(copy, allow_activation_suspended=True, databases=databases)
            if not verdict["healthy"]:
                reason = "; ".join(verdict["reasons"])
        if reason:
            excluded.append({"server": copy.get("server"), "reason": reason})
        else:
            candidates.append(copy)
    candidates.sort(key=lambda c: _rank(c, order))
    return candidates, excluded


def automatic_activation_expected(copies: list, database: str, servers: list, databases: list,
                                  site_servers: list) -> bool:
    """Whether Active Manager would activate ``database`` in the site by itself: a passive copy
    there passes best copy selection as a targetless move (not Blocked, not activation-suspended,
    not lagged, candidate status)."""
    mine = [c for c in _copies_of(copies, database) if among(c.get("server"), site_servers) or c.get("active")]
    ranked = best_copy(mine, database=database, servers=servers, databases=databases, targetless=True)
    return any(among(r["server"], site_servers) for r in ranked)


def activation_plan(databases: list, copies: list, site_servers: list, *, names: list | None = None,
                    dag: str | None = None, order: str = "bcss", eligible: list | None = None,
                    allow_data_loss: bool = False, gate: bool = False) -> list:
    """What makes each database active and mounted on a server of the site (runbooks §5.2 step 5,
    §5.5 3d-3e), one entry per database:

    * ``none``: already mounted there;
    * ``mount``: active there but dismounted (``Mount-Database``);
    * ``move``: ``Move-ActiveMailboxDatabase -ActivateOnServer <target>`` (then a mount when the
      database stays dismounted); ``logs_at_risk`` is the target's copy queue when the active copy
      does not answer (``ServiceDown``: no "attempt copy last logs"), else 0.  A lossy move needs
      ``allow_data_loss`` (then ``mount_dial`` is ``BestEffort``);
    * ``blocked``: no copy in the site can be activated (``reason`` says why).
    """
    plan = []
    for db in select_databases(databases, names, dag):
        name = _db_name(db)
        entry = {"database": name, "from": db.get("server"), "to": None, "action": "none", "reason": None,
                 "logs_at_risk": 0, "mount_dial": None}
        mounted = db.get("mounted") is True
        if among(db.get("server"), site_servers):
            entry["to"] = db.get("server")
            if not mounted:
                entry["action"] = "mount"
            plan.append(entry)
            continue
        candidates, excluded = explicit_candidates(copies, name, site_servers, databases, order=order,
                                                   eligible=eligible, gate=gate)
        if not candidates:
            entry["action"] = "blocked"
            details = "; ".join("%s: %s" % (e["server"], e["reason"]) for e in excluded) or "no copy there"
            entry["reason"] = "no copy of %s in the site can be activated (%s)" % (name, details)
            plan.append(entry)
            continue
        target = candidates[0]
        active = next((c for c in _copies_of(copies, name) if c.get("active")), None)
        source_down = active is None or (active.get("status") or "") == "ServiceDown"
        queue = convert.integer(target.get("copy_queue_length"))
        risk = queue if source_down and isinstance(queue, int) and queue > 0 else 0
        entry.update(action="move", to=target.get("server"), logs_at_risk=risk)
        if risk:
            if not allow_data_loss:
                entry["action"] = "blocked"
                entry["reason"] = ("activating %s on %s would lose up to %d log(s) (its active copy on %s does not "
                                   "answer): set allow_data_loss to accept the loss" % (name, target.get("server"),
                                                                                        risk, db.get("server")))
            else:
                entry["mount_dial"] = "BestEffort"
        plan.append(entry)
    return plan


def move_parameters(entry: dict) -> dict:
    """``Move-ActiveMailboxDatabase`` parameters of a ``move`` entry of :func:`activation_plan`."""
    params = {"Identity": entry["database"], "ActivateOnServer": entry["to"], "Confirm": False}
    if entry.get("mount_dial"):
        params["MountDialOverride"] = entry["mount_dial"]
        params["SkipLagChecks"] = None
    return params


def dismount_plan(databases: list, site_servers: list, names: list | None = None, dag: str | None = None) -> list:
    """Databases (of ``names``) active in the site and mounted: dismount them before the namespace
    moves back (runbooks §5.5 3b)."""
    return [_db_name(db) for db in select_databases(databases, names, dag)
            if among(db.get("server"), site_servers) and db.get("mounted") is True]


def readiness_plan(databases: list, copies: list, site_servers: list, names: list | None = None,
                   dag: str | None = None, reseed: bool = True) -> list:
    """For each database, its best copy in the site and what makes it ready for activation
    (runbooks §5.5 step 2): ``ready`` (passes the §1.6 gate), ``wait`` (it heals by itself:
    Initializing, Resynchronizing, ServiceDown while the server comes back, queues draining),
    ``reseed`` (FailedAndSuspended: suspend is implied, ``Update-MailboxDatabaseCopy``), or
    ``blocked`` (no copy in the site, or only a lagged one; or reseed not allowed).  A database
    already active in the site is ``ready`` (its active copy serves)."""
    plan = []
    for db in select_databases(databases, names, dag):
        name = _db_name(db)
        entry = {"database": name, "server": None, "action": "ready", "status": None, "reasons": []}
        if among(db.get("server"), site_servers):
            entry.update(server=db.get("server"), status="Mounted" if db.get("mounted") else "Dismounted")
            plan.append(entry)
            continue
        mine = [c for c in _copies_of(copies, name) if among(c.get("server"), site_servers)
                and not replay_lag_seconds(c, databases)]
        if not mine:
            entry.update(action="blocked", reasons=["no copy in the site that is not lagged"])
            plan.append(entry)
            continue
        mine.sort(key=lambda c: _rank(c, "preference"))
        verdicts = [(c, copy_health(c, allow_activation_suspended=True, databases=databases)) for c in mine]
        healthy = [c for c, v in verdicts if v["healthy"]]
        chosen = healthy[0] if healthy else mine[0]
        verdict = copy_health(chosen, allow_activation_suspended=True, databases=databases)
        entry.update(server=chosen.get("server"), status=chosen.get("status"), reasons=verdict["reasons"])
        if verdict["healthy"]:
            entry["action"] = "ready"
        elif (chosen.get("status") or "") in RESEED_STATUSES:
            entry["action"] = "reseed" if reseed else "blocked"
            if not reseed:
                entry["reasons"] = entry["reasons"] + ["the copy needs a reseed: set reseed to allow it"]
        else:
            entry["action"] = "wait"
        plan.append(entry)
    return plan


def policy_plan(servers: list, targets: list, policy: str) -> list:
    """Servers among ``targets`` whose DatabaseCopyAutoActivationPolicy is not ``policy``
    (``Set-MailboxServer -DatabaseCopyAutoActivationPolicy``; runbooks §5.5 step 5, §6.2)."""
    if policy not in ACTIVATION_POLICIES:
        raise PlanError("auto_activation_policy must be one of %s, got %r" % (", ".join(ACTIVATION_POLICIES), policy))
    rows = {short(s.get("name")): s for s in servers or []}
    result = []
    for name in targets:
        row = rows.get(short(name)) or {}
        current = row.get("database_copy_auto_activation_policy")
        if (current or "").lower() != policy.lower():
            result.append({"server": row.get("name") or name, "before": current, "after": policy})
    return result


def placement(databases: list) -> dict:
    """``{database: {"server", "mounted"}}``: where each database is active."""
    return {_db_name(db): {"server": db.get("server"), "mounted": db.get("mounted")} for db in databases or []}


def predict_placement(databases: list, plan: list) -> dict:
    """:func:`placement` after the ``move``/``mount`` entries of an activation plan."""
    result = placement(databases)
    for entry in plan:
        if entry["action"] in ("move", "mount"):
            result[entry["database"]] = {"server": entry["to"], "mounted": True}
    return result
