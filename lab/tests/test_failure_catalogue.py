"""Every row of seed 003's failure table (shared/reference/failure-modes.yml), injected by
its id through the admin API and observed through plain pypsrp on the Exchange endpoint
(Get-MailboxDatabase -Status, Get-MailboxDatabaseCopyStatus, Get-DatabaseAvailabilityGroup
-Status).  The expected values come from the row's ``oracle`` fields through the mappings
below (oracle vocabulary -> observable state), not from per-row assertions.

Scenarios per row (lab/README-model.md, "Failure catalogue and automatic failover"):
  A  activation: the failure hits DB01's active side (DB01 on EX01, or EX01, or DAG1) while
     every other copy can be activated;
  B  no copy can be activated (EX02-EX04 Blocked): the state of the failed active copy,
     the passive copies of a database/server/DAG failure, then the repair (automatic, or
     the administrator's = clearing the fault);
  P  copy failures: the failure hits the passive copy DB01\\EX02, then its repair.
The session lab runs at speed 200 (30 modelled seconds = 0.15 s).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from conftest import pool, props, run

SPEED = 200.0
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REFERENCE = SHARED / "reference" / "failure-modes.yml"
HOLD = 1e6  # delay_s that keeps an automatic repair from happening during a scenario

PASSIVE_STATUSES = (
    "Healthy",
    "DisconnectedAndHealthy",
    "DisconnectedAndResynchronizing",
    "SeedingSource",
    "Initializing",
    "Resynchronizing",
    "Seeding",
    "Suspended",
    "Failed",
    "FailedAndSuspended",
    "ServiceDown",
)
ACTIVE_STATUSES = ("Mounted", "Dismounted", "Mounting", "Dismounting", "ServiceDown")


def _reference_rows() -> list[dict[str, Any]]:
    """The rows of failure-modes.yml; without the reference checkout, the lab's embedded
    copy of the same oracle fields (test_catalogue_matches_the_reference compares them)."""
    if REFERENCE.is_file():
        return yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))["failure_modes"]
    from exchange_lab.model.failures import CATALOGUE

    return [{"id": m.id, "seed_row": m.row, "oracle": m.oracle()} for m in CATALOGUE]


ROWS = _reference_rows()
ORACLE = {r["id"]: r["oracle"] for r in ROWS}


# ----------------------------------------------------------------- observation helpers
def wait_modelled(seconds: float) -> None:
    time.sleep(seconds / SPEED + 0.05)


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``check`` until it returns a truthy value (real seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def database(rp: Any, name: str = "DB01") -> dict[str, Any]:
    res = run(rp, "Get-MailboxDatabase", Identity=name, Status=True)
    assert not res.failed, res.errors
    d = props(res.output[0])
    return {"server": d["Server"], "mounted": d["Mounted"]}


def copy(rp: Any, identity: str) -> dict[str, Any]:
    res = run(rp, "Get-MailboxDatabaseCopyStatus", Identity=identity)
    assert not res.failed, res.errors
    return props(res.output[0])


def copies_on(rp: Any, server: str) -> list[dict[str, Any]]:
    res = run(rp, "Get-MailboxDatabaseCopyStatus", Server=server)
    assert not res.failed, res.errors
    return [props(o) for o in res.output]


def dag_status(rp: Any) -> dict[str, Any]:
    res = run(rp, "Get-DatabaseAvailabilityGroup", Identity="DAG1", Status=True)
    assert not res.failed, res.errors
    d = props(res.output[0])
    return {"operational": sorted(d["OperationalServers"] or []), "pam": d["PrimaryActiveManager"]}


def block(rp: Any, *servers: str, policy: str = "Blocked") -> None:
    for s in servers:
        res = run(rp, "Set-MailboxServer", Identity=s, DatabaseCopyAutoActivationPolicy=policy)
        assert not res.failed, res.errors


def queues(lab: Any, database_name: str, **copy_queue: int) -> None:
    for server, n in copy_queue.items():
        lab.inject_fault({"kind": "copy_queue", "database": database_name, "server": server, "copy_queue": n})


def data_loss(lab: Any) -> list[dict[str, Any]]:
    return lab.state()["data_loss"]


def pending_repairs(lab: Any, fid: str) -> list[str]:
    """Scheduled work of a failure other than queue growth (i.e. an automatic repair)."""
    return [
        p["label"]
        for p in lab.state()["pending"]
        if p["label"].startswith(fid + " ") and "copy queues grow" not in p["label"] and "catches up" not in p["label"]
    ]


# -------------------------------------------------- oracle vocabulary -> observations
# Where the failure of each target kind lands in the two-datacenters topology: DB01 is
# active on EX01 with passive copies on EX02 (preference 2), EX03, EX04.
ACTIVE_TARGET = {"copy": "DB01\\EX01", "database": "DB01", "server": "EX01", "dag": "DAG1"}
PASSIVE_TARGET = "DB01\\EX02"

FAILS_OVER = (
    "automatic_failover",
    "automatic_failover_unless_blocked",
    "automatic_failover_if_other_copies_ok",
    "automatic_failover_lossless",
)
STAYS_MOUNTED = ("none", "copy_or_seed_interruption", "not_applicable")


def active_copy_ok(vocab: str, db: dict[str, Any], status: str) -> bool:
    """``active_copy`` oracle: DB01's state while no other copy can be activated."""
    on_source = db["server"] == "EX01"
    return {
        "dismounted": on_source and db["mounted"] is not True and status in ("Dismounted", "ServiceDown"),
        "dismounted_if_unrecoverable": on_source
        and db["mounted"] is not True
        and status in ("Dismounted", "ServiceDown"),
        "manual_switchover_or_failover_or_online_repair": db["mounted"] is True,
        "mounted_partially_functional": on_source and db["mounted"] is True,
        "mounted_possible_performance_issues": on_source and db["mounted"] is True,
        "unchanged": on_source and db["mounted"] is True,
        "not_applicable": on_source and db["mounted"] is True,
        "any": status in ACTIVE_STATUSES,
    }[vocab]


