#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: database_switchover
short_description: Make a mailbox database active on a server, health-gated, and wait until it is mounted
version_added: 0.1.0
description:
  - Makes a replicated mailbox database of a database availability group (Exchange 2010 or later) active on
    O(target_server), or on the best passive copy by Active Manager's criteria when no target is named, with
    C(Move-ActiveMailboxDatabase), then waits until it is mounted there.
  - Before the move the target must pass the collection's health gate (see the notes); a target that fails it,
    a target without a copy, or a move that could lose logs without O(allow_data_loss=true) fails the task
    before anything is changed.
  - Idempotent. A database already active on the target and mounted is left alone; active there but
    dismounted, it is only mounted (C(Mount-Database)); active there and mounting, it is waited on.
  - Reads the state with one call per kind of object. C(Get-MailboxDatabase) and
    C(Get-MailboxDatabaseCopyStatus -Identity) for the database; C(Get-ExchangeServer),
    C(Get-MailboxServer) and C(Get-DatabaseAvailabilityGroup -Status) before a move; and
    C(Get-ServerComponentState) per candidate server (Exchange 2013 or later).
options:
  database:
    description:
      - Name of the mailbox database. Wildcards are refused.
    type: str
    required: true
  target_server:
    description:
      - Mailbox server to activate the database on. It must hold a copy of the database.
      - An explicit target may be a server whose C(DatabaseCopyAutoActivationPolicy) is C(Blocked) (what a
        datacenter switchover does).
      - When unset, the module ranks the passive copies as Active Manager does (activation preference for a
        lossless move, else copy queue then preference, then the ten criteria sets). Copies blocked from
        automatic activation, lagged or activation-suspended copies are left out. The first copy that passes
        the gate becomes the target, and the move names it explicitly, so the result is the one check mode
        predicts.
      - Mutually exclusive with O(from_server).
    type: str
  from_server:
    description:
      - Move the database off this server to the best passive copy (as with O(target_server) unset), but only
        when it is active here. When it is active elsewhere nothing is done, so the task is idempotent.
      - Without O(target_server) and O(from_server) every run moves the database again, to the best copy
        elsewhere.
      - Mutually exclusive with O(target_server).
    type: str
extends_documentation_fragment:
  - exchange.dr.connection
  - exchange.dr.switchover
  - exchange.dr.switchover.wait
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the state and evaluates the gate exactly as a real run does, then returns the plan (RV(plan)),
        the cmdlets it would send (RV(actions), status V(planned)) and the predicted RV(after) state. No
        C(Move-), C(Mount-) or other state-changing cmdlet is sent, and nothing is waited for.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The active server and status of the database before and after.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Needs an account with the Database Copies management role (Organization Management has it) for
    C(Move-ActiveMailboxDatabase) and C(Mount-Database); check mode only reads (View-Only Organization Management).
  - A move that Active Manager refuses (its own checks are stricter than the gate for the lag of a copy, for
    example) fails the task with Exchange's error; the database stays where it was.
  - After a move the previous active copy goes through C(Initializing) before it is C(Healthy) again. Until
    then it fails the gate as a target.
seealso:
  - module: exchange.dr.dag_rebalance
  - module: exchange.dr.database_copy
  - module: exchange.dr.exchange_info
  - name: Move-ActiveMailboxDatabase
    description: The cmdlet reference.
    link: https://learn.microsoft.com/powershell/module/exchange/move-activemailboxdatabase
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
- name: Switch over a database before patching its server
  module_defaults:
    group/exchange.dr.exchange: "{{ exchange_dr_connection }}"
  block:
    - name: Make DB01 active on EX02
      exchange.dr.database_switchover:
        database: DB01
        target_server: EX02
        move_comment: CHG-1234 patch EX01
      register: switchover

    - name: Show what happened
      ansible.builtin.debug:
        msg: "{{ switchover.database }} {{ switchover.before.active_server }} -> {{ switchover.after.active_server }}"

# Rehearsal: run with --check (or check_mode: true) to see the target, the gate and the cmdlets.
- name: Move DB03 off EX01 to its best copy (idempotent)
  exchange.dr.database_switchover:
    server: ex01.contoso.com
    database: DB03
    from_server: EX01
    timeout: 600
    poll_interval: 10
  check_mode: true
  register: plan

# Activate a lagged disaster-recovery copy deliberately (runbook: replay everything, then move).
- name: Activate the lagged copy of DB08 on EX04
  exchange.dr.database_switchover:
    database: DB08
    target_server: EX04
    allow_lagged: true
    skip_lag_checks: true
    allow_activation_suspended: true
    copy_queue_limit: 20
    replay_queue_limit: 5000

