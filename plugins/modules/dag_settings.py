#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dag_settings
short_description: Datacenter activation mode and witnesses of a database availability group
version_added: 0.1.0
description:
  - Keeps the site-resilience settings of a database availability group (Exchange 2010 and later) as declared -
    C(DatacenterActivationMode) (runbooks §5.1 - V(DagOnly) is what makes the datacenter switchover cmdlets and
    their split-brain protection work), the alternate witness used by C(Restore-DatabaseAvailabilityGroup) in the
    second datacenter, and optionally the witness itself.
  - Reads the DAG with one C(Get-DatabaseAvailabilityGroup) call and sends one C(Set-DatabaseAvailabilityGroup)
    with only the settings that differ.
  - Only the options given are managed. Witness servers compare by short name, case-insensitive
    (Exchange shows V(FS02.contoso.com) for V(FS02)); directories compare case-insensitive.
  - Idempotent by the DAG's current settings.
options:
  alternate_witness_directory:
    description:
      - C(AlternateWitnessDirectory), the folder of the alternate witness share.
    type: str
  alternate_witness_server:
    description:
      - C(AlternateWitnessServer), the witness of the second datacenter. It must not be a DAG member.
    type: str
  dag:
    description:
      - Name of the database availability group.
    type: str
    required: true
  datacenter_activation_mode:
    description:
      - C(DatacenterActivationMode). V(DagOnly) for every DAG with members in two or more datacenters
        (runbooks §5.1).
    type: str
    choices: [DagOnly, "Off"]
  witness_directory:
    description:
      - C(WitnessDirectory), the folder of the witness share.
    type: str
  witness_server:
    description:
      - C(WitnessServer), the witness of the primary datacenter. It must not be a DAG member.
    type: str
extends_documentation_fragment:
  - exchange.dr.connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the DAG and returns the drift (RV(drift)), the C(Set-DatabaseAvailabilityGroup) it would send
        (RV(actions), status V(planned)) and the predicted RV(after). Nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The managed settings before and after.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Calls C(Get-DatabaseAvailabilityGroup -Identity) and C(Set-DatabaseAvailabilityGroup). Needs the Database
    Availability Groups management role (Organization Management) to change; View-Only Organization Management is
    enough for a check-mode drift report.
  - Exchange 2007 has no DAG; use M(exchange.dr.cno_permission) and M(exchange.dr.replication_hostname) there.
seealso:
  - module: exchange.dr.dag_restore
  - module: exchange.dr.dag_site
  - name: Set-DatabaseAvailabilityGroup
    description: The cmdlet reference.
    link: https://learn.microsoft.com/powershell/module/exchangepowershell/set-databaseavailabilitygroup
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
- name: DAC mode and the alternate witness of DAG1
  exchange.dr.dag_settings:
    server: ex01.contoso.com
    username: admin@CONTOSO.COM
    password: "{{ vault_exchange_password }}"
    auth: kerberos
    dag: DAG1
    datacenter_activation_mode: DagOnly
    alternate_witness_server: FS02
    alternate_witness_directory: C:\DAGFileShareWitnesses\DAG1.contoso.com

- name: Move the witness to another file server of the primary datacenter
  module_defaults:
    group/exchange.dr.exchange:
      server: ex01.contoso.com
      auth: kerberos
  exchange.dr.dag_settings:
    dag: DAG1
    witness_server: FS03
    witness_directory: C:\DAGFileShareWitnesses\DAG1.contoso.com

# Drift report: what would change, nothing written.
- name: Is DAG1 still in DAC mode?
  exchange.dr.dag_settings:
    server: ex01.contoso.com
    dag: DAG1
    datacenter_activation_mode: DagOnly
  check_mode: true
  register: dag1_drift
"""

RETURN = r"""
dag:
  description: Name of the DAG.
  returned: success
  type: str
  sample: DAG1
drift:
  description: One line per managed setting out of compliance, in the operator's terms; empty when compliant.
  returned: always
  type: list
  elements: str
  sample: ["DAG1: DatacenterActivationMode is Off, should be DagOnly"]
reason:
  description: Why a change was (or in check mode would be) needed, or V(compliant ...) when none was.
  returned: always
  type: str
  sample: "DAG1 differs in DatacenterActivationMode: Set-DatabaseAvailabilityGroup sets it (runbooks §5.1)"
before:
  description: The managed settings before the task (only the options given).
  returned: success
  type: dict
  sample: {datacenter_activation_mode: "Off", alternate_witness_server: FS02.contoso.com}
after:
  description: The same after the task; in check mode the predicted values.
  returned: success
  type: dict
  sample: {datacenter_activation_mode: DagOnly, alternate_witness_server: FS02.contoso.com}
actions:
  description: The state-changing cmdlet with its parameters and V(done), V(failed) or, in check mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - {cmdlet: Set-DatabaseAvailabilityGroup, target: DAG1, parameters: {Identity: DAG1, DatacenterActivationMode: DagOnly},
       status: done}
