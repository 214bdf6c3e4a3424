# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed reads of the Exchange HA domain: one round trip per kind of object.

Internal to exchange.dr: no stable API, for the collection's own modules only.

Each kind has a property table: (Exchange property, result key, converter).  The reads
select exactly the table's properties (``Get-X | Select-Object -Property ...``) and return
plain dicts with snake_case keys; a few keys are derived from other properties instead of
being sent (``DERIVED``: a copy's ``database`` and ``server`` from its Name, a database's
``servers`` from its ActivationPreference): every property sent costs the server and the
controller time on each of thousands of objects.

Round trips: one per kind, except

* component states: ``Get-ServerComponentState`` requires ``-Identity``; its ``Identity``
  takes pipeline input, so every server name goes as input of one pipeline (one round trip,
  one execution per server on the Exchange side);
* transport queues: ``Get-Queue`` reads only the server named by ``-Server`` (the local one
  without it), and ``-Server`` takes no pipeline input, so one call per transport server.
  ``Get-QueueDigest`` (2013+) answers in one call but is not the same data: aggregated by
  next hop, 1-2 minutes old, and by default only queues with 10 or more messages.

Exchange 2007 (``client.exchange_version == "2007"``, the snap-in in a Microsoft.PowerShell
session) has no DAG: :func:`gather` then reads the CCR/SCR view instead (see
:func:`gather_2007`).
"""

from __future__ import annotations

import re

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError


def _lag_times(value):
    return c.key_value_pairs(value, c.timespan_text)


def _preferences(value):
    return c.key_value_pairs(value, c.integer)


def _braced(value, keys):
    """``{10.1.1.0/24,Up}`` (the ToString of a subnet/interface) to a dict of ``keys``."""
    parts = value.strip("{}").split(",")
    return dict(zip(keys, (p.strip() or None for p in parts)))


def _subnets(value):
    result = []
    for item in c.as_list(value):
        if isinstance(item, str):
            result.append(_braced(item, ("subnet", "state")))
        else:
            result.append({"subnet": c.text(c.prop(item, "SubnetId")), "state": c.enum(c.prop(item, "State"))})
    return result


def _interfaces(value):
    result = []
    for item in c.as_list(value):
        if isinstance(item, str):
            result.append(_braced(item, ("node", "state", "ip_address")))
        else:
            result.append({"node": c.server_name(c.prop(item, "NodeName")), "state": c.enum(c.prop(item, "State")),
                           "ip_address": c.text(c.prop(item, "IPAddress"))})
    return result


def _requester_states(value):
    return [{"requester": c.text(c.prop(item, "Requester")), "state": c.enum(c.prop(item, "State")),
             "timestamp": c.iso_datetime(c.prop(item, "Timestamp"))} for item in c.as_list(value)]


def _texts(value):
    return [t for t in (c.text(item) for item in c.as_list(value)) if t is not None]


def _standby_machines(value):
    """``StandbyMachines`` of a 2007 storage group (StandbyMachineEntry items: NodeName, lags)
    to the SCR target names."""
    result = []
    for item in c.as_list(value):
        node = c.prop(item, "NodeName") if not isinstance(item, str) else None
        if node is None:
            shown = item if isinstance(item, str) else getattr(item, "to_string", None)
            node = re.split(r"[\s,;(]", shown.strip(), maxsplit=1)[0] if isinstance(shown, str) and shown.strip() else None
        if node:
            result.append(c.server_name(node))
    return result


PROPERTIES = {
    "servers": (  # Get-ExchangeServer
        ("Name", "name", c.text),
        ("Fqdn", "fqdn", c.text),
        ("Site", "site", c.name),
        ("ServerRole", "roles", c.flags),
        ("AdminDisplayVersion", "admin_display_version", c.text),
        ("Edition", "edition", c.enum),
        ("IsMailboxServer", "is_mailbox_server", c.boolean),
    ),
    "mailbox_servers": (  # Get-MailboxServer, merged into servers by name
        ("Name", "name", c.text),
        ("DatabaseAvailabilityGroup", "dag", c.name),
        ("DatabaseCopyAutoActivationPolicy", "database_copy_auto_activation_policy", c.enum),
        ("DatabaseCopyActivationDisabledAndMoveNow", "database_copy_activation_disabled_and_move_now", c.boolean),
        ("AutoDatabaseMountDial", "auto_database_mount_dial", c.enum),
        ("MaximumActiveDatabases", "maximum_active_databases", c.integer),
        ("MaximumPreferredActiveDatabases", "maximum_preferred_active_databases", c.integer),
    ),
    "dags": (  # Get-DatabaseAvailabilityGroup -Status
        ("Name", "name", c.text),
        ("Servers", "servers", c.server_names),
        ("OperationalServers", "operational_servers", c.server_names),
        ("StartedMailboxServers", "started_mailbox_servers", c.server_names),
        ("StoppedMailboxServers", "stopped_mailbox_servers", c.server_names),
        ("ServersInMaintenance", "servers_in_maintenance", c.server_names),
        ("PrimaryActiveManager", "primary_active_manager", c.server_name),
        ("WitnessServer", "witness_server", c.text),
        ("WitnessDirectory", "witness_directory", c.text),
        ("AlternateWitnessServer", "alternate_witness_server", c.text),
        ("AlternateWitnessDirectory", "alternate_witness_directory", c.text),
        ("WitnessShareInUse", "witness_share_in_use", c.enum),
        ("DatacenterActivationMode", "datacenter_activation_mode", c.enum),
        ("DatabaseAvailabilityGroupIpv4Addresses", "ip_addresses", c.names),
        ("NetworkCompression", "network_compression", c.enum),
        ("NetworkEncryption", "network_encryption", c.enum),
        ("ManualDagNetworkConfiguration", "manual_dag_network_configuration", c.boolean),
        ("ReplicationPort", "replication_port", c.integer),
        ("ThirdPartyReplication", "third_party_replication", c.enum),
    ),
    "databases": (  # Get-MailboxDatabase -Status; "servers" is derived from ActivationPreference
        ("Name", "name", c.text),
        ("Guid", "guid", c.text),
        ("Server", "server", c.server_name),
        ("MasterServerOrAvailabilityGroup", "master", c.name),
        ("ActivationPreference", "activation_preference", _preferences),
        ("ReplayLagTimes", "replay_lag_times", _lag_times),
        ("TruncationLagTimes", "truncation_lag_times", _lag_times),
        ("ReplicationType", "replication_type", c.enum),
        ("Recovery", "recovery", c.boolean),
        ("Mounted", "mounted", c.boolean),
        ("MountedOnServer", "mounted_on_server", c.server_name),
        ("DatabaseSize", "database_size", c.to_bytes),
        ("AvailableNewMailboxSpace", "available_new_mailbox_space", c.to_bytes),
        ("EdbFilePath", "edb_file_path", c.text),
        ("LogFolderPath", "log_folder_path", c.text),
        ("LogFilePrefix", "log_file_prefix", c.text),
        ("CircularLoggingEnabled", "circular_logging_enabled", c.boolean),
        ("MountAtStartup", "mount_at_startup", c.boolean),
        ("DataMoveReplicationConstraint", "data_move_replication_constraint", c.enum),
        ("LastFullBackup", "last_full_backup", c.iso_datetime),
        ("LastIncrementalBackup", "last_incremental_backup", c.iso_datetime),
    ),
    "copies": (  # Get-MailboxDatabaseCopyStatus (no identity: every copy); database and server from Name
        ("Name", "name", c.text),
        ("ActiveDatabaseCopy", "active_server", c.server_name),
        ("ActiveCopy", "active", c.boolean),
        ("Status", "status", c.enum),
        ("ActivationPreference", "activation_preference", c.integer),
        ("ActivationSuspended", "activation_suspended", c.boolean),
        ("AutoActivationPolicy", "auto_activation_policy", c.enum),
        ("CopyQueueLength", "copy_queue_length", c.integer),
        ("ReplayQueueLength", "replay_queue_length", c.integer),
        ("ContentIndexState", "content_index_state", c.enum),
        ("LastLogGenerated", "last_log_generated", c.integer),
        ("LastLogInspected", "last_log_inspected", c.integer),
        ("LastLogReplayed", "last_log_replayed", c.integer),
        ("LastInspectedLogTime", "last_inspected_log_time", c.iso_datetime),
        ("LastReplayedLogTime", "last_replayed_log_time", c.iso_datetime),
        ("ErrorMessage", "error_message", c.text),
        ("SuspendComment", "suspend_comment", c.text),
    ),
    "components": (  # Get-ServerComponentState, the server names as pipeline input (2013+)
        ("Identity", "server", c.server_name),
        ("Component", "component", c.text),
        ("State", "state", c.enum),
        ("LocalStates", "local_states", _requester_states),
        ("RemoteStates", "remote_states", _requester_states),
    ),
    "dag_members": (  # Get-DatabaseAvailabilityGroup without -Status (membership only: no call to the members)
        ("Name", "name", c.text),
        ("Servers", "servers", c.server_names),
    ),
    "networks": (  # Get-DatabaseAvailabilityGroupNetwork
        ("Identity", "identity", c.text),
        ("Name", "name", c.text),
        ("Description", "description", c.text),
        ("Subnets", "subnets", _subnets),
        ("Interfaces", "interfaces", _interfaces),
        ("MapiAccessEnabled", "mapi_access_enabled", c.boolean),
        ("ReplicationEnabled", "replication_enabled", c.boolean),
        ("IgnoreNetwork", "ignore_network", c.boolean),
    ),
    "queues": (  # Get-Queue -Server <server>, one call per transport server
        ("Identity", "identity", c.text),
        ("DeliveryType", "delivery_type", c.enum),
        ("NextHopDomain", "next_hop_domain", c.text),
        ("NextHopCategory", "next_hop_category", c.enum),
        ("Status", "status", c.enum),
        ("MessageCount", "message_count", c.integer),
        ("LastError", "last_error", c.text),
    ),
    # ------------------------------------------------------------------ Exchange 2007 (snap-in)
    "servers_2007": (  # Get-ExchangeServer, 2007 form (object-properties §4)
        ("Name", "name", c.text),
        ("Fqdn", "fqdn", c.text),
        ("Site", "site", c.name),
        ("ServerRole", "roles", c.flags),
        ("AdminDisplayVersion", "admin_display_version", c.text),
        ("Edition", "edition", c.enum),
        ("IsMailboxServer", "is_mailbox_server", c.boolean),
        ("IsMemberOfCluster", "is_member_of_cluster", c.boolean),  # "Yes"/"No"
    ),
    "mailbox_servers_2007": (  # Get-MailboxServer: the nodes a clustered mailbox server may run on
        ("Name", "name", c.text),
        ("RedundantMachines", "redundant_machines", c.server_names),
    ),
    "clustered_mailbox_servers": (  # Get-ClusteredMailboxServerStatus, the CMS names as pipeline input
        ("Identity", "name", c.server_name),
        ("ClusteredMailboxServerName", "fqdn", c.text),
        ("State", "state", c.enum),
        ("OperationalMachines", "operational_machines", _texts),  # "NODEA <Active, Quorum Owner>"
        ("FailedResources", "failed_resources", _texts),
        ("OperationalReplicationHostNames", "operational_replication_host_names", _texts),
        ("FailedReplicationHostNames", "failed_replication_host_names", _texts),
        ("InUseReplicationHostNames", "in_use_replication_host_names", _texts),
    ),
    "storage_groups": (  # Get-StorageGroup: where each storage group lives and its SCR targets
        ("Identity", "identity", c.text),
        ("Server", "server", c.server_name),
        ("StandbyMachines", "standby_machines", _standby_machines),
    ),
    "storage_group_copies": (  # Get-StorageGroupCopyStatus [-StandbyMachine], storage groups as input
        ("Identity", "database", c.text),
        ("SummaryCopyStatus", "status", c.enum),
        ("CopyQueueLength", "copy_queue_length", c.integer),
        ("ReplayQueueLength", "replay_queue_length", c.integer),
        ("LastLogGenerated", "last_log_generated", c.integer),
        ("LastLogInspected", "last_log_inspected", c.integer),
        ("LastLogReplayed", "last_log_replayed", c.integer),
        ("LastInspectedLogTime", "last_inspected_log_time", c.iso_datetime),
        ("LastReplayedLogTime", "last_replayed_log_time", c.iso_datetime),
        ("FailedMessage", "error_message", c.text),
        ("SuspendComment", "suspend_comment", c.text),
    ),
    "databases_2007": (  # Get-MailboxDatabase -Status, 2007 form (a database lives in a storage group)
        ("Name", "name", c.text),
        ("Guid", "guid", c.text),
        ("Server", "server", c.server_name),
        ("StorageGroup", "storage_group", c.text),
        ("Recovery", "recovery", c.boolean),
        ("Mounted", "mounted", c.boolean),
        ("EdbFilePath", "edb_file_path", c.text),
        ("LogFolderPath", "log_folder_path", c.text),
        ("MountAtStartup", "mount_at_startup", c.boolean),
        ("LastFullBackup", "last_full_backup", c.iso_datetime),
        ("LastIncrementalBackup", "last_incremental_backup", c.iso_datetime),
    ),
}

# Kinds exchange_info returns (gather_subset); clustered_mailbox_servers exists in Exchange 2007 only.
SUBSETS = ("servers", "dags", "databases", "copies", "components", "networks", "queues", "clustered_mailbox_servers")
SUBSETS_2007_ONLY = ("clustered_mailbox_servers",)
# Kinds with no Exchange 2007 concept, and what they are.
NOT_IN_2007 = {"dags": "database availability groups (2010+)", "components": "server component states (2013+)",
               "networks": "DAG networks (2010+)"}


def _copy_parts(row: dict) -> dict:
    """``database`` and ``server`` of a copy from its Name, ``<database>\\<server>`` (neither a
    database nor a server name can hold a backslash): one property sent instead of three."""
    name = row["name"]
    database = server = None
    if isinstance(name, str) and "\\" in name:
        database, server = name.rsplit("\\", 1)
        server = c.server_name(server)
    result = {"name": name, "database": database, "server": server}
    result.update(row)
    return result


def _database_servers(row: dict) -> dict:
    """A database's ``servers`` (the servers with a copy) are the keys of its
    ActivationPreference, by preference; a database without preferences lives on ``server``."""
    prefs = row["activation_preference"]
    servers = sorted(prefs, key=lambda s: (not isinstance(prefs[s], int), prefs[s] if isinstance(prefs[s], int) else 0))
    if not servers and row["server"]:
        servers = [row["server"]]
    result = {}
    for key, value in row.items():
        result[key] = value
        if key == "master":
            result["servers"] = servers
    return result


DERIVED = {"copies": _copy_parts, "databases": _database_servers}
_TABLES = {kind: tuple(table) for kind, table in PROPERTIES.items()}
_SELECT = {kind: [prop for prop, _key, _conv in table] for kind, table in PROPERTIES.items()}


def select(kind: str) -> list:
    """The Exchange properties read for ``kind``."""
    return list(_SELECT[kind])


def normalise(kind: str, raw: dict) -> dict:
    """One plain row of ``Client.invoke`` to the result dict of ``kind`` (derived keys included)."""
    get = raw.get
    row = {key: conv(get(prop)) for prop, key, conv in _TABLES[kind]}
    derive = DERIVED.get(kind)
    return derive(row) if derive is not None else row


def _read(client, kind: str, cmdlet: str, params: dict | None = None) -> list:
    return [normalise(kind, raw) for raw in client.invoke(cmdlet, params, select=_SELECT[kind])]


def read_servers(client) -> list:
    """Exchange servers with their mailbox-server settings (Get-ExchangeServer + Get-MailboxServer)."""
    servers = _read(client, "servers", "Get-ExchangeServer")
    mailbox = {row["name"].lower(): row for row in _read(client, "mailbox_servers", "Get-MailboxServer")}
    for server in servers:
        server.update(c.exchange_product(server["admin_display_version"]))
        extra = mailbox.get((server["name"] or "").lower(), {})
        for _prop, key, _conv in PROPERTIES["mailbox_servers"]:
            if key != "name":
                server[key] = extra.get(key)
    return servers


def read_membership(client) -> list:
    """Exchange servers (``servers`` table) each with ``dag`` (None outside a DAG) and the product
    of ``exchange_product``: two calls, ``Get-ExchangeServer`` and ``Get-DatabaseAvailabilityGroup``
    without ``-Status`` (which would contact every member).  For inventories."""
    servers = _read(client, "servers", "Get-ExchangeServer")
    dag_of = {}
    for dag in _read(client, "dag_members", "Get-DatabaseAvailabilityGroup"):
        for member in dag["servers"]:
            dag_of[member.lower()] = dag["name"]
    for server in servers:
        server.update(c.exchange_product(server["admin_display_version"]))
        server["dag"] = dag_of.get((server["name"] or "").lower())
    return servers


def read_dags(client) -> list:
    return _read(client, "dags", "Get-DatabaseAvailabilityGroup", {"Status": None})


def read_databases(client) -> list:
    """Every mailbox database with -Status; ``mounted_on_server`` (an FQDN) as a short name spelled
    like the database's ``servers``."""
    databases = _read(client, "databases", "Get-MailboxDatabase", {"Status": None})
    for row in databases:
        spelling = {name.lower(): name for name in row["servers"]}
        if row["mounted_on_server"]:
            row["mounted_on_server"] = spelling.get(row["mounted_on_server"].lower(), row["mounted_on_server"])
    return databases


