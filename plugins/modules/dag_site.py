#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dag_site
short_description: Stop or start the DAG members of an Active Directory site (datacenter activation coordination)
version_added: 0.1.0
description:
  - Marks the members of a database availability group (DAG) in an Active Directory site, or the named members,
    as stopped (C(Stop-DatabaseAvailabilityGroup)) or started (C(Start-DatabaseAvailabilityGroup)), the first and
    last steps of a datacenter switchover in DAC mode (runbooks §5.2 steps 1-2, §5.5 step 1).
  - Idempotent by the DAG's C(StoppedMailboxServers) and C(StartedMailboxServers) as the domain controller of
    O(domain_controller) sees them. A datacenter switchover marks the primary members stopped twice, once in
    each datacenter's Active Directory, because the two may not replicate during the outage. When the second
    domain controller already lists them (Active Directory replicated), the second write is not needed and
    nothing is sent.
  - With O(state=started) (and O(reevaluate_quorum=true)) the module then sends C(Set-DatabaseAvailabilityGroup)
    with no other parameter, so the DAG re-evaluates its quorum model and stops using the alternate witness
    (runbooks §5.5 step 1). On a later run this is repeated only while no member is stopped and the alternate
    witness is still in use, which is how an interrupted failback is resumed. O(witness_server) and
    O(witness_directory) move the witness instead (runbooks §5.5 step 3a).
  - With O(state=started) and O(configuration_only=false) it waits until the started members that Exchange can
    reach are operational again (C(OperationalServers)).
options:
  active_directory_site:
    description:
      - Active Directory site whose DAG members are acted on (C(-ActiveDirectorySite)), as C(Get-ExchangeServer)
        reports the servers' C(Site).
      - Mutually exclusive with O(mailbox_servers); one of the two is required.
    type: str
  configuration_only:
    description:
      - Only update Active Directory (C(-ConfigurationOnly)); the servers themselves are not contacted.
      - Use it in the second datacenter while the primary is down (runbooks §5.2 step 2), or when the primary
        members are down but its Active Directory still works.
    type: bool
    default: false
  dag:
    description:
      - Name of the database availability group. Its C(DatacenterActivationMode) must be C(DagOnly).
    type: str
    required: true
  domain_controller:
    description:
      - Fully qualified name of the domain controller the DAG is read from and written to (C(-DomainController)).
      - Point it at a domain controller of the datacenter that must know the state, for example one in the
        surviving site during a switchover.
    type: str
  mailbox_servers:
    description:
      - DAG members to act on, one C(-MailboxServer) call each, for a DAG stretched over one Active Directory site.
      - Mutually exclusive with O(active_directory_site).
    type: list
    elements: str
  reevaluate_quorum:
    description:
      - With O(state=started), send C(Set-DatabaseAvailabilityGroup -Identity <dag>) with no other parameter after
        members were started (runbooks §5.5 step 1).
    type: bool
    default: true
  state:
    description:
      - V(stopped) marks the members stopped. Without O(configuration_only), Active Manager on each member that
        can be contacted is stopped too, so its databases dismount and it mounts none. Members that cannot be
        contacted are marked in Active Directory only, with a warning from Exchange.
      - V(started) removes them from C(StoppedMailboxServers), adds them to C(StartedMailboxServers) and, without
        O(configuration_only), joins them to the DAG's cluster again.
    type: str
    choices: [stopped, started]
    required: true
  witness_directory:
    description:
      - With O(state=started), the witness directory on O(witness_server).
    type: str
  witness_server:
    description:
      - With O(state=started), the file share witness the DAG must use (runbooks §5.5 step 3a), when it differs
        from the current one. Compared by host name. Sent with O(witness_directory) in one
        C(Set-DatabaseAvailabilityGroup), which also re-evaluates the quorum model.
    type: str
extends_documentation_fragment:
  - exchange.dr.connection
  - exchange.dr.switchover.wait
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the DAG and returns the cmdlets it would send (RV(actions), status V(planned)) and the predicted
        RV(after) lists. Nothing is written and nothing is waited for.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: C(StoppedMailboxServers), C(StartedMailboxServers) and the witness in use before and after.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Calls C(Get-ExchangeServer), C(Get-MailboxServer), C(Get-DatabaseAvailabilityGroup -Status),
    C(Get-MailboxDatabaseCopyStatus) (to tell the members Exchange cannot reach), then
    C(Stop-DatabaseAvailabilityGroup) or C(Start-DatabaseAvailabilityGroup) with C(-Confirm:$false) (both have a
    built-in confirmation pause) and C(Set-DatabaseAvailabilityGroup).
  - Needs the Database Availability Groups management role (Organization Management has it); check mode only
    reads.
  - Review the warnings Exchange writes (returned as task warnings); runbooks §5.2 step 6.