# A lossy activation: only with an explicit acknowledgement.
- name: Activate DB02 on EX03 accepting up to 6 missing logs
  exchange.dr.database_switchover:
    database: DB02
    target_server: EX03
    mount_dial_override: good_availability
    allow_data_loss: true
    skip_health_checks: true
    skip_client_experience_checks: true
    skip_active_copy_checks: true
    skip_maximum_active_databases_checks: true
    skip_cpu_checks: true
    skip_move_suppression_checks: true
  register: lossy

- name: Report the logs lost
  ansible.builtin.debug:
    var: lossy.logs_lost
"""

RETURN = r"""
database:
  description: Name of the database, as Exchange spells it.
  returned: always
  type: str
  sample: DB01
action:
  description:
    - What the task did (or would do, in check mode). V(none) means already in place, and V(mount) a mount of
      the active copy on the target.
    - V(wait) waited for a mount in progress, and V(move) means a C(Move-ActiveMailboxDatabase).
  returned: success
  type: str
  sample: move
source_server:
  description: Server the database was active on when the task started.
  returned: success
  type: str
  sample: EX01
target_server:
  description: Server the database is (or would be, in check mode) active on at the end.
  returned: success
  type: str
  sample: EX02
before:
  description: Where the database was active and the status of its active copy before the task.
  returned: success
  type: dict
  sample: {active_server: EX01, status: Mounted, mounted: true}
after:
  description: The same after the task; in check mode the predicted state.
  returned: success
  type: dict
  sample: {active_server: EX02, status: Mounted, mounted: true}
plan:
  description:
    - The decision of a move. It holds the target and how it was chosen (V(explicit) or V(best_copy)), and the
      candidates evaluated, each with its rank, criteria set and the gate's reasons.
    - It also holds the mount dial, whether the move could lose logs (C(lossy), C(logs_at_risk)), the skip
      switches and the exact parameters of C(Move-ActiveMailboxDatabase).
  returned: when a move was planned
  type: dict
  sample:
    database: DB03
    source_server: EX01
    target_server: EX02
    selection: best_copy
    candidates:
      - {server: EX02, rank: 1, criteria_set: 1, eligible: true, reasons: []}
    mount_dial_override: Lossless
    mount_dial: Lossless
    lossy: false
    logs_at_risk: 0
    logs_lost: 0
    switches: []
    parameters: {Identity: DB03, ActivateOnServer: EX02, MountDialOverride: Lossless, Confirm: false}
move_result:
  description: The result object of C(Move-ActiveMailboxDatabase), with C(snake_case) keys.
  returned: when a move was sent
  type: dict
  sample:
    database: DB01
    active_server_at_start: EX01
    active_server_at_end: EX02
    status: Succeeded
    error_message: null
    mount_status_at_move_start: Mounted
    mount_status_at_move_end: Mounted
    number_of_logs_lost: 0
    recovery_point_objective: "2026-03-14T10:02:11+00:00"
logs_lost:
  description: Logs lost by the move (C(NumberOfLogsLost)); in check mode the prediction (0 when the active copy
    can supply the missing logs).
  returned: when a move was sent or planned
  type: int
  sample: 0
actions:
  description: The state-changing cmdlets in order, with their parameters and V(done), V(failed) or, in check
    mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - cmdlet: Move-ActiveMailboxDatabase
      target: DB01
      parameters: {Identity: DB01, ActivateOnServer: EX02, MountDialOverride: Lossless, Confirm: false}
      status: done
progress:
  description: Progress lines with the seconds since the start (also written to the module log).
  returned: always
  type: list
  elements: str
  sample: ["[0.4s] Move-ActiveMailboxDatabase DB01", "[31.2s] DB01 mounted on EX02: DB01\\EX02 Mounted (active) (poll 1, 0.1 s)"]
polls:
  description: Number of state reads while waiting.
  returned: always
  type: int
  sample: 1
elapsed:
  description: Seconds the task took, including opening the session.
  returned: always
  type: float
  sample: 32.7
round_trips:
  description: Number of cmdlet invocations sent to Exchange.
  returned: always
  type: int
  sample: 8
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import database as db
from ansible_collections.exchange.dr.plugins.module_utils import switchover as sw


def gather(run, decision, database_row, copies, options):
    """The reads a move needs: servers, the DAG, components of the candidates, active counts."""
    client = run.client
    servers = db.read_servers(client)
    dags = db.read_dags(client, database_row["master"]) if database_row.get("master") else []
    dag = dags[0] if dags else None
    mine = sw.copies_of(copies, decision["database"])
    if decision["target_server"]:
        names = [decision["target_server"]]
    else:
        names = [c["server"] for c in mine if c.get("active") is not True]
    rows = [s for s in servers if any(sw.same(s.get("name"), n) for n in names)]
    components, problems = db.read_components(client, rows)
    for problem in problems:
        run.module.warn(problem)
    counts = sw.active_counts(db.read_active_copies(client)) if sw.needs_active_counts(servers, names) else None
    return servers, dag, components, counts


