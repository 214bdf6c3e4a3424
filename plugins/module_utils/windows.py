# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows reads and writes (failover cluster nodes, services) through a second PowerShell
Remoting session on WinRM's ``Microsoft.PowerShell`` configuration.

Internal to exchange.dr: no stable API, for the collection's own modules only.

A module that needs Windows cmdlets on an Exchange server adds ``windows_connection``
(:func:`windows_connection_argument_spec`, documented by the doc fragment
``exchange.dr.windows_connection``: change both together) and opens one client per server
with :func:`windows_client`.  Options not given in ``windows_connection`` come from the
module's Exchange connection (credentials, TLS, timeouts, proxy); the endpoint defaults are
WinRM's: configuration ``Microsoft.PowerShell``, path ``wsman``, port 5986 (HTTPS) or 5985,
and the host is the FQDN of the server acted on.

The functions send typed cmdlets only, like :mod:`psrp`.  ``Restart-Service`` is not used:
it is missing from the documented syntax data the collection is checked against, so a
restart is ``Stop-Service`` then ``Start-Service`` (:func:`set_service_state`).
"""

from __future__ import annotations

import copy

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError
from ansible_collections.exchange.dr.plugins.module_utils.psrp import (
    CONNECTION_ARGSPEC,
    POWERSHELL_CONFIGURATION,
    Client,
    require_pypsrp,
)

__all__ = ["SERVICE_STATES", "WINDOWS_CONNECTION_SPEC", "cluster_core_group_owner", "get_cluster_node",
           "get_cluster_nodes", "get_service", "resume_cluster_node", "set_service_state",
           "suspend_cluster_node", "windows_client", "windows_connection_argument_spec", "windows_params"]

WINDOWS_PATH = "wsman"
CORE_CLUSTER_GROUP = "Cluster Group"
SERVICE_STATES = ("started", "stopped", "restarted")

# Options of the Exchange connection a Windows session inherits when windows_connection leaves them out.
INHERITED = ("username", "password", "auth", "ssl", "validate_certs", "ca_trust_path", "certificate_pem",
             "certificate_key_pem", "allow_unencrypted", "connection_timeout", "operation_timeout",
             "reconnection_retries", "reconnection_backoff", "proxy", "no_proxy", "message_encryption")


def _suboption(name: str) -> dict:
    """The connection option ``name`` without its default and environment fallback: a value left
    out is inherited from the Exchange connection, not from EXCHANGE_DR_* (which address Exchange)."""
    dropped = ("default", "fallback", "required")
    return {key: value for key, value in CONNECTION_ARGSPEC[name].items() if key not in dropped}


# Suboptions of ``windows_connection``; documented in plugins/doc_fragments/windows_connection.py.
WINDOWS_CONNECTION_SPEC = {
    "server": _suboption("server"),
    "port": _suboption("port"),
    "path": dict(_suboption("path"), default=WINDOWS_PATH),
    "configuration_name": dict(_suboption("configuration_name"), default=POWERSHELL_CONFIGURATION),
}
WINDOWS_CONNECTION_SPEC.update((name, _suboption(name)) for name in INHERITED)


def windows_connection_argument_spec() -> dict:
    """``{"windows_connection": {...}}`` for a module's ``argument_spec``."""
    return {"windows_connection": {"type": "dict", "options": copy.deepcopy(WINDOWS_CONNECTION_SPEC)}}


def windows_params(params: dict, server: str, connection: dict | None = None) -> dict:
    """The keyword arguments of :class:`Client` for the Windows endpoint of ``server`` (its FQDN).

    ``params`` are the module's parameters (the Exchange connection options and, optionally,
    ``windows_connection``); ``connection`` overrides ``windows_connection`` (for a module that
    acts on several servers with per-server endpoints).  Precedence for each option: the value
    given in ``connection``/``windows_connection``, then the Exchange connection's value for the
    inherited options, then the Windows defaults (``server``: ``server``; ``path``: wsman;
    ``configuration_name``: Microsoft.PowerShell; ``port``: 5986 with ssl, else 5985).
    """
    given = dict(connection if connection is not None else (params.get("windows_connection") or {}))
    kwargs = {}
    for name in INHERITED:
        value = given.get(name)
        kwargs[name] = params.get(name) if value is None else value
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    kwargs["server"] = given.get("server") or server
    kwargs["configuration_name"] = given.get("configuration_name") or POWERSHELL_CONFIGURATION
    kwargs["path"] = given.get("path") or WINDOWS_PATH
    ssl = kwargs.get("ssl", True)
    kwargs["port"] = given.get("port") or (5986 if ssl else 5985)
    return kwargs


def windows_client(module, server: str, connection: dict | None = None) -> Client:
    """A :class:`Client` on the Windows (``Microsoft.PowerShell``) endpoint of ``server`` (the
    FQDN of the host acted on), built as :func:`windows_params` describes.  The session opens on
    the first call; close it (or use it as a context manager) when done.  Raises
    :class:`ConnectionFailure` for inconsistent options."""
    require_pypsrp(module)
    return Client(**windows_params(module.params, server, connection))


