"""Exchange 2007 SP1 on Windows Server 2008: CCR clustered mailbox servers, SCR standby
clusters, the offline address book and the Client Access servers' file distribution.

Specification: shared/reference/seeds-synopsis.md (seed 000: the four questions of the May
2009 "Exchange Queue & A"), runbooks.md §7-§13 and object-properties.md (2007 notes).
Every choice no document fixes is listed in lab/README-model.md, section "Exchange 2007
SP1: CCR, SCR, OAB".

What is modelled:

* **Failover clusters** (Windows Server 2008) of Exchange 2007 Mailbox nodes, each with a
  cluster name object (CNO, an AD computer account).  A *standby* cluster has only the
  passive clustered mailbox role installed (seed 000 Q1).  A cluster is reachable while one
  of its nodes is (the file share witness is not modelled).
* **Clustered mailbox servers** (CMS) of CCR: a network name with an IP address, an AD
  computer account (the VCO) whose ACL says which CNOs have Full Control, the active node,
  the redundant machines, the storage groups (``CMS\\SG``) with their databases
  (``CMS\\SG\\DB``), the CCR copy on the passive node and SCR copies on standby machines
  (ReplayLagTime / TruncationLagTime), and continuous replication host names (CCR only).
* **Recovery**: Restore-StorageGroupCopy on an SCR target makes its copy mountable;
  ``Setup.com /RecoverCMS`` on a standby node moves the CMS to that cluster with a new IP
  address, provided the standby cluster's CNO has Full Control on the CMS computer object
  (seed 000 Q1; runbooks §8, §10.1); the CMS's DNS A record then carries the new address.
* **OAB**: generation on the CMS's active node publishes to the ``ExchangeOAB`` share:
  scoped to the node name below Update Rollup 5, to the CMS network name from RU5 on
  (runbooks §11); the File Distribution service (MSExchangeFDS) of a Client Access server
  copies from ``\\\\<CMSName>\\ExchangeOAB`` and logs event 1021 when it can't.
* **Event logs** (Application, System) of the Exchange 2007 hosts, read by Get-EventLog.

Nothing here sleeps; callers hold ``lab.lock``.
"""

from __future__ import annotations

import copy as _copy
import datetime
import ipaddress
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .objects_state import lab_guid

if TYPE_CHECKING:  # pragma: no cover
    from .state import LabState
    from .windows import ADObject, Share

# ------------------------------------------------------------------ constants
SNAPIN = "Microsoft.Exchange.Management.PowerShell.Admin"
OAB_FIX_ROLLUP = 5  # seed 000 Q4 / runbooks §11: "Update Rollup 5 or later"
OAB_SHARE = "ExchangeOAB"
INSTALL_PATH = "C:\\Program Files\\Microsoft\\Exchange Server"
OAB_PATH = f"{INSTALL_PATH}\\ExchangeOAB"
DEFAULT_HOST_RECORD_TTL = 1200  # runbooks §13: a network name's HostRecordTTL default
MAX_LAG_S = 7 * 86400  # SCR ReplayLagTime / TruncationLagTime maximum (choice, README)
SCR_REPLAY_DELAY_LOGS = 50  # SCR holds back 50 logs from replay (exchangepedia, README)
LOGS_PER_HOUR = 12  # the lab's log rate (the 2013+ model's choice for lagged copies)
REPLAY_LOGS_PER_S = 2.0  # runbooks §6.3 "at least 2 logs/s"

# Durations in modelled seconds (choices, README-model.md).
CMS_MOVE_S = 60.0
CMS_STOP_S = 15.0
CMS_START_S = 30.0
RECOVER_CMS_S = 120.0
RESTORE_SG_COPY_S = 5.0
SEED_SG_S = 60.0
REPLICATION_HOST_NAME_S = 10.0
OAB_GENERATION_S = 30.0
FDS_SYNC_S = 5.0
ROLLUP_INSTALL_S = 120.0
INITIALIZING_S = 15.0  # runbooks §1.1 (SP1 adds the Initializing status)

COPY_STATUSES = ("Healthy", "Initializing", "Seeding", "Suspended", "Failed", "Stopped", "Disabled", "ServiceDown")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
_TIMESPAN_RE = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")

# Exchange 2007 services of the modelled roles: (name, display name, roles, depends on).
# Names and display names from "Overview of Exchange services" for 2007 as best known; only
# MSExchangeFDS has consequences in the lab (README-model.md).
_ADT = "MSExchangeADTopology"
EXCHANGE_2007_SERVICES: list[tuple[str, str, tuple[str, ...], list[str]]] = [
    (_ADT, "Microsoft Exchange Active Directory Topology Service", ("Mailbox", "ClientAccess", "HubTransport"), []),
    ("MSExchangeServiceHost", "Microsoft Exchange Service Host", ("Mailbox", "ClientAccess", "HubTransport"), [_ADT]),
    ("MSExchangeIS", "Microsoft Exchange Information Store", ("Mailbox",), [_ADT, "RpcSs", "LanmanServer"]),
    ("MSExchangeRepl", "Microsoft Exchange Replication Service", ("Mailbox",), [_ADT]),
    ("MSExchangeSA", "Microsoft Exchange System Attendant", ("Mailbox",), [_ADT, "RpcSs", "LanmanWorkstation"]),
    ("MSExchangeFDS", "Microsoft Exchange File Distribution", ("ClientAccess",), [_ADT, "LanmanWorkstation"]),
    ("W3SVC", "World Wide Web Publishing Service", ("ClientAccess",), []),
    ("MSExchangeTransport", "Microsoft Exchange Transport", ("HubTransport",), [_ADT]),
]
FDS = "MSExchangeFDS"


