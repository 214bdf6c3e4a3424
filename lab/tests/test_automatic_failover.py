"""Automatic failover by Active Manager (runbooks §1.3 mount dial, §1.4 best copy and
server selection, §1.6 activation blocks), quorum (§5), network partitions, site
failures and DAC mode (dac-mode.md), all through plain pypsrp on the Exchange endpoint
with faults injected through the admin API.  Speed 200: 30 modelled seconds = 0.15 s."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import pool, run
from test_failure_catalogue import (
    HOLD,
    block,
    copy,
    dag_status,
    data_loss,
    database,
    eventually,
    queues,
    wait_modelled,
)


def fail_server(lab: Any, server: str) -> None:
    """failure-modes ``server-failure`` without the automatic restart during the test."""
    lab.inject_fault({"id": "server-failure", "target": server, "delay_s": HOLD})


def dial(rp: Any, value: str, *servers: str) -> None:
    for s in servers:
        res = run(rp, "Set-MailboxServer", Identity=s, AutoDatabaseMountDial=value)
        assert not res.failed, res.errors


def losses(lab: Any, name: str = "DB01") -> list[tuple[str, int]]:
    return [(d["server"], d["logs_lost"]) for d in data_loss(lab) if d["database"] == name]


# ------------------------------------------------------------------- mount dial (§1.3)
@pytest.mark.parametrize(
    "mount_dial, copy_queue, mounts",
    [
        ("GoodAvailability", 6, True),
        ("GoodAvailability", 7, False),
        ("BestAvailability", 12, True),
        ("BestAvailability", 13, False),
    ],
)
def test_mount_dial_thresholds(fresh_lab, mount_dial, copy_queue, mounts):
    """A failover whose old active server is gone loses the logs the copy never got; the
    target's AutoDatabaseMountDial allows ≤ 6 (GoodAvailability) or ≤ 12 (BestAvailability)."""
    with pool(fresh_lab, host="EX03") as rp:
        dial(rp, mount_dial, "EX02", "EX03", "EX04")
        queues(fresh_lab, "DB01", EX02=copy_queue, EX03=copy_queue, EX04=copy_queue)
        fail_server(fresh_lab, "EX01")
        db = database(rp)
        if mounts:
            assert db == {"server": "EX02", "mounted": True}  # equal queues: activation preference
            assert losses(fresh_lab) == [("EX02", copy_queue)]
            record = data_loss(fresh_lab)[0]
            assert record["previous_server"] == "EX01" and record["time"] and record["mounted"] is True
        else:
            assert db["server"] == "EX01" and db["mounted"] is not True
            assert copy(rp, "DB01\\EX01")["Status"] == "ServiceDown"
            assert losses(fresh_lab) == []


def test_each_candidate_is_checked_against_its_own_dial(fresh_lab):
    """§1.4: if the best copy's server does not allow the remaining queue, the next one is tried."""
    with pool(fresh_lab, host="EX03") as rp:
        dial(rp, "BestAvailability", "EX03")
        queues(fresh_lab, "DB01", EX02=8, EX03=8, EX04=8)
        fail_server(fresh_lab, "EX01")
        assert database(rp) == {"server": "EX03", "mounted": True}
        assert losses(fresh_lab) == [("EX03", 8)]


def test_lossless_dial_sorts_by_preference_and_loses_nothing(fresh_lab):
    with pool(fresh_lab, host="EX03") as rp:
        # no Lossless server: the shortest copy queue wins
        queues(fresh_lab, "DB01", EX02=3)
        fail_server(fresh_lab, "EX01")
        assert database(rp)["server"] == "EX03" and losses(fresh_lab) == []
        # one server with Lossless: activation preference decides, EX02 (3 logs ≤ 6) mounts
        fresh_lab.reset()
        dial(rp, "Lossless", "EX04")
        queues(fresh_lab, "DB01", EX02=3)
        fail_server(fresh_lab, "EX01")
        assert database(rp)["server"] == "EX02" and losses(fresh_lab) == [("EX02", 3)]
        # the Lossless server itself takes no copy that misses a log
        fresh_lab.reset()
        dial(rp, "Lossless", "EX02")
        queues(fresh_lab, "DB01", EX02=1)
        fail_server(fresh_lab, "EX01")
        assert database(rp)["server"] == "EX03" and losses(fresh_lab) == []