def read_copies(client) -> list:
    """Every database copy in one call.  ``active_server`` is spelled like the ``server`` of the
    copies (Exchange reports ActiveDatabaseCopy in lower case)."""
    copies = _read(client, "copies", "Get-MailboxDatabaseCopyStatus")
    spelling = {row["server"].lower(): row["server"] for row in copies if row["server"]}
    for row in copies:
        if row["active_server"]:
            row["active_server"] = spelling.get(row["active_server"].lower(), row["active_server"])
    return copies


def read_networks(client) -> list:
    networks = _read(client, "networks", "Get-DatabaseAvailabilityGroupNetwork")
    for row in networks:
        row["dag"] = row["identity"].split("\\", 1)[0] if row["identity"] and "\\" in row["identity"] else None
    return networks


def _about(server: str, error) -> str:
    """An error of a per-server call as a problem line naming the server (unless it does)."""
    text = str(error)
    return text if re.search(r"\b%s\b" % re.escape(server), text, re.IGNORECASE) else "%s: %s" % (server, text)


def _per_server(client, kind: str, cmdlet: str, parameter: str, servers: list) -> tuple:
    """One call per server; a server that fails is reported, not fatal.  Returns (rows, problems)."""
    rows, problems = [], []
    for server in servers:
        try:
            raws, errors = client.invoke(cmdlet, {parameter: server}, select=_SELECT[kind], errors="return")
        except ExchangeCommandError as exc:
            problems.append(_about(server, exc))
            continue
        problems.extend(_about(server, err) for err in errors)
        for raw in raws:
            row = normalise(kind, raw)
            if kind == "queues":
                identity = row["identity"] or ""
                row["server"] = identity.split("\\", 1)[0] if "\\" in identity else server
            else:
                row["server"] = row["server"] or server
            rows.append(row)
    return rows, problems


