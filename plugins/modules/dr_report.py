#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dr_report
short_description: Write the DR report of an Exchange organization as one self-contained HTML page and JSON
version_added: 0.1.0
description:
  - Draws each database availability group the way operators sketch it on a whiteboard - the Active Directory
    sites side by side, the servers in them, the witness and the alternate witness, and every database copy as a
    row (a badge for servers with more than 30 copies) showing active or passive, the copy status, the copy and
    replay queue lengths, the activation preference, the replay lag and the activation blocks - with the servers'
    maintenance state and activation policy. The same data follows as tables.
  - On Exchange 2007 each clustered mailbox server is drawn the same way, its cluster continuous replication
    (CCR) nodes and standby continuous replication (SCR) targets as the servers and its storage groups as the
    databases.
  - Adds the items of the C(dr_config) role's drift report (O(dr_config_report)) and, given the registered result
    of a switchover (O(switchover_results)), where every database was before and after and the logs lost.
  - Writes one HTML page (O(dest)) with inline SVG and CSS only - no script, no font, image, style sheet or link
    fetched from anywhere - readable on a 1366x768 screen and printable, and the same data as JSON
    (O(json_dest)).
  - Runs on the controller and talks to no Exchange server, the data comes from one M(exchange.dr.exchange_info)
    run (O(facts)).