def test_criteria_sets_come_before_the_queue_order(fresh_lab):
    """§1.4: EX02 has the shortest copy queue but a replay queue ≥ 50 (set 6); EX03 meets
    set 1 and wins."""
    with pool(fresh_lab, host="EX03") as rp:
        fresh_lab.inject_fault({"kind": "copy_queue", "database": "DB01", "server": "EX02", "replay_queue": 60})
        queues(fresh_lab, "DB01", EX03=1, EX04=2)
        fail_server(fresh_lab, "EX01")
        assert database(rp) == {"server": "EX03", "mounted": True}
        assert losses(fresh_lab) == [("EX03", 1)]


# -------------------------------------------------------------- activation blocks (§1.6)
def _block_ex02(rp: Any, how: str) -> None:
    if how == "Blocked":
        block(rp, "EX02")
    elif how == "ActivationSuspended":
        res = run(rp, "Suspend-MailboxDatabaseCopy", Identity="DB01\\EX02", ActivationOnly=None, Confirm=False)
        assert not res.errors, res.errors
    elif how == "DatabaseCopyActivationDisabledAndMoveNow":
        res = run(rp, "Set-MailboxServer", Identity="EX02", DatabaseCopyActivationDisabledAndMoveNow=True)
        assert not res.errors, res.errors


@pytest.mark.parametrize("how", ["Blocked", "ActivationSuspended", "DatabaseCopyActivationDisabledAndMoveNow"])
def test_blocked_copies_are_not_activated(fresh_lab, how):
    with pool(fresh_lab, host="EX03") as rp:
        _block_ex02(rp, how)
        fail_server(fresh_lab, "EX01")
        assert database(rp) == {"server": "EX03", "mounted": True}  # not the preference-2 copy


def test_intrasite_only_is_not_a_cross_site_target(fresh_lab):
    with pool(fresh_lab, host="EX03") as rp:
        block(rp, "EX02")
        block(rp, "EX03", policy="IntrasiteOnly")
        fail_server(fresh_lab, "EX01")
        assert database(rp) == {"server": "EX04", "mounted": True}


def test_lagged_copy_is_not_activated_automatically(fresh_lab):
    """runbooks §1.2/§1.6: a lagged copy is a disaster-recovery copy; DB08's copy on EX04
    (replay lag 7 days) stays passive, the database stays dismounted; an explicit move
    with -SkipLagChecks may still activate it (§6.3)."""
    with pool(fresh_lab, host="EX03") as rp:
        block(rp, "EX01", "EX03")
        fail_server(fresh_lab, "EX02")
        assert database(rp, "DB08") == {"server": "EX02", "mounted": None}  # server down: Mounted unknown
        assert copy(rp, "DB08\\EX04")["Status"] == "Healthy"
        res = run(
            rp,
            "Move-ActiveMailboxDatabase",
            Identity="DB08",
            ActivateOnServer="EX04",
            SkipLagChecks=None,
            Confirm=False,
        )
        assert not res.errors, res.errors
        assert database(rp, "DB08") == {"server": "EX04", "mounted": True}


def test_failover_with_no_target_leaves_the_database_dismounted(fresh_lab):
    """Seed 003: a failover that finds no healthy copy leaves the database dismounted; when
    the server comes back (Windows restarts it), Active Manager mounts it there again."""
    with pool(fresh_lab, host="EX03") as rp:
        block(rp, "EX02", "EX03", "EX04")
        fresh_lab.inject_fault({"id": "server-failure", "target": "EX01", "delay_s": 60})
        assert database(rp)["server"] == "EX01" and database(rp)["mounted"] is not True
        assert eventually(lambda: database(rp) == {"server": "EX01", "mounted": True})
        assert fresh_lab.state()["faults"][0]["state"] == "repaired"


