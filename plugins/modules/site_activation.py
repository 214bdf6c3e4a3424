#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: site_activation
short_description: Databases of a DAG ready, dismounted or active in an Active Directory site, and its servers' activation policy
version_added: 0.1.0
description:
  - The database steps of a datacenter failback (runbooks §5.5) and the activation policy of a site's DAG members
    (runbooks §5.2 step 5, §5.5 step 5, §6.2).
  - O(state=ready) makes the copies in the site of the databases ready for activation (runbooks §5.5 step 2). It
    reseeds the failed ones when O(reseed=true) (C(Update-MailboxDatabaseCopy), runbooks §6.1) and waits until
    each database's best copy there passes the planned-activation gate (Healthy, copy queue below 10, replay queue
    below 50, not lagged).
  - O(state=dismounted) dismounts the databases active in the site (runbooks §5.5 step 3b). Do this before the
    client namespace moves back (M(exchange.dr.dns_record)).
  - O(state=active) makes the databases active and mounted in the site (runbooks §5.5 steps 3d-3e).
    C(Move-ActiveMailboxDatabase -ActivateOnServer) names the highest-preference copy in the site that passes the
    gate (an explicit target, allowed on a Blocked server), and C(Mount-Database) mounts a database that stays
    dismounted after the move.
  - O(auto_activation_policy) sets C(DatabaseCopyAutoActivationPolicy) on the site's DAG members (or
    O(mailbox_servers)); use V(Blocked) to re-apply the activation blocks of disaster-recovery servers.
  - Idempotent by each database's active server and mount state, the copies' status and the servers' policy.
options:
  active_directory_site:
    description:
      - The Active Directory site, as C(Get-ExchangeServer) reports the servers' C(Site).
    type: str
    required: true
  allow_data_loss:
    description:
      - With O(state=active), accept activating a copy that misses logs when the active copy does not answer (it is
        C(ServiceDown)). The move then uses C(-MountDialOverride BestEffort) and C(-SkipLagChecks).
    type: bool
    default: false
  auto_activation_policy:
    description:
      - C(DatabaseCopyAutoActivationPolicy) to set on the site's DAG members (or O(mailbox_servers)). It is applied
        after the O(state) step.
    type: str
    choices: [Blocked, IntrasiteOnly, Unrestricted]
  dag:
    description:
      - Name of the database availability group.
    type: str
    required: true
  databases:
    description:
      - The databases to act on.
      - The default for V(ready) and V(active) is the databases whose activation-preference-1 copy is in the site
        (their home site). For V(dismounted) it is the databases active in the site whose activation-preference-1
        copy is elsewhere (the guests a failback sends home).
    type: list
    elements: str
  mailbox_servers:
    description:
      - With O(auto_activation_policy), the servers to set it on instead of every DAG member of the site.
    type: list
    elements: str
  reseed:
    description:
      - With O(state=ready), reseed a copy in the site that is C(FailedAndSuspended). The copy is suspended if
        needed, then C(Update-MailboxDatabaseCopy -DeleteExistingFiles) seeds it from the active copy.
      - Without it such a database fails the task.
    type: bool
    default: false
  state:
    description:
      - V(ready), V(dismounted) or V(active), as described above. When unset, only O(auto_activation_policy) is
        applied.
    type: str
    choices: [ready, dismounted, active]
