"""dag_network (runbooks §12.2) through ansible-playbook against the ``two-datacenters`` lab (clock x200):
DAG1 with MapiDagNetwork and ReplicationDagNetwork01, networks configured automatically
(ManualDagNetworkConfiguration false).

One lab for the file, one scenario in order (``runs``): bad input, a check-mode drift report, a run refused
because manual configuration is off, the run that turns it on and declares the networks, and a second run.
Assertions are on the lab's state and audit log.
"""

from __future__ import annotations

import pytest

import harness
from harness import lab_fixture, run_play

DEFAULTS = "{{ hostvars['EX01'].exchange_dr_connection }}"
NETWORKS = [
    {"name": "MapiDagNetwork", "replication_enabled": False},
    {"name": "ReplicationDagNetwork01", "subnets": ["10.2.2.0/24", "10.1.2.0/24"], "replication_enabled": True},
    {"name": "ReplicationDagNetwork02", "subnets": ["10.1.3.0/24", "10.2.3.0/24"], "description": "Second replication"},
]


def task(**args) -> dict:
    return {"exchange.dr.dag_network": dict({"dag": "DAG1"}, **args)}


env = lab_fixture("two-datacenters")


def play(env, tasks: list, *args: str) -> dict:
    return run_play(env, tasks, *args, module_defaults=DEFAULTS, name="dag_networks")


def writes(run) -> list:
    return harness.writes(run, "cmdlet")


def networks(state) -> dict:
    dag = state["dags"][0]
    return {n["name"]: (sorted(n["subnets"]), n["description"], n["replication_enabled"], n["ignore_network"])
            for n in dag["networks"]}


def manual(state) -> bool:
    return state["dags"][0]["manual_network_configuration"]


@pytest.fixture(scope="module")
def runs(env):
    out = {"initial": env["lab"].state()}
    out["bad"] = play(env, [
        task(name="N", subnets=["10.1.2.5/24"]),
        task(name="N", networks=[{"name": "M"}]),
        task(name="Brand-new", description="no subnets"),
        task(networks=[{"name": "A", "subnets": ["10.9.0.0/16"]}, {"name": "B", "subnets": ["10.9.0.0/16"]}]),
        task(dag="DAG9", name="MapiDagNetwork", replication_enabled=False),
        task(subnets=["10.1.2.0/24"], manual_configuration=True),
        task(),
    ])
    out["check"] = play(env, [task(manual_configuration=True, networks=NETWORKS)], "--check", "--diff")
    out["refused"] = play(env, [task(networks=NETWORKS)])
    out["apply"] = play(env, [task(manual_configuration=True, networks=NETWORKS)])
    out["again"] = play(env, [task(manual_configuration=True, networks=NETWORKS)])
    out["single"] = play(env, [task(name="ReplicationDagNetwork02", ignore_network=True, replication_enabled=False)])
    return out


def test_bad_input_is_refused_naming_the_option(runs):
    results = runs["bad"]["results"]
    assert all(r["failed"] for r in results)
    assert "subnets" in results[0]["msg"] and "is not a subnet ID" in results[0]["msg"]
    assert "mutually exclusive" in results[1]["msg"] and "name" in results[1]["msg"]
    assert "subnets: network Brand-new does not exist in DAG1" in results[2]["msg"]
    assert "10.9.0.0/16 is declared for both A and B" in results[3]["msg"]
    assert "dag: no database availability group DAG9" in results[4]["msg"]
    assert "required by 'subnets': name" in results[5]["msg"]
    assert "one of the following is required: name, networks, manual_configuration" in results[6]["msg"]
    assert writes(runs["bad"]) == []
    assert networks(runs["bad"]["state"]) == networks(runs["initial"])


def test_check_mode_reports_drift_and_changes_nothing(runs):
    (result,) = runs["check"]["results"]
    assert result["changed"] and writes(runs["check"]) == []
    assert networks(runs["check"]["state"]) == networks(runs["initial"]) and manual(runs["check"]["state"]) is False
    assert result["drift"] == ["DAG1: ManualDagNetworkConfiguration is false, should be true",
                               "DAG1\\MapiDagNetwork: ReplicationEnabled is true, should be false",
                               "DAG1\\ReplicationDagNetwork02: missing (subnets 10.1.3.0/24, 10.2.3.0/24)"]
    assert [a["status"] for a in result["actions"]] == ["planned"] * 3
    assert result["diff"]["before"]["networks"]["ReplicationDagNetwork02"] is None
    assert result["diff"]["after"]["manual_configuration"] is True


def test_network_change_refused_while_configuration_is_automatic(runs):
    (result,) = runs["refused"]["results"]
    assert result["failed"] and "manual_configuration: true" in result["msg"]
    assert "ManualDagNetworkConfiguration false" in result["msg"] and writes(runs["refused"]) == []
    assert len(result["drift"]) == 2


def test_apply_sends_only_the_differences_with_one_network_read(runs):
    (result,) = runs["apply"]["results"]
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert writes(runs["apply"]) == ["Set-DatabaseAvailabilityGroup", "Set-DatabaseAvailabilityGroupNetwork",
                                     "New-DatabaseAvailabilityGroupNetwork"]
    sets = [e["parameters"] for e in runs["apply"]["audit"] if e["cmdlet"] == "Set-DatabaseAvailabilityGroupNetwork"]
    assert sets == [{"Identity": "DAG1\\MapiDagNetwork", "ReplicationEnabled": False}]
    assert [e["cmdlet"] for e in runs["apply"]["audit"]].count("Get-DatabaseAvailabilityGroupNetwork") == 1
    assert all(e["outcome"] == "ok" for e in runs["apply"]["audit"])
    state = runs["apply"]["state"]
    assert manual(state) is True
    assert networks(state) == {
        "MapiDagNetwork": (["10.1.1.0/24", "10.2.1.0/24"], "", False, False),
        "ReplicationDagNetwork01": (["10.1.2.0/24", "10.2.2.0/24"], "", True, False),
        "ReplicationDagNetwork02": (["10.1.3.0/24", "10.2.3.0/24"], "Second replication", True, False),
    }


def test_second_run_is_idempotent_and_single_form_works(runs):
    (again,) = runs["again"]["results"]
    assert not again["changed"] and again["drift"] == [] and writes(runs["again"]) == []
    (single,) = runs["single"]["results"]
    assert single["changed"] and writes(runs["single"]) == ["Set-DatabaseAvailabilityGroupNetwork"]
    assert networks(runs["single"]["state"])["ReplicationDagNetwork02"] == (
        ["10.1.3.0/24", "10.2.3.0/24"], "Second replication", False, True)
