# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DR report: one self-contained HTML page (inline SVG and CSS) and the same data as JSON.

Internal to exchange.dr: no stable API, for the collection's own modules only (``dr_report``).

No I/O.  :func:`build` turns what ``exchange_info`` returned (servers, dags, databases, copies,
components; on Exchange 2007 servers, clustered_mailbox_servers, databases and copies), the JSON
drift report of the ``dr_config`` role (:func:`read_dr_config`) and the registered results of
switchover modules (:func:`switchover_moves`) into one plain dict, the report's data
(``FORMAT``); :func:`render_html` draws that dict as the page an operator opens on a jump host:

* one picture per DAG (on Exchange 2007, per clustered mailbox server: its CCR nodes and SCR
  targets), the way it is sketched on a whiteboard: the AD sites side by side, the servers in
  them, each database copy a row (or, for servers with many copies, a badge) coloured by status,
  with the activation preference, the copy and replay queues, the replay lag and the activation
  blocks; the witness and the alternate witness in their site (or apart when their site is not
  known);
* the same as a table per DAG (every database and copy, text that prints and searches);
* the drift items of ``dr_config`` and, given a switchover result, where every database was
  before and after, and the logs lost.

The page has no script, no external font, image, style sheet or link: only ``#`` anchors.
Invalid input raises :class:`ReportInputError` naming the option.
"""

from __future__ import annotations

import html
import math

from ansible_collections.exchange.dr.plugins.module_utils import convert

FORMAT = "exchange.dr/dr_report/v1"
DR_CONFIG_FORMAT = "exchange.dr/dr_config/v1"
DR_CONFIG_STATUSES = ("ok", "drift", "fixed", "failed")

# Copy statuses by how an operator should read them (Get-MailboxDatabaseCopyStatus, runbooks §1.1).
GOOD_ACTIVE = ("Mounted",)
GOOD_PASSIVE = ("Healthy", "DisconnectedAndHealthy", "SeedingSource")
BUSY = ("Initializing", "Resynchronizing", "DisconnectedAndResynchronizing", "Seeding", "SinglePageRestore",
        "Mounting", "Dismounting", "Suspended")
# Copy queue at or above this is highlighted (the best-copy criteria's limit, runbooks §1.4).
COPY_QUEUE_WARN = 10
# A passive copy replaying more logs than this, without a replay lag, is highlighted (§1.6 gate).
REPLAY_QUEUE_WARN = 50
# Maintenance as the component states show it (runbooks §3.1).
MAINTENANCE_COMPONENTS = {"ServerWideOffline": ("Inactive",), "HubTransport": ("Draining", "Inactive")}
BLOCKED_POLICIES = ("Blocked", "IntrasiteOnly")


class ReportInputError(ValueError):
    """The data given to the report is not usable; the message names the option."""


# ----------------------------------------------------------------------------- helpers
def _key(value) -> str:
    return (value or "").lower() if isinstance(value, str) else ""


def _short(host) -> str | None:
    """``FS01.contoso.com`` -> ``FS01``."""
    if not isinstance(host, str) or not host.strip():
        return None
    return host.strip().split(".", 1)[0]


def _list(value, option: str, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ReportInputError("%s: %s must be a list of dictionaries (as exchange.dr.exchange_info returns it), got %s"
                               % (option, what, type(value).__name__))
    return value


def _lag_text(value) -> str | None:
    """A replay lag as the report shows it (``7d``, ``12h``, ``30m``), None when there is no lag."""
    seconds = convert.timespan_seconds(value)
    if not seconds:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = seconds / size
            return ("%d%s" % (amount, unit)) if amount == int(amount) else ("%.1f%s" % (amount, unit))
    return "%ds" % seconds


def copy_state(copy: dict) -> str:
    """One of ``active`` (mounted), ``healthy``, ``lagged``, ``busy``, ``bad``, ``unknown``."""
    status = copy.get("status")
    if copy.get("active"):
        return "active" if status in GOOD_ACTIVE else ("busy" if status in BUSY else "bad")
    if status in GOOD_PASSIVE:
        return "lagged" if copy.get("replay_lag") else "healthy"
    if status in BUSY:
        return "busy"
    if status is None:
        return "unknown"
    return "bad"


# ----------------------------------------------------------------------------- inputs
def read_dr_config(data, source: str = "dr_config_report") -> dict:
    """Validate the parsed JSON of the dr_config role's report (contract: ``DR_CONFIG_FORMAT``).

    Returns ``{"source", "generated", "check_mode", "summary", "items"}`` with the summary counted
    from the items when missing.  Raises :class:`ReportInputError` naming ``source``.
    """
    if not isinstance(data, dict):
        raise ReportInputError("%s: not a dr_config report (a JSON object with format %s expected)" % (source, DR_CONFIG_FORMAT))
    if data.get("format") != DR_CONFIG_FORMAT:
        raise ReportInputError("%s: format %r is not one this report reads (expected %s)"
                               % (source, data.get("format"), DR_CONFIG_FORMAT))
    items = data.get("items")
    if not isinstance(items, list):
        raise ReportInputError("%s: 'items' must be a list" % source)
    result = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("status") not in DR_CONFIG_STATUSES:
            raise ReportInputError("%s: item %d has no status of %s" % (source, index, ", ".join(DR_CONFIG_STATUSES)))
        drift = item.get("drift") or []
        if not isinstance(drift, list):
            drift = [drift]
        result.append({"kind": str(item.get("kind") or ""), "name": str(item.get("name") or ""), "status": item["status"],
                       "reason": str(item.get("reason") or ""), "drift": [str(d) for d in drift]})
    summary = {status: sum(1 for i in result if i["status"] == status) for status in DR_CONFIG_STATUSES}
    return {"generated": data.get("generated"), "check_mode": bool(data.get("check_mode")), "summary": summary,
            "items": result}


def _kind_of(result: dict) -> str | None:
    """Which module (or role fact) a registered result comes from."""
    before = result.get("before")
    if isinstance(result.get("activation"), list) or (isinstance(before, dict) and isinstance(before.get("databases"), dict)):
        return "dag_restore"
    if isinstance(before, dict) and "active_databases" in before:
        return "server_maintenance"
    if "database" in result and isinstance(before, dict) and "active_server" in before:
        return "database_switchover"
    if isinstance(result.get("moved"), list) and isinstance(before, dict):
        return "dag_rebalance"
    if isinstance(result.get("databases"), dict) and "action" in result:
        return "datacenter_switchover"
    return None


def _where(value):
    """(server, mounted) from ``EX01`` or ``{server: EX01, mounted: true}``."""
    if isinstance(value, dict):
        return value.get("server") or value.get("active_server"), value.get("mounted")
    return (value if isinstance(value, str) and value else None), None


def switchover_moves(results, option: str = "switchover_results") -> dict:
    """Where each database was before and after, from registered switchover results.

    ``results``: one registered result or a list of them (a looped register's ``results`` are
    unfolded), of ``dag_restore``, ``database_switchover``, ``dag_rebalance``,
    ``server_maintenance`` or the ``datacenter_switchover_result`` fact of the role.  Several
    results are applied in order: a database keeps its first ``before`` and its last ``after``;
    logs lost add up.  Returns ``{"sources": [...], "databases": {name: {...}}, "logs_lost": n}``;
    ``after`` None means the result does not say (the report then uses the current placement).
    """
    if isinstance(results, dict):
        results = results["results"] if isinstance(results.get("results"), list) else [results]
    if not isinstance(results, list):
        raise ReportInputError("%s: expected a registered result (a dictionary) or a list of them" % option)
    sources, moves, total = [], {}, 0

    def note(database, before=None, after=None, lost=None, how=None):
        entry = moves.setdefault(database, {"before": None, "before_mounted": None, "after": None,
                                            "after_mounted": None, "logs_lost": None, "how": None})
        if before is not None and entry["before"] is None:
            entry["before"], entry["before_mounted"] = _where(before)
        if after is not None:
            server, mounted = _where(after)
            if mounted is None and _key(server) == _key(entry["after"]):
                mounted = entry["after_mounted"]  # the same place, told again without the mount state
            entry["after"], entry["after_mounted"] = server, mounted
        if lost is not None:
            entry["logs_lost"] = (entry["logs_lost"] or 0) + int(lost)
        if how:
            entry["how"] = how

    for index, result in enumerate(results):
        if not isinstance(result, dict):
            raise ReportInputError("%s: item %d is not a registered result (a dictionary)" % (option, index))
        if result.get("skipped"):
            continue
        kind = _kind_of(result)
        if kind is None:
            raise ReportInputError(
                "%s: item %d is not the result of exchange.dr.dag_restore, database_switchover, dag_rebalance, "
                "server_maintenance or the datacenter_switchover_result fact (keys: %s)"
                % (option, index, ", ".join(sorted(result)[:12])))
        before, after = result.get("before") or {}, result.get("after") or {}
        lost = None
        if kind == "dag_restore":
            for name, where in (before.get("databases") or {}).items():
                note(name, before=where, after=(after.get("databases") or {}).get(name))
            for item in result.get("activation") or []:
                note(item.get("database"), before=item.get("from"), after=item.get("to"), lost=item.get("logs_lost"),
                     how="%s (%s)" % (item.get("action"), item.get("how")) if item.get("how") else item.get("action"))
            lost = result.get("logs_lost")
        elif kind == "database_switchover":
            note(result["database"], before=before.get("active_server"), after=after.get("active_server"),
                 lost=result.get("logs_lost"), how=result.get("action"))
            lost = result.get("logs_lost")
        elif kind == "dag_rebalance":
            for name, server in before.items():
                note(name, before=server, after=after.get(name))
            moved_lost = 0
            for item in result.get("moved") or []:
                note(item.get("database"), lost=item.get("logs_lost"), how="rebalance")
                moved_lost += int(item.get("logs_lost") or 0)
            lost = moved_lost
        elif kind == "server_maintenance":
            server = before.get("server") or result.get("server")
            left = set(_key(d) for d in after.get("active_databases") or [])
            for name in before.get("active_databases") or []:
                note(name, before=server, after=server if _key(name) in left else None, how="moved off %s" % server)
        else:  # datacenter_switchover_result
            for name, server in (result.get("databases") or {}).items():
                note(name, after=server, how=result.get("action"))
            lost = result.get("logs_lost")
        total += int(lost or 0)
        sources.append({"kind": kind, "changed": bool(result.get("changed")), "logs_lost": int(lost or 0),
                        "label": result.get("action") or result.get("state") or result.get("dag") or kind})
    moves.pop(None, None)
    return {"sources": sources, "databases": moves, "logs_lost": total}


# ----------------------------------------------------------------------------- model
def _maintenance(server: dict, dag: dict | None, components: list) -> list:
    """Why a server counts as in maintenance (empty when it does not)."""
    reasons = []
    if dag and _key(server["name"]) in {_key(s) for s in dag.get("servers_in_maintenance") or []}:
        reasons.append("in ServersInMaintenance")
    for row in components:
        states = MAINTENANCE_COMPONENTS.get(row.get("component"))
        if states and row.get("state") in states:
            reasons.append("%s %s" % (row["component"], row["state"]))
    return reasons


def _copy(row: dict, lag) -> dict:
    copy = {
        "server": row.get("server"), "active": bool(row.get("active")), "status": row.get("status"),
        "activation_preference": row.get("activation_preference"),
        "copy_queue_length": row.get("copy_queue_length"), "replay_queue_length": row.get("replay_queue_length"),
        "replay_lag": _lag_text(lag), "activation_suspended": row.get("activation_suspended"),
        "content_index_state": row.get("content_index_state"), "error_message": row.get("error_message"),
        "suspend_comment": row.get("suspend_comment"), "kind": row.get("kind"),
    }
    copy["state"] = copy_state(copy)
    return copy


def _server_entry(name, site, info, dag, components, pam) -> dict:
    info = info or {}
    policy = info.get("database_copy_auto_activation_policy")
    return {
        "name": name, "site": site, "fqdn": info.get("fqdn"), "version": info.get("product"),
        "pam": _key(pam) == _key(name) and bool(name),
        "operational": None if dag is None or "operational_servers" not in dag
        else _key(name) in {_key(s) for s in dag.get("operational_servers") or []},
        "stopped": bool(dag) and _key(name) in {_key(s) for s in dag.get("stopped_mailbox_servers") or []},
        "activation_policy": policy,
        "activation_blocked": policy in BLOCKED_POLICIES or bool(info.get("database_copy_activation_disabled_and_move_now")),
        "activation_disabled_and_move_now": bool(info.get("database_copy_activation_disabled_and_move_now")),
        "maintenance": _maintenance({"name": name}, dag, components),
        "role": None,
    }


def _sites(servers: list, extra: list) -> list:
    """The sites of a group, in name order, each with its servers in name order; ``extra`` are
    (site, box) pairs of witnesses placed in a site."""
    order = sorted({s["site"] or "" for s in servers} | {site for site, _w in extra if site}, key=lambda s: (s == "", s))
    return [{"name": site or None, "servers": sorted((s["name"] for s in servers if (s["site"] or "") == site), key=_key),
             "witnesses": [w for where, w in extra if where == site]} for site in order]


def _witnesses(dag: dict, host_sites: dict) -> list:
    result = []
    in_use = dag.get("witness_share_in_use")
    for role, server_key, dir_key, use in (("witness", "witness_server", "witness_directory", "Primary"),
                                           ("alternate witness", "alternate_witness_server",
                                            "alternate_witness_directory", "Alternate")):
        server = dag.get(server_key)
        if not server:
            continue
        result.append({"role": role, "server": server, "directory": dag.get(dir_key), "in_use": in_use == use,
                       "site": host_sites.get(_key(_short(server)))})
    return result


def _build_dag(dag: dict, facts: dict, host_sites: dict) -> dict:
    servers_by_name = {_key(s.get("name")): s for s in facts["servers"]}
    components: dict = {}
    for row in facts["components"]:
        components.setdefault(_key(row.get("server")), []).append(row)
    members = list(dag.get("servers") or [])
    members_k = {_key(m) for m in members}
    databases = [d for d in facts["databases"] if _key(d.get("master")) == _key(dag["name"])
                 or (not d.get("master") and {_key(s) for s in d.get("servers") or []} & members_k)]
    names_k = {_key(d["name"]) for d in databases}
    copies: dict = {}
    for row in facts["copies"]:
        if _key(row.get("database")) in names_k:
            copies.setdefault(_key(row["database"]), []).append(row)
    servers = []
    for name in members:
        info = servers_by_name.get(_key(name))
        site = (info or {}).get("site") or host_sites.get(_key(name))
        servers.append(_server_entry(name, site, info, dag, components.get(_key(name), []), dag.get("primary_active_manager")))
    db_rows = []
    for db in sorted(databases, key=lambda d: _key(d["name"])):
        lags = {_key(k): v for k, v in (db.get("replay_lag_times") or {}).items()}
        prefs = db.get("activation_preference") or {}
        rows = copies.get(_key(db["name"]))
        if rows is None:  # no copy status read: the database's own view
            rows = [{"server": s, "active": _key(s) == _key(db.get("server")),
                     "status": ("Mounted" if db.get("mounted") else "Dismounted") if _key(s) == _key(db.get("server")) else None,
                     "activation_preference": prefs.get(s)} for s in db.get("servers") or []]
        built = sorted((_copy(r, lags.get(_key(r.get("server")))) for r in rows),
                       key=lambda c: (c["activation_preference"] is None, c["activation_preference"] or 0, _key(c["server"])))
        active = next((c["server"] for c in built if c["active"]), db.get("server"))
        db_rows.append({"name": db["name"], "active_server": active, "mounted": db.get("mounted"), "copies": built})
    witnesses = _witnesses(dag, host_sites)
    sites_k = {_key(s["site"]) for s in servers}
    placed = [(w["site"], w) for w in witnesses if w["site"] and _key(w["site"]) in sites_k]
    apart = [w for w in witnesses if not (w["site"] and _key(w["site"]) in sites_k)]
    return {
        "name": dag["name"], "kind": "dag", "version": next((s["version"] for s in servers if s["version"]), None),
        "datacenter_activation_mode": dag.get("datacenter_activation_mode"),
        "primary_active_manager": dag.get("primary_active_manager"),
        "witness_share_in_use": dag.get("witness_share_in_use"),
        "operational_servers": dag.get("operational_servers"), "stopped_mailbox_servers": dag.get("stopped_mailbox_servers"),
        "servers_in_maintenance": dag.get("servers_in_maintenance"), "ip_addresses": dag.get("ip_addresses"),
        "witnesses": witnesses, "sites": _sites(servers, placed), "witnesses_apart": apart,
        "servers": servers, "databases": db_rows,
    }


def _build_cms(cms: dict, facts: dict, host_sites: dict) -> dict:
    """An Exchange 2007 clustered mailbox server drawn like a DAG: its CCR nodes (in the CMS's
    site) and its SCR targets, storage groups as the databases."""
    info = next((s for s in facts["servers"] if _key(s.get("name")) == _key(cms["name"])), {})
    cms_site = info.get("site") or host_sites.get(_key(cms["name"]))
    prefix = _key(cms["name"]) + "\\"
    groups: dict = {}
    for row in facts["copies"]:
        if _key(row.get("database")).startswith(prefix):
            groups.setdefault(row["database"], []).append(row)
    for db in facts["databases"]:
        if _key(db.get("storage_group")).startswith(prefix):
            groups.setdefault(db["storage_group"], [])
    nodes = list(cms.get("redundant_machines") or cms.get("operational_machines") or [])
    targets = sorted({r["server"] for rows in groups.values() for r in rows if r.get("kind") == "scr" and r.get("server")},
                     key=_key)
    servers = []
    for name in nodes + [t for t in targets if _key(t) not in {_key(n) for n in nodes}]:
        is_node = _key(name) in {_key(n) for n in nodes}
        site = host_sites.get(_key(name)) or (cms_site if is_node else None)
        entry = _server_entry(name, site, {"product": info.get("product")}, None, [], None)
        entry["role"] = ("active node" if _key(name) == _key(cms.get("active_node")) else "passive node") if is_node \
            else "SCR target"
        entry["operational"] = _key(name) in {_key(m) for m in cms.get("operational_machines") or []} if is_node else None
        servers.append(entry)
    mounted = {_key(db.get("storage_group")): db.get("mounted") for db in facts["databases"]}
    db_names: dict = {}
    for db in facts["databases"]:
        db_names.setdefault(_key(db.get("storage_group")), []).append(db["name"])
    db_rows = []
    for group in sorted(groups, key=_key):
        rows = groups[group]
        active = cms.get("active_node")
        copies = []
        if active:
            copies.append(_copy({"server": active, "active": True,
                                 "status": "Mounted" if mounted.get(_key(group)) else "Dismounted"}, None))
        copies.extend(_copy(r, None) for r in rows)
        label = group.split("\\", 1)[-1]
        contained = db_names.get(_key(group))
        db_rows.append({"name": group, "label": "%s (%s)" % (label, ", ".join(contained)) if contained else label,
                        "active_server": active, "mounted": mounted.get(_key(group)), "copies": copies})
    return {
        "name": cms["name"], "kind": "cms", "version": info.get("product") or "2007", "state": cms.get("state"),
        "active_node": cms.get("active_node"), "quorum_owner": cms.get("quorum_owner"),
        "failed_resources": cms.get("failed_resources"), "witnesses": [], "witnesses_apart": [],
        "sites": _sites(servers, []), "servers": servers, "databases": db_rows,
    }


def _facts(facts) -> dict:
    if not isinstance(facts, dict):
        raise ReportInputError("facts: expected the registered result of exchange.dr.exchange_info (a dictionary), got %s"
                               % type(facts).__name__)
    if "servers" not in facts or not ("dags" in facts or "clustered_mailbox_servers" in facts):
        raise ReportInputError("facts: the exchange_info result has no servers or dags - run exchange.dr.exchange_info "
                               "with gather_subset servers, dags, databases, copies, components (and on Exchange 2007 "
                               "clustered_mailbox_servers)")
    return {kind: _list(facts.get(kind), "facts", kind)
            for kind in ("servers", "dags", "databases", "copies", "components", "clustered_mailbox_servers")}


def _switchover_rows(switchover: dict, groups: list) -> list:
    current = {}
    for group in groups:
        for db in group["databases"]:
            current[_key(db["name"])] = (db["name"], db["active_server"], db["mounted"], group["name"])
    rows = []
    moves = {_key(k): v for k, v in switchover["databases"].items()}
    for key in sorted(set(current) | set(moves)):
        name, now, mounted, group = current.get(key, (None, None, None, None))
        move = moves.get(key)
        if move is None:
            rows.append({"database": name, "dag": group, "before": None, "after": now, "after_mounted": mounted,
                         "moved": False, "logs_lost": None, "how": None, "in_result": False})
            continue
        after = move["after"] or now
        rows.append({"database": name or next(k for k in switchover["databases"] if _key(k) == key), "dag": group,
                     "before": move["before"], "after": after,
                     "after_mounted": move["after_mounted"] if move["after"] else mounted,
                     "moved": bool(move["before"]) and _key(move["before"]) != _key(after),
                     "logs_lost": move["logs_lost"], "how": move["how"], "in_result": True})
    return rows


def build(facts, dags=None, host_sites=None, dr_config=None, switchover=None, title=None, generated=None,
          problems=None) -> dict:
    """The report's data.  ``dags``: names to report (default every DAG, or on Exchange 2007 every
    clustered mailbox server); an unknown name raises :class:`ReportInputError` naming ``dags``.
    ``host_sites``: {host: AD site} for hosts Exchange does not place (witnesses, 2007 nodes)."""
    f = _facts(facts)
    sites = {_key(k): v for k, v in (host_sites or {}).items() if isinstance(v, str) and v}
    available = [d["name"] for d in f["dags"]] + [c["name"] for c in f["clustered_mailbox_servers"]]
    wanted = list(dags or [])
    unknown = [name for name in wanted if _key(name) not in {_key(a) for a in available}]
    if unknown:
        raise ReportInputError("dags: no DAG (or Exchange 2007 clustered mailbox server) named %s in the organization; "
                               "it has %s" % (", ".join(unknown), ", ".join(available) or "none"))
    chosen = {_key(n) for n in wanted} if wanted else {_key(a) for a in available}
    groups = [_build_dag(d, f, sites) for d in f["dags"] if _key(d["name"]) in chosen]
    groups += [_build_cms(c, f, sites) for c in f["clustered_mailbox_servers"] if _key(c["name"]) in chosen]
    copies = [c for g in groups for d in g["databases"] for c in d["copies"]]
    summary = {
        "dags": len(groups), "servers": sum(len(g["servers"]) for g in groups),
        "databases": sum(len(g["databases"]) for g in groups), "copies": len(copies),
        "copies_not_healthy": sum(1 for c in copies if c["state"] in ("bad", "busy")),
        "databases_not_mounted": sum(1 for g in groups for d in g["databases"] if d["mounted"] is False),
        "servers_in_maintenance": sum(1 for g in groups for s in g["servers"] if s["maintenance"]),
        "servers_blocked": sum(1 for g in groups for s in g["servers"] if s["activation_blocked"]),
    }
    data = {"format": FORMAT, "generated": generated, "title": title or "Exchange DR report",
            "summary": summary, "dags": groups, "problems": list(problems or []),
            "dr_config": dr_config, "switchover": None}
    if switchover is not None:
        data["switchover"] = {"sources": switchover["sources"], "logs_lost": switchover["logs_lost"],
                              "databases": _switchover_rows(switchover, groups)}
    return data


# ----------------------------------------------------------------------------- SVG
E = html.escape
SERVER_W = 224
SERVER_MAX_W = 300
GAP = 12
PAD = 12
ROW_H = 16
HEAD_H = 50
BADGE = 12
BADGE_STEP = 15
WITNESS_H = 46
SITE_HEAD = 28
ROWS_LIMIT = 30  # at most this many copies per server: one row each; more: badges
WIDTH_BUDGET = 1300

STATE_TEXT = {"active": "active, mounted", "healthy": "passive, healthy", "lagged": "passive, lagged",
              "busy": "in progress or suspended", "bad": "failed or not mounted", "unknown": "status unknown"}


def _queue_warn(copy: dict) -> bool:
    """A passive copy's queues worth a look: a copy queue at the best-copy limit, or a replay queue
    above the gate's limit on a copy without replay lag (SCR always lags: 50 logs at least)."""
    if (copy["copy_queue_length"] or 0) >= COPY_QUEUE_WARN:
        return True
    return not copy["replay_lag"] and copy["kind"] != "scr" and (copy["replay_queue_length"] or 0) > REPLAY_QUEUE_WARN