def wait_mounted(run, database, target):
    result = run.wait(db.mounted_on(run.client, database, target), "%s mounted on %s" % (database, target))
    return result.value


def after_state(copies, database, before):
    if copies is None:
        return before
    return sw.state_of(sw.copies_of(copies, database))


def body(run):
    params = run.module.params
    database = sw.identity(params["database"], "database", "database name")
    target = sw.identity(params["target_server"], "target_server", "server name") if params["target_server"] else None
    source = sw.identity(params["from_server"], "from_server", "server name") if params["from_server"] else None
    options = sw.gate_options({key: params[key] for key in sw.GATE_DEFAULTS})
    client = run.client

    database_row = db.read_database(client, database)
    copies = db.read_copies(client, database) if database_row else []
    decision = sw.decide(database, database_row, copies, target, source)
    name = decision["database"]
    before = decision["before"]
    run.result.update(database=name, action=decision["action"], source_server=before["active_server"],
                      target_server=decision["target_server"], before=before, after=before)

    if decision["action"] == "none":
        run.progress("%s is active on %s with status %s: nothing to do" % (name, before["active_server"], before["status"]))
        return finish(run, before, before)

    if decision["action"] in ("mount", "wait"):
        if decision["action"] == "mount":
            _rows, errors = run.send("Mount-Database", {"Identity": name}, name)
            db.raise_first(errors)
        final = wait_mounted(run, name, decision["target_server"])
        after = sw.predict(decision["target_server"]) if run.check_mode else after_state(final, name, before)
        return finish(run, before, after, changed=decision["action"] == "mount")

    servers, dag, components, counts = gather(run, decision, database_row, copies, options)
    plan = sw.plan_move(decision, database_row, copies, servers, dag, components, counts, options,
                        params["move_comment"])
    run.result.update(plan=plan, target_server=plan["target_server"])
    if run.check_mode:
        run.send("Move-ActiveMailboxDatabase", plan["parameters"], name)
        return finish(run, before, sw.predict(plan["target_server"]), logs_lost=plan["logs_lost"])

    rows, errors = run.send("Move-ActiveMailboxDatabase", plan["parameters"], name)
    results = [r for r in db.move_results(rows) if sw.same(r["database"], name)]
    outcome = results[0] if results else None
    if outcome is not None:
        run.result["move_result"] = outcome
    if errors or outcome is None or not sw.same(outcome["status"], "Succeeded"):
        reason = str(errors[0]) if errors else (outcome or {}).get("error_message") or "no result object was returned"
        if errors:
            run.result["error"] = errors[0].to_dict()
        run.result["after"] = after_state(db.read_copies(client, name), name, before)
        raise sw.SwitchoverError("Move-ActiveMailboxDatabase did not move %s to %s: %s"
                                 % (name, plan["target_server"], reason), "target_server", name)
    run.result["logs_lost"] = outcome["number_of_logs_lost"]
    target = plan["target_server"]
    final = run.wait(db.mounted_on(client, name, target, accept=("Mounted", "Dismounted")),
                     "%s active on %s" % (name, target)).value
    row = sw.copy_on(sw.copies_of(final, name), target)
    if row is not None and not sw.same(row.get("status"), "Mounted"):
        # a database an administrator had dismounted moves dismounted: the requested state is mounted
        _rows, errors = run.send("Mount-Database", {"Identity": name}, name)
        db.raise_first(errors)
        final = wait_mounted(run, name, target)
    return finish(run, before, after_state(final, name, before), logs_lost=outcome["number_of_logs_lost"])


def finish(run, before, after, changed=None, **values):
    if changed is None:
        changed = before != after
    run.result["after"] = after
    result = run.finish(changed=bool(changed), **values)
    if run.module._diff:
        result["diff"] = {"before": dict(before, database=result["database"]),
                          "after": dict(after, database=result["database"])}
    return result


def main():
    module = AnsibleModule(
        argument_spec=db.argument_spec(sw.SWITCHOVER_ARGSPEC, {
            "database": {"type": "str", "required": True},
            "target_server": {"type": "str"},
            "from_server": {"type": "str"},
        }),
        mutually_exclusive=[("target_server", "from_server")],
        supports_check_mode=True,
    )
    db.execute(module, body)


if __name__ == "__main__":
    main()
