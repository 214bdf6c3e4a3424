"""``LabState``: the whole simulated organization.

Contract (lab/ARCHITECTURE.md): ``LabState.load(topology, speed)``, ``.hosts``,
``.authenticate``, ``.users``, ``.domain``, ``.netbios``, ``.lock``, ``.clock``,
``.audit``, ``.to_json()``, ``.reset()``, ``.inject_fault(spec)``, ``.clear_fault(spec)``.

Beyond the contract, the methods cmdlet implementations use are grouped below under
"lookups", "derived state" and "transitions".  Every read or write happens with
``lock`` held (an RLock, so the methods here take it again safely).  Nothing here
sleeps: a cmdlet that models a duration releases the lock and calls ``clock.sleep``, or
hands the work to :meth:`LabState.schedule` so it happens when lab time reaches it.
"""

from __future__ import annotations

import copy as _copy
import heapq
import itertools
import threading
from pathlib import Path
from typing import Any, Callable

from ..registry import User
from . import activation, durations, failures, topology
from .clock import Clock
from .components import ComponentTable
from .objects_state import (
    ACTIVE_STATUSES,
    Cluster,
    ClusterNode,
    Dag,
    DagNetwork,
    Database,
    DatabaseCopy,
    ExchangeServer,
    HostInfo,
    NODE_STATES,
    PASSIVE_STATUSES,
    Queue,
    lab_guid,
)
from .windows import WindowsState

FAULT_KINDS = ("copy_status", "copy_queue", "content_index", "server_down")
_FAULT_KEYS = {
    "copy_status": {"kind", "database", "server", "status"},
    "copy_queue": {"kind", "database", "server", "copy_queue", "replay_queue"},
    "content_index": {"kind", "database", "server", "state"},
    "server_down": {"kind", "server"},
}
_FAULT_REQUIRED = {
    "copy_status": {"database", "server", "status"},
    "copy_queue": {"database", "server"},
    "content_index": {"database", "server", "state"},
    "server_down": {"server"},
}
CONTENT_INDEX_VALUES = (
    "Healthy",
    "Crawling",
    "Failed",
    "FailedAndSuspended",
    "Suspended",
    "Seeding",
    "Disabled",
    "AutoSuspended",
    "HealthyAndUpgrading",
    "Unknown",
    "NotApplicable",
)
_VERSION_ORDER = {"2007": 0, "2010": 1, "2013": 2, "2016": 3, "2019": 4}


