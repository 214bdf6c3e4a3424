#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dns_record
short_description: A records and TTL of client namespaces on a Windows DNS server
version_added: 0.1.0
description:
  - Gives one or more host names of a DNS zone exactly the IPv4 addresses O(data) (or those of O(data_from_hosts))
    and, when set, the TTL O(ttl), on a Windows DNS server through its Windows PowerShell endpoint. This is how the
    client namespaces (OWA, Autodiscover, EWS, ActiveSync, Outlook Anywhere, MAPI over HTTP, SMTP, POP3, IMAP4) move
    to the second datacenter and back (runbooks §5.4, §5.5 step 3c).
  - A record whose address is no longer wanted is changed in place into a wanted one
    (C(Set-DnsServerResourceRecord -OldInputObject -NewInputObject)), as is a record whose TTL changes. Missing
    addresses are added (C(Add-DnsServerResourceRecordA), one command per name and TTL, its C(-IPv4Address) listing
    them all), and the remaining unwanted ones removed (C(Remove-DnsServerResourceRecord)).
  - The names and the hosts of O(data_from_hosts) are read in one round trip (the zone's A records), except through
    C(dnscmd.exe), which reads one name at a time.
  - With O(wait_for_ttl=true) the task returns only when resolvers can no longer hand out the old answer, that is
    after the largest TTL of the records it changed or removed. Activating databases in a datacenter before its
    URLs have moved is an invalid configuration (runbooks §5.5 step 3c). The wait is in real seconds, bounded by
    O(timeout). When the old TTL is longer than that, the task fails before changing anything.
  - On a DNS server without the DnsServer module (Windows Server 2008, where the cmdlets are not recognized) the records
    are read and written with C(dnscmd.exe) (C(/EnumRecords), C(/RecordDelete /f), C(/RecordAdd)), its arguments
    sent as separate values; the actions of the result then name C(dnscmd.exe).
  - Idempotent by the names' record data and TTL.
options:
  data:
    description:
      - The IPv4 addresses the names must have, and no others.
      - Mutually exclusive with O(data_from_hosts). With neither, O(state=present) only sets O(ttl) on the existing
        records.
    type: list
    elements: str
  data_from_hosts:
    description:
      - Host names in O(zone) whose A records give the addresses, for example the Client Access servers or load
        balancer names of a datacenter (V(ex03), V(ex04.contoso.com)).
      - Each must have at least one A record on the DNS server.
    type: list
    elements: str
  name:
    description:
      - Host names in O(zone) that get the same records, relative (V(mail)) or fully qualified
        (V(mail.contoso.com)).
    type: list
    elements: str
    required: true
    aliases: [names]
  poll_interval:
    description:
      - Seconds between two progress lines while waiting for the TTL.
    type: float
    default: 5.0
  state:
    description:
      - V(present) gives the names exactly the wanted records. V(absent) removes the records with the addresses of
        O(data) or O(data_from_hosts), or all A records of the names when neither is given.
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description:
      - Most seconds O(wait_for_ttl) may wait. When the records to change have a longer TTL, the task fails before
        any change. Lower the TTL beforehand, days before a planned switchover, or raise this.
    type: int
    default: 300
  ttl:
    description:
      - Time to live of the records, in seconds. Microsoft recommends 300 (5 minutes) for client namespaces
        (runbooks §13).
      - When unset, records keep their TTL; a new record gets the largest TTL the name had, or the server's default.
    type: int
  wait_for_ttl:
    description:
      - After a change, wait until the largest old TTL has passed (real time), so that no resolver still has the
        old records in its cache.
    type: bool
    default: false
  zone:
    description:
      - The DNS zone, for example V(contoso.com).
    type: str
    required: true
extends_documentation_fragment:
  - exchange.dr.connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the records and returns the changes it would make (RV(changes), RV(actions) with status V(planned)),
        the predicted RV(after) records and the TTL it would wait for. Nothing is written or waited for, but a TTL
        longer than O(timeout) fails the check as it would fail the run.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The records (address and TTL) of each name before and after.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - The connection options address the DNS server itself (a domain controller with the DNS role). For this module
    O(configuration_name) defaults to V(Microsoft.PowerShell) and O(path) to V(wsman), so O(port) defaults to
    5986 (or 5985 with O(ssl=false)). The DnsServer cmdlets are Windows cmdlets.
  - Calls C(Get-DnsServerResourceRecord -RRType A), C(Set-DnsServerResourceRecord), C(Add-DnsServerResourceRecordA)
    and C(Remove-DnsServerResourceRecord -Force). The user needs the rights of DnsAdmins on the server.
  - The record objects of C(Set-DnsServerResourceRecord) are sent as tables of the record's properties
    (C(HostName), C(RecordType), C(RecordClass), C(RecordData.IPv4Address), C(TimeToLive)), the shape a record read
    with C(Get-DnsServerResourceRecord) has after it crossed PowerShell Remoting.
  - In an Active Directory-integrated zone the change reaches the other DNS servers by AD replication; the wait
    does not include that delay.
seealso:
  - module: exchange.dr.site_activation
  - name: Set-DnsServerResourceRecord
    description: The cmdlet reference.
    link: https://learn.microsoft.com/powershell/module/dnsserver/set-dnsserverresourcerecord
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
# Runbooks §13, days before: a 5-minute TTL on the client namespaces, without changing their addresses.
- name: Lower the TTL of the client namespaces
  exchange.dr.dns_record:
    server: dc02.contoso.com
    username: admin@CONTOSO.COM
    password: "{{ vault_dns_password }}"
    auth: kerberos
    zone: contoso.com
    name: [mail, autodiscover]
    ttl: 300

# Runbooks §5.4: the namespaces follow the Exchange servers of the second datacenter.
- name: Point the namespaces at DC2 and wait until caches expired
  module_defaults:
    group/exchange.dr.exchange:
      server: dc02.contoso.com
      username: admin@CONTOSO.COM
      password: "{{ vault_dns_password }}"
      auth: kerberos
  exchange.dr.dns_record:
    zone: contoso.com
    name: [mail.contoso.com, autodiscover.contoso.com]
    data_from_hosts: [ex03, ex04]
    wait_for_ttl: true
    timeout: 600
    poll_interval: 30

# Explicit addresses (load balancer VIPs) over HTTPS on a non-default port.
- name: Point OWA at the DC1 load balancer
  exchange.dr.dns_record:
    server: dc01.contoso.com
    port: 443
    path: wsman
    configuration_name: Microsoft.PowerShell
    zone: contoso.com
    name: owa
    data: [10.1.1.100]
    ttl: 300

- name: Remove an address that no longer serves
  exchange.dr.dns_record:
    server: dc01.contoso.com
    zone: contoso.com
    name: mail
    data: [10.1.1.12]
    state: absent

# Drift report.
- name: Does mail still point at DC1?
  exchange.dr.dns_record:
    server: dc01.contoso.com
    zone: contoso.com
    name: mail
    data: [10.1.1.11, 10.1.1.12]
  check_mode: true
  register: mail_drift
"""

RETURN = r"""
zone:
  description: The zone.
  returned: always
  type: str
  sample: contoso.com
names:
  description: The host names, relative to the zone.
  returned: success
  type: list
  elements: str
  sample: [mail, autodiscover]
data:
  description: The wanted addresses (from O(data) or O(data_from_hosts)); null when only the TTL is managed.
  returned: success
  type: list
  elements: str
  sample: [10.2.1.13, 10.2.1.14]
before:
  description: The A records of each name before the task, each with C(data) and C(ttl) (seconds).
  returned: success
  type: dict
  sample: {mail: [{data: 10.1.1.11, ttl: 300}, {data: 10.1.1.12, ttl: 300}]}
after:
  description: The same after the task; in check mode the predicted records.
  returned: success
  type: dict
  sample: {mail: [{data: 10.2.1.13, ttl: 300}, {data: 10.2.1.14, ttl: 300}]}
changes:
  description: The changes, each with C(name), C(action) (V(set), V(add), V(remove)), C(old) and C(new) records.
  returned: success
  type: list
  elements: dict
  sample:
    - {name: mail, action: set, old: {data: 10.1.1.11, ttl: 300}, new: {data: 10.2.1.13, ttl: 300}}
old_ttl:
  description: The largest TTL, in seconds, of the records changed or removed (how long caches may keep them).
  returned: success
  type: int
  sample: 300
waited:
  description: Seconds waited for the old TTL (0 without O(wait_for_ttl) or without a change; in check mode the
    wait it would make).
  returned: success
  type: float
  sample: 300.0
actions:
  description: The state-changing cmdlets in order, with their parameters and V(done), V(failed) or, in check
    mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - cmdlet: Set-DnsServerResourceRecord
      target: mail
      parameters:
        ZoneName: contoso.com
        OldInputObject: {HostName: mail, RecordType: A, RecordClass: IN, RecordData: {IPv4Address: 10.1.1.11},
                         TimeToLive: "00:05:00"}
        NewInputObject: {HostName: mail, RecordType: A, RecordClass: IN, RecordData: {IPv4Address: 10.2.1.13},
                         TimeToLive: "00:05:00"}
      status: done
progress:
  description: Progress lines with the seconds since the start (also written to the module log).
  returned: always
  type: list
  elements: str
  sample: ["[0.2s] Set-DnsServerResourceRecord mail", "[30.2s] waiting for the old TTL of 300 s: 270 s left"]
polls:
  description: Number of progress lines written while waiting.
  returned: always
  type: int
  sample: 10
elapsed:
  description: Seconds the task took, the wait included.
  returned: always
  type: float
  sample: 300.9
round_trips:
  description: Number of cmdlet invocations sent to the DNS server.
  returned: always
  type: int
  sample: 4
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import dac
from ansible_collections.exchange.dr.plugins.module_utils import database as db
from ansible_collections.exchange.dr.plugins.module_utils import dns
from ansible_collections.exchange.dr.plugins.module_utils.psrp import POWERSHELL_CONFIGURATION


def resolve_hosts(found: dict, zone: str, hosts: list) -> list:
    """The addresses of ``hosts`` (names of ``zone``) from ``found`` (``{name: records}``)."""
    addresses = []
    for host in hosts:
        found_records = found.get(dns.relative(host, zone)) or []
        if not found_records:
            raise dns.DnsPlanError("data_from_hosts: %s has no A record in zone %s" % (host, zone))
        for record in found_records:
            if record["data"] not in addresses:
                addresses.append(record["data"])
    return addresses


def wait_ttl(run, seconds: float, interval: float) -> float:
    started = time.monotonic()
    deadline = started + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(interval, left))
        run.waiter.polls += 1
        run.progress("waiting for the old TTL of %d s: %d s left" % (seconds, max(0, round(deadline - time.monotonic()))))
    return round(time.monotonic() - started, 3)


