"""Builders of the Exchange output objects, as a remote session deserialises them.

Conventions (object-properties.md "Conventions for the remote (PSRP) view"):

* ``ADObjectId`` and server/database references -> strings (the object's name);
* enums -> member names; ``ByteQuantifiedSize`` -> ``"1.5 GB (1,610,612,736 bytes)"``;
* ``TimeSpan``/``EnhancedTimeSpan`` -> ``datetime.timedelta`` (``<TS>``); ``DateTime`` -> ``datetime``;
* arrays -> lists; ``MultiValuedProperty<T>`` -> a list carrying the MVP type name;
* ``KeyValuePair<ADObjectId,T>`` items (ActivationPreference, ReplayLagTimes) -> objects
  with ``Key`` and ``Value`` whose string form is ``[EX01, 1]``;
* properties that only ``-Status`` fills are ``None`` without it.

Type names come from object-properties.md where it gives them; the others are the
best-known .NET names, listed in lab/README-model.md with their confidence.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from .psobj import make_object, ps_list

if TYPE_CHECKING:  # pragma: no cover
    from .model.objects_state import Dag, DagNetwork, Database, DatabaseCopy, ExchangeServer, Queue
    from .model.state import LabState

_EX_ASM = "Version=15.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35"
_MSCORLIB = "mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089"
ADOBJECTID_AQN = f"Microsoft.Exchange.Data.Directory.ADObjectId, Microsoft.Exchange.Data.Directory, {_EX_ASM}"

CONFIGURABLE = "Microsoft.Exchange.Data.ConfigurableObject"
AD_BASE = ["Microsoft.Exchange.Data.Directory.ADObject", "Microsoft.Exchange.Data.Directory.ADRawEntry", CONFIGURABLE]
AD_PRESENTATION = ["Microsoft.Exchange.Data.Directory.ADPresentationObject", *AD_BASE]
AD_CONFIGURATION = ["Microsoft.Exchange.Data.Directory.ADConfigurationObject", *AD_BASE]

T_EXCHANGE_SERVER = ["Microsoft.Exchange.Data.Directory.Management.ExchangeServer", *AD_PRESENTATION]
T_MAILBOX_SERVER = ["Microsoft.Exchange.Data.Directory.Management.MailboxServer", *AD_PRESENTATION]
T_DAG = ["Microsoft.Exchange.Data.Directory.SystemConfiguration.DatabaseAvailabilityGroup", *AD_CONFIGURATION]
T_DAG_NETWORK = ["Microsoft.Exchange.Data.DatabaseAvailabilityGroupNetwork", CONFIGURABLE]
T_MAILBOX_DATABASE = [
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.MailboxDatabase",
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.Database",
    *AD_CONFIGURATION,
]
T_COPY_STATUS = ["Microsoft.Exchange.Management.SystemConfigurationTasks.DatabaseCopyStatusEntry"]
T_COMPONENT_STATE = [
    "Microsoft.Exchange.Data.Directory.Management.ServerComponentStatePresentationObject",
    CONFIGURABLE,
]
T_REQUESTER_DETAILS = [
    "Microsoft.Exchange.Data.Directory.Management.ServerComponentStatePresentationObject+RequesterDetails"
]
T_QUEUE = [
    "Microsoft.Exchange.Data.QueueViewer.ExtensibleQueueInfo",
    "Microsoft.Exchange.Data.QueueViewer.PagedDataObject",
    CONFIGURABLE,
]
T_REPLICATION_CHECK = ["Microsoft.Exchange.Monitoring.ReplicationCheckOutputObject", CONFIGURABLE]
T_DATABASE_COPY = ["Microsoft.Exchange.Data.Directory.SystemConfiguration.DatabaseCopy", *AD_CONFIGURATION]
T_DAG_SUBNET = ["Microsoft.Exchange.Data.DatabaseAvailabilityGroupNetworkSubnet"]
T_DAG_INTERFACE = ["Microsoft.Exchange.Data.DatabaseAvailabilityGroupNetworkInterface"]


def kvp_type(value_aqn: str) -> list[str]:
    return [f"System.Collections.Generic.KeyValuePair`2[[{ADOBJECTID_AQN}],[{value_aqn}]]", "System.ValueType"]


KVP_INT = kvp_type(f"System.Int32, {_MSCORLIB}")
KVP_TIMESPAN = kvp_type(f"Microsoft.Exchange.Data.EnhancedTimeSpan, Microsoft.Exchange.Data, {_EX_ASM}")


ADOBJECTID = f"Microsoft.Exchange.Data.Directory.ADObjectId, Microsoft.Exchange.Data.Directory, {_EX_ASM}"
STRING = "System.String, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089"


def mvp(items: list[Any], element: str = ADOBJECTID) -> Any:
    """A ``MultiValuedProperty<T>`` as the serializer writes it: an ``<LST>`` under the
    collection's own type chain (not ``ArrayList``).  Clients must cope with that form:
    pypsrp 0.9.1, for one, does not rehydrate it into a Python list (it keeps the raw
    ``<LST>``), which is what a script reading ``Servers`` meets against real Exchange."""
    return ps_list(list(items), [f"Microsoft.Exchange.Data.MultiValuedProperty`1[[{element}]]",
                                 "Microsoft.Exchange.Data.MultiValuedPropertyBase", "System.Object"])


def id_array(items: list[Any]) -> Any:
    """An ``ADObjectId[]`` (status properties such as ``OperationalServers``): a .NET array."""
    return ps_list(list(items), ["Microsoft.Exchange.Data.Directory.ADObjectId[]", "System.Array", "System.Object"])


# ----------------------------------------------------------------- value formats
def byte_quantified(n: int) -> str:
    """``1.5 GB (1,610,612,736 bytes)``."""
    units = [("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)]
    for unit, size in units:
        if n >= size:
            value = f"{n / size:.3f}".rstrip("0").rstrip(".")
            return f"{value} {unit} ({n:,} bytes)"
    return f"{n} B ({n:,} bytes)"


def timespan_text(td: datetime.timedelta) -> str:
    """.NET TimeSpan.ToString(): ``7.00:00:00`` / ``00:30:00``."""
    total = int(td.total_seconds())
    days, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    core = f"{h:02d}:{m:02d}:{s:02d}"
    return f"{days}.{core}" if days else core


def kvp(key: str, value: Any, type_names: list[str]) -> Any:
    shown = timespan_text(value) if isinstance(value, datetime.timedelta) else value
    return make_object(type_names, {"Key": key, "Value": value}, to_string=f"[{key}, {shown}]")


def _config_dn(state: "LabState", *parts: str) -> str:
    dc = ",".join(f"DC={p}" for p in state.domain.split("."))
    return ",".join(parts) + (
        f",CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,"
        f"CN={state.org_name},CN=Microsoft Exchange,CN=Services,CN=Configuration,{dc}"
    )


def _created(state: "LabState") -> datetime.datetime:
    return state.clock._start.replace(microsecond=0) - datetime.timedelta(days=400)


# ------------------------------------------------------------------ ExchangeServer
def exchange_server(state: "LabState", srv: "ExchangeServer", *, status: bool) -> Any:
    roles = ", ".join(srv.roles)
    props: dict[str, Any] = {
        "Name": srv.name,
        "DataPath": "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Mailbox",
        "Domain": state.domain,
        "Edition": "Enterprise",
        "ExchangeLegacyDN": f"/o={state.org_name}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn={srv.name}",
        "ExchangeLegacyServerRole": 0,
        "Fqdn": srv.fqdn,
        "CustomerFeedbackEnabled": None,
        "InternetWebProxy": None,
        "IsHubTransportServer": "HubTransport" in srv.roles or srv.version != "2013",
        "IsClientAccessServer": "ClientAccess" in srv.roles or srv.version != "2013",
        "IsExchange2007OrLater": True,
        "IsEdgeServer": "Edge" in srv.roles,
        "IsMailboxServer": "Mailbox" in srv.roles,
        "IsE14OrLater": True,
        "IsE15OrLater": True,
        "IsProvisionedServer": False,
        "IsUnifiedMessagingServer": srv.version in ("2013", "2016") and "Mailbox" in srv.roles,
        "IsFrontendTransportServer": "ClientAccess" in srv.roles or srv.version != "2013",
        "NetworkAddress": [
            f"ncacn_vns_spp:{srv.name}",
            f"netbios:{srv.name}",
            f"ncacn_np:{srv.name}",
            f"ncacn_spx:{srv.name}",
            f"ncacn_ip_tcp:{srv.fqdn}",
            f"ncalrpc:{srv.name}",
        ],
        "OrganizationalUnit": f"{state.domain}/{srv.name}",
        "AdminDisplayVersion": srv.build,
        "Site": state.site_dn(srv.site),
        "ServerRole": roles,
        "ErrorReportingEnabled": None,
        "StaticDomainControllers": [],
        "StaticGlobalCatalogs": [],
        "StaticConfigDomainController": None,
        "StaticExcludedDomainControllers": [],
        "CurrentDomainControllers": None,
        "CurrentGlobalCatalogs": None,
        "CurrentConfigDomainController": None,
        "ProductID": None,
        "IsExchangeTrialEdition": False,
        "IsExpiredExchangeTrialEdition": False,
        "MonitoringGroup": None,
        "RemainingTrialPeriod": datetime.timedelta(0),
        "IsValid": True,
        "ExchangeVersion": "0.10 (14.0.100.0)",
        "DistinguishedName": _config_dn(state, f"CN={srv.name}", "CN=Servers"),
        "Identity": srv.name,
        "Guid": srv.guid,
        "ObjectCategory": f"{state.domain}/Configuration/Schema/ms-Exch-Exchange-Server",
        "ObjectClass": ["top", "server", "msExchExchangeServer"],
        "WhenChanged": _created(state),
        "WhenCreated": _created(state),
        "WhenChangedUTC": _created(state),
        "WhenCreatedUTC": _created(state),
        "OrganizationId": "",
        "Id": srv.name,
        "OriginatingServer": _origin(state, srv.site),
        "ObjectState": "Unchanged",
    }
    if status:
        dc = state.domain_controller_for(srv.site)
        props["StaticDomainControllers"] = []
        props["CurrentDomainControllers"] = [dc.fqdn] if dc else []
        props["CurrentGlobalCatalogs"] = [dc.fqdn] if dc else []
        props["CurrentConfigDomainController"] = dc.fqdn if dc else None
    return make_object(T_EXCHANGE_SERVER, props, to_string=srv.name)


def _origin(state: "LabState", site: str | None) -> str:
    dc = state.domain_controller_for(site)
    return dc.fqdn if dc else f"dc.{state.domain}"


# ------------------------------------------------------------------- MailboxServer
def mailbox_server(state: "LabState", srv: "ExchangeServer") -> Any:
    created = _created(state)
    props: dict[str, Any] = {
        "Name": srv.name,
        "DatabaseAvailabilityGroup": srv.dag,
        "DatabaseCopyAutoActivationPolicy": srv.auto_activation_policy,
        "DatabaseCopyActivationDisabledAndMoveNow": srv.activation_disabled_and_move_now,
        "AutoDatabaseMountDial": srv.mount_dial,
        "MaximumActiveDatabases": srv.max_active,
        "MaximumPreferredActiveDatabases": srv.max_preferred_active,
        "IsExcludedFromProvisioning": bool(srv.other_settings.get("IsExcludedFromProvisioning", False)),
        "Locale": list(srv.other_settings.get("Locale", [])),
        "MAPIEncryptionRequired": bool(srv.other_settings.get("MAPIEncryptionRequired", False)),
        "AdminDisplayVersion": srv.build,
        "ExchangeVersion": "0.10 (14.0.100.0)",
        "Fqdn": srv.fqdn,
        "Identity": srv.name,
        "Guid": srv.guid,
        "DistinguishedName": _config_dn(state, f"CN={srv.name}", "CN=Servers"),
        "ObjectCategory": f"{state.domain}/Configuration/Schema/ms-Exch-Exchange-Server",
        "ObjectClass": ["top", "server", "msExchExchangeServer"],
        "WhenChanged": created,
        "WhenCreated": created,
        "WhenChangedUTC": created,
        "WhenCreatedUTC": created,
        "OrganizationId": "",
        "Id": srv.name,
        "OriginatingServer": _origin(state, srv.site),
        "IsValid": True,
        "ObjectState": "Unchanged",
    }
    if state.version_at_least(srv, "2016"):
        props["FaultZone"] = srv.other_settings.get("FaultZone", "FaultZone1")
    for key, value in srv.other_settings.items():
        if key not in props:
            props[key] = value
    return make_object(T_MAILBOX_SERVER, props, to_string=srv.name)


# ---------------------------------------------------------- DatabaseAvailabilityGroup
def dag(state: "LabState", d: "Dag", *, status: bool) -> Any:
    created = _created(state)
    version = state.server(d.members[0]).version if d.members else "2019"
    props: dict[str, Any] = {
        "Name": d.name,
        "Servers": mvp(list(d.members)),
        "WitnessServer": d.witness_server,
        "WitnessDirectory": d.witness_directory,
        "AlternateWitnessServer": d.alternate_witness_server,
        "AlternateWitnessDirectory": d.alternate_witness_directory,
        "NetworkCompression": d.network_compression,
        "NetworkEncryption": d.network_encryption,
        "ManualDagNetworkConfiguration": d.manual_network_configuration,
        "DatacenterActivationMode": d.datacenter_activation_mode,
        "StoppedMailboxServers": mvp(list(d.stopped), STRING),
        "StartedMailboxServers": mvp(list(d.started), STRING),
        "DatabaseAvailabilityGroupIpv4Addresses": list(d.ip_addresses),
        "DatabaseAvailabilityGroupIpAddresses": list(d.ip_addresses),
        "AllowCrossSiteRpcClientAccess": bool(d.other_settings.get("AllowCrossSiteRpcClientAccess", False)),
        "OperationalServers": None,
        "PrimaryActiveManager": None,
        "ServersInMaintenance": None,
        "ServersInDeferredRecovery": None,
        "ThirdPartyReplication": "Disabled",
        "ReplicationPort": d.replication_port if status else 0,
        "NetworkNames": None,
        "WitnessShareInUse": None,
        "DatabaseAvailabilityGroupConfiguration": None,
        "AutoDagSchemaVersion": "1.0",
        "AutoDagDatabaseCopiesPerDatabase": int(d.other_settings.get("AutoDagDatabaseCopiesPerDatabase", 1)),
        "AutoDagDatabaseCopiesPerVolume": int(d.other_settings.get("AutoDagDatabaseCopiesPerVolume", 1)),
        "AutoDagTotalNumberOfDatabases": int(d.other_settings.get("AutoDagTotalNumberOfDatabases", 0)),
        "AutoDagTotalNumberOfServers": int(d.other_settings.get("AutoDagTotalNumberOfServers", 0)),
        "AutoDagDatabasesRootFolderPath": d.other_settings.get(
            "AutoDagDatabasesRootFolderPath", "C:\\ExchangeDatabases"
        ),
        "AutoDagVolumesRootFolderPath": d.other_settings.get("AutoDagVolumesRootFolderPath", "C:\\ExchangeVolumes"),
        "AutoDagAllServersInstalled": bool(d.other_settings.get("AutoDagAllServersInstalled", False)),
        "AutoDagAutoReseedEnabled": d.auto_reseed,
        "AutoDagDiskReclaimerEnabled": bool(d.other_settings.get("AutoDagDiskReclaimerEnabled", True)),
        "AutoDagBitlockerEnabled": bool(d.other_settings.get("AutoDagBitlockerEnabled", False)),
        "AutoDagFIPSCompliant": bool(d.other_settings.get("AutoDagFIPSCompliant", False)),
        "ReplayLagManagerEnabled": bool(d.other_settings.get("ReplayLagManagerEnabled", False)),
        "MailboxLoadBalanceMaximumEdbFileSize": None,
        "MailboxLoadBalanceRelativeLoadCapacity": None,
        "MailboxLoadBalanceOverloadedThreshold": None,
        "MailboxLoadBalanceUnderloadedThreshold": None,
        "MailboxLoadBalanceEnabled": None,
    }
    if version in ("2016", "2019"):
        props["AutoDagAutoRedistributeEnabled"] = bool(d.other_settings.get("AutoDagAutoRedistributeEnabled", True))
        props["FileSystem"] = d.other_settings.get("FileSystem", "NTFS")
        props["PreferenceMoveFrequency"] = d.other_settings.get("PreferenceMoveFrequency", datetime.timedelta(hours=1))
        props["MetaCacheDatabaseVolumesPerServer"] = int(d.other_settings.get("MetaCacheDatabaseVolumesPerServer", 0))
    if status:
        props["OperationalServers"] = id_array(state.operational_servers(d))
        props["PrimaryActiveManager"] = state.primary_active_manager(d)
        props["ServersInMaintenance"] = id_array(state.servers_in_maintenance(d))
        props["ServersInDeferredRecovery"] = id_array([])
        props["NetworkNames"] = [n.name for n in d.networks]
        props["WitnessShareInUse"] = d.witness_in_use
    props.update(
        {
            "AdminDisplayName": "",
            "ExchangeVersion": "0.10 (14.0.100.0)",
            "DistinguishedName": _config_dn(state, f"CN={d.name}", "CN=Database Availability Groups"),
            "Identity": d.name,
            "Guid": d.guid,
            "ObjectCategory": f"{state.domain}/Configuration/Schema/ms-Exch-MDB-Availability-Group",
            "ObjectClass": ["top", "msExchMDBAvailabilityGroup"],
            "WhenChanged": created,
            "WhenCreated": created,
            "WhenChangedUTC": created,
            "WhenCreatedUTC": created,
            "OrganizationId": "",
            "Id": d.name,
            "OriginatingServer": _origin(state, None),
            "IsValid": True,
            "ObjectState": "Unchanged",
        }
    )
    return make_object(T_DAG, props, to_string=d.name)


# ------------------------------------------------------ DatabaseAvailabilityGroupNetwork
def dag_network(state: "LabState", d: "Dag", net: "DagNetwork") -> Any:
    import ipaddress

    subnets = []
    for sn in net.subnets:
        state_text = "Up"
        subnets.append(
            make_object(T_DAG_SUBNET, {"SubnetId": sn, "State": state_text}, to_string=f"{{{sn},{state_text}}}")
        )
    interfaces = []
    nets = [ipaddress.ip_network(sn) for sn in net.subnets]
    for m in d.members:
        srv = state.server(m)
        for addr in (srv.ip, srv.replication_ip):
            if addr and any(ipaddress.ip_address(addr) in n for n in nets):
                st = "Up" if srv.up else "Unreachable"
                interfaces.append(
                    make_object(
                        T_DAG_INTERFACE,
                        {"NodeName": srv.name, "State": st, "IPAddress": addr},
                        to_string=f"{{{srv.name},{st},{addr}}}",
                    )
                )
    props = {
        "Name": net.name,
        "Description": net.description or None,
        "Subnets": subnets,
        "Interfaces": interfaces,
        "MapiAccessEnabled": net.mapi_access_enabled,
        "ReplicationEnabled": net.replication_enabled,
        "IgnoreNetwork": net.ignore_network,
        "Identity": f"{d.name}\\{net.name}",
        "IsValid": True,
        "ObjectState": "New",
    }
    return make_object(T_DAG_NETWORK, props, to_string=f"{d.name}\\{net.name}")


# ------------------------------------------------------------------ MailboxDatabase
def database_copy_object(state: "LabState", db: "Database", c: "DatabaseCopy") -> Any:
    props = {
        "DatabaseName": db.name,
        "HostServerName": c.server,
        "ActivationPreference": c.preference,
        "ParentObjectClass": "msExchPrivateMDB",
        "ReplayLagTime": datetime.timedelta(seconds=c.replay_lag_s),
        "TruncationLagTime": datetime.timedelta(seconds=c.truncation_lag_s),
        "AdminDisplayName": None,
        "ExchangeVersion": "0.10 (14.0.100.0)",
        "Name": db.name,
        "Identity": c.identity,
        "IsValid": True,
        "ObjectState": "Unchanged",
    }
    return make_object(T_DATABASE_COPY, props, to_string=c.identity)


def mailbox_database(state: "LabState", db: "Database", *, status: bool) -> Any:
    created = _created(state)
    active = state.server(db.active_server)
    version = active.version if active else "2019"
    props: dict[str, Any] = {
        "Name": db.name,
        "Identity": db.name,
        "Guid": db.guid,
        "Server": db.active_server,
        "MasterServerOrAvailabilityGroup": db.dag or db.active_server,
        "Servers": mvp([c.server for c in db.copies]),
        "DatabaseCopies": [database_copy_object(state, db, c) for c in db.copies],
        "ActivationPreference": [kvp(c.server, c.preference, KVP_INT) for c in db.copies],
        "ReplayLagTimes": [kvp(c.server, datetime.timedelta(seconds=c.replay_lag_s), KVP_TIMESPAN) for c in db.copies],
        "TruncationLagTimes": [
            kvp(c.server, datetime.timedelta(seconds=c.truncation_lag_s), KVP_TIMESPAN) for c in db.copies
        ],
        "ReplicationType": "Remote" if db.replicated else "None",
        "Recovery": False,
        "EdbFilePath": db.edb_path,
        "LogFolderPath": db.log_path,
        "LogFilePrefix": db.log_prefix,
        "LogFileSize": 1024,
        "CircularLoggingEnabled": db.circular_logging,
        "DataMoveReplicationConstraint": "SecondCopy" if db.replicated else "None",
        "AllowFileRestore": False,
        "MountAtStartup": db.mount_at_startup,
        "IsExcludedFromProvisioning": False,
        "IsExcludedFromProvisioningByOperator": False,
        "IsExcludedFromProvisioningDueToLogicalCorruption": False,
        "IsExcludedFromProvisioningReason": None,
        "IsSuspendedFromProvisioning": False,
        "AutoDagExcludeFromMonitoring": False,
        "IndexEnabled": True,
        "RpcClientAccessServer": active.fqdn if active else None,
        "MailboxRetention": datetime.timedelta(days=30),
        "DeletedItemRetention": datetime.timedelta(days=14),
        "IssueWarningQuota": "1.899 GB (2,039,480,320 bytes)",
        "ProhibitSendQuota": "2 GB (2,147,483,648 bytes)",
        "ProhibitSendReceiveQuota": "2.3 GB (2,469,396,480 bytes)",
        "Mounted": None,
        "MountedOnServer": None,
        "OnlineMaintenanceInProgress": None,
        "DatabaseSize": None,
        "AvailableNewMailboxSpace": None,
        "BackupInProgress": None,
        "LastFullBackup": None,
        "LastIncrementalBackup": None,
        "LastDifferentialBackup": None,
        "LastCopyBackup": None,
        "SnapshotLastFullBackup": None,
        "SnapshotLastIncrementalBackup": None,
        "SnapshotLastDifferentialBackup": None,
        "SnapshotLastCopyBackup": None,
        "WorkerProcessId": None,
        "CurrentSchemaVersion": None,
        "RequestedSchemaVersion": None,
        "AdminDisplayVersion": active.build if active else None,
        "ExchangeVersion": "0.10 (14.0.100.0)",
        "DistinguishedName": _config_dn(state, f"CN={db.name}", "CN=Databases"),
        "ObjectCategory": f"{state.domain}/Configuration/Schema/ms-Exch-Private-MDB",
        "ObjectClass": ["top", "msExchMDB", "msExchPrivateMDB"],
        "WhenChanged": created,
        "WhenCreated": created,
        "WhenChangedUTC": created,
        "WhenCreatedUTC": created,
        "OrganizationId": "",
        "Id": db.name,
        "OriginatingServer": _origin(state, active.site if active else None),
        "IsValid": True,
        "ObjectState": "Unchanged",
    }
    if version in ("2016", "2019"):
        props["MetaCacheDatabaseMaxCapacityInBytes"] = None
    if status:
        reachable = active is not None and active.up
        props["Mounted"] = db.mounted if reachable else None
        props["MountedOnServer"] = active.fqdn if active else None
        props["OnlineMaintenanceInProgress"] = False if reachable else None
        props["DatabaseSize"] = byte_quantified(db.size_bytes) if reachable else None
        props["AvailableNewMailboxSpace"] = byte_quantified(db.size_bytes // 20) if reachable else None
        props["BackupInProgress"] = False if reachable else None
        props["WorkerProcessId"] = (4000 + db.guid.int % 4000) if reachable and db.mounted else None
        props["CurrentSchemaVersion"] = "0.138" if reachable else None
        props["RequestedSchemaVersion"] = "0.138" if reachable else None
    return make_object(T_MAILBOX_DATABASE, props, to_string=db.name)


# ------------------------------------------------------------ DatabaseCopyStatusEntry
def copy_status(state: "LabState", db: "Database", c: "DatabaseCopy") -> Any:
    now = state.clock.now().replace(microsecond=0)
    srv = state.server(c.server)
    active = c.server.lower() == db.active_server.lower()
    status = state.copy_status(db, c)
    reachable = srv is not None and srv.up
    logs = state.log_positions(db, c)
    log_time = now if not active and reachable else None
    props: dict[str, Any] = {
        "Identity": c.identity,
        "Id": c.identity,
        "Name": c.identity,
        "DatabaseName": db.name,
        "Status": status,
        "InstanceStartTime": c.instance_start if reachable else None,
        "LastStatusTransitionTime": c.last_status_transition,
        "MailboxServer": c.server,
        # lower case as in the real capture (runbooks §0.6, object-properties §2)
        "ActiveDatabaseCopy": db.active_server.lower(),
        "ActiveCopy": active,
        "ActivationPreference": c.preference,
        "StatusRetrievedTime": now,
        "WorkerProcessId": (4000 + db.guid.int % 4000) if active and db.mounted and reachable else None,
        "IsLastCopyAvailabilityChecksPassed": None,
        "LastCopyAvailabilityChecksPassedTime": None,
        "IsLastCopyRedundancyChecksPassed": None,
        "LastCopyRedundancyChecksPassedTime": None,
        "ActivationSuspended": c.activation_suspended,
        "ActionInitiator": c.action_initiator,
        "ErrorMessage": c.error_message if not active else None,
        "ErrorEventId": c.error_event_id,
        "ExtendedErrorInfo": None,
        "SuspendComment": c.suspend_comment,
        "RequiredLogsPresent": None,
        "SinglePageRestore": 0,
        "ContentIndexState": c.content_index if reachable else "Unknown",
        "ContentIndexErrorMessage": None,
        "ContentIndexErrorCode": None,
        "ContentIndexVersion": None,
        "ContentIndexBacklog": None,
        "ContentIndexRetryQueueSize": None,
        "ContentIndexMailboxesToCrawl": None,
        "ContentIndexSeedingPercent": None,
        "ContentIndexSeedingSource": None,
        "ContentIndexServerSource": "",
        "CopyQueueLength": state.copy_queue_length(db, c),
        "ReplayQueueLength": state.replay_queue_length(db, c),
        "ReplaySuspended": (status in ("Suspended", "FailedAndSuspended")) if not active else None,
        "ResumeBlocked": False if not active else None,
        "ReseedBlocked": False if not active else None,
        "MinimumSupportedDatabaseSchemaVersion": "0.121",
        "MaximumSupportedDatabaseSchemaVersion": "0.138",
        "RequestedDatabaseSchemaVersion": "0.138",
        "LatestAvailableLogTime": log_time,
        "LastCopyNotificationedLogTime": log_time,
        "LastCopiedLogTime": log_time,
        "LastInspectedLogTime": log_time,
        "LastReplayedLogTime": (now - datetime.timedelta(seconds=c.replay_lag_s)) if log_time else None,
        "LastLogGenerated": logs["generated"],
        "LastLogCopyNotified": logs["copy_notified"],
        "LastLogCopied": logs["copied"],
        "LastLogInspected": logs["inspected"],
        "LastLogReplayed": logs["replayed"],
        "LowestLogPresent": max(0, db.log_generation - 500) if not active else 0,
        "LastLogInfoIsStale": False,
        "LastLogInfoFromCopierTime": log_time,
        "LastLogInfoFromClusterTime": log_time,
        "LastLogInfoFromClusterGen": db.log_generation if not active else 0,
        "ReplicationIsInBlockMode": False,
        "ActivationDisabledAndMoveNow": srv.activation_disabled_and_move_now if srv else False,
        "AutoActivationPolicy": srv.auto_activation_policy if srv else "Unrestricted",
        "LogsReplayedSinceInstanceStart": 0 if not active else None,
        "LogsCopiedSinceInstanceStart": 0 if not active else None,
        "LatestFullBackupTime": None,
        "LatestIncrementalBackupTime": None,
        "LatestDifferentialBackupTime": None,
        "LatestCopyBackupTime": None,
        "SnapshotBackup": None,
        "SnapshotLatestFullBackup": None,
        "SnapshotLatestIncrementalBackup": None,
        "SnapshotLatestDifferentialBackup": None,
        "SnapshotLatestCopyBackup": None,
        "LogReplayQueueIncreasing": False,
        "LogCopyQueueIncreasing": False,
        "ReplayLagStatus": None,
        "DatabaseSeedStatus": None,
        "OutstandingDumpsterRequests": [],
        "OutgoingConnections": None,
        "IncomingLogCopyingNetwork": None,
        "SeedingNetwork": None,
        "DiskFreeSpacePercent": 62,
        "DiskFreeSpace": byte_quantified(620 * 1024**3),
        "DiskTotalSpace": byte_quantified(1000 * 1024**3),
        "ExchangeVolumeMountPoint": None,
        "DatabaseVolumeMountPoint": "D:\\",
        "DatabaseVolumeName": None,
        "DatabasePathIsOnMountedFolder": False,
        "LogVolumeMountPoint": "E:\\",
        "LogVolumeName": None,
        "LogPathIsOnMountedFolder": False,
        "LastDatabaseVolumeName": None,
        "LastDatabaseVolumeNameTransitionTime": None,
        "VolumeInfoError": None,
        "MaxLogToReplay": 0,
    }
    if c.replay_lag_s and not active:
        props["ReplayLagStatus"] = make_object(
            ["Microsoft.Exchange.Management.SystemConfigurationTasks.ReplayLagStatus"],
            {
                "Enabled": True,
                "PlayDownReason": "None",
                "ConfiguredLagTime": datetime.timedelta(seconds=c.replay_lag_s),
                "ActualLagTime": datetime.timedelta(seconds=c.replay_lag_s),
            },
            to_string=f"Enabled:True; PlayDownReason:None; Percentage:100; Configured:{timespan_text(datetime.timedelta(seconds=c.replay_lag_s))}",
        )
    return make_object(T_COPY_STATUS, props, to_string=c.identity)


# ------------------------------------------------------------ ServerComponentState
def component_state(state: "LabState", srv: "ExchangeServer", name: str) -> Any:
    comp = srv.components.get(name)
    effective, swo = srv.components.effective(name)

    def details(entries: Any) -> list[Any]:
        return [
            make_object(
                T_REQUESTER_DETAILS,
                {"Requester": e.requester, "State": e.state, "Timestamp": e.timestamp, "Component": comp.name},
                to_string="Microsoft.Exchange.Data.Directory.Management.ServerComponentStatePresentationObject+RequesterDetails",
            )
            for e in entries
        ]

    props = {
        "ServerFqdn": srv.fqdn,
        "Component": comp.name,
        "State": effective,
        "ServerWideOfflineIsOffline": swo,
        "RemoteStates": details(comp.remote.values()),
        "LocalStates": details(comp.local.values()),
        "Identity": srv.name,
        "IsValid": True,
        "ObjectState": "New",
    }
    return make_object(T_COMPONENT_STATE, props, to_string=srv.name)


# -------------------------------------------------------------------------- Queue
def queue(state: "LabState", srv: "ExchangeServer", q: "Queue") -> Any:
    identity = f"{srv.name}\\{q.name}"
    props = {
        "DeliveryType": q.delivery_type,
        "NextHopDomain": q.next_hop_domain,
        "TlsDomain": None,
        "NextHopConnector": "00000000-0000-0000-0000-000000000000",
        "Status": q.status,
        "MessageCount": q.message_count,
        "LastError": None,
        "RetryCount": 0,
        "LastRetryTime": None,
        "NextRetryTime": None,
        "FirstRetryTime": None,
        "DeferredMessageCount": 0,
        "LockedMessageCount": 0,
        "MessageCountsPerPriority": [0, q.message_count, 0, 0],
        "DeferredMessageCountsPerPriority": [0, 0, 0, 0],
        "RiskLevel": "Normal",
        "OutboundIPPool": 0,
        "NextHopCategory": q.next_hop_category,
        "IncomingRate": 0.0,
        "OutgoingRate": 0.0,
        "Velocity": 0.0,
        "OverrideSource": None,
        "QueueIdentity": identity,
        "PriorityDescriptions": ["High", "Normal", "Low", "None"],
        "IsValid": True,
        "ObjectState": "New",
        "Identity": identity,
    }
    return make_object(T_QUEUE, props, to_string=identity)


# ------------------------------------------------------------ Test-ReplicationHealth
def replication_check(
    server: str, check: str, check_id: str, result: str, error: str | None, identity: str | None = None
) -> Any:
    props = {
        "Server": server,
        "Check": check,
        "CheckDescription": None,
        "Result": result,
        "Error": error or "",
        "Identity": identity or f"{server}\\{check}",
        "DbFailureEventId": None,
        "CheckId": check_id,
        "IsValid": True,
        "ObjectState": "New",
    }
    return make_object(T_REPLICATION_CHECK, props, to_string=f"{server}\\{check}")
