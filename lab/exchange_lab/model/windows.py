"""Windows, Active Directory, SMB and DNS state of the lab's hosts.

Every host of the lab is a Windows server.  :class:`WindowsState` (``LabState.windows``,
built by ``LabState._build`` after the Exchange model) holds what the Windows cmdlets
read and change:

* **services** per host (``Get-Service`` ...).  The cluster service (``ClusSvc``) of a
  DAG member has no status of its own: it is derived from the member's node in the DAG's
  cluster (``Down`` = stopped), so the Exchange model and the service never disagree.
  Stopping ``MSExchangeRepl`` or ``MSExchangeIS`` has the Exchange consequences of
  runbooks §1.1 and failure-modes ``information-store-stopped-or-paused-by-admin``
  (``LabState.copy_status`` / ``is_operational`` consult :meth:`replication_running` /
  :meth:`exchange_services_running`).
* **Active Directory**: computer accounts (every host, and the CNO of every DAG with an
  administrative access point), groups and users, each with an ACL (explicit and
  inherited ACEs, an owner).  Principals resolve by ``DOMAIN\\sam``, sam, name, DN, UPN
  or SID.
* **SMB shares** with a scope: ``*`` (the host's own name) or a cluster network name.
  A scoped share lives with its network name and is seen on the node that owns the name
  (``resolve_unc`` gives the share behind ``\\\\name\\share``).  The store exists on every
  Windows version; Windows Server 2008 / 2008 R2 hosts have no SmbShare cmdlets, so only
  the model API changes their shares there.
* **DNS**: the zones of ``LabState.dns_zones`` (records are the dicts there; this module
  adds a ``timestamp`` to records registered dynamically).
* **Cluster extras** that the Exchange model does not carry: cluster ids, the private
  properties of the cluster network name resource (``HostRecordTTL`` 1200 s,
  runbooks §13) and the cluster networks derived from the DAG networks.

Nothing here sleeps; callers hold ``lab.lock``.  Modelling choices are listed in
lab/README-model.md, section "Windows, Active Directory and DNS".
"""

from __future__ import annotations

import copy as _copy
import datetime
import fnmatch
import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import activation
from .objects_state import lab_guid

if TYPE_CHECKING:  # pragma: no cover
    from .objects_state import Dag
    from .state import LabState

# ---------------------------------------------------------------- Windows versions
WINDOWS_VERSIONS = ("WS2008", "WS2008R2", "WS2012", "WS2012R2", "WS2016", "WS2019", "WS2022")
DEFAULT_WINDOWS = "WS2019"
# label -> (OperatingSystem as AD shows it, OperatingSystemVersion, major, minor, build)
OS_INFO = {
    "WS2008": ("Windows Server 2008 Enterprise", "6.0 (6002)", 6, 0, 6002),
    "WS2008R2": ("Windows Server 2008 R2 Enterprise", "6.1 (7601)", 6, 1, 7601),
    "WS2012": ("Windows Server 2012 Standard", "6.2 (9200)", 6, 2, 9200),
    "WS2012R2": ("Windows Server 2012 R2 Standard", "6.3 (9600)", 6, 3, 9600),
    "WS2016": ("Windows Server 2016 Standard", "10.0 (14393)", 10, 0, 14393),
    "WS2019": ("Windows Server 2019 Standard", "10.0 (17763)", 10, 0, 17763),
    "WS2022": ("Windows Server 2022 Standard", "10.0 (20348)", 10, 0, 20348),
}


def windows_of(host: Any) -> str:
    """The Windows label of a host (``HostInfo.windows``)."""
    value = getattr(host, "windows", None) or DEFAULT_WINDOWS
    return value if value in WINDOWS_VERSIONS else DEFAULT_WINDOWS


def windows_at_least(host: Any, minimum: str) -> bool:
    return WINDOWS_VERSIONS.index(windows_of(host)) >= WINDOWS_VERSIONS.index(minimum)


# ------------------------------------------------------------------- durations
# Modelled seconds (choices, README-model.md "Windows, Active Directory and DNS").
SERVICE_STOP_S = 2.0
SERVICE_START_S = 2.0
CLUSTER_NODE_JOIN_S = 5.0  # Start-ClusterNode / Start-Service ClusSvc: Joining -> Up

CLUSSVC = "ClusSvc"
REPL = "MSExchangeRepl"
STORE = "MSExchangeIS"
ADTOPOLOGY = "MSExchangeADTopology"

