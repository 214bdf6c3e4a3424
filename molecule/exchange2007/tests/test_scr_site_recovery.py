# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the SCR site failover (runbooks §8), read through the collection from the standby machine: the
clustered mailbox server is online on the standby machine of the standby cluster, its storage groups' databases
are mounted there, and its DNS record points at the new address with the short TTL; recovering it again would
change nothing."""

from __future__ import annotations

import pytest

import exchange_dr_testinfra as org

testinfra_hosts = ["ansible://molecule_probe"]  # pylint: disable=invalid-name


@pytest.fixture(name="settings", scope="module")
def fixture_settings(host):
    """The inventory's variables and, over them, those of the variables file given with -e."""
    return dict(org.variables(host), **org.dr_vars())


@pytest.fixture(name="facts", scope="module")
def fixture_facts(host):
    return org.info(host, "servers", "clustered_mailbox_servers", "databases", connection=org.EXCHANGE_OR_2007)


def test_cms_is_online_on_the_standby_machine(settings, facts):
    cms = org.by(facts["clustered_mailbox_servers"], "name")[settings["scr_site_recovery_cms"]]
    assert cms["state"] == "Online", cms
    assert cms["active_node"].lower() == settings["scr_site_recovery_standby_machine"].lower(), cms
    standby = org.by(facts["servers"], "name")[settings["scr_site_recovery_cms"]]
    assert settings["scr_site_recovery_standby_machine"].lower() in [n.lower() for n in standby["redundant_machines"]]


def test_databases_are_mounted(settings, facts):
    mine = [db for db in facts["databases"] if db["server"].lower() == settings["scr_site_recovery_cms"].lower()]
    assert mine, facts["databases"]
    assert all(db["mounted"] for db in mine), [(db["name"], db["mounted"]) for db in mine]


@pytest.fixture(name="again", scope="module")
def fixture_again(host, settings):
    """exchange.dr.cms_recovery in check mode with the same request: what recovering again would change."""
    args = {"method": "recover_cms", "cms": settings["scr_site_recovery_cms"],
            "standby_cluster": settings["scr_site_recovery_standby_cluster"],
            "standby_machine": settings["scr_site_recovery_standby_machine"],
            "ipv4_address": settings["scr_site_recovery_ipv4_address"],
            "dns": {"zone": settings["scr_site_recovery_dns_zone"], "ttl": int(settings["scr_site_recovery_dns_ttl"])},
            "windows_connection": "{{ %s }}" % org.of_host(settings["exchange_dr_molecule_windows_host"], org.WINDOWS)}
    return org.run(host, "cms_recovery", args, connection=org.EXCHANGE_OR_2007)


def test_recovering_again_would_change_nothing(again):
    assert again["changed"] is False, again.get("actions")
    assert again["after"]["state"] == "Online"


def test_dns_record_points_at_the_new_address(settings, again):
    """The CMS's A record as the DNS server returns it (DnsServer cmdlets, or dnscmd.exe on Windows 2008)."""
    records = again["dns"]["before"]
    assert records == [{"data": settings["scr_site_recovery_ipv4_address"],
                        "ttl": int(settings["scr_site_recovery_dns_ttl"])}], again["dns"]
