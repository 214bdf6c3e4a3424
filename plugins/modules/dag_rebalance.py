#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dag_rebalance
short_description: Move mailbox databases back to their activation-preference-1 server
version_added: 0.1.0
description:
  - Moves each replicated mailbox database that is not active on its activation-preference-1 copy back to that
    copy with C(Move-ActiveMailboxDatabase), after the same health gate as M(exchange.dr.database_switchover),
    and waits until the databases are active there.
  - The scope is every replicated database of the organization by default. O(preferred_server) limits it to the
    databases whose preference-1 copy is on one server (the end of maintenance on that server), O(databases) to
    a list of databases and O(dag) to one DAG.
  - With O(preferred_server) on Exchange 2013 or later, and every database to move passing the gate, one
    C(Move-ActiveMailboxDatabase -ActivatePreferredOnServer) does the moves. Otherwise each database is moved on
    its own with C(-Identity -ActivateOnServer).
  - One database that cannot be moved (failing the gate, or refused by Active Manager) does not stop the
    others. The task fails at the end, listing it in RV(failed) with the reasons, after the others moved.
  - Idempotent. A database already active on its preference-1 server is left alone (listed in RV(unchanged))
    even when it is dismounted.
  - Reads the state with one call per kind of object. C(Get-MailboxDatabase) and C(Get-MailboxDatabaseCopyStatus)
    for the organization; when something must move, C(Get-ExchangeServer), C(Get-MailboxServer) and
    C(Get-DatabaseAvailabilityGroup -Status), and C(Get-ServerComponentState) per target server (2013+).
options:
  preferred_server:
    description:
      - Only the databases whose activation-preference-1 copy is on this mailbox server.
      - Mutually exclusive with O(databases).
    type: str
  databases:
    description:
      - Only these databases (names, no wildcards). Each must exist. One that is not replicated is reported in
        RV(failed).
      - Mutually exclusive with O(preferred_server).
    type: list
    elements: str
  dag:
    description:
      - Only the databases of this database availability group.
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
      - Reads the state and evaluates the gate of every database as a real run does. It returns the moves it
        would make in RV(moved), the ones it would refuse in RV(failed), the cmdlets in RV(actions) (status
        V(planned)) and the predicted RV(after).
      - No state-changing cmdlet is sent and nothing is waited for.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The active server of every database in scope, before and after.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Exchange 2016 CU2 and later also move databases back by themselves (the DAG's C(PreferenceMoveFrequency),
    default one hour). This module does it now, health-gated, and reports it.
  - Needs an account with the Database Copies management role (Organization Management has it); check mode
    only reads.
seealso:
  - module: exchange.dr.database_switchover
  - name: Balancing database copies
    description: Microsoft's guidance (RedistributeActiveDatabases.ps1, -ActivatePreferredOnServer).
    link: https://learn.microsoft.com/exchange/high-availability/manage-ha/manage-database-copies
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
- name: End of maintenance on EX01
  module_defaults:
    group/exchange.dr.exchange: "{{ exchange_dr_connection }}"
  block:
    - name: Move EX01's preferred databases back to it
      exchange.dr.dag_rebalance:
        preferred_server: EX01
        move_comment: end of maintenance EX01
      register: rebalance

    - name: Show the moves
      ansible.builtin.debug:
        msg: "moved {{ rebalance.moved | map(attribute='database') | list }}"

# A scheduled drift report: which databases are not on their preferred server?
- name: Report the databases off their preferred copy
  exchange.dr.dag_rebalance:
    dag: DAG1
  check_mode: true
  register: balance

# Some databases, with the gate relaxed for the lag check and a longer wait.
- name: Rebalance two databases
  exchange.dr.dag_rebalance:
    databases: [DB01, DB03]
    mount_dial_override: lossless
    allow_data_loss: false
    allow_lagged: false
    allow_activation_suspended: false
    copy_queue_limit: 10
    replay_queue_limit: 50
    skip_lag_checks: true
    skip_health_checks: false
    skip_active_copy_checks: false
    skip_client_experience_checks: false
    skip_maximum_active_databases_checks: false
    skip_cpu_checks: false
    skip_move_suppression_checks: false
    timeout: 900
    poll_interval: 15
"""

RETURN = r"""
moved:
  description: The databases moved back (in check mode, that would be moved), each with the servers, how many
    logs were lost (predicted in check mode) and the cmdlet's result object.
  returned: always
  type: list
  elements: dict
  sample:
    - {database: DB01, from_server: EX02, to_server: EX01, logs_lost: 0, move_result: {status: Succeeded}}
