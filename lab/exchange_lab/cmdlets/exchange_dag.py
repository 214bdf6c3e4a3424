"""DAG configuration cmdlets (Exchange 2013+): Set-DatabaseAvailabilityGroup and the DAG
network cmdlets.  Errors are terminating (lab/README-model.md)."""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

from .. import errors, objects
from ..model.objects_state import DagNetwork
from ..model.topology import parse_timespan
from ..registry import WRITE, cmdlet
from .exchange_common import argument_error, begin, no_change_warning, task_class, task_error, text_of, texts_of
from .exchange_read import resolve_dag_networks, resolve_dags

T_SET_DAG = task_class("SetDatabaseAvailabilityGroup")
T_NEW_DAG_NETWORK = task_class("NewDatabaseAvailabilityGroupNetwork")
T_SET_DAG_NETWORK = task_class("SetDatabaseAvailabilityGroupNetwork")

NETWORK_OPTIONS = ("Disabled", "Enabled", "InterSubnetOnly", "SeedOnly")
DAC_MODES = ("Off", "DagOnly")
_DAG_ERROR = "Microsoft.Exchange.Management.SystemConfigurationTasks.DagTaskOperationFailedException"
_NEEDS_QUORUM = ("ReplicationPort", "NetworkCompression", "NetworkEncryption", "DiscoverNetworks")
_UNSET = object()


def _exchange_2013_plus(host: Any) -> bool:
    return getattr(host, "kind", None) == "exchange" and getattr(host, "version", "") in ("2013", "2016", "2019")


def _choice(inv: Any, value: Any, allowed: tuple[str, ...], param: str, task: str) -> str:
    text = text_of(value) or ""
    for a in allowed:
        if a.lower() == text.lower():
            return a
    raise argument_error(
        inv,
        f"Cannot convert value \"{text}\" of parameter {param}. Valid values are: {', '.join(allowed)}.",
        task,
        target=text,
    )


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "$true", "1")
    return bool(value)


def _timespan(inv: Any, value: Any, param: str) -> datetime.timedelta:
    if isinstance(value, datetime.timedelta):
        return value
    try:
        return datetime.timedelta(seconds=parse_timespan(str(value)))
    except ValueError as exc:
        raise argument_error(
            inv, f'Cannot convert value "{value}" of parameter {param}: {exc}', T_SET_DAG, target=str(value)
        ) from None


def _dag_error(inv: Any, message: str, task: str, target: str | None = None) -> errors.PSError:
    return task_error(inv, message, _DAG_ERROR, task, target=target)