# ------------------------------------------------------------------------- quorum (§5)
def test_quorum_node_and_file_share_majority(fresh_lab):
    """Four nodes and the witness: losing the witness and one node keeps quorum (3 of 5);
    a second node loses it and every database of the DAG dismounts; the witness coming
    back restores quorum and Active Manager activates the databases again."""
    with pool(fresh_lab, host="EX03") as rp:
        fresh_lab.inject_fault({"id": "host_unreachable", "target": "FS01"})
        assert dag_status(rp)["operational"] == ["EX01", "EX02", "EX03", "EX04"]
        fail_server(fresh_lab, "EX01")
        st = dag_status(rp)
        assert st["operational"] == ["EX02", "EX03", "EX04"] and st["pam"] == "EX02"
        assert database(rp) == {"server": "EX02", "mounted": True}
        fail_server(fresh_lab, "EX02")
        assert dag_status(rp) == {"operational": [], "pam": None}
        assert database(rp, "DB05") == {"server": "EX03", "mounted": False}
        quorum = next(d for d in fresh_lab.state()["dags"] if d["name"] == "DAG1")["quorum"]
        assert (quorum["votes"], quorum["total_votes"], quorum["has_quorum"]) == (2, 5, False)
        res = run(rp, "Mount-Database", Identity="DB05")
        assert res.failed and "quorum" in str(res.error)
        fresh_lab.clear_faults({"id": "host_unreachable", "target": "FS01"})
        assert dag_status(rp)["operational"] == ["EX03", "EX04"]
        assert database(rp, "DB05") == {"server": "EX03", "mounted": True}
        assert database(rp)["server"] in ("EX03", "EX04") and database(rp)["mounted"] is True


def test_wan_partition_each_side_evaluates_quorum(fresh_lab):
    """DC1 holds two nodes and the witness (3 of 5 votes): it keeps quorum; DC2's nodes are
    cut off, their databases fail over to DC1 and their copies show Disconnected*."""
    with pool(fresh_lab, host="EX01") as rp:
        fresh_lab.inject_fault({"id": "wan_partition", "target": "DC1,DC2"})
        st = dag_status(rp)
        assert st == {"operational": ["EX01", "EX02"], "pam": "EX01"}
        assert database(rp, "DB05") == {"server": "EX01", "mounted": True}  # EX03 -> preference 3
        assert database(rp, "DB06")["server"] in ("EX01", "EX02")
        assert copy(rp, "DB01\\EX03")["Status"] == "DisconnectedAndHealthy"
        # the old active copy (Initializing for 15 s, then Healthy) is cut off too
        assert copy(rp, "DB05\\EX03")["Status"] in ("DisconnectedAndResynchronizing", "DisconnectedAndHealthy")
        assert fresh_lab.state()["failures"]["partitions"] == [["DC1", "DC2"]]
        fresh_lab.clear_faults({"id": "wan_partition", "target": "DC1,DC2"})
        assert dag_status(rp)["operational"] == ["EX01", "EX02", "EX03", "EX04"]
        assert eventually(lambda: copy(rp, "DB05\\EX03")["Status"] == "Healthy")
        assert copy(rp, "DB01\\EX03")["Status"] == "Healthy"


def test_wan_partition_without_the_witness_loses_quorum_on_both_sides(fresh_lab):
    with pool(fresh_lab, host="EX03") as rp:
        fresh_lab.inject_fault({"id": "host_unreachable", "target": "FS01"})
        fresh_lab.inject_fault({"id": "wan_partition", "target": "DC2,DC1"})
        assert dag_status(rp) == {"operational": [], "pam": None}
        for name in ("DB01", "DB05"):
            assert database(rp, name)["mounted"] is False