def passive_copy_ok(vocab: str, c: dict[str, Any]) -> bool:
    """``passive_copy`` oracle on a passive copy the failure hits."""
    return {
        "failed": c["Status"] in ("Failed", "FailedAndSuspended"),
        "suspended": c["Status"] == "Suspended" and c["ActivationSuspended"] is True,
        "any": c["Status"] in PASSIVE_STATUSES,
        "any_possibly_partially_functional": c["Status"] in PASSIVE_STATUSES,
        "not_applicable": c["Status"] in ("Healthy", "Initializing"),
    }[vocab]


# timed automatic repairs: the lab performs them after ``delay_s``
TIMED_REPAIRS = (
    "patch_bad_page",
    "reformat_or_replace_then_full_rebuild",
    "reformat_or_replace",
    "scm_restarts_information_store",
    "restart_computer",
    "discard_log",
)


@pytest.fixture(scope="module")
def scopes(lab: Any) -> dict[str, str]:
    """Target kind of every id, as the lab's catalogue lists it (admin API)."""
    return {e["id"]: e["target"] for e in lab.state()["failures"]["catalogue"]}


def side_target(oracle: dict[str, Any], scope: str) -> str:
    """Where scenarios A and B inject: DB01's active side, or the passive copy for rows
    whose active copy is not involved (``active_copy: not_applicable``)."""
    if scope == "copy" and oracle["active_copy"] == "not_applicable":
        return PASSIVE_TARGET
    return ACTIVE_TARGET[scope]


def spec(fid: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"id": fid, "target": target, **extra}


def inject(lab: Any, fid: str, target: str, scopes: dict[str, str], **extra: Any) -> None:
    """Inject; a timed automatic repair (or the end of a copying interruption) is held off
    so that the scenario sees the state during the repair."""
    oracle = ORACLE.get(fid, {})
    timed = oracle.get("automatic_repair") in TIMED_REPAIRS or oracle.get("activation") == "copy_or_seed_interruption"
    if "delay_s" not in extra and timed:
        extra["delay_s"] = HOLD
    lab.inject_fault(spec(fid, target, **extra))


# ====================================================================== the catalogue
@pytest.mark.skipif(not REFERENCE.is_file(), reason=f"reference data not present at {REFERENCE}")
def test_catalogue_matches_the_reference(lab):
    from exchange_lab.model.failures import CATALOGUE

    listed = [(e["id"], e["row"]) for e in lab.state()["failures"]["catalogue"] if e["row"] is not None]
    assert listed == [(r["id"], r["seed_row"]) for r in ROWS]
    assert len(listed) == 32
    assert {m.id: m.oracle() for m in CATALOGUE} == ORACLE


