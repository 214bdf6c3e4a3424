# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rehearsal twins: an organization's topology as an exchange.dr lab topology file.

Internal to exchange.dr: no stable API, for the collection's own modules only.

The file follows the lab's topology schema (``lab/README-model.md``) with the capture marker
``capture: {format: exchange.dr/twin, version: 1, ...}`` first and ``end_of_capture: true``
last; the lab refuses another format, a newer version and a file without the end marker
(``lab/exchange_lab/model/twin.py``: change both together).

* :func:`read_exchange_extras` / :func:`read_windows` read what ``exchange_info`` does not
  return (organization name, NetBIOS name, Exchange 2007 storage groups, mailboxes, OABs and
  CNO permissions; AD computers and the DNS zone), one round trip per kind.
* :func:`build` turns the facts into the topology (pure), :func:`apply_supplement` merges what
  no endpoint exposes (given by the operator), :func:`pseudonymise` renames consistently and
  :func:`render` writes the YAML text.  No password or other secret is ever put in the file:
  users are listed with their roles only (the lab gives them its lab-only demo password).
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections import Counter

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError

FORMAT = "exchange.dr/twin"
VERSION = 1
DEFAULT_USERS = (
    {"name": "administrator", "roles": ["Organization Management"]},
    {"name": "viewer", "roles": ["View-Only Organization Management"]},
)
TOP_ORDER = ("capture", "name", "description", "org", "users", "sites", "hosts", "dags", "databases", "dns",
             "exchange2007", "end_of_capture")
# Values under these keys are enumerations, versions or roles: never renamed.
FIXED_KEYS = frozenset((
    "format", "version", "kind", "roles", "build", "windows", "type", "auto_activation_policy", "mount_dial",
    "content_index_state", "component", "requester", "state", "datacenter_activation_mode", "network_compression",
    "network_encryption", "captured_at", "end_of_capture", "pseudonymised", "source", "replay_lag",
    "truncation_lag", "ip", "replication_ip", "ip_addresses", "subnets",
))
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")


class TwinError(ValueError):
    """Unusable input or an incomplete capture: the message names the option or the object."""


# ------------------------------------------------------------------------------ reads
def read_exchange_extras(client, e2007: bool, cms_names: list) -> dict:
    """Organization name (from a server's ExchangeLegacyDN ``/o=<org>/...``), the NetBIOS
    domain (from the ACEs of the first server or clustered mailbox server) and, for Exchange
    2007, storage groups, mailboxes, offline address books and the CNOs with Full Control on
    each clustered mailbox server's computer object."""
    out = {"org_name": None, "netbios": None}
    rows = client.invoke("Get-ExchangeServer", select=["Name", "ExchangeLegacyDN"])
    for row in rows:
        m = re.match(r"^/o=([^/]+)/", c.text(row.get("ExchangeLegacyDN")) or "")
        if m:
            out["org_name"] = m.group(1)
            break
    targets = list(cms_names) if e2007 else [c.text(rows[0].get("Name"))] if rows else []
    aces = client.invoke("Get-ADPermission", select=["Identity", "User", "AccessRights", "Deny", "IsInherited"],
                         input=targets) if targets else []
    domains = Counter()
    full = {}
    for ace in aces:
        user = c.text(ace.get("User")) or ""
        if "\\" in user:
            dom, account = user.split("\\", 1)
            if dom.upper() not in ("NT AUTHORITY", "BUILTIN"):
                domains[dom.upper()] += 1
            rights = [str(r) for r in c.as_list(ace.get("AccessRights"))]
            if account.endswith("$") and "GenericAll" in rights and not c.boolean(ace.get("Deny")) \
                    and not c.boolean(ace.get("IsInherited")):
                identity = c.name(ace.get("Identity")) or ""
                full.setdefault(identity.lower(), []).append(account[:-1])
    if domains:
        out["netbios"] = domains.most_common(1)[0][0]
    if e2007:
        out["full_control"] = full
        out["storage_groups"] = [
            {"identity": c.text(r.get("Identity")), "name": c.text(r.get("Name")), "server": c.server_name(r.get("Server")),
             "standby": [{"machine": c.server_name(c.prop(s, "NodeName")),
                          "replay_lag": c.timespan_text(c.prop(s, "ReplayLagTime")),
                          "truncation_lag": c.timespan_text(c.prop(s, "TruncationLagTime"))}
                         for s in c.as_list(r.get("StandbyMachines"))]}
            for r in client.invoke("Get-StorageGroup", select=["Identity", "Name", "Server", "StandbyMachines"])]
        out["mailboxes"] = [{"alias": c.text(r.get("Alias")), "database": c.text(r.get("Database"))}
                            for r in client.invoke("Get-Mailbox", {"ResultSize": "Unlimited"},
                                                   select=["Alias", "Database"])]
        out["offline_address_books"] = [
            {"name": c.text(r.get("Name")), "server": c.server_name(r.get("Server")),
             "virtual_directories": [str(v).split("\\", 1)[0] for v in c.as_list(r.get("VirtualDirectories"))]}
            for r in client.invoke("Get-OfflineAddressBook", select=["Name", "Server", "VirtualDirectories"])]
    return out