class LabState:
    # ------------------------------------------------------------------ load
    def __init__(self, spec: dict, speed: float = 1.0) -> None:
        self._spec = spec
        self.speed = speed
        self.lock = threading.RLock()
        self.clock = Clock(speed)
        self.audit: Any = None
        self._build()

    @classmethod
    def load(cls, topology_name: str | Path, speed: float = 1.0) -> "LabState":
        """Load ``topologies/<name>.yml`` or a path; raises ``TopologyError``."""
        return cls(topology.load(topology_name), speed=speed)

    def reset(self) -> None:
        """Back to the state of the loaded topology (clock keeps running)."""
        with self.lock:
            self._build()

    def _build(self) -> None:
        spec = self._spec
        now = self.clock.now()
        self.topology_name: str = spec["name"]
        self.org_name: str = spec["org"]["name"]
        self.domain: str = spec["org"]["domain"]
        self.netbios: str = spec["org"]["netbios"]
        self.users: dict[str, User] = {}
        self._passwords: dict[str, str] = {}
        for u in spec["users"]:
            user = User(name=u["name"], upn=u["upn"], roles=list(u["roles"]))
            self.users[u["name"]] = user
            self._passwords[u["name"].lower()] = u["password"]
        self.sites: dict[str, dict] = {s["name"].lower(): dict(s) for s in spec["sites"]}
        self.hosts: list[HostInfo] = [
            HostInfo(h["name"], h["fqdn"], h["site"], list(h["roles"]), h["version"], h["kind"], h["windows"])
            for h in spec["hosts"]
        ]
        self._hosts_by_name = {h.name.lower(): h for h in self.hosts}
        self._hosts_by_fqdn = {h.fqdn.lower(): h for h in self.hosts}
        self._host_ip = {h["name"].lower(): h["ip"] for h in spec["hosts"]}
        self._host_up = {h["name"].lower(): True for h in spec["hosts"]}

        self.servers: dict[str, ExchangeServer] = {}
        for h in spec["hosts"]:
            if h["kind"] != "exchange":
                continue
            srv = ExchangeServer(
                name=h["name"],
                fqdn=h["fqdn"],
                site=h["site"],
                version=h["version"],
                build=h["build"],
                roles=list(h["roles"]),
                ip=h["ip"],
                replication_ip=h.get("replication_ip"),
                content_index_state=h["content_index_state"],
                guid=lab_guid("server", h["name"]),
                components=ComponentTable(h["version"]),
                auto_activation_policy=h["mailbox"]["auto_activation_policy"],
                activation_disabled_and_move_now=h["mailbox"]["activation_disabled_and_move_now"],
                mount_dial=h["mailbox"]["mount_dial"],
                max_active=h["mailbox"]["max_active"],
                max_preferred_active=h["mailbox"]["max_preferred_active"],
            )
            srv.queues = [
                Queue("Submission", "Undefined", "Submission", h["queues"]["submission"]),
            ]
            if h["queues"]["shadow"]:
                srv.queues.append(Queue("Shadow\\1", "ShadowRedundancy", f"{h['fqdn']}", h["queues"]["shadow"]))
            self.servers[h["name"].lower()] = srv
        from .twin import apply_components  # topology ``components:`` entries (model/twin.py)

        apply_components(self, spec)

        self.dags: dict[str, Dag] = {}
        for d in spec["dags"]:
            nodes = {m.lower(): ClusterNode(m, "Up") for m in d["members"]}
            dag = Dag(
                name=d["name"],
                guid=lab_guid("dag", d["name"]),
                members=list(d["members"]),
                witness_server=self._fqdn_of(d["witness_server"]),
                witness_directory=d["witness_directory"],
                alternate_witness_server=(
                    self._fqdn_of(d["alternate_witness_server"]) if d["alternate_witness_server"] else None
                ),
                alternate_witness_directory=d["alternate_witness_directory"],
                datacenter_activation_mode=d["datacenter_activation_mode"],
                ip_addresses=list(d["ip_addresses"]),
                networks=[
                    DagNetwork(
                        n["name"],
                        n["description"],
                        list(n["subnets"]),
                        n["replication_enabled"],
                        n["ignore_network"],
                        n["mapi_access_enabled"],
                    )
                    for n in d["networks"]
                ],
                manual_network_configuration=d["manual_network_configuration"],
                replication_port=d["replication_port"],
                network_compression=d["network_compression"],
                network_encryption=d["network_encryption"],
                auto_reseed=d["auto_reseed"],
                cluster=Cluster(d["name"], nodes, d["pam"]),
                started=list(d["members"]) if d["datacenter_activation_mode"] == "DagOnly" else [],
            )
            dag.witness_in_use = "Primary" if len(dag.members) % 2 == 0 else "None"
            self.dags[d["name"].lower()] = dag
            for m in d["members"]:
                self.servers[m.lower()].dag = d["name"]

        self.databases: dict[str, Database] = {}
        for i, db in enumerate(spec["databases"]):
            gen = 1000 + (lab_guid("db", db["name"]).int % 90000)
            copies = []
            for c in db["copies"]:
                srv = self.servers[c["server"].lower()]
                copies.append(
                    DatabaseCopy(
                        database=db["name"],
                        server=c["server"],
                        preference=c["preference"],
                        replay_lag_s=c["replay_lag"],
                        truncation_lag_s=c["truncation_lag"],
                        copy_queue=c["copy_queue"],
                        replay_queue=c["replay_queue"],
                        content_index=srv.content_index_state,
                        last_status_transition=now,
                        instance_start=now,
                    )
                )
            self.databases[db["name"].lower()] = Database(
                name=db["name"],
                guid=lab_guid("db", db["name"]),
                dag=db["dag"],
                copies=copies,
                active_server=db["active"],
                mount_state="Mounted" if db["mounted"] else "Dismounted",
                log_generation=gen,
                size_bytes=int(db["size_gb"] * 1024**3),
                edb_path=db["edb_path"],
                log_path=db["log_path"],
                log_prefix=f"E{i % 256:02X}",
            )

        self.dns_zones: dict[str, dict] = {
            z["name"]: {"name": z["name"], "servers": list(z["servers"]), "records": [dict(r) for r in z["records"]]}
            for z in spec["dns"]["zones"]
        }
        self.faults: list[dict] = []
        self._timers: list[tuple[float, int, str, Callable[[], None]]] = []
        self._seq = itertools.count()
        # mounts that missed logs (LabState.activate_copy) and the failure catalogue's own
        # state (model/failures.py)
        self.data_loss: list[dict] = []
        self.catalogue = failures.Catalogue(self)
        # Windows, AD, SMB and DNS state (model/windows.py), built on the objects above
        self.windows = WindowsState(self, spec)
        # Exchange 2007 SP1 CCR/SCR/OAB (model/e2007.py), built on the Windows state
        from .e2007 import Exchange2007State

        self.e2007 = Exchange2007State(self, spec)

    def _fqdn_of(self, name: str | None) -> str | None:
        """Witness server names as the reference shows them (``FS1.contoso.com``)."""
        if not name:
            return None
        h = self._hosts_by_name.get(name.lower())
        return f"{h.name}.{self.domain}" if h else name

    # --------------------------------------------------------- authentication
    def authenticate(self, username: str, password: str) -> User | None:
        """``DOMAIN\\user`` (NetBIOS or DNS domain) or UPN; user name case-insensitive,
        password exact."""
        if not username or password is None:
            return None
        name = username.strip()
        user: User | None = None
        if "\\" in name:
            dom, sam = name.split("\\", 1)
            if dom.lower() in (self.netbios.lower(), self.domain.lower()):
                user = self._user_by_sam(sam)
        elif "@" in name:
            for u in self.users.values():
                if u.upn.lower() == name.lower():
                    user = u
                    break
        else:
            user = self._user_by_sam(name)
        if user is None or self._passwords.get(user.name.lower()) != password:
            return None
        return user

    def password_of(self, user: User | str) -> str | None:
        """The lab password of a user (for the NTLM acceptor's user file); ``None`` if unknown."""
        name = user.name if isinstance(user, User) else str(user)
        if "\\" not in name:
            found = self._user_by_sam(name) or next(
                (u for u in self.users.values() if u.upn.lower() == name.lower()), None
            )
            name = found.name if found else name
        return self._passwords.get(name.lower())

    def _user_by_sam(self, sam: str) -> User | None:
        return self.users.get(f"{self.netbios}\\{sam}") or next(
            (u for u in self.users.values() if u.name.split("\\", 1)[1].lower() == sam.lower()), None
        )

    # ----------------------------------------------------------------- lookups
    def host(self, name: str) -> HostInfo | None:
        """A host by short name or FQDN (case-insensitive)."""
        if not name:
            return None
        key = str(name).lower()
        return self._hosts_by_name.get(key) or self._hosts_by_fqdn.get(key)

    def host_ip(self, name: str) -> str | None:
        h = self.host(name)
        return self._host_ip.get(h.name.lower()) if h else None

    def server(self, name: str) -> ExchangeServer | None:
        """An Exchange server by short name or FQDN (case-insensitive)."""
        if not name:
            return None
        key = str(name).lower()
        srv = self.servers.get(key)
        if srv is None and "." in key:
            h = self._hosts_by_fqdn.get(key)
            srv = self.servers.get(h.name.lower()) if h else None
        return srv

    def dag(self, name: str) -> Dag | None:
        return self.dags.get(str(name).lower()) if name else None

    def dag_of(self, server: str) -> Dag | None:
        srv = self.server(server)
        return self.dag(srv.dag) if srv and srv.dag else None

    def database(self, name: str) -> Database | None:
        return self.databases.get(str(name).lower()) if name else None

    def database_copy(self, database: str, server: str) -> DatabaseCopy | None:
        db = self.database(database)
        srv = self.server(server)
        return db.copy_on(srv.name) if db and srv else None

    def databases_on(self, server: str) -> list[Database]:
        """Databases with a copy on ``server`` (topology order)."""
        srv = self.server(server)
        if srv is None:
            return []
        return [db for db in self.databases.values() if db.copy_on(srv.name) is not None]

    def active_databases(self, server: str) -> list[Database]:
        s = server.lower()
        return [db for db in self.databases.values() if db.active_server.lower() == s]

    def active_database_count(self, server: str) -> int:
        s = server.lower()
        return sum(1 for db in self.databases.values() if db.active_server.lower() == s and db.mounted)

    def domain_controller_for(self, site: str | None) -> HostInfo | None:
        """A domain controller in ``site`` (else the first one)."""
        dcs = [h for h in self.hosts if h.kind == "dc"]
        for h in dcs:
            if site and h.site.lower() == site.lower():
                return h
        return dcs[0] if dcs else None

    def site_dn(self, site: str) -> str:
        return f"{self.domain}/Configuration/Sites/{site}"

    @staticmethod
    def version_at_least(server: ExchangeServer, version: str) -> bool:
        return _VERSION_ORDER.get(server.version, 0) >= _VERSION_ORDER[version]

    # ----------------------------------------------------------- derived state
    def host_up(self, name: str) -> bool:
        h = self.host(name)
        return bool(h) and self._host_up.get(h.name.lower(), False)

    def is_reachable(self, server: str) -> bool:
        srv = self.server(server)
        return bool(srv) and srv.up

    def is_operational(self, server: str) -> bool:
        """Up, its cluster node Up or Paused, not stopped (DAC), and its DAG has quorum."""
        srv = self.server(server)
        if srv is None or not srv.up:
            return False
        windows = getattr(self, "windows", None)
        if windows is not None and not windows.exchange_services_running(srv.name):
            return False  # MSExchangeRepl or MSExchangeIS stopped (model/windows.py)
        catalogue = getattr(self, "catalogue", None)
        if catalogue is not None and catalogue.server_block(srv.name) is not None:
            return False  # MAPI network down, drive failures, cut off by a partition (failures.py)
        dag = self.dag(srv.dag) if srv.dag else None
        if dag is None:
            return True
        node = dag.cluster.node(srv.name)
        if node is None or node.state not in ("Up", "Paused"):
            return False
        if any(s.lower() == srv.name.lower() for s in dag.stopped):
            return False
        return self.quorum(dag)["has_quorum"]

    def copy_status(self, db: Database, c: DatabaseCopy) -> str:
        """What Get-MailboxDatabaseCopyStatus shows in ``Status``."""
        srv = self.server(c.server)
        if srv is None or not srv.up:
            return "ServiceDown"
        windows = getattr(self, "windows", None)
        if windows is not None and not windows.replication_running(srv.name):
            return "ServiceDown"  # runbooks §1.1: Replication service not running on that server
        status = db.mount_state if c.server.lower() == db.active_server.lower() else c.status
        catalogue = getattr(self, "catalogue", None)
        if catalogue is not None:
            status = catalogue.copy_status(db, c, status)  # Disconnected*, ServiceDown (failures.py)
        return status

    def copy_queue_length(self, db: Database, c: DatabaseCopy) -> int:
        return 0 if c.server.lower() == db.active_server.lower() else c.copy_queue

    def replay_queue_length(self, db: Database, c: DatabaseCopy) -> int:
        return 0 if c.server.lower() == db.active_server.lower() else c.replay_queue

    def log_positions(self, db: Database, c: DatabaseCopy) -> dict[str, int]:
        """LastLogGenerated / Copied / Inspected / Replayed of a copy.  The active copy
        reports 0 for all of them (object-properties §2, real capture)."""
        if c.server.lower() == db.active_server.lower():
            return {"generated": 0, "copy_notified": 0, "copied": 0, "inspected": 0, "replayed": 0}
        gen = db.log_generation
        copied = max(0, gen - c.copy_queue)
        return {
            "generated": gen,
            "copy_notified": copied,
            "copied": copied,
            "inspected": copied,
            "replayed": max(0, copied - c.replay_queue),
        }

    def quorum(self, dag: Dag) -> dict:
        """Node majority, plus the file share witness when the node count is even."""
        catalogue = getattr(self, "catalogue", None)
        if catalogue is not None and catalogue.affects_quorum(dag):
            return catalogue.quorum(dag)  # network partitions, dag-quorum-failure (failures.py)
        nodes = [n for n in dag.cluster.nodes.values()]
        count = len(nodes)
        uses_witness = count % 2 == 0 and count > 0
        total = count + (1 if uses_witness else 0)
        up = sum(1 for n in nodes if n.state in ("Up", "Paused") and self.is_reachable_host(n.name))
        witness_host = self._witness_host(dag) if uses_witness else None
        witness_ok = bool(witness_host) and self.host_up(witness_host)
        votes = up + (1 if witness_ok else 0)
        return {
            "model": "NodeAndFileShareMajority" if uses_witness else "NodeMajority",
            "nodes": count,
            "nodes_up": up,
            "witness": witness_host,
            "witness_up": witness_ok,
            "votes": votes,
            "total_votes": total,
            "has_quorum": total > 0 and votes * 2 > total,
        }

    def is_reachable_host(self, name: str) -> bool:
        srv = self.server(name)
        return srv.up if srv else self.host_up(name)

    def _witness_host(self, dag: Dag) -> str | None:
        if dag.witness_in_use == "Alternate":
            return dag.alternate_witness_server
        if dag.witness_in_use == "None":
            return None
        return dag.witness_server

    def primary_active_manager(self, dag: Dag) -> str | None:
        if not self.quorum(dag)["has_quorum"]:
            return None
        return dag.cluster.group_owner

    def operational_servers(self, dag: Dag) -> list[str]:
        return [m for m in dag.members if self.is_operational(m)]

    def servers_in_maintenance(self, dag: Dag) -> list[str]:
        """Members whose HighAvailability component is not Active (ServerWideOffline
        Inactive forces it Inactive) -- the lab's reading of ServersInMaintenance."""
        out = []
        for m in dag.members:
            srv = self.server(m)
            if (
                srv
                and srv.components.get("HighAvailability") is not None
                and srv.components.state("HighAvailability") != "Active"
            ):
                out.append(m)
        return out

    # ------------------------------------------------------------- scheduling
    def schedule(self, delay_modelled_s: float, fn: Callable[[], None], label: str) -> None:
        """Run ``fn`` (with the lock held) once lab time has advanced ``delay_modelled_s``;
        due work runs at the next :meth:`tick`."""
        with self.lock:
            heapq.heappush(
                self._timers, (self.clock.elapsed() + max(0.0, delay_modelled_s), next(self._seq), label, fn)
            )

    def tick(self) -> None:
        """Apply every scheduled transition that is due.  Cmdlets call it first."""
        with self.lock:
            now = self.clock.elapsed()
            while self._timers and self._timers[0][0] <= now:
                _, _, _, fn = heapq.heappop(self._timers)
                fn()

    def pending(self) -> list[dict]:
        with self.lock:
            now = self.clock.elapsed()
            return [
                {"label": label, "due_in_s": round(max(0.0, due - now), 3)} for due, _, label, _ in sorted(self._timers)
            ]

    # ------------------------------------------------------------- transitions
    def set_mount_state(self, db: Database, mount_state: str) -> None:
        if mount_state not in ACTIVE_STATUSES:
            raise ValueError(f"mount state must be one of {ACTIVE_STATUSES}, got {mount_state!r}")
        with self.lock:
            if mount_state in ("Mounting", "Mounted") and self.mount_problem(db) is not None:
                return  # a failure keeps the database from mounting (failures.py)
            if db.mount_state != mount_state:
                db.mount_state = mount_state
                active = db.active_copy
                if active is not None:
                    active.last_status_transition = self.clock.now()
                if mount_state == "Mounted":
                    db.dismounted_by_system = False
                    db.log_generation += 1

    def mount_problem(self, db: Database, server: str | None = None) -> str | None:
        """Why the copy of ``db`` on ``server`` (default: the active one) can't be mounted
        because of an injected failure or the DACP bit (``None`` = nothing in the way)."""
        catalogue = getattr(self, "catalogue", None)
        return catalogue.mount_problem(db, server) if catalogue is not None else None

    def mount(self, db: Database) -> None:
        self.set_mount_state(db, "Mounted")

    def dismount(self, db: Database) -> None:
        self.set_mount_state(db, "Dismounted")

    def set_copy_status(
        self,
        db: Database,
        server: str,
        status: str,
        *,
        error_message: str | None = None,
        suspend_comment: str | None = None,
    ) -> DatabaseCopy:
        """Change a passive copy's status (Suspended, Seeding, Initializing, Healthy ...)."""
        if status not in PASSIVE_STATUSES:
            raise ValueError(f"copy status must be one of {PASSIVE_STATUSES}, got {status!r}")
        with self.lock:
            c = db.copy_on(server)
            if c is None:
                raise KeyError(f"{db.name} has no copy on {server}")
            catalogue = getattr(self, "catalogue", None)
            if catalogue is not None:
                # a failed copy does not heal while its failure lasts (failures.py)
                status, held_message = catalogue.guard_copy_status(db, c, status)
                if held_message is not None:
                    error_message = held_message
            c.status = status
            c.error_message = error_message
            if suspend_comment is not None or status not in ("Suspended", "FailedAndSuspended"):
                c.suspend_comment = suspend_comment
            c.last_status_transition = self.clock.now()
            return c

    def settle_copy(self, db: Database, server: str, *, via: str = "Initializing") -> None:
        """A passive copy goes ``via`` (default Initializing) and reaches Healthy after the
        modelled Initializing time, unless something else changed it meanwhile."""
        c = db.copy_on(server)
        if c is None:
            return
        self.set_copy_status(db, c.server, via)

        def done() -> None:
            if c.status == via and c.server.lower() != db.active_server.lower():
                self.set_copy_status(db, c.server, "Healthy")

        self.schedule(durations.INITIALIZING_S, done, f"{c.identity} {via} -> Healthy")

    def activate_copy(
        self,
        db: Database,
        server: str,
        *,
        mount: bool = True,
        initiator: str = "Administrator",
        logs_lost: int | None = None,
    ) -> None:
        """Make the copy on ``server`` the active copy (the database's new active server).
        The old active copy becomes passive: Initializing, then Healthy, when its server
        is reachable; the new one starts a new log generation.  ``logs_lost`` (default:
        the new copy's copy queue when the old active server is unreachable, else 0) > 0
        is recorded in ``data_loss``."""
        with self.lock:
            new = db.copy_on(server)
            if new is None:
                raise KeyError(f"{db.name} has no copy on {server}")
            old_server = db.active_server
            if logs_lost is None:
                logs_lost = 0 if self.is_reachable(old_server) else new.copy_queue
            blocked = mount and self.mount_problem(db, new.server) is not None
            if blocked:
                mount = False
            if logs_lost > 0:
                self.data_loss.append(
                    {
                        "database": db.name,
                        "server": new.server,
                        "previous_server": old_server,
                        "logs_lost": logs_lost,
                        "time": self.clock.now().isoformat(),
                        "initiator": initiator,
                        "mounted": mount,
                    }
                )
            db.active_server = new.server
            new.copy_queue = 0
            new.replay_queue = 0
            new.status = "Healthy"
            new.error_message = None
            new.action_initiator = initiator
            new.last_status_transition = self.clock.now()
            db.mount_state = "Mounted" if mount else "Dismounted"
            db.dismounted_by_system = blocked
            db.log_generation += 1
            old = db.copy_on(old_server)
            if old is not None and old is not new:
                old.action_initiator = initiator
                old.copy_queue = 0
                old.replay_queue = 0
                if self.is_reachable(old.server):
                    self.settle_copy(db, old.server)
                else:
                    old.status = "ServiceDown"
                    old.last_status_transition = self.clock.now()

    def set_node_state(self, dag: Dag, server: str, state: str) -> None:
        """Cluster node state (Up / Down / Paused / Joining); moves the cluster group off a
        node that goes Down and re-evaluates quorum."""
        if state not in NODE_STATES:
            raise ValueError(f"node state must be one of {NODE_STATES}, got {state!r}")
        with self.lock:
            node = dag.cluster.node(server)
            if node is None:
                raise KeyError(f"{server} is not a node of cluster {dag.name}")
            previous, node.state = node.state, state
            if state == "Down" and dag.cluster.group_owner and dag.cluster.group_owner.lower() == node.name.lower():
                self._move_cluster_group(dag)
            if state == "Down" and previous != "Down" and self.quorum(dag)["has_quorum"]:
                # "node down" triggers a server failover (failure-modes.yml context notes);
                # a reachable server dismounts its databases, so the last logs can be copied
                reachable = self.is_reachable(node.name)
                for db in self.active_databases(node.name):
                    if db.replicated and db.mount_state != "Dismounted":
                        activation.failover(self, db, f"cluster node {node.name} down", source_reachable=reachable)
            self.evaluate_quorum(dag)

    def evict_node(self, dag: Dag, server: str) -> None:
        """Forcibly evict a node from the DAG's cluster (Restore-DatabaseAvailabilityGroup):
        it no longer votes; the quorum model follows the remaining node count."""
        with self.lock:
            node = dag.cluster.nodes.pop(server.lower(), None)
            if node is None:
                raise KeyError(f"{server} is not a node of cluster {dag.name}")
            dag.cluster.evicted.append(node.name)
            if dag.cluster.group_owner and dag.cluster.group_owner.lower() == node.name.lower():
                dag.cluster.group_owner = None
                self._move_cluster_group(dag)
            self.evaluate_quorum(dag)

    def add_node(self, dag: Dag, server: str, state: str = "Up") -> None:
        """Join a server to the DAG's cluster again (Start-DatabaseAvailabilityGroup)."""
        with self.lock:
            srv = self.server(server)
            name = srv.name if srv else server
            dag.cluster.evicted = [e for e in dag.cluster.evicted if e.lower() != name.lower()]
            ordered = {
                m.lower(): dag.cluster.nodes.get(m.lower())
                or (ClusterNode(m, state) if m.lower() == name.lower() else None)
                for m in dag.members
            }
            dag.cluster.nodes = {k: v for k, v in ordered.items() if v is not None}
            self.evaluate_quorum(dag)

    def move_cluster_group(self, dag: Dag, target: str | None = None) -> str | None:
        """Move "Cluster Group" (the PAM role) to ``target`` or to the first Up node other
        than the current owner.  Paused nodes cannot become the owner."""
        with self.lock:
            return self._move_cluster_group(dag, target)

    def _move_cluster_group(self, dag: Dag, target: str | None = None) -> str | None:
        current = (dag.cluster.group_owner or "").lower()
        if target is not None:
            node = dag.cluster.node(target)
            if node is None or node.state != "Up" or not self.is_reachable_host(node.name):
                raise ValueError(f"{target} is not an Up node of {dag.name}")
            dag.cluster.group_owner = node.name
            return node.name
        for node in dag.cluster.nodes.values():
            if node.name.lower() != current and node.state == "Up" and self.is_reachable_host(node.name):
                dag.cluster.group_owner = node.name
                return node.name
        cur_node = dag.cluster.node(current) if current else None
        if cur_node is None or cur_node.state == "Down" or not self.is_reachable_host(cur_node.name):
            dag.cluster.group_owner = None
        return dag.cluster.group_owner

    def evaluate_quorum(self, dag: Dag) -> dict:
        """Apply the consequences of the current quorum: without quorum every database of
        the DAG is dismounted (failure-modes ``dag-quorum-failure``); when quorum returns,
        Active Manager mounts them again (or fails them over if their server is gone)."""
        with self.lock:
            q = self.quorum(dag)
            if not q["has_quorum"]:
                for db in self.databases.values():
                    if db.dag == dag.name and db.mount_state != "Dismounted":
                        db.mount_state = "Dismounted"
                        db.dismounted_by_system = True
            else:
                owner = dag.cluster.node(dag.cluster.group_owner) if dag.cluster.group_owner else None
                if owner is None or owner.state == "Down" or not self.is_reachable_host(owner.name):
                    self._move_cluster_group(dag)
                for db in self.databases.values():
                    if db.dag == dag.name and db.dismounted_by_system:
                        if self.is_operational(db.active_server):
                            self.set_mount_state(db, "Mounted")
                        else:
                            activation.failover(self, db, "quorum restored")
            return q

    def stop_mailbox_servers(self, dag: Dag, servers: list[str]) -> None:
        """Add servers to StoppedMailboxServers (and drop them from Started)."""
        with self.lock:
            for s in servers:
                name = self.server(s).name if self.server(s) else s
                if not any(x.lower() == name.lower() for x in dag.stopped):
                    dag.stopped.append(name)
                dag.started = [x for x in dag.started if x.lower() != name.lower()]

    def start_mailbox_servers(self, dag: Dag, servers: list[str]) -> None:
        """Remove servers from StoppedMailboxServers and add them to Started."""
        with self.lock:
            for s in servers:
                name = self.server(s).name if self.server(s) else s
                dag.stopped = [x for x in dag.stopped if x.lower() != name.lower()]
                if not any(x.lower() == name.lower() for x in dag.started):
                    dag.started.append(name)

    def set_server_up(self, server: str, up: bool) -> None:
        """A server fails (``up=False``: cluster node Down, its copies ServiceDown, its
        active databases fail over by BCSS) or comes back (node Up, passive copies
        Initializing then Healthy, its dismounted active databases mount again)."""
        with self.lock:
            srv = self.server(server)
            if srv is None:
                raise KeyError(server)
            dag = self.dag(srv.dag) if srv.dag else None
            if not up and srv.up:
                srv.up = False
                self._host_up[srv.name.lower()] = False
                if dag is not None:
                    self.set_node_state(dag, srv.name, "Down")  # fails its databases over
                for db in self.active_databases(srv.name):
                    if db.mount_state != "Dismounted":
                        db.mount_state = "Dismounted"
                        db.dismounted_by_system = True
            elif up and not srv.up:
                catalogue = getattr(self, "catalogue", None)
                if catalogue is not None and catalogue.held_down(srv.name):
                    return  # still down because of a site_down / host_unreachable / ... failure
                srv.up = True
                self._host_up[srv.name.lower()] = True
                if catalogue is not None:
                    catalogue.server_restarted(srv.name)  # DACP bit 0 after a restart (failures.py)
                if dag is not None:
                    node = dag.cluster.node(srv.name)
                    if node is not None and node.state == "Down":
                        self.set_node_state(dag, srv.name, "Up")
                for db in self.databases_on(srv.name):
                    c = db.copy_on(srv.name)
                    if db.active_server.lower() == srv.name.lower():
                        if db.dismounted_by_system and db.mount_at_startup and self.is_operational(srv.name):
                            self.set_mount_state(db, "Mounted")
                    elif c.status in ("Healthy", "ServiceDown"):
                        self.settle_copy(db, srv.name)

    # ------------------------------------------------------------------ faults
    def inject_fault(self, spec: dict) -> dict:
        """Inject a fault; returns the normalised fault as stored (``to_json`` lists it)."""
        with self.lock:
            self.tick()
            if isinstance(spec, dict) and "id" in spec:
                return self.catalogue.inject(spec)  # the failure catalogue (failures.py)
            fault = self._validate_fault(spec)
            kind = fault["kind"]
            if any(self._same_target(f, fault) for f in self.faults):
                raise ValueError(f"a {kind} fault is already injected for {self._fault_target(fault)}; clear it first")
            if kind == "server_down":
                self.set_server_up(fault["server"], False)
            else:
                db = self.database(fault["database"])
                c = db.copy_on(fault["server"])
                if kind == "copy_status":
                    if c.server.lower() == db.active_server.lower():
                        raise ValueError(f"{c.identity} is the active copy; copy_status faults apply to passive copies")
                    fault["previous"] = c.status
                    self.set_copy_status(
                        db,
                        c.server,
                        fault["status"],
                        error_message=(
                            None
                            if fault["status"] not in ("Failed", "FailedAndSuspended")
                            else "Injected fault: the copy cannot copy or replay logs."
                        ),
                    )
                elif kind == "copy_queue":
                    if c.server.lower() == db.active_server.lower():
                        raise ValueError(f"{c.identity} is the active copy; its copy and replay queues are always 0")
                    fault["previous"] = {"copy_queue": c.copy_queue, "replay_queue": c.replay_queue}
                    c.copy_queue = fault["copy_queue"]
                    c.replay_queue = fault["replay_queue"]
                elif kind == "content_index":
                    fault["previous"] = c.content_index
                    c.content_index = fault["state"]
            self.faults.append(fault)
            return dict(fault)

    def clear_fault(self, spec: dict | None = None) -> int:
        """Clear the faults matching ``spec`` (same kind and target; ``None`` = all).
        Returns how many were cleared; ``ValueError`` when ``spec`` matches none."""
        with self.lock:
            self.tick()
            if isinstance(spec, dict) and "id" in spec:
                return self.catalogue.clear(spec)  # the failure catalogue (failures.py)
            if spec is None:
                targets = list(self.faults)
            else:
                wanted = self._validate_fault(spec, partial=True)
                targets = [f for f in self.faults if self._same_target(f, wanted)]
                if not targets:
                    raise ValueError(f"no {wanted['kind']} fault is injected for {self._fault_target(wanted)}")
            for fault in reversed(targets):
                self._undo_fault(fault)
                self.faults.remove(fault)
            return len(targets)

    def _undo_fault(self, fault: dict) -> None:
        kind = fault["kind"]
        if kind == "failure":
            self.catalogue.undo(fault)
            return
        if kind == "server_down":
            self.set_server_up(fault["server"], True)
            return
        db = self.database(fault["database"])
        c = db.copy_on(fault["server"])
        if kind == "copy_status":
            if c.status == fault["status"] and c.server.lower() != db.active_server.lower():
                # Failed copies retry and return to Healthy by themselves (§1.1): the lab
                # takes them through Initializing.
                if fault["previous"] == "Healthy":
                    self.settle_copy(db, c.server)
                else:
                    self.set_copy_status(db, c.server, fault["previous"])
        elif kind == "copy_queue":
            if c.server.lower() != db.active_server.lower():
                c.copy_queue = fault["previous"]["copy_queue"]
                c.replay_queue = fault["previous"]["replay_queue"]
        elif kind == "content_index":
            c.content_index = fault["previous"]

    @staticmethod
    def _fault_target(f: dict) -> str:
        return f["server"] if f["kind"] == "server_down" else f"{f['database']}\\{f['server']}"

    def _same_target(self, a: dict, b: dict) -> bool:
        return a["kind"] == b["kind"] and self._fault_target(a).lower() == self._fault_target(b).lower()

    def _validate_fault(self, spec: Any, partial: bool = False) -> dict:
        if not isinstance(spec, dict):
            raise ValueError("a fault must be a mapping with a 'kind' or an 'id'")
        if "id" in spec:
            return self.catalogue.validate(spec, partial=partial)  # the failure catalogue (failures.py)
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {kind!r} (supported: {', '.join(FAULT_KINDS)}; or an 'id' of the failure catalogue)"
            )
        unknown = set(spec) - _FAULT_KEYS[kind]
        if unknown:
            raise ValueError(
                f"{kind} fault: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(_FAULT_KEYS[kind]))})"
            )
        required = {"server"} if kind == "server_down" else {"database", "server"}
        if not partial:
            required = _FAULT_REQUIRED[kind]
        missing = required - set(spec)
        if missing:
            raise ValueError(f"{kind} fault: missing key(s) {', '.join(sorted(missing))}")
        srv = self.server(str(spec["server"]))
        if srv is None:
            raise ValueError(f"{kind} fault: unknown Exchange server {spec['server']!r}")
        fault: dict[str, Any] = {"kind": kind, "server": srv.name}
        if kind != "server_down":
            db = self.database(str(spec["database"]))
            if db is None:
                raise ValueError(f"{kind} fault: unknown database {spec['database']!r}")
            if db.copy_on(srv.name) is None:
                raise ValueError(f"{kind} fault: {db.name} has no copy on {srv.name}")
            fault["database"] = db.name
        if partial:
            return fault
        if kind == "copy_status":
            status = _choice(spec["status"], PASSIVE_STATUSES, "copy_status fault: status")
            fault["status"] = status
        elif kind == "copy_queue":
            for key in ("copy_queue", "replay_queue"):
                v = spec.get(key, 0)
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise ValueError(f"copy_queue fault: {key} must be a non-negative integer, got {v!r}")
                fault[key] = v
            if "copy_queue" not in spec and "replay_queue" not in spec:
                raise ValueError("copy_queue fault: give copy_queue and/or replay_queue")
        elif kind == "content_index":
            fault["state"] = _choice(spec["state"], CONTENT_INDEX_VALUES, "content_index fault: state")
        return fault

    # -------------------------------------------------------------------- dump
    def to_json(self) -> dict:
        """The whole state as JSON-serialisable data (passwords left out)."""
        with self.lock:
            self.tick()
            return {
                "topology": self.topology_name,
                "clock": {"now": self.clock.now().isoformat(), "speed": self.clock.speed},
                "org": {"name": self.org_name, "domain": self.domain, "netbios": self.netbios},
                "users": [{"name": u.name, "upn": u.upn, "roles": list(u.roles)} for u in self.users.values()],
                "sites": [dict(s) for s in self.sites.values()],
                "hosts": [
                    {
                        "name": h.name,
                        "fqdn": h.fqdn,
                        "site": h.site,
                        "roles": list(h.roles),
                        "version": h.version,
                        "kind": h.kind,
                        "windows": h.windows,
                        "ip": self._host_ip[h.name.lower()],
                        "up": self._host_up[h.name.lower()],
                    }
                    for h in self.hosts
                ],
                "exchange_servers": [s.to_json() for s in self.servers.values()],
                "dags": [
                    {
                        **d.to_json(),
                        "quorum": self.quorum(d),
                        "primary_active_manager": self.primary_active_manager(d),
                        "operational_servers": self.operational_servers(d),
                    }
                    for d in self.dags.values()
                ],
                "databases": [db.to_json() for db in self.databases.values()],
                "dns": {"zones": [_copy.deepcopy(z) for z in self.dns_zones.values()]},
                "faults": [_copy.deepcopy(f) for f in self.faults],
                "pending": self.pending(),
                "data_loss": [dict(d) for d in self.data_loss],
                "failures": self.catalogue.to_json(),
            }


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    for a in allowed:
        if a.lower() == str(value).lower():
            return a
    raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)}")