# ---------------------------------------------------------------------------- services
SERVICE_PROPERTIES = ("Name", "DisplayName", "Status", "StartType")


def _service(raw: dict) -> dict:
    return {"name": c.text(raw.get("Name")), "display_name": c.text(raw.get("DisplayName")),
            "status": c.enum(raw.get("Status")), "start_type": c.enum(raw.get("StartType"))}


def get_service(client: Client, name: str) -> dict | None:
    """``{name, display_name, status, start_type}`` of service ``name``; None when the host has
    no such service (``NoServiceFoundForGivenName``).  Other errors raise."""
    rows, errors = client.invoke("Get-Service", {"Name": name}, select=list(SERVICE_PROPERTIES), errors="return")
    for err in errors:
        if err.error_id != "NoServiceFoundForGivenName":
            raise err
    return _service(rows[0]) if rows else None


def set_service_state(client: Client, name: str, state: str, force: bool = False) -> dict:
    """Bring service ``name`` to ``state``: ``started``, ``stopped`` or ``restarted``.

    ``started``/``stopped`` act only when the service is not already there.  ``restarted``
    always acts, as ``Stop-Service`` then ``Start-Service`` (no ``Restart-Service``: it is not in
    the documented syntax data).  ``force`` passes ``-Force`` to ``Stop-Service`` (stop the
    dependent services too).  Returns ``{changed, before, after, commands}`` where ``before`` and
    ``after`` are :func:`get_service` results and ``commands`` the cmdlets sent.  A missing
    service raises :class:`ExchangeCommandError` (``NoServiceFoundForGivenName``)."""
    if state not in SERVICE_STATES:
        raise ValueError("state must be one of %s" % ", ".join(SERVICE_STATES))
    before = get_service(client, name)
    if before is None:
        raise ExchangeCommandError("Get-Service", "NoServiceFoundForGivenName", "ObjectNotFound", name,
                                   "Cannot find any service with service name '%s'." % name, None)
    commands = []
    stop_params = {"Name": name, "Force": None} if force else {"Name": name}
    if state == "stopped" and before["status"] != "Stopped":
        commands.append(("Stop-Service", stop_params))
    elif state == "started" and before["status"] != "Running":
        commands.append(("Start-Service", {"Name": name}))
    elif state == "restarted":
        if before["status"] != "Stopped":
            commands.append(("Stop-Service", stop_params))
        commands.append(("Start-Service", {"Name": name}))
    for cmdlet, params in commands:
        client.invoke(cmdlet, params)
    after = get_service(client, name) if commands else before
    return {"changed": bool(commands), "before": before, "after": after,
            "commands": [cmdlet for cmdlet, _params in commands]}


# ------------------------------------------------------------------------ cluster nodes
NODE_PROPERTIES = ("Name", "State", "Cluster", "DrainStatus", "DynamicWeight", "NodeWeight")


def _node(raw: dict) -> dict:
    return {"name": c.server_name(raw.get("Name")), "state": c.enum(raw.get("State")),
            "cluster": c.text(raw.get("Cluster")), "drain_status": c.enum(raw.get("DrainStatus")),
            "dynamic_weight": c.integer(raw.get("DynamicWeight")), "node_weight": c.integer(raw.get("NodeWeight"))}


def get_cluster_nodes(client: Client) -> list:
    """The nodes of the cluster the session's host belongs to (``Get-ClusterNode``): each
    ``{name, state, cluster, drain_status, dynamic_weight, node_weight}``; ``state`` is Up,
    Down, Paused or Joining."""
    return [_node(raw) for raw in client.invoke("Get-ClusterNode", select=list(NODE_PROPERTIES))]


def get_cluster_node(client: Client, name: str) -> dict | None:
    """One node of :func:`get_cluster_nodes` by (short) name, None when not a node."""
    short = name.split(".", 1)[0].lower()
    return next((n for n in get_cluster_nodes(client) if (n["name"] or "").lower() == short), None)


def suspend_cluster_node(client: Client, name: str) -> dict | None:
    """Pause node ``name`` (``Suspend-ClusterNode -Name``; runbooks §3.2 step 4a).  Returns the
    node as the cmdlet reports it."""
    rows = client.invoke("Suspend-ClusterNode", {"Name": name.split(".", 1)[0]}, select=list(NODE_PROPERTIES))
    return _node(rows[0]) if rows else None


def resume_cluster_node(client: Client, name: str) -> dict | None:
    """Resume paused node ``name`` (``Resume-ClusterNode -Name``; runbooks §3.3).  Returns the node
    as the cmdlet reports it (None when it was not paused: the cmdlet leaves it alone)."""
    rows = client.invoke("Resume-ClusterNode", {"Name": name.split(".", 1)[0]}, select=list(NODE_PROPERTIES))
    return _node(rows[0]) if rows else None


def cluster_core_group_owner(client: Client) -> str | None:
    """Owner node of the cluster's core group ("Cluster Group"): the DAG's primary active
    manager (PAM) on Exchange 2010 and later."""
    rows = client.invoke("Get-ClusterGroup", {"Name": CORE_CLUSTER_GROUP}, select=["Name", "OwnerNode"])
    return c.server_name(rows[0].get("OwnerNode")) if rows else None
