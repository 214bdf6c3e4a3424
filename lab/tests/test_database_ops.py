"""Database and database-copy actions through the real protocol (pypsrp):
Move-ActiveMailboxDatabase, Mount-/Dismount-Database and the *-MailboxDatabaseCopy
cmdlets.  The session lab runs at speed 200: 30 modelled seconds = 0.15 s."""

from __future__ import annotations

import time
from typing import Any

from conftest import pool, props, run

SPEED = 200.0
T_MOVE = "Microsoft.Exchange.Management.SystemConfigurationTasks.MoveActiveMailboxDatabase"


def wait_modelled(seconds: float) -> None:
    time.sleep(seconds / SPEED + 0.05)


def copy_status(rp: Any, identity: str) -> dict[str, Any]:
    res = run(rp, "Get-MailboxDatabaseCopyStatus", Identity=identity)
    assert not res.failed, res.errors
    return props(res.output[0])


def active_server(lab: Any, name: str) -> str:
    return next(d for d in lab.state()["databases"] if d["name"] == name)["active_server"]


def db_state(lab: Any, name: str) -> dict[str, Any]:
    return next(d for d in lab.state()["databases"] if d["name"] == name)


def move(rp: Any, **params: Any) -> Any:
    return run(rp, "Move-ActiveMailboxDatabase", Confirm=False, **params)


# ---------------------------------------------------------------- switchover
def test_move_to_target_result_object_and_copy_states(fresh_lab):
    with pool(fresh_lab) as rp:
        res = move(rp, Identity="DB01", ActivateOnServer="EX02")
        assert not res.failed and not res.errors
        assert len(res.output) == 1
        r = props(res.output[0])
        assert r["Identity"] == "DB01"
        assert (r["ActiveServerAtStart"], r["ActiveServerAtEnd"], r["Status"]) == ("EX01", "EX02", "Succeeded")
        assert r["ErrorMessage"] is None
        assert (r["MountStatusAtMoveStart"], r["MountStatusAtMoveEnd"]) == ("Mounted", "Mounted")
        assert r["NumberOfLogsLost"] == 0 and r["RecoveryPointObjective"]  # a DateTime (pypsrp: ISO text)
        assert res.output[0].types[0].endswith("DatabaseMoveResult")
        assert len(res.ps.streams.progress) >= 2
        new = copy_status(rp, "DB01\\EX02")
        assert (new["Status"], new["ActiveCopy"], new["ActiveDatabaseCopy"]) == ("Mounted", True, "ex02")
        old = copy_status(rp, "DB01\\EX01")
        assert (old["Status"] in ("Initializing", "Healthy"), old["ActiveCopy"]) == (True, False)  # Initializing lasts 15 modelled s = 75 ms at x200: a loaded machine may read it Healthy already
        wait_modelled(16)
        assert copy_status(rp, "DB01\\EX01")["Status"] == "Healthy"
        db = props(run(rp, "Get-MailboxDatabase", Identity="DB01", Status=True).output[0])
        assert db["Mounted"] is True and db["Server"] == "EX02"


def test_move_takes_the_modelled_switchover_time(fresh_lab):
    with pool(fresh_lab) as rp:
        started = time.monotonic()
        assert not move(rp, Identity="DB02", ActivateOnServer="EX01").failed
        assert time.monotonic() - started >= 30 / SPEED


def test_move_without_confirm_false_fails_as_a_remote_prompt(fresh_lab):
    with pool(fresh_lab) as rp:
        res = run(rp, "Move-ActiveMailboxDatabase", Identity="DB01", ActivateOnServer="EX02")
        assert res.failed and not res.output
        err = res.error
        assert err.fq_error == f"HostFunctionNotImplemented,{T_MOVE}"
        assert err.category == 11
        assert "does not support user interaction" in str(err)
        assert 'Moving mailbox database "DB01"' in str(err)
        # a bare -Confirm prompts too
        res = run(rp, "Move-ActiveMailboxDatabase", Identity="DB01", ActivateOnServer="EX02", Confirm=None)
        assert res.failed and res.error.fq_error.startswith("HostFunctionNotImplemented,")
    assert active_server(fresh_lab, "DB01") == "EX01"


