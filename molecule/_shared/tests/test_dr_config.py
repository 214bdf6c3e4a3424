# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DR configuration the converge enforced (dr_config_desired of the variables file given with -e, named by
EXCHANGE_DR_MOLECULE_VARS) holds, read through the collection on the organization (valid on real hosts):

- each declared item, probed by its module in check mode (the reads it makes: Get-ADPermission for the CNO's
  ACEs, the OAB share, Get-DnsServerResourceRecord, ...), would change nothing and reports no drift;
- what the item promised is visible in what the module read (the ACE, the share scope, the TTLs) or in
  exchange.dr.exchange_info (DAC mode, witnesses, DAG networks, activation policies, replication host names);
- the JSON report of the last converge run (EXCHANGE_DR_MOLECULE_REPORT; in `molecule test`, the idempotence
  run) has an entry per declared item and none failed.

Molecule adds this file to the verifier of the scenarios that enforce a DR configuration
(verifier.additional_files_or_dirs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import exchange_dr_testinfra as org

testinfra_hosts = ["ansible://molecule_probe"]  # pylint: disable=invalid-name

MODULES = {"cno_permissions": "cno_permission", "dag_settings": "dag_settings", "dag_networks": "dag_network",
           "replication_host_names": "replication_hostname", "oab_share_scopes": "oab_share_scope",
           "dns_records": "dns_record", "activation_policies": "site_activation"}
DESIRED = org.dr_vars().get("dr_config_desired") or {}
ITEMS = [(kind, index, item) for kind, items in DESIRED.items() for index, item in enumerate(items or [])]
EXCHANGE_SERVERS = "groups['exchange_servers'] | default([])"


def _windows_host(host) -> str:
    return org.variables(host)["exchange_dr_molecule_windows_host"]


def probe(host, kind: str, item: dict) -> dict:
    """The item's module in check mode, with the arguments and endpoints the dr_config role gives it."""
    args = {key: value for key, value in item.items() if key != "label"}
    connection = org.EXCHANGE_OR_2007
    if kind == "dns_records":
        connection = org.of_host(_windows_host(host), org.WINDOWS)
    elif kind == "oab_share_scopes":
        args["windows_connections"] = ("{{ dict(%s | zip(%s | map('extract', hostvars, %r) | map('default', {}))) }}"
                                       % (EXCHANGE_SERVERS, EXCHANGE_SERVERS, org.WINDOWS))
    elif kind == "cno_permissions" and item.get("prestage"):
        args["windows_connection"] = "{{ %s }}" % org.of_host(_windows_host(host), org.WINDOWS)
    return org.run(host, MODULES[kind], args, connection=connection)


@pytest.fixture(name="facts", scope="module")
def fixture_facts(host):
    version = str(org.variables(host).get("exchange_dr_version", ""))
    subsets = ["servers", "clustered_mailbox_servers"] if version == "2007" else ["servers", "dags", "networks"]
    return org.info(host, *subsets, connection=org.EXCHANGE_OR_2007)


def _same_host(a: str, b: str) -> bool:
    """FS02 and FS02.contoso.com name the same server."""
    return a.split(".")[0].lower() == b.split(".")[0].lower()


def test_a_dr_configuration_is_declared():
    assert os.environ.get("EXCHANGE_DR_MOLECULE_VARS"), "EXCHANGE_DR_MOLECULE_VARS names no variables file"
    assert ITEMS, "no item in dr_config_desired of %s" % os.environ["EXCHANGE_DR_MOLECULE_VARS"]
    assert set(DESIRED) <= set(MODULES), sorted(set(DESIRED) - set(MODULES))


@pytest.mark.parametrize("kind,index,item", ITEMS, ids=["%s[%d]" % (k, i) for k, i, _item in ITEMS])
def test_item_is_compliant(host, facts, kind, index, item):  # pylint: disable=unused-argument
    result = probe(host, kind, item)
    assert result["changed"] is False, "%s: %s" % (result.get("reason"), result.get("drift") or result.get("changes"))
    assert not result.get("drift"), result.get("drift")
    CHECKS[kind](result, item, facts)


def _cno_permission(result, item, _facts):
    """The ACEs Get-ADPermission returned for the principal on the computer object."""
    before = result["before"]
    rights = item.get("access_rights") or ["GenericAll"]
    if item.get("state", "present") == "present":
        assert before["exists"] is True, before
        granted = set(before["allow"]) | set(before.get("inherited_allow") or [])
        assert set(rights) <= granted, before
        assert not set(rights) & set(before["deny"]), before
    else:
        assert not set(rights) & set(before["allow"]), before


def _dag_settings(_result, item, facts):
    dag = org.by(facts["dags"], "name")[item["dag"]]
    if "datacenter_activation_mode" in item:
        assert dag["datacenter_activation_mode"] == item["datacenter_activation_mode"]
    for key in ("witness_server", "alternate_witness_server"):
        if key in item:
            assert _same_host(dag[key] or "", item[key]), (key, dag[key])
    for key in ("witness_directory", "alternate_witness_directory"):
        if key in item:
            assert (dag[key] or "").lower() == item[key].lower(), (key, dag[key])


def _dag_network(_result, item, facts):
    """One network (name, subnets, ...) or several (networks: [...]) of one DAG."""
    networks = {n["name"]: n for n in facts["networks"] if n["dag"] == item["dag"]}
    for wanted in item.get("networks") or [item]:
        if wanted.get("state", item.get("state", "present")) == "absent":
            assert wanted["name"] not in networks
            continue
        assert wanted["name"] in networks, "no DAG network %s\\%s: %s" % (item["dag"], wanted["name"], sorted(networks))
        network = networks[wanted["name"]]
        if "subnets" in wanted:
            assert sorted(s["subnet"] for s in network["subnets"]) == sorted(wanted["subnets"]), network
        for key in ("replication_enabled", "ignore_network"):
            if key in wanted:
                assert network[key] == wanted[key], (wanted["name"], key, network[key])


def _replication_hostname(_result, item, facts):
    cms = org.by(facts["clustered_mailbox_servers"], "name")[item["identity"]]
    names = [n.lower() for n in (cms.get("operational_replication_host_names") or [])
             + (cms.get("in_use_replication_host_names") or [])]
    if item.get("state", "present") == "present":
        assert item["host_name"].lower() in names, cms
    else:
        assert item["host_name"].lower() not in names, cms


def _oab_share_scope(result, item, _facts):
    share = result["before"]["share"]
    assert share["scope"].lower() == item["clustered_mailbox_server"].lower(), share
    assert share["unc"].lower().lstrip("\\").startswith(item["clustered_mailbox_server"].lower() + "\\"), share


def _dns_record(result, item, _facts):
    for name in item["names"]:
        records = result["before"][name.split(".")[0] if name.endswith("." + item["zone"]) else name]
        assert records, "%s.%s has no A record" % (name, item["zone"])
        if "ttl" in item:
            assert {r["ttl"] for r in records} == {item["ttl"]}, records
        if "data" in item:
            assert sorted(r["data"] for r in records) == sorted(item["data"]), records


def _site_activation(_result, item, facts):
    servers = [s for s in facts["servers"] if s.get("dag") == item["dag"]
               and s["site"] == item["active_directory_site"]
               and (not item.get("mailbox_servers") or s["name"] in item["mailbox_servers"])]
    assert servers, "no member of %s in %s" % (item["dag"], item["active_directory_site"])
    policies = {s["name"]: s["database_copy_auto_activation_policy"] for s in servers}
    assert set(policies.values()) == {item["auto_activation_policy"]}, policies


CHECKS = {"cno_permissions": _cno_permission, "dag_settings": _dag_settings, "dag_networks": _dag_network,
          "replication_host_names": _replication_hostname, "oab_share_scopes": _oab_share_scope,
          "dns_records": _dns_record, "activation_policies": _site_activation}


def test_last_run_found_everything_compliant():
    path = os.environ.get("EXCHANGE_DR_MOLECULE_REPORT")
    assert path and Path(path).is_file(), "no drift report at %s" % path
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    assert report["format"] == "exchange.dr/dr_config/v1"
    assert report["check_mode"] is False
    assert report["summary"]["failed"] == 0, [i for i in report["items"] if i["status"] == "failed"]
    assert report["summary"]["drift"] == 0, report["summary"]
    assert len(report["items"]) == len(ITEMS)
