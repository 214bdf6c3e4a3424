#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: twin_capture
short_description: Write a lab topology file (a rehearsal twin) of an Exchange organization
version_added: 0.1.0
description:
  - Turns the facts of M(exchange.dr.exchange_info) into a topology file of the exchange.dr lab, so that
    C(exchange-lab start --topology <dest>) starts a simulated organization shaped like this one (servers, AD
    sites, DAGs with their witness and alternate witness, DAC mode, networks, databases with their copies,
    activation preferences, replay and truncation lags, server component states, mailbox server activation
    settings, DNS records with their TTL, and the Exchange 2007 CCR/SCR view) on which every playbook of the
    collection can be rehearsed, in check mode or for real.
  - Reads what M(exchange.dr.exchange_info) does not return, one call per kind - the organization name and
    the NetBIOS domain (C(Get-ExchangeServer), C(Get-ADPermission)); on Exchange 2007 the storage groups with
    their SCR targets and lags (C(Get-StorageGroup)), mailboxes (C(Get-Mailbox)), offline address books
    (C(Get-OfflineAddressBook)) and the cluster name objects with Full Control on each clustered mailbox
    server (C(Get-ADPermission)); and, through the Windows endpoint of O(domain_controller), the AD computer
    accounts (C(Get-ADComputer) - domain controllers, file share witnesses, Windows versions, addresses) and
    the DNS zone of the domain (C(Get-DnsServerResourceRecord)).
  - What no endpoint exposes (AD site subnets; Windows Server 2008 hosts, which have neither the AD nor the
    DnsServer module; Exchange 2007 failover cluster names and addresses; update rollup levels) is given in
    O(supplement), in the lab's own schema.
  - Never writes a secret. Users are listed without password (O(lab_users)); the lab gives them its
    lab-only demo password (environment variable C(EXCHANGE_LAB_TWIN_PASSWORD) at C(exchange-lab start), else
    C(Passw0rd!)), never a password of the organization.
  - The file starts with the capture marker C(capture) (C(format) V(exchange.dr/twin), C(version) 1) and ends
    with C(end_of_capture), so the lab refuses a file of another format, of a newer version, or cut short. It
    is written to a temporary file next to O(dest) and renamed, so O(dest) is never left half written.
  - With O(pseudonymise=true) every server, database, site, DAG, cluster, clustered mailbox server, storage
    group, mailbox and offline address book name, and the organization, NetBIOS and DNS domain names, are
    replaced consistently (also inside FQDNs, paths and user names), so the file can be shared with a vendor.