failed:
  description: The databases that could not be moved (or would not be, in check mode), with the target and the
    reasons (the gate's or Exchange's error).
  returned: always
  type: list
  elements: dict
  sample:
    - database: DB05
      target_server: EX03
      reasons: ["database DB05 cannot be activated on EX03: status is Failed (needs Healthy)"]
unchanged:
  description: The databases already active on their preference-1 server.
  returned: always
  type: list
  elements: dict
  sample:
    - {database: DB02, active_server: EX02}
plans:
  description: The move plan of each database to move (as RV(exchange.dr.database_switchover#module:plan)).
  returned: always
  type: list
  elements: dict
  sample:
    - database: DB01
      source_server: EX02
      target_server: EX01
      selection: explicit
      candidates: [{server: EX01, rank: null, criteria_set: null, eligible: true, reasons: []}]
      mount_dial_override: Lossless
      mount_dial: Lossless
      lossy: false
      logs_at_risk: 0
      logs_lost: 0
      switches: []
      parameters: {Identity: DB01, ActivateOnServer: EX01, MountDialOverride: Lossless, Confirm: false}
before:
  description: The active server of each database in scope before the task.
  returned: always
  type: dict
  sample: {DB01: EX02, DB02: EX02}
after:
  description: The active server of each database in scope after the task; in check mode the prediction.
  returned: always
  type: dict
  sample: {DB01: EX01, DB02: EX02}
actions:
  description: The state-changing cmdlets in order, with their parameters and V(done), V(failed) or, in check
    mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - cmdlet: Move-ActiveMailboxDatabase
      target: EX01
      parameters: {ActivatePreferredOnServer: EX01, MountDialOverride: Lossless, Confirm: false}
      status: done
progress:
  description: Progress lines with the seconds since the start (also written to the module log).
  returned: always
  type: list
  elements: str
  sample: ["[0.3s] Move-ActiveMailboxDatabase EX01", "[0.9s] databases on their preferred server: 2 of 2 (poll 1, 0.1 s)"]
polls:
  description: Number of state reads while waiting.
  returned: always
  type: int
  sample: 1
elapsed:
  description: Seconds the task took, including opening the session.
  returned: always
  type: float
  sample: 61.5
round_trips:
  description: Number of cmdlet invocations sent to Exchange.
  returned: always
  type: int
  sample: 9
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import database as db
from ansible_collections.exchange.dr.plugins.module_utils import switchover as sw
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError


def placement(copies, names):
    """{database: active server} for ``names``."""
    return {name: sw.state_of(sw.copies_of(copies, name))["active_server"] for name in names}


def settled(client, moved):
    """Predicate: every moved database is active on its target (mounted, or dismounted when it
    was dismounted before the move)."""
    def predicate():
        copies = db.read_copies(client)
        waiting = []
        for item in moved:
            row = sw.copy_on(sw.copies_of(copies, item["database"]), item["to_server"])
            accept = ("Mounted",) if item["was_mounted"] else ("Mounted", "Dismounted")
            if not (row and row.get("active") is True and any(sw.same(row.get("status"), s) for s in accept)):
                waiting.append(db.copy_status_text(row, item["to_server"]))
        detail = "databases on their preferred server: %d of %d" % (len(moved) - len(waiting), len(moved))
        if waiting:
            detail += "; waiting for " + ", ".join(waiting)
        return not waiting, detail, copies
    return predicate


def send_moves(run, plan, copies):
    """Send the moves of ``plan``; returns (moved, failed)."""
    moved, failed = [], []
    before = {m["database"]: sw.state_of(sw.copies_of(copies, m["database"])) for m in plan["moves"]}

    def record(move, outcome, errors):
        if outcome is not None and sw.same(outcome["status"], "Succeeded") and not errors:
            moved.append({"database": move["database"], "from_server": move["source_server"],
                          "to_server": move["target_server"], "logs_lost": outcome["number_of_logs_lost"],
                          "move_result": outcome, "was_mounted": before[move["database"]]["mounted"]})
        else:
            reason = str(errors[0]) if errors else (outcome or {}).get("error_message") or "no result object returned"
            failed.append({"database": move["database"], "target_server": move["target_server"], "reasons": [reason]})

    if plan["activate_preferred"]:
        parameters = plan["preferred_parameters"]
        rows, errors = run.send("Move-ActiveMailboxDatabase", parameters, parameters["ActivatePreferredOnServer"])
        outcomes = {r["database"].lower(): r for r in db.move_results(rows) if r.get("database")}
        for move in plan["moves"]:
            outcome = outcomes.get(move["database"].lower())
            mine = [e for e in errors if move["database"].lower() in str(e).lower()]
            record(move, outcome, mine if outcome is None or not sw.same(outcome["status"], "Succeeded") else [])
        return moved, failed
    for move in plan["moves"]:
        try:
            rows, errors = run.send("Move-ActiveMailboxDatabase", move["parameters"], move["database"])
        except ExchangeCommandError as exc:
            record(move, None, [exc])
            continue
        outcomes = [r for r in db.move_results(rows) if sw.same(r["database"], move["database"])]
        record(move, outcomes[0] if outcomes else None, errors)
    return moved, failed


def body(run):
    params = run.module.params
    server = sw.identity(params["preferred_server"], "preferred_server", "server name") if params["preferred_server"] else None
    names = [sw.identity(n, "databases", "database name") for n in params["databases"]] if params["databases"] else None
    dag = sw.identity(params["dag"], "dag", "DAG name") if params["dag"] else None
    options = sw.gate_options({key: params[key] for key in sw.GATE_DEFAULTS})
    client = run.client

    databases = db.read_databases(client)
    copies = db.read_copies(client)
    scope = sw.rebalance_scope(databases, copies, server, names, dag)
    in_scope = [row.get("name") for row, _preferred in scope["todo"]]
    in_scope += [item["database"] for item in scope["unchanged"] + scope["failed"]]
    before = placement(copies, in_scope)

    plan = {"moves": [], "failed": list(scope["failed"]), "unchanged": scope["unchanged"], "activate_preferred": False}
    if scope["todo"]:
        servers = db.read_servers(client)
        dags = db.read_dags(client)
        targets = {preferred.lower(): preferred for _row, preferred in scope["todo"]}
        components, problems = db.read_components(client, [s for s in servers if (s.get("name") or "").lower() in targets])
        for problem in problems:
            run.module.warn(problem)
        counts = sw.active_counts(copies) if sw.needs_active_counts(servers, list(targets.values())) else None
        whole_server = server if names is None and dag is None else None
        plan = sw.plan_rebalance(scope, copies, servers, dags, components, counts, options, params["move_comment"],
                                 whole_server)
    run.result.update(plans=plan["moves"], unchanged=plan["unchanged"], before=before)

    if run.check_mode:
        for move in ([{"parameters": plan["preferred_parameters"], "database": server}] if plan["activate_preferred"]
                     else plan["moves"]):
            run.send("Move-ActiveMailboxDatabase", move["parameters"], move["database"])
        moved = [{"database": m["database"], "from_server": m["source_server"], "to_server": m["target_server"],
                  "logs_lost": m["logs_lost"], "move_result": None} for m in plan["moves"]]
        after = dict(before, **{m["database"]: m["target_server"] for m in plan["moves"]})
        return finish(run, moved, plan["failed"], before, after)

    moved, failed = send_moves(run, plan, copies) if plan["moves"] else ([], [])
    failed = plan["failed"] + failed
    final = copies
    if moved:
        final = run.wait(settled(client, moved), "%d database(s) active on their preferred server" % len(moved)).value
    for item in moved:
        item.pop("was_mounted", None)
    return finish(run, moved, failed, before, placement(final, in_scope))


def finish(run, moved, failed, before, after):
    result = run.finish(changed=bool(moved), moved=moved, failed=failed, after=after)
    if run.module._diff:
        result["diff"] = {"before": before, "after": after}
    if failed:
        summary = "; ".join("%s (to %s): %s" % (f["database"], f["target_server"], " / ".join(f["reasons"]))
                            for f in failed)
        verb = "would not be moved" if run.check_mode else "could not be moved"
        raise db.TaskFailed("%d database(s) %s back to their preferred server (%d moved): %s"
                            % (len(failed), verb, len(moved), summary))
    return result


def main():
    module = AnsibleModule(
        argument_spec=db.argument_spec(sw.SWITCHOVER_ARGSPEC, {
            "preferred_server": {"type": "str"},
            "databases": {"type": "list", "elements": "str"},
            "dag": {"type": "str"},
        }),
        mutually_exclusive=[("preferred_server", "databases")],
        supports_check_mode=True,
    )
    db.execute(module, body)


if __name__ == "__main__":
    main()