@pytest.mark.parametrize("fid", [r["id"] for r in ROWS])
def test_failure_entry(fresh_lab, scopes, fid):
    oracle = ORACLE[fid]
    scope = scopes[fid]
    lab = fresh_lab
    with pool(lab, host="EX03") as rp:
        if oracle["activation"] == "auto_recovery_may_be_prevented":
            _check_prevented_recovery(lab, rp, fid, oracle, scopes)
        else:
            lab.reset()
            _check_activation(lab, rp, fid, oracle, scope, scopes)
            lab.reset()
            _check_active_copy_and_repair(lab, rp, fid, oracle, scope, scopes)
        if scope == "copy":
            lab.reset()
            _check_passive_copy_and_repair(lab, rp, fid, oracle, scopes)


def _check_activation(lab: Any, rp: Any, fid: str, oracle: dict, scope: str, scopes: dict) -> None:
    vocab = oracle["activation"]
    lossless = vocab == "automatic_failover_lossless"
    logs_lost = 4 if oracle.get("recent_logs_may_be_lost") else 0
    if lossless:
        # BCSS sorts a lossless activation by activation preference: the preference-2
        # copy wins even though its copy queue is the longest, and no log is lost
        queues(lab, "DB01", EX02=3)
    elif scope == "copy" and vocab in FAILS_OVER:
        queues(lab, "DB01", EX02=4, EX03=5, EX04=5)
    inject(lab, fid, side_target(oracle, scope), scopes)
    db = database(rp)
    if vocab in FAILS_OVER:
        assert db["server"] != "EX01" and db["mounted"] is True, db
        assert copy(rp, f"DB01\\{db['server']}")["Status"] == "Mounted"
        if lossless:
            assert db["server"] == "EX02" and data_loss(lab) == []
        elif scope == "copy":
            assert db["server"] == "EX02"
            # the failed copy, now passive, is in the row's passive state
            old = copy(rp, "DB01\\EX01")
            assert passive_copy_ok(oracle["passive_copy"], old), (oracle["passive_copy"], old["Status"])
            lost = [d["logs_lost"] for d in data_loss(lab) if d["database"] == "DB01"]
            assert lost == ([logs_lost] if logs_lost else []), lost
    elif vocab == "possible_automatic_failover":
        assert db["mounted"] is True, db
    elif vocab == "outage_until_repaired":
        assert db == {"server": "EX01", "mounted": False}
        assert copy(rp, "DB01\\EX02")["Status"] != "Mounted"
    elif vocab in STAYS_MOUNTED:
        assert db == {"server": "EX01", "mounted": True}
        if vocab == "copy_or_seed_interruption":
            # copying is interrupted while replication moves to another network
            assert {c["Status"] for c in copies_on(rp, "EX01") if not c["ActiveCopy"]} <= {
                "DisconnectedAndHealthy",
                "DisconnectedAndResynchronizing",
            }
    else:  # pragma: no cover - a vocabulary the mapping does not know
        pytest.fail(f"unmapped activation vocabulary {vocab!r}")
    if vocab == "automatic_failover_if_other_copies_ok":
        # the other copies in the same state: nothing to fail over to
        lab.reset()
        for srv in ("EX02", "EX03", "EX04"):
            inject(lab, fid, f"DB01\\{srv}", scopes)
        inject(lab, fid, "DB01\\EX01", scopes)
        assert database(rp) == {"server": "EX01", "mounted": False}


def _check_active_copy_and_repair(lab: Any, rp: Any, fid: str, oracle: dict, scope: str, scopes: dict) -> None:
    block(rp, "EX02", "EX03", "EX04")
    target = side_target(oracle, scope)
    inject(lab, fid, target, scopes)
    db = database(rp)
    status = copy(rp, "DB01\\EX01")["Status"]
    assert active_copy_ok(oracle["active_copy"], db, status), (oracle["active_copy"], db, status)
    if scope == "copy":
        passive = []
    elif scope == "server":
        passive = [c for c in copies_on(rp, "EX01") if not c["ActiveCopy"]]
    else:
        passive = [copy(rp, f"DB01\\{s}") for s in ("EX02", "EX03", "EX04")]
    for c in passive:
        assert passive_copy_ok(oracle["passive_copy"], c), (oracle["passive_copy"], c["Identity"], c["Status"])
    repair = oracle["automatic_repair"]
    if repair in TIMED_REPAIRS:
        assert pending_repairs(lab, fid), "the automatic repair is scheduled"
        if scope != "copy":
            # the same failure with a short delay: the system repairs itself and DB01
            # mounts again on EX01 without an administrator
            lab.clear_faults(spec(fid, target))
            lab.reset()
            block(rp, "EX02", "EX03", "EX04")
            lab.inject_fault(spec(fid, target, delay_s=1))
            assert eventually(lambda: database(rp) == {"server": "EX01", "mounted": True}), database(rp)
            return
    else:
        assert pending_repairs(lab, fid) == [], "no automatic repair"
    # the repair action (the administrator's, or the network coming back): DB01 is
    # mounted again where it was, by Active Manager or by the administrator's repair
    lab.clear_faults(spec(fid, target))
    assert eventually(lambda: database(rp) == {"server": "EX01", "mounted": True}), database(rp)
    if oracle["passive_copy"] == "suspended":
        # seed 003: "The active and passive database copies diverge": a reseed is needed
        for s in ("EX02", "EX03", "EX04"):
            assert copy(rp, f"DB01\\{s}")["Status"] == "FailedAndSuspended"