# ====================================================================== spec
def _timespan(text: str) -> float:
    m = _TIMESPAN_RE.match(str(text).strip())
    if not m:
        raise ValueError(f"'{text}' is not a time span like 1.00:00:00 or 00:30:00")
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"'{text}' is not a valid time span")
    return d * 86400 + h * 3600 + mi * 60 + s


_SCHEMA: dict[str, dict[str, tuple[bool, Any]]] = {
    "block": {
        "clusters": (True, list),
        "clustered_mailbox_servers": (False, list),
        "offline_address_books": (False, list),
        "rollup": (False, int),
        "rollups": (False, dict),
        "rollup_packages": (False, list),
    },
    "cluster": {"name": (True, str), "nodes": (True, list), "ip": (True, str), "standby": (False, bool)},
    "cms": {
        "name": (True, str),
        "cluster": (True, str),
        "ip": (True, str),
        "active_node": (False, str),
        "full_control": (False, list),
        "host_record_ttl": (False, int),
        "replication_host_names": (False, list),
        "storage_groups": (True, list),
    },
    "crhn": {"name": (True, str), "node": (True, str), "ip": (True, str)},
    "sg": {"name": (True, str), "databases": (True, list), "scr": (False, list)},
    "db": {"name": (True, str), "mailboxes": (False, list)},
    "scr": {"machine": (True, str), "replay_lag": (False, str), "truncation_lag": (False, str)},
    "oab": {"name": (True, str), "server": (True, str), "virtual_directories": (False, list)},
    "package": {"path": (True, str), "rollup": (True, int)},
}


def _check(ctx: Any, value: Any, kind: str, where: str) -> dict:
    if not isinstance(value, dict):
        ctx.fail(where, "must be a mapping")
    schema = _SCHEMA[kind]
    for key in value:
        if key not in schema:
            ctx.fail(where, f"unknown key '{key}' (allowed: {', '.join(schema)})")
    for key, (required, typ) in schema.items():
        if value.get(key) is None:
            if required:
                ctx.fail(where, f"missing field '{key}'")
            continue
        v = value[key]
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            ctx.fail(f"{where}.{key}", f"must be {'a list' if typ is list else 'a mapping' if typ is dict else typ.__name__}")
    return value


def _ip(ctx: Any, value: str, where: str) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        ctx.fail(where, f"invalid IPv4 address '{value}'")
    return value  # unreachable


