# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed reads of the Exchange HA domain: one round trip per kind of object.

Internal to exchange.dr: no stable API, for the collection's own modules only.

Each kind has a property table: (Exchange property, result key, converter).  The reads
select exactly the table's properties (``Get-X | Select-Object -Property ...``) and return
plain dicts with snake_case keys.  Two kinds cannot be read organisation-wide in one call:
``Get-ServerComponentState`` requires ``-Identity`` and ``Get-Queue`` reads the local server
unless given ``-Server``, so both cost one call per server.
"""

from __future__ import annotations

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
    "databases": (  # Get-MailboxDatabase -Status
        ("Name", "name", c.text),
        ("Guid", "guid", c.text),
        ("Server", "server", c.server_name),
        ("MasterServerOrAvailabilityGroup", "master", c.name),
        ("Servers", "servers", c.server_names),
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
    "copies": (  # Get-MailboxDatabaseCopyStatus (no identity: every copy in the organisation)
        ("Name", "name", c.text),
        ("DatabaseName", "database", c.text),
        ("MailboxServer", "server", c.server_name),
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
    "components": (  # Get-ServerComponentState -Identity <server>, one call per server (2013+)
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
}

SUBSETS = ("servers", "dags", "databases", "copies", "components", "networks", "queues")


def select(kind: str) -> list:
    """The Exchange properties read for ``kind``."""
    return [prop for prop, _key, _conv in PROPERTIES[kind]]


def normalise(kind: str, raw: dict) -> dict:
    """One plain row of ``Client.invoke`` to the result dict of ``kind``."""
    return {key: conv(raw.get(prop)) for prop, key, conv in PROPERTIES[kind]}


def _read(client, kind: str, cmdlet: str, params: dict | None = None) -> list:
    return [normalise(kind, raw) for raw in client.invoke(cmdlet, params, select=select(kind))]


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


def _per_server(client, kind: str, cmdlet: str, parameter: str, servers: list) -> tuple:
    """One call per server; a server that fails is reported, not fatal.  Returns (rows, problems)."""
    rows, problems = [], []
    for server in servers:
        try:
            raws, errors = client.invoke(cmdlet, {parameter: server}, select=select(kind), errors="return")
        except ExchangeCommandError as exc:
            problems.append(str(exc))
            continue
        problems.extend(str(err) for err in errors)
        for raw in raws:
            row = normalise(kind, raw)
            if kind == "queues":
                identity = row["identity"] or ""
                row["server"] = identity.split("\\", 1)[0] if "\\" in identity else server
            else:
                row["server"] = row["server"] or server
            rows.append(row)
    return rows, problems


def component_servers(servers: list) -> list:
    """Servers that have component states: Exchange 2013 and later, not Edge Transport."""
    return [s["name"] for s in servers if (s.get("major") or 0) >= 15 and "Edge" not in (s.get("roles") or [])]


def transport_servers(servers: list) -> list:
    """Servers with transport queues reachable from the organisation: Mailbox (2013+) or Hub Transport."""
    return [s["name"] for s in servers
            if set(s.get("roles") or []) & {"Mailbox", "HubTransport"} and "Edge" not in (s.get("roles") or [])]


def read_components(client, servers: list) -> tuple:
    return _per_server(client, "components", "Get-ServerComponentState", "Identity", component_servers(servers))


def read_queues(client, servers: list) -> tuple:
    return _per_server(client, "queues", "Get-Queue", "Server", transport_servers(servers))


def gather(client, subsets) -> tuple:
    """Read the requested kinds (``SUBSETS`` or ``all``).  Returns (facts, problems): ``facts``
    has one list per requested kind; ``problems`` are per-server failures to report as warnings."""
    wanted = set(SUBSETS) if "all" in subsets else set(subsets)
    facts, problems = {}, []
    servers = read_servers(client) if wanted & {"servers", "components", "queues"} else []
    if "servers" in wanted:
        facts["servers"] = servers
    simple = (("dags", read_dags), ("databases", read_databases), ("copies", read_copies), ("networks", read_networks))
    for kind, reader in simple:
        if kind in wanted:
            facts[kind] = reader(client)
    for kind, reader in (("components", read_components), ("queues", read_queues)):
        if kind in wanted:
            facts[kind], found = reader(client, servers)
            problems.extend(found)
    return {kind: facts[kind] for kind in SUBSETS if kind in facts}, problems