def _piped(client, kind: str, cmdlet: str, names: list, params: dict | None = None) -> tuple:
    """``cmdlet`` once, ``names`` as its pipeline input (it runs once per name on the Exchange
    side).  Non-terminating errors (one name failing) are reported.  Returns (rows, problems);
    a terminating error raises."""
    raws, errors = client.invoke(cmdlet, params, select=_SELECT[kind], errors="return", input=list(names))
    return [normalise(kind, raw) for raw in raws], [str(err) for err in errors]


def component_servers(servers: list) -> list:
    """Servers that have component states: Exchange 2013 and later, not Edge Transport."""
    return [s["name"] for s in servers if (s.get("major") or 0) >= 15 and "Edge" not in (s.get("roles") or [])]


def transport_servers(servers: list) -> list:
    """Servers with transport queues reachable from the organisation: Hub Transport, or Mailbox
    from Exchange 2013 (an unknown version counts as 2013+); never Edge Transport."""
    result = []
    for s in servers:
        roles = set(s.get("roles") or [])
        major = s.get("major")
        if "Edge" in roles:
            continue
        if "HubTransport" in roles or ("Mailbox" in roles and (major is None or major >= 15)):
            result.append(s["name"])
    return result


def read_components(client, servers: list) -> tuple:
    """Component states of every 2013+ server in one round trip (server names as pipeline input
    of Get-ServerComponentState).  If the pipeline fails as a whole, each server is asked alone
    so that only the failing ones are reported.  Returns (rows, problems)."""
    names = component_servers(servers)
    if not names:
        return [], []
    try:
        rows, problems = _piped(client, "components", "Get-ServerComponentState", names)
    except ExchangeCommandError:
        return _per_server(client, "components", "Get-ServerComponentState", "Identity", names)
    return rows, problems


