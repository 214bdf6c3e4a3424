# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a server switchover: enter and leave maintenance on a DAG member (runbooks §3).

Internal to exchange.dr: no stable API, for the collection's own modules only.

No I/O.  The input is a *snapshot* of the live state (a dict the module builds from one read
of each kind of object, see :func:`snapshot_keys`); the output is an ordered list of steps, each
with the cmdlets it would send and a status from the current state: ``planned`` (the state is
not there yet) or ``skipped`` (already there, or not applicable), with the reason.  A re-run
after a failure part way plans only what is still missing, so it resumes where it stopped.

Versions (runbooks §3.2-§3.4, §14):

* Exchange 2013 and later (``family`` ``2013``): server component states with requester
  ``Maintenance``, the transport restart, the cluster node pause,
  ``DatabaseCopyActivationDisabledAndMoveNow``, activation policy ``Blocked``, the primary
  active manager (PAM) moved off, the remaining databases moved with bounded retries, queued
  mail redirected, ``ServerWideOffline`` Inactive; exit reverses it and restores the recorded
  pre-maintenance activation policy.
* Exchange 2010 (``family`` ``2010``): no component states and no
  ``DatabaseCopyActivationDisabledAndMoveNow``: activation policy ``Blocked``, node paused,
  databases and PAM moved, every copy of the server ``Suspend-MailboxDatabaseCopy
  -ActivationOnly`` with a comment starting "Suspended ActivationOnly by" (the
  StartDagServerMaintenance.ps1 convention); exit resumes the node, restores the policy and
  resumes only copies suspended that way.
* Exchange 2007 CCR (``family`` ``2007``): the clustered mailbox server moves to the other
  node (``Move-ClusteredMailboxServer``, runbooks §7) and stays there; leaving maintenance
  has nothing to undo.