def test_site_down_of_the_secondary_site(fresh_lab):
    with pool(fresh_lab, host="EX01") as rp:
        fresh_lab.inject_fault({"id": "site_down", "target": "DC2"})
        assert dag_status(rp) == {"operational": ["EX01", "EX02"], "pam": "EX01"}
        assert database(rp, "DB05") == {"server": "EX01", "mounted": True}
        assert database(rp, "DB06") == {"server": "EX02", "mounted": True}
        hosts = {h["name"]: h["up"] for h in fresh_lab.state()["hosts"]}
        assert [n for n, up in sorted(hosts.items()) if not up] == ["DC02", "EX03", "EX04", "FS02"]
        fresh_lab.clear_faults({"id": "site_down", "target": "DC2"})
        assert dag_status(rp)["operational"] == ["EX01", "EX02", "EX03", "EX04"]
        assert eventually(lambda: copy(rp, "DB05\\EX03")["Status"] == "Healthy")


def test_datacenter_switchover_after_a_primary_site_failure_in_dac_mode(fresh_lab):
    """runbooks §5.2/§5.5: the primary site (two members and the witness) fails: quorum is
    lost.  The DAG is activated in DC2 (Stop -ConfigurationOnly, Restore).  The primary
    comes back while the WAN is still down: its servers restart with DACP bit 0 and are
    stopped, so no database mounts there; after the WAN returns, Start-DAG brings them back."""
    lab = fresh_lab
    with pool(lab, host="EX03") as rp:
        lab.inject_fault({"id": "site_down", "target": "DC1"})
        assert dag_status(rp) == {"operational": [], "pam": None}
        assert database(rp, "DB05") == {"server": "EX03", "mounted": False}
        dac = {"Identity": "DAG1", "Confirm": False}
        assert not run(
            rp, "Stop-DatabaseAvailabilityGroup", ActiveDirectorySite="DC1", ConfigurationOnly=None, **dac
        ).errors
        assert not run(rp, "Restore-DatabaseAvailabilityGroup", ActiveDirectorySite="DC2", **dac).errors
        assert dag_status(rp)["operational"] == ["EX03", "EX04"]
        assert database(rp) == {"server": "EX03", "mounted": True}
        assert database(rp, "DB05") == {"server": "EX03", "mounted": True}
        # power back in DC1, WAN still down
        lab.inject_fault({"id": "wan_partition", "target": "DC1,DC2"})
        lab.clear_faults({"id": "site_down", "target": "DC1"})
        state = lab.state()
        assert state["failures"]["dacp"] == {"EX01": 0, "EX02": 0, "EX03": 1, "EX04": 1}
        assert not [
            d["name"]
            for d in state["databases"]
            if d["active_server"] in ("EX01", "EX02") and d["mount_state"] == "Mounted"
        ]
        res = run(rp, "Move-ActiveMailboxDatabase", Identity="DB01", ActivateOnServer="EX01", Confirm=False)
        assert res.errors and database(rp)["server"] == "EX03"
        # WAN back: the DC1 members learn the DACP bit from DC2, then are started again
        lab.clear_faults({"id": "wan_partition", "target": "DC1,DC2"})
        assert lab.state()["failures"]["dacp"]["EX01"] == 1
        assert not run(rp, "Start-DatabaseAvailabilityGroup", ActiveDirectorySite="DC1", **dac).errors
        assert dag_status(rp)["operational"] == ["EX01", "EX02", "EX03", "EX04"]
        assert eventually(lambda: copy(rp, "DB01\\EX01")["Status"] == "Healthy")
        res = run(rp, "Move-ActiveMailboxDatabase", Identity="DB01", ActivateOnServer="EX01", Confirm=False)
        assert not res.errors, res.errors
        assert database(rp) == {"server": "EX01", "mounted": True}