def read_queues(client, servers: list) -> tuple:
    """Transport queues, one ``Get-Queue -Server`` call per transport server (see the module
    docstring).  Returns (rows, problems)."""
    return _per_server(client, "queues", "Get-Queue", "Server", transport_servers(servers))


# ---------------------------------------------------------------------------- Exchange 2007
_MACHINE = re.compile(r"^\s*([^\s<]+)\s*(?:<([^>]*)>)?\s*$")


def _machine(entry: str) -> tuple:
    """``MBX1A <Active, Quorum Owner>`` to (``MBX1A``, {"active", "quorum owner"})."""
    match = _MACHINE.match(entry or "")
    if match is None:
        return (entry or "").strip() or None, set()
    flags = {flag.strip().lower() for flag in (match.group(2) or "").split(",") if flag.strip()}
    return c.server_name(match.group(1)), flags


def read_servers_2007(client) -> list:
    """Exchange 2007 servers in the shape of :func:`read_servers`: the 2010+ mailbox settings are
    None (no such settings), plus ``is_member_of_cluster`` and ``redundant_machines`` (the nodes
    a clustered mailbox server may run on; empty for other servers)."""
    servers = _read(client, "servers_2007", "Get-ExchangeServer")
    redundant = {row["name"].lower(): row["redundant_machines"]
                 for row in _read(client, "mailbox_servers_2007", "Get-MailboxServer") if row["name"]}
    for server in servers:
        server.update(c.exchange_product(server["admin_display_version"]))
        for _prop, key, _conv in PROPERTIES["mailbox_servers"]:
            if key != "name":
                server[key] = None
        server["redundant_machines"] = redundant.get((server["name"] or "").lower(), [])
    return servers