def validate_spec(block: Any, ctx: Any, hosts: list[dict]) -> dict:
    """Validate the topology's ``exchange2007:`` block (schema in README-model.md) and
    return it normalised.  ``ctx.fail`` raises TopologyError."""
    _check(ctx, block, "block", "exchange2007")
    by_name = {h["name"].lower(): h for h in hosts}
    taken = set(by_name)

    def host2007(name: Any, where: str, role: str | None = None) -> dict:
        h = by_name.get(str(name).lower())
        if h is None:
            ctx.fail(where, f"unknown host '{name}'")
        if h["kind"] != "exchange" or h["version"] != "2007":
            ctx.fail(where, f"'{h['name']}' is not an Exchange 2007 server")
        if role and role not in h["roles"]:
            ctx.fail(where, f"'{h['name']}' does not have the {role} role")
        return h

    def new_name(name: str, where: str) -> None:
        if not _NAME_RE.match(name):
            ctx.fail(where, f"invalid name '{name}' (1-15 letters, digits or '-')")
        if name.lower() in taken:
            ctx.fail(where, f"duplicate name '{name}'")
        taken.add(name.lower())

    clusters: list[dict] = []
    cluster_of: dict[str, str] = {}
    for i, c in enumerate(block["clusters"]):
        where = f"exchange2007.clusters[{i}]"
        _check(ctx, c, "cluster", where)
        new_name(c["name"], where)
        nodes = []
        for j, n in enumerate(c["nodes"]):
            h = host2007(n, f"{where}.nodes[{j}]", "Mailbox")
            if h["name"].lower() in cluster_of:
                ctx.fail(f"{where}.nodes[{j}]", f"'{h['name']}' is already a node of {cluster_of[h['name'].lower()]}")
            cluster_of[h["name"].lower()] = c["name"]
            nodes.append(h["name"])
        if not 1 <= len(nodes) <= 2:
            ctx.fail(f"{where}.nodes", "a cluster of Exchange 2007 mailbox nodes has one or two nodes")
        sites = {by_name[n.lower()]["site"] for n in nodes}
        if len(sites) != 1:
            ctx.fail(f"{where}.nodes", "the nodes must be in one site")
        clusters.append({"name": c["name"], "nodes": nodes, "ip": _ip(ctx, c["ip"], f"{where}.ip"),
                         "standby": bool(c.get("standby", False)), "site": sites.pop()})
    cl_by = {c["name"].lower(): c for c in clusters}

    cmss: list[dict] = []
    aliases: set[str] = set()
    for i, m in enumerate(block.get("clustered_mailbox_servers") or []):
        where = f"exchange2007.clustered_mailbox_servers[{i}]"
        _check(ctx, m, "cms", where)
        new_name(m["name"], where)
        cl = cl_by.get(m["cluster"].lower())
        if cl is None:
            ctx.fail(f"{where}.cluster", f"unknown cluster '{m['cluster']}'")
        if cl["standby"]:
            ctx.fail(f"{where}.cluster", f"'{cl['name']}' is a standby cluster (passive clustered mailbox role only)")
        if len(cl["nodes"]) != 2:
            ctx.fail(f"{where}.cluster", "a CCR clustered mailbox server needs a two-node cluster")
        if any(x["cluster"].lower() == cl["name"].lower() for x in cmss):
            ctx.fail(f"{where}.cluster", f"cluster '{cl['name']}' already hosts a clustered mailbox server")
        active = m.get("active_node") or cl["nodes"][0]
        if active.lower() not in [n.lower() for n in cl["nodes"]]:
            ctx.fail(f"{where}.active_node", f"'{active}' is not a node of {cl['name']}")
        active = next(n for n in cl["nodes"] if n.lower() == active.lower())
        full = []
        for j, f in enumerate(m.get("full_control") or [cl["name"]]):
            fc = cl_by.get(str(f).lower())
            if fc is None:
                ctx.fail(f"{where}.full_control[{j}]", f"unknown cluster '{f}'")
            full.append(fc["name"])
        crhns = []
        for j, r in enumerate(m.get("replication_host_names") or []):
            rwhere = f"{where}.replication_host_names[{j}]"
            _check(ctx, r, "crhn", rwhere)
            new_name(r["name"], rwhere)
            node = host2007(r["node"], f"{rwhere}.node")
            if node["name"] not in cl["nodes"]:
                ctx.fail(f"{rwhere}.node", f"'{node['name']}' is not a node of {cl['name']}")
            crhns.append({"name": r["name"], "node": node["name"], "ip": _ip(ctx, r["ip"], f"{rwhere}.ip")})
        sgs = []
        for j, sg in enumerate(m["storage_groups"]):
            swhere = f"{where}.storage_groups[{j}]"
            _check(ctx, sg, "sg", swhere)
            if any(x["name"].lower() == sg["name"].lower() for x in sgs):
                ctx.fail(swhere, f"duplicate storage group '{sg['name']}'")
            dbs = []
            for k, db in enumerate(sg["databases"]):
                dwhere = f"{swhere}.databases[{k}]"
                _check(ctx, db, "db", dwhere)
                if any(x["name"].lower() == db["name"].lower() for x in dbs):
                    ctx.fail(dwhere, f"duplicate database '{db['name']}'")
                mbx = []
                for a in db.get("mailboxes") or []:
                    if str(a).lower() in aliases:
                        ctx.fail(dwhere, f"duplicate mailbox alias '{a}'")
                    aliases.add(str(a).lower())
                    mbx.append(str(a))
                dbs.append({"name": db["name"], "mailboxes": mbx})
            if not dbs:
                ctx.fail(f"{swhere}.databases", "a storage group needs a database")
            scrs = []
            for k, s in enumerate(sg.get("scr") or []):
                cwhere = f"{swhere}.scr[{k}]"
                _check(ctx, s, "scr", cwhere)
                target = host2007(s["machine"], f"{cwhere}.machine", "Mailbox")
                if target["name"] in cl["nodes"]:
                    ctx.fail(f"{cwhere}.machine", f"'{target['name']}' is a node of the source cluster (SCR targets are elsewhere)")
                if any(x["machine"] == target["name"] for x in scrs):
                    ctx.fail(f"{cwhere}.machine", f"second SCR copy on '{target['name']}'")
                lags = {}
                for key in ("replay_lag", "truncation_lag"):
                    try:
                        lags[key] = _timespan(s[key]) if s.get(key) else (86400.0 if key == "replay_lag" else 0.0)
                    except ValueError as exc:
                        ctx.fail(f"{cwhere}.{key}", str(exc))
                    if lags[key] > MAX_LAG_S:
                        ctx.fail(f"{cwhere}.{key}", "the maximum is 7.00:00:00")
                scrs.append({"machine": target["name"], **lags})
            sgs.append({"name": sg["name"], "databases": dbs, "scr": scrs})
        ttl = m.get("host_record_ttl", DEFAULT_HOST_RECORD_TTL)
        if ttl < 0:
            ctx.fail(f"{where}.host_record_ttl", "must not be negative")
        cmss.append({"name": m["name"], "cluster": cl["name"], "ip": _ip(ctx, m["ip"], f"{where}.ip"),
                     "active_node": active, "full_control": full, "host_record_ttl": ttl,
                     "replication_host_names": crhns, "storage_groups": sgs})
    cms_by = {m["name"].lower(): m for m in cmss}

    oabs = []
    for i, o in enumerate(block.get("offline_address_books") or []):
        where = f"exchange2007.offline_address_books[{i}]"
        _check(ctx, o, "oab", where)
        srv = cms_by.get(o["server"].lower())
        if srv is None:
            ctx.fail(f"{where}.server", f"'{o['server']}' is not a clustered mailbox server of exchange2007")
        vdirs = [host2007(v, f"{where}.virtual_directories[{j}]", "ClientAccess")["name"]
                 for j, v in enumerate(o.get("virtual_directories") or [])]
        oabs.append({"name": o["name"], "server": srv["name"], "virtual_directories": vdirs})

    default_rollup = block.get("rollup", 0)
    rollups: dict[str, int] = {}
    for h in hosts:
        if h["kind"] == "exchange" and h["version"] == "2007":
            rollups[h["name"]] = default_rollup
    for name, level in (block.get("rollups") or {}).items():
        h = host2007(name, f"exchange2007.rollups.{name}")
        if not isinstance(level, int) or isinstance(level, bool) or level < 0:
            ctx.fail(f"exchange2007.rollups.{name}", "must be a non-negative integer")
        rollups[h["name"]] = level
    packages = []
    for i, p in enumerate(block.get("rollup_packages") or []):
        where = f"exchange2007.rollup_packages[{i}]"
        _check(ctx, p, "package", where)
        packages.append({"path": p["path"], "rollup": p["rollup"]})
    return {"clusters": clusters, "clustered_mailbox_servers": cmss, "offline_address_books": oabs,
            "rollups": rollups, "rollup_packages": packages}