def test_no_healthy_target_error_and_database_stays_mounted(fresh_lab):
    for srv in ("EX02", "EX03", "EX04"):
        fresh_lab.inject_fault({"kind": "copy_status", "database": "DB01", "server": srv, "status": "Failed"})
    with pool(fresh_lab) as rp:
        res = move(rp, Identity="DB01")
        assert len(res.errors) == 1 and not res.failed  # non-terminating
        r = props(res.output[0])
        assert r["Status"] == "Failed" and r["ActiveServerAtEnd"] == "EX01"
        assert r["MountStatusAtMoveEnd"] == "Mounted"
        assert "An Active Manager operation failed" in r["ErrorMessage"]
        assert "select a database copy for possible activation" in r["ErrorMessage"]
        assert "FailureCategory=Cmdlet-AmDbActionWrapperException" in res.error.fq_error
        assert copy_status(rp, "DB01\\EX01")["Status"] == "Mounted"
        # an explicit target fails the same way, -SkipHealthChecks gets past a Failed copy
        res = move(rp, Identity="DB01", ActivateOnServer="EX02")
        assert res.errors and props(res.output[0])["Status"] == "Failed"
        assert "has status 'Failed'" in props(res.output[0])["ErrorMessage"]
        res = move(rp, Identity="DB01", ActivateOnServer="EX02", SkipHealthChecks=None)
        assert not res.errors and props(res.output[0])["ActiveServerAtEnd"] == "EX02"


def test_error_action_stop_terminates_a_refused_move(fresh_lab):
    fresh_lab.inject_fault({"kind": "copy_status", "database": "DB01", "server": "EX02", "status": "Failed"})
    with pool(fresh_lab) as rp:
        res = move(rp, Identity="DB01", ActivateOnServer="EX02", ErrorAction="Stop")
        assert res.failed and "FailureCategory=Cmdlet-AmDbActionWrapperException" in res.error.fq_error


def test_lagged_target_needs_skip_lag_checks(fresh_lab):
    with pool(fresh_lab) as rp:
        res = move(rp, Identity="DB08", ActivateOnServer="EX04")
        assert res.errors and "lagged copy" in props(res.output[0])["ErrorMessage"]
        assert active_server(fresh_lab, "DB08") == "EX02"
        res = move(rp, Identity="DB08", ActivateOnServer="EX04", SkipLagChecks=None)
        assert not res.errors
        assert props(res.output[0])["Status"] == "Succeeded"
    assert active_server(fresh_lab, "DB08") == "EX04"


def test_replay_queue_over_six_needs_skip_lag_checks(fresh_lab):
    fresh_lab.inject_fault({"kind": "copy_queue", "database": "DB04", "server": "EX01", "replay_queue": 7})
    fresh_lab.inject_fault({"kind": "copy_queue", "database": "DB02", "server": "EX01", "replay_queue": 6})
    with pool(fresh_lab) as rp:
        res = move(rp, Identity="DB04", ActivateOnServer="EX01")
        assert res.errors and "replay queue length of 7" in props(res.output[0])["ErrorMessage"]
        assert not move(rp, Identity="DB04", ActivateOnServer="EX01", SkipLagChecks=None).errors
        assert not move(rp, Identity="DB02", ActivateOnServer="EX01").errors  # 6 is allowed


def test_content_index_check_and_skip(fresh_lab):
    fresh_lab.inject_fault({"kind": "content_index", "database": "DB03", "server": "EX02", "state": "Failed"})
    with pool(fresh_lab) as rp:
        res = move(rp, Identity="DB03", ActivateOnServer="EX02")
        assert (
            "has content index catalog files in the following state: 'Failed'" in props(res.output[0])["ErrorMessage"]
        )
        assert not move(rp, Identity="DB03", ActivateOnServer="EX02", SkipClientExperienceChecks=None).errors
        # NotApplicable (Exchange 2019) is no block
        assert copy_status(rp, "DB07\\EX02")["ContentIndexState"] == "NotApplicable"
        assert not move(rp, Identity="DB07", ActivateOnServer="EX02").errors


def test_maximum_active_databases_checks(fresh_lab):
    with pool(fresh_lab) as rp:
        assert not run(rp, "Set-MailboxServer", Identity="EX04", MaximumPreferredActiveDatabases=1).errors
        res = move(rp, Identity="DB01", ActivateOnServer="EX04")
        assert "MaximumPreferredActiveDatabases" in props(res.output[0])["ErrorMessage"]
        assert not move(rp, Identity="DB01", ActivateOnServer="EX04", SkipMaximumActiveDatabasesChecks=None).errors
        assert not run(rp, "Set-MailboxServer", Identity="EX03", MaximumActiveDatabases=1).errors
        res = move(rp, Identity="DB03", ActivateOnServer="EX03", SkipMaximumActiveDatabasesChecks=None)
        assert res.errors and "MaximumActiveDatabases value (1)" in props(res.output[0])["ErrorMessage"]