extends_documentation_fragment:
  - exchange.dr.connection
  - exchange.dr.switchover.wait
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Returns the plan (RV(databases)), the cmdlets it would send (RV(actions), status V(planned)) and the
        predicted RV(after) state. Nothing is written or waited for.
      - With O(state=active) the gate is not applied in check mode, because the steps before (members started,
        copies caught up) have not run. A database that could not be activated is reported as a warning.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Where each database is active, whether it is mounted, and the servers' activation policy.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Calls C(Get-ExchangeServer), C(Get-MailboxServer), C(Get-DatabaseAvailabilityGroup -Status),
    C(Get-MailboxDatabase -Status) and C(Get-MailboxDatabaseCopyStatus). Writes with
    C(Suspend-MailboxDatabaseCopy), C(Update-MailboxDatabaseCopy), C(Dismount-Database), C(Move-ActiveMailboxDatabase)
    and C(Mount-Database) (with C(-Confirm:$false) where Exchange would ask), and C(Set-MailboxServer).
  - Needs the Database Copies and Mailbox Servers management roles (Organization Management).
  - Runbooks §5.5 3c requires the client namespace to have moved and its TTL to have passed between
    O(state=dismounted) and O(state=active).
seealso:
  - module: exchange.dr.dag_site
  - module: exchange.dr.dag_restore
  - module: exchange.dr.dns_record
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
# Runbooks §5.5: switch back to DC1 (after exchange.dr.dag_site state=started).
- name: Switch back the databases of DC1
  module_defaults:
    group/exchange.dr.exchange:
      server: ex03.contoso.com
      username: admin@CONTOSO.COM
      password: "{{ vault_exchange_password }}"
      auth: kerberos
  block:
    - name: Copies in DC1 caught up (reseeded where needed)
      exchange.dr.site_activation:
        dag: DAG1
        active_directory_site: DC1
        state: ready
        reseed: true
        timeout: 3600
        poll_interval: 30

    - name: Dismount them in DC2
      exchange.dr.site_activation:
        dag: DAG1
        active_directory_site: DC2
        state: dismounted
        databases: [DB01, DB02]

    # ... move the namespace back with exchange.dr.dns_record and wait for its TTL ...

    - name: Activate and mount them in DC1
      exchange.dr.site_activation:
        dag: DAG1
        active_directory_site: DC1
        state: active
        databases: [DB01, DB02]

    - name: Re-apply the activation block of the DR servers
      exchange.dr.site_activation:
        dag: DAG1
        active_directory_site: DC2
        auto_activation_policy: Blocked
        mailbox_servers: [EX03, EX04]

# Activate a copy that misses logs (the primary is gone for good).
- name: Activate DB08 in DC2 accepting a loss
  exchange.dr.site_activation:
    server: ex03.contoso.com
    dag: DAG1
    active_directory_site: DC2
    state: active
    databases: [DB08]
    allow_data_loss: true
"""

RETURN = r"""
dag:
  description: Name of the DAG.
  returned: always
  type: str
  sample: DAG1
site_servers:
  description: The DAG members in the site.
  returned: success
  type: list
  elements: str
  sample: [EX01, EX02]
databases:
  description:
    - The plan, one entry per database. With O(state=ready) each entry has C(server) (the copy waited for),
      C(status), C(action) (V(ready), V(wait), V(reseed), V(blocked)) and C(reasons).
    - With O(state=active) each entry has C(from), C(to), C(action) (V(none), V(mount), V(move), V(blocked)),
      C(logs_at_risk), C(logs_lost) and C(reason). With O(state=dismounted) it has C(database) and C(action)
      (V(dismount) or V(none)).
  returned: when O(state) is set
  type: list
  elements: dict
  sample:
    - {database: DB01, from: EX03, to: EX01, action: move, logs_at_risk: 0, logs_lost: 0, reason: null, mount_dial: null}
policies:
  description: The servers whose C(DatabaseCopyAutoActivationPolicy) was (or would be) changed.
  returned: when O(auto_activation_policy) is set
  type: list
  elements: dict
  sample: [{server: EX03, before: Unrestricted, after: Blocked}]
before:
  description: Where the databases were active (C(server), C(mounted)) and the policy of the site's servers before.
  returned: success
  type: dict
  sample: {databases: {DB01: {server: EX03, mounted: true}}, policies: {EX01: Unrestricted, EX02: Unrestricted}}
