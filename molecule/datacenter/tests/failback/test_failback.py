# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the failback (runbooks §5.5), read through the collection: every member is started and operational
with the primary witness, each database is mounted on its preferred (activation preference 1) server, the
namespaces point at the primary datacenter again and the DR servers are blocked again."""

from __future__ import annotations

import pytest

import exchange_dr_datacenter as dc

testinfra_hosts = ["ansible://molecule_probe"]  # pylint: disable=invalid-name


@pytest.fixture(name="state", scope="module")
def fixture_state(host):
    return dc.read(host)


def test_every_member_is_started_and_operational(state):
    dag = state["dag"]
    assert not dag["stopped_mailbox_servers"]
    assert sorted(dag["operational_servers"]) == sorted(state["primary"] + state["secondary"])


def test_primary_witness_in_use(state):
    assert state["dag"]["witness_share_in_use"] == "Primary"


def test_databases_are_mounted_on_their_preferred_server(state):
    assert state["databases"]
    preferred = {db["name"]: min(db["activation_preference"], key=db["activation_preference"].get)
                 for db in state["databases"]}
    misplaced = {db["name"]: (db["server"], db["mounted"]) for db in state["databases"]
                 if db["server"] != preferred[db["name"]] or not db["mounted"]}
    assert not misplaced, misplaced


def test_namespaces_point_at_the_primary_datacenter(host, state):
    probe = dc.namespaces_point_at(host, state, state["primary"])
    assert probe["changed"] is False, probe.get("changes")


def test_dr_servers_are_blocked_again(state):
    blocked = state["settings"].get("datacenter_switchover_blocked_servers") or []
    assert blocked
    policies = {s: state["servers"][s]["database_copy_auto_activation_policy"] for s in blocked}
    assert all(p == "Blocked" for p in policies.values()), policies