# ---------------------------------------------------------------------- services
# (name, display name, startup type, service type, required services)
_WINDOWS_SERVICES: list[tuple[str, str, str, str, list[str]]] = [
    ("EventLog", "Windows Event Log", "Automatic", "Win32ShareProcess", []),
    ("LanmanServer", "Server", "Automatic", "Win32ShareProcess", []),
    ("LanmanWorkstation", "Workstation", "Automatic", "Win32ShareProcess", []),
    ("RemoteRegistry", "Remote Registry", "Automatic", "Win32ShareProcess", []),
    ("RpcSs", "Remote Procedure Call (RPC)", "Automatic", "Win32ShareProcess", []),
    ("Winmgmt", "Windows Management Instrumentation", "Automatic", "Win32ShareProcess", []),
    ("WinRM", "Windows Remote Management (WS-Management)", "Automatic", "Win32ShareProcess", []),
]
_DC_SERVICES = [
    ("ADWS", "Active Directory Web Services", "Automatic", "Win32OwnProcess", []),
    ("Netlogon", "Netlogon", "Automatic", "Win32ShareProcess", []),
    ("NTDS", "Active Directory Domain Services", "Automatic", "Win32ShareProcess", []),
]
_DNS_SERVICE = ("DNS", "DNS Server", "Automatic", "Win32OwnProcess", [])
_EXCHANGE_WINDOWS_SERVICES = [
    ("NetTcpPortSharing", "Net.TCP Port Sharing Service", "Automatic", "Win32ShareProcess", []),
    ("FMS", "Microsoft Filtering Management Service", "Automatic", "Win32OwnProcess", []),
    ("W3SVC", "World Wide Web Publishing Service", "Automatic", "Win32ShareProcess", []),
]
_CLUSTER_SERVICE = (CLUSSVC, "Cluster Service", "Automatic", "Win32OwnProcess", [])
_T = ADTOPOLOGY
# Exchange 2016/2019 Mailbox server services: name, display name, startup type and
# dependencies from "Overview of Exchange services on Exchange servers"
# (x13-me/OfficeDocs-Exchange: Exchange/ExchangeServer/plan-and-deploy/deployment-ref/services-overview.md).
# The fifth field: versions the service exists on.
_EXCHANGE_SERVICES: list[tuple[str, str, str, list[str], tuple[str, ...]]] = [
    (ADTOPOLOGY, "Microsoft Exchange Active Directory Topology", "Automatic", ["NetTcpPortSharing"], ("2013", "2016", "2019")),
    ("MSExchangeAntispamUpdate", "Microsoft Exchange Anti-spam Update", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSComplianceAudit", "Microsoft Exchange Compliance Audit", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeCompliance", "Microsoft Exchange Compliance Service", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeDagMgmt", "Microsoft Exchange DAG Management", "Automatic", [_T, "NetTcpPortSharing"], ("2013", "2016", "2019")),
    ("MSExchangeDiagnostics", "Microsoft Exchange Diagnostics", "Automatic", [], ("2013", "2016", "2019")),
    ("MSExchangeEdgeSync", "Microsoft Exchange EdgeSync", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeFrontEndTransport", "Microsoft Exchange Frontend Transport", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeHM", "Microsoft Exchange Health Manager", "Automatic", ["EventLog", "Winmgmt"], ("2013", "2016", "2019")),
    ("MSExchangeHMRecovery", "Microsoft Exchange Health Manager Recovery", "Automatic", ["EventLog", "Winmgmt"], ("2013", "2016", "2019")),
    ("MSExchangeIMAP4", "Microsoft Exchange IMAP4", "Manual", [_T], ("2013", "2016", "2019")),
    ("MSExchangeIMAP4BE", "Microsoft Exchange IMAP4 Backend", "Manual", [_T], ("2013", "2016", "2019")),
    (STORE, "Microsoft Exchange Information Store", "Automatic",
     [_T, "RpcSs", "LanmanServer", "EventLog", "LanmanWorkstation"], ("2013", "2016", "2019")),
    ("MSExchangeMailboxAssistants", "Microsoft Exchange Mailbox Assistants", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeMailboxReplication", "Microsoft Exchange Mailbox Replication", "Automatic", [_T, "NetTcpPortSharing"], ("2013", "2016", "2019")),
    ("MSExchangeDelivery", "Microsoft Exchange Mailbox Transport Delivery", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeSubmission", "Microsoft Exchange Mailbox Transport Submission", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeNotificationsBroker", "Microsoft Exchange Notifications Broker", "Automatic", [_T, "NetTcpPortSharing"], ("2016",)),
    ("MSExchangePOP3", "Microsoft Exchange POP3", "Manual", [_T], ("2013", "2016", "2019")),
    ("MSExchangePOP3BE", "Microsoft Exchange POP3 Backend", "Manual", [_T], ("2013", "2016", "2019")),
    (REPL, "Microsoft Exchange Replication Service", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeRPC", "Microsoft Exchange RPC Client Access", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeFastSearch", "Microsoft Exchange Search", "Automatic", [_T], ("2013", "2016", "2019")),
    ("HostControllerService", "Microsoft Exchange Search Host Controller", "Automatic", [], ("2013", "2016", "2019")),
    ("WSBExchange", "Microsoft Exchange Server Extension for Windows Server Backup", "Manual", [], ("2013", "2016", "2019")),
    ("MSExchangeServiceHost", "Microsoft Exchange Service Host", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeThrottling", "Microsoft Exchange Throttling", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeTransport", "Microsoft Exchange Transport", "Automatic", [_T, "FMS"], ("2013", "2016", "2019")),
    ("MSExchangeTransportLogSearch", "Microsoft Exchange Transport Log Search", "Automatic", [_T], ("2013", "2016", "2019")),
    ("MSExchangeUM", "Microsoft Exchange Unified Messaging", "Automatic", [_T], ("2013", "2016")),
    ("MSExchangeUMCR", "Microsoft Exchange Unified Messaging Call Router", "Automatic", [_T], ("2013", "2016")),
]


@dataclass
class Service:
    name: str
    display_name: str
    start_type: str  # Automatic | Manual | Disabled (Boot | System for drivers)
    service_type: str  # Win32OwnProcess | Win32ShareProcess
    depends_on: list[str]
    status: str = "Running"  # Running | Stopped | Paused (ClusSvc of a node: derived)
    description: str | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "start_type": self.start_type}


class ServiceError(Exception):
    """A Service Control Manager refusal; ``kind`` is one of ``dependents``,
    ``cannot_start``, ``cannot_stop``."""

    def __init__(self, kind: str, service: Service, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.service = service
        self.detail = detail


# ---------------------------------------------------------------- Active Directory
ACTIVE_DIRECTORY_RIGHTS = (
    "CreateChild", "DeleteChild", "ListChildren", "Self", "ReadProperty", "WriteProperty", "DeleteTree",
    "ListObject", "ExtendedRight", "Delete", "ReadControl", "GenericExecute", "GenericWrite", "GenericRead",
    "WriteDacl", "WriteOwner", "GenericAll", "Synchronize", "AccessSystemSecurity",
)
INHERITANCE_TYPES = ("None", "All", "Descendents", "SelfAndChildren", "Children")

# Well-known security principals (display name, SID).
WELL_KNOWN = {
    "everyone": ("Everyone", "S-1-1-0"),
    "nt authority\\system": ("NT AUTHORITY\\SYSTEM", "S-1-5-18"),
    "nt authority\\self": ("NT AUTHORITY\\SELF", "S-1-5-10"),
    "nt authority\\authenticated users": ("NT AUTHORITY\\Authenticated Users", "S-1-5-11"),
    "nt authority\\interactive": ("NT AUTHORITY\\INTERACTIVE", "S-1-5-4"),
    "nt authority\\network service": ("NT AUTHORITY\\NETWORK SERVICE", "S-1-5-20"),
    "builtin\\administrators": ("BUILTIN\\Administrators", "S-1-5-32-544"),
    "builtin\\users": ("BUILTIN\\Users", "S-1-5-32-545"),
    "builtin\\account operators": ("BUILTIN\\Account Operators", "S-1-5-32-548"),
    "builtin\\backup operators": ("BUILTIN\\Backup Operators", "S-1-5-32-551"),
}
# Short names that resolve to a well-known principal without a domain part.
_WELL_KNOWN_SHORT = {
    "everyone": "everyone", "system": "nt authority\\system", "self": "nt authority\\self",
    "authenticated users": "nt authority\\authenticated users", "interactive": "nt authority\\interactive",
    "administrators": "builtin\\administrators", "users": "builtin\\users",
    "account operators": "builtin\\account operators", "backup operators": "builtin\\backup operators",
}

# Groups: (name, container key, fixed RID or None, description)
_GROUPS = [
    ("Domain Admins", "users", 512),
    ("Domain Users", "users", 513),
    ("Domain Computers", "users", 515),
    ("Domain Controllers", "users", 516),
    ("Enterprise Admins", "users", 519),
    ("Exchange Servers", "exsg", None),
    ("Exchange Trusted Subsystem", "exsg", None),
    ("Exchange Windows Permissions", "exsg", None),
    ("Organization Management", "exsg", None),
    ("View-Only Organization Management", "exsg", None),
]


@dataclass
class Ace:
    """One access control entry of an AD object (what an ADAcePresentationObject shows)."""

    principal: str  # display form: CONTOSO\EX01$, NT AUTHORITY\SYSTEM
    sid: str
    rights: list[str]  # ActiveDirectoryRights member names
    deny: bool = False
    inheritance: str = "All"
    inherited: bool = False
    extended_rights: list[str] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)
    child_object_types: list[str] = field(default_factory=list)
    inherited_object_type: str | None = None

    def same_rule(self, other: "Ace") -> bool:
        """Same trustee, type, inheritance and object types (the rights may differ)."""
        return (
            self.sid == other.sid
            and self.deny == other.deny
            and self.inheritance == other.inheritance
            and _lower(self.properties) == _lower(other.properties)
            and _lower(self.child_object_types) == _lower(other.child_object_types)
            and (self.inherited_object_type or "").lower() == (other.inherited_object_type or "").lower()
        )

    def to_json(self) -> dict:
        return {
            "principal": self.principal,
            "rights": list(self.rights),
            "deny": self.deny,
            "inheritance": self.inheritance,
            "inherited": self.inherited,
            "extended_rights": list(self.extended_rights),
        }


def _lower(items: list[str]) -> list[str]:
    return sorted(i.lower() for i in items)


@dataclass
class ADObject:
    """A computer, group or user account of the domain."""

    object_class: str  # computer | group | user
    name: str  # CN
    sam: str  # sAMAccountName (computers end in $)
    container: str  # DN of the parent
    sid: str
    guid: uuid.UUID
    created: datetime.datetime
    enabled: bool = True
    upn: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)  # other attributes (Description, OperatingSystem ...)
    members: list[str] = field(default_factory=list)  # DNs (groups)
    aces: list[Ace] = field(default_factory=list)
    owner: str = ""
    modified: datetime.datetime | None = None
    critical: bool = False  # isCriticalSystemObject (domain controllers)

    @property
    def dn(self) -> str:
        return f"CN={self.name},{self.container}"

    def to_json(self) -> dict:
        return {
            "class": self.object_class,
            "dn": self.dn,
            "sam": self.sam,
            "enabled": self.enabled,
            "owner": self.owner,
            "aces": [a.to_json() for a in self.aces],
        }