def test_active_copy_seeding_source_check_cancels_the_seed(fresh_lab):
    with pool(fresh_lab) as rp:
        assert not run(rp, "Suspend-MailboxDatabaseCopy", Identity="DB05\\EX04", Confirm=False).errors
        res = run(
            rp,
            "Update-MailboxDatabaseCopy",
            Identity="DB05\\EX04",
            DeleteExistingFiles=None,
            BeginSeed=None,
            Confirm=False,
        )
        assert not res.errors
        assert copy_status(rp, "DB05\\EX04")["Status"] == "Seeding"
        res = move(rp, Identity="DB05", ActivateOnServer="EX01")
        assert "is a seeding source" in props(res.output[0])["ErrorMessage"]
        res = move(rp, Identity="DB05", ActivateOnServer="EX01", SkipActiveCopyChecks=None)
        assert not res.errors and props(res.output[0])["ActiveServerAtEnd"] == "EX01"
        assert copy_status(rp, "DB05\\EX04")["Status"] == "FailedAndSuspended"


def test_skip_all_checks_on_a_2019_host(fresh_lab):
    fresh_lab.inject_fault({"kind": "copy_status", "database": "DB08", "server": "EX04", "status": "Failed"})
    fresh_lab.inject_fault({"kind": "content_index", "database": "DB08", "server": "EX04", "state": "Failed"})
    with pool(fresh_lab, host="EX03") as rp:
        res = move(rp, Identity="DB08", ActivateOnServer="EX04")
        assert res.errors
        res = move(rp, Identity="DB08", ActivateOnServer="EX04", SkipAllChecks=None)
        assert not res.errors and props(res.output[0])["Status"] == "Succeeded"
        # -SkipAllChecks only with -ActivateOnServer (its parameter set)
        res = move(rp, Identity="DB08", SkipAllChecks=None)
        assert res.failed and res.error.fq_error == "MissingMandatoryParameter,Move-ActiveMailboxDatabase"
        # the 2016+ switches with no lab model bind and change nothing (the old active copy
        # must first be Healthy again)
        wait_modelled(16)
        res = move(
            rp,
            Identity="DB08",
            ActivateOnServer="EX02",
            SkipCpuChecks=None,
            SkipMoveSuppressionChecks=None,
            TerminateOnWarning=None,
            MoveComment="back",
        )
        assert not res.errors
    assert active_server(fresh_lab, "DB08") == "EX02"


def test_lossy_activation_follows_the_mount_dial(fresh_lab):
    for srv in ("EX02", "EX03", "EX04"):
        fresh_lab.inject_fault({"kind": "copy_queue", "database": "DB07", "server": srv, "copy_queue": 20})
    fresh_lab.inject_fault({"kind": "server_down", "server": "EX01"})
    st = db_state(fresh_lab, "DB07")
    assert (st["active_server"], st["mount_state"]) == ("EX01", "Dismounted")  # no copy within the dial
    with pool(fresh_lab, host="EX03") as rp:
        res = move(rp, Identity="DB07", ActivateOnServer="EX02")
        assert "copy queue length of 20" in props(res.output[0])["ErrorMessage"]
        res = move(rp, Identity="DB07", ActivateOnServer="EX02", SkipLagChecks=None)  # omitted dial = Lossless
        assert "mount dial 'Lossless'" in props(res.output[0])["ErrorMessage"]
        res = move(
            rp, Identity="DB07", ActivateOnServer="EX02", SkipLagChecks=None, MountDialOverride="BestAvailability"
        )
        assert "mount dial 'BestAvailability' allows (12)" in props(res.output[0])["ErrorMessage"]
        res = move(rp, Identity="DB07", ActivateOnServer="EX02", SkipLagChecks=None, MountDialOverride="BestEffort")
        assert not res.errors
        r = props(res.output[0])
        assert (r["MountStatusAtMoveStart"], r["MountStatusAtMoveEnd"], r["NumberOfLogsLost"]) == (
            "Dismounted",
            "Mounted",
            20,
        )
        assert copy_status(rp, "DB07\\EX01")["Status"] == "ServiceDown"
        res = move(rp, Identity="DB01", MountDialOverride="Sometimes")
        assert res.failed and "Valid values are" in str(res.error)