def body(run):
    params = run.module.params
    client = run.client
    # DnsServer cmdlets (Windows Server 2012+), else dnscmd.exe (Windows Server 2008 DNS servers, runbooks §13)
    records = dns.DnsRecords(client)
    zone = params["zone"].strip().rstrip(".")
    names = []
    for item in params["name"]:
        relative = dns.relative(item, zone)
        if relative not in names:
            names.append(relative)
    data = params["data"]
    # the hosts' records come from the same read as the names' (one round trip for the zone's A records)
    hosts = [dns.relative(host, zone) for host in params["data_from_hosts"] or []]
    found = records.read_names(zone, names + [host for host in dict.fromkeys(hosts) if host not in names])
    if params["data_from_hosts"]:
        data = resolve_hosts(found, zone, params["data_from_hosts"])
    current = {name: found.get(name) or [] for name in names}
    plan = dns.record_plan(current, names, data, params["ttl"], params["state"])
    wait = plan["old_ttl"] if params["wait_for_ttl"] and plan["changes"] else 0
    if wait > params["timeout"]:
        raise db.TaskFailed("timeout: the records to change have a TTL of %d s, longer than timeout %d s; nothing was "
                            "changed. Lower their TTL beforehand (runbooks §13 recommends 300 s) or raise timeout"
                            % (wait, params["timeout"]))
    for name, command, payload, changes in records.batched_commands(zone, plan["changes"]):
        for change in changes:
            run.progress("%s %s: %s -> %s" % (change["action"], name, change["old"], change["new"]))
        run.perform({"cmdlet": command, "target": name,
                     "parameters": payload if isinstance(payload, dict) else {"Arguments": payload}},
                    lambda command=command, payload=payload: (records.send(command, payload), []))
    waited = 0.0
    if wait:
        waited = float(wait) if run.check_mode else wait_ttl(run, wait, params["poll_interval"])
    if run.check_mode or not plan["changes"]:
        after = plan["after"]
    else:
        after = {name: dns.normalised_records(found) for name, found in records.read_names(zone, names).items()}
    result = run.finish(changed=bool(plan["changes"]), zone=zone, names=names, data=data, before=plan["before"],
                        after=after, changes=plan["changes"], old_ttl=plan["old_ttl"], waited=waited)
    if run.module._diff:
        result["diff"] = {"before": plan["before"], "after": after}
    return result