after:
  description: The same after the task; in check mode the predicted values.
  returned: success
  type: dict
  sample: {databases: {DB01: {server: EX01, mounted: true}}, policies: {EX01: Unrestricted, EX02: Unrestricted}}
logs_lost:
  description: Logs lost by the moves (sum of C(NumberOfLogsLost)).
  returned: success
  type: int
  sample: 0
actions:
  description: The state-changing cmdlets in order, with their parameters and V(done), V(failed) or, in check
    mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - {cmdlet: Move-ActiveMailboxDatabase, target: DB01, parameters: {Identity: DB01, ActivateOnServer: EX01,
       Confirm: false}, status: done}
progress:
  description: Progress lines with the seconds since the start (also written to the module log).
  returned: always
  type: list
  elements: str
  sample: ["[0.3s] copies ready in DC1: waiting DB01 (EX01 Initializing) (poll 1, 0.1 s)"]
polls:
  description: Number of state reads while waiting.
  returned: always
  type: int
  sample: 2
elapsed:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 3.4
round_trips:
  description: Number of cmdlet invocations sent to Exchange.
  returned: always
  type: int
  sample: 9
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import dac
from ansible_collections.exchange.dr.plugins.module_utils import database as db
from ansible_collections.exchange.dr.plugins.module_utils import datacenter as dc
from ansible_collections.exchange.dr.plugins.module_utils import exchange


def policies(servers: list, names: list) -> dict:
    rows = {dc.short(s.get("name")): s for s in servers}
    return {n: (rows.get(dc.short(n)) or {}).get("database_copy_auto_activation_policy") for n in names}


def default_names(state: str, databases: list, site_servers: list) -> list:
    home = dc.home_databases(databases, site_servers)
    if state == "dismounted":
        return [row["name"] for row in databases if dc.among(row.get("server"), site_servers)
                and row["name"] not in home]
    return home


def ready(run, params, name, site_servers, names, databases, copies):
    client = run.client
    plan = dc.readiness_plan(databases, copies, site_servers, names, name, reseed=params["reseed"])
    for entry in plan:
        if entry["action"] == "reseed":
            dac.reseed(run, entry["database"], entry["server"], entry["status"])
    blocked = [e for e in plan if e["action"] == "blocked"]
    if blocked:
        raise db.TaskFailed("%d database(s) cannot be made ready in %s: %s" % (
            len(blocked), params["active_directory_site"],
            "; ".join("%s: %s" % (e["database"], ", ".join(e["reasons"])) for e in blocked)))
    if run.check_mode or all(e["action"] == "ready" for e in plan):
        return plan, databases

    def check():
        rows, current_copies = dac.read_databases(client, name)
        current = dc.readiness_plan(rows, current_copies, site_servers, names, name, reseed=False)
        waiting = [e for e in current if e["action"] != "ready"]
        detail = ", ".join("%s (%s %s)" % (e["database"], e["server"], e["status"]) for e in waiting) or "all ready"
        return not waiting, detail, (current, rows)
    found = run.wait(check, "copies ready in %s" % params["active_directory_site"])
    return found.value


def active(run, params, name, site_servers, names, databases, copies, dag):
    eligible = site_servers if run.check_mode else [s for s in site_servers
                                                    if dc.among(s, dag.get("operational_servers"))]
    plan = dc.activation_plan(databases, copies, site_servers, names=names, dag=name, order="preference",
                              eligible=eligible, allow_data_loss=params["allow_data_loss"], gate=not run.check_mode)
    lost, failures = 0, []
    for entry in plan:
        entry["logs_lost"] = None
        if entry["action"] == "blocked":
            if run.check_mode:
                run.module.warn("%s (check mode: an earlier step may fix it)" % entry["reason"])
            else:
                failures.append(entry["reason"])
        elif entry["action"] == "mount":
            dac.mount(run, entry["database"])
        elif entry["action"] == "move":
            outcome = dac.move(run, dc.move_parameters(entry))
            if outcome is None:
                entry["logs_lost"] = entry["logs_at_risk"]
                continue
            entry["logs_lost"] = outcome["logs_lost"]
            lost += outcome["logs_lost"] or 0
            if not outcome["mounted"]:
                dac.mount(run, entry["database"])
    return plan, lost, failures


