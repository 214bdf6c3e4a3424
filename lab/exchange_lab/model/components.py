"""Server component states (Exchange 2013+), object-properties.md §6.

Each component keeps per-requester entries from two sources: ``local`` (the server's
registry) and ``remote`` (Active Directory).  The effective state follows the rules of
object-properties.md §6, which match Exchange 15's own ``ServerComponentStates`` logic:

* local and remote entries of the same requester are reconciled: the newer timestamp wins;
* with no entry the component has its default state (Active, except ForwardSyncDaemon and
  ProvisioningRps, which are Inactive on-premises);
* any requester Inactive -> Inactive; else any Draining -> Draining; else Active;
* ServerWideOffline not Active forces every component Inactive except Monitoring and
  RecoveryActionsEnabled.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

ACTIVE = "Active"
INACTIVE = "Inactive"
DRAINING = "Draining"
STATES = (ACTIVE, INACTIVE, DRAINING)

REQUESTERS = ("HealthAPI", "Maintenance", "Sidelined", "Functional", "Deployment")

SERVER_WIDE_OFFLINE = "ServerWideOffline"
EXEMPT_FROM_SWO = ("Monitoring", "RecoveryActionsEnabled")
DRAINABLE = ("HubTransport", "FrontendTransport")

# The 2013 list (object-properties.md §6), in its order.
_BASE = [
    "ServerWideOffline",
    "HubTransport",
    "FrontendTransport",
    "Monitoring",
    "RecoveryActionsEnabled",
    "AutoDiscoverProxy",
    "ActiveSyncProxy",
    "EcpProxy",
    "EwsProxy",
    "ImapProxy",
    "OabProxy",
    "OwaProxy",
    "PopProxy",
    "PushNotificationsProxy",
    "RpsProxy",
    "RwsProxy",
    "RpcProxy",
    "UMCallRouter",
    "XropProxy",
    "HttpProxyAvailabilityGroup",
    "ForwardSyncDaemon",
    "ProvisioningRps",
    "MapiProxy",
    "EdgeTransport",
    "HighAvailability",
    "SharedCache",
]
# 2016+ additions named (as unconfirmed examples) in object-properties.md §6.
_ADDED_2016 = ["MailboxDeliveryProxy", "RoutingUpdates"]

DEFAULT_INACTIVE = ("ForwardSyncDaemon", "ProvisioningRps")


def components_for(version: str) -> list[str]:
    """The component names a server of this Exchange version reports, in output order."""
    if version == "2013":
        return list(_BASE)
    names = list(_BASE) + _ADDED_2016
    if version not in ("2016",):
        # UMCallRouter: 2013/2016 only (UM does not exist in 2019).
        names.remove("UMCallRouter")
    return names


def default_state(component: str) -> str:
    return INACTIVE if component in DEFAULT_INACTIVE else ACTIVE


@dataclass
class RequesterEntry:
    requester: str
    state: str
    timestamp: datetime.datetime

    def to_json(self) -> dict:
        return {"requester": self.requester, "state": self.state, "timestamp": self.timestamp.isoformat()}


@dataclass
class ComponentState:
    name: str
    local: dict[str, RequesterEntry] = field(default_factory=dict)  # key: requester lower-case
    remote: dict[str, RequesterEntry] = field(default_factory=dict)

    def reconciled(self) -> list[RequesterEntry]:
        merged: dict[str, RequesterEntry] = dict(self.local)
        for key, entry in self.remote.items():
            mine = merged.get(key)
            if mine is None or mine.timestamp < entry.timestamp:
                merged[key] = entry
        return list(merged.values())

    def direct_state(self) -> str:
        entries = self.reconciled()
        if not entries:
            return default_state(self.name)
        if any(e.state == INACTIVE for e in entries):
            return INACTIVE
        if any(e.state == DRAINING for e in entries):
            return DRAINING
        return ACTIVE

    def set(
        self, requester: str, state: str, when: datetime.datetime, *, local: bool = True, remote: bool = True
    ) -> None:
        entry_key = requester.lower()
        if local:
            self.local[entry_key] = RequesterEntry(requester, state, when)
        if remote:
            self.remote[entry_key] = RequesterEntry(requester, state, when)

    def to_json(self) -> dict:
        return {
            "local": [e.to_json() for e in self.local.values()],
            "remote": [e.to_json() for e in self.remote.values()],
        }


class ComponentTable:
    """All components of one server."""

    def __init__(self, version: str) -> None:
        self.components: dict[str, ComponentState] = {
            name.lower(): ComponentState(name) for name in components_for(version)
        }

    def names(self) -> list[str]:
        return [c.name for c in self.components.values()]

    def get(self, name: str) -> ComponentState | None:
        return self.components.get(name.lower())

    def server_wide_offline(self) -> bool:
        swo = self.components.get(SERVER_WIDE_OFFLINE.lower())
        return swo is not None and swo.direct_state() != ACTIVE

    def effective(self, name: str) -> tuple[str, bool]:
        """(effective state, ServerWideOfflineIsOffline) of a component."""
        comp = self.components[name.lower()]
        if comp.name in EXEMPT_FROM_SWO:
            return comp.direct_state(), False
        if comp.name == SERVER_WIDE_OFFLINE:
            state = comp.direct_state()
            return state, state != ACTIVE
        if self.server_wide_offline():
            return INACTIVE, True
        return comp.direct_state(), False

    def state(self, name: str) -> str:
        return self.effective(name)[0]

    def to_json(self) -> dict:
        return {c.name: {"state": self.state(c.name), **c.to_json()} for c in self.components.values()}