def clustered_names(servers: list) -> dict:
    """{name: redundant machines} of the clustered mailbox servers among 2007 ``servers`` (rows of
    :func:`read_servers_2007` or of the ``mailbox_servers_2007`` table)."""
    return {s["name"]: s.get("redundant_machines") or [] for s in servers
            if s["name"] and (s.get("redundant_machines") or s.get("is_member_of_cluster"))}


def read_clustered_mailbox_servers(client, clustered: dict) -> tuple:
    """Get-ClusteredMailboxServerStatus of every clustered mailbox server in one round trip.

    Rows: name, fqdn, state, ``active_node`` and ``quorum_owner`` (from the markers of
    OperationalMachines), ``operational_machines`` (node names), ``redundant_machines``, failed
    resources and the replication host names.  Returns (rows, problems); a cluster that cannot
    be reached is a problem, not a failure.
    """
    if not clustered:
        return [], []
    try:
        rows, problems = _piped(client, "clustered_mailbox_servers", "Get-ClusteredMailboxServerStatus", list(clustered))
    except ExchangeCommandError as exc:
        return [], [str(exc)]
    redundant = {name.lower(): machines for name, machines in clustered.items()}
    result = []
    for row in rows:
        machines, active, owner = [], None, None
        for entry in row["operational_machines"]:
            node, flags = _machine(entry)
            if node is None:
                continue
            machines.append(node)
            if "active" in flags:
                active = node
            if "quorum owner" in flags:
                owner = node
        result.append({
            "name": row["name"], "fqdn": row["fqdn"], "state": row["state"], "active_node": active,
            "quorum_owner": owner, "operational_machines": machines,
            "redundant_machines": redundant.get((row["name"] or "").lower(), []),
            "failed_resources": row["failed_resources"],
            "operational_replication_host_names": row["operational_replication_host_names"],
            "failed_replication_host_names": row["failed_replication_host_names"],
            "in_use_replication_host_names": row["in_use_replication_host_names"],
        })
    return result, problems