def body(run):
    params = run.module.params
    client = run.client
    site = params["active_directory_site"]
    servers = exchange.read_servers(client)
    dag = dac.read_dag(client, params["dag"])
    name = dag["name"]
    site_servers = dc.resolve_members(dag, servers, site)
    databases, copies = dac.read_databases(client, name)
    state = params["state"]
    names = params["databases"]
    if state and names is None:
        names = default_names(state, databases, site_servers)
    policy_targets = site_servers
    if params["mailbox_servers"]:
        policy_targets = dc.resolve_members(dag, servers, mailbox_servers=params["mailbox_servers"])
    before = {"databases": {k: v for k, v in dc.placement(databases).items() if names and k in names},
              "policies": policies(servers, policy_targets) if params["auto_activation_policy"] else {}}
    result_plan, lost, failures = None, 0, []
    predicted = dc.placement(databases)

    if state == "ready":
        result_plan, databases = ready(run, params, name, site_servers, names, databases, copies)
    elif state == "dismounted":
        chosen = dc.dismount_plan(databases, site_servers, names, name)
        result_plan = [{"database": n, "action": "dismount" if n in chosen else "none"} for n in names]
        for database in chosen:
            dac.dismount(run, database)
            predicted[database] = {"server": predicted[database]["server"], "mounted": False}
    elif state == "active":
        result_plan, lost, failures = active(run, params, name, site_servers, names, databases, copies, dag)
        predicted = dc.predict_placement(databases, result_plan)

    changes = []
    if params["auto_activation_policy"]:
        changes = dc.policy_plan(servers, policy_targets, params["auto_activation_policy"])
        for change in changes:
            dac.set_activation_policy(run, change["server"], change["after"])

    if run.check_mode:
        after_policies = dict(before["policies"])
        after_policies.update({c["server"]: c["after"] for c in changes})
        after = {"databases": {k: v for k, v in predicted.items() if k in before["databases"]}, "policies": after_policies}
    elif run.actions:
        current_servers = exchange.read_servers(client) if changes else servers
        current, _copies = dac.read_databases(client, name, copies=False) if state in ("dismounted", "active") else (databases, None)
        after = {"databases": {k: v for k, v in dc.placement(current).items() if k in before["databases"]},
                 "policies": policies(current_servers, policy_targets) if params["auto_activation_policy"] else {}}
    else:
        after = before
    result = run.finish(changed=bool(run.actions), dag=name, site_servers=site_servers, before=before, after=after,
                        logs_lost=lost)
    if result_plan is not None:
        result["databases"] = result_plan
    if params["auto_activation_policy"]:
        result["policies"] = changes
    if run.module._diff:
        result["diff"] = {"before": before, "after": after}
    if failures:
        raise db.TaskFailed("%d database(s) could not be activated in %s: %s"
                            % (len(failures), site, "; ".join(failures)))
    return result


def main():
    argument_spec = db.argument_spec(dict(
        dag=dict(type="str", required=True),
        active_directory_site=dict(type="str", required=True),
        state=dict(type="str", choices=["ready", "dismounted", "active"]),
        databases=dict(type="list", elements="str"),
        reseed=dict(type="bool", default=False),
        allow_data_loss=dict(type="bool", default=False),
        auto_activation_policy=dict(type="str", choices=list(dc.ACTIVATION_POLICIES)),
        mailbox_servers=dict(type="list", elements="str"),
    ))
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[("state", "auto_activation_policy")],
        required_by={"mailbox_servers": "auto_activation_policy"},
    )
    dac.execute(module, body)


if __name__ == "__main__":
    main()