@dataclass
class Principal:
    """A resolved security principal (an AD object or a well-known one)."""

    display: str
    sid: str
    obj: ADObject | None = None


# --------------------------------------------------------------------------- SMB
SHARE_RIGHTS = ("Full", "Change", "Read")


@dataclass
class ShareAce:
    account: str  # display form
    sid: str
    type: str  # Allow | Deny
    right: str  # Full | Change | Read


@dataclass
class Share:
    name: str
    path: str
    scope: str  # "*" or a cluster network name
    description: str = ""
    aces: list[ShareAce] = field(default_factory=list)
    special: bool = False
    temporary: bool = False
    share_type: str = "FileSystemDirectory"  # or InterprocessCommunication
    encrypt_data: bool = False
    folder_enumeration_mode: str = "Unrestricted"
    caching_mode: str = "Manual"
    continuously_available: bool = False
    ca_timeout: int = 0
    concurrent_user_limit: int = 0
    other: dict[str, Any] = field(default_factory=dict)

    @property
    def scoped(self) -> bool:
        return self.scope != "*"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "path": self.path,
            "scope": self.scope,
            "description": self.description,
            "access": [{"account": a.account, "type": a.type, "right": a.right} for a in self.aces],
        }


# ------------------------------------------------------------------- cluster info
@dataclass
class ClusterInfo:
    """What the Exchange model's ``Cluster`` does not carry."""

    id: uuid.UUID
    # private properties of the "Cluster Name" (Network Name) resource
    network_name: dict[str, Any]