def _copy_2007(status: dict, server, active_server, kind: str) -> dict:
    """A Get-StorageGroupCopyStatus row in the shape of a 2010+ copy (``database`` is the storage
    group identity; concepts 2007 lacks are None), plus ``kind``."""
    database = status["database"]
    return {
        "name": "%s\\%s" % (database, server) if database and server else database,
        "database": database, "server": server, "active_server": active_server, "active": False,
        "status": status["status"], "activation_preference": None, "activation_suspended": None,
        "auto_activation_policy": None, "copy_queue_length": status["copy_queue_length"],
        "replay_queue_length": status["replay_queue_length"], "content_index_state": None,
        "last_log_generated": status["last_log_generated"], "last_log_inspected": status["last_log_inspected"],
        "last_log_replayed": status["last_log_replayed"],
        "last_inspected_log_time": status["last_inspected_log_time"],
        "last_replayed_log_time": status["last_replayed_log_time"],
        "error_message": status["error_message"], "suspend_comment": status["suspend_comment"],
        "kind": kind,
    }


def read_storage_group_copies(client, clustered: dict, statuses: list) -> tuple:
    """Continuous replication copies of Exchange 2007 storage groups, in the ``copies`` shape.

    ``Get-StorageGroup`` (one call) tells where each storage group lives and its SCR targets
    (StandbyMachines).  Then ``Get-StorageGroupCopyStatus`` with storage group identities as
    pipeline input: once for the CCR copies of the storage groups of the clustered mailbox
    servers (``clustered``: {name: redundant machines}, see :func:`clustered_names`), and once
    per SCR target with ``-StandbyMachine``.  A CCR copy is on the node that is not active
    (``statuses``: rows of :func:`read_clustered_mailbox_servers`; unknown without them); an SCR
    copy on its target.  ``active_server`` is the active node of the source, or the source
    server when it is not clustered.  Returns (rows, problems).
    """
    groups = _read(client, "storage_groups", "Get-StorageGroup")
    by_identity = {(g["identity"] or "").lower(): g for g in groups}
    redundant = {name.lower(): machines for name, machines in clustered.items()}
    status_of = {(row["name"] or "").lower(): row for row in statuses}

    def source(group):
        """(active node or source server, passive CCR node) of a storage group."""
        server = ((group or {}).get("server") or "")
        if server.lower() not in redundant:
            return server or None, None
        status = status_of.get(server.lower()) or {}
        active = status.get("active_node")
        if active is None:
            return None, None
        nodes = redundant[server.lower()] or status.get("operational_machines") or []
        passive = next((n for n in nodes if n.lower() != active.lower()), None)
        return active, passive

    rows, problems = [], []
    ccr = [g["identity"] for g in groups if (g["server"] or "").lower() in redundant and g["identity"]]
    targets: dict = {}
    for g in groups:
        for machine in g["standby_machines"]:
            targets.setdefault(machine, []).append(g["identity"])
    calls = ([(None, ccr)] if ccr else []) + sorted(targets.items())
    for machine, identities in calls:
        params = {"StandbyMachine": machine} if machine else None
        try:
            found, errors = _piped(client, "storage_group_copies", "Get-StorageGroupCopyStatus", identities, params)
        except ExchangeCommandError as exc:
            problems.append(str(exc))
            continue
        problems.extend(errors)
        for status in found:
            active, passive = source(by_identity.get((status["database"] or "").lower()))
            rows.append(_copy_2007(status, machine or passive, active, "scr" if machine else "ccr"))
    return rows, problems