# ------------------------------------------------------- Set-DatabaseAvailabilityGroup
@cmdlet("Set-DatabaseAvailabilityGroup", syntax="exchange", rbac=WRITE, available_on=_exchange_2013_plus)
def set_database_availability_group(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        identity = text_of(inv.get("Identity"))
        dags = resolve_dags(inv, identity, T_SET_DAG, terminating=True)
        dag = dags[0]
        settings = {k: v for k, v in inv.params.items() if k not in ("Identity", "DomainController")}
        quorum = lab.quorum(dag)
        for p in _NEEDS_QUORUM:
            if p in settings and not quorum["has_quorum"]:
                raise _dag_error(
                    inv,
                    f"Setting {p} requires the cluster of database availability group '{dag.name}' "
                    f"to have quorum. The cluster doesn't have quorum.",
                    T_SET_DAG,
                    target=dag.name,
                )
        changed = False

        def put(attr: str, value: Any) -> None:
            nonlocal changed
            if getattr(dag, attr) != value:
                setattr(dag, attr, value)
                changed = True

        def other(key: str, value: Any) -> None:
            nonlocal changed
            if dag.other_settings.get(key, _UNSET) != value:
                dag.other_settings[key] = value
                changed = True

        witness_touched = False
        for key in ("WitnessServer", "AlternateWitnessServer"):
            if key in settings and settings[key] not in (None, ""):
                name = text_of(settings[key])
                host = lab.host(name)
                if host is None:
                    raise _dag_error(
                        inv,
                        f"The witness server '{name}' couldn't be resolved. Specify a server that "
                        f"can be reached by name.",
                        T_SET_DAG,
                        target=name,
                    )
                if dag.is_member(host.name):
                    raise _dag_error(
                        inv,
                        f"The witness server '{name}' is a member of database availability group "
                        f"'{dag.name}'. Specify a server that isn't a member of the DAG.",
                        T_SET_DAG,
                        target=name,
                    )
        default_dir = f"C:\\DAGFileShareWitnesses\\{dag.name}.{lab.domain}"
        if "WitnessServer" in settings:
            value = text_of(settings["WitnessServer"]) or None
            if value != dag.witness_server:
                witness_touched = True
            put("witness_server", value)
            if "WitnessDirectory" not in settings and witness_touched:
                put("witness_directory", default_dir)
        if "WitnessDirectory" in settings:
            value = text_of(settings["WitnessDirectory"]) or None
            witness_touched |= value != dag.witness_directory
            put("witness_directory", value)
        if "AlternateWitnessServer" in settings:
            value = text_of(settings["AlternateWitnessServer"]) or None
            put("alternate_witness_server", value)
            if value and "AlternateWitnessDirectory" not in settings and not dag.alternate_witness_directory:
                put("alternate_witness_directory", default_dir)
            if value is None and "AlternateWitnessDirectory" not in settings:
                put("alternate_witness_directory", None)
        if "AlternateWitnessDirectory" in settings:
            put("alternate_witness_directory", text_of(settings["AlternateWitnessDirectory"]) or None)
        if "DatacenterActivationMode" in settings:
            mode = _choice(inv, settings["DatacenterActivationMode"], DAC_MODES, "DatacenterActivationMode", T_SET_DAG)
            if mode != dag.datacenter_activation_mode:
                put("datacenter_activation_mode", mode)
                if mode == "DagOnly":
                    dag.started = [m for m in dag.members if not any(s.lower() == m.lower() for s in dag.stopped)]
        if "ManualDagNetworkConfiguration" in settings:
            put("manual_network_configuration", _bool(settings["ManualDagNetworkConfiguration"]))
        if "AutoDagAutoReseedEnabled" in settings:
            put("auto_reseed", _bool(settings["AutoDagAutoReseedEnabled"]))
        if "ReplicationPort" in settings:
            try:
                port = int(settings["ReplicationPort"])
            except (TypeError, ValueError):
                raise argument_error(
                    inv,
                    f"Cannot convert value \"{settings['ReplicationPort']}\" of parameter "
                    f'ReplicationPort to type "System.UInt16".',
                    T_SET_DAG,
                ) from None
            if not 0 < port < 65536:
                raise argument_error(
                    inv, f"The value {port} of parameter ReplicationPort is out of range (1-65535).", T_SET_DAG
                )
            put("replication_port", port)
        for key, attr in (("NetworkCompression", "network_compression"), ("NetworkEncryption", "network_encryption")):
            if key in settings:
                put(attr, _choice(inv, settings[key], NETWORK_OPTIONS, key, T_SET_DAG))
        if "DatabaseAvailabilityGroupIpAddresses" in settings:
            addrs = []
            for a in texts_of(settings["DatabaseAvailabilityGroupIpAddresses"]):
                try:
                    addrs.append(str(ipaddress.ip_address(a)))
                except ValueError:
                    raise argument_error(inv, f"'{a}' is not a valid IP address.", T_SET_DAG, target=a) from None
            put("ip_addresses", addrs)
        if "PreferenceMoveFrequency" in settings:
            other(
                "PreferenceMoveFrequency",
                _timespan(inv, settings["PreferenceMoveFrequency"], "PreferenceMoveFrequency"),
            )
        handled = {
            "WitnessServer",
            "WitnessDirectory",
            "AlternateWitnessServer",
            "AlternateWitnessDirectory",
            "DatacenterActivationMode",
            "ManualDagNetworkConfiguration",
            "AutoDagAutoReseedEnabled",
            "ReplicationPort",
            "NetworkCompression",
            "NetworkEncryption",
            "DatabaseAvailabilityGroupIpAddresses",
            "PreferenceMoveFrequency",
            "DiscoverNetworks",
            "SkipDagValidation",
        }
        for key, value in settings.items():
            if key not in handled:
                other(key, value)
        reevaluate = not (set(settings) - {"SkipDagValidation"}) or witness_touched
        if reevaluate:
            # runbooks §5.5: with no other parameter the DAG re-evaluates its quorum model
            # (file share witness for an even node count) and uses the primary witness again.
            before = dag.witness_in_use
            dag.witness_in_use = "Primary" if len(dag.cluster.nodes) % 2 == 0 else "None"
            changed |= before != dag.witness_in_use
            lab.evaluate_quorum(dag)
        bare = not (set(settings) - {"SkipDagValidation", "DiscoverNetworks"})
    if not changed and not bare:
        no_change_warning(inv, dag.name)


# --------------------------------------------------------------- DAG networks
def _subnets(inv: Any, value: Any, task: str) -> list[str]:
    out = []
    for text in texts_of(value):
        sid = text.strip("{} ").split(",", 1)[0]
        try:
            out.append(str(ipaddress.ip_network(sid, strict=True)))
        except ValueError as exc:
            raise argument_error(inv, f"'{text}' is not a valid subnet ID ({exc}).", task, target=text) from None
    return out


def _require_manual(inv: Any, dag: Any, task: str) -> None:
    if not dag.manual_network_configuration:
        raise _dag_error(
            inv,
            f"Database availability group '{dag.name}' uses automatic network configuration. "
            f"Run Set-DatabaseAvailabilityGroup -Identity {dag.name} -ManualDagNetworkConfiguration $true "
            f"before you create or change DAG networks.",
            task,
            target=dag.name,
        )


def _move_subnets(dag: Any, subnets: list[str], keep: Any) -> None:
    """Subnets already in another network move to ``keep`` (runbooks §12.2)."""
    wanted = set(subnets)
    for n in dag.networks:
        if n is not keep:
            n.subnets = [s for s in n.subnets if s not in wanted]


@cmdlet("New-DatabaseAvailabilityGroupNetwork", syntax="exchange", rbac=WRITE, available_on=_exchange_2013_plus)
def new_database_availability_group_network(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        dag = resolve_dags(inv, text_of(inv.get("DatabaseAvailabilityGroup")), T_NEW_DAG_NETWORK, terminating=True)[0]
        _require_manual(inv, dag, T_NEW_DAG_NETWORK)
        name = text_of(inv.get("Name")) or ""
        if not name or len(name) > 128:
            raise argument_error(
                inv, "The network name must be 1 to 128 characters long.", T_NEW_DAG_NETWORK, target=name
            )
        if any(n.name.lower() == name.lower() for n in dag.networks):
            raise _dag_error(
                inv,
                f"A network named '{name}' already exists in database availability group '{dag.name}'.",
                T_NEW_DAG_NETWORK,
                target=name,
            )
        subnets = _subnets(inv, inv.get("Subnets"), T_NEW_DAG_NETWORK)
        net = DagNetwork(
            name=name,
            description=text_of(inv.get("Description")) or "",
            subnets=subnets,
            replication_enabled=_bool(inv.get("ReplicationEnabled", True)),
            ignore_network=_bool(inv.get("IgnoreNetwork", False)),
        )
        _move_subnets(dag, subnets, net)
        dag.networks.append(net)
        out = objects.dag_network(lab, dag, net)
    inv.write_output(out)


@cmdlet("Set-DatabaseAvailabilityGroupNetwork", syntax="exchange", rbac=WRITE, available_on=_exchange_2013_plus)
def set_database_availability_group_network(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        identity = text_of(inv.get("Identity")) or ""
        if "\\" not in identity:
            raise argument_error(
                inv,
                f"The identity '{identity}' isn't a DAG network identity (<DAG>\\<Network>).",
                T_SET_DAG_NETWORK,
                target=identity,
            )
        dag, net = resolve_dag_networks(inv, identity, T_SET_DAG_NETWORK, terminating=True)[0]
        _require_manual(inv, dag, T_SET_DAG_NETWORK)
        changed = False
        if inv.has("Name"):
            name = text_of(inv.get("Name")) or ""
            if any(n is not net and n.name.lower() == name.lower() for n in dag.networks):
                raise _dag_error(
                    inv,
                    f"A network named '{name}' already exists in database availability group '{dag.name}'.",
                    T_SET_DAG_NETWORK,
                    target=name,
                )
            if name != net.name:
                net.name, changed = name, True
        if inv.has("Description"):
            desc = text_of(inv.get("Description")) or ""
            if desc != net.description:
                net.description, changed = desc, True
        if inv.has("Subnets"):
            subnets = _subnets(inv, inv.get("Subnets"), T_SET_DAG_NETWORK)
            if subnets != net.subnets:
                _move_subnets(dag, subnets, net)
                net.subnets, changed = subnets, True
        for param, attr in (("ReplicationEnabled", "replication_enabled"), ("IgnoreNetwork", "ignore_network")):
            if inv.has(param):
                value = _bool(inv.get(param))
                if getattr(net, attr) != value:
                    setattr(net, attr, value)
                    changed = True
    if not changed:
        no_change_warning(inv, identity)