# ===================================================================== state
@dataclass
class FailoverCluster:
    name: str
    nodes: list[str]
    ip: str
    site: str
    standby: bool
    quorum_owner: str
    guid: uuid.UUID


@dataclass
class ReplicationHostName:
    name: str
    node: str
    ip: str


@dataclass
class Database2007:
    name: str
    storage_group: str
    server: str  # the CMS
    edb_path: str
    guid: uuid.UUID
    mounted: bool = True
    allow_file_restore: bool = False

    @property
    def identity(self) -> str:
        return f"{self.server}\\{self.storage_group}\\{self.name}"


@dataclass
class SgCopy:
    """A passive copy of a storage group: the CCR copy on the passive node or an SCR copy
    on a standby machine."""

    machine: str
    kind: str  # ccr | scr
    status: str = "Healthy"
    suspend_comment: str | None = None
    failed_message: str | None = None
    copy_queue: int = 0
    replay_queue: int = 0
    replay_lag_s: float = 0.0
    truncation_lag_s: float = 0.0
    seeded: bool = True
    restored: bool = False
    seeding: bool = False
    last_change: datetime.datetime | None = None


@dataclass
class StorageGroup2007:
    name: str
    server: str  # the CMS
    log_prefix: str
    databases: list[Database2007]
    log_generation: int
    guid: uuid.UUID
    active_machine: str  # node holding the active copy's files
    copies: list[SgCopy] = field(default_factory=list)

    @property
    def identity(self) -> str:
        return f"{self.server}\\{self.name}"

    @property
    def log_path(self) -> str:
        return f"E:\\Logs\\{self.server}\\{self.name}"

    @property
    def system_path(self) -> str:
        return self.log_path

    def ccr_copy(self) -> SgCopy | None:
        return next((c for c in self.copies if c.kind == "ccr"), None)

    def scr_copy(self, machine: str) -> SgCopy | None:
        return next((c for c in self.copies if c.kind == "scr" and c.machine.lower() == machine.lower()), None)

    def scr_copies(self) -> list[SgCopy]:
        return [c for c in self.copies if c.kind == "scr"]


@dataclass
class ClusteredMailboxServer:
    name: str
    cluster: str
    ip: str
    active_node: str
    redundant_machines: list[str]
    storage_groups: list[StorageGroup2007]
    guid: uuid.UUID
    host_record_ttl: int
    state: str = "Online"  # Online | Offline (PartiallyOnline / Failed: see README)
    stop_reason: str | None = None
    host_names: list[ReplicationHostName] = field(default_factory=list)
    failed_resources: list[str] = field(default_factory=list)


@dataclass
class Mailbox2007:
    alias: str
    database: Database2007

    @property
    def name(self) -> str:
        return self.alias.capitalize()


@dataclass
class OfflineAddressBook2007:
    name: str
    server: str
    virtual_directories: list[str]
    guid: uuid.UUID
    version: int = 0  # generations done
    last_generated: datetime.datetime | None = None
    # version each Client Access server's FDS holds (what Outlook 2007 downloads)
    distributed: dict[str, int] = field(default_factory=dict)


@dataclass
class EventEntry:
    index: int
    log: str
    source: str
    event_id: int
    entry_type: str  # Error | Warning | Information
    category: str
    message: str
    machine: str
    time: datetime.datetime