def read_databases_2007(client) -> list:
    """Exchange 2007 mailbox databases (``Get-MailboxDatabase -Status``) in the shape of
    :func:`read_databases` plus ``storage_group``; 2010+ concepts (DAG, copies' preferences and
    lags, sizes) are None or empty."""
    result = []
    for row in _read(client, "databases_2007", "Get-MailboxDatabase", {"Status": None}):
        result.append({
            "name": row["name"], "guid": row["guid"], "server": row["server"], "master": None,
            "servers": [row["server"]] if row["server"] else [], "activation_preference": {},
            "replay_lag_times": {}, "truncation_lag_times": {}, "replication_type": None,
            "recovery": row["recovery"], "mounted": row["mounted"], "mounted_on_server": None,
            "database_size": None, "available_new_mailbox_space": None, "edb_file_path": row["edb_file_path"],
            "log_folder_path": row["log_folder_path"], "log_file_prefix": None, "circular_logging_enabled": None,
            "mount_at_startup": row["mount_at_startup"], "data_move_replication_constraint": None,
            "last_full_backup": row["last_full_backup"], "last_incremental_backup": row["last_incremental_backup"],
            "storage_group": row["storage_group"],
        })
    return result


def gather_2007(client, wanted: set) -> tuple:
    """The Exchange 2007 view of ``wanted`` kinds (CCR/SCR); see :func:`gather`."""
    facts, problems = {}, []
    servers = read_servers_2007(client) if wanted & {"servers", "queues"} else None
    if servers is not None and "servers" in wanted:
        facts["servers"] = servers
    if wanted & {"clustered_mailbox_servers", "copies"}:
        if servers is None:
            servers = _read(client, "mailbox_servers_2007", "Get-MailboxServer")
        clustered = clustered_names(servers)
        statuses, found = read_clustered_mailbox_servers(client, clustered)
        problems.extend(found)
        if "clustered_mailbox_servers" in wanted:
            facts["clustered_mailbox_servers"] = statuses
        if "copies" in wanted:
            facts["copies"], found = read_storage_group_copies(client, clustered, statuses)
            problems.extend(found)
    if "databases" in wanted:
        facts["databases"] = read_databases_2007(client)
    if "queues" in wanted:
        facts["queues"], found = read_queues(client, servers)
        problems.extend(found)
    missing = [kind for kind in NOT_IN_2007 if kind in wanted]
    for kind in missing:
        facts[kind] = []
    if missing:
        problems.append("Exchange 2007 has no %s: %s returned empty (CCR/SCR replication is in "
                        "clustered_mailbox_servers and copies)"
                        % (", ".join(NOT_IN_2007[kind] for kind in missing), ", ".join(missing)))
    return facts, problems