The checks before any write (:func:`preflight`) are the redundancy floor (runbooks §1.6) and
the maintenance guard (servers already in maintenance, quorum without the paused nodes).
"""

from __future__ import annotations

import copy as _copy
import time

REQUESTER = "Maintenance"
FUNCTIONAL = "Functional"
TRANSPORT_SERVICE = "MSExchangeTransport"
CORE_CLUSTER_GROUP = "Cluster Group"
MOVE_CLUSTER_GROUP = "Move-ClusterGroup"
POLICIES = ("Unrestricted", "IntrasiteOnly", "Blocked")
STATES = ("maintenance", "active")

# Copy statuses that mean "this copy is the active one" (runbooks §3.1, DSC Get-ActiveDBCount).
ACTIVE_COPY_STATUSES = ("Mounted", "Mounting", "Dismounted", "Dismounting")
# Components that ServerWideOffline does not take down (object-properties §6).
EXEMPT_FROM_SERVER_WIDE_OFFLINE = ("Monitoring", "RecoveryActionsEnabled")
# Components inactive by default on premises when no requester has an entry (object-properties §6).
INACTIVE_BY_DEFAULT = ("ForwardSyncDaemon", "ProvisioningRps")
# Exit step 6 (runbooks §3.3): components a failed update may leave Inactive by requester Functional.
FUNCTIONAL_COMPONENTS = ("ServerWideOffline", "Monitoring", "RecoveryActionsEnabled")
SUSPEND_COMMENT_PREFIX = "Suspended ActivationOnly by"
SUSPEND_COMMENT = SUSPEND_COMMENT_PREFIX + " exchange.dr.server_maintenance at %s"
MOVE_COMMENT = "exchange.dr.server_maintenance: %s enters maintenance"
NODE_VOTING_STATES = ("Up", "Paused")
WITNESS_IN_USE = ("Primary", "Alternate")

__all__ = ["MaintenanceError", "family_of", "in_maintenance", "plan", "predict", "preflight", "progress",
           "requester_state", "summary", "verification", "wait_until"]


class MaintenanceError(ValueError):
    """The snapshot does not allow a plan (unknown server, missing record...); the message says why."""


# ------------------------------------------------------------------------------ helpers
def _same(a, b) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def _short(name):
    return name.split(".", 1)[0] if isinstance(name, str) else name


def _names(values) -> list:
    return sorted({v for v in values if v}, key=str.lower)


def family_of(product) -> str | None:
    """``2007``, ``2010`` or ``2013`` (2013, 2016, 2019 and SE share one plan) for a product name."""
    if product in ("2013", "2016", "2019", "SE"):
        return "2013"
    if product in ("2007", "2010"):
        return product
    return None


def requester_state(row: dict | None, requester: str) -> str | None:
    """The state ``requester`` has set on a component (``exchange_info``'s components row): its
    local (registry) and remote (AD) entries reconciled, the newer timestamp wins.  None when the
    requester has no entry."""
    if not row:
        return None
    entries = [e for e in (row.get("local_states") or []) + (row.get("remote_states") or [])
               if _same(e.get("requester"), requester)]
    if not entries:
        return None
    entries.sort(key=lambda e: e.get("timestamp") or "")
    return entries[-1].get("state")


def _combine(states) -> str | None:
    states = [s for s in states if s]
    if not states:
        return None
    for state in ("Inactive", "Draining"):
        if state in states:
            return state
    return "Active"


def _requesters(row: dict) -> dict:
    names = {e.get("requester") for e in (row.get("local_states") or []) + (row.get("remote_states") or [])}
    return {name: requester_state(row, name) for name in names if name}


def effective_states(components: dict) -> dict:
    """Effective state of each component from its requesters' states (object-properties §6):
    any Inactive -> Inactive, else any Draining -> Draining, else Active; no entry -> the default
    (Active, except ForwardSyncDaemon and ProvisioningRps); ServerWideOffline not Active makes every
    component Inactive except Monitoring and RecoveryActionsEnabled."""
    own = {}
    for name, row in components.items():
        state = _combine(_requesters(row).values())
        own[name] = state or ("Inactive" if name in INACTIVE_BY_DEFAULT else "Active")
    if own.get("ServerWideOffline", "Active") != "Active":
        for name in own:
            if name != "ServerWideOffline" and name not in EXEMPT_FROM_SERVER_WIDE_OFFLINE:
                own[name] = "Inactive"
    return own


def _set_requester(row: dict, requester: str, state: str, when: str) -> None:
    """Record ``requester`` -> ``state`` on a components row (both stores, as Set-ServerComponentState does)."""
    for key in ("local_states", "remote_states"):
        entries = [e for e in (row.get(key) or []) if not _same(e.get("requester"), requester)]
        entries.append({"requester": requester, "state": state, "timestamp": when})
        row[key] = entries


def replicated_databases(copies: list) -> set:
    """Names of the databases with more than one copy (the ones a switchover can move)."""
    count = {}
    for c in copies:
        count[(c.get("database") or "").lower()] = count.get((c.get("database") or "").lower(), 0) + 1
    return {c["database"] for c in copies if count[(c.get("database") or "").lower()] > 1}


def active_databases(copies: list, server: str) -> list:
    """Replicated databases whose active copy is on ``server`` (runbooks §3.1 test)."""
    replicated = replicated_databases(copies)
    return _names(c["database"] for c in copies
                  if _same(c.get("server"), server) and c.get("database") in replicated
                  and (c.get("active") or c.get("status") in ACTIVE_COPY_STATUSES))


def queued_messages(queues: list) -> int:
    """Messages queued on a server outside its shadow queues (runbooks §3.2 success list)."""
    total = 0
    for q in queues or []:
        identity = (q.get("identity") or "").lower()
        if "\\shadow\\" in identity or identity.endswith("\\shadow"):
            continue
        total += q.get("message_count") or 0
    return total


# ---------------------------------------------------------------------- snapshot shape
def snapshot_keys() -> dict:
    """What a snapshot holds (for the module and the tests)."""
    return {
        "server": "short name of the server acted on",
        "fqdn": "its FQDN",
        "family": "2007 | 2010 | 2013",
        "product": "2007 | 2010 | 2013 | 2016 | 2019 | SE",
        "site": "its AD site",
        "activation_policy": "DatabaseCopyAutoActivationPolicy",
        "move_now": "DatabaseCopyActivationDisabledAndMoveNow",
        "components": "{component: exchange_info components row} of the server (2013+)",
        "cluster_nodes": "[{name, state}] of its DAG's cluster (Get-ClusterNode)",
        "dag": "exchange_info dags row of its DAG, or None",
        "copies": "exchange_info copies rows of the DAG's databases",
        "servers": "[{name, fqdn, site, family, dag, activation_policy, move_now, components}] of the organization",
        "queues": "exchange_info queues rows of the server (2013+)",
        "pam_move_available": "Move-ClusterGroup exists on the server's Windows endpoint",
        "record": "the record file's content, or None",
        "cms": "2007: {name, active_node, nodes: [{name, operational, active}], copies: [{name, status}]}",
        "cluster_node": "2007: the node of the clustered mailbox server to vacate",
    }


# -------------------------------------------------------------------------- the checks
def in_maintenance_servers(snap: dict) -> list:
    """Other DAG members already in maintenance: in the DAG's ServersInMaintenance (their
    HighAvailability component is not Active), or with a Paused cluster node."""
    server = snap["server"]
    dag = snap.get("dag") or {}
    names = set(dag.get("servers_in_maintenance") or [])
    names.update(n["name"] for n in snap.get("cluster_nodes") or [] if n.get("state") == "Paused")
    return _names(n for n in names if not _same(n, server))


def default_min_healthy_copies(snap: dict) -> int:
    """2 healthy copies (the active one included), 1 when the DAG has two members (runbooks §1.6:
    StartDagServerMaintenance.ps1's rule, DSC's override for DAGs of two members)."""
    dag = snap.get("dag") or {}
    stopped = {s.lower() for s in dag.get("stopped_mailbox_servers") or []}
    members = [m for m in dag.get("servers") or [] if m.lower() not in stopped]
    return 1 if len(members) <= 2 else 2


def redundancy_problems(snap: dict, min_healthy_copies: int, excluded: list) -> list:
    """Databases with a copy on the server that would keep fewer than ``min_healthy_copies``
    healthy copies without it (and without the ``excluded`` servers, already in maintenance):
    healthy = the active copy Mounted, or a passive copy Healthy."""
    server = snap["server"]
    out = []
    gone = {server.lower()} | {e.lower() for e in excluded}
    copies = snap.get("copies") or []
    replicated = replicated_databases(copies)
    for database in _names(c["database"] for c in copies if _same(c.get("server"), server)):
        if database not in replicated:
            continue
        others = [c for c in copies if _same(c.get("database"), database) and (c.get("server") or "").lower() not in gone]
        healthy = [c["server"] for c in others
                   if (c.get("active") and c.get("status") == "Mounted") or (not c.get("active") and c.get("status") == "Healthy")]
        if len(healthy) < min_healthy_copies:
            detail = ", ".join("%s %s" % (c["server"], c.get("status")) for c in others) or "no other copy"
            out.append({"database": database, "healthy": len(healthy), "servers": _names(healthy),
                        "message": "%s would keep %d healthy cop%s (needs %d; other copies: %s)"
                                   % (database, len(healthy), "y" if len(healthy) == 1 else "ies", min_healthy_copies,
                                      detail)})
    return out


def quorum_after(snap: dict, away: list) -> dict:
    """Votes of the DAG's cluster once the server and ``away`` are down (node majority, plus the
    file share witness while the DAG uses one; Paused nodes vote)."""
    nodes = snap.get("cluster_nodes") or []
    dag = snap.get("dag") or {}
    witness = 1 if dag.get("witness_share_in_use") in WITNESS_IN_USE else 0
    total = len(nodes) + witness
    needed = total // 2 + 1
    gone = {snap["server"].lower()} | {a.lower() for a in away}
    voting = [n["name"] for n in nodes if n.get("state") in NODE_VOTING_STATES and n["name"].lower() not in gone]
    votes = len(voting) + witness
    return {"votes": votes, "needed": needed, "total": total, "voting": _names(voting), "has_quorum": votes >= needed}


def redirect_candidates(snap: dict) -> list:
    """Servers that can take the server's queued mail (runbooks §3.2 preconditions, DSC
    ``Get-ExclusionsForMessageRedirection``): another Exchange 2013+ Mailbox server whose
    HubTransport and ServerWideOffline are Active and whose activation policy is not Blocked,
    not in maintenance; the same AD site first, then the same DAG, then by name."""
    server = snap["server"]
    maintenance = {s.lower() for s in in_maintenance_servers(snap)}
    dag = (snap.get("dag") or {}).get("name")
    out = []
    for other in snap.get("servers") or []:
        if _same(other.get("name"), server) or other.get("family") != "2013":
            continue
        effective = effective_states(other.get("components") or {})
        reasons = []
        if not other.get("components"):
            reasons.append("component states unknown")
        if effective.get("HubTransport") != "Active":
            reasons.append("HubTransport %s" % effective.get("HubTransport"))
        if effective.get("ServerWideOffline", "Active") != "Active":
            reasons.append("ServerWideOffline %s" % effective.get("ServerWideOffline"))
        if other.get("activation_policy") == "Blocked":
            reasons.append("activation policy Blocked")
        if other.get("name", "").lower() in maintenance:
            reasons.append("in maintenance")
        out.append({"name": other["name"], "fqdn": other.get("fqdn") or other["name"], "eligible": not reasons,
                    "reasons": reasons, "rank": (0 if _same(other.get("site"), snap.get("site")) else 1,
                                                 0 if dag and _same(other.get("dag"), dag) else 1,
                                                 other["name"].lower())})
    out.sort(key=lambda c: c["rank"])
    return out


def redirect_target(snap: dict, wanted: str | None = None) -> tuple:
    """(target dict, problem): the first eligible :func:`redirect_candidates` entry, or ``wanted``
    (name or FQDN) when it is eligible."""
    candidates = redirect_candidates(snap)
    if wanted:
        for c in candidates:
            if _same(c["name"], wanted) or _same(c["fqdn"], wanted):
                if c["eligible"]:
                    return c, None
                return None, "redirect_target %s cannot take the queued mail: %s" % (wanted, ", ".join(c["reasons"]))
        return None, ("redirect_target %s is not another Exchange 2013 or later server of the organization" % wanted)
    for c in candidates:
        if c["eligible"]:
            return c, None
    detail = "; ".join("%s: %s" % (c["name"], ", ".join(c["reasons"])) for c in candidates) or "no other server"
    return None, ("no other Mailbox server can take the queued mail of %s (needs HubTransport and ServerWideOffline "
                  "Active and an activation policy other than Blocked): %s" % (snap["server"], detail))


def pam_target(snap: dict) -> str | None:
    """A node to own the cluster core group instead of the server: Up (a Paused node cannot be
    the PAM), not in maintenance; the same AD site first."""
    server = snap["server"]
    maintenance = {s.lower() for s in in_maintenance_servers(snap)}
    sites = {s["name"].lower(): s.get("site") for s in snap.get("servers") or []}
    nodes = [n["name"] for n in snap.get("cluster_nodes") or []
             if n.get("state") == "Up" and not _same(n["name"], server) and n["name"].lower() not in maintenance]
    nodes.sort(key=lambda n: (0 if _same(sites.get(n.lower()), snap.get("site")) else 1, n.lower()))
    return nodes[0] if nodes else None


def preflight(snap: dict, min_healthy_copies: int | None = None, max_servers_in_maintenance: int = 1) -> dict:
    """The checks before any write of ``state=maintenance``: ``{"problems": [...], "min_healthy_copies": n,
    "servers_in_maintenance": [...], "quorum": {...}}``.  Each problem is one sentence naming the
    databases or servers concerned."""
    problems = []
    floor = default_min_healthy_copies(snap) if min_healthy_copies is None else min_healthy_copies
    others = in_maintenance_servers(snap)
    dag = snap.get("dag")
    result = {"problems": problems, "min_healthy_copies": floor, "servers_in_maintenance": others, "quorum": None}
    if snap["family"] == "2007":
        cms = snap.get("cms") or {}
        unhealthy = ["%s %s" % (c["name"], c.get("status")) for c in cms.get("copies") or [] if c.get("status") != "Healthy"]
        if floor > 0 and unhealthy:
            problems.append("the storage group copies of %s are not all Healthy (%s): the clustered mailbox server "
                            "would move onto copies that are behind" % (cms.get("name"), ", ".join(unhealthy)))
        return result
    if dag is None:
        return result
    if len(others) + 1 > max_servers_in_maintenance:
        problems.append("%s already in maintenance and max_servers_in_maintenance is %d: finish %s first "
                        "(state=active) or raise max_servers_in_maintenance"
                        % (", ".join(others) + (" is" if len(others) == 1 else " are"), max_servers_in_maintenance,
                           "its maintenance" if len(others) == 1 else "their maintenance"))
    quorum = quorum_after(snap, others)
    result["quorum"] = quorum
    if snap.get("cluster_nodes") and not quorum["has_quorum"]:
        problems.append("the cluster of %s would keep %d of %d votes without %s (needs %d): it would lose quorum "
                        "when the node restarts" % (dag["name"], quorum["votes"], quorum["total"],
                                                    ", ".join([snap["server"]] + others), quorum["needed"]))
    if dag.get("witness_share_in_use") == "InvalidConfiguration":
        problems.append("%s reports WitnessShareInUse InvalidConfiguration: fix the file share witness first"
                        % dag["name"])
    for problem in redundancy_problems(snap, floor, others):
        problems.append("redundancy floor (min_healthy_copies %d): %s" % (floor, problem["message"]))
    return result


# ---------------------------------------------------------------------------- the plan
def _step(name: str, description: str, endpoint: str, commands: list, done_reason: str | None, **extra) -> dict:
    step = {"name": name, "description": description, "endpoint": endpoint, "commands": commands,
            "status": "skipped" if done_reason else "planned", "reason": done_reason}
    step.update(extra)
    return step


def _component_command(server: str, component: str, state: str, requester: str = REQUESTER) -> tuple:
    return ("Set-ServerComponentState", {"Identity": server, "Component": component, "State": state,
                                         "Requester": requester})


def _component_step(snap: dict, name: str, component: str, state: str, done_states: tuple) -> dict | None:
    row = (snap.get("components") or {}).get(component)
    if row is None:
        return None
    current = requester_state(row, REQUESTER)
    description = "%s %s (requester %s)" % (component, state, REQUESTER)
    if state == "Active":
        done = None if current not in (None, "Active") else (
            "no %s entry" % REQUESTER if current is None else "already Active")
    else:
        done = ("already %s" % current) if current in done_states else None
    return _step(name, description, "exchange", [_component_command(snap["server"], component, state)], done,
                 component=component, state=state)


def _restart_step(snap: dict, phase: str, trigger: dict | None) -> dict:
    """The transport restart follows the HubTransport change of the same run; a record with a
    pending restart (a run that stopped in between) plans it too."""
    record = snap.get("record") or {}
    pending = record.get("transport_restart_pending") == phase
    needed = (trigger is not None and trigger["status"] == "planned") or pending
    if needed:
        reason = None
    elif trigger is None:
        reason = "no HubTransport component"
    else:
        reason = "HubTransport was already %s before this run and no restart is pending" % trigger["state"]
    return _step("transport_restart", "restart %s (Stop-Service, then Start-Service; runbooks: Restart-Service)"
                 % TRANSPORT_SERVICE, "windows",
                 [("Stop-Service", {"Name": TRANSPORT_SERVICE}), ("Start-Service", {"Name": TRANSPORT_SERVICE})],
                 reason, pending=pending)


def _node(snap: dict) -> dict | None:
    return next((n for n in snap.get("cluster_nodes") or [] if _same(n.get("name"), snap["server"])), None)


def _suspend_node_step(snap: dict) -> dict | None:
    node = _node(snap)
    if node is None:
        return None
    done = "node already Paused" if node.get("state") == "Paused" else None
    extra = {}
    if node.get("state") == "Down":
        extra["problem"] = ("the cluster node of %s is Down (a Down node cannot be paused): start its cluster service "
                            "or bring the server back first" % snap["server"])
    return _step("suspend_cluster_node", "pause cluster node %s" % snap["server"], "windows",
                 [("Suspend-ClusterNode", {"Name": snap["server"]})], done, **extra)


def _policy_step(snap: dict, name: str, policy: str | None) -> dict:
    current = snap.get("activation_policy")
    done = ("already %s" % current) if current == policy else None
    if policy is None:
        done = "no pre-maintenance policy to restore"
    return _step(name, "DatabaseCopyAutoActivationPolicy %s" % policy, "exchange",
                 [("Set-MailboxServer", {"Identity": snap["server"], "DatabaseCopyAutoActivationPolicy": policy})],
                 done, policy=policy)


def _pam_step(snap: dict) -> dict | None:
    dag = snap.get("dag")
    if dag is None:
        return None
    pam = dag.get("primary_active_manager")
    description = "move the primary active manager (cluster group \"%s\") off %s" % (CORE_CLUSTER_GROUP, snap["server"])
    if not _same(pam, snap["server"]):
        return _step("move_pam", description, "windows", [], "the PAM is %s" % (pam or "unknown"))
    target = pam_target(snap)
    if target is None:
        return _step("move_pam", description, "windows", [], None, problem="no other Up node of %s can own the "
                     "cluster group" % dag["name"])
    if not snap.get("pam_move_available"):
        return _step("move_pam", description, "windows", [],
                     "%s is not available on %s (FailoverClusters module); the cluster moves the core group to an Up "
                     "node when this node stops or restarts (a Paused node cannot take it back)"
                     % (MOVE_CLUSTER_GROUP, snap["server"]), unavailable=True, target=target)
    return _step("move_pam", description, "windows",
                 [(MOVE_CLUSTER_GROUP, {"Name": CORE_CLUSTER_GROUP, "Node": target})], None, target=target)


def _move_step(snap: dict) -> dict:
    active = active_databases(snap.get("copies") or [], snap["server"])
    return _step("move_databases", "move the active databases off %s" % snap["server"], "exchange",
                 [("Move-ActiveMailboxDatabase", {"Server": snap["server"], "Confirm": False})],
                 None if active else "no active replicated database on %s" % snap["server"], databases=active)


def _redirect_step(snap: dict, wanted: str | None) -> dict:
    """Planned while messages are queued outside the shadow queues, or when the queues could not
    be read (``queues`` None: right after a transport restart Get-Queue may fail for a while)."""
    queued = None if snap.get("queues") is None else queued_messages(snap.get("queues"))
    if queued == 0:
        return _step("redirect_messages", "redirect the queued messages", "exchange", [],
                     "no message queued outside the shadow queues", queued=0)
    target, problem = redirect_target(snap, wanted)
    if target is None:
        return _step("redirect_messages", "redirect the queued messages", "exchange", [], None, problem=problem,
                     queued=queued)
    count = "the queued messages" if queued is None else "%d queued message%s" % (queued, "" if queued == 1 else "s")
    return _step("redirect_messages", "redirect %s to %s" % (count, target["fqdn"]), "exchange",
                 [("Redirect-Message", {"Server": snap["server"], "Target": target["fqdn"], "Confirm": False})], None,
                 queued=queued, target=target["fqdn"])


def _copy_identity(c: dict) -> str:
    return c.get("name") or "%s\\%s" % (c["database"], c["server"])


def _suspend_copies_step(snap: dict, when: str) -> dict:
    replicated = replicated_databases(snap.get("copies") or [])
    copies = [c for c in snap.get("copies") or [] if _same(c.get("server"), snap["server"])
              and c.get("database") in replicated and not c.get("activation_suspended")]
    commands = [("Suspend-MailboxDatabaseCopy", {"Identity": _copy_identity(c), "ActivationOnly": None,
                                                 "SuspendComment": SUSPEND_COMMENT % when, "Confirm": False})
                for c in sorted(copies, key=lambda c: c["database"].lower())]
    return _step("suspend_copy_activation", "suspend activation (ActivationOnly) of the copies on %s" % snap["server"],
                 "exchange", commands, None if commands else "every copy is already activation-suspended",
                 copies=[_copy_identity(c) for c in copies])


def _resume_copies_step(snap: dict) -> dict:
    copies = [c for c in snap.get("copies") or [] if _same(c.get("server"), snap["server"])
              and c.get("activation_suspended") and (c.get("suspend_comment") or "").startswith(SUSPEND_COMMENT_PREFIX)]
    commands = [("Resume-MailboxDatabaseCopy", {"Identity": _copy_identity(c)})
                for c in sorted(copies, key=lambda c: c["database"].lower())]
    return _step("resume_copy_activation", "resume the copies suspended for maintenance", "exchange", commands,
                 None if commands else "no copy suspended for maintenance (\"%s ...\")" % SUSPEND_COMMENT_PREFIX,
                 copies=[_copy_identity(c) for c in copies])


def restore_policy(snap: dict, option: str | None) -> tuple:
    """(policy, source) to restore on exit: the option, else the record of the entry."""
    if option and option != "recorded":
        return option, "option"
    record = snap.get("record") or {}
    if record.get("activation_policy") in POLICIES:
        return record["activation_policy"], "record"
    return None, None


def entry_policy(snap: dict) -> tuple:
    """(policy, source) to record on entry: a record of an entry not yet left wins (a re-run must
    not record ``Blocked`` set by the first run); else the current policy when the server shows no
    sign of maintenance; else unknown."""
    record = snap.get("record") or {}
    if record.get("state") == "maintenance" and record.get("activation_policy") in POLICIES:
        return record["activation_policy"], "record"
    current = snap.get("activation_policy")
    if current != "Blocked" or not started_maintenance(snap):
        return current, "read"
    return None, "unknown"


def started_maintenance(snap: dict) -> bool:
    """Any sign that maintenance was entered: a Maintenance requester not Active, the move-now flag,
    a Paused node, activation-suspended copies with the maintenance comment."""
    for row in (snap.get("components") or {}).values():
        if requester_state(row, REQUESTER) in ("Draining", "Inactive"):
            return True
    node = _node(snap)
    if snap.get("move_now") or (node and node.get("state") == "Paused"):
        return True
    return any(_same(c.get("server"), snap["server"]) and (c.get("suspend_comment") or "").startswith(SUSPEND_COMMENT_PREFIX)
               for c in snap.get("copies") or [])


def _enter_2013(snap: dict, options: dict) -> list:
    steps = []
    hub = _component_step(snap, "hub_transport_draining", "HubTransport", "Draining", ("Draining", "Inactive"))
    steps.append(hub)
    steps.append(_component_step(snap, "um_call_router_draining", "UMCallRouter", "Draining", ("Draining", "Inactive")))
    steps.append(_restart_step(snap, "maintenance", hub))
    steps.append(_suspend_node_step(snap))
    steps.append(_step("activation_disabled_and_move_now", "DatabaseCopyActivationDisabledAndMoveNow $true", "exchange",
                       [("Set-MailboxServer", {"Identity": snap["server"],
                                               "DatabaseCopyActivationDisabledAndMoveNow": True})],
                       "already $true" if snap.get("move_now") else None))
    steps.append(_policy_step(snap, "activation_policy_blocked", "Blocked"))
    steps.append(_pam_step(snap))
    steps.append(_move_step(snap))
    steps.append(_redirect_step(snap, options.get("redirect_target")))
    steps.append(_component_step(snap, "server_wide_offline_inactive", "ServerWideOffline", "Inactive", ("Inactive",)))
    return [s for s in steps if s is not None]


def _exit_2013(snap: dict, options: dict) -> list:
    steps = [_component_step(snap, "server_wide_offline_active", "ServerWideOffline", "Active", ()),
             _component_step(snap, "um_call_router_active", "UMCallRouter", "Active", ())]
    steps.append(_resume_node_step(snap))
    steps.append(_step("activation_enabled", "DatabaseCopyActivationDisabledAndMoveNow $false", "exchange",
                       [("Set-MailboxServer", {"Identity": snap["server"],
                                               "DatabaseCopyActivationDisabledAndMoveNow": False})],
                       None if snap.get("move_now") else "already $false"))
    steps.append(_exit_policy_step(snap, options))
    steps.append(_component_step(snap, "high_availability_active", "HighAvailability", "Active", ()))
    hub = _component_step(snap, "hub_transport_active", "HubTransport", "Active", ())
    steps.append(hub)
    steps.append(_restart_step(snap, "active", hub))
    steps.append(_functional_step(snap))
    return [s for s in steps if s is not None]


def _resume_node_step(snap: dict) -> dict | None:
    node = _node(snap)
    if node is None:
        return None
    return _step("resume_cluster_node", "resume cluster node %s" % snap["server"], "windows",
                 [("Resume-ClusterNode", {"Name": snap["server"]})],
                 None if node.get("state") == "Paused" else "node is %s" % node.get("state"))


def _exit_policy_step(snap: dict, options: dict) -> dict:
    policy, source = restore_policy(snap, options.get("restore_activation_policy"))
    step = _policy_step(snap, "activation_policy_restore", policy)
    step["source"] = source
    if policy is None and snap.get("activation_policy") == "Blocked":
        step["status"] = "planned"
        step["reason"] = None
        step["problem"] = ("the activation policy of %s is Blocked and no pre-maintenance value is recorded: set "
                           "restore_activation_policy (Unrestricted, IntrasiteOnly or Blocked), or give the "
                           "record_file used when it entered maintenance" % snap["server"])
    elif policy is None:
        step["reason"] = "already %s (nothing recorded to restore)" % snap.get("activation_policy")
    return step


def _functional_step(snap: dict) -> dict | None:
    components = snap.get("components") or {}
    if not components:
        return None
    names = [c for c in FUNCTIONAL_COMPONENTS if requester_state(components.get(c), FUNCTIONAL) == "Inactive"]
    return _step("functional_components_active", "components left Inactive by requester %s back to Active" % FUNCTIONAL,
                 "exchange", [_component_command(snap["server"], c, "Active", FUNCTIONAL) for c in names],
                 None if names else "no component Inactive by requester %s" % FUNCTIONAL, components=names)


def _enter_2010(snap: dict, options: dict, when: str) -> list:
    steps = [_policy_step(snap, "activation_policy_blocked", "Blocked"), _suspend_node_step(snap), _move_step(snap),
             _pam_step(snap), _suspend_copies_step(snap, when)]
    return [s for s in steps if s is not None]


def _exit_2010(snap: dict, options: dict) -> list:
    steps = [_resume_node_step(snap), _exit_policy_step(snap, options), _resume_copies_step(snap)]
    return [s for s in steps if s is not None]


def _enter_2007(snap: dict) -> list:
    cms = snap.get("cms") or {}
    node = snap.get("cluster_node")
    description = "move clustered mailbox server %s off node %s" % (cms.get("name"), node)
    active = cms.get("active_node")
    if not _same(active, node):
        return [_step("move_clustered_mailbox_server", description, "exchange", [],
                      "%s is active on %s" % (cms.get("name"), active or "no node"))]
    targets = [n["name"] for n in cms.get("nodes") or [] if n.get("operational") and not _same(n["name"], node)]
    if not targets:
        return [_step("move_clustered_mailbox_server", description, "exchange", [], None,
                      problem="no other operational node of %s to move it to" % cms.get("name"))]
    return [_step("move_clustered_mailbox_server", description, "exchange",
                  [("Move-ClusteredMailboxServer", {"Identity": cms["name"], "TargetMachine": targets[0],
                                                    "MoveComment": MOVE_COMMENT % node, "Confirm": False})],
                  None, target=targets[0])]


def plan(snap: dict, state: str, options: dict | None = None, when: str = "") -> list:
    """The ordered steps that bring ``snap`` to ``state`` (``maintenance`` or ``active``).

    ``options``: ``redirect_target`` (name or FQDN; default: :func:`redirect_target`) and
    ``restore_activation_policy`` (``recorded`` or a policy).  ``when`` is the timestamp written in
    the 2010 suspend comments.  A step that cannot be planned has a ``problem`` (one sentence)."""
    options = options or {}
    if state not in STATES:
        raise MaintenanceError("state must be maintenance or active, not %s" % state)
    family = snap.get("family")
    if family == "2013":
        return _enter_2013(snap, options) if state == "maintenance" else _exit_2013(snap, options)
    if family == "2010":
        return _enter_2010(snap, options, when) if state == "maintenance" else _exit_2010(snap, options)
    if family == "2007":
        return _enter_2007(snap) if state == "maintenance" else []
    raise MaintenanceError("%s runs Exchange %s: server_maintenance supports Exchange 2007 (CCR), 2010, 2013, 2016, "
                           "2019 and SE" % (snap.get("server"), snap.get("product") or "of an unknown version"))


def problems_of(steps: list) -> list:
    return [s["problem"] for s in steps if s.get("problem") and s["status"] == "planned"]


def writes_planned(steps: list) -> bool:
    return any(s["status"] == "planned" for s in steps)


# ------------------------------------------------------------------ state and prediction
def summary(snap: dict) -> dict:
    """What maintenance changes, as before/after: component states (effective, and what requester
    Maintenance set), cluster node, activation settings, PAM, active databases, queued messages,
    activation-suspended copies."""
    server = snap["server"]
    node = _node(snap)
    components = snap.get("components") or {}
    out = {
        "server": server,
        "activation_policy": snap.get("activation_policy"),
        "cluster_node": node.get("state") if node else None,
        "primary_active_manager": (snap.get("dag") or {}).get("primary_active_manager"),
        "active_databases": active_databases(snap.get("copies") or [], server),
    }
    if snap.get("family") == "2013":
        out["components"] = dict(sorted((k, v) for k, v in effective_states(components).items()))
        out["maintenance_requester"] = dict(sorted(
            (name, requester_state(row, REQUESTER)) for name, row in components.items()
            if requester_state(row, REQUESTER) is not None))
        out["activation_disabled_and_move_now"] = snap.get("move_now")
        out["queued_messages"] = queued_messages(snap.get("queues"))
    if snap.get("family") == "2010":
        out["activation_suspended_copies"] = _names(_copy_identity(c) for c in snap.get("copies") or []
                                                    if _same(c.get("server"), server) and c.get("activation_suspended"))
    if snap.get("family") == "2007":
        cms = snap.get("cms") or {}
        out = {"server": server, "clustered_mailbox_server": cms.get("name"), "active_node": cms.get("active_node"),
               "cluster_node": snap.get("cluster_node")}
    return out


def verification(after: dict, family: str, state: str) -> dict:
    """The runbooks' success lists (§3.2 for ``maintenance``, §3.3 for ``active``) on a
    :func:`summary`: one boolean per check."""
    server = after["server"]
    if family == "2007":
        away = not _same(after.get("active_node"), after.get("cluster_node"))
        return {"clustered_mailbox_server_moved": away} if state == "maintenance" else {}
    node = after.get("cluster_node")
    components = after.get("components") or {}
    if state == "maintenance":
        checks = {"activation_blocked": after.get("activation_policy") == "Blocked",
                  "no_active_databases": not after.get("active_databases"),
                  "not_primary_active_manager": not _same(after.get("primary_active_manager"), server)}
        if node is not None:
            checks["cluster_node_paused"] = node == "Paused"
        if family == "2013":
            checks["server_wide_offline_inactive"] = components.get("ServerWideOffline") == "Inactive"
            checks["hub_transport_not_active"] = components.get("HubTransport") in ("Draining", "Inactive")
            checks["queues_empty"] = not after.get("queued_messages")
        return checks
    checks = {}
    if node is not None:
        checks["cluster_node_up"] = node == "Up"
    if family == "2013":
        for name in ("ServerWideOffline", "HubTransport", "Monitoring", "RecoveryActionsEnabled", "UMCallRouter"):
            if name in components:
                checks["%s_active" % name] = components[name] == "Active"
        checks["activation_enabled"] = not after.get("activation_disabled_and_move_now")
    return checks


def in_maintenance(after: dict, family: str) -> bool:
    """Every check of :func:`verification` for ``maintenance`` holds, the PAM aside (when
    Move-ClusterGroup is not available the cluster moves it only when the node stops)."""
    checks = verification(after, family, "maintenance")
    return all(value for key, value in checks.items() if key != "not_primary_active_manager")


def predict(snap: dict, steps: list, when: str = "") -> dict:
    """The snapshot after the planned steps (check mode): a deep copy with each step's effect."""
    after = _copy.deepcopy(snap)
    server = after["server"]
    for step in steps:
        if step["status"] != "planned" or step.get("problem"):
            continue
        name = step["name"]
        for cmdlet, params in step["commands"]:
            if cmdlet == "Set-ServerComponentState":
                row = after.setdefault("components", {}).setdefault(params["Component"], {"component": params["Component"]})
                _set_requester(row, params["Requester"], params["State"], when or "9999")
            elif cmdlet == "Set-MailboxServer":
                if "DatabaseCopyAutoActivationPolicy" in params:
                    after["activation_policy"] = params["DatabaseCopyAutoActivationPolicy"]
                if "DatabaseCopyActivationDisabledAndMoveNow" in params:
                    after["move_now"] = params["DatabaseCopyActivationDisabledAndMoveNow"]
            elif cmdlet in ("Suspend-ClusterNode", "Resume-ClusterNode"):
                for node in after.get("cluster_nodes") or []:
                    if _same(node["name"], server):
                        node["state"] = "Paused" if cmdlet == "Suspend-ClusterNode" else "Up"
            elif cmdlet == MOVE_CLUSTER_GROUP and after.get("dag"):
                after["dag"]["primary_active_manager"] = params["Node"]
            elif cmdlet == "Redirect-Message":
                after["queues"] = [dict(q, message_count=0) for q in after.get("queues") or []
                                   if "\\shadow" not in (q.get("identity") or "").lower()] + \
                    [q for q in after.get("queues") or [] if "\\shadow" in (q.get("identity") or "").lower()]
            elif cmdlet == "Suspend-MailboxDatabaseCopy":
                for c in after.get("copies") or []:
                    if _copy_identity(c).lower() == params["Identity"].lower():
                        c["activation_suspended"] = True
                        c["suspend_comment"] = params["SuspendComment"]
            elif cmdlet == "Resume-MailboxDatabaseCopy":
                for c in after.get("copies") or []:
                    if _copy_identity(c).lower() == params["Identity"].lower():
                        c["activation_suspended"] = False
                        c["suspend_comment"] = None
            elif cmdlet == "Move-ClusteredMailboxServer":
                after["cms"]["active_node"] = params["TargetMachine"]
        if name == "move_databases":
            for c in after.get("copies") or []:
                if _same(c.get("server"), server) and c.get("database") in step["databases"]:
                    c["active"] = False
                    c["status"] = "Healthy"
    return after


def progress(steps: list) -> dict:
    names = ("done", "skipped", "planned", "failed")
    counts = {status: sum(1 for s in steps if s["status"] == status) for status in names}
    total = len(steps)
    finished = counts["done"] + counts["skipped"]
    counts.update(total=total, percent=100 if not total else int(round(100.0 * finished / total)))
    return counts


# -------------------------------------------------------------------------------- waits
def wait_until(check, timeout: float, interval: float, sleep=time.sleep, clock=time.monotonic) -> dict:
    """Call ``check()`` (returns ``(done, value)``) every ``interval`` seconds until it is done or
    ``timeout`` seconds have passed; returns ``{"done", "value", "polls", "elapsed"}``.  The first
    call is immediate; ``timeout`` 0 means one call."""
    start = clock()
    polls = 0
    while True:
        done, value = check()
        polls += 1
        elapsed = clock() - start
        if done or elapsed + interval > timeout:
            return {"done": bool(done), "value": value, "polls": polls, "elapsed": round(elapsed, 3)}
        sleep(interval)
