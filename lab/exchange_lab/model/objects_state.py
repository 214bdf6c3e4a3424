"""State classes of the model (plain dataclasses; the LabState owns and mutates them)."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

from .components import ComponentTable

# Namespace for the lab's deterministic GUIDs (uuid5 of kind:name).
_NS = uuid.UUID("6f1c7c1e-3b1a-4e58-9a7e-0d2c1f3a9b10")


def lab_guid(kind: str, name: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{kind}:{name.lower()}")


# Copy status values (runbooks §1.1 / object-properties §2).
PASSIVE_STATUSES = (
    "Healthy",
    "DisconnectedAndHealthy",
    "DisconnectedAndResynchronizing",
    "SeedingSource",
    "Initializing",
    "Resynchronizing",
    "Seeding",
    "Suspended",
    "Failed",
    "FailedAndSuspended",
    "ServiceDown",
    "SinglePageRestore",
    "NonExchangeReplication",
    "Unknown",
)
ACTIVE_STATUSES = ("Mounted", "Dismounted", "Mounting", "Dismounting")
CANDIDATE_STATUSES = ("Healthy", "DisconnectedAndHealthy", "DisconnectedAndResynchronizing", "SeedingSource")

NODE_STATES = ("Up", "Down", "Paused", "Joining")


@dataclass
class HostInfo:
    name: str
    fqdn: str
    site: str
    roles: list[str]
    version: str
    kind: str
    windows: str = "WS2019"  # Windows Server version (topology ``windows:``)


@dataclass
class Queue:
    """A transport queue (Get-Queue).  ``name`` is what follows ``<Server>\\``."""

    name: str  # "Submission", "Shadow\\3", "3" (delivery)
    delivery_type: str  # Undefined (Submission), ShadowRedundancy, SmtpDeliveryToMailbox ...
    next_hop_domain: str
    message_count: int = 0
    status: str = "Ready"
    next_hop_category: str = "Internal"

    @property
    def is_shadow(self) -> bool:
        return self.name.lower().startswith("shadow\\")

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "delivery_type": self.delivery_type,
            "next_hop_domain": self.next_hop_domain,
            "message_count": self.message_count,
            "status": self.status,
        }


@dataclass
class ExchangeServer:
    name: str
    fqdn: str
    site: str
    version: str
    build: str
    roles: list[str]
    ip: str
    replication_ip: str | None
    content_index_state: str
    guid: uuid.UUID
    components: ComponentTable
    dag: str | None = None
    # Set-MailboxServer settings
    auto_activation_policy: str = "Unrestricted"
    activation_disabled_and_move_now: bool = False
    mount_dial: str = "GoodAvailability"
    max_active: int | None = None
    max_preferred_active: int | None = None
    other_settings: dict[str, Any] = field(default_factory=dict)
    # runtime
    up: bool = True
    queues: list[Queue] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "fqdn": self.fqdn,
            "site": self.site,
            "version": self.version,
            "build": self.build,
            "roles": list(self.roles),
            "ip": self.ip,
            "replication_ip": self.replication_ip,
            "dag": self.dag,
            "up": self.up,
            "mailbox": {
                "DatabaseCopyAutoActivationPolicy": self.auto_activation_policy,
                "DatabaseCopyActivationDisabledAndMoveNow": self.activation_disabled_and_move_now,
                "AutoDatabaseMountDial": self.mount_dial,
                "MaximumActiveDatabases": self.max_active,
                "MaximumPreferredActiveDatabases": self.max_preferred_active,
                **{k: _jsonable(v) for k, v in sorted(self.other_settings.items())},
            },
            "components": self.components.to_json(),
            "queues": [q.to_json() for q in self.queues],
        }


@dataclass
class ClusterNode:
    name: str
    state: str = "Up"


@dataclass
class Cluster:
    """The failover cluster behind a DAG (nodes = members; file share witness quorum)."""

    name: str
    nodes: dict[str, ClusterNode]  # key: lower-case name, in member order
    group_owner: str | None  # owner of "Cluster Group" = the PAM
    evicted: list[str] = field(default_factory=list)

    def node(self, name: str) -> ClusterNode | None:
        return self.nodes.get(name.lower())

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "nodes": {n.name: n.state for n in self.nodes.values()},
            "group_owner": self.group_owner,
            "evicted": list(self.evicted),
        }


@dataclass
class DagNetwork:
    name: str
    description: str
    subnets: list[str]
    replication_enabled: bool = True
    ignore_network: bool = False
    mapi_access_enabled: bool = False

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "subnets": list(self.subnets),
            "replication_enabled": self.replication_enabled,
            "ignore_network": self.ignore_network,
            "mapi_access_enabled": self.mapi_access_enabled,
        }


@dataclass
class Dag:
    name: str
    guid: uuid.UUID
    members: list[str]
    witness_server: str | None
    witness_directory: str | None
    alternate_witness_server: str | None
    alternate_witness_directory: str | None
    datacenter_activation_mode: str
    ip_addresses: list[str]
    networks: list[DagNetwork]
    manual_network_configuration: bool
    replication_port: int
    network_compression: str
    network_encryption: str
    auto_reseed: bool
    cluster: Cluster
    stopped: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    # "Primary" | "Alternate" | "None": which file share witness the cluster uses
    witness_in_use: str = "Primary"
    other_settings: dict[str, Any] = field(default_factory=dict)

    def is_member(self, server: str) -> bool:
        return server.lower() in (m.lower() for m in self.members)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "members": list(self.members),
            "witness_server": self.witness_server,
            "witness_directory": self.witness_directory,
            "alternate_witness_server": self.alternate_witness_server,
            "alternate_witness_directory": self.alternate_witness_directory,
            "datacenter_activation_mode": self.datacenter_activation_mode,
            "ip_addresses": list(self.ip_addresses),
            "manual_network_configuration": self.manual_network_configuration,
            "replication_port": self.replication_port,
            "network_compression": self.network_compression,
            "network_encryption": self.network_encryption,
            "auto_reseed": self.auto_reseed,
            "stopped_mailbox_servers": list(self.stopped),
            "started_mailbox_servers": list(self.started),
            "witness_in_use": self.witness_in_use,
            "networks": [n.to_json() for n in self.networks],
            "cluster": self.cluster.to_json(),
            "other_settings": {k: _jsonable(v) for k, v in sorted(self.other_settings.items())},
        }


@dataclass
class DatabaseCopy:
    database: str
    server: str
    preference: int
    replay_lag_s: float = 0.0
    truncation_lag_s: float = 0.0
    # passive status (the active copy's status is the database's mount state)
    status: str = "Healthy"
    copy_queue: int = 0
    replay_queue: int = 0
    content_index: str = "Healthy"
    activation_suspended: bool = False
    suspend_comment: str | None = None
    error_message: str | None = None
    error_event_id: int | None = None
    action_initiator: str = "Unknown"
    last_status_transition: datetime.datetime | None = None
    instance_start: datetime.datetime | None = None

    @property
    def identity(self) -> str:
        return f"{self.database}\\{self.server}"

    def to_json(self) -> dict:
        return {
            "server": self.server,
            "preference": self.preference,
            "replay_lag_s": self.replay_lag_s,
            "truncation_lag_s": self.truncation_lag_s,
            "status": self.status,
            "copy_queue": self.copy_queue,
            "replay_queue": self.replay_queue,
            "content_index": self.content_index,
            "activation_suspended": self.activation_suspended,
            "suspend_comment": self.suspend_comment,
            "error_message": self.error_message,
        }


@dataclass
class Database:
    name: str
    guid: uuid.UUID
    dag: str | None
    copies: list[DatabaseCopy]  # ordered by activation preference
    active_server: str
    mount_state: str  # Mounted | Dismounted | Mounting | Dismounting
    log_generation: int
    size_bytes: int
    edb_path: str
    log_path: str
    log_prefix: str
    circular_logging: bool = False
    mount_at_startup: bool = True
    # set when quorum loss / server loss dismounted it (Active Manager remounts on repair)
    dismounted_by_system: bool = False

    def copy_on(self, server: str) -> DatabaseCopy | None:
        s = server.lower()
        for c in self.copies:
            if c.server.lower() == s:
                return c
        return None

    @property
    def active_copy(self) -> DatabaseCopy | None:
        return self.copy_on(self.active_server)

    @property
    def replicated(self) -> bool:
        return len(self.copies) > 1

    @property
    def mounted(self) -> bool:
        return self.mount_state == "Mounted"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "dag": self.dag,
            "active_server": self.active_server,
            "mount_state": self.mount_state,
            "log_generation": self.log_generation,
            "size_bytes": self.size_bytes,
            "edb_path": self.edb_path,
            "log_path": self.log_path,
            "copies": [c.to_json() for c in self.copies],
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, datetime.timedelta):
        return v.total_seconds()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)
