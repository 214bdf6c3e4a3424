# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads shared by the datacenter scenario's verifiers (after the switchover, after the failback),
internal to the Molecule scenarios. Everything goes through the collection's modules (check mode for
the DNS probe), so the same checks hold on a real organization."""

from __future__ import annotations

import exchange_dr_testinfra as org


def read(host) -> dict:
    """The DAG of the probe server, its members per site, the databases, the servers and the settings."""
    settings = org.variables(host)
    facts = org.info(host, "servers", "dags", "databases")
    servers = org.by(facts["servers"], "name")
    probe = settings["inventory_hostname"]
    dag = next(d for d in facts["dags"] if probe in d["servers"])
    primary, secondary = settings["datacenter_switchover_primary_site"], settings["datacenter_switchover_secondary_site"]
    return {
        "settings": settings, "dag": dag, "servers": servers,
        "databases": [db for db in facts["databases"] if db.get("master") == dag["name"]],
        "primary": sorted(s for s in dag["servers"] if servers[s]["site"] == primary),
        "secondary": sorted(s for s in dag["servers"] if servers[s]["site"] == secondary),
    }


def namespaces_point_at(host, state: dict, members: list) -> dict:
    """exchange.dr.dns_record in check mode: would pointing the namespaces at ``members`` change anything?"""
    settings = state["settings"]
    args = {"zone": settings["exchange_dr_molecule_dns_zone"], "name": settings["exchange_dr_molecule_namespaces"],
            "data_from_hosts": [state["servers"][s]["fqdn"] for s in members]}
    windows = org.of_host(settings["exchange_dr_molecule_windows_host"], org.WINDOWS)
    return org.run(host, "dns_record", args, connection=windows)