def test_already_active_on_the_target(fresh_lab):
    with pool(fresh_lab) as rp:
        res = move(rp, Identity="DB01", ActivateOnServer="EX01")
        assert len(res.errors) == 1
        r = props(res.output[0])
        assert r["Status"] == "Failed" and "is already active on server 'EX01'" in r["ErrorMessage"]
        res = move(rp, Identity="DB01", ActivateOnServer="EX09")
        assert res.failed and "couldn't be found" in str(res.error)


def test_server_switchover_and_activate_preferred(fresh_lab):
    with pool(fresh_lab) as rp:
        res = move(rp, Server="EX01")
        assert not res.errors
        assert sorted(props(o)["Identity"] for o in res.output) == ["DB01", "DB03", "DB07"]
        # targetless lossless move: activation preference order (pref 2 = EX02)
        assert {props(o)["ActiveServerAtEnd"] for o in res.output} == {"EX02"}
        assert run(rp, "Get-MailboxDatabaseCopyStatus", Server="EX01", Active=None).output == []
        res = move(rp, ActivatePreferredOnServer="EX01")
        assert sorted(props(o)["Identity"] for o in res.output) == ["DB01", "DB03", "DB07"]
        assert all(props(o)["ActiveServerAtEnd"] == "EX01" for o in res.output)


def test_move_all_databases_or_none(fresh_lab):
    for srv in ("EX02", "EX03", "EX04"):
        fresh_lab.inject_fault({"kind": "copy_status", "database": "DB03", "server": srv, "status": "Failed"})
    with pool(fresh_lab) as rp:
        res = move(rp, Server="EX01", MoveAllDatabasesOrNone=None)
        assert len(res.output) == 3 and {props(o)["Status"] for o in res.output} == {"Failed"}
        assert len(res.errors) == 3
    assert [active_server(fresh_lab, n) for n in ("DB01", "DB03", "DB07")] == ["EX01"] * 3


def test_activation_policy_and_blocks(fresh_lab):
    with pool(fresh_lab) as rp:
        run(rp, "Set-MailboxServer", Identity="EX02", DatabaseCopyAutoActivationPolicy="Blocked")
        res = move(rp, Identity="DB01")  # targetless: Blocked EX02 is skipped
        assert props(res.output[0])["ActiveServerAtEnd"] == "EX03"
        res = move(rp, Identity="DB01", ActivateOnServer="EX02")  # explicit target on Blocked: allowed
        assert props(res.output[0])["ActiveServerAtEnd"] == "EX02"
        run(rp, "Suspend-MailboxDatabaseCopy", Identity="DB03\\EX02", ActivationOnly=None, Confirm=False)
        run(rp, "Set-MailboxServer", Identity="EX02", DatabaseCopyAutoActivationPolicy="Unrestricted")
        res = move(rp, Identity="DB03")  # targetless: activation-suspended copy skipped
        assert props(res.output[0])["ActiveServerAtEnd"] == "EX04"
        res = move(rp, Identity="DB03", ActivateOnServer="EX02")  # explicit (runbooks §5.2 step 5)
        assert props(res.output[0])["ActiveServerAtEnd"] == "EX02"
        run(rp, "Set-MailboxServer", Identity="EX03", DatabaseCopyActivationDisabledAndMoveNow=True)
        res = move(rp, Identity="DB04", ActivateOnServer="EX03")
        assert "DatabaseCopyActivationDisabledAndMoveNow" in props(res.output[0])["ErrorMessage"]


# ------------------------------------------------------------ mount / dismount
def test_dismount_and_mount(fresh_lab):
    with pool(fresh_lab) as rp:
        res = run(rp, "Dismount-Database", Identity="DB02")
        assert res.failed and res.error.fq_error.startswith("HostFunctionNotImplemented,")
        assert not run(rp, "Dismount-Database", Identity="DB02", Confirm=False).errors
        assert copy_status(rp, "DB02\\EX02")["Status"] == "Dismounted"
        assert props(run(rp, "Get-MailboxDatabase", Identity="DB02", Status=True).output[0])["Mounted"] is False
        assert not run(rp, "Dismount-Database", Identity="DB02", Confirm=False).errors  # already: no-op
        assert not run(rp, "Mount-Database", Identity="DB02").errors  # no built-in pause
        assert copy_status(rp, "DB02\\EX02")["Status"] == "Mounted"
        assert not run(rp, "Mount-Database", Identity="DB02", Force=None).errors
        res = run(rp, "Mount-Database", Identity="DB99")
        assert res.failed and "couldn't be found" in str(res.error)