def _check_passive_copy_and_repair(lab: Any, rp: Any, fid: str, oracle: dict, scopes: dict) -> None:
    inject(lab, fid, PASSIVE_TARGET, scopes)
    c = copy(rp, PASSIVE_TARGET)
    assert passive_copy_ok(oracle["passive_copy"], c), (oracle["passive_copy"], c["Status"])
    assert database(rp) == {"server": "EX01", "mounted": True}
    repair = oracle["automatic_repair"]
    healthy = lambda: copy(rp, PASSIVE_TARGET)["Status"] == "Healthy"  # noqa: E731
    if repair in TIMED_REPAIRS:
        # nothing heals while the repair is pending ...
        assert pending_repairs(lab, fid)
        assert copy(rp, PASSIVE_TARGET)["Status"] == c["Status"]
        # ... and with a short delay the system repairs the copy by itself
        lab.clear_faults(spec(fid, PASSIVE_TARGET))
        lab.reset()
        lab.inject_fault(spec(fid, PASSIVE_TARGET, delay_s=1))
        assert eventually(healthy), copy(rp, PASSIVE_TARGET)["Status"]
        return
    assert pending_repairs(lab, fid) == []
    if repair == "rebuild_volume_after_drive_replacement":
        # the drive was replaced: the volume is rebuilt and the copy reseeded (AutoReseed)
        lab.clear_faults({**spec(fid, PASSIVE_TARGET), "drive_replaced": True})
        assert eventually(lambda: copy(rp, PASSIVE_TARGET)["Status"] in ("Seeding", "Initializing", "Healthy"))
    else:
        lab.clear_faults(spec(fid, PASSIVE_TARGET))
    assert eventually(healthy), copy(rp, PASSIVE_TARGET)["Status"]
    assert copy(rp, PASSIVE_TARGET)["ActivationSuspended"] is False


def _check_prevented_recovery(lab: Any, rp: Any, fid: str, oracle: dict, scopes: dict) -> None:
    """auto_recovery_may_be_prevented: the affected (suspended) copy is not activated when
    the active copy fails; with no other copy allowed, DB01 stays dismounted."""
    lab.reset()
    inject(lab, fid, PASSIVE_TARGET, scopes)
    c = copy(rp, PASSIVE_TARGET)
    assert passive_copy_ok(oracle["passive_copy"], c), c["Status"]
    assert active_copy_ok(oracle["active_copy"], database(rp), copy(rp, "DB01\\EX01")["Status"])
    lab.inject_fault({"id": "server-failure", "target": "EX01", "delay_s": HOLD})
    assert database(rp)["server"] not in ("EX01", "EX02") and database(rp)["mounted"] is True
    lab.reset()
    inject(lab, fid, PASSIVE_TARGET, scopes)
    block(rp, "EX03", "EX04")
    lab.inject_fault({"id": "server-failure", "target": "EX01", "delay_s": HOLD})
    assert database(rp)["server"] == "EX01" and database(rp)["mounted"] is not True