class Exchange2007State:
    """The Exchange 2007 part of the lab (``LabState.e2007``)."""

    def __init__(self, lab: "LabState", spec: dict) -> None:
        self.lab = lab
        block = spec.get("exchange2007") or {
            "clusters": [], "clustered_mailbox_servers": [], "offline_address_books": [], "rollups": {},
            "rollup_packages": []}
        self.clusters: dict[str, FailoverCluster] = {}
        self.cms: dict[str, ClusteredMailboxServer] = {}
        self.mailboxes: list[Mailbox2007] = []
        self.oabs: list[OfflineAddressBook2007] = []
        self.rollup: dict[str, int] = {k.lower(): v for k, v in block["rollups"].items()}
        self.packages: dict[str, dict] = {p["path"].lower(): dict(p) for p in block["rollup_packages"]}
        self.events: dict[str, list[EventEntry]] = {}
        self._index: dict[tuple[str, str], int] = {}
        self.hosts_2007 = [h for h in spec["hosts"] if h["kind"] == "exchange" and h["version"] == "2007"]
        if not self.hosts_2007:
            return
        now = lab.clock.now()
        for c in block["clusters"]:
            self.clusters[c["name"].lower()] = FailoverCluster(
                c["name"], list(c["nodes"]), c["ip"], c["site"], c["standby"], c["nodes"][0],
                lab_guid("cluster2007", c["name"]))
        for n, m in enumerate(block["clustered_mailbox_servers"]):
            cl = self.clusters[m["cluster"].lower()]
            passive = next(x for x in cl.nodes if x != m["active_node"])
            sgs = []
            for i, sg in enumerate(m["storage_groups"]):
                dbs = [Database2007(db["name"], sg["name"], m["name"],
                                    f"D:\\Databases\\{m['name']}\\{sg['name']}\\{db['name']}.edb",
                                    lab_guid("db2007", f"{m['name']}\\{sg['name']}\\{db['name']}"))
                       for db in sg["databases"]]
                group = StorageGroup2007(
                    sg["name"], m["name"], f"E{i:02d}", dbs,
                    2000 + lab_guid("sg2007", f"{m['name']}\\{sg['name']}").int % 50000,
                    lab_guid("sg2007", f"{m['name']}\\{sg['name']}"), m["active_node"])
                group.copies.append(SgCopy(passive, "ccr", last_change=now))
                for s in sg["scr"]:
                    group.copies.append(SgCopy(
                        s["machine"], "scr", replay_lag_s=s["replay_lag"], truncation_lag_s=s["truncation_lag"],
                        replay_queue=scr_replay_backlog(s["replay_lag"]), last_change=now))
                sgs.append(group)
                for db, dspec in zip(dbs, sg["databases"]):
                    self.mailboxes.extend(Mailbox2007(a, db) for a in dspec["mailboxes"])
            cms = ClusteredMailboxServer(
                m["name"], cl.name, m["ip"], m["active_node"], list(cl.nodes), sgs,
                lab_guid("server", m["name"]), m["host_record_ttl"],
                host_names=[ReplicationHostName(r["name"], r["node"], r["ip"]) for r in m["replication_host_names"]])
            self.cms[m["name"].lower()] = cms
        for o in block["offline_address_books"]:
            self.oabs.append(OfflineAddressBook2007(o["name"], o["server"], list(o["virtual_directories"]),
                                                    lab_guid("oab2007", o["name"])))
        self._build_services()
        self._build_ad(block)
        self._build_dns()
        self._build_shares()

    # ------------------------------------------------------------------ build
    def _build_services(self) -> None:
        """The Exchange 2007 hosts get the 2007 services of their roles instead of the
        2013+ ones (model/windows.py builds those for every Exchange host)."""
        from .windows import _WINDOWS_SERVICES, CLUSSVC, Service

        w = self.lab.windows
        clustered = {n.lower() for c in self.clusters.values() for n in c.nodes}
        for h in self.hosts_2007:
            table: dict[str, Service] = {}
            keep = {name.lower() for name, *_ in _WINDOWS_SERVICES}
            for key, svc in w.services.get(h["name"].lower(), {}).items():
                if key in keep:
                    table[key] = svc
            for name, display, roles, deps in EXCHANGE_2007_SERVICES:
                if any(r in h["roles"] for r in roles):
                    table[name.lower()] = Service(name, display, "Automatic", "Win32OwnProcess", list(deps), "Running")
            if h["name"].lower() in clustered:
                table[CLUSSVC.lower()] = Service(CLUSSVC, "Cluster Service", "Automatic", "Win32OwnProcess", [],
                                                 "Running")
            w.services[h["name"].lower()] = dict(sorted(table.items()))

    def _computer(self, name: str, dns_name: str) -> "ADObject":
        w = self.lab.windows
        comp = w.new_computer(name.upper(), attrs={"DNSHostName": dns_name})
        comp.guid = lab_guid("ad-computer", name)
        comp.created = comp.modified = w._now
        return comp

    def _build_ad(self, block: dict) -> None:
        """Cluster name objects (CNO) of the clusters and the CMS computer objects (VCO,
        created by their cluster's CNO, which got Full Control); ``full_control`` lists the
        CNOs with Full Control on a VCO (seed 000 Q1: the standby cluster's is missing)."""
        from .windows import Ace

        lab, w = self.lab, self.lab.windows
        for c in self.clusters.values():
            self._computer(c.name, f"{c.name.lower()}.{lab.domain}")
        for m in block["clustered_mailbox_servers"]:
            vco = self._computer(m["name"], f"{m['name'].lower()}.{lab.domain}")
            vco.attrs["Description"] = "Failover cluster virtual network name account"
            for cname in m["full_control"]:
                cno = self.cno(cname)
                vco.aces.insert(0, Ace(w.display_name(cno), cno.sid, ["GenericAll"], inheritance="All"))

    def _zone_for(self, fqdn: str) -> dict | None:
        for zone in self.lab.dns_zones.values():
            if fqdn.lower().endswith("." + zone["name"]):
                return zone
        return None

    def _build_dns(self) -> None:
        """A records of the cluster names (HostRecordTTL default) and of the CMS network
        names (their ``host_record_ttl``), registered dynamically, unless the topology
        lists them."""
        w, domain = self.lab.windows, self.lab.domain
        names = [(c.name, c.ip, DEFAULT_HOST_RECORD_TTL) for c in self.clusters.values()]
        names += [(m.name, m.ip, m.host_record_ttl) for m in self.cms.values()]
        for name, ip, ttl in names:
            zone = self._zone_for(f"{name.lower()}.{domain}")
            if zone is not None and not w.records(zone, name.lower(), "A"):
                w.add_record(zone, name.lower(), "A", ip, ttl, dynamic=True)

    def _build_shares(self) -> None:
        """The OAB has been generated once: its share is where the active node's rollup
        level puts it (runbooks §11)."""
        for oab in self.oabs:
            cms = self.cms[oab.server.lower()]
            share = self.publish_share(cms, create=True)
            share.other.setdefault("oab_versions", {})[str(oab.guid)] = 1
            oab.version = 1
            oab.last_generated = self.lab.clock.now()
            # the Client Access servers hold it only if their FDS could reach it
            if self.resolve_unc(f"\\\\{cms.name}\\{OAB_SHARE}") is not None:
                for cas in oab.virtual_directories:
                    oab.distributed[cas.lower()] = 1

    # ---------------------------------------------------------------- lookups
    def cluster(self, name: str | None) -> FailoverCluster | None:
        return self.clusters.get(str(name).lower()) if name else None

    def cluster_of_node(self, node: str) -> FailoverCluster | None:
        for c in self.clusters.values():
            if any(n.lower() == str(node).lower() for n in c.nodes):
                return c
        return None

    def node_name(self, node: str) -> str | None:
        """A cluster node's name as the topology spells it (short name or FQDN given)."""
        short = str(node).split(".", 1)[0].lower()
        for c in self.clusters.values():
            for n in c.nodes:
                if n.lower() == short:
                    return n
        return None

    def clustered_server(self, name: str | None) -> ClusteredMailboxServer | None:
        if not name:
            return None
        return self.cms.get(str(name).split(".", 1)[0].lower())

    def cms_on_cluster(self, cluster: FailoverCluster) -> ClusteredMailboxServer | None:
        return next((m for m in self.cms.values() if m.cluster.lower() == cluster.name.lower()), None)

    def cno(self, cluster: str) -> "ADObject":
        return self.lab.windows.find_object(f"{cluster}$", object_class="computer")

    def vco(self, cms: ClusteredMailboxServer) -> "ADObject":
        return self.lab.windows.find_object(f"{cms.name}$", object_class="computer")

    def storage_group(self, identity: str) -> StorageGroup2007 | None:
        """``CMS\\SG`` (or an SG name unique in the organization)."""
        text = str(identity).strip()
        if "\\" in text:
            server, _, name = text.partition("\\")
            cms = self.clustered_server(server)
            if cms is None:
                return None
            return next((g for g in cms.storage_groups if g.name.lower() == name.lower()), None)
        found = [g for m in self.cms.values() for g in m.storage_groups if g.name.lower() == text.lower()]
        return found[0] if len(found) == 1 else None

    def database(self, identity: str) -> Database2007 | None:
        """``CMS\\SG\\DB``, ``SG\\DB`` or a database name unique in the organization."""
        parts = [p for p in str(identity).strip().split("\\") if p]
        found = []
        for m in self.cms.values():
            for g in m.storage_groups:
                for db in g.databases:
                    if [p.lower() for p in parts] in (
                        [m.name.lower(), g.name.lower(), db.name.lower()],
                        [g.name.lower(), db.name.lower()],
                        [db.name.lower()],
                    ):
                        found.append(db)
        return found[0] if len(found) == 1 else None

    def storage_group_of(self, db: Database2007) -> StorageGroup2007:
        cms = self.cms[db.server.lower()]
        return next(g for g in cms.storage_groups if g.name == db.storage_group)

    def is_2007_host(self, name: str) -> bool:
        return any(h["name"].lower() == str(name).split(".", 1)[0].lower() for h in self.hosts_2007)

    def host_roles(self, name: str) -> list[str]:
        for h in self.hosts_2007:
            if h["name"].lower() == str(name).lower():
                return list(h["roles"])
        return []

    def cas_servers(self) -> list[str]:
        return [h["name"] for h in self.hosts_2007 if "ClientAccess" in h["roles"]]

    # ----------------------------------------------------------- derived state
    def reachable(self, host: str) -> bool:
        return self.lab.is_reachable_host(host)

    def cluster_up(self, cluster: FailoverCluster) -> bool:
        return any(self.reachable(n) for n in cluster.nodes)

    def refresh(self) -> None:
        """Apply what the cluster service does by itself: a CMS whose active node is gone
        fails over to the other node of its cluster when that one is up (CCR automatic
        failover); the quorum owner moves off a node that is down."""
        for c in self.clusters.values():
            if not self.reachable(c.quorum_owner):
                up = next((n for n in c.nodes if self.reachable(n)), None)
                if up:
                    c.quorum_owner = up
        for cms in self.cms.values():
            cl = self.clusters[cms.cluster.lower()]
            if cms.state != "Online" or self.reachable(cms.active_node):
                continue
            other = next((n for n in cms.redundant_machines
                          if n.lower() != cms.active_node.lower() and self.reachable(n)), None)
            if other is None:
                continue
            old = cms.active_node
            self.switch_active_node(cms, other)
            if cl.quorum_owner.lower() == old.lower():
                cl.quorum_owner = other

    def switch_active_node(self, cms: ClusteredMailboxServer, target: str) -> None:
        """The CMS runs on ``target`` now; each storage group's CCR copy moves to the old
        active node (Initializing, then Healthy, if that node is reachable)."""
        old = cms.active_node
        cms.active_node = target
        now = self.lab.clock.now()
        for g in cms.storage_groups:
            g.active_machine = target
            g.log_generation += 1
            c = g.ccr_copy()
            if c is None:
                c = SgCopy(old, "ccr")
                g.copies.append(c)
            c.machine = old
            c.copy_queue = c.replay_queue = 0
            c.suspend_comment = c.failed_message = None
            c.last_change = now
            if self.reachable(old):
                self.settle(g, c)
            else:
                c.status = "Healthy"  # shown as ServiceDown while the node is down

    def settle(self, g: StorageGroup2007, c: SgCopy, via: str = "Initializing") -> None:
        """A copy goes ``via`` and reaches Healthy after INITIALIZING_S."""
        c.status = via
        c.last_change = self.lab.clock.now()

        def done() -> None:
            if c.status == via and c in g.copies:
                c.status = "Healthy"
                c.last_change = self.lab.clock.now()

        self.lab.schedule(INITIALIZING_S, done, f"{g.identity} copy on {c.machine} {via} -> Healthy")

    def copy_status(self, g: StorageGroup2007, c: SgCopy) -> str:
        """SummaryCopyStatus: ServiceDown while the copy's machine is down (SP1 value)."""
        if not self.reachable(c.machine):
            return "ServiceDown"
        return c.status

    def source_available(self, cms: ClusteredMailboxServer) -> bool:
        """The SCR/CCR source: the CMS online on a reachable active node."""
        return cms.state == "Online" and self.reachable(cms.active_node)

    def has_full_control(self, cluster: str, obj: "ADObject") -> bool:
        """An allow ACE granting GenericAll (Full Control in ADUC) to the cluster's CNO
        (runbooks §10.1: the check ``Get-ADPermission`` makes)."""
        cno = self.cno(cluster)
        if cno is None:
            return False
        deny = any(a.sid == cno.sid and a.deny and "GenericAll" in a.rights for a in obj.aces)
        allow = any(a.sid == cno.sid and not a.deny and "GenericAll" in a.rights for a in obj.aces)
        return allow and not deny

    def operational_machines(self, cms: ClusteredMailboxServer) -> list[str]:
        """``NODEA <Active>, NODEB <Quorum Owner>`` (object-properties §9, sample)."""
        cl = self.clusters[cms.cluster.lower()]
        out = []
        for n in cl.nodes:
            if not self.reachable(n):
                continue
            tags = []
            if cms.state == "Online" and n.lower() == cms.active_node.lower():
                tags.append("Active")
            if n.lower() == cl.quorum_owner.lower():
                tags.append("Quorum Owner")
            out.append(f"{n.upper()} <{', '.join(tags)}>" if tags else n.upper())
        return out

    def replication_host_names(self, cms: ClusteredMailboxServer) -> tuple[list[str], list[str], list[str]]:
        """(operational, failed, in use): without custom names the node names (runbooks
        §12.1); with them, the node names and the custom names, the custom ones in use."""
        nodes = [n.lower() for n in cms.redundant_machines if self.reachable(n)]
        failed = [n.lower() for n in cms.redundant_machines if not self.reachable(n)]
        custom = [h.name.lower() for h in cms.host_names if self.reachable(h.node)]
        failed += [h.name.lower() for h in cms.host_names if not self.reachable(h.node)]
        return nodes + custom, failed, custom or nodes

    # ----------------------------------------------------------------- events
    def write_event(self, host: str, log: str, source: str, event_id: int, entry_type: str, category: str,
                    message: str) -> EventEntry:
        key = (host.lower(), log)
        self._index[key] = self._index.get(key, 0) + 1
        h = self.lab.host(host)
        entry = EventEntry(self._index[key], log, source, event_id, entry_type, category, message,
                           h.fqdn if h else host, self.lab.clock.now())
        self.events.setdefault(host.lower(), []).append(entry)
        return entry

    def event_log(self, host: str, log: str) -> list[EventEntry]:
        return [e for e in self.events.get(host.lower(), []) if e.log.lower() == log.lower()]

    @staticmethod
    def process_id(host: str, process: str) -> int:
        """A stable PID for a process of a host (the event texts carry one)."""
        return 1000 + lab_guid("pid", f"{host}:{process}").int % 7000

    # -------------------------------------------------------------------- OAB
    def rollup_of(self, host: str) -> int:
        return self.rollup.get(host.lower(), 0)

    def publish_share(self, cms: ClusteredMailboxServer, *, create: bool) -> "Share | None":
        """The ``ExchangeOAB`` share OAB generation publishes to: below Update Rollup 5
        ``\\\\<ActiveNode>\\ExchangeOAB`` (scoped to the node name), from RU5 on
        ``\\\\<CMSName>\\ExchangeOAB`` (scoped to the CMS network name) -- runbooks §11,
        D. Goldman's post.  The share grants Read to Exchange Servers."""
        w = self.lab.windows
        node = cms.active_node
        fixed = self.rollup_of(node) >= OAB_FIX_ROLLUP
        pool = w.scoped_shares.get(cms.name.lower(), []) if fixed else w.host_shares.get(node.lower(), [])
        share = next((s for s in pool if s.name.lower() == OAB_SHARE.lower()), None)
        if share is None and create:
            aces = [w.share_ace("Exchange Servers", "Read"), w.share_ace("BUILTIN\\Administrators", "Full")]
            share = w.new_share(node, OAB_SHARE, OAB_PATH, scope=cms.name if fixed else "*",
                                description="OAB Distribution share", aces=aces)
        return share

    def resolve_unc(self, unc: str) -> "Share | None":
        r"""``\\name\share``: a CMS network name reaches only the shares scoped to it (while
        the CMS is online on a reachable node); anything else as ``windows.resolve_unc``."""
        parts = [p for p in str(unc).replace("/", "\\").split("\\") if p]
        if len(parts) < 2:
            return None
        cms = self.clustered_server(parts[0])
        if cms is not None:
            if not self.source_available(cms):
                return None
            return next((s for s in self.lab.windows.scoped_shares.get(cms.name.lower(), [])
                         if s.name.lower() == parts[1].lower()), None)
        host = self.lab.host(parts[0].split(".", 1)[0])
        if host is not None and not self.lab.host_up(host.name):
            return None
        return self.lab.windows.resolve_unc(unc)

    @staticmethod
    def share_readable_by_exchange_servers(share: "Share") -> bool:
        ok = ("exchange servers", "everyone", "authenticated users")
        return any(a.type == "Allow" and a.account.split("\\")[-1].lower() in ok for a in share.aces) and not any(
            a.type == "Deny" and a.account.split("\\")[-1].lower() == "exchange servers" for a in share.aces)

    # ------------------------------------------------------------------ dump
    def to_json(self) -> dict:
        return {
            "clusters": [{"name": c.name, "nodes": list(c.nodes), "ip": c.ip, "standby": c.standby,
                          "quorum_owner": c.quorum_owner} for c in self.clusters.values()],
            "clustered_mailbox_servers": [
                {"name": m.name, "cluster": m.cluster, "ip": m.ip, "state": m.state, "active_node": m.active_node,
                 "redundant_machines": list(m.redundant_machines), "stop_reason": m.stop_reason,
                 "replication_host_names": [vars(h) for h in m.host_names],
                 "storage_groups": [
                     {"name": g.name, "active_machine": g.active_machine,
                      "databases": [{"name": d.name, "mounted": d.mounted} for d in g.databases],
                      "copies": [{"machine": c.machine, "kind": c.kind, "status": c.status,
                                  "restored": c.restored, "replay_lag_s": c.replay_lag_s,
                                  "truncation_lag_s": c.truncation_lag_s} for c in g.copies]}
                     for g in m.storage_groups]}
                for m in self.cms.values()],
            "offline_address_books": [{"name": o.name, "server": o.server, "version": o.version,
                                       "distributed": dict(o.distributed)} for o in self.oabs],
            "rollups": dict(self.rollup),
            "events": {h: [_copy.copy(vars(e)) | {"time": e.time.isoformat()} for e in lst]
                       for h, lst in self.events.items()},
        }


def scr_replay_backlog(replay_lag_s: float) -> int:
    """Logs an SCR copy holds back from replay: the fixed 50 plus the replay lag at the
    lab's log rate (12 logs an hour)."""
    return SCR_REPLAY_DELAY_LOGS + int(replay_lag_s / 3600 * LOGS_PER_HOUR)
