#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dag_network
short_description: Replication and MAPI networks of a database availability group
version_added: 0.1.0
description:
  - Keeps the networks of a database availability group (Exchange 2010 and later) as declared. These are its
    subnets, description, whether log shipping and seeding use it (C(ReplicationEnabled)), and whether the DAG
    ignores it (C(IgnoreNetwork), for iSCSI or storage networks). Runbooks §12.2 covers the options.
  - One network (O(name)) or several (O(networks), the form used to declare a whole DAG). A network that does
    not exist is created with C(New-DatabaseAvailabilityGroupNetwork). For an existing one,
    C(Set-DatabaseAvailabilityGroupNetwork) gets only the properties that differ. Only the options given are
    managed. Networks not declared are left as they are.
  - Subnets already in another network move to the network they are declared for, as Exchange does.
  - On Exchange 2013 and later, DAG networks are configured automatically, and C(New-) and
    C(Set-DatabaseAvailabilityGroupNetwork) are disabled until the DAG's C(ManualDagNetworkConfiguration) is
    V(true). O(manual_configuration=true) sets it first (C(Set-DatabaseAvailabilityGroup)). Without it, a network
    change fails before anything is written. Exchange 2010 has no such parameter, and O(manual_configuration) is
    refused there.
  - Reads the DAG once (C(Get-DatabaseAvailabilityGroup)) and its networks once
    (C(Get-DatabaseAvailabilityGroupNetwork -Identity <DAG>)). Idempotent by the current network settings.
options:
  dag:
    description:
      - Name of the database availability group.
    type: str
    required: true
  description:
    description:
      - C(Description) of the network O(name).
    type: str
  ignore_network:
    description:
      - C(IgnoreNetwork) of the network O(name). V(true) (with O(replication_enabled=false)) for an iSCSI or
        storage network, which also takes it out of cluster use.
    type: bool
  manual_configuration:
    description:
      - C(ManualDagNetworkConfiguration) of the DAG (Exchange 2013 and later). It must be V(true) for this module
        to create or change networks there.
      - Refused on Exchange 2010, where the parameter does not exist.
    type: bool
  name:
    description:
      - Name of one network, for example V(ReplicationDagNetwork01) or V(MapiDagNetwork).
      - Mutually exclusive with O(networks).
    type: str
  networks:
    description:
      - The networks of the DAG, each with the suboptions below. A name may appear only once, and a subnet only in
        one network.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
    suboptions:
      description:
        description: C(Description).
        type: str
      ignore_network:
        description: C(IgnoreNetwork).
        type: bool
      name:
        description: The network's name.
        type: str
        required: true
      replication_enabled:
        description: C(ReplicationEnabled).
        type: bool
      subnets:
        description: C(Subnets), each an IPv4 or IPv6 subnet ID such as V(10.1.2.0/24).
        type: list
        elements: str
  replication_enabled:
    description:
      - C(ReplicationEnabled) of the network O(name). V(false) on the MAPI network dedicates log shipping to the
        replication networks. Exchange still falls back to the MAPI network when every replication network fails.
    type: bool
  subnets:
    description:
      - C(Subnets) of the network O(name), each a subnet ID such as V(10.1.2.0/24). The order does not matter.
      - Required to create a network.
    type: list
    elements: str
extends_documentation_fragment:
  - exchange.dr.connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the DAG and its networks and returns RV(drift), RV(reason), the planned RV(actions) and the predicted
        RV(after). Nothing is written. A change that needs O(manual_configuration) is reported, not refused.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: C(manual_configuration) and the managed properties of each declared network.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Calls C(Get-DatabaseAvailabilityGroup), C(Get-DatabaseAvailabilityGroupNetwork),
    C(Set-DatabaseAvailabilityGroup -ManualDagNetworkConfiguration), C(New-DatabaseAvailabilityGroupNetwork) and
    C(Set-DatabaseAvailabilityGroupNetwork). The user needs the Database Availability Groups role (Organization
    Management).
  - The RV(after) state is predicted from the changes sent (the networks are read once per run). C(Interfaces)
    and subnet states are Exchange's, so read them with M(exchange.dr.exchange_info).
  - Exchange 2010 is recognised by the DAG having no C(ManualDagNetworkConfiguration) property, or by
    O(exchange_version=2010).