def gather(client, subsets) -> tuple:
    """Read the requested kinds (``SUBSETS`` or ``all``).  Returns (facts, problems): ``facts``
    has one list per requested kind; ``problems`` are per-server failures and notes to report
    as warnings.

    With ``client.exchange_version`` 2007 the kinds are read as :func:`gather_2007` does;
    ``all`` then includes ``clustered_mailbox_servers``, which it leaves out for 2010+ (asked
    for explicitly there, it is empty with a note).
    """
    e2007 = getattr(client, "exchange_version", None) == "2007"
    if "all" in subsets:
        wanted = set(SUBSETS) if e2007 else set(SUBSETS) - set(SUBSETS_2007_ONLY)
    else:
        wanted = set(subsets)
    if e2007:
        facts, problems = gather_2007(client, wanted)
    else:
        facts, problems = {}, []
        servers = read_servers(client) if wanted & {"servers", "components", "queues"} else []
        if "servers" in wanted:
            facts["servers"] = servers
        simple = (("dags", read_dags), ("databases", read_databases), ("copies", read_copies),
                  ("networks", read_networks))
        for kind, reader in simple:
            if kind in wanted:
                facts[kind] = reader(client)
        for kind, reader in (("components", read_components), ("queues", read_queues)):
            if kind in wanted:
                facts[kind], found = reader(client, servers)
                problems.extend(found)
        if "clustered_mailbox_servers" in wanted:
            facts["clustered_mailbox_servers"] = []
            problems.append("clustered mailbox servers exist in Exchange 2007 only (set exchange_version 2007 "
                            "to read them): clustered_mailbox_servers returned empty")
    return {kind: facts[kind] for kind in SUBSETS if kind in facts}, problems