# ======================================================================= the state
class WindowsState:
    def __init__(self, lab: "LabState", spec: dict) -> None:
        self.lab = lab
        now = lab.clock.now()
        self._now = now
        self.services: dict[str, dict[str, Service]] = {}
        self.objects: list[ADObject] = []
        self.host_shares: dict[str, list[Share]] = {}
        self.scoped_shares: dict[str, list[Share]] = {}
        self.clusters: dict[str, ClusterInfo] = {}
        self._rid = 1100
        self.domain_sid = self._domain_sid()
        self.domain_dn = ",".join(f"DC={p}" for p in lab.domain.split("."))
        self.containers = {
            "computers": f"CN=Computers,{self.domain_dn}",
            "users": f"CN=Users,{self.domain_dn}",
            "dcs": f"OU=Domain Controllers,{self.domain_dn}",
            "exsg": f"OU=Microsoft Exchange Security Groups,{self.domain_dn}",
        }
        self._build_services(spec)
        self._build_ad(spec)
        self._build_clusters()
        self._build_shares(spec)
        self._build_dns()

    # ------------------------------------------------------------------ helpers
    def _domain_sid(self) -> str:
        g = lab_guid("domain", self.lab.domain).int
        a, b, c = (g >> 64) % 4_000_000_000, (g >> 32) % 4_000_000_000, g % 4_000_000_000
        return f"S-1-5-21-{a}-{b}-{c}"

    def _next_sid(self, rid: int | None = None) -> str:
        if rid is None:
            rid = self._rid
            self._rid += 1
        return f"{self.domain_sid}-{rid}"

    def host_key(self, name: str) -> str | None:
        h = self.lab.host(name)
        return h.name.lower() if h else None

    # ================================================================= services
    def _build_services(self, spec: dict) -> None:
        member_of_dag = {m.lower() for d in spec.get("dags", []) for m in d["members"]}
        for h in spec["hosts"]:
            rows: list[tuple[str, str, str, str, list[str]]] = list(_WINDOWS_SERVICES)
            if h["kind"] == "dc":
                rows += _DC_SERVICES
            if "DNS" in h["roles"]:
                rows.append(_DNS_SERVICE)
            table: dict[str, Service] = {}
            statuses: dict[str, str] = {}
            if h["kind"] == "exchange":
                rows += _EXCHANGE_WINDOWS_SERVICES
                for name, display, start, deps, versions in _EXCHANGE_SERVICES:
                    if str(h["version"]) in versions:
                        stype = "Win32OwnProcess"
                        rows.append((name, display, start, stype, list(deps)))
                        statuses[name] = "Running" if start == "Automatic" else "Stopped"
                if h["name"].lower() in member_of_dag:
                    rows.append(_CLUSTER_SERVICE)
            for name, display, start, stype, deps in rows:
                table[name.lower()] = Service(
                    name, display, start, stype, list(deps), statuses.get(name, "Running" if start != "Disabled" else "Stopped")
                )
            self.services[h["name"].lower()] = dict(sorted(table.items()))

    def services_of(self, host: str) -> list[Service]:
        key = self.host_key(host)
        return list(self.services.get(key, {}).values()) if key else []

    def service(self, host: str, name: str) -> Service | None:
        key = self.host_key(host)
        return self.services.get(key, {}).get(str(name).lower()) if key else None

    def _cluster_node(self, host: str) -> tuple["Dag | None", Any]:
        """(DAG, node) of a DAG member; node None when evicted."""
        dag = self.lab.dag_of(host)
        if dag is None:
            return None, None
        return dag, dag.cluster.node(host)

    def service_status(self, host: str, svc: Service) -> str:
        if svc.name == CLUSSVC:
            dag, node = self._cluster_node(host)
            if dag is not None:
                return "Stopped" if node is None or node.state == "Down" else "Running"
        return svc.status

    def service_start_type(self, host: str, svc: Service) -> str:
        if svc.name == CLUSSVC:
            dag, node = self._cluster_node(host)
            if dag is not None and node is None:
                return "Disabled"  # an evicted node's cluster service is cleaned up
        return svc.start_type

    def service_running(self, host: str, name: str) -> bool:
        svc = self.service(host, name)
        return svc is not None and self.service_status(host, svc) == "Running"

    def replication_running(self, server: str) -> bool:
        """False when the server's Microsoft Exchange Replication service is not running
        (its copies show ServiceDown, runbooks §1.1)."""
        svc = self.service(server, REPL)
        return svc is None or svc.status == "Running"

    def exchange_services_running(self, server: str) -> bool:
        """Replication and Information Store both running (else the server is not an
        operational DAG member for Active Manager)."""
        for name in (REPL, STORE):
            svc = self.service(server, name)
            if svc is not None and svc.status != "Running":
                return False
        return True

    def dependents(self, host: str, name: str, *, running_only: bool = True) -> list[Service]:
        """Services of ``host`` that require ``name`` (directly or not), nearest last."""
        out: list[Service] = []
        seen: set[str] = set()

        def walk(target: str) -> None:
            for svc in self.services_of(host):
                if any(d.lower() == target.lower() for d in svc.depends_on) and svc.name.lower() not in seen:
                    seen.add(svc.name.lower())
                    walk(svc.name)
                    if not running_only or self.service_status(host, svc) != "Stopped":
                        out.append(svc)

        walk(name)
        return out

    def required(self, host: str, name: str) -> list[Service]:
        """Services ``name`` requires (directly or not), deepest first."""
        out: list[Service] = []
        seen: set[str] = set()

        def walk(target: str) -> None:
            svc = self.service(host, target)
            if svc is None:
                return
            for dep in svc.depends_on:
                d = self.service(host, dep)
                if d is not None and d.name.lower() not in seen:
                    seen.add(d.name.lower())
                    walk(d.name)
                    out.append(d)

        walk(name)
        return out

    def stop_service(self, host: str, name: str, *, force: bool = False) -> list[Service]:
        """Stop a service (and, with ``force``, the services that depend on it); returns
        the services stopped.  Raises :class:`ServiceError`."""
        svc = self.service(host, name)
        if svc is None:
            raise KeyError(name)
        if self.service_status(host, svc) == "Stopped":
            return []
        deps = self.dependents(host, svc.name)
        if deps and not force:
            raise ServiceError("dependents", svc)
        stopped = []
        for d in deps:
            if self.service_status(host, d) != "Stopped":
                self._apply_stop(host, d)
                stopped.append(d)
        self._apply_stop(host, svc)
        stopped.append(svc)
        return stopped

    def start_service(self, host: str, name: str) -> list[Service]:
        """Start a service and the services it requires (the Service Control Manager starts
        them first); returns the services started.  Raises :class:`ServiceError`."""
        svc = self.service(host, name)
        if svc is None:
            raise KeyError(name)
        chain = [*self.required(host, svc.name), svc]
        for s in chain:
            if self.service_status(host, s) != "Running" and self.service_start_type(host, s) == "Disabled":
                raise ServiceError("cannot_start", svc, f"The service {s.name} is disabled.")
        started = []
        for s in chain:
            status = self.service_status(host, s)
            if status == "Running":
                continue
            self._apply_start(host, s)
            started.append(s)
        return started

    def set_start_type(self, host: str, name: str, start_type: str) -> bool:
        svc = self.service(host, name)
        if svc is None:
            raise KeyError(name)
        if svc.start_type == start_type:
            return False
        svc.start_type = start_type
        return True

    # -- consequences ---------------------------------------------------------
    def _apply_stop(self, host: str, svc: Service) -> None:
        lab = self.lab
        if svc.name == CLUSSVC:
            dag, node = self._cluster_node(host)
            if dag is not None:
                if node is not None and node.state != "Down":
                    lab.set_node_state(dag, node.name, "Down")
                return
        svc.status = "Stopped"
        srv = lab.server(host)
        if srv is None:
            return
        if svc.name == STORE:
            self._store_stopped(srv.name)
        elif svc.name == REPL:
            self._replication_changed(srv.name)

    def _apply_start(self, host: str, svc: Service) -> None:
        lab = self.lab
        if svc.name == CLUSSVC:
            dag, node = self._cluster_node(host)
            if dag is not None:
                if node is None:
                    raise ServiceError("cannot_start", svc, "The node is not a member of the cluster.")
                if node.state == "Down":
                    self.join_node(dag, node.name)
                return
        svc.status = "Running"
        srv = lab.server(host)
        if srv is None:
            return
        if svc.name == STORE:
            self._store_started(srv.name)
        elif svc.name == REPL:
            self._replication_changed(srv.name, started=True)

    def join_node(self, dag: "Dag", node_name: str) -> None:
        """Cluster service started on a node: Joining, then Up after CLUSTER_NODE_JOIN_S."""
        lab = self.lab
        lab.set_node_state(dag, node_name, "Joining")

        def joined() -> None:
            node = dag.cluster.node(node_name)
            if node is not None and node.state == "Joining":
                lab.set_node_state(dag, node.name, "Up")

        lab.schedule(CLUSTER_NODE_JOIN_S, joined, f"cluster node {node_name} Joining -> Up")

    def _store_stopped(self, server: str) -> None:
        """failure-modes ``information-store-stopped-or-paused-by-admin``: the active
        copies dismount and Active Manager fails the replicated ones over (the server is
        reachable, so the last logs can be copied); a database with no candidate stays
        dismounted."""
        lab = self.lab
        for db in lab.active_databases(server):
            if db.mount_state == "Dismounted":
                continue
            if db.replicated and lab.dag_of(server) is not None and lab.quorum(lab.dag_of(server))["has_quorum"]:
                activation.failover(lab, db, f"Microsoft Exchange Information Store stopped on {server}",
                                    source_reachable=True)
            else:
                lab.set_mount_state(db, "Dismounted")
                db.dismounted_by_system = True

    def _store_started(self, server: str) -> None:
        """Databases still active here that the stop dismounted mount again (MountAtStartup)."""
        lab = self.lab
        for db in lab.active_databases(server):
            if db.dismounted_by_system and db.mount_at_startup and lab.is_operational(server):
                lab.set_mount_state(db, "Mounted")

    def _replication_changed(self, server: str, started: bool = False) -> None:
        """MSExchangeRepl stopped: every copy on the server reads ServiceDown (derived in
        ``LabState.copy_status``).  Started: passive copies that were Healthy go through
        Initializing back to Healthy."""
        if not started:
            return
        lab = self.lab
        for db in lab.databases_on(server):
            c = db.copy_on(server)
            if c is not None and db.active_server.lower() != server.lower() and c.status == "Healthy":
                lab.settle_copy(db, c.server)

    # ========================================================= Active Directory
    def _default_aces(self) -> list[Ace]:
        """The ACL a new object gets (choice, README-model.md)."""
        return [
            Ace("NT AUTHORITY\\SYSTEM", WELL_KNOWN["nt authority\\system"][1], ["GenericAll"], inheritance="None"),
            Ace(f"{self.lab.netbios}\\Domain Admins", f"{self.domain_sid}-512", ["GenericAll"], inheritance="None"),
            Ace("BUILTIN\\Account Operators", WELL_KNOWN["builtin\\account operators"][1], ["GenericAll"],
                inheritance="None"),
            Ace("NT AUTHORITY\\Authenticated Users", WELL_KNOWN["nt authority\\authenticated users"][1],
                ["GenericRead"], inheritance="None"),
            Ace(f"{self.lab.netbios}\\Enterprise Admins", f"{self.domain_sid}-519", ["GenericAll"], inheritance="All",
                inherited=True),
        ]

    def _new_object(self, object_class: str, name: str, sam: str, container: str, *, rid: int | None = None,
                    enabled: bool = True, upn: str | None = None, attrs: dict | None = None) -> ADObject:
        obj = ADObject(
            object_class=object_class,
            name=name,
            sam=sam,
            container=container,
            sid=self._next_sid(rid),
            guid=lab_guid(f"ad-{object_class}", name),
            created=self._now,
            enabled=enabled,
            upn=upn,
            attrs=dict(attrs or {}),
            aces=self._default_aces(),
            owner=f"{self.lab.netbios}\\Domain Admins",
            modified=self._now,
        )
        self.objects.append(obj)
        return obj

    def _build_ad(self, spec: dict) -> None:
        lab = self.lab
        for name, where, rid in _GROUPS:
            self._new_object("group", name, name, self.containers[where], rid=rid)
        for u in spec["users"]:
            sam = u["sam"]
            rid = 500 if sam.lower() == "administrator" else None
            self._new_object("user", sam, sam, self.containers["users"], rid=rid, upn=u["upn"])
        admin = self.find_object("Domain Admins")
        ea = self.find_object("Enterprise Admins")
        for u in self.objects:
            if u.object_class == "user" and u.sam.lower() == "administrator":
                admin.members.append(u.dn)
                ea.members.append(u.dn)
        ex_servers = self.find_object("Exchange Servers")
        ets = self.find_object("Exchange Trusted Subsystem")
        ex_servers.members.append(ets.dn)
        for h in spec["hosts"]:
            os_name, os_version, *_ = OS_INFO[h["windows"]]
            container = self.containers["dcs"] if h["kind"] == "dc" else self.containers["computers"]
            attrs = {
                "DNSHostName": h["fqdn"],
                "OperatingSystem": os_name,
                "OperatingSystemVersion": os_version,
            }
            comp = self._new_object("computer", h["name"].upper(), f"{h['name'].upper()}$", container, attrs=attrs)
            comp.critical = h["kind"] == "dc"
            group = "Domain Controllers" if h["kind"] == "dc" else "Domain Computers"
            self.find_object(group).members.append(comp.dn)
            if h["kind"] == "exchange":
                ex_servers.members.append(comp.dn)
                ets.members.append(comp.dn)
        # Cluster name objects: runbooks §10.2 -- pre-staged (created disabled, Exchange
        # Trusted Subsystem granted Full Control); the cluster enabled the account when
        # it brought the name online for the first member.  An IP-less DAG has no CNO.
        for d in spec.get("dags", []):
            if not d["ip_addresses"]:
                continue
            cno = self._new_object(
                "computer", d["name"].upper(), f"{d['name'].upper()}$", self.containers["computers"],
                attrs={"DNSHostName": f"{d['name'].lower()}.{lab.domain}"},
            )
            self.find_object("Domain Computers").members.append(cno.dn)
            cno.aces.insert(0, Ace(f"{lab.netbios}\\{ets.sam}", ets.sid, ["GenericAll"], inheritance="All"))

    # -- lookups ---------------------------------------------------------------
    def find_object(self, identity: str, *, object_class: str | None = None) -> ADObject | None:
        """An AD object by DN, GUID, SID, sam (computers also without ``$``),
        ``DOMAIN\\sam``, UPN or name; None when none or several match."""
        found = self.find_objects(identity, object_class=object_class)
        return found[0] if len(found) == 1 else None

    def find_objects(self, identity: str, *, object_class: str | None = None) -> list[ADObject]:
        text = str(identity or "").strip()
        if not text:
            return []
        low = text.lower()
        pool = [o for o in self.objects if object_class is None or o.object_class == object_class]
        if "\\" in low:
            dom, rest = low.split("\\", 1)
            if dom not in (self.lab.netbios.lower(), self.lab.domain.lower()):
                return []
            low = rest
        for test in (
            lambda o: o.dn.lower() == low,
            lambda o: str(o.guid) == low.strip("{}"),
            lambda o: o.sid.lower() == low,
            lambda o: o.sam.lower() == low,
            lambda o: o.object_class == "computer" and o.sam.lower() == low + "$",
            lambda o: (o.upn or "").lower() == low,
            lambda o: o.name.lower() == low,
        ):
            hits = [o for o in pool if test(o)]
            if hits:
                return hits
        return []

    def resolve_principal(self, identity: str) -> Principal | None:
        text = str(identity or "").strip()
        low = text.lower()
        if low in WELL_KNOWN:
            return Principal(*WELL_KNOWN[low])
        if low in _WELL_KNOWN_SHORT:
            return Principal(*WELL_KNOWN[_WELL_KNOWN_SHORT[low]])
        for display, sid in WELL_KNOWN.values():
            if sid.lower() == low:
                return Principal(display, sid)
        obj = self.find_object(text)
        if obj is None:
            return None
        return Principal(self.display_name(obj), obj.sid, obj)

    def display_name(self, obj: ADObject) -> str:
        return f"{self.lab.netbios}\\{obj.sam}"

    def computers(self) -> list[ADObject]:
        return [o for o in self.objects if o.object_class == "computer"]

    def member_of(self, obj: ADObject) -> list[str]:
        return [g.dn for g in self.objects if g.object_class == "group" and obj.dn in g.members]

    def container_exists(self, dn: str) -> bool:
        low = dn.lower()
        return low == self.domain_dn.lower() or any(c.lower() == low for c in self.containers.values())

    def new_computer(self, name: str, *, sam: str | None = None, path: str | None = None, enabled: bool = True,
                     attrs: dict | None = None) -> ADObject:
        """New-ADComputer (the caller checks uniqueness and the container)."""
        sam = sam or name
        if not sam.endswith("$"):
            sam += "$"
        comp = self._new_object("computer", name, sam, path or self.containers["computers"], enabled=enabled,
                                attrs=attrs)
        comp.created = comp.modified = self.lab.clock.now()
        comp.guid = uuid.uuid4()
        self.find_object("Domain Computers").members.append(comp.dn)
        return comp

    @staticmethod
    def user_account_control(obj: ADObject) -> int:
        """userAccountControl of a computer: WORKSTATION_TRUST_ACCOUNT (4096), domain
        controllers SERVER_TRUST_ACCOUNT | TRUSTED_FOR_DELEGATION (532480); a disabled
        account adds ACCOUNTDISABLE | PASSWD_NOTREQD (4130, runbooks §10.2)."""
        if obj.object_class != "computer":
            return 512 if obj.enabled else 514
        if obj.critical:
            return 532480
        return 4096 if obj.enabled else 4130

    # -- ACL --------------------------------------------------------------------
    def matching_aces(self, obj: ADObject, principal: Principal | None = None) -> list[Ace]:
        return [a for a in obj.aces if principal is None or a.sid == principal.sid]

    def add_ace(self, obj: ADObject, ace: Ace) -> bool:
        """Add an explicit ACE; False (nothing changed) when an explicit ACE of the same
        rule already grants every right asked."""
        for a in obj.aces:
            if not a.inherited and a.same_rule(ace):
                rights = set(a.rights) | set(ace.rights)
                ext = {e.lower(): e for e in [*a.extended_rights, *ace.extended_rights]}
                if rights == set(a.rights) and len(ext) == len(a.extended_rights):
                    return False
                a.rights = [r for r in ACTIVE_DIRECTORY_RIGHTS if r in rights]
                a.extended_rights = list(ext.values())
                obj.modified = self.lab.clock.now()
                return True
        obj.aces.insert(self._explicit_count(obj), ace)
        obj.modified = self.lab.clock.now()
        return True

    @staticmethod
    def _explicit_count(obj: ADObject) -> int:
        return sum(1 for a in obj.aces if not a.inherited)

    def remove_ace(self, obj: ADObject, ace: Ace, *, all_rights: bool) -> list[Ace]:
        """Remove rights from the explicit ACEs of the same rule (``all_rights``: the
        whole ACE); returns the ACEs changed or removed (empty: nothing matched)."""
        changed: list[Ace] = []
        for a in list(obj.aces):
            if a.inherited or not a.same_rule(ace):
                continue
            if all_rights:
                obj.aces.remove(a)
                changed.append(a)
                continue
            rights = set(a.rights) & set(ace.rights)
            ext = {e.lower() for e in ace.extended_rights} & {e.lower() for e in a.extended_rights}
            if not rights and not ext:
                continue
            before = _copy.deepcopy(a)
            a.rights = [r for r in a.rights if r not in rights]
            a.extended_rights = [e for e in a.extended_rights if e.lower() not in ext]
            if not a.extended_rights and a.rights == ["ExtendedRight"]:
                a.rights = []
            if not a.rights and not a.extended_rights:
                obj.aces.remove(a)
            changed.append(before)
        if changed:
            obj.modified = self.lab.clock.now()
        return changed

    # =============================================================== clusters
    @staticmethod
    def _new_cluster_info(name: str) -> ClusterInfo:
        return ClusterInfo(
            id=lab_guid("cluster", name),
            network_name={
                "Name": name,
                "DnsName": name,
                "HostRecordTTL": 1200,  # runbooks §13: default 1200 s (20 min)
                "RegisterAllProvidersIP": 0,
                "PublishPTRRecords": 0,
            },
        )

    def _build_clusters(self) -> None:
        for dag in self.lab.dags.values():
            self.clusters[dag.name.lower()] = self._new_cluster_info(dag.name)

    def cluster_info(self, dag: "Dag") -> ClusterInfo:
        return self.clusters.setdefault(dag.name.lower(), self._new_cluster_info(dag.name))

    def node_id(self, dag: "Dag", node: str) -> int:
        for i, m in enumerate(dag.members):
            if m.lower() == node.lower():
                return i + 1
        return 0

    def cluster_networks(self, dag: "Dag") -> list[dict[str, Any]]:
        """One cluster network per subnet of the DAG networks ("Cluster Network n"):
        role ClusterAndClient for a MAPI network, Cluster for a replication network,
        None for an ignored one; Up while an Up node has an address in it."""
        out: list[dict[str, Any]] = []
        n = 0
        for net in dag.networks:
            for subnet in net.subnets:
                n += 1
                sn = ipaddress.ip_network(subnet)
                role = "None" if net.ignore_network else ("ClusterAndClient" if net.mapi_access_enabled else "Cluster")
                up = False
                for node in dag.cluster.nodes.values():
                    if node.state in ("Up", "Paused") and self.lab.is_reachable_host(node.name):
                        srv = self.lab.server(node.name)
                        addrs = [a for a in (srv.ip, srv.replication_ip) if a] if srv else []
                        if any(ipaddress.ip_address(a) in sn for a in addrs):
                            up = True
                out.append({
                    "name": f"Cluster Network {n}",
                    "dag_network": net.name,
                    "address": str(sn.network_address),
                    "mask": str(sn.netmask),
                    "prefix": sn.prefixlen,
                    "role": role,
                    "state": "Up" if up else "Down",
                    "id": lab_guid("cluster-network", f"{dag.name}:{subnet}"),
                })
        return out

    def network_name_subnet_ip(self, dag: "Dag") -> str | None:
        """The DAG IP address in the subnet of the Cluster Group owner (the one online)."""
        owner = self.lab.server(dag.cluster.group_owner) if dag.cluster.group_owner else None
        if owner is None:
            return None
        for ip in dag.ip_addresses:
            for net in dag.networks:
                for subnet in net.subnets:
                    sn = ipaddress.ip_network(subnet)
                    if ipaddress.ip_address(ip) in sn and ipaddress.ip_address(owner.ip) in sn:
                        return ip
        return None

    def network_names_on(self, host: str) -> list[str]:
        """Cluster network names online on ``host``: the name of every DAG with an
        administrative access point whose Cluster Group this host owns (cluster up)."""
        names = []
        for dag in self.lab.dags.values():
            owner = dag.cluster.group_owner
            if dag.ip_addresses and owner and owner.lower() == host.lower() and self.lab.quorum(dag)["has_quorum"]:
                names.append(dag.name)
        return names

    # ===================================================================== SMB
    def share_ace(self, account: str, right: str, type_: str = "Allow") -> ShareAce:
        p = self.resolve_principal(account)
        if p is None:
            raise KeyError(account)
        return ShareAce(p.display, p.sid, type_, right)

    def _build_shares(self, spec: dict) -> None:
        admins = [("BUILTIN\\Administrators", "Full"), ("BUILTIN\\Backup Operators", "Full"),
                  ("NT AUTHORITY\\INTERACTIVE", "Full")]
        for h in spec["hosts"]:
            shares = [
                Share("ADMIN$", "C:\\Windows", "*", "Remote Admin", special=True),
                Share("C$", "C:\\", "*", "Default share", special=True),
                Share("IPC$", "", "*", "Remote IPC", special=True, share_type="InterprocessCommunication"),
            ]
            for s in shares:
                s.aces = [self.share_ace(a, r) for a, r in admins]
            if h["kind"] == "dc":
                sysvol = "C:\\Windows\\SYSVOL\\sysvol"
                for name, path in (("NETLOGON", f"{sysvol}\\{self.lab.domain}\\SCRIPTS"), ("SYSVOL", sysvol)):
                    s = Share(name, path, "*", "Logon server share")
                    s.aces = [self.share_ace("Everyone", "Read"), self.share_ace("BUILTIN\\Administrators", "Full"),
                              self.share_ace("NT AUTHORITY\\Authenticated Users", "Full")]
                    shares.append(s)
            self.host_shares[h["name"].lower()] = shares
        # The file share witness of every DAG: Exchange creates the share on the witness
        # server and gives the CNO full control on it (runbooks §10.2).
        for dag in self.lab.dags.values():
            witness = self.lab.host(dag.witness_server or "")
            if witness is None or not dag.witness_directory:
                continue
            share = Share(f"{dag.name}.{self.lab.domain}", dag.witness_directory, "*")
            cno = self.find_object(f"{dag.name}$", object_class="computer")
            if cno is not None:
                share.aces = [ShareAce(self.display_name(cno), cno.sid, "Allow", "Full")]
            else:
                share.aces = [self.share_ace("BUILTIN\\Administrators", "Full")]
            self.host_shares[witness.name.lower()].append(share)

    def shares_on(self, host: str) -> list[Share]:
        """The shares an SMB server on ``host`` answers for: its own (scope ``*``) and
        those scoped to the network names online on it."""
        key = self.host_key(host)
        if key is None:
            return []
        out = list(self.host_shares.get(key, []))
        for name in self.network_names_on(host):
            out.extend(self.scoped_shares.get(name.lower(), []))
        return out

    def share_list(self, host: str, scope: str) -> list[Share]:
        """The list a new share of ``scope`` goes to (created when needed)."""
        if scope == "*":
            return self.host_shares.setdefault(self.host_key(host) or host.lower(), [])
        return self.scoped_shares.setdefault(scope.lower(), [])

    def find_shares(self, host: str, name: str | None = None, scope: str | None = None) -> list[Share]:
        out = []
        for s in self.shares_on(host):
            if name is not None and s.name.lower() != name.lower():
                continue
            if scope is not None and s.scope.lower() != scope.lower():
                continue
            out.append(s)
        return out

    def new_share(self, host: str, name: str, path: str, *, scope: str = "*", description: str = "",
                  aces: list[ShareAce] | None = None, **options: Any) -> Share:
        share = Share(name, path, scope, description, aces=list(aces or []))
        for k, v in options.items():
            setattr(share, k, v)
        self.share_list(host, scope).append(share)
        return share

    def remove_share(self, host: str, share: Share) -> None:
        for lst in (self.share_list(host, share.scope),):
            if share in lst:
                lst.remove(share)

    def grant_share_access(self, share: Share, ace: ShareAce) -> None:
        for a in share.aces:
            if a.sid == ace.sid and a.type == "Allow":
                a.right = ace.right
                return
        share.aces.append(ace)

    def revoke_share_access(self, share: Share, sid: str) -> int:
        before = len(share.aces)
        share.aces = [a for a in share.aces if not (a.sid == sid and a.type == "Allow")]
        return before - len(share.aces)

    def resolve_unc(self, unc: str) -> Share | None:
        r"""The share behind ``\\name\share``: a host's own shares by its name or FQDN,
        scoped shares by the network name they are scoped to (only while it is online)."""
        parts = [p for p in str(unc).replace("/", "\\").split("\\") if p]
        if len(parts) < 2:
            return None
        server, share_name = parts[0].split(".", 1)[0], parts[1]
        host = self.lab.host(server)
        if host is not None:
            return next((s for s in self.host_shares.get(host.name.lower(), [])
                         if s.name.lower() == share_name.lower()), None)
        for h in self.lab.hosts:
            if any(n.lower() == server.lower() for n in self.network_names_on(h.name)):
                return next((s for s in self.scoped_shares.get(server.lower(), [])
                             if s.name.lower() == share_name.lower()), None)
        return None

    # ===================================================================== DNS
    def _build_dns(self) -> None:
        """Dynamic records (registered by hosts and by cluster network names) get a
        timestamp (aging granularity: the hour); static ones have none."""
        stamp = self._now.replace(minute=0, second=0, microsecond=0).isoformat()
        dag_names = {d.name.lower() for d in self.lab.dags.values() if d.ip_addresses}
        for zone in self.lab.dns_zones.values():
            for r in zone["records"]:
                dynamic = bool(r.get("dynamic")) or r["name"].lower() in dag_names
                r.setdefault("timestamp", stamp if dynamic else None)

    def zone(self, name: str) -> dict | None:
        return self.lab.dns_zones.get(str(name).lower().rstrip("."))

    def zone_on(self, zone: dict, server: str) -> bool:
        return any(s.lower() == server.lower() for s in zone["servers"])

    def records(self, zone: dict, name: str | None = None, rtype: str | None = None) -> list[dict]:
        out = []
        rel = self.relative_name(zone, name) if name is not None else None
        for r in zone["records"]:
            if rel is not None and r["name"].lower() != rel:
                continue
            if rtype is not None and r["type"].lower() != rtype.lower():
                continue
            out.append(r)
        return out

    @staticmethod
    def relative_name(zone: dict, name: str) -> str:
        """``mail``, ``mail.contoso.com`` and ``mail.contoso.com.`` -> ``mail``; the zone
        itself -> ``@``."""
        low = str(name).lower().rstrip(".")
        if low in (zone["name"], "@"):
            return "@"
        suffix = "." + zone["name"]
        return low[: -len(suffix)] if low.endswith(suffix) else low

    def resolve_a(self, fqdn: str) -> list[str]:
        """A records of a name (any zone of the lab)."""
        low = fqdn.lower().rstrip(".")
        for zone in self.lab.dns_zones.values():
            if low == zone["name"] or low.endswith("." + zone["name"]):
                return [r["data"] for r in self.records(zone, low, "A")]
        return []

    def add_record(self, zone: dict, name: str, rtype: str, data: str, ttl_s: int, *, dynamic: bool = False) -> dict:
        rec = {"name": self.relative_name(zone, name), "type": rtype, "data": data, "ttl": int(ttl_s),
               "timestamp": (self.lab.clock.now().replace(minute=0, second=0, microsecond=0).isoformat()
                             if dynamic else None)}
        zone["records"].append(rec)
        return rec

    def remove_record(self, zone: dict, rec: dict) -> None:
        zone["records"] = [r for r in zone["records"] if r is not rec]

    # ================================================================ to_json
    def to_json(self) -> dict:
        return {
            "services": {
                h: {s.name: {"status": self.service_status(h, s), "start_type": self.service_start_type(h, s)}
                    for s in svcs.values()}
                for h, svcs in self.services.items()
            },
            "ad": [o.to_json() for o in self.objects],
            "shares": {
                **{h: [s.to_json() for s in lst] for h, lst in self.host_shares.items()},
                **{f"scope:{n}": [s.to_json() for s in lst] for n, lst in self.scoped_shares.items()},
            },
            "clusters": {k: {"id": str(v.id), "network_name": dict(v.network_name)} for k, v in self.clusters.items()},
        }


def wildcard_match(pattern: str, value: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(value.lower(), pattern.lower())
    return pattern.lower() == value.lower()