# ============================================================= targets and errors
@pytest.mark.parametrize(
    "bad, needle",
    [
        ({"id": "no-such-failure", "target": "EX01"}, "unknown failure id"),
        ({"id": "server-failure"}, "missing 'target'"),
        ({"id": "server-failure", "target": "EX99"}, "unknown Exchange server"),
        ({"id": "ntfs-block-failure", "target": "DB99"}, "unknown database"),
        ({"id": "continuous-replication-detects-invalid-log", "target": "DB01"}, "applies to passive copies"),
        ({"id": "admin-suspends-wrong-database-copy", "target": "DB01\\EX01"}, "applies to passive copies"),
        ({"id": "wan_partition", "target": "DC1"}, "two sites"),
        ({"id": "site_down", "target": "DC9"}, "unknown Active Directory site"),
        ({"id": "server-failure", "target": "EX01", "delay_s": -1}, "delay_s"),
        ({"id": "server-failure", "target": "EX01", "colour": "red"}, "unknown key"),
        ({"id": "slow_network", "target": "FS01"}, "not an Exchange server"),
    ],
)
def test_bad_failure_specs_are_refused(fresh_lab, bad, needle):
    from exchange_lab.server import LabError

    with pytest.raises(LabError, match=needle):
        fresh_lab.inject_fault(bad)
    assert fresh_lab.state()["faults"] == []


def test_inject_twice_and_clear_by_id(fresh_lab):
    from exchange_lab.server import LabError

    fresh_lab.inject_fault({"id": "information-store-partial-failure", "target": "EX01"})
    with pytest.raises(LabError, match="already injected"):
        fresh_lab.inject_fault({"id": "information-store-partial-failure", "target": "ex01"})
    fresh_lab.inject_fault({"id": "information-store-partial-failure", "target": "EX02"})
    record = fresh_lab.state()["faults"][0]
    assert (record["kind"], record["id"], record["target"], record["row"], record["state"]) == (
        "failure",
        "information-store-partial-failure",
        "EX01",
        19,
        "active",
    )
    fresh_lab.clear_faults({"id": "information-store-partial-failure"})  # every target of the id
    assert fresh_lab.state()["faults"] == []
    with pytest.raises(LabError, match="no information-store-partial-failure fault"):
        fresh_lab.clear_faults({"id": "information-store-partial-failure", "target": "EX01"})


def test_database_target_means_its_active_copy_and_clear_all(fresh_lab):
    fresh_lab.inject_fault({"id": "database-or-log-volume-out-of-space", "target": "DB03"})
    fresh_lab.inject_fault({"kind": "server_down", "server": "EX04"})
    faults = fresh_lab.state()["faults"]
    assert faults[0]["target"] == "DB03\\EX01"
    with pool(fresh_lab, host="EX03") as rp:
        assert database(rp, "DB03") == {"server": "EX02", "mounted": True}
        assert copy(rp, "DB03\\EX01")["Status"] == "Failed"
        fresh_lab.clear_faults()  # both kinds of fault at once
        assert fresh_lab.state()["faults"] == []
        assert eventually(lambda: copy(rp, "DB03\\EX01")["Status"] == "Healthy")


def test_reseed_needed_until_update_mailboxdatabasecopy(fresh_lab):
    """A rebuilt volume without AutoReseed: the copy stays FailedAndSuspended (Resume
    can't help, the files are gone) until Update-MailboxDatabaseCopy seeds it."""
    with pool(fresh_lab, host="EX03") as rp:
        assert not run(rp, "Set-DatabaseAvailabilityGroup", Identity="DAG1", AutoDagAutoReseedEnabled=False).errors
        fresh_lab.inject_fault({"id": "database-or-log-drive-failure", "target": PASSIVE_TARGET, "delay_s": 1})
        wait_modelled(5)
        assert copy(rp, PASSIVE_TARGET)["Status"] == "FailedAndSuspended"  # no AutoReseed
        fresh_lab.clear_faults({"id": "database-or-log-drive-failure", "target": PASSIVE_TARGET})
        wait_modelled(20)
        c = copy(rp, PASSIVE_TARGET)
        assert c["Status"] == "FailedAndSuspended" and "reseeded" in c["ErrorMessage"]
        assert fresh_lab.state()["failures"]["needs_reseed"] == ["DB01\\EX02"]
        res = run(rp, "Resume-MailboxDatabaseCopy", Identity=PASSIVE_TARGET)
        assert res.failed and "needs to be seeded" in str(res.error)
        res = run(rp, "Move-ActiveMailboxDatabase", Identity="DB01", ActivateOnServer="EX02", Confirm=False)
        assert res.errors and database(rp)["server"] == "EX01"
        res = run(rp, "Update-MailboxDatabaseCopy", Identity=PASSIVE_TARGET, Confirm=False)
        assert not res.errors, res.errors
        assert eventually(lambda: copy(rp, PASSIVE_TARGET)["Status"] == "Healthy")
        assert fresh_lab.state()["failures"]["needs_reseed"] == []