seealso:
  - module: exchange.dr.exchange_info
  - name: Configure DAG network properties
    description: Microsoft's procedure.
    link: https://learn.microsoft.com/exchange/high-availability/manage-ha/configure-dag-network-properties
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
# Runbooks §12.2: a dedicated replication network, and no log shipping over the MAPI network.
- name: Declare the networks of DAG1
  exchange.dr.dag_network:
    server: ex01.contoso.com
    username: admin@CONTOSO.COM
    password: "{{ vault_exchange_password }}"
    auth: kerberos
    dag: DAG1
    manual_configuration: true
    networks:
      - name: MapiDagNetwork
        subnets: [10.1.1.0/24, 10.2.1.0/24]
        replication_enabled: false
      - name: ReplicationDagNetwork01
        subnets: [10.1.2.0/24, 10.2.2.0/24]
        description: Replication, both datacenters
        replication_enabled: true
        ignore_network: false

# One network: an iSCSI network the DAG must ignore.
- name: Ignore the storage network
  module_defaults:
    group/exchange.dr.exchange:
      server: ex01.contoso.com
  exchange.dr.dag_network:
    dag: DAG1
    name: iSCSI
    subnets: [10.1.9.0/24]
    description: Storage
    replication_enabled: false
    ignore_network: true

# Drift report.
- name: Is log shipping still allowed on the MAPI network?
  exchange.dr.dag_network:
    server: ex01.contoso.com
    dag: DAG1
    name: MapiDagNetwork
    replication_enabled: false
  check_mode: true
  register: dag1_networks
"""

RETURN = r"""
dag:
  description: The DAG's name as Exchange spells it.
  returned: success
  type: str
  sample: DAG1
drift:
  description: Each item out of compliance, in the operator's terms, as found at the start of the run. Empty when
    compliant.
  returned: always
  type: list
  elements: str
  sample:
    - "DAG1\\MapiDagNetwork: ReplicationEnabled is true, should be false"
    - "DAG1\\ReplicationDagNetwork02: missing (subnets 10.1.3.0/24, 10.2.3.0/24)"
reason:
  description: Why a change was (or in check mode would be) needed, or C(compliant ...).
  returned: always
  type: str
  sample: "DAG1 networks differ from the declaration: 1 to create, 1 to change"
before:
  description: C(manual_configuration) of the DAG and, under C(networks), the managed properties of each declared
    network (null for a missing one).
  returned: success
  type: dict
  sample:
    manual_configuration: false
    networks:
      MapiDagNetwork: {subnets: [10.1.1.0/24, 10.2.1.0/24], replication_enabled: true}
after:
  description: The same after the run. In check mode, and after changes, this is predicted from the changes sent.
  returned: success
  type: dict
  sample:
    manual_configuration: true
    networks:
      MapiDagNetwork: {subnets: [10.1.1.0/24, 10.2.1.0/24], replication_enabled: false}
actions:
  description: The state-changing cmdlets in order, with their parameters and V(done), V(failed) or, in check
    mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - {cmdlet: Set-DatabaseAvailabilityGroupNetwork, target: DAG1\MapiDagNetwork,
       parameters: {Identity: DAG1\MapiDagNetwork, ReplicationEnabled: false}, status: done}
round_trips:
  description: Number of cmdlet invocations sent.
  returned: always
  type: int
  sample: 3