seealso:
  - module: exchange.dr.dag_restore
  - module: exchange.dr.site_activation
  - name: Datacenter switchovers
    description: Microsoft's procedure this module automates the first and last steps of.
    link: https://learn.microsoft.com/exchange/high-availability/manage-ha/datacenter-switchovers
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
# Runbooks §5.2 steps 1-2: terminate the primary datacenter DC1.
- name: Terminate the primary datacenter
  module_defaults:
    group/exchange.dr.exchange:
      server: ex03.contoso.com
      username: admin@CONTOSO.COM
      password: "{{ vault_exchange_password }}"
      auth: kerberos
  block:
    - name: Stop the DC1 members where they can be reached (Active Manager stopped)
      exchange.dr.dag_site:
        dag: DAG1
        active_directory_site: DC1
        state: stopped
        domain_controller: dc01.contoso.com

    - name: Mark them stopped in the Active Directory of the second datacenter as well
      exchange.dr.dag_site:
        dag: DAG1
        active_directory_site: DC1
        state: stopped
        configuration_only: true
        domain_controller: dc02.contoso.com

# Runbooks §5.5 steps 1 and 3a: start the DC1 members again, wait until they are operational, and put the
# witness back.
- name: Re-incorporate the primary members
  exchange.dr.dag_site:
    server: ex03.contoso.com
    dag: DAG1
    active_directory_site: DC1
    state: started
    witness_server: fs01.contoso.com
    witness_directory: C:\DAGFileShareWitnesses\DAG1.contoso.com
    timeout: 600
    poll_interval: 10
  register: started

# A DAG stretched over one AD site: name the members; only the AD objects are updated and the bare
# Set-DatabaseAvailabilityGroup is not sent.
- name: Mark EX01 and EX02 started in Active Directory only
  exchange.dr.dag_site:
    server: ex03.contoso.com
    dag: DAG1
    mailbox_servers: [EX01, EX02]
    state: started
    configuration_only: true
    reevaluate_quorum: false

# Drift report: would anything be stopped?
- name: Check whether DC1 is already marked stopped
  exchange.dr.dag_site:
    server: ex03.contoso.com
    dag: DAG1
    active_directory_site: DC1
    state: stopped
    configuration_only: true
  check_mode: true
  register: drift
"""

RETURN = r"""
dag:
  description: Name of the DAG.
  returned: always
  type: str
  sample: DAG1
targets:
  description: The DAG members acted on (those of O(active_directory_site) or O(mailbox_servers)).
  returned: success
  type: list
  elements: str
  sample: [EX01, EX02]
pending:
  description: The targets that were not yet in the requested state (the ones the cmdlet was for).
  returned: success
  type: list
  elements: str
  sample: [EX01, EX02]
unreachable_servers:
  description: Targets Exchange cannot reach (not operational, every copy C(ServiceDown)); only Active Directory
    is updated for them and they are not waited for.
  returned: success
  type: list
  elements: str
  sample: [EX01, EX02]
before:
  description: The DAG's C(StoppedMailboxServers), C(StartedMailboxServers), C(OperationalServers), witness and
    witness in use before the task.
  returned: success
  type: dict
  sample:
    stopped_mailbox_servers: []
    started_mailbox_servers: [EX01, EX02, EX03, EX04]
    operational_servers: [EX03, EX04]
    witness_server: FS01.contoso.com
    witness_share_in_use: Primary
after:
  description: The same after the task; in check mode the predicted values.
  returned: success
  type: dict
  sample:
    stopped_mailbox_servers: [EX01, EX02]
    started_mailbox_servers: [EX03, EX04]
    operational_servers: [EX03, EX04]
    witness_server: FS01.contoso.com
    witness_share_in_use: Primary
actions:
  description: The state-changing cmdlets in order, with their parameters and V(done), V(failed) or, in check
    mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - cmdlet: Stop-DatabaseAvailabilityGroup
      target: DC1
      parameters: {Identity: DAG1, ActiveDirectorySite: DC1, ConfigurationOnly: null, DomainController: dc02.contoso.com,
                   Confirm: false}
      status: done
progress:
  description: Progress lines with the seconds since the start (also written to the module log).
  returned: always
  type: list
  elements: str
  sample: ["[0.2s] Stop-DatabaseAvailabilityGroup DC1"]
polls:
  description: Number of state reads while waiting.
  returned: always
  type: int
  sample: 0
elapsed:
  description: Seconds the task took, including opening the session.
  returned: always
  type: float
  sample: 1.2