options:
  description:
    description:
      - The C(description) of the topology.
    type: str
  domain_controller:
    description:
      - FQDN of a domain controller with the DNS role, whose Windows endpoint is read for the AD computer accounts
        and the DNS zone of the organization's domain. The endpoint is set by O(windows_connection) (its
        C(server) defaults to this name).
      - Without it the Windows facts are not read (a warning says so) and the hosts Exchange does not know
        (domain controllers, witness servers) need O(supplement).
    type: str
  dest:
    description:
      - Path of the topology file to write (C(.yml)). Its directory must exist.
    type: path
    required: true
  facts:
    description:
      - The registered result of M(exchange.dr.exchange_info) with O(exchange.dr.exchange_info#module:gather_subset=all)
        (Exchange 2013 or later), or with V(servers), V(databases), V(copies) and V(clustered_mailbox_servers)
        (Exchange 2007, O(exchange_version=2007)).
    type: dict
    required: true
  lab_users:
    description:
      - The users the lab twin gets, as user names (in the twin's NetBIOS domain) with Exchange role groups. No
        password is written.
    type: list
    elements: dict
    default:
      - {name: administrator, roles: [Organization Management]}
      - {name: viewer, roles: [View-Only Organization Management]}
    suboptions:
      name:
        description: The user name (sAMAccountName).
        type: str
        required: true
      roles:
        description: Role groups, V(Organization Management) or V(View-Only Organization Management).
        type: list
        elements: str
        required: true
  name:
    description:
      - The C(name) of the topology.
    type: str
    default: twin
  pseudonym_map:
    description:
      - Pseudonyms chosen for some names (original name to pseudonym); the others get generated ones
        (V(XS01) for Exchange servers, V(XDB001) for databases, V(SITE1) for sites, V(twin.example) for the domain ...).
      - Two names of one kind (or two hosts, DAGs, clusters or clustered mailbox servers) that would get the same
        pseudonym make the task fail before anything is written.
      - Only with O(pseudonymise=true).
    type: dict
  pseudonymise:
    description:
      - Replace the organization's names by pseudonyms, consistently (the same name gets the same pseudonym
        everywhere). The mapping is returned in RV(pseudonyms) and never written to the file.
    type: bool
    default: false
  supplement:
    description:
      - Part of a topology in the lab's schema, merged into the capture before pseudonymisation, for what no
        endpoint exposes - AD site C(subnets), hosts not seen through Exchange or AD (C(name), C(kind), C(site),
        C(ip), C(windows)), Exchange 2007 C(clusters), a clustered mailbox server's C(cluster) and C(ip),
        C(rollup), C(rollup_packages).
      - Lists of named entries are merged by C(name); other values replace the captured ones.
    type: dict
extends_documentation_fragment:
  - exchange.dr.connection
  - exchange.dr.windows_connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads as usual, returns the topology in RV(topology) and writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The file's text before and after.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Only reads the organization; View-Only Organization Management is enough for the Exchange reads, the Windows
    reads need a domain user (AD and DNS reads).
  - The file is rewritten only when the captured topology changed (the capture time alone does not count), so a
    second run reports C(changed=false).
  - Modelled by the lab and therefore captured - see the lab's C(README-model.md). Not captured - copy status
    (suspended or failed copies), paused cluster nodes, stopped mailbox servers of a DAC switchover, and anything
    the lab does not model.
seealso:
  - module: exchange.dr.exchange_info
  - name: Rehearsing on a twin
    description: The guide (capture, pseudonymise, start the lab, run a playbook against it).
    link: https://github.com/exchange-dr/exchange.dr/blob/main/docs/guides/rehearsal_twin.md
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
- name: Capture a rehearsal twin of the organization
  module_defaults:
    group/exchange.dr.exchange:
      server: ex01.contoso.com
      username: viewer@CONTOSO.COM
      password: "{{ vault_exchange_viewer_password }}"
      auth: kerberos
  block:
    - name: Read the organization
      exchange.dr.exchange_info:
      register: org

    - name: Write the twin, pseudonymised for a vendor
      exchange.dr.twin_capture:
        facts: "{{ org }}"
        dest: /srv/twins/contoso-twin.yml
        name: contoso-twin
        description: Twin of the production organization
        domain_controller: dc01.contoso.com
        windows_connection:
          port: 5986
        pseudonymise: true
        pseudonym_map:
          EX01: MBX-A1
        lab_users:
          - name: operator
            roles: [Organization Management]
        supplement:
          sites:
            - name: NYC
              subnets: [10.1.0.0/16]
      register: twin

    - name: Show the pseudonym of every name (kept off the file)
      ansible.builtin.debug:
        var: twin.pseudonyms
"""

RETURN = r"""
dest:
  description: The path written (or that would be written in check mode).
  returned: always
  type: str
  sample: /srv/twins/contoso-twin.yml
counts:
  description: How many objects of each kind the twin has.
  returned: always
  type: dict
  sample: {sites: 2, hosts: 8, dags: 1, databases: 8, copies: 32, dns_records: 5, clustered_mailbox_servers: 0}
topology:
  description: The topology written (in check mode - the topology that would be written).
  returned: check mode
  type: dict
  sample: {capture: {format: exchange.dr/twin, version: 1}, name: twin, end_of_capture: true}
pseudonyms:
  description: Original name to pseudonym, for the operator's eyes only (not written to the file).
  returned: when O(pseudonymise=true)
  type: dict
  sample: {EX01: XS01, DAG1: XG01, contoso.com: twin.example}
round_trips:
  description: Cmdlet invocations sent (Exchange and Windows endpoints).
  returned: always
  type: int
  sample: 4
elapsed:
  description: Seconds spent reading and writing.
  returned: always
  type: float
  sample: 0.42
"""

import datetime
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import twin
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client, ExchangeError, connection_argument_spec
from ansible_collections.exchange.dr.plugins.module_utils.windows import (
    windows_client,
    windows_connection_argument_spec,
)


def read_existing(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def same_capture(old_text, new_topology):
    """Whether the file already holds this capture (the capture time and description aside)."""
    if old_text is None:
        return False
    import yaml

    try:
        old = yaml.safe_load(old_text)
    except yaml.YAMLError:
        return False
    return isinstance(old, dict) and twin.comparable(old) == twin.comparable(new_topology)


def write_atomically(module, path, text):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg="dest: directory %s does not exist; create it first" % directory)
    fd, tmp = tempfile.mkstemp(prefix=".twin-", suffix=".yml", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        module.fail_json(msg="dest: cannot write %s: %s" % (path, exc.strerror or exc))


def counts(topo):
    block = topo.get("exchange2007") or {}
    zones = (topo.get("dns") or {}).get("zones") or []
    return {"sites": len(topo.get("sites") or []), "hosts": len(topo.get("hosts") or []),
            "dags": len(topo.get("dags") or []), "databases": len(topo.get("databases") or []),
            "copies": sum(len(db["copies"]) for db in topo.get("databases") or []),
            "dns_records": sum(len(z.get("records") or []) for z in zones),
            "clustered_mailbox_servers": len(block.get("clustered_mailbox_servers") or [])}


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(windows_connection_argument_spec())
    argument_spec.update(
        facts=dict(type="dict", required=True),
        dest=dict(type="path", required=True),
        name=dict(type="str", default="twin"),
        description=dict(type="str"),
        domain_controller=dict(type="str"),
        lab_users=dict(type="list", elements="dict", default=[dict(u) for u in twin.DEFAULT_USERS],
                       options=dict(name=dict(type="str", required=True),
                                    roles=dict(type="list", elements="str", required=True))),
        pseudonymise=dict(type="bool", default=False),
        pseudonym_map=dict(type="dict"),
        supplement=dict(type="dict"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    started = time.monotonic()
    facts = params["facts"]
    if not isinstance(facts.get("servers"), list) or not facts["servers"]:
        module.fail_json(msg="facts: no servers; pass the registered result of exchange.dr.exchange_info "
                             "(gather_subset all, or servers, databases, copies and clustered_mailbox_servers on 2007)")
    if params["pseudonym_map"] and not params["pseudonymise"]:
        module.fail_json(msg="pseudonym_map is set but pseudonymise is false; set pseudonymise: true")
    e2007 = any(str(s.get("product")) == "2007" for s in facts["servers"])
    round_trips, problems = 0, []
    client = None
    try:
        client = Client.from_module(module)
        with client:
            cms = [c["name"] for c in facts.get("clustered_mailbox_servers") or []]
            extras = twin.read_exchange_extras(client, e2007, cms)
        round_trips += len(client.calls)
    except ExchangeError as exc:
        module.fail_json(msg=str(exc), round_trips=len(client.calls) if client else 0, **exc.result())
    supplement = params["supplement"] or {}
    extras["cluster_names"] = [c.get("name") for c in (supplement.get("exchange2007") or {}).get("clusters") or []
                               if isinstance(c, dict)]
    windows = None
    if params["domain_controller"]:
        domain = next(s["fqdn"] for s in facts["servers"] if s.get("fqdn") and "." in s["fqdn"]).split(".", 1)[1]
        wclient = None
        try:
            wclient = windows_client(module, params["domain_controller"])
            with wclient:
                windows, found = twin.read_windows(wclient, domain.lower())
            problems.extend("%s: %s" % (params["domain_controller"], p) for p in found)
            round_trips += len(wclient.calls)
        except ExchangeError as exc:
            module.fail_json(msg="domain_controller %s: %s" % (params["domain_controller"], exc),
                             round_trips=round_trips + (len(wclient.calls) if wclient else 0))
    else:
        problems.append("domain_controller is not set: AD computers and DNS records were not read")
    try:
        topo = twin.build(facts, extras, windows, params["name"], params["description"], params["lab_users"])
        topo = twin.apply_supplement(topo, supplement)
        twin.check_complete(topo)
        mapping = None
        if params["pseudonymise"]:
            topo, mapping = twin.pseudonymise(topo, params["pseudonym_map"])
    except twin.TwinError as exc:
        module.fail_json(msg=str(exc), round_trips=round_trips)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    topo["capture"] = dict(topo["capture"], captured_at=now)
    text = twin.render(topo)
    old = read_existing(params["dest"])
    changed = not same_capture(old, topo)
    if changed and not module.check_mode:
        write_atomically(module, params["dest"], text)
    for problem in problems + client.warnings:
        module.warn(problem)
    result = dict(changed=changed, dest=params["dest"], counts=counts(topo), round_trips=round_trips,
                  elapsed=round(time.monotonic() - started, 3))
    if module.check_mode:
        result["topology"] = topo
    if mapping is not None:
        result["pseudonyms"] = mapping
    if module._diff:
        result["diff"] = {"before": old or "", "after": text if changed else (old or ""),
                          "before_header": params["dest"], "after_header": params["dest"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
