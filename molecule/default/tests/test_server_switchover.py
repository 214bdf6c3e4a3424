# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the server switchover of the converge promised, read through the collection (valid on real hosts):
the member of group molecule_maintenance went into maintenance and came back - its components active, its
activation policy the one recorded on entry, its cluster node up, not in the DAG's ServersInMaintenance,
and the databases it is preferred for active and mounted on it again."""

from __future__ import annotations

import os

import pytest

import exchange_dr_testinfra as org

testinfra_hosts = ["ansible://molecule_probe"]  # pylint: disable=invalid-name


@pytest.fixture(name="server", scope="module")
def fixture_server(host):
    members = org.group(host, "molecule_maintenance")
    assert len(members) == 1, "the inventory group molecule_maintenance must hold exactly one DAG member"
    return members[0]


@pytest.fixture(name="facts", scope="module")
def fixture_facts(host):
    return org.info(host, "servers", "dags", "databases", "components")


@pytest.fixture(name="maintenance", scope="module")
def fixture_maintenance(host, server):
    """server_maintenance in check mode, state active: what leaving maintenance would still change (nothing)."""
    args = {"mailbox_server": server, "state": "active",
            "windows_connection": "{{ %s }}" % org.of_host(server, org.WINDOWS)}
    record_dir = os.environ.get("EXCHANGE_DR_MOLECULE_RECORD_DIR")
    if record_dir:
        args["record_file"] = "%s/%s.json" % (record_dir, server.lower())
    return org.run(host, "server_maintenance", args, connection=org.of_host(server))


def test_leaving_maintenance_again_would_change_nothing(maintenance):
    assert maintenance["changed"] is False, maintenance["steps"]
    assert maintenance["in_maintenance"] is False


def test_cluster_node_is_up(maintenance):
    assert maintenance["before"]["cluster_node"] == "Up"


def test_activation_policy_is_the_one_recorded_on_entry(facts, server, maintenance):
    recorded = maintenance["pre_maintenance"]
    mailbox = org.by(facts["servers"], "name")[server]
    if recorded.get("source") == "record":
        assert mailbox["database_copy_auto_activation_policy"] == recorded["activation_policy"]
    assert mailbox["database_copy_activation_disabled_and_move_now"] is False


def test_components_are_active(facts, server):
    mine = [c for c in facts["components"] if c["server"] == server]
    states = {c["component"]: c["state"] for c in mine}
    assert states.get("ServerWideOffline") == "Active", states
    assert states.get("HubTransport") == "Active", states
    left = [(c["component"], s["state"]) for c in mine for s in c.get("local_states") or []
            if s.get("requester") == "Maintenance" and s.get("state") != "Active"]
    assert not left, "components still set by requester Maintenance: %s" % left


def test_not_in_the_dags_servers_in_maintenance(facts, server):
    dags = [d for d in facts["dags"] if server in d["servers"]]
    assert dags, "%s is in no DAG" % server
    assert server not in (dags[0]["servers_in_maintenance"] or [])
    assert server in dags[0]["operational_servers"]


def test_preferred_databases_are_back_and_mounted(facts, server):
    preferred = [db for db in facts["databases"] if (db.get("activation_preference") or {}).get(server) == 1]
    assert preferred, "no database has %s as activation preference 1" % server
    misplaced = {db["name"]: (db["server"], db["mounted"]) for db in preferred
                 if db["server"] != server or not db["mounted"]}
    assert not misplaced, "not active and mounted on %s: %s" % (server, misplaced)