@pytest.mark.parametrize("mode", ["Off", "DagOnly"])
def test_dacp_bit_keeps_a_restarted_primary_from_mounting(fresh_lab, mode):
    """dac-mode.md: the primary datacenter (two members and the witness) loses power after
    its WAN link; when power returns without the WAN, its members have quorum.  Without
    DAC mode they mount their databases (a split brain if DC2 had been activated); in DAC
    mode their DACP bit is 0 and no member with bit 1 is reachable: nothing mounts until
    the WAN is back."""
    lab = fresh_lab
    with pool(lab, host="EX03") as rp:
        assert not run(rp, "Set-DatabaseAvailabilityGroup", Identity="DAG1", DatacenterActivationMode=mode).errors
        lab.inject_fault({"id": "wan_partition", "target": "DC1,DC2"})
        lab.inject_fault({"id": "site_down", "target": "DC1"})
        assert dag_status(rp)["operational"] == []
        lab.clear_faults({"id": "site_down", "target": "DC1"})  # power back, WAN still down
        assert dag_status(rp)["operational"] == ["EX01", "EX02"]  # DC1 has quorum
        if mode == "Off":
            assert database(rp) == {"server": "EX01", "mounted": True}
            return
        assert database(rp) == {"server": "EX01", "mounted": False}
        assert lab.state()["failures"]["dacp"]["EX01"] == 0
        res = run(rp, "Mount-Database", Identity="DB01")
        assert res.failed and "DACP" in str(res.error)
        lab.clear_faults({"id": "wan_partition", "target": "DC1,DC2"})
        assert database(rp) == {"server": "EX01", "mounted": True}
        assert lab.state()["failures"]["dacp"] == {"EX01": 1, "EX02": 1, "EX03": 1, "EX04": 1}


def test_restarted_member_learns_the_dacp_bit_from_a_running_member(fresh_lab):
    with pool(fresh_lab, host="EX03") as rp:
        block(rp, "EX02", "EX03", "EX04")
        fail_server(fresh_lab, "EX01")
        fresh_lab.clear_faults({"id": "server-failure", "target": "EX01"})
        assert database(rp) == {"server": "EX01", "mounted": True}
        assert fresh_lab.state()["failures"]["dacp"]["EX01"] == 1


# ------------------------------------------------------------------------ slow network
def test_slow_network_grows_copy_queues_and_drains_after(fresh_lab):
    with pool(fresh_lab, host="EX03") as rp:
        fresh_lab.inject_fault({"id": "slow_network", "target": "EX02", "logs_per_minute": 12})
        wait_modelled(65)
        incoming = copy(rp, "DB01\\EX02")["CopyQueueLength"]  # a copy on the slow host
        outgoing = copy(rp, "DB02\\EX03")["CopyQueueLength"]  # a copy of a database active there
        assert incoming >= 10 and outgoing >= 10, (incoming, outgoing)
        assert copy(rp, "DB01\\EX03")["CopyQueueLength"] == 0
        # the lagging copy now falls behind BCSS set 1 and the GoodAvailability dial
        block(rp, "EX03", "EX04")
        fail_server(fresh_lab, "EX01")
        assert database(rp)["server"] == "EX01" and database(rp)["mounted"] is not True
        fresh_lab.clear_faults({"id": "slow_network", "target": "EX02"})
        assert eventually(lambda: copy(rp, "DB02\\EX03")["CopyQueueLength"] == 0)


def test_data_loss_is_part_of_the_state(fresh_lab):
    """A lossy mount (old active server unreachable) is listed with database, server,
    logs lost and time; a lossless one is not."""
    queues(fresh_lab, "DB03", EX02=2, EX03=2, EX04=2)
    fresh_lab.inject_fault({"id": "os-drive-failure", "target": "EX01"})
    loss = [d for d in fresh_lab.state()["data_loss"] if d["database"] == "DB03"]
    assert len(loss) == 1 and loss[0]["logs_lost"] == 2 and loss[0]["server"] == "EX02"
    assert set(loss[0]) >= {"database", "server", "logs_lost", "time"}
    fresh_lab.reset()
    queues(fresh_lab, "DB03", EX02=2, EX03=2, EX04=2)
    fresh_lab.inject_fault({"id": "os-drive-out-of-space", "target": "EX01"})  # server still reachable: ACLL
    assert fresh_lab.state()["data_loss"] == []
    assert next(d for d in fresh_lab.state()["databases"] if d["name"] == "DB03")["active_server"] == "EX02"