def windows_label(operating_system) -> str | None:
    """``Windows Server 2012 R2 Datacenter`` -> ``WS2012R2``."""
    m = re.search(r"Windows Server (\d{4})( R2)?", operating_system or "")
    return "WS%s%s" % (m.group(1), "R2" if m.group(2) else "") if m else None


def read_windows(client, zone: str) -> tuple:
    """AD computers (``Get-ADComputer -Filter *``) and the A/CNAME records of ``zone``
    (``Get-DnsServerResourceRecord``) through a domain controller's Windows endpoint.  Returns
    ``(windows, problems)``; a cmdlet the host does not have (Windows Server 2008 has neither
    module) is a problem, not a failure."""
    out, problems = {"computers": None, "records": None}, []

    def invoke(cmdlet, params, select):
        try:
            return client.invoke(cmdlet, params, select=select, errors="return")
        except ExchangeCommandError as exc:
            if exc.error_id != "CommandNotFoundException":
                raise
            return [], ["%s is not available on this host (Windows Server 2008 has neither the ActiveDirectory "
                        "nor the DnsServer module): give these hosts and records in supplement" % cmdlet]
    rows, errors = invoke("Get-ADComputer", {"Filter": "*", "Properties": ["OperatingSystem", "IPv4Address"]},
                          ["Name", "DNSHostName", "OperatingSystem", "IPv4Address", "DistinguishedName"])
    if errors:
        problems.append(errors[0] if isinstance(errors[0], str) else "Get-ADComputer: %s" % errors[0])
    else:
        out["computers"] = [{"name": c.text(r.get("Name")), "fqdn": (c.text(r.get("DNSHostName")) or "").lower() or None,
                             "windows": windows_label(c.text(r.get("OperatingSystem"))),
                             "ip": c.text(r.get("IPv4Address")),
                             "dc": "OU=Domain Controllers," in (c.text(r.get("DistinguishedName")) or "")}
                            for r in rows]
    rows, errors = invoke("Get-DnsServerResourceRecord", {"ZoneName": zone},
                          ["HostName", "RecordType", "RecordData", "TimeToLive", "Timestamp"])
    if errors:
        problems.append(errors[0] if isinstance(errors[0], str) else
                        "Get-DnsServerResourceRecord -ZoneName %s: %s" % (zone, errors[0]))
    else:
        records = []
        for r in rows:
            rtype = c.text(r.get("RecordType"))
            if rtype not in ("A", "CNAME"):
                continue
            data = r.get("RecordData")
            value = c.prop(data, "IPv4Address" if rtype == "A" else "HostNameAlias") if isinstance(data, dict) else data
            ttl = c.timespan_seconds(r.get("TimeToLive"))
            records.append({"name": (c.text(r.get("HostName")) or "").lower(), "type": rtype, "data": c.text(value),
                            "ttl": int(ttl) if ttl is not None else 3600, "dynamic": r.get("Timestamp") is not None})
        out["records"] = records
    return out, problems


# ------------------------------------------------------------------------------ build
def _short(name) -> str | None:
    return name.split(".", 1)[0] if name else None


def _lag(value) -> str | None:
    seconds = c.timespan_seconds(value) if value else 0
    return c.timespan_text(seconds) if seconds else None