def _fit(text, limit: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _copy_title(db: str, copy: dict) -> str:
    parts = ["%s\\%s" % (db, copy["server"]), "active" if copy["active"] else "passive", copy["status"] or "status unknown"]
    if copy["activation_preference"] is not None:
        parts.append("preference %s" % copy["activation_preference"])
    if copy["copy_queue_length"] is not None:
        parts.append("copy queue %s, replay queue %s" % (copy["copy_queue_length"], copy["replay_queue_length"]))
    if copy["replay_lag"]:
        parts.append("replay lag %s" % copy["replay_lag"])
    if copy["activation_suspended"]:
        parts.append("activation suspended")
    if copy["kind"]:
        parts.append(copy["kind"].upper())
    if copy["error_message"]:
        parts.append(copy["error_message"])
    return ", ".join(str(p) for p in parts)


def _server_copies(group: dict) -> dict:
    result: dict = {}
    for db in group["databases"]:
        for copy in db["copies"]:
            result.setdefault(_key(copy["server"]), []).append((db.get("label") or db["name"], db["name"], copy))
    for rows in result.values():
        rows.sort(key=lambda r: (not r[2]["active"], r[2]["activation_preference"] or 99, _key(r[1])))
    return result


def _chips(server: dict) -> list:
    chips = []
    if server["pam"]:
        chips.append(("PAM", "chip-pam", "primary active manager"))
    if server["role"]:
        chips.append((server["role"], "chip-role", server["role"]))
    if server["stopped"]:
        chips.append(("stopped", "chip-bad", "in StoppedMailboxServers"))
    elif server["operational"] is False:
        chips.append(("not operational", "chip-bad", "not in OperationalServers"))
    if server["maintenance"]:
        chips.append(("maintenance", "chip-maint", "; ".join(server["maintenance"])))
    if server["activation_blocked"]:
        label = server["activation_policy"] if server["activation_policy"] in BLOCKED_POLICIES else "move now"
        chips.append(("activation " + label, "chip-block",
                      "DatabaseCopyAutoActivationPolicy %s%s" % (server["activation_policy"],
                                                                 ", DatabaseCopyActivationDisabledAndMoveNow"
                                                                 if server["activation_disabled_and_move_now"] else "")))
    return chips


def _svg_server(out: list, x: float, y: float, h: float, server: dict, rows: list, compact: bool,
                sw: int = SERVER_W) -> None:
    extra = (sw - SERVER_W) // 2
    cls = "srv"
    if server["maintenance"]:
        cls += " srv-maint"
    if server["stopped"] or server["operational"] is False:
        cls += " srv-down"
    out.append('<g class="%s"><title>%s</title>' % (cls, E("%s (%s)" % (server["name"], server["fqdn"] or server["site"] or ""))))
    out.append('<rect class="srv-box" x="%d" y="%d" width="%d" height="%d" rx="6"/>' % (x, y, sw, h))
    out.append('<rect class="srv-head" x="%d" y="%d" width="%d" height="%d" rx="6"/>' % (x, y, sw, 22))
    out.append('<text class="srv-name" x="%d" y="%d">%s</text>' % (x + 8, y + 16, E(server["name"])))
    version = "Exchange %s" % server["version"] if server["version"] else ""
    out.append('<text class="srv-ver" x="%d" y="%d" text-anchor="end">%s</text>' % (x + sw - 8, y + 15, E(version)))
    cx = x + 6
    for label, chip_cls, tip in _chips(server):
        w = 10 + 6.2 * len(label)
        out.append('<g class="chip %s"><title>%s</title><rect x="%d" y="%d" width="%d" height="15" rx="7"/>'
                   '<text x="%d" y="%d">%s</text></g>' % (chip_cls, E(tip), cx, y + 27, w, cx + w / 2, y + 38, E(label)))
        cx += w + 4
    top = y + HEAD_H
    if not rows:
        out.append('<text class="muted" x="%d" y="%d">no database copy</text>' % (x + 8, top + 12))
    for index, (label, name, copy) in enumerate(rows):
        tip = E(_copy_title(name, copy))
        if compact:
            per_row = int((sw - 12) // BADGE_STEP)
            bx = x + 8 + (index % per_row) * BADGE_STEP
            by = top + (index // per_row) * BADGE_STEP
            out.append('<rect class="badge st-%s%s" x="%d" y="%d" width="%d" height="%d" rx="2"><title>%s</title></rect>'
                       % (copy["state"], " blk" if copy["activation_suspended"] else "", bx, by, BADGE, BADGE, tip))
            continue
        ry = top + index * ROW_H
        out.append('<g class="row st-%s"><title>%s</title>' % (copy["state"], tip))
        out.append('<rect class="row-bg" x="%d" y="%d" width="%d" height="%d" rx="3"/>' % (x + 4, ry, sw - 8, ROW_H - 2))
        out.append('<circle class="dot" cx="%d" cy="%d" r="4"/>' % (x + 12, ry + 7))
        out.append('<text class="db" x="%d" y="%d">%s</text>' % (x + 20, ry + 11, E(_fit(label, 14 + extra // 4))))
        role = ("A" if copy["active"] else "P") + ("%s" % copy["activation_preference"] if copy["activation_preference"] is not None else "")
        out.append('<text class="pref" x="%d" y="%d">%s</text>' % (x + 104 + extra, ry + 11, E(role)))
        if copy["copy_queue_length"] is not None and not copy["active"] and copy["state"] in ("healthy", "lagged"):
            warn = _queue_warn(copy)
            out.append('<text class="q%s" x="%d" y="%d">%s/%s</text>'
                       % (" q-warn" if warn else "", x + 126 + extra, ry + 11, copy["copy_queue_length"], copy["replay_queue_length"]))
        else:
            out.append('<text class="q" x="%d" y="%d">%s</text>' % (x + 126 + extra, ry + 11, E(_fit(copy["status"] or "", 12 + extra // 4))))
        tags = []
        if copy["replay_lag"]:
            tags.append(("lag " + copy["replay_lag"], "tag-lag"))
        if copy["activation_suspended"]:
            tags.append(("blk", "tag-blk"))
        if copy["kind"]:
            tags.append((copy["kind"].upper(), "tag-kind"))
        tx = x + sw - 8
        for text, tag_cls in reversed(tags):
            out.append('<text class="tag %s" x="%d" y="%d" text-anchor="end">%s</text>' % (tag_cls, tx, ry + 11, E(text)))
            tx -= 6.2 * len(text) + 4
        out.append("</g>")


def _svg_witness(out: list, x: float, y: float, w: float, witness: dict) -> None:
    cls = "wit wit-use" if witness["in_use"] else "wit"
    tip = "%s %s, share %s%s" % (witness["role"], witness["server"], witness["directory"] or "?",
                                 " (in use)" if witness["in_use"] else "")
    out.append('<g class="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="6"/>'
               % (cls, E(tip), x, y, w, WITNESS_H - 8))
    out.append('<text class="wit-role" x="%d" y="%d">%s%s</text>' % (x + 8, y + 14, E(witness["role"]),
                                                                     " \u2022 in use" if witness["in_use"] else ""))
    out.append('<text class="wit-name" x="%d" y="%d">%s</text></g>' % (x + 8, y + 31, E(_fit(witness["server"], 30))))


def svg_group(group: dict) -> str:
    """The whiteboard picture of one DAG (or 2007 clustered mailbox server) as inline SVG."""
    per_server = _server_copies(group)
    counts = [len(per_server.get(_key(s["name"]), [])) for s in group["servers"]] or [0]
    compact = max(counts) > ROWS_LIMIT
    sites = group["sites"]
    apart = group["witnesses_apart"]
    apart_w = 190 if apart else 0
    budget = WIDTH_BUDGET - apart_w - GAP * max(len(sites), 1)
    cols = max(1, int((budget / max(len(sites), 1) - 2 * PAD + GAP) // (SERVER_W + GAP)))
    # servers as wide as the budget allows (up to SERVER_MAX_W) when there are few of them
    used = [max(1, min(cols, len(site["servers"]))) for site in sites] or [1]
    room = budget - sum(2 * PAD + (c - 1) * GAP for c in used)
    sw = int(max(SERVER_W, min(SERVER_MAX_W, room / sum(used))))
    if compact:
        per_row = int((sw - 12) // BADGE_STEP)
        body = math.ceil(max(counts) / per_row) * BADGE_STEP
    else:
        body = max(*counts, 1) * ROW_H
    server_h = HEAD_H + body + 8
    by_name = {_key(s["name"]): s for s in group["servers"]}
    layout, x, height = [], 0, 0
    for site in sites:
        n = len(site["servers"])
        c = max(1, min(cols, n))
        r = math.ceil(n / c) if n else 0
        w = 2 * PAD + c * sw + (c - 1) * GAP
        h = SITE_HEAD + PAD + r * (server_h + GAP) + len(site["witnesses"]) * WITNESS_H + PAD
        layout.append((site, x, w, h, c))
        x += w + GAP
        height = max(height, h)
    if apart:
        height = max(height, SITE_HEAD + PAD + len(apart) * WITNESS_H + PAD)
    width = x + apart_w
    out = ['<svg class="dag-svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">'
           % (width, height, width, height, E("%s: sites, servers and database copies" % group["name"]))]
    for site, sx, w, h, c in layout:
        out.append('<g class="site"><rect class="site-box" x="%d" y="0" width="%d" height="%d" rx="10"/>' % (sx, w, height))
        label = "AD site %s" % site["name"] if site["name"] else "site unknown"
        out.append('<text class="site-name" x="%d" y="19">%s</text>' % (sx + PAD, E(label)))
        out.append('<text class="site-count" x="%d" y="19" text-anchor="end">%d server%s</text>'
                   % (sx + w - PAD, len(site["servers"]), "" if len(site["servers"]) == 1 else "s"))
        for index, name in enumerate(site["servers"]):
            server = by_name[_key(name)]
            px = sx + PAD + (index % c) * (sw + GAP)
            py = SITE_HEAD + PAD + (index // c) * (server_h + GAP)
            _svg_server(out, px, py, server_h, server, per_server.get(_key(name), []), compact, sw)
        wy = SITE_HEAD + PAD + math.ceil(len(site["servers"]) / c) * (server_h + GAP) if site["servers"] else SITE_HEAD + PAD
        for witness in site["witnesses"]:
            _svg_witness(out, sx + PAD, wy, min(w - 2 * PAD, 2 * sw), witness)
            wy += WITNESS_H
        out.append("</g>")
    if apart:
        ax = x
        out.append('<g class="site site-apart"><rect class="site-box" x="%d" y="0" width="%d" height="%d" rx="10"/>'
                   % (ax, apart_w, height))
        out.append('<text class="site-name" x="%d" y="19">witness site</text>' % (ax + PAD))
        wy = SITE_HEAD + PAD
        for witness in apart:
            _svg_witness(out, ax + PAD, wy, apart_w - 2 * PAD, witness)
            wy += WITNESS_H
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


# ----------------------------------------------------------------------------- HTML
CSS = """
:root{--ink:#1d2733;--muted:#5f6b78;--line:#c9d2dc;--site:#f3f6f9;--ok:#1e8e3e;--okbg:#e3f4e8;--lag:#2f6fb3;
--lagbg:#e6eff9;--warn:#b86e00;--warnbg:#fff1d6;--bad:#c5221f;--badbg:#fde7e6;--maint:#e08a00}
*{box-sizing:border-box}
body{margin:0;padding:16px 20px;font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;
color:var(--ink);background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 6px;border-bottom:2px solid var(--line);padding-bottom:3px}
h3{font-size:14px;margin:14px 0 6px}
.meta{color:var(--muted);margin:0 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0 4px}
.card{border:1px solid var(--line);border-radius:6px;padding:3px 9px;min-width:70px;background:#fafbfc;font-size:12px}
.card b{display:block;font-size:17px}.card.bad{border-color:var(--bad);background:var(--badbg)}
.card.warn{border-color:var(--maint);background:var(--warnbg)}
.facts{display:flex;flex-wrap:wrap;gap:4px 18px;margin:4px 0 8px;padding:0;list-style:none}
.facts li span{color:var(--muted)}
figure{margin:6px 0;overflow-x:auto}
.dag-svg{max-width:100%;height:auto;font-family:inherit}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;color:var(--muted);font-size:12px;margin:4px 0 10px}
.legend i{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:4px;vertical-align:-1px;border:1.5px solid}
.sw-active{background:var(--ok);border-color:var(--ok)}.sw-healthy{background:#fff;border-color:var(--ok)}
.sw-lagged{background:var(--lagbg);border-color:var(--lag)}.sw-busy{background:var(--warn);border-color:var(--warn)}
.sw-bad{background:var(--bad);border-color:var(--bad)}
table{border-collapse:collapse;width:100%;font-size:12px;margin:4px 0 12px}
th,td{border-bottom:1px solid #e3e8ee;padding:3px 6px;text-align:left;vertical-align:top}
th{background:var(--site);position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.c{display:inline-block;border:1px solid;border-radius:3px;padding:0 4px;margin:1px 2px 1px 0;white-space:nowrap}
.s-active{color:var(--ok);background:var(--okbg);border-color:var(--ok);font-weight:600}
.s-healthy{color:#24513a;background:#fff;border-color:#8cc9a0}.s-lagged{color:var(--lag);background:var(--lagbg);border-color:var(--lag)}
.s-busy{color:var(--warn);background:var(--warnbg);border-color:var(--warn)}
.s-bad{color:var(--bad);background:var(--badbg);border-color:var(--bad);font-weight:600}.s-unknown{color:var(--muted);border-color:var(--line)}
.st{display:inline-block;border-radius:9px;padding:0 8px;font-weight:600;font-size:11px;border:1px solid}
.st-ok{color:var(--ok);background:var(--okbg)}.st-fixed{color:var(--lag);background:var(--lagbg)}
.st-drift{color:var(--warn);background:var(--warnbg)}.st-failed{color:var(--bad);background:var(--badbg)}
.moved{font-weight:600}.lost{color:var(--bad);font-weight:600}.muted{color:var(--muted)}
ul.drift{margin:2px 0 0 16px;padding:0}
.problems{border:1px solid var(--maint);background:var(--warnbg);padding:6px 10px;border-radius:6px}
/* SVG */
.site-box{fill:var(--site);stroke:var(--line);stroke-width:1.5}
.site-apart .site-box{fill:#fbfbf7;stroke-dasharray:6 4}
.site-name{font-size:14px;font-weight:700;fill:var(--ink)}.site-count{font-size:11px;fill:var(--muted)}
.srv-box{fill:#fff;stroke:#8795a4;stroke-width:1.2}.srv-head{fill:#e7edf3}
.srv-maint .srv-box{stroke:var(--maint);stroke-width:2.5;stroke-dasharray:7 4}.srv-maint .srv-head{fill:var(--warnbg)}
.srv-down .srv-box{fill:#f1f1f1;stroke:#9aa}.srv-down .srv-head{fill:#dedede}
.srv-name{font-size:14px;font-weight:700;fill:var(--ink)}.srv-ver{font-size:11px;fill:var(--muted)}
.chip rect{stroke-width:1}.chip text{font-size:10px;text-anchor:middle;font-weight:600}
.chip-pam rect{fill:#ede7f6;stroke:#6a4fb3}.chip-pam text{fill:#4b2f99}
.chip-role rect{fill:#eef2f6;stroke:#8795a4}.chip-role text{fill:#3b4a59}
.chip-bad rect{fill:var(--badbg);stroke:var(--bad)}.chip-bad text{fill:var(--bad)}
.chip-maint rect{fill:var(--warnbg);stroke:var(--maint)}.chip-maint text{fill:#8a4f00}
.chip-block rect{fill:#fdecea;stroke:#b3261e}.chip-block text{fill:#8c1d18}
.row-bg{fill:transparent}.row text{font-size:11.5px;fill:var(--ink)}
.row .db{font-weight:600}.row .pref{fill:var(--muted)}.row .q{fill:var(--muted);font-variant-numeric:tabular-nums}
.row .q-warn{fill:var(--bad);font-weight:700}
.dot{stroke-width:1.5}
.st-active .row-bg{fill:var(--okbg)}.st-active .dot{fill:var(--ok);stroke:var(--ok)}
.st-healthy .dot{fill:#fff;stroke:var(--ok)}
.st-lagged .row-bg{fill:var(--lagbg)}.st-lagged .dot{fill:#fff;stroke:var(--lag)}
.st-busy .row-bg{fill:var(--warnbg)}.st-busy .dot{fill:var(--warn);stroke:var(--warn)}
.st-bad .row-bg{fill:var(--badbg)}.st-bad .dot{fill:var(--bad);stroke:var(--bad)}
.st-unknown .dot{fill:#ddd;stroke:#999}
.tag{font-size:10px;font-weight:700}.tag-lag{fill:var(--lag)}.tag-blk{fill:var(--bad)}.tag-kind{fill:#6a4fb3}
.badge{stroke-width:1}.badge.st-active{fill:var(--ok);stroke:var(--ok)}.badge.st-healthy{fill:var(--okbg);stroke:#8cc9a0}
.badge.st-lagged{fill:var(--lagbg);stroke:var(--lag)}.badge.st-busy{fill:var(--warnbg);stroke:var(--warn)}
.badge.st-bad{fill:var(--bad);stroke:var(--bad)}.badge.st-unknown{fill:#eee;stroke:#999}.badge.blk{stroke:#000;stroke-width:2}
.wit rect{fill:#fff;stroke:#8795a4;stroke-dasharray:4 3}.wit-use rect{stroke:#6a4fb3;stroke-width:2;stroke-dasharray:none}
.wit-role{font-size:10.5px;fill:var(--muted);text-transform:uppercase;letter-spacing:.04em}.wit-name{font-size:13px;font-weight:600;fill:var(--ink)}
svg .muted{font-size:11px;fill:var(--muted)}
@media print{
 @page{size:A4 landscape;margin:10mm}
 body{padding:0;font-size:10pt}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 figure{overflow:visible}.dag-svg{width:100%}
 section.dag{break-before:page}section.dag:first-of-type{break-before:auto}
 figure,.legend,tr{break-inside:avoid}th{position:static}
}
"""

LEGEND = (("active", "active copy, mounted"), ("healthy", "passive copy, healthy"), ("lagged", "lagged copy"),
          ("busy", "initializing / resynchronizing / suspended"), ("bad", "failed, service down or dismounted"))


def _legend(compact: bool) -> str:
    items = "".join('<span><i class="sw sw-%s"></i>%s</span>' % (state, E(text)) for state, text in LEGEND)
    rows = "" if compact else ("<span>A1 / P2: active or passive, activation preference</span>"
                               "<span>0/12: copy queue / replay queue</span><span>blk: activation suspended</span>")
    return '<div class="legend">%s%s</div>' % (items, rows)


def _copy_chip(copy: dict) -> str:
    text = "%s%s" % (copy["server"], " #%s" % copy["activation_preference"] if copy["activation_preference"] is not None else "")
    extra = []
    if not copy["active"] and copy["copy_queue_length"] is not None:
        extra.append("%s/%s" % (copy["copy_queue_length"], copy["replay_queue_length"]))
    if copy["replay_lag"]:
        extra.append("lag " + copy["replay_lag"])
    if copy["activation_suspended"]:
        extra.append("blk")
    if copy["kind"]:
        extra.append(copy["kind"].upper())
    status = copy["status"] or "?"
    tail = (" " + E(" ".join(extra))) if extra else ""
    return '<span class="c s-%s">%s %s%s</span>' % (copy["state"], E(text), E(status), tail)


def _facts_list(group: dict) -> str:
    items = []

    def add(label, value):
        if value not in (None, "", []):
            items.append("<li><span>%s</span> %s</li>" % (E(label), E(", ".join(value) if isinstance(value, list) else str(value))))

    if group["kind"] == "dag":
        add("Exchange", group["version"])
        add("DAC mode", group["datacenter_activation_mode"])
        add("PAM", group["primary_active_manager"])
        add("witness in use", group["witness_share_in_use"])
        add("operational", group["operational_servers"])
        add("stopped", group["stopped_mailbox_servers"] or "none")
        add("in maintenance", group["servers_in_maintenance"] or "none")
        add("IP", group["ip_addresses"])
    else:
        add("Exchange", group["version"])
        add("clustered mailbox server state", group["state"])
        add("active node", group["active_node"])
        add("quorum owner", group["quorum_owner"])
        add("failed resources", group["failed_resources"] or "none")
    return '<ul class="facts">%s</ul>' % "".join(items)


def _group_section(group: dict) -> str:
    anchor = "dag-" + "".join(ch if ch.isalnum() else "-" for ch in group["name"])
    kind = "DAG" if group["kind"] == "dag" else "Clustered mailbox server (Exchange 2007 CCR/SCR)"
    counts = [len(d["copies"]) for d in group["databases"]]
    per_server = _server_copies(group)
    compact = max([len(v) for v in per_server.values()] or [0]) > ROWS_LIMIT
    out = ['<section class="dag" id="%s"><h2>%s %s</h2>' % (anchor, E(kind), E(group["name"])), _facts_list(group)]
    out.append("<figure>%s</figure>" % svg_group(group))
    out.append(_legend(compact))
    servers_tbl = ['<h3>Servers</h3><table><thead><tr><th>server</th><th>site</th><th>version</th><th>state</th>'
                   '<th>activation policy</th><th>maintenance</th><th>active / copies</th></tr></thead><tbody>']
    for s in group["servers"]:
        rows = per_server.get(_key(s["name"]), [])
        state = ["stopped" if s["stopped"] else ("not operational" if s["operational"] is False else
                                                 ("operational" if s["operational"] else None))]
        state += ["PAM" if s["pam"] else None, s["role"]]
        state = ", ".join(part for part in state if part) or "-"
        policy = s["activation_policy"] or "-"
        if s["activation_disabled_and_move_now"]:
            policy += ", activation disabled and move now"
        servers_tbl.append("<tr><td><b>%s</b></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                           '<td class="num">%d / %d</td></tr>'
                           % (E(s["name"]), E(s["site"] or "?"), E(s["version"] or "-"), E(state), E(policy),
                              E("; ".join(s["maintenance"]) or "no"), sum(1 for r in rows if r[2]["active"]), len(rows)))
    servers_tbl.append("</tbody></table>")
    out.extend(servers_tbl)
    out.append('<h3>Databases (%d, %d copies)</h3><table><thead><tr><th>database</th><th>active on</th><th>mounted</th>'
               "<th>copies by activation preference: server, status, copy/replay queue, lag, blocks</th></tr></thead><tbody>"
               % (len(group["databases"]), sum(counts)))
    for db in group["databases"]:
        mounted = {True: "yes", False: "NO", None: "-"}[db["mounted"]]
        out.append('<tr><td><b>%s</b></td><td>%s</td><td class="%s">%s</td><td>%s</td></tr>'
                   % (E(db.get("label") or db["name"]), E(db["active_server"] or "-"), "lost" if db["mounted"] is False else "",
                      mounted, "".join(_copy_chip(c) for c in db["copies"])))
    out.append("</tbody></table></section>")
    return "".join(out)


def _dr_config_section(dr: dict) -> str:
    s = dr["summary"]
    out = ['<section id="dr-config"><h2>DR configuration (dr_config)</h2>',
           '<p class="meta">%s, %s. ok %d, drift %d, fixed %d, failed %d.</p>'
           % ("check mode: a drift report" if dr["check_mode"] else "enforcing run", E("generated %s" % (dr["generated"] or "?")),
              s["ok"], s["drift"], s["fixed"], s["failed"])]
    out.append("<table><thead><tr><th>status</th><th>kind</th><th>item</th><th>reason</th></tr></thead><tbody>")
    order = {"failed": 0, "drift": 1, "fixed": 2, "ok": 3}
    for item in sorted(dr["items"], key=lambda i: (order[i["status"]], i["kind"], i["name"])):
        drift = "".join("<li>%s</li>" % E(d) for d in item["drift"])
        out.append('<tr><td><span class="st st-%s">%s</span></td><td>%s</td><td>%s</td><td>%s%s</td></tr>'
                   % (item["status"], item["status"], E(item["kind"]), E(item["name"]), E(item["reason"]),
                      '<ul class="drift">%s</ul>' % drift if drift else ""))
    if not dr["items"]:
        out.append('<tr><td colspan="4" class="muted">no item</td></tr>')
    out.append("</tbody></table></section>")
    return "".join(out)


def _switchover_section(sw: dict) -> str:
    sources = ", ".join("%s (%s%s)" % (s["kind"], s["label"], ", changed" if s["changed"] else "") for s in sw["sources"])
    moved = sum(1 for r in sw["databases"] if r["moved"])
    out = ['<section id="switchover"><h2>Switchover: where every database was, and is</h2>',
           '<p class="meta">From %s. %d database%s moved; logs lost: <span class="%s">%d</span>.</p>'
           % (E(sources or "no result"), moved, "" if moved == 1 else "s", "lost" if sw["logs_lost"] else "", sw["logs_lost"])]
    out.append("<table><thead><tr><th>database</th><th>DAG</th><th>before</th><th>after</th><th>mounted after</th>"
               '<th>how</th><th class="num">logs lost</th></tr></thead><tbody>')
    for r in sw["databases"]:
        before = r["before"] or ("-" if r["in_result"] else "(not in the result)")
        mounted = {True: "yes", False: "NO", None: "-"}[r["after_mounted"]]
        out.append('<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s%s</td><td>%s</td><td>%s</td>'
                   '<td class="num%s">%s</td></tr>'
                   % ("moved" if r["moved"] else "", E(r["database"] or "?"), E(r["dag"] or "-"), E(before),
                      E(r["after"] or "-"), " \u2190 moved" if r["moved"] else "", mounted, E(r["how"] or "-"),
                      " lost" if r["logs_lost"] else "", "-" if r["logs_lost"] is None else r["logs_lost"]))
    out.append("</tbody></table></section>")
    return "".join(out)


def render_html(data: dict) -> str:
    """The self-contained page of the report's data (no script, no external resource)."""
    s = data["summary"]
    kinds = {g["kind"] for g in data["dags"]}
    groups_label = "clustered mailbox server" if kinds == {"cms"} else ("DAG" if kinds <= {"dag"} else "DAG / CMS")
    if s["dags"] != 1:
        groups_label += "s"
    cards = [(groups_label, s["dags"], ""), ("servers", s["servers"], ""), ("databases", s["databases"], ""),
             ("copies", s["copies"], ""),
             ("copies not healthy", s["copies_not_healthy"], "bad" if s["copies_not_healthy"] else ""),
             ("databases not mounted", s["databases_not_mounted"], "bad" if s["databases_not_mounted"] else ""),
             ("servers in maintenance", s["servers_in_maintenance"], "warn" if s["servers_in_maintenance"] else ""),
             ("servers blocked from activation", s["servers_blocked"], "warn" if s["servers_blocked"] else "")]
    dr = data.get("dr_config")
    if dr:
        cards.append(("DR config drift", dr["summary"]["drift"] + dr["summary"]["failed"],
                      "bad" if dr["summary"]["drift"] + dr["summary"]["failed"] else ""))
    sw = data.get("switchover")
    if sw:
        cards.append(("logs lost", sw["logs_lost"], "bad" if sw["logs_lost"] else ""))
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>%s</title><style>%s</style></head><body>" % (E(data["title"]), CSS),
           "<header><h1>%s</h1>" % E(data["title"]),
           '<p class="meta">Generated %s by exchange.dr.dr_report from exchange.dr.exchange_info.</p>' % E(data["generated"] or "?"),
           '<div class="cards">%s</div>' % "".join('<div class="card %s"><b>%s</b>%s</div>' % (cls, value, E(label))
                                                   for label, value, cls in cards)]
    nav = ['<a href="#%s">%s</a>' % ("dag-" + "".join(ch if ch.isalnum() else "-" for ch in g["name"]), E(g["name"]))
           for g in data["dags"]]
    if dr:
        nav.append('<a href="#dr-config">DR configuration</a>')
    if sw:
        nav.append('<a href="#switchover">switchover</a>')
    out.append('<p class="meta">%s</p></header>' % " \u00b7 ".join(nav))
    if data["problems"]:
        out.append('<div class="problems"><b>Warnings while reading</b><ul>%s</ul></div>'
                   % "".join("<li>%s</li>" % E(p) for p in data["problems"]))
    for group in data["dags"]:
        out.append(_group_section(group))
    if not data["dags"]:
        out.append('<p class="muted">No DAG (or Exchange 2007 clustered mailbox server) in the organization.</p>')
    if dr:
        out.append(_dr_config_section(dr))
    if sw:
        out.append(_switchover_section(sw))
    out.append("</body></html>\n")
    return "".join(out)