round_trips:
  description: Number of cmdlet invocations sent to Exchange.
  returned: always
  type: int
  sample: 2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import exchange
from ansible_collections.exchange.dr.plugins.module_utils.datacenter import same
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client, ExchangeError, connection_argument_spec

NOT_FOUND = "ManagementObjectNotFoundException"

# option -> (DAG property as Exchange names it, comparer)
SETTINGS = (
    ("datacenter_activation_mode", "DatacenterActivationMode", "enum"),
    ("witness_server", "WitnessServer", "server"),
    ("witness_directory", "WitnessDirectory", "path"),
    ("alternate_witness_server", "AlternateWitnessServer", "server"),
    ("alternate_witness_directory", "AlternateWitnessDirectory", "path"),
)


def equal(kind: str, current, wanted) -> bool:
    if kind == "server":
        return same(current, wanted) if current and wanted else not current and not wanted
    return (current or "").lower() == (wanted or "").lower()


def plan(dag: dict, params: dict) -> tuple:
    """(before, after, parameters to send, drift lines) for the options given."""
    before, after, send, drift = {}, {}, {}, []
    for option, prop, kind in SETTINGS:
        wanted = params.get(option)
        if wanted is None:
            continue
        current = dag.get(option)
        before[option] = current
        after[option] = current
        if not equal(kind, current, wanted):
            send[prop] = wanted
            after[option] = wanted
            drift.append("%s: %s is %s, should be %s" % (dag["name"], prop, current or "not set", wanted))
    return before, after, send, drift


def reason(name: str, send: dict, check_mode: bool) -> str:
    if not send:
        return "compliant: %s already has the declared DAC mode and witnesses" % name
    why = []
    if "DatacenterActivationMode" in send:
        why.append("DatacenterActivationMode DagOnly is what protects a DAG spread over datacenters from split brain "
                   "and enables Stop-/Restore-/Start-DatabaseAvailabilityGroup (runbooks §5.1)"
                   if send["DatacenterActivationMode"] == "DagOnly" else "DAC mode is declared Off")
    if any(p.startswith("Alternate") for p in send):
        why.append("the alternate witness is what Restore-DatabaseAvailabilityGroup uses in the second datacenter")
    if any(p.startswith("Witness") for p in send):
        why.append("the declared witness differs")
    return "%s differs in %s: %s %s; %s" % (name, ", ".join(send), "Set-DatabaseAvailabilityGroup",
                                            "would set it" if check_mode else "set it", "; ".join(why))


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        dag=dict(type="str", required=True),
        datacenter_activation_mode=dict(type="str", choices=["DagOnly", "Off"]),
        witness_server=dict(type="str"),
        witness_directory=dict(type="str"),
        alternate_witness_server=dict(type="str"),
        alternate_witness_directory=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[[option for option, _prop, _kind in SETTINGS]])
    params = module.params
    if not (params["dag"] or "").strip():
        module.fail_json(msg="dag must name a database availability group")
    for option, _prop, _kind in SETTINGS:
        if params[option] is not None and not params[option].strip():
            module.fail_json(msg="%s must not be empty: leave it out to keep the DAG's setting" % option)

    client = None
    actions: list = []
    try:
        client = Client.from_module(module)
        with client:
            rows, errors = client.invoke("Get-DatabaseAvailabilityGroup", {"Identity": params["dag"]},
                                         select=exchange.select("dags"), errors="return")
            if any(e.error_id == NOT_FOUND for e in errors) or not rows:
                module.fail_json(msg="dag: no database availability group %s" % params["dag"], changed=False,
                                 drift=[], reason="the DAG was not found", actions=[], round_trips=len(client.calls))
            if errors:
                raise errors[0]
            dag = exchange.normalise("dags", rows[0])
            before, after, send, drift = plan(dag, params)
            if send:
                parameters = dict(Identity=dag["name"], **send)
                action = {"cmdlet": "Set-DatabaseAvailabilityGroup", "target": dag["name"], "parameters": parameters,
                          "status": "planned" if module.check_mode else "sent"}
                actions.append(action)
                if not module.check_mode:
                    try:
                        client.invoke("Set-DatabaseAvailabilityGroup", parameters)
                    except ExchangeError:
                        action["status"] = "failed"
                        raise
                    action["status"] = "done"
                    rows = client.invoke("Get-DatabaseAvailabilityGroup", {"Identity": dag["name"]},
                                         select=exchange.select("dags"))
                    current = exchange.normalise("dags", rows[0])
                    after = {option: current.get(option) for option in before}
    except ExchangeError as exc:
        module.fail_json(msg=str(exc), changed=False, drift=[], reason="Exchange refused: %s" % exc, actions=actions,
                         round_trips=len(client.calls) if client else 0, **exc.result())
    for warning in client.warnings:
        module.warn(warning)
    result = dict(changed=bool(send), dag=dag["name"], drift=drift, reason=reason(dag["name"], send, module.check_mode),
                  before=before, after=after, actions=actions, round_trips=len(client.calls))
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