# -------------------------------------------------------- copies: add / remove
def test_remove_and_add_copy_renumber_preferences_and_reseed(fresh_lab):
    with pool(fresh_lab) as rp:
        res = run(rp, "Remove-MailboxDatabaseCopy", Identity="DB01\\EX02")
        assert res.failed and res.error.fq_error.startswith("HostFunctionNotImplemented,")
        res = run(rp, "Remove-MailboxDatabaseCopy", Identity="DB01\\EX01", Confirm=False)
        assert res.failed and "is the active copy" in str(res.error)
        assert not run(rp, "Remove-MailboxDatabaseCopy", Identity="DB01\\EX02", Confirm=False).errors
        db = props(run(rp, "Get-MailboxDatabase", Identity="DB01").output[0])
        assert [str(x) for x in db["ActivationPreference"]] == ["[EX01, 1]", "[EX03, 2]", "[EX04, 3]"]
        # re-adding at preference 2: the others shift; the old files are still there, so
        # the seed fails until -DeleteExistingFiles
        res = run(rp, "Add-MailboxDatabaseCopy", Identity="DB01", MailboxServer="EX02", ActivationPreference=2)
        assert len(res.errors) == 1 and "-DeleteExistingFiles" in str(res.error)
        db = props(run(rp, "Get-MailboxDatabase", Identity="DB01").output[0])
        assert [str(x) for x in db["ActivationPreference"]] == ["[EX01, 1]", "[EX02, 2]", "[EX03, 3]", "[EX04, 4]"]
        assert copy_status(rp, "DB01\\EX02")["Status"] == "FailedAndSuspended"
        res = run(rp, "Update-MailboxDatabaseCopy", Identity="DB01\\EX02", DeleteExistingFiles=None, Confirm=False)
        assert not res.errors
        assert copy_status(rp, "DB01\\EX02")["Status"] in ("Initializing", "Healthy")  # Initializing lasts 15 modelled s = 75 ms at x200: a loaded machine may read it Healthy already
        wait_modelled(16)
        assert copy_status(rp, "DB01\\EX02")["Status"] == "Healthy"
        res = run(rp, "Add-MailboxDatabaseCopy", Identity="DB01", MailboxServer="EX02")
        assert res.failed and "already hosts a copy" in str(res.error)
        res = run(rp, "Add-MailboxDatabaseCopy", Identity="DB01", MailboxServer="EX03", ActivationPreference=9)
        assert res.failed


def test_add_copy_seeding_postponed(fresh_lab):
    with pool(fresh_lab) as rp:
        assert not run(rp, "Remove-MailboxDatabaseCopy", Identity="DB06\\EX01", Confirm=False).errors
        res = run(
            rp,
            "Add-MailboxDatabaseCopy",
            Identity="DB06",
            MailboxServer="EX01",
            SeedingPostponed=None,
            ReplayLagTime="1.00:00:00",
            TruncationLagTime="00:30:00",
        )
        assert not res.errors
        st = copy_status(rp, "DB06\\EX01")
        assert st["Status"] == "Suspended"
        assert st["SuspendComment"] == (
            "Replication is suspended for database copy 'DB06' because database needs to be seeded."
        )
        db = props(run(rp, "Get-MailboxDatabase", Identity="DB06").output[0])
        assert "[EX01, 1.00:00:00]" in [str(x) for x in db["ReplayLagTimes"]]
        res = run(rp, "Add-MailboxDatabaseCopy", Identity="DB05", MailboxServer="EX01", ReplayLagTime="15.00:00:00")
        assert res.failed