def _components(rows: list) -> dict:
    """{server: [entries]} from exchange_info components: the requester entries, a requester
    present locally and remotely with the same state as one entry; otherwise older first."""
    out = {}
    for row in rows:
        local = {e["requester"].lower(): e for e in row.get("local_states") or []}
        remote = {e["requester"].lower(): e for e in row.get("remote_states") or []}
        entries = []
        for key in list(dict.fromkeys(list(local) + list(remote))):
            lo, re_ = local.get(key), remote.get(key)
            if lo and re_ and lo["state"] == re_["state"]:
                entries.append((lo.get("timestamp") or "", {"requester": lo["requester"], "state": lo["state"]}))
                continue
            for e, where in ((lo, "local"), (re_, "remote")):
                if e:
                    entry = {"requester": e["requester"], "state": e["state"], "local": where == "local",
                             "remote": where == "remote"}
                    entries.append((e.get("timestamp") or "", entry))
        entries.sort(key=lambda pair: pair[0])
        for _ts, entry in entries:
            out.setdefault(row["server"].lower(), []).append({"component": row["component"], **entry})
    return out


def _nearest_site(ip, sites_by_ip: list) -> str | None:
    """The site of the Exchange server whose address shares the longest prefix with ``ip``."""
    try:
        addr = int(ipaddress.IPv4Address(ip))
    except (ipaddress.AddressValueError, ValueError, TypeError):
        return None
    best, best_len = None, -1
    for other, site in sites_by_ip:
        common = 32 - (addr ^ int(ipaddress.IPv4Address(other))).bit_length()
        if common > best_len:
            best, best_len = site, common
    return best