options:
  dags:
    description:
      - Names of the DAGs (on Exchange 2007, of the clustered mailbox servers) to report.
      - Empty means every one of the organization. A name the organization does not have fails the task before
        anything is written.
    type: list
    elements: str
    default: []
  dest:
    description:
      - Path of the HTML page to write. Its directory must exist (in check mode a missing one is only a warning).
      - Both files are written to a temporary file in the same directory first, then renamed, so a reader never
        sees half a report.
    type: path
    required: true
  dr_config_report:
    description:
      - Path of the JSON drift report the C(exchange.dr.dr_config) role writes (format
        C(exchange.dr/dr_config/v1)). Its items are listed with their status (V(ok), V(drift), V(fixed),
        V(failed)), the reason and the precise drift.
      - Not set means no DR configuration section.
    type: path
  facts:
    description:
      - The registered result of M(exchange.dr.exchange_info), read with O(exchange.dr.exchange_info#module:gather_subset)
        V(servers), V(dags), V(databases), V(copies) and V(components) (Exchange 2007 - V(servers),
        V(databases), V(copies) and V(clustered_mailbox_servers)).
      - Its warnings are shown at the top of the page.
    type: dict
    required: true
  host_sites:
    description:
      - Active Directory site of hosts Exchange does not place itself, by short host name - the witness servers
        and, on Exchange 2007, the cluster nodes and SCR targets. A witness whose site is not known is drawn
        apart from the sites.
      - The exchange.dr.dr_report role fills it from the inventory groups C(site_<AD site>).
    type: dict
    default: {}
  json_dest:
    description:
      - Path of the JSON file with the report's data (format C(exchange.dr/dr_report/v1)).
      - Not set means O(dest) with the suffix C(.json) instead of its own.
    type: path
  switchover_results:
    description:
      - The registered result of a switchover - M(exchange.dr.dag_restore), M(exchange.dr.database_switchover),
        M(exchange.dr.dag_rebalance), M(exchange.dr.server_maintenance), or the C(datacenter_switchover_result) fact
        of the exchange.dr.datacenter_switchover role - or a list of them (applied in order, a looped register
        too).
      - The report then lists every database of the reported DAGs - where it was active before, where after (the
        current placement when the result does not say), whether it moved and the logs lost.
    type: raw
  title:
    description: Title of the page.
    type: str
    default: Exchange DR report
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Nothing is written; C(changed) says whether the report would change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
notes:
  - The report is idempotent by its data - when the data is the same as the one in O(json_dest) (its generation
    time aside), nothing is written and C(changed) is false; the page keeps its earlier generation time.
  - Exchange's own live values (queue lengths, log times) change between runs, so a report of a busy organization
    usually changes.
  - A copy's replay queue is highlighted above 50 logs unless the copy has a replay lag (or is an SCR copy), its copy
    queue at 10 logs or more (the limits of the planned-activation gate and of the best copy selection).
seealso:
  - module: exchange.dr.exchange_info
  - module: exchange.dr.dag_restore
  - module: exchange.dr.server_maintenance
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
- name: Read the organization once, then write the report
  block:
    - name: Read servers, DAGs, databases, copies and component states
      exchange.dr.exchange_info:
        server: ex01.contoso.com
        auth: kerberos
        gather_subset: [servers, dags, databases, copies, components]
      register: exchange

    - name: Write the DR report of DAG1 with the drift report of dr_config
      exchange.dr.dr_report:
        facts: "{{ exchange }}"
        dags: [DAG1]
        dest: /srv/reports/dr.html
        json_dest: /srv/reports/dr.json
        dr_config_report: /srv/reports/dr_config.json
        host_sites: {FS01: NYC, FS02: LON}
        title: Contoso DR report
      delegate_to: localhost

- name: After a datacenter switchover, show where every database went and the logs lost
  exchange.dr.dr_report:
    facts: "{{ exchange_after }}"
    switchover_results: "{{ datacenter_switchover_restore }}"
    dest: /srv/reports/switchover.html
"""

RETURN = r"""
dest:
  description: Path of the HTML page.
  returned: always
  type: str
  sample: /srv/reports/dr.html
json_dest:
  description: Path of the JSON data.
  returned: always
  type: str
  sample: /srv/reports/dr.json
dags:
  description: Names of the DAGs (or Exchange 2007 clustered mailbox servers) in the report.
  returned: always
  type: list
  elements: str
  sample: [DAG1]
summary:
  description: Counts of the report (also at the top of the page).
  returned: always
  type: dict
  sample: {dags: 1, servers: 4, databases: 8, copies: 32, copies_not_healthy: 0, databases_not_mounted: 0,
           servers_in_maintenance: 0, servers_blocked: 2}
dr_config:
  description: Counts of the DR configuration items by status; null without O(dr_config_report).
  returned: always
  type: dict
  sample: {ok: 7, drift: 2, fixed: 0, failed: 0}
switchover:
  description: Databases moved and logs lost by the switchover results; null without O(switchover_results).
  returned: always
  type: dict
  sample: {databases_moved: 6, logs_lost: 0}
size:
  description: Size in bytes of the HTML page.
  returned: always
  type: int
  sample: 48210
elapsed:
  description: Seconds spent building and writing the report.
  returned: always
  type: float
  sample: 0.08
"""

import datetime
import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.exchange.dr.plugins.module_utils import report


def _load_dr_config(module):
    path = module.params["dr_config_report"]
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        module.fail_json(msg="dr_config_report: %s does not exist - run the exchange.dr.dr_config role (playbook "
                             "enforce_dr_config.yml) first, or leave dr_config_report unset" % path)
    except (OSError, ValueError) as exc:
        module.fail_json(msg="dr_config_report: %s cannot be read as JSON: %s" % (path, to_native(exc)))
    return report.read_dr_config(data, "dr_config_report (%s)" % path)


def _comparable(data):
    return {key: value for key, value in data.items() if key != "generated"} if isinstance(data, dict) else None


def _unchanged(data, json_dest, dest) -> bool:
    """The files hold this data already (the generation time aside)."""
    if not (os.path.isfile(json_dest) and os.path.isfile(dest)):
        return False
    try:
        with open(json_dest, encoding="utf-8") as handle:
            old = json.load(handle)
    except (OSError, ValueError):
        return False
    return _comparable(old) == _comparable(json.loads(json.dumps(data)))


def _write_all(module, files):
    """Every file to a temporary file beside it, then each renamed into place."""
    temps = []
    try:
        for path, text in files:
            handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path) or ".")
            temps.append((temp, path))
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
        for temp, path in temps:
            module.atomic_move(temp, path)
    finally:
        for temp, _path in temps:
            if os.path.exists(temp):
                os.unlink(temp)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dags=dict(type="list", elements="str", default=[]),
            dest=dict(type="path", required=True),
            dr_config_report=dict(type="path"),
            facts=dict(type="dict", required=True),
            host_sites=dict(type="dict", default={}),
            json_dest=dict(type="path"),
            switchover_results=dict(type="raw"),
            title=dict(type="str", default="Exchange DR report"),
        ),
        supports_check_mode=True,
    )
    started = time.monotonic()
    dest = module.params["dest"]
    json_dest = module.params["json_dest"] or os.path.splitext(dest)[0] + ".json"
    for option, path in (("dest", dest), ("json_dest", json_dest)):
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            if not module.check_mode:
                module.fail_json(msg="%s: directory %s does not exist - create it first" % (option, directory))
            module.warn("%s: directory %s does not exist; a run that is not in check mode needs it" % (option, directory))
        if os.path.isdir(path):
            module.fail_json(msg="%s: %s is a directory; give the path of a file" % (option, path))
    if os.path.abspath(dest) == os.path.abspath(json_dest):
        module.fail_json(msg="json_dest: must differ from dest (%s)" % dest)

    try:
        dr_config = _load_dr_config(module)
        switchover = None
        if module.params["switchover_results"] is not None:
            switchover = report.switchover_moves(module.params["switchover_results"])
        facts = module.params["facts"]
        generated = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
        data = report.build(facts, dags=module.params["dags"], host_sites=module.params["host_sites"],
                            dr_config=dr_config, switchover=switchover, title=module.params["title"],
                            generated=generated, problems=facts.get("warnings") or [])
    except report.ReportInputError as exc:
        module.fail_json(msg=str(exc))

    page = report.render_html(data)
    changed = not _unchanged(data, json_dest, dest)
    if changed and not module.check_mode:
        try:
            _write_all(module, [(json_dest, json.dumps(data, indent=1, sort_keys=False) + "\n"), (dest, page)])
        except OSError as exc:
            module.fail_json(msg="dest: cannot write the report: %s" % to_native(exc))
    result = dict(
        changed=changed, dest=dest, json_dest=json_dest, dags=[g["name"] for g in data["dags"]], summary=data["summary"],
        dr_config=dr_config["summary"] if dr_config else None,
        switchover=None if data["switchover"] is None else {
            "databases_moved": sum(1 for r in data["switchover"]["databases"] if r["moved"]),
            "logs_lost": data["switchover"]["logs_lost"]},
        size=len(page.encode("utf-8")), elapsed=round(time.monotonic() - started, 3),
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
