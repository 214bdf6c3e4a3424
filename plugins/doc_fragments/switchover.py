# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Gate, mount dial and skip options of the modules that activate database copies
    # (database_switchover, dag_rebalance).  Mirrored by SWITCHOVER_ARGSPEC and GATE_DEFAULTS in
    # plugins/module_utils/switchover.py: change both together.
    DOCUMENTATION = r"""
options:
  mount_dial_override:
    description:
      - The C(-MountDialOverride) sent to C(Move-ActiveMailboxDatabase).
      - V(lossless) mounts the target only when no log is missing (Active Manager copies the last logs from the
        active copy first). It is the default and never loses data.
      - V(good_availability) accepts up to 6 missing logs, V(best_availability) up to 12, V(best_effort) any
        number; V(none) uses the target server's own C(AutoDatabaseMountDial).
      - A dial other than V(lossless), towards a copy whose copy queue is not empty, could lose logs and needs
        O(allow_data_loss=true).
    type: str
    choices: [lossless, good_availability, best_availability, best_effort, none]
    default: lossless
  allow_data_loss:
    description:
      - Accept a move that could lose logs (see O(mount_dial_override)).
      - The number of logs actually lost is returned as C(logs_lost), from the C(NumberOfLogsLost) of the move.
    type: bool
    default: false
  allow_lagged:
    description:
      - Let a lagged copy (C(ReplayLagTime) above zero, a disaster-recovery copy) pass the gate.
      - Exchange's own lag check refuses lagged copies, so activating one also needs O(skip_lag_checks=true).
      - Moves without a named target never choose a lagged copy.
    type: bool
    default: false
  allow_activation_suspended:
    description:
      - Let a copy whose activation is suspended (C(Suspend-MailboxDatabaseCopy -ActivationOnly)) pass the gate
        when it is named as the target. Exchange allows an explicit target there (a datacenter switchover onto
        blocked copies); moves without a named target never choose such a copy.
    type: bool
    default: false
  copy_queue_limit:
    description:
      - The target copy's C(CopyQueueLength) must be below this number of logs (Active Manager's first criteria
        set).
      - Exchange's own lag check of C(Move-ActiveMailboxDatabase) may be stricter.
      - Not checked with O(skip_lag_checks=true).
    type: int
    default: 10
  replay_queue_limit:
    description:
      - The target copy's C(ReplayQueueLength) must be below this number of logs (Active Manager's first
        criteria set).
      - Not checked with O(skip_lag_checks=true).
    type: int
    default: 50
  move_comment:
    description:
      - Text sent as C(-MoveComment), recorded by Exchange with the move (for example a change number).
      - Not sent when unset.
    type: str
  skip_health_checks:
    description:
      - Send C(-SkipHealthChecks) and accept a target copy whose status is not C(Healthy) (never C(Seeding) or
        C(ServiceDown)).
      - Microsoft advises it only after a normal attempt failed; it adds a slow log consistency validation.
    type: bool
    default: false
  skip_active_copy_checks:
    description:
      - Send C(-SkipActiveCopyChecks) and accept moving a database whose active copy is seeding another copy;
        Exchange cancels that seed.
    type: bool
    default: false
  skip_lag_checks:
    description:
      - Send C(-SkipLagChecks) and skip the collection's O(copy_queue_limit) and O(replay_queue_limit) checks.
      - Needed to activate a lagged copy (with O(allow_lagged=true)) or a copy that is a seeding source.
    type: bool
    default: false
  skip_client_experience_checks:
    description:
      - Send C(-SkipClientExperienceChecks) and accept a target whose search catalog (C(ContentIndexState)) is
        not C(Healthy) (C(NotApplicable), reported by Exchange 2019, always passes). Reseed the catalog after.
    type: bool
    default: false
  skip_maximum_active_databases_checks:
    description:
      - Send C(-SkipMaximumActiveDatabasesChecks) (Exchange 2013 or later) and accept a target at its
        C(MaximumPreferredActiveDatabases). C(MaximumActiveDatabases) is always enforced.
    type: bool
    default: false
  skip_cpu_checks:
    description:
      - Send C(-SkipCpuChecks) (Exchange 2016 or later), so that a target with high CPU use is not refused.
    type: bool
    default: false
  skip_move_suppression_checks:
    description:
      - Send C(-SkipMoveSuppressionChecks) (Exchange 2016 or later), to move a database that Exchange would hold
        back because it moved recently.
    type: bool
    default: false
notes:
  - "The gate a target must pass by default (runbook of a planned activation): copy status C(Healthy); activation
    not suspended; copy queue below O(copy_queue_limit) and replay queue below O(replay_queue_limit); not a lagged
    copy; content index C(Healthy) or C(NotApplicable); not a seeding source, and the active copy not a seeding
    source. The target server: not C(DatabaseCopyActivationDisabledAndMoveNow); components C(ServerWideOffline)
    and C(HighAvailability) C(Active) (2013+); below C(MaximumActiveDatabases) and
    C(MaximumPreferredActiveDatabases); one of the DAG's operational servers; the DAG's C(WitnessShareInUse) not
    C(InvalidConfiguration)."
  - Each C(skip_*) option relaxes the collection's check of the same name and sends the switch; the others are
    Exchange's own checks, which no option here skips.
  - C(Move-ActiveMailboxDatabase) is always sent with C(-Confirm:$false) (a remote session cannot answer a
    confirmation prompt).
"""

    # Wait options of the modules that wait for Exchange (database_switchover, dag_rebalance,
    # database_copy).  Mirrored by WAIT_ARGSPEC in plugins/module_utils/waiter.py.
    WAIT = r"""
options:
  timeout:
    description:
      - Seconds to wait, in total for the task, for Exchange to reach the requested state after the commands
        were sent (a database mounted, a copy healthy).
      - The task fails when the time is up; running it again resumes from the live state.
      - Not used in check mode, which does not wait.
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between two reads of the state while waiting. The first read is immediate.
    type: float
    default: 5.0
"""