def build(facts: dict, extras: dict, windows: dict | None, name: str, description: str | None = None,
          users=DEFAULT_USERS) -> dict:
    """The topology (lab schema, capture format) of an organization from ``exchange_info`` facts,
    :func:`read_exchange_extras` and :func:`read_windows` results (``windows`` None: not read)."""
    servers = facts.get("servers") or []
    e2007 = any(str(s.get("product")) == "2007" for s in servers)
    windows = windows or {}
    computers = {(x["name"] or "").lower(): x for x in windows.get("computers") or [] if x.get("name")}
    fqdns = [s["fqdn"] for s in servers if s.get("fqdn") and "." in s["fqdn"]]
    if not fqdns:
        raise TwinError("facts: no server with an FQDN; pass the result of exchange.dr.exchange_info with "
                        "gather_subset all (or at least servers)")
    domain = fqdns[0].split(".", 1)[1].lower()
    netbios = extras.get("netbios") or domain.split(".")[0].upper()[:15]
    org_name = extras.get("org_name") or domain.split(".")[0].capitalize()

    hosts, by_name = [], {}

    def add_host(entry):
        if entry["name"].lower() not in by_name:
            hosts.append(entry)
            by_name[entry["name"].lower()] = entry
        return by_name[entry["name"].lower()]

    def fqdn_key(h, fqdn):
        if fqdn and fqdn.lower() != "%s.%s" % (h["name"].lower(), domain):
            h["fqdn"] = fqdn.lower()

    # network interfaces: MAPI address and first replication-only address per node
    mapi_ip, repl_ip = {}, {}
    for net in facts.get("networks") or []:
        target = mapi_ip if net.get("mapi_access_enabled") else repl_ip
        for itf in net.get("interfaces") or []:
            if itf.get("node") and itf.get("ip_address"):
                target.setdefault(itf["node"].lower(), itf["ip_address"])
    records = windows.get("records") or []
    record_ip = {}
    for r in records:
        if r["type"] == "A":
            record_ip.setdefault(r["name"], r["data"])

    def ip_of(host_name):
        key = host_name.lower()
        comp = computers.get(key) or {}
        return mapi_ip.get(key) or comp.get("ip") or record_ip.get(key)

    components = _components(facts.get("components") or [])
    queues = {}
    for q in facts.get("queues") or []:
        kind = "submission" if (q.get("next_hop_domain") or "").lower() == "submission" or \
            (q.get("identity") or "").lower().endswith("\\submission") else \
            "shadow" if (q.get("delivery_type") or "") == "ShadowRedundancy" else None
        if kind and q.get("server"):
            per = queues.setdefault(q["server"].lower(), {"submission": 0, "shadow": 0})
            per[kind] += int(q.get("message_count") or 0)
    ci = {}
    for cp in facts.get("copies") or []:
        if cp.get("content_index_state") and cp.get("server") and cp.get("status") not in ("ServiceDown",):
            ci.setdefault(cp["server"].lower(), Counter())[cp["content_index_state"]] += 1

    cms_names = {cms["name"].lower() for cms in facts.get("clustered_mailbox_servers") or []}
    site_of_server = {}
    build_2007 = None
    for s in servers:
        site_of_server[s["name"].lower()] = s.get("site")
        if e2007:
            build_2007 = build_2007 or s.get("admin_display_version")
            if s["name"].lower() in cms_names or s.get("redundant_machines"):
                continue  # a clustered mailbox server is exchange2007 data; its nodes are hosts
        h = {"name": s["name"], "kind": "exchange", "site": s.get("site"), "version": str(s.get("product")),
             "build": s.get("admin_display_version"), "ip": ip_of(s["name"])}
        if s["name"].lower() in repl_ip:
            h["replication_ip"] = repl_ip[s["name"].lower()]
        fqdn_key(h, s.get("fqdn"))
        h["roles"] = list(s.get("roles") or [])
        comp = computers.get(s["name"].lower())
        if comp and comp.get("windows"):
            h["windows"] = comp["windows"]
        elif e2007:
            h["windows"] = "WS2008"
        if not e2007:
            h["mailbox"] = {"auto_activation_policy": s.get("database_copy_auto_activation_policy") or "Unrestricted",
                            "activation_disabled_and_move_now": bool(s.get("database_copy_activation_disabled_and_move_now")),
                            "mount_dial": s.get("auto_database_mount_dial") or "GoodAvailability",
                            "max_active": s.get("maximum_active_databases"),
                            "max_preferred_active": s.get("maximum_preferred_active_databases")}
            h["queues"] = queues.get(s["name"].lower(), {"submission": 0, "shadow": 0})
            states = ci.get(s["name"].lower())
            if states:
                h["content_index_state"] = states.most_common(1)[0][0]
            if components.get(s["name"].lower()):
                h["components"] = components[s["name"].lower()]
        add_host(h)

    # Exchange 2007: the CMS nodes and SCR machines are hosts (Mailbox role)
    sgs = extras.get("storage_groups") or []
    if e2007:
        for s in servers:
            for node in s.get("redundant_machines") or []:
                add_host({"name": node, "kind": "exchange", "site": s.get("site"), "version": "2007",
                          "build": s.get("admin_display_version"), "ip": ip_of(node), "roles": ["Mailbox"],
                          "windows": (computers.get(node.lower()) or {}).get("windows") or "WS2008"})
        for sg in sgs:
            for sb in sg["standby"]:
                add_host({"name": sb["machine"], "kind": "exchange", "site": None, "version": "2007",
                          "build": build_2007, "ip": ip_of(sb["machine"]), "roles": ["Mailbox"],
                          "windows": (computers.get(sb["machine"].lower()) or {}).get("windows") or "WS2008"})

    dag_names = {d["name"].lower() for d in facts.get("dags") or []}
    # witnesses and the other Windows hosts (domain controllers, file servers) from AD
    exchange_ips = [(h["ip"], h["site"]) for h in hosts if h.get("ip") and h.get("site")]
    skip = dag_names | cms_names
    for key, comp in computers.items():
        if key in by_name or key in skip or not comp.get("ip"):
            continue
        label = comp.get("windows") or "WS2019"
        h = {"name": comp["name"], "kind": "dc" if comp.get("dc") else "fileserver",
             "site": _nearest_site(comp["ip"], exchange_ips), "version": label, "ip": comp["ip"]}
        fqdn_key(h, comp.get("fqdn"))
        add_host(h)
    for d in facts.get("dags") or []:
        for key in ("witness_server", "alternate_witness_server"):
            short = _short(d.get(key))
            if short and short.lower() not in by_name:
                add_host({"name": short, "kind": "fileserver", "site": None, "version": "WS2019", "ip": None})
    for h in hosts:  # 2007 standby machines: the site of the nearest known address
        if h["site"] is None and h.get("ip"):
            h["site"] = _nearest_site(h["ip"], [(x["ip"], x["site"]) for x in hosts if x.get("ip") and x.get("site")])

    sites = []
    for h in hosts:
        if h.get("site") and h["site"] not in [s["name"] for s in sites]:
            sites.append({"name": h["site"]})

    # DAGs and their networks
    dags = []
    for d in facts.get("dags") or []:
        entry = {"name": d["name"], "members": list(d.get("servers") or []),
                 "witness_server": _short(d.get("witness_server")), "witness_directory": d.get("witness_directory")}
        if d.get("alternate_witness_server"):
            entry["alternate_witness_server"] = _short(d["alternate_witness_server"])
            entry["alternate_witness_directory"] = d.get("alternate_witness_directory")
        entry.update({
            "datacenter_activation_mode": d.get("datacenter_activation_mode") or "Off",
            "ip_addresses": list(d.get("ip_addresses") or []),
            "manual_network_configuration": bool(d.get("manual_dag_network_configuration")),
            "replication_port": d.get("replication_port") or 64327,
            "network_compression": d.get("network_compression") or "InterSubnetOnly",
            "network_encryption": d.get("network_encryption") or "InterSubnetOnly",
        })
        if d.get("primary_active_manager"):
            entry["pam"] = d["primary_active_manager"]
        nets = [n for n in facts.get("networks") or [] if (n.get("dag") or "").lower() == d["name"].lower()]
        if nets:
            entry["networks"] = [{"name": n["name"], "subnets": [s["subnet"] for s in n.get("subnets") or []],
                                  "description": n.get("description") or "",
                                  "mapi_access_enabled": bool(n.get("mapi_access_enabled")),
                                  "replication_enabled": bool(n.get("replication_enabled")),
                                  "ignore_network": bool(n.get("ignore_network"))} for n in nets]
        dags.append(entry)

    # databases with their copies (2010+)
    databases = []
    copy_rows = {}
    for cp in facts.get("copies") or []:
        if cp.get("kind") is None and cp.get("database") and cp.get("server"):
            copy_rows[(cp["database"].lower(), cp["server"].lower())] = cp
    if not e2007:
        for db in facts.get("databases") or []:
            prefs = db.get("activation_preference") or {}
            order = sorted(prefs, key=lambda srv: prefs[srv]) if prefs else list(db.get("servers") or [db.get("server")])
            copies = []
            for n, srv in enumerate(order):
                entry = {"server": srv, "preference": prefs.get(srv, n + 1)}
                for key, facts_key in (("replay_lag", "replay_lag_times"), ("truncation_lag", "truncation_lag_times")):
                    lag = _lag((db.get(facts_key) or {}).get(srv))
                    if lag:
                        entry[key] = lag
                row = copy_rows.get((db["name"].lower(), srv.lower())) or {}
                if not row.get("active"):
                    for key, facts_key in (("copy_queue", "copy_queue_length"), ("replay_queue", "replay_queue_length")):
                        if row.get(facts_key):
                            entry[key] = int(row[facts_key])
                copies.append(entry)
            entry = {"name": db["name"], "copies": copies, "active": db.get("server"), "mounted": bool(db.get("mounted"))}
            if db.get("database_size") is not None:
                entry["size_gb"] = round(db["database_size"] / 1024 ** 3, 6)
            entry["edb_path"] = db.get("edb_file_path")
            entry["log_path"] = db.get("log_folder_path")
            databases.append({k: v for k, v in entry.items() if v is not None})

    topo = {"capture": {"format": FORMAT, "version": VERSION}, "name": name}
    if description:
        topo["description"] = description
    topo.update({
        "org": {"name": org_name, "domain": domain, "netbios": netbios},
        "users": [{"name": "%s\\%s" % (netbios, u["name"]), "upn": "%s@%s" % (u["name"], domain),
                   "roles": list(u["roles"])} for u in users],
        "sites": sites, "hosts": hosts,
    })
    if dags:
        topo["dags"] = dags
    if databases:
        topo["databases"] = databases

    # DNS: the organization's zone as a domain controller serves it
    if windows.get("records") is not None:
        dcs = [h["name"] for h in hosts if h["kind"] == "dc"]
        registered, explicit = [], []
        host_ips = {h["name"].lower(): h.get("ip") for h in hosts}
        auto_2007 = cms_names | {cl.lower() for cl in extras.get("cluster_names") or []}
        cms_ttl = {}
        for r in records:
            if r["dynamic"] and r["type"] == "A" and r["name"] in host_ips and host_ips[r["name"]] == r["data"]:
                registered.append(r)
            elif r["name"] in cms_names and r["type"] == "A":
                cms_ttl[r["name"]] = r["ttl"]
            elif r["name"] in auto_2007 and r["dynamic"]:
                continue
            else:
                explicit.append({"name": r["name"], "type": r["type"], "data": r["data"], "ttl": r["ttl"]})
        zone = {"name": domain, "servers": dcs}
        if registered:
            ttl = Counter(r["ttl"] for r in registered).most_common(1)[0][0]
            zone["register_hosts"] = {"ttl": ttl}
            explicit = [{"name": r["name"], "type": "A", "data": r["data"], "ttl": r["ttl"]}
                        for r in registered if r["ttl"] != ttl] + explicit
        if explicit:
            zone["records"] = explicit
        if dcs:
            topo["dns"] = {"zones": [zone]}
        extras = dict(extras, cms_ttl=cms_ttl)

    if e2007:
        topo["exchange2007"] = _build_2007(facts, extras)
    topo["end_of_capture"] = True
    return topo