def test_failed_copy_does_not_heal_while_the_failure_lasts(fresh_lab):
    with pool(fresh_lab, host="EX03") as rp:
        fresh_lab.inject_fault({"id": "ese-software-error-or-resource-exhaustion", "target": PASSIVE_TARGET})
        assert not run(rp, "Suspend-MailboxDatabaseCopy", Identity=PASSIVE_TARGET, Confirm=False).errors
        assert not run(rp, "Resume-MailboxDatabaseCopy", Identity=PASSIVE_TARGET).errors
        wait_modelled(20)
        c = copy(rp, PASSIVE_TARGET)
        assert c["Status"] == "Failed" and "terminated the instance" in c["ErrorMessage"]
        # and the database can't be mounted on a failed copy
        block(rp, "EX01", "EX02", "EX04")
        fresh_lab.inject_fault({"id": "ese-software-error-or-resource-exhaustion", "target": "DB05\\EX03"})
        assert database(rp, "DB05") == {"server": "EX03", "mounted": False}
        res = run(rp, "Mount-Database", Identity="DB05")
        assert res.failed and "has failed" in str(res.error)


def test_lagged_copy_with_a_bad_page_needs_a_reseed(fresh_lab):
    """runbooks §6.3: lagged copies can't be page-patched; a -1018 forces a reseed."""
    with pool(fresh_lab, host="EX03") as rp:
        fresh_lab.inject_fault({"id": "ese-soft-database-failure", "target": "DB08\\EX04", "delay_s": 1})
        wait_modelled(20)
        assert copy(rp, "DB08\\EX04")["Status"] == "FailedAndSuspended"


def test_online_repair_of_the_active_copy(fresh_lab):
    with pool(fresh_lab, host="EX03") as rp:
        fresh_lab.inject_fault({"id": "ese-soft-database-failure", "target": "DB01", "delay_s": 1})
        assert database(rp) == {"server": "EX01", "mounted": True}
        assert eventually(lambda: fresh_lab.state()["faults"][0]["state"] == "repaired")
        assert database(rp) == {"server": "EX01", "mounted": True}


def test_information_store_failure_is_visible_as_a_stopped_service(fresh_lab):
    """information-store-*: the service of model/windows.py stops (Get-Service on the
    Windows endpoint) and starts again with the repair."""
    fault = {"id": "information-store-stopped-or-paused-by-admin", "target": "EX01"}
    fresh_lab.inject_fault(fault)
    with pool(fresh_lab, host="EX01", configuration="Microsoft.PowerShell") as win, pool(fresh_lab, host="EX03") as rp:

        def service() -> str:
            res = run(win, "Get-Service", Name="MSExchangeIS")
            assert not res.failed, res.errors
            return str(props(res.output[0])["Status"])

        assert service() in ("Stopped", "1")
        assert "EX01" not in dag_status(rp)["operational"]
        fresh_lab.clear_faults(fault)
        assert service() in ("Running", "4")
        assert "EX01" in dag_status(rp)["operational"]


def test_cli_injects_by_id(fresh_lab, capsys):
    """``exchange-lab fault inject <id> --target X`` as an alternative to --spec (the
    command run in this process against the session lab's state dir)."""
    import json

    from exchange_lab import cli

    def main(*args: str) -> tuple[int, Any, str]:
        code = 0
        try:
            cli.main([*args, "--state-dir", str(fresh_lab.state_dir)])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.strip() else None), err

    code, out, _ = main("fault", "inject", "mapi-network-failure", "--target", "EX02")
    assert code == 0 and [(f["id"], f["target"]) for f in out["faults"]] == [("mapi-network-failure", "EX02")]
    code, out, _ = main("fault", "inject", "server-failure", "--target", "EX04", "--spec", '{"delay_s": 100000}')
    assert code == 0 and out["faults"][-1]["delay_s"] == 100000
    code, _, err = main("fault", "inject", "server-failure")
    assert code == 1 and "needs --target" in err and err.count("\n") == 1
    code, _, err = main("fault", "inject", "meteor", "--target", "EX01")
    assert code == 1 and "unknown failure id" in err and err.count("\n") == 1
    code, _, err = main("fault", "inject", "--target", "EX01")
    assert code == 1 and "--target goes with a failure id" in err
    state = fresh_lab.state()
    assert next(d for d in state["databases"] if d["name"] == "DB02")["active_server"] == "EX01"
    assert main("fault", "clear", "mapi-network-failure", "--target", "EX02")[0] == 0
    code, out, _ = main("fault", "clear", "server-failure")
    assert code == 0 and out["faults"] == []
