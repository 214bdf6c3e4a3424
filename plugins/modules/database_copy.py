#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: database_copy
short_description: Mailbox database copies - add, remove, settings, suspend, resume, reseed
version_added: 0.1.0
description:
  - Manages the copy of a mailbox database on one mailbox server of its database availability group (Exchange
    2010 or later). It adds or removes the copy, sets its activation preference and lag times, suspends or
    resumes replication or activation, and reseeds it.
  - Idempotent. The copy's current settings and status decide what is sent, and only drifted settings are
    passed to C(Set-MailboxDatabaseCopy).
  - Reads the state with C(Get-MailboxDatabase) and C(Get-MailboxDatabaseCopyStatus -Identity <database>), and
    waits (bounded by O(timeout)) until the copy reaches the requested status.
options:
  database:
    description:
      - Name of the mailbox database. Wildcards are refused.
    type: str
    required: true
  mailbox_server:
    description:
      - Mailbox server holding (or to hold) the copy; a member of the database's DAG.
    type: str
    required: true
  state:
    description:
      - V(present) means the copy exists with the given settings; a missing copy is added with
        C(Add-MailboxDatabaseCopy), which seeds it from the active copy.
      - V(absent) removes the copy with C(Remove-MailboxDatabaseCopy). The database files stay on the server
        (adding the copy again then needs a reseed with O(delete_existing_files=true)). Destructive, so it is never
        implied by another state. The active copy cannot be removed.
      - V(suspended) suspends replication and activation (C(Suspend-MailboxDatabaseCopy)). A copy already
        C(Suspended) or C(FailedAndSuspended) is left alone. While a passive copy is suspended the active copy
        keeps its logs (no truncation).
      - V(activation_suspended) blocks only the activation of the copy (C(-ActivationOnly)) while replication
        goes on; a suspended copy is resumed for replication only (C(Resume-MailboxDatabaseCopy
        -ReplicationOnly)).
      - V(healthy) means resumed. A suspended or activation-suspended copy is resumed
        (C(Resume-MailboxDatabaseCopy)), and the task waits until the copy is C(Healthy). A C(Failed) copy is
        waited on, since Exchange retries it, and a copy that needs a new seed calls for V(reseeded).
      - V(reseeded) reseeds a copy that is not C(Healthy). It suspends the copy if needed, runs
        C(Update-MailboxDatabaseCopy) and waits until the copy is C(Healthy). A C(Healthy) copy is left alone, and
        a seed in progress is waited on. Destructive (it replaces the copy's files), so it is only done when
        asked for.
      - Every state except V(absent) adds a missing copy first.
    type: str
    choices: [present, absent, suspended, activation_suspended, healthy, reseeded]
    default: present
  activation_preference:
    description:
      - Activation preference of the copy, from 1 to the number of copies. Exchange renumbers the other copies.
    type: int
  replay_lag_time:
    description:
      - How long the copy waits before replaying copied logs, as a .NET time span C(d.hh:mm:ss) (for example
        V(7.00:00:00)); at most 14 days. V(00:00:00) removes the lag.
      - Quote the value in YAML, as in V('1:00:00'); an unquoted V(1:00:00) is read as a number (3600).
    type: str
  truncation_lag_time:
    description:
      - How long the copy keeps replayed logs before truncating them, as a time span C(d.hh:mm:ss); at most 14
        days.
    type: str
  suspend_comment:
    description:
      - Text sent as C(-SuspendComment) when the copy is suspended (by V(suspended), V(activation_suspended) or
        before a reseed). At most 512 characters.
      - Not compared. A copy already suspended keeps its comment.
    type: str
  source_server:
    description:
      - With O(state=reseeded), the server whose copy is the seeding source (C(-SourceServer)). It must hold a
        healthy copy. The active copy is the source when unset.
    type: str
  delete_existing_files:
    description:
      - With O(state=reseeded), remove the copy's existing log files first (C(-DeleteExistingFiles)). Exchange
        refuses to seed over existing files otherwise.
    type: bool
    default: false
extends_documentation_fragment:
  - exchange.dr.connection
  - exchange.dr.switchover.wait
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Returns the cmdlets it would send (RV(actions), status V(planned)) and the predicted RV(after) view of
      the copy; sends no state-changing cmdlet and does not wait.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The managed properties of the copy that change.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Needs an account with the Database Copies management role (Organization Management has it).
  - The states V(absent), V(suspended), V(activation_suspended) and V(reseeded) apply to passive copies. To act
    on the active copy, move the database first with M(exchange.dr.database_switchover).
  - Lag times are sent as text (C(d.hh:mm:ss)), which Exchange parses into its time span type.
seealso:
  - module: exchange.dr.database_switchover
  - name: Manage mailbox database copies
    description: Microsoft's guide to adding, suspending, resuming, updating (reseeding) and removing copies.
    link: https://learn.microsoft.com/exchange/high-availability/manage-ha/manage-database-copies
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
- name: Copies of DB08
  module_defaults:
    group/exchange.dr.exchange: "{{ exchange_dr_connection }}"
  block:
    - name: A lagged disaster-recovery copy on EX04, last in preference
      exchange.dr.database_copy:
        database: DB08
        mailbox_server: EX04
        activation_preference: 4
        replay_lag_time: "7.00:00:00"
        truncation_lag_time: "00:00:00"

    - name: Block activation of the copy on EX03 (replication continues)
      exchange.dr.database_copy:
        database: DB08
        mailbox_server: EX03
        state: activation_suspended
        suspend_comment: DR copy, activate only by hand

- name: Suspend a copy for storage maintenance
  exchange.dr.database_copy:
    database: DB04
    mailbox_server: EX03
    state: suspended
    suspend_comment: CHG-1234 SAN firmware

- name: Resume it and wait until it is healthy
  exchange.dr.database_copy:
    database: DB04
    mailbox_server: EX03
    state: healthy
    timeout: 600
    poll_interval: 10

- name: Reseed a failed copy from the copy on EX04
  exchange.dr.database_copy:
    database: DB04
    mailbox_server: EX03
    state: reseeded
    source_server: EX04
    delete_existing_files: true
    timeout: 3600

- name: Remove the copy on EX04 (explicitly)
  exchange.dr.database_copy:
    database: DB07
    mailbox_server: EX04
    state: absent
"""

RETURN = r"""
database:
  description: Name of the database, as Exchange spells it.
  returned: always
  type: str
  sample: DB04
identity:
  description: Identity of the copy (C(<database>\\<server>)).
  returned: success
  type: str
  sample: DB04\EX03
before:
  description: The managed view of the copy before the task (C(present) false when there was no copy).
  returned: success
  type: dict
  sample:
    present: true
    server: EX03
    status: Healthy
    active: false
    activation_suspended: false
    activation_preference: 3
    replay_lag_time: "00:00:00"
    truncation_lag_time: "00:00:00"
    suspend_comment: null
after:
  description: The same after the task; in check mode the prediction.
  returned: success
  type: dict
  sample:
    present: true
    server: EX03
    status: Suspended
    active: false
    activation_suspended: true
    activation_preference: 3
    replay_lag_time: "00:00:00"
    truncation_lag_time: "00:00:00"
    suspend_comment: CHG-1234 SAN firmware
actions:
  description: The state-changing cmdlets in order, with their parameters and V(done), V(failed) or, in check
    mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - cmdlet: Suspend-MailboxDatabaseCopy
      target: DB04\EX03
      parameters: {Identity: DB04\EX03, SuspendComment: CHG-1234 SAN firmware, Confirm: false}
      status: done
progress:
  description: Progress lines with the seconds since the start (also written to the module log).
  returned: always
  type: list
  elements: str
  sample: ["[0.2s] Resume-MailboxDatabaseCopy DB04\\EX03", "[0.4s] DB04\\EX03 Healthy: DB04\\EX03 Healthy (poll 1, 0.1 s)"]
polls:
  description: Number of state reads while waiting.
  returned: always
  type: int
  sample: 2
elapsed:
  description: Seconds the task took, including opening the session.
  returned: always
  type: float
  sample: 1.9
round_trips:
  description: Number of cmdlet invocations sent to Exchange.
  returned: always
  type: int
  sample: 5
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import database as db
from ansible_collections.exchange.dr.plugins.module_utils import switchover as sw


def reached(client, database, server, statuses):
    """Predicate: the copy has one of ``statuses`` (the active copy: Mounted).  A copy that
    turns FailedAndSuspended will not recover by itself: the wait ends with a failure."""
    def predicate():
        copies = db.read_copies(client, database)
        row = sw.copy_on(copies, server)
        if row is None:
            return False, "no copy on %s" % server, copies
        if sw.same(row.get("status"), "FailedAndSuspended"):
            raise db.TaskFailed("%s is FailedAndSuspended: %s - reseed it (state reseeded, with delete_existing_files "
                                "when its files are still there)" % (row.get("name"), row.get("error_message")))
        wanted = ("Mounted",) if row.get("active") is True else statuses
        return any(sw.same(row.get("status"), s) for s in wanted), db.copy_status_text(row, server), copies
    return predicate


def fail_after(run, database_row, name, server, errors):
    """A cmdlet ran but wrote errors (Add-MailboxDatabaseCopy adds the copy, then its seed fails):
    report what changed, the copy as it is now, and how to go on."""
    run.result["changed"] = True
    run.result["error"] = errors[0].to_dict()
    run.result["after"] = sw.copy_view(db.read_database(run.client, name) or database_row,
                                       sw.copy_on(db.read_copies(run.client, name), server), server)
    message = str(errors[0])
    if "DeleteExistingFiles" in message:
        message += " - run the task with state reseeded and delete_existing_files true"
    raise db.TaskFailed(message)


def body(run):
    params = run.module.params
    database = sw.identity(params["database"], "database", "database name")
    server = sw.identity(params["mailbox_server"], "mailbox_server", "server name")
    source = sw.identity(params["source_server"], "source_server", "server name") if params["source_server"] else None
    state = params["state"]
    if state != "reseeded" and (source or params["delete_existing_files"]):
        raise sw.SwitchoverError("source_server and delete_existing_files apply to state reseeded only (state is %s)"
                                 % state, "source_server")
    if params["suspend_comment"] is not None and len(params["suspend_comment"]) > 512:
        raise sw.SwitchoverError("suspend_comment is limited to 512 characters (it has %d)"
                                 % len(params["suspend_comment"]), "suspend_comment")
    client = run.client

    database_row = db.read_database(client, database)
    run.result["database"] = (database_row or {}).get("name") or database
    copies = db.read_copies(client, database) if database_row else []
    settings = {key: params[key] for key in sw.COPY_SETTINGS}
    plan = sw.plan_copy(database, database_row, copies, server, state, settings, params["suspend_comment"], source,
                        params["delete_existing_files"])
    name = run.result["database"]
    spelled = plan["before"]["server"]
    run.result.update(identity=plan["identity"], before=plan["before"], after=plan["before"])

    for cmdlet, parameters in plan["actions"]:
        _rows, errors = run.send(cmdlet, parameters, plan["identity"])
        if errors:
            fail_after(run, database_row, name, spelled, errors)
    after = plan["after"]
    if not run.check_mode:
        if plan["wait_for"]:
            run.wait(reached(client, name, spelled, plan["wait_for"]),
                     "%s %s" % (plan["identity"], " or ".join(plan["wait_for"])))
        if plan["actions"]:
            database_row = db.read_database(client, name)
            row = sw.copy_on(db.read_copies(client, name), spelled)
            after = sw.copy_view(database_row, row, spelled)
        else:
            after = plan["before"] if not plan["wait_for"] else sw.copy_view(
                database_row, sw.copy_on(db.read_copies(client, name), spelled), spelled)
    result = run.finish(changed=bool(plan["actions"]), after=after)
    if run.module._diff:
        result["diff"] = sw.copy_diff(plan["before"], after)
    return result


def main():
    module = AnsibleModule(
        argument_spec=db.argument_spec({
            "database": {"type": "str", "required": True},
            "mailbox_server": {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": list(sw.COPY_STATES)},
            "activation_preference": {"type": "int"},
            "replay_lag_time": {"type": "str"},
            "truncation_lag_time": {"type": "str"},
            "suspend_comment": {"type": "str"},
            "source_server": {"type": "str"},
            "delete_existing_files": {"type": "bool", "default": False},
        }),
        supports_check_mode=True,
    )
    db.execute(module, body)


if __name__ == "__main__":
    main()