def _build_2007(facts: dict, extras: dict) -> dict:
    mailboxes = {}
    for mb in extras.get("mailboxes") or []:
        mailboxes.setdefault((mb["database"] or "").lower(), []).append(mb["alias"])
    dbs_by_sg = {}
    for db in facts.get("databases") or []:
        if db.get("storage_group"):
            dbs_by_sg.setdefault(db["storage_group"].lower(), []).append(db["name"])
    sgs_by_cms = {}
    for sg in extras.get("storage_groups") or []:
        sgs_by_cms.setdefault((sg["server"] or "").lower(), []).append(sg)
    full = extras.get("full_control") or {}
    cms_list = []
    for cms in facts.get("clustered_mailbox_servers") or []:
        entry = {"name": cms["name"], "active_node": cms.get("active_node")}
        controls = full.get(cms["name"].lower())
        if controls is None:
            controls = next((v for k, v in full.items() if k.startswith("cn=%s," % cms["name"].lower())), None)
        if controls:
            entry["full_control"] = sorted(set(controls), key=str.lower)
        ttl = (extras.get("cms_ttl") or {}).get(cms["name"].lower())
        if ttl:
            entry["host_record_ttl"] = ttl
        groups = []
        for sg in sgs_by_cms.get(cms["name"].lower(), []):
            databases = []
            for db in dbs_by_sg.get(sg["identity"].lower(), []):
                dbentry = {"name": db}
                boxes = mailboxes.get(("%s\\%s" % (sg["identity"], db)).lower())
                if boxes:
                    dbentry["mailboxes"] = boxes
                databases.append(dbentry)
            group = {"name": sg["name"], "databases": databases}
            if sg["standby"]:
                group["scr"] = [{"machine": s["machine"], "replay_lag": s["replay_lag"] or "00:00:00",
                                 "truncation_lag": s["truncation_lag"] or "00:00:00"} for s in sg["standby"]]
            groups.append(group)
        entry["storage_groups"] = groups
        cms_list.append(entry)
    block = {"clustered_mailbox_servers": cms_list}
    if extras.get("offline_address_books"):
        block["offline_address_books"] = extras["offline_address_books"]
    return block


