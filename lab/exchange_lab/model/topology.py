"""Topology files: schema, validation and loading.

A topology is a YAML mapping (schema documented in ``lab/README-model.md``).  :func:`load`
reads a name from ``exchange_lab/topologies/`` or a path, validates it and returns a
normalised :class:`dict` with every default filled in and the ``generate:`` blocks
expanded.  Every problem raises :class:`TopologyError` with a one-line message naming the
file, the place in the file and the problem.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import yaml

TOPOLOGY_DIR = Path(__file__).resolve().parent.parent / "topologies"

try:  # libyaml when available: the large topology must load fast
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


class TopologyError(Exception):
    """A bad topology file (one-line message)."""


KINDS = ("exchange", "dc", "fileserver", "dns")
EXCHANGE_VERSIONS = ("2007", "2013", "2016", "2019")
# 2007 means Exchange 2007 SP1 (8.1); its CCR/SCR/OAB model is the ``exchange2007:`` block
# (model/e2007.py), not dags/databases.
VERSION_MAJOR_MINOR = {"2007": "8.1", "2013": "15.0", "2016": "15.1", "2019": "15.2"}
POLICIES = ("Unrestricted", "IntrasiteOnly", "Blocked")
MOUNT_DIALS = ("Lossless", "GoodAvailability", "BestAvailability")
DAC_MODES = ("Off", "DagOnly")
NETWORK_MODES = ("Disabled", "Enabled", "InterSubnetOnly", "SeedOnly")
CONTENT_INDEX_STATES = ("Healthy", "Crawling", "NotApplicable", "Failed", "Suspended", "Disabled")
RECORD_TYPES = ("A", "CNAME")
# Windows Server versions a host can run (``windows:``; default WS2019).
WINDOWS_VERSIONS = ("WS2008", "WS2008R2", "WS2012", "WS2012R2", "WS2016", "WS2019", "WS2022")
DEFAULT_WINDOWS = "WS2019"
_BUILD_RE = re.compile(r"^Version (\d+)\.(\d+) \(Build (\d+)\.(\d+)\)$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
_TIMESPAN_RE = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")

# key -> (required, type or tuple of types)
_SCHEMA: dict[str, dict[str, tuple[bool, Any]]] = {
    "top": {
        "name": (True, str),
        "description": (False, str),
        "org": (True, dict),
        "users": (True, list),
        "sites": (True, list),
        "hosts": (True, list),
        "dags": (False, list),
        "databases": (False, list),
        "generate": (False, dict),
        "dns": (False, dict),
        "exchange2007": (False, dict),
        # rehearsal twins written by exchange.dr.twin_capture (model/twin.py)
        "capture": (False, dict),
        "end_of_capture": (False, bool),
    },
    "org": {"name": (True, str), "domain": (True, str), "netbios": (True, str)},
    "user": {"name": (True, str), "upn": (True, str), "password": (True, str), "roles": (True, list)},
    "site": {"name": (True, str), "subnets": (False, list)},
    "host": {
        "name": (True, str),
        "kind": (True, str),
        "site": (True, str),
        "version": (True, str),
        "build": (False, str),
        "roles": (False, list),
        "ip": (True, str),
        "replication_ip": (False, str),
        "fqdn": (False, str),
        "mailbox": (False, dict),
        "queues": (False, dict),
        "content_index_state": (False, str),
        "windows": (False, str),
        "components": (False, list),  # server component state entries (model/twin.py)
    },
    "mailbox": {
        "auto_activation_policy": (False, str),
        "activation_disabled_and_move_now": (False, bool),
        "mount_dial": (False, str),
        "max_active": (False, int),
        "max_preferred_active": (False, int),
    },
    "queues": {"submission": (False, int), "shadow": (False, int)},
    "dag": {
        "name": (True, str),
        "members": (True, list),
        "witness_server": (True, str),
        "witness_directory": (True, str),
        "alternate_witness_server": (False, str),
        "alternate_witness_directory": (False, str),
        "datacenter_activation_mode": (False, str),
        "ip_addresses": (False, list),
        "networks": (False, list),
        "manual_network_configuration": (False, bool),
        "replication_port": (False, int),
        "network_compression": (False, str),
        "network_encryption": (False, str),
        "auto_reseed": (False, bool),
        "pam": (False, str),
    },
    "network": {
        "name": (True, str),
        "description": (False, str),
        "subnets": (True, list),
        "replication_enabled": (False, bool),
        "ignore_network": (False, bool),
        "mapi_access_enabled": (False, bool),
    },
    "database": {
        "name": (True, str),
        "copies": (True, list),
        "active": (False, str),
        "mounted": (False, bool),
        "size_gb": (False, (int, float)),
        "edb_path": (False, str),
        "log_path": (False, str),
    },
    "copy": {
        "server": (True, str),
        "preference": (True, int),
        "replay_lag": (False, str),
        "truncation_lag": (False, str),
        "replay_queue": (False, int),
        "copy_queue": (False, int),
    },
    "generate": {"databases": (False, list)},
    "dbgen": {
        "prefix": (True, str),
        "count": (True, int),
        "start": (False, int),
        "digits": (False, int),
        "groups": (True, list),
        "copies_per_group": (True, int),
        "size_gb": (False, (int, float)),
    },
    "dns": {"zones": (True, list)},
    "zone": {"name": (True, str), "servers": (True, list), "records": (False, list), "register_hosts": (False, dict)},
    "register_hosts": {"ttl": (True, int)},
    "record": {"name": (True, str), "type": (True, str), "data": (True, str), "ttl": (True, int)},
    "capture": {
        "format": (True, str),
        "version": (True, int),
        "captured_at": (False, str),
        "source": (False, str),
        "pseudonymised": (False, bool),
    },
    "component": {
        "component": (True, str),
        "requester": (True, str),
        "state": (True, str),
        "local": (False, bool),
        "remote": (False, bool),
    },
}

_TYPE_NAMES = {str: "a string", list: "a list", dict: "a mapping", bool: "true or false", int: "an integer"}


class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> None:
        raise TopologyError(f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}")

    def check(self, value: Any, kind: str, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, "must be a mapping")
        schema = _SCHEMA[kind]
        for key in value:
            if key not in schema:
                self.fail(where, f"unknown key '{key}' (allowed: {', '.join(schema)})")
        for key, (required, typ) in schema.items():
            if key not in value or value[key] is None:
                if required:
                    self.fail(where, f"missing field '{key}'")
                continue
            v = value[key]
            ok = isinstance(v, typ) and not (typ is int and isinstance(v, bool))
            if typ == (int, float):
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            if not ok:
                tname = _TYPE_NAMES.get(typ, "a number") if not isinstance(typ, tuple) else "a number"
                self.fail(f"{where}.{key}" if where else key, f"must be {tname}")
        return value

    def choice(self, value: str, allowed: tuple[str, ...], where: str) -> str:
        for a in allowed:
            if a.lower() == str(value).lower():
                return a
        self.fail(where, f"'{value}' is not one of {', '.join(allowed)}")
        return value  # unreachable


def parse_timespan(text: str) -> float:
    """``[d.]hh:mm:ss`` -> seconds (None/empty -> 0)."""
    m = _TIMESPAN_RE.match(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a time span like 7.00:00:00 or 00:30:00")
    days, h, mi, s = (int(g) if g else 0 for g in m.groups())
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"'{text}' is not a valid time span")
    return days * 86400 + h * 3600 + mi * 60 + s


def resolve_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yml", ".yaml") or p.parent != Path("."):
        return p
    return TOPOLOGY_DIR / f"{name_or_path}.yml"


def load(name_or_path: str | Path) -> dict:
    path = resolve_path(name_or_path)
    source = path.name if path.parent == TOPOLOGY_DIR else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yml")))
        raise TopologyError(f"{source}: no such topology file (known topologies: {known})") from None
    except OSError as exc:
        raise TopologyError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        from .twin import looks_like_capture  # a twin cut short often ends mid-token (model/twin.py)

        hint = " (a truncated capture? capture it again)" if looks_like_capture(text) else ""
        raise TopologyError(f"{source}: {where}YAML error: {problem}{hint}") from None
    return validate(data, source)


def validate(data: Any, source: str = "<topology>") -> dict:
    ctx = _Ctx(source)
    if not isinstance(data, dict):
        ctx.fail("", "the file must contain a mapping")
    if "capture" in data or "end_of_capture" in data:
        from .twin import check_capture  # rehearsal twins (model/twin.py)

        data = check_capture(data, ctx)
    ctx.check(data, "top", "")
    org = ctx.check(data["org"], "org", "org")
    domain = org["domain"].lower()
    netbios = org["netbios"].upper()

    # -- sites ---------------------------------------------------------------
    sites: dict[str, dict] = {}
    for i, s in enumerate(data["sites"]):
        where = f"sites[{i}]"
        ctx.check(s, "site", where)
        key = s["name"].lower()
        if key in sites:
            ctx.fail(where, f"duplicate site name '{s['name']}'")
        subnets = []
        for j, sn in enumerate(s.get("subnets") or []):
            try:
                subnets.append(str(ipaddress.ip_network(str(sn), strict=True)))
            except ValueError as exc:
                ctx.fail(f"{where}.subnets[{j}]", f"invalid subnet: {exc}")
        sites[key] = {"name": s["name"], "subnets": subnets}

    # -- users ---------------------------------------------------------------
    users = []
    seen_users: set[str] = set()
    for i, u in enumerate(data["users"]):
        where = f"users[{i}]"
        ctx.check(u, "user", where)
        if "\\" not in u["name"]:
            ctx.fail(f"{where}.name", f"must be DOMAIN\\user, got '{u['name']}'")
        dom, sam = u["name"].split("\\", 1)
        if dom.upper() != netbios:
            ctx.fail(f"{where}.name", f"domain '{dom}' is not the org's NetBIOS name '{netbios}'")
        if "@" not in u["upn"]:
            ctx.fail(f"{where}.upn", f"must be user@domain, got '{u['upn']}'")
        if sam.lower() in seen_users:
            ctx.fail(where, f"duplicate user '{u['name']}'")
        seen_users.add(sam.lower())
        if not all(isinstance(r, str) for r in u["roles"]):
            ctx.fail(f"{where}.roles", "must be a list of strings")
        users.append(
            {
                "name": f"{netbios}\\{sam}",
                "sam": sam,
                "upn": u["upn"],
                "password": u["password"],
                "roles": list(u["roles"]),
            }
        )

    # -- hosts ---------------------------------------------------------------
    hosts: list[dict] = []
    by_name: dict[str, dict] = {}
    for i, h in enumerate(data["hosts"]):
        where = f"hosts[{i}]"
        ctx.check(h, "host", where)
        name = h["name"]
        where = f"hosts[{i}] ({name})"
        if not _NAME_RE.match(name):
            ctx.fail(where, f"invalid host name '{name}' (1-15 letters, digits or '-')")
        if name.lower() in by_name:
            ctx.fail(where, f"duplicate host name '{name}'")
        kind = ctx.choice(h["kind"], KINDS, f"{where}.kind")
        if h["site"].lower() not in sites:
            ctx.fail(f"{where}.site", f"unknown site '{h['site']}'")
        site = sites[h["site"].lower()]["name"]
        for key in ("ip", "replication_ip"):
            if h.get(key):
                try:
                    ipaddress.ip_address(h[key])
                except ValueError:
                    ctx.fail(f"{where}.{key}", f"invalid IP address '{h[key]}'")
        version = str(h["version"])
        # The Windows version: ``windows:``, else a non-Exchange host's ``version`` when it is
        # a Windows label, else WS2019.
        windows = h.get("windows")
        if windows is not None:
            windows = ctx.choice(windows, WINDOWS_VERSIONS, f"{where}.windows")
            if kind != "exchange" and version.upper() in WINDOWS_VERSIONS and version.upper() != windows:
                ctx.fail(where, f"version '{version}' and windows '{windows}' disagree")
        elif kind != "exchange" and version.upper() in WINDOWS_VERSIONS:
            windows = version.upper()
        else:
            windows = DEFAULT_WINDOWS
        host = {
            "name": name,
            "kind": kind,
            "site": site,
            "version": version,
            "fqdn": (h.get("fqdn") or f"{name.lower()}.{domain}").lower(),
            "roles": list(h.get("roles") or []),
            "ip": h["ip"],
            "replication_ip": h.get("replication_ip"),
            "windows": windows,
        }
        if kind == "exchange":
            if version not in EXCHANGE_VERSIONS:
                ctx.fail(f"{where}.version", f"'{version}' is not one of {', '.join(EXCHANGE_VERSIONS)}")
            build = h.get("build")
            if not build:
                ctx.fail(where, "missing field 'build' (e.g. 'Version 15.2 (Build 1544.4)')")
            m = _BUILD_RE.match(build)
            if not m:
                ctx.fail(f"{where}.build", f"'{build}' is not like 'Version 15.2 (Build 1544.4)'")
            if f"{m.group(1)}.{m.group(2)}" != VERSION_MAJOR_MINOR[version]:
                ctx.fail(
                    f"{where}.build",
                    f"'{build}' is not an Exchange {version} build (expected Version {VERSION_MAJOR_MINOR[version]})",
                )
            host["build"] = build
            host["roles"] = host["roles"] or ["Mailbox"]
            mbx = ctx.check(h.get("mailbox") or {}, "mailbox", f"{where}.mailbox")
            host["mailbox"] = {
                "auto_activation_policy": ctx.choice(
                    mbx.get("auto_activation_policy", "Unrestricted"),
                    POLICIES,
                    f"{where}.mailbox.auto_activation_policy",
                ),
                "activation_disabled_and_move_now": bool(mbx.get("activation_disabled_and_move_now", False)),
                "mount_dial": ctx.choice(
                    mbx.get("mount_dial", "GoodAvailability"), MOUNT_DIALS, f"{where}.mailbox.mount_dial"
                ),
                "max_active": mbx.get("max_active"),
                "max_preferred_active": mbx.get("max_preferred_active"),
            }
            q = ctx.check(h.get("queues") or {}, "queues", f"{where}.queues")
            host["queues"] = {"submission": q.get("submission", 3), "shadow": q.get("shadow", 2)}
            ci_default = "NotApplicable" if version == "2019" else "Healthy"
            host["content_index_state"] = ctx.choice(
                h.get("content_index_state", ci_default), CONTENT_INDEX_STATES, f"{where}.content_index_state"
            )
            if h.get("components"):
                from .twin import validate_components  # model/twin.py

                host["components"] = validate_components(h["components"], ctx, f"{where}.components", version)
        else:
            for key in ("build", "mailbox", "queues", "content_index_state", "components"):
                if key in h:
                    ctx.fail(where, f"'{key}' is only valid for kind 'exchange'")
            if not host["roles"]:
                host["roles"] = {"dc": ["DomainController", "DNS"], "fileserver": ["FileServer"], "dns": ["DNS"]}[kind]
        hosts.append(host)
        by_name[name.lower()] = host

    def server_ref(name: str, where: str, *, kinds: tuple[str, ...] = ("exchange",)) -> dict:
        h = by_name.get(str(name).lower())
        if h is None:
            ctx.fail(where, f"unknown server '{name}'")
        if h["kind"] not in kinds:
            ctx.fail(where, f"'{name}' is a {h['kind']} host, not {' or '.join(kinds)}")
        return h

    # -- DAGs ----------------------------------------------------------------
    dags: list[dict] = []
    dag_of: dict[str, str] = {}
    for i, d in enumerate(data.get("dags") or []):
        where = f"dags[{i}]"
        ctx.check(d, "dag", where)
        name = d["name"]
        where = f"dags[{i}] ({name})"
        if not _NAME_RE.match(name):
            ctx.fail(where, f"invalid DAG name '{name}' (1-15 letters, digits or '-')")
        if name.lower() in by_name or any(x["name"].lower() == name.lower() for x in dags):
            ctx.fail(where, f"duplicate name '{name}'")
        members = []
        for j, m in enumerate(d["members"]):
            h = server_ref(m, f"{where}.members[{j}]")
            if h["version"] == "2007":
                ctx.fail(f"{where}.members[{j}]", f"'{h['name']}' is an Exchange 2007 server (declare it under exchange2007:)")
            if h["name"].lower() in dag_of:
                ctx.fail(
                    f"{where}.members[{j}]",
                    f"server '{h['name']}' is already a member of DAG '{dag_of[h['name'].lower()]}'",
                )
            dag_of[h["name"].lower()] = name
            members.append(h["name"])
        if not members:
            ctx.fail(f"{where}.members", "a DAG needs at least one member")
        versions = {by_name[m.lower()]["version"] for m in members}
        if len(versions) > 1:
            ctx.fail(f"{where}.members", f"members mix Exchange versions {sorted(versions)}")
        witness = server_ref(d["witness_server"], f"{where}.witness_server", kinds=("fileserver", "dc", "exchange"))
        alt = None
        if d.get("alternate_witness_server"):
            alt = server_ref(
                d["alternate_witness_server"],
                f"{where}.alternate_witness_server",
                kinds=("fileserver", "dc", "exchange"),
            )
            if not d.get("alternate_witness_directory"):
                ctx.fail(where, "missing field 'alternate_witness_directory' (alternate_witness_server is set)")
        elif d.get("alternate_witness_directory"):
            ctx.fail(where, "alternate_witness_directory is set without alternate_witness_server")
        for w in (witness, alt):
            if w is not None and w["name"] in members:
                ctx.fail(where, f"witness server '{w['name']}' cannot be a member of the DAG")
        ips = []
        for j, a in enumerate(d.get("ip_addresses") or []):
            try:
                ips.append(str(ipaddress.ip_address(str(a))))
            except ValueError:
                ctx.fail(f"{where}.ip_addresses[{j}]", f"invalid IP address '{a}'")
        networks = []
        for j, n in enumerate(d.get("networks") or []):
            nwhere = f"{where}.networks[{j}]"
            ctx.check(n, "network", nwhere)
            if any(x["name"].lower() == n["name"].lower() for x in networks):
                ctx.fail(nwhere, f"duplicate network name '{n['name']}'")
            subnets = []
            for k, sn in enumerate(n["subnets"]):
                try:
                    subnets.append(str(ipaddress.ip_network(str(sn), strict=True)))
                except ValueError as exc:
                    ctx.fail(f"{nwhere}.subnets[{k}]", f"invalid subnet: {exc}")
            for other in networks:
                clash = set(subnets) & set(other["subnets"])
                if clash:
                    ctx.fail(nwhere, f"subnet {sorted(clash)[0]} is already in network '{other['name']}'")
            networks.append(
                {
                    "name": n["name"],
                    "description": n.get("description", ""),
                    "subnets": subnets,
                    "replication_enabled": n.get("replication_enabled", True),
                    "ignore_network": n.get("ignore_network", False),
                    "mapi_access_enabled": n.get("mapi_access_enabled", False),
                }
            )
        pam = d.get("pam")
        if pam is not None:
            pam_host = server_ref(pam, f"{where}.pam")
            if pam_host["name"] not in members:
                ctx.fail(f"{where}.pam", f"'{pam}' is not a member of {name}")
            pam = pam_host["name"]
        dags.append(
            {
                "name": name,
                "members": members,
                "witness_server": witness["name"],
                "witness_directory": d["witness_directory"],
                "alternate_witness_server": alt["name"] if alt else None,
                "alternate_witness_directory": d.get("alternate_witness_directory"),
                "datacenter_activation_mode": ctx.choice(
                    d.get("datacenter_activation_mode", "Off"), DAC_MODES, f"{where}.datacenter_activation_mode"
                ),
                "ip_addresses": ips,
                "networks": networks,
                "manual_network_configuration": d.get("manual_network_configuration", False),
                "replication_port": d.get("replication_port", 64327),
                "network_compression": ctx.choice(
                    d.get("network_compression", "InterSubnetOnly"), NETWORK_MODES, f"{where}.network_compression"
                ),
                "network_encryption": ctx.choice(
                    d.get("network_encryption", "InterSubnetOnly"), NETWORK_MODES, f"{where}.network_encryption"
                ),
                "auto_reseed": d.get("auto_reseed", True),
                "pam": pam or members[0],
            }
        )

    # -- databases -----------------------------------------------------------
    raw_dbs = list(data.get("databases") or [])
    gen = ctx.check(data.get("generate") or {}, "generate", "generate")
    for i, g in enumerate(gen.get("databases") or []):
        where = f"generate.databases[{i}]"
        ctx.check(g, "dbgen", where)
        groups: list[list[str]] = []
        for j, grp in enumerate(g["groups"]):
            if not isinstance(grp, list) or not grp:
                ctx.fail(f"{where}.groups[{j}]", "must be a non-empty list of servers")
            groups.append([server_ref(s, f"{where}.groups[{j}][{k}]")["name"] for k, s in enumerate(grp)])
        if not groups:
            ctx.fail(f"{where}.groups", "needs at least one group of servers")
        all_servers = [s for grp in groups for s in grp]
        if len(set(all_servers)) != len(all_servers):
            ctx.fail(f"{where}.groups", "a server appears twice")
        per = g["copies_per_group"]
        if not 1 <= per <= min(len(grp) for grp in groups):
            ctx.fail(f"{where}.copies_per_group", "must be between 1 and the size of the smallest group")
        if g["count"] < 0:
            ctx.fail(f"{where}.count", "must not be negative")
        start, digits = g.get("start", 1), g.get("digits", 2)
        ng = len(groups)
        for k in range(g["count"]):
            # database k is active in group k % ng; its copies rotate through each group
            first, idx = k % ng, k // ng
            placed: list[str] = []
            for j in range(ng):
                grp = groups[(first + j) % ng]
                placed.extend(grp[(idx + c) % len(grp)] for c in range(per))
            entry = {
                "name": f"{g['prefix']}{start + k:0{digits}d}",
                "copies": [{"server": s, "preference": p + 1} for p, s in enumerate(placed)],
            }
            if "size_gb" in g:
                entry["size_gb"] = g["size_gb"]
            raw_dbs.append(entry)

    databases = []
    seen_db: set[str] = set()
    for i, db in enumerate(raw_dbs):
        where = f"databases[{i}]"
        ctx.check(db, "database", where)
        name = db["name"]
        where = f"databases[{i}] ({name})"
        if name.lower() in seen_db:
            ctx.fail(where, f"duplicate database name '{name}'")
        seen_db.add(name.lower())
        if not db["copies"]:
            ctx.fail(f"{where}.copies", "a database needs at least one copy")
        copies = []
        prefs = set()
        for j, c in enumerate(db["copies"]):
            cwhere = f"{where}.copies[{j}]"
            ctx.check(c, "copy", cwhere)
            h = server_ref(c["server"], f"{cwhere}.server")
            if h["version"] == "2007":
                ctx.fail(f"{cwhere}.server", f"'{h['name']}' is an Exchange 2007 server (declare it under exchange2007:)")
            if any(x["server"] == h["name"] for x in copies):
                ctx.fail(cwhere, f"second copy on server '{h['name']}'")
            pref = c["preference"]
            if pref in prefs:
                ctx.fail(f"{cwhere}.preference", f"activation preference {pref} used twice")
            prefs.add(pref)
            lags = {}
            for key in ("replay_lag", "truncation_lag"):
                try:
                    lags[key] = parse_timespan(c[key]) if c.get(key) else 0.0
                except ValueError as exc:
                    ctx.fail(f"{cwhere}.{key}", str(exc))
            if lags["replay_lag"] > 14 * 86400:
                ctx.fail(f"{cwhere}.replay_lag", "the maximum replay lag is 14.00:00:00")
            copies.append(
                {
                    "server": h["name"],
                    "preference": pref,
                    **lags,
                    "replay_queue": c.get("replay_queue", 0),
                    "copy_queue": c.get("copy_queue", 0),
                }
            )
        if sorted(prefs) != list(range(1, len(copies) + 1)):
            ctx.fail(where, f"activation preferences must be 1..{len(copies)}, got {sorted(prefs)}")
        copies.sort(key=lambda c: c["preference"])
        dags_of = {dag_of.get(c["server"].lower()) for c in copies}
        if len(copies) > 1:
            if None in dags_of or len(dags_of) != 1:
                ctx.fail(where, "copies of a replicated database must all be on servers of one DAG")
        dag = dags_of.pop() if len(dags_of) == 1 else None
        active = copies[0]["server"]
        if db.get("active"):
            a = server_ref(db["active"], f"{where}.active")["name"]
            if a not in [c["server"] for c in copies]:
                ctx.fail(f"{where}.active", f"'{a}' holds no copy of {name}")
            active = a
        databases.append(
            {
                "name": name,
                "dag": dag,
                "copies": copies,
                "active": active,
                "mounted": db.get("mounted", True),
                "size_gb": float(db.get("size_gb", 1.5)),
                "edb_path": db.get("edb_path") or f"D:\\Databases\\{name}\\{name}.edb",
                "log_path": db.get("log_path") or f"E:\\Logs\\{name}",
            }
        )

    # -- DNS -----------------------------------------------------------------
    zones = []
    dns = data.get("dns")
    if dns is not None:
        ctx.check(dns, "dns", "dns")
        for i, z in enumerate(dns["zones"]):
            where = f"dns.zones[{i}]"
            ctx.check(z, "zone", where)
            zname = z["name"].lower()
            servers = [
                server_ref(s, f"{where}.servers[{j}]", kinds=("dc", "dns"))["name"] for j, s in enumerate(z["servers"])
            ]
            records = []
            for j, r in enumerate(z.get("records") or []):
                rwhere = f"{where}.records[{j}]"
                ctx.check(r, "record", rwhere)
                rtype = ctx.choice(r["type"], RECORD_TYPES, f"{rwhere}.type")
                if rtype == "A":
                    try:
                        ipaddress.IPv4Address(r["data"])
                    except ValueError:
                        ctx.fail(f"{rwhere}.data", f"invalid IPv4 address '{r['data']}'")
                if r["ttl"] < 0:
                    ctx.fail(f"{rwhere}.ttl", "must not be negative")
                records.append({"name": r["name"].lower(), "type": rtype, "data": r["data"], "ttl": r["ttl"]})
            reg = z.get("register_hosts")
            if reg is not None:
                ctx.check(reg, "register_hosts", f"{where}.register_hosts")
                have = {(r["name"], r["type"]) for r in records}
                for h in hosts:
                    if h["fqdn"].endswith("." + zname):
                        rel = h["fqdn"][: -len(zname) - 1]
                        if (rel, "A") not in have:
                            records.append(
                                {"name": rel, "type": "A", "data": h["ip"], "ttl": reg["ttl"], "dynamic": True}
                            )
            zones.append({"name": zname, "servers": servers, "records": records})

    result = {
        "name": data["name"],
        "description": data.get("description", ""),
        "source": source,
        "org": {"name": org["name"], "domain": domain, "netbios": netbios},
        "users": users,
        "sites": list(sites.values()),
        "hosts": hosts,
        "dags": dags,
        "databases": databases,
        "dns": {"zones": zones},
    }
    if data.get("exchange2007") is not None:
        from .e2007 import validate_spec  # the Exchange 2007 SP1 block (model/e2007.py)

        result["exchange2007"] = validate_spec(data["exchange2007"], ctx, hosts)
    return result