def main():
    argument_spec = db.argument_spec(dict(
        zone=dict(type="str", required=True),
        name=dict(type="list", elements="str", required=True, aliases=["names"]),
        data=dict(type="list", elements="str"),
        data_from_hosts=dict(type="list", elements="str"),
        ttl=dict(type="int"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        wait_for_ttl=dict(type="bool", default=False),
    ))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("data", "data_from_hosts")])
    params = module.params
    if not params["name"] or not all(n and n.strip() for n in params["name"]):
        module.fail_json(msg="name must list at least one host name, none of them empty")
    for option in ("data", "data_from_hosts"):
        if params[option] is not None and not params[option]:
            module.fail_json(msg="%s must not be empty: use state=absent to remove the records" % option)
    for value in params["data"] or []:
        try:
            dns.address(value)
        except dns.DnsPlanError as exc:
            module.fail_json(msg=str(exc))
    if params["ttl"] is not None and not 1 <= params["ttl"] <= 2147483647:
        module.fail_json(msg="ttl must be a number of seconds between 1 and 2147483647, got %d" % params["ttl"])
    if params["timeout"] < 0:
        module.fail_json(msg="timeout must be 0 or more seconds, got %d" % params["timeout"])
    # The DnsServer cmdlets are Windows cmdlets: WinRM's endpoint unless the connection says otherwise.
    params["configuration_name"] = params["configuration_name"] or POWERSHELL_CONFIGURATION
    params["path"] = params["path"] or "wsman"
    dac.execute(module, body)


if __name__ == "__main__":
    main()