# ------------------------------------------------------- Set-MailboxDatabaseCopy
def test_set_copy_preference_lag_and_no_change_warning(fresh_lab):
    with pool(fresh_lab) as rp:
        assert not run(rp, "Set-MailboxDatabaseCopy", Identity="DB01\\EX04", ActivationPreference=1).errors
        db = props(run(rp, "Get-MailboxDatabase", Identity="DB01").output[0])
        assert [str(x) for x in db["ActivationPreference"]] == ["[EX04, 1]", "[EX01, 2]", "[EX02, 3]", "[EX03, 4]"]
        res = run(rp, "Set-MailboxDatabaseCopy", Identity="DB01\\EX04", ActivationPreference=1)
        assert res.warnings == [
            "The command completed successfully but no settings of 'DB01\\EX04' have been modified."
        ]
        assert run(rp, "Set-MailboxDatabaseCopy", Identity="DB01\\EX04", ActivationPreference=5).failed
        assert run(rp, "Set-MailboxDatabaseCopy", Identity="DB01\\EX03", ReplayLagTime="14.00:00:01").failed
        res = run(
            rp,
            "Set-MailboxDatabaseCopy",
            Identity="DB01\\EX03",
            ReplayLagTime="3.0:0:0",
            TruncationLagTime="01:00:00",
            ReplayLagMaxDelay="12:00:00",
        )
        assert not res.errors and not res.warnings
        db = props(run(rp, "Get-MailboxDatabase", Identity="DB01").output[0])
        assert "[EX03, 3.00:00:00]" in [str(x) for x in db["ReplayLagTimes"]]
        assert "[EX03, 01:00:00]" in [str(x) for x in db["TruncationLagTimes"]]
        res = move(rp, Identity="DB01", ActivateOnServer="EX03")
        assert "lagged copy" in props(res.output[0])["ErrorMessage"]
        # a bare -Confirm prompts even on a cmdlet without a built-in pause
        res = run(rp, "Set-MailboxDatabaseCopy", Identity="DB01\\EX03", ReplayLagTime="00:00:00", Confirm=None)
        assert res.failed and res.error.fq_error.startswith("HostFunctionNotImplemented,")


def test_removing_a_replay_lag_plays_the_queue_down(fresh_lab):
    with pool(fresh_lab) as rp:
        assert copy_status(rp, "DB08\\EX04")["ReplayQueueLength"] == 2016
        assert not run(rp, "Set-MailboxDatabaseCopy", Identity="DB08\\EX04", ReplayLagTime="00:00:00").errors
        # replayed at 2 logs/s (runbooks §6.3): 1008 modelled seconds
        pending = [p for p in fresh_lab.state()["pending"] if p["label"].startswith("DB08\\EX04 replays")]
        # the lab clock runs x200: allow for a loaded machine between the Set and this read
        assert len(pending) == 1 and 900 < pending[0]["due_in_s"] <= 1008
        assert copy_status(rp, "DB08\\EX04")["ReplayQueueLength"] == 2016
        res = move(rp, Identity="DB08", ActivateOnServer="EX04")  # not lagged now, but the queue is long
        assert "replay queue length of 2016" in props(res.output[0])["ErrorMessage"]


# -------------------------------------------------------- suspend / resume / update
def test_suspend_and_resume(fresh_lab):
    with pool(fresh_lab) as rp:
        res = run(rp, "Suspend-MailboxDatabaseCopy", Identity="DB01\\EX02", SuspendComment="disk work")
        assert res.failed and res.error.fq_error.startswith("HostFunctionNotImplemented,")
        assert not run(
            rp, "Suspend-MailboxDatabaseCopy", Identity="DB01\\EX02", SuspendComment="disk work", Confirm=False
        ).errors
        st = copy_status(rp, "DB01\\EX02")
        assert (st["Status"], st["ActivationSuspended"], st["SuspendComment"]) == ("Suspended", True, "disk work")
        assert not run(rp, "Resume-MailboxDatabaseCopy", Identity="DB01\\EX02").errors
        st = copy_status(rp, "DB01\\EX02")
        assert st["Status"] in ("Initializing", "Healthy")  # Initializing lasts 15 modelled s = 75 ms at x200: a loaded machine may read it Healthy already
        assert (st["ActivationSuspended"], st["SuspendComment"]) == (False, None)
        wait_modelled(16)
        assert copy_status(rp, "DB01\\EX02")["Status"] == "Healthy"
        res = run(rp, "Suspend-MailboxDatabaseCopy", Identity="DB01\\EX01", Confirm=False)
        assert res.failed and "is the active copy" in str(res.error)


