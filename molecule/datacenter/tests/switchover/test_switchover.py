# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the datacenter switchover (runbooks §5.2-§5.4), read through the collection from a server of the
second datacenter: the primary's members are stopped, the DAG runs on the second datacenter's members with
the alternate witness, every database is mounted there, the namespaces point there, and the DR servers
blocked by design are still blocked."""

from __future__ import annotations

import pytest

import exchange_dr_datacenter as dc
import exchange_dr_testinfra as org

testinfra_hosts = ["ansible://molecule_probe"]  # pylint: disable=invalid-name


@pytest.fixture(name="state", scope="module")
def fixture_state(host):
    return dc.read(host)


def test_primary_members_are_stopped(state):
    assert state["primary"] and state["secondary"]
    assert sorted(state["dag"]["stopped_mailbox_servers"]) == state["primary"]


def test_dag_runs_on_the_second_datacenter_with_the_alternate_witness(state):
    assert sorted(state["dag"]["operational_servers"]) == state["secondary"]
    assert state["dag"]["witness_share_in_use"] == "Alternate"


def test_every_database_is_mounted_in_the_second_datacenter(state):
    assert state["databases"]
    misplaced = {db["name"]: (db["server"], db["mounted"]) for db in state["databases"]
                 if db["server"] not in state["secondary"] or not db["mounted"]}
    assert not misplaced, misplaced


def test_namespaces_point_at_the_second_datacenter(host, state):
    probe = dc.namespaces_point_at(host, state, state["secondary"])
    assert probe["changed"] is False, probe.get("changes")
    assert all(records for records in probe["before"].values()), probe["before"]


def test_blocked_servers_keep_their_block(state):
    blocked = state["settings"].get("datacenter_switchover_blocked_servers") or []
    policies = {s: state["servers"][s]["database_copy_auto_activation_policy"] for s in blocked}
    assert all(p == "Blocked" for p in policies.values()), policies


def test_switchover_again_would_change_nothing(host, state):
    """The DAG-side step of the role, dag_restore in check mode, finds nothing left to do."""
    result = org.run(host, "dag_restore", {"dag": state["dag"]["name"],
                                           "active_directory_site": state["settings"]["datacenter_switchover_secondary_site"]})
    assert result["changed"] is False