round_trips:
  description: Number of cmdlet invocations sent to Exchange.
  returned: always
  type: int
  sample: 6
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import dac
from ansible_collections.exchange.dr.plugins.module_utils import database as db
from ansible_collections.exchange.dr.plugins.module_utils import datacenter as dc
from ansible_collections.exchange.dr.plugins.module_utils import exchange

KEYS = ("stopped_mailbox_servers", "started_mailbox_servers", "operational_servers", "witness_server",
        "witness_share_in_use")


def view(dag: dict) -> dict:
    return {key: dag.get(key) for key in KEYS}


def predict(dag: dict, plan: dict, params: dict, targets: list, reevaluate: bool, witness: dict) -> dict:
    after = view(dag)
    after.update(plan["after"])
    operational = list(dag.get("operational_servers") or [])
    if params["state"] == "stopped":
        after["operational_servers"] = dc.without(operational, targets)
    elif not params["configuration_only"]:
        after["operational_servers"] = dc.union(operational, targets)
    if witness.get("WitnessServer"):
        after["witness_server"] = witness["WitnessServer"]
    if reevaluate or witness:
        after["witness_share_in_use"] = dc.expected_witness(len(dag.get("servers") or []), True)
    return after


def body(run):
    params = run.module.params
    client = run.client
    controller = params["domain_controller"]
    servers = exchange.read_servers(client)
    dag = dac.read_dag(client, params["dag"], controller)
    dac.require_dac(dag)
    targets = dc.resolve_members(dag, servers, params["active_directory_site"], params["mailbox_servers"])
    plan = dc.site_state_plan(dag, targets, params["state"])
    copies = exchange.read_copies(client)
    unreachable = dc.unreachable_servers(targets, copies, dag.get("operational_servers"))

    if plan["changed"]:
        if params["active_directory_site"]:
            dac.site_cmdlet(run, params["state"], dag["name"], params["active_directory_site"], None,
                            params["configuration_only"], controller)
        else:
            for server in plan["pending"]:
                dac.site_cmdlet(run, params["state"], dag["name"], None, server, params["configuration_only"],
                                controller)

    witness, reevaluate = {}, False
    if params["state"] == "started":
        witness = dc.witness_changes(dag, params["witness_server"], params["witness_directory"])
        if witness:
            dac.set_dag(run, dag["name"], controller, **witness)
        elif params["reevaluate_quorum"] and (plan["changed"] or dc.needs_quorum_reevaluation(dag)):
            reevaluate = True
            dac.set_dag(run, dag["name"], controller)

    waited = [t for t in targets if not dc.among(t, unreachable)]
    if run.check_mode:
        after = predict(dag, plan, params, targets, reevaluate, witness)
    else:
        if params["state"] == "started" and not params["configuration_only"] and plan["changed"] and waited:
            def operational():
                current = dac.read_dag(client, dag["name"], controller)
                missing = [t for t in waited if not dc.among(t, current.get("operational_servers"))]
                detail = "operational: %s" % (", ".join(current.get("operational_servers") or []) or "none")
                return not missing, detail, current
            run.wait(operational, "%s operational in DAG %s" % (", ".join(waited), dag["name"]))
        after = view(dac.read_dag(client, dag["name"], controller)) if run.actions else view(dag)

    before = view(dag)
    changed = bool(run.actions)
    result = run.finish(changed=changed, dag=dag["name"], targets=targets, pending=plan["pending"],
                        unreachable_servers=unreachable, before=before, after=after)
    if run.module._diff:
        result["diff"] = {"before": before, "after": after}
    return result


def main():
    argument_spec = db.argument_spec(dict(
        dag=dict(type="str", required=True),
        state=dict(type="str", required=True, choices=list(dc.SITE_STATES)),
        active_directory_site=dict(type="str"),
        mailbox_servers=dict(type="list", elements="str"),
        configuration_only=dict(type="bool", default=False),
        domain_controller=dict(type="str"),
        reevaluate_quorum=dict(type="bool", default=True),
        witness_server=dict(type="str"),
        witness_directory=dict(type="str"),
    ))
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("active_directory_site", "mailbox_servers")],
        required_one_of=[("active_directory_site", "mailbox_servers")],
        required_by={"witness_directory": "witness_server"},
    )
    for option in ("witness_server", "witness_directory"):
        if module.params[option] and module.params["state"] != "started":
            module.fail_json(msg="%s is only used with state=started (the witness goes back on failback)" % option)
    if module.params["mailbox_servers"] is not None and not module.params["mailbox_servers"]:
        module.fail_json(msg="mailbox_servers must name at least one DAG member")
    dac.execute(module, body)


if __name__ == "__main__":
    main()