"""

import ipaddress

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils import exchange
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeError
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client, connection_argument_spec

NOT_FOUND = "ManagementObjectNotFoundException"
# option -> (Exchange property, New-/Set- parameter)
PROPERTIES = (
    ("subnets", "Subnets"),
    ("description", "Description"),
    ("replication_enabled", "ReplicationEnabled"),
    ("ignore_network", "IgnoreNetwork"),
)
NETWORK_OPTIONS = {
    "name": dict(type="str", required=True),
    "subnets": dict(type="list", elements="str"),
    "description": dict(type="str"),
    "replication_enabled": dict(type="bool"),
    "ignore_network": dict(type="bool"),
}
DAG_SELECT = ["Name", "ManualDagNetworkConfiguration"]


class Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def subnet_id(value: str, where: str) -> str:
    """A subnet ID in canonical form (``10.1.2.0/24``); ValueError naming ``where``."""
    text = str(value).strip().strip("{}").split(",", 1)[0].strip()
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        raise ValueError("%s: %r is not a subnet ID like 10.1.2.0/24 (%s)" % (where, value, exc)) from None


def declared(params: dict) -> list:
    """The declared networks as dicts of the options given (subnets canonical); ValueError naming the option."""
    if params.get("networks") is not None:
        items = [(n, "networks[%d]" % i) for i, n in enumerate(params["networks"])]
        if not items:
            raise ValueError("networks must list at least one network")
    elif params.get("name") is not None:
        items = [({key: params.get(key) for key in NETWORK_OPTIONS}, "")]
    else:
        items = []
    result, names, owner = [], set(), {}
    for item, where in items:
        prefix = where + "." if where else ""
        name = (item.get("name") or "").strip()
        if not name or len(name) > 128 or "\\" in name:
            raise ValueError("%sname must be a network name of 1 to 128 characters without a backslash, got %r"
                             % (prefix, item.get("name")))
        if name.lower() in names:
            raise ValueError("%sname: network %s is declared twice" % (prefix, name))
        names.add(name.lower())
        network = {"name": name}
        for option, _prop in PROPERTIES:
            value = item.get(option)
            if value is None:
                continue
            if option == "subnets":
                if not value:
                    raise ValueError("%ssubnets must list at least one subnet ID (leave it out to keep the network's "
                                     "subnets)" % prefix)
                value = sorted({subnet_id(v, prefix + "subnets") for v in value})
                for subnet in value:
                    if subnet in owner and owner[subnet] != name:
                        raise ValueError("%ssubnets: %s is declared for both %s and %s; a subnet belongs to one "
                                         "network" % (prefix, subnet, owner[subnet], name))
                    owner[subnet] = name
            network[option] = value
        result.append(network)
    return result


def current_network(row: dict) -> dict:
    return {"name": row["name"], "subnets": sorted(s["subnet"] for s in row["subnets"] if s.get("subnet")),
            "description": row["description"] or "", "replication_enabled": row["replication_enabled"],
            "ignore_network": row["ignore_network"], "mapi_access_enabled": row["mapi_access_enabled"]}


def _shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return repr(value) if value == "" else str(value)


def plan(dag: str, manual: bool | None, version_2010: bool, wanted_manual: bool | None, networks: list,
         existing: list) -> dict:
    """The changes (pure): ``commands`` in order (cmdlet, parameters, target), ``drift``, ``blocked`` (why the
    network changes cannot be sent), ``before``/``after``."""
    if version_2010 and wanted_manual is not None:
        raise Refused("manual_configuration: Exchange 2010 has no ManualDagNetworkConfiguration (the parameter of "
                      "Set-DatabaseAvailabilityGroup exists from Exchange 2013); on 2010 the DAG networks are "
                      "changed directly: leave manual_configuration out")
    by_name = {n["name"].lower(): n for n in existing}
    commands, drift = [], []
    before = {"manual_configuration": manual, "networks": {}}
    after = {"manual_configuration": manual, "networks": {}}
    if wanted_manual is not None and wanted_manual != manual:
        drift.append("%s: ManualDagNetworkConfiguration is %s, should be %s" % (dag, _shown(manual), _shown(wanted_manual)))
        commands.append(("Set-DatabaseAvailabilityGroup", {"Identity": dag, "ManualDagNetworkConfiguration":
                                                           wanted_manual}, dag))
        after["manual_configuration"] = wanted_manual
    state = {key: dict(value) for key, value in by_name.items()}  # predicted, subnet moves applied
    network_commands = 0
    for net in networks:
        key = net["name"].lower()
        cur = by_name.get(key)
        identity = "%s\\%s" % (dag, cur["name"] if cur else net["name"])
        managed = [option for option, _prop in PROPERTIES if option in net]
        before["networks"][net["name"]] = ({option: cur[option] for option in managed} if cur else None)
        if cur is None:
            if "subnets" not in net:
                raise Refused("subnets: network %s does not exist in %s; give its subnets to create it"
                              % (net["name"], dag))
            parameters = {"DatabaseAvailabilityGroup": dag, "Name": net["name"]}
            parameters.update({prop: net[option] for option, prop in PROPERTIES if option in net})
            commands.append(("New-DatabaseAvailabilityGroupNetwork", parameters, identity))
            drift.append("%s: missing (subnets %s)" % (identity, _shown(net["subnets"])))
            state[key] = {"name": net["name"], "subnets": [], "description": "", "replication_enabled": True,
                          "ignore_network": False, "mapi_access_enabled": False}
            network_commands += 1
        else:
            changes = {}
            for option, prop in PROPERTIES:
                if option in net and net[option] != cur[option]:
                    changes[prop] = net[option]
                    drift.append("%s: %s is %s, should be %s" % (identity, prop, _shown(cur[option]),
                                                                 _shown(net[option])))
            if changes:
                commands.append(("Set-DatabaseAvailabilityGroupNetwork", dict({"Identity": identity}, **changes),
                                 identity))
                network_commands += 1
        for option, _prop in PROPERTIES:
            if option in net:
                if option == "subnets":
                    for other_key, other in state.items():
                        if other_key != key:
                            other["subnets"] = [s for s in other["subnets"] if s not in net["subnets"]]
                state[key][option] = net[option]
    for net in networks:
        managed = [option for option, _prop in PROPERTIES if option in net]
        after["networks"][net["name"]] = {option: state[net["name"].lower()][option] for option in managed}
    blocked = None
    manual_after = after["manual_configuration"]
    if network_commands and not version_2010 and not manual_after:
        blocked = ("%s uses automatic DAG network configuration (ManualDagNetworkConfiguration false): "
                   "New-/Set-DatabaseAvailabilityGroupNetwork are disabled until it is true (runbooks §12.2); set "
                   "manual_configuration: true" % dag)
    return {"commands": commands, "drift": drift, "blocked": blocked, "before": before, "after": after}


def reason(dag: str, result: dict, check_mode: bool) -> str:
    commands = result["commands"]
    if not commands:
        return "compliant: the networks of %s are as declared" % dag
    created = sum(1 for cmd in commands if cmd[0].startswith("New-"))
    changed = sum(1 for cmd in commands if cmd[0] == "Set-DatabaseAvailabilityGroupNetwork")
    parts = []
    if any(cmd[0] == "Set-DatabaseAvailabilityGroup" for cmd in commands):
        parts.append("ManualDagNetworkConfiguration %s" % ("would change" if check_mode else "changed"))
    if created:
        parts.append("%d network%s to create" % (created, "" if created == 1 else "s"))
    if changed:
        parts.append("%d network%s to change" % (changed, "" if changed == 1 else "s"))
    text = "%s networks differ from the declaration: %s" % (dag, ", ".join(parts))
    if result["blocked"]:
        text += "; blocked: " + result["blocked"]
    return text


def read(client, dag: str) -> tuple:
    rows, errors = client.invoke("Get-DatabaseAvailabilityGroup", {"Identity": dag}, select=DAG_SELECT,
                                 errors="return")
    if any(e.error_id == NOT_FOUND for e in errors) or not rows:
        raise Refused("dag: no database availability group %s" % dag)
    if errors:
        raise errors[0]
    row = c.to_plain(rows[0])
    name = c.text(row.get("Name")) or dag
    manual = c.boolean(row.get("ManualDagNetworkConfiguration"))
    networks = client.invoke("Get-DatabaseAvailabilityGroupNetwork", {"Identity": name},
                             select=exchange.select("networks"))
    return name, manual, [current_network(exchange.normalise("networks", n)) for n in networks]


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        dag=dict(type="str", required=True),
        name=dict(type="str"),
        subnets=dict(type="list", elements="str"),
        description=dict(type="str"),
        replication_enabled=dict(type="bool"),
        ignore_network=dict(type="bool"),
        manual_configuration=dict(type="bool"),
        networks=dict(type="list", elements="dict", options=NETWORK_OPTIONS),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("name", "networks")],
                           required_one_of=[("name", "networks", "manual_configuration")],
                           required_by={"subnets": "name", "description": "name", "replication_enabled": "name",
                                        "ignore_network": "name"})
    params = module.params
    if not (params["dag"] or "").strip():
        module.fail_json(msg="dag must name a database availability group")
    try:
        networks = declared(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    client = None
    actions: list = []
    result: dict = {"changed": False, "drift": [], "reason": "", "actions": actions}
    try:
        client = Client.from_module(module)
        with client:
            dag, manual, existing = read(client, params["dag"].strip())
            version_2010 = params["exchange_version"] == "2010" or manual is None
            outcome = plan(dag, manual, version_2010, params["manual_configuration"], networks, existing)
            result.update(dag=dag, drift=outcome["drift"], reason=reason(dag, outcome, module.check_mode),
                          before=outcome["before"], after=outcome["after"])
            if outcome["blocked"] and not module.check_mode:
                raise Refused(outcome["blocked"])
            for cmdlet, parameters, target in outcome["commands"]:
                action = {"cmdlet": cmdlet, "target": target, "parameters": parameters,
                          "status": "planned" if module.check_mode else "sent"}
                actions.append(action)
                if module.check_mode:
                    continue
                try:
                    client.invoke(cmdlet, parameters)
                except ExchangeError:
                    action["status"] = "failed"
                    raise
                action["status"] = "done"
    except Refused as exc:
        result.update(reason=result["reason"] or exc.message, round_trips=len(client.calls) if client else 0)
        module.fail_json(msg=exc.message, **result)
    except ExchangeError as exc:
        result.update(exc.result())
        result.update(reason=result["reason"] or "Exchange refused: %s" % exc,
                      round_trips=len(client.calls) if client else 0)
        module.fail_json(msg=str(exc), **result)
    for warning in client.warnings:
        module.warn(warning)
    result.update(changed=bool(actions), round_trips=len(client.calls))
    if module._diff:
        result["diff"] = {"before": result["before"], "after": result["after"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