def test_activation_only_and_replication_only(fresh_lab):
    with pool(fresh_lab) as rp:
        run(rp, "Suspend-MailboxDatabaseCopy", Identity="DB02\\EX03", ActivationOnly=None, Confirm=False)
        st = copy_status(rp, "DB02\\EX03")
        assert (st["Status"], st["ActivationSuspended"]) == ("Healthy", True)
        run(rp, "Suspend-MailboxDatabaseCopy", Identity="DB02\\EX03", Confirm=False)
        assert copy_status(rp, "DB02\\EX03")["Status"] == "Suspended"
        assert not run(rp, "Resume-MailboxDatabaseCopy", Identity="DB02\\EX03", ReplicationOnly=None).errors
        wait_modelled(16)
        st = copy_status(rp, "DB02\\EX03")
        assert (st["Status"], st["ActivationSuspended"]) == ("Healthy", True)
        run(rp, "Resume-MailboxDatabaseCopy", Identity="DB02\\EX03")
        assert copy_status(rp, "DB02\\EX03")["ActivationSuspended"] is False


def test_update_copy_requirements_states_and_cancel(fresh_lab):
    with pool(fresh_lab) as rp:
        res = run(rp, "Update-MailboxDatabaseCopy", Identity="DB03\\EX04", DeleteExistingFiles=None, Confirm=False)
        assert res.failed and "must be suspended" in str(res.error)
        run(rp, "Suspend-MailboxDatabaseCopy", Identity="DB03\\EX04", Confirm=False)
        res = run(rp, "Update-MailboxDatabaseCopy", Identity="DB03\\EX04", Confirm=False)
        assert res.failed and "-DeleteExistingFiles" in str(res.error)
        res = run(rp, "Update-MailboxDatabaseCopy", Identity="DB03\\EX04", DeleteExistingFiles=None)
        assert res.failed and res.error.fq_error.startswith("HostFunctionNotImplemented,")
        res = run(
            rp,
            "Update-MailboxDatabaseCopy",
            Identity="DB03\\EX04",
            DeleteExistingFiles=None,
            DatabaseOnly=None,
            CatalogOnly=None,
            Confirm=False,
        )
        assert res.failed
        # -ManualResume: seeded, then left Suspended; -SourceServer: a healthy passive copy
        res = run(
            rp,
            "Update-MailboxDatabaseCopy",
            Identity="DB03\\EX04",
            DeleteExistingFiles=None,
            ManualResume=None,
            SourceServer="EX03",
            Confirm=False,
        )
        assert not res.errors
        assert copy_status(rp, "DB03\\EX04")["Status"] == "Suspended"
        res = run(
            rp,
            "Update-MailboxDatabaseCopy",
            Identity="DB03\\EX04",
            DeleteExistingFiles=None,
            BeginSeed=None,
            Confirm=False,
        )
        assert not res.errors
        assert copy_status(rp, "DB03\\EX04")["Status"] == "Seeding"
        assert not run(rp, "Update-MailboxDatabaseCopy", Identity="DB03\\EX04", CancelSeed=None, Confirm=False).errors
        assert copy_status(rp, "DB03\\EX04")["Status"] == "FailedAndSuspended"
        res = run(rp, "Update-MailboxDatabaseCopy", Identity="DB03\\EX04", CancelSeed=None, Confirm=False)
        assert res.failed and "No seeding operation" in str(res.error)


def test_update_server_reseeds_in_batches(fresh_lab):
    with pool(fresh_lab) as rp:
        passive = [
            props(o)["Identity"]
            for o in run(rp, "Get-MailboxDatabaseCopyStatus", Server="EX04").output
            if not props(o)["ActiveCopy"]
        ]
        assert len(passive) == 7
        for identity in passive[:-1]:  # the last one stays Healthy: not suspended, not reseeded
            assert not run(rp, "Suspend-MailboxDatabaseCopy", Identity=identity, Confirm=False).errors
        started = time.monotonic()
        res = run(
            rp,
            "Update-MailboxDatabaseCopy",
            Server="EX04",
            MaximumSeedsInParallel=4,
            DeleteExistingFiles=None,
            Confirm=False,
        )
        assert len(res.errors) == 1 and "must be suspended" in str(res.error) and passive[-1] in str(res.error)
        assert time.monotonic() - started >= 2 * 60 / SPEED  # two batches of 60 modelled seconds
        wait_modelled(16)
        assert {copy_status(rp, i)["Status"] for i in passive} == {"Healthy"}
