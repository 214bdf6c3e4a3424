"""dag_restore with parallel_cluster_stop, and the ClusSvc stops without a read around each (the fake
clients of test_datacenter_modules)."""

from __future__ import annotations

from ansible_collections.exchange.dr.plugins.modules import dag_restore

from . import test_datacenter_modules as base
from .test_datacenter_modules import run, site_down, writes

org = base.org  # the fixture of the fake clients


def test_parallel_cluster_stop_stops_every_survivor_before_the_restore(org, capsys):
    state = org.install(site_down())
    args = {"dag": "DAG1", "active_directory_site": "DC2", "parallel_cluster_stop": True}
    planned = run(dag_restore, capsys, args, check=True)
    assert writes(state) == [] and [a["cmdlet"] for a in planned["actions"]][:2] == ["Stop-Service", "Stop-Service"]
    result = run(dag_restore, capsys, args)
    sent = writes(state)
    assert sorted(sent[:2]) == [("EX03", "Stop-Service"), ("EX04", "Stop-Service")]
    assert sent[2:] == [(None, "Restore-DatabaseAvailabilityGroup")]
    assert [(a["cmdlet"], a["target"], a["status"]) for a in result["actions"]] == [
        ("Stop-Service", "EX03", "done"), ("Stop-Service", "EX04", "done"),
        ("Restore-DatabaseAvailabilityGroup", "DC2", "done")]
    assert state.clussvc["EX03"] == state.clussvc["EX04"] == "Running"  # the restore started them again
    assert result["after"]["cluster_nodes"] == ["EX03", "EX04"]
    state.calls.clear()
    again = run(dag_restore, capsys, args)
    assert not again["changed"] and writes(state) == []


def test_stop_is_sent_without_a_read_around_it(org, capsys):
    state = org.install(site_down())
    run(dag_restore, capsys, {"dag": "DAG1", "active_directory_site": "DC2"})
    windows = [(host, cmdlet) for host, cmdlet, _p in state.calls if host is not None]
    stops = [i for i, call in enumerate(windows) if call[1] == "Stop-Service"]
    # each member's ClusSvc is read once before the stops (all members), not again right before or after its stop
    assert sum(1 for host, cmdlet in windows[:stops[0]] if cmdlet == "Get-Service") == 2
    assert all(cmdlet != "Get-Service" for _h, cmdlet in windows[stops[0]:stops[-1] + 1])