# ------------------------------------------------------------------------- supplement
def _merge(base, extra, where: str):
    """``extra`` merged into ``base``: mappings key by key, lists of named mappings by name
    (unknown names appended), anything else replaced."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = _merge(base[key], value, "%s.%s" % (where, key)) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(extra, list) and all(isinstance(x, dict) and "name" in x for x in extra) \
            and all(isinstance(x, dict) and "name" in x for x in base):
        out = [dict(x) for x in base]
        index = {str(x["name"]).lower(): i for i, x in enumerate(out)}
        for item in extra:
            i = index.get(str(item["name"]).lower())
            if i is None:
                out.append(copy.deepcopy(item))
            else:
                out[i] = dict(_merge(out[i], item, "%s[%s]" % (where, item["name"])), name=out[i]["name"])
        return out
    return copy.deepcopy(extra)


def apply_supplement(topo: dict, supplement: dict | None) -> dict:
    """The topology with the operator's ``supplement`` merged in (what no endpoint exposes:
    site subnets, Windows Server 2008 hosts, Exchange 2007 clusters, update rollups ...)."""
    if not supplement:
        return topo
    if not isinstance(supplement, dict):
        raise TwinError("supplement: must be a mapping in the lab topology schema")
    for key in ("capture", "end_of_capture"):
        if key in supplement:
            raise TwinError("supplement: '%s' is written by the capture itself; remove it" % key)
    merged = _merge(topo, supplement, "supplement")
    return {key: merged[key] for key in list(TOP_ORDER) + [k for k in merged if k not in TOP_ORDER] if key in merged}


def check_complete(topo: dict) -> None:
    """Fail on what the lab would refuse because the capture could not read it, naming the
    object and the option that can provide it."""
    for h in topo.get("hosts") or []:
        for key in ("ip", "site"):
            if not h.get(key):
                raise TwinError(
                    "host %s: no %s could be read (%s); give it in supplement, e.g. supplement: {hosts: "
                    "[{name: %s, %s: ...}]}, or let the capture read AD and DNS through domain_controller"
                    % (h["name"], "IP address" if key == "ip" else "AD site",
                       "no AD computer account or DNS record seen" if key == "ip" else "its address matches no site",
                       h["name"], key))
    block = topo.get("exchange2007")
    if block:
        clusters = block.get("clusters") or []
        for cms in block.get("clustered_mailbox_servers") or []:
            for key in ("cluster", "ip"):
                if not cms.get(key):
                    raise TwinError(
                        "clustered mailbox server %s: its %s is not exposed by Exchange 2007 or Windows Server 2008; "
                        "give it in supplement: {exchange2007: {clustered_mailbox_servers: [{name: %s, %s: ...}], "
                        "clusters: [...]}}" % (cms["name"], key, cms["name"], key))
        if not clusters:
            raise TwinError("exchange2007: no failover clusters (their names and addresses are not exposed by "
                            "Windows Server 2008); give them in supplement: {exchange2007: {clusters: [{name, nodes, ip}]}}")


# ----------------------------------------------------------------------- pseudonyms
def _names(topo: dict) -> dict:
    """Names to pseudonymise by category, in order of appearance."""
    cats = {k: [] for k in ("site", "exchange", "dc", "fileserver", "dns", "dag", "cluster", "cms", "database",
                            "storage_group", "mailbox", "oab", "org", "netbios", "domain")}
    seen = set()

    def add(cat, value):
        if value and (cat, str(value).lower()) not in seen:
            seen.add((cat, str(value).lower()))
            cats[cat].append(str(value))
    org = topo.get("org") or {}
    add("org", org.get("name"))
    add("netbios", org.get("netbios"))
    add("domain", org.get("domain"))
    for s in topo.get("sites") or []:
        add("site", s["name"])
    for h in topo.get("hosts") or []:
        add(h.get("kind") if h.get("kind") in cats else "fileserver", h["name"])
    for d in topo.get("dags") or []:
        add("dag", d["name"])
    for db in topo.get("databases") or []:
        add("database", db["name"])
    block = topo.get("exchange2007") or {}
    for cl in block.get("clusters") or []:
        add("cluster", cl["name"])
    for cms in block.get("clustered_mailbox_servers") or []:
        add("cms", cms["name"])
        for sg in cms.get("storage_groups") or []:
            add("storage_group", sg["name"])
            for db in sg.get("databases") or []:
                add("database", db["name"])
                for mb in db.get("mailboxes") or []:
                    add("mailbox", mb)
    for oab in block.get("offline_address_books") or []:
        add("oab", oab["name"])
    return cats


PREFIX = {"site": "SITE%d", "exchange": "XS%02d", "dc": "XD%02d", "fileserver": "XF%02d", "dns": "XN%02d",
          "dag": "XG%02d", "cluster": "XC%02d", "cms": "XM%02d", "database": "XDB%03d", "storage_group": "XSG%02d",
          "mailbox": "user%03d", "oab": "Address Book %d"}
# Pseudonyms that share the lab's name space (hosts, DAGs, clusters, clustered mailbox servers).
HOST_SPACE = ("exchange", "dc", "fileserver", "dns", "dag", "cluster", "cms")


def pseudonymise(topo: dict, given: dict | None = None) -> tuple:
    """``(topology, mapping)``: every server, database, site, DAG, cluster, clustered mailbox
    server, storage group, mailbox and OAB name, the organization, NetBIOS and DNS domain names
    replaced consistently (the same name gets the same pseudonym wherever it appears, including
    inside paths, FQDNs and user names).  ``given`` maps names to pseudonyms the operator chose
    (option ``pseudonym_map``).  Two names that would get the same pseudonym, or a pseudonym the
    lab cannot use as a name, raise :class:`TwinError` naming ``pseudonym_map``."""
    given = {str(k).lower(): str(v) for k, v in (given or {}).items()}
    cats = _names(topo)
    mapping = {}
    known = {n.lower() for names in cats.values() for n in names}
    unknown = sorted(set(given) - known)
    if unknown:
        raise TwinError("pseudonym_map: %s is not a name of the captured organization" % ", ".join(unknown))
    counters = Counter()
    for cat, names in cats.items():
        for original in names:
            if original.lower() in given:
                mapping[original] = given[original.lower()]
                continue
            counters[cat] += 1
            n = counters[cat]
            if cat == "org":
                mapping[original] = "Org"
            elif cat == "netbios":
                mapping[original] = "TWIN"
            elif cat == "domain":
                mapping[original] = "twin.example"
            else:
                mapping[original] = PREFIX[cat] % n
    # collisions: within a name space, after pseudonymisation
    spaces = {"hosts, DAGs, clusters and clustered mailbox servers": HOST_SPACE}
    spaces.update({cat: (cat,) for cat in cats if cat not in HOST_SPACE})
    for label, members in spaces.items():
        seen = {}
        for cat in members:
            for original in cats[cat]:
                new = mapping[original].lower()
                if new in seen and seen[new].lower() != original.lower():
                    raise TwinError(
                        "pseudonym_map: %s and %s would both become '%s' (%s must keep distinct names); give them "
                        "different pseudonyms" % (seen[new], original, mapping[original], label))
                seen[new] = original
    for cat in HOST_SPACE + ("site",):
        for original in cats[cat]:
            if not _NAME_RE.match(mapping[original]):
                raise TwinError("pseudonym_map: '%s' (for %s) is not a usable name: 1-15 letters, digits or '-'"
                                % (mapping[original], original))
    # one pass over every string: whole names (and labels of FQDNs/paths) only, never chained
    ordered = sorted(mapping, key=len, reverse=True)
    pattern = re.compile(r"(?<![A-Za-z0-9])(%s)(?![A-Za-z0-9])" % "|".join(re.escape(n) for n in ordered),
                         re.IGNORECASE)
    lookup = {k.lower(): v for k, v in mapping.items()}

    def sub(value, key=None):
        if isinstance(value, dict):
            return {k: sub(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v, key) for v in value]
        if isinstance(value, str) and key not in FIXED_KEYS:
            return pattern.sub(lambda m: lookup[m.group(1).lower()], value)
        return value
    out = sub(topo)
    out["capture"] = dict(out["capture"], pseudonymised=True)
    return out, mapping


# --------------------------------------------------------------------------- render
def render(topo: dict) -> str:
    """The YAML text of a twin: a header comment, the capture marker first, end marker last."""
    import yaml  # ansible-core depends on PyYAML

    class Dumper(yaml.SafeDumper):
        pass

    def str_rep(dumper, data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)
    Dumper.add_representer(str, str_rep)
    ordered = {key: topo[key] for key in list(TOP_ORDER) + [k for k in topo if k not in TOP_ORDER] if key in topo}
    ordered.pop("end_of_capture", None)
    ordered["end_of_capture"] = True
    body = yaml.dump(ordered, Dumper=Dumper, sort_keys=False, default_flow_style=None, width=120, allow_unicode=True)
    header = ("# Rehearsal twin written by exchange.dr.twin_capture (capture format %s version %d).\n"
              "# Start it with: exchange-lab start --topology <this file> --state-dir DIR\n"
              "# No password is written: the lab gives the users below its lab-only demo password\n"
              "# (EXCHANGE_LAB_TWIN_PASSWORD, else the lab's documented demo password).\n" % (FORMAT, VERSION))
    return header + body


def comparable(topo: dict) -> dict:
    """The topology without what differs between two captures of the same organization."""
    out = copy.deepcopy(topo)
    for key in ("captured_at", "source"):
        out.get("capture", {}).pop(key, None)
    out.pop("description", None)
    return out
