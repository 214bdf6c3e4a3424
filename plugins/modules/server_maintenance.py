#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: server_maintenance
short_description: Put an Exchange DAG member into maintenance (server switchover) or take it out
version_added: 0.1.0
description:
  - Enters or leaves maintenance mode on one Exchange server, as the documented manual steps do (the cmdlet
    equivalent of C(StartDagServerMaintenance.ps1) and C(StopDagServerMaintenance.ps1), which cannot run through the
    restricted remote PowerShell endpoint).
  - Every step is checked against the current state first, so a run after a failure part way does only what is
    still missing, and a run on a server already in the requested state changes nothing.
  - >-
    Exchange 2013, 2016, 2019 and SE, O(state=maintenance), in this order: C(Set-ServerComponentState HubTransport
    Draining) (requester C(Maintenance)); on 2013 and 2016 C(UMCallRouter Draining); restart of the
    C(MSExchangeTransport) service on the Windows endpoint; C(Suspend-ClusterNode); C(Set-MailboxServer
    -DatabaseCopyActivationDisabledAndMoveNow $true); C(Set-MailboxServer -DatabaseCopyAutoActivationPolicy
    Blocked); the primary active manager (PAM) moved to another node with C(Move-ClusterGroup "Cluster Group")
    when the server is the PAM; C(Move-ActiveMailboxDatabase -Server) for the databases Active Manager has not
    moved, with O(move_retries) retries; C(Redirect-Message) of the queued mail to another server; finally
    C(ServerWideOffline Inactive).
  - >-
    Exchange 2013 and later, O(state=active): C(ServerWideOffline Active); on 2013 and 2016 C(UMCallRouter Active);
    C(Resume-ClusterNode); C(DatabaseCopyActivationDisabledAndMoveNow $false); the activation policy the server had
    before maintenance (see O(restore_activation_policy)); C(HighAvailability Active) when requester C(Maintenance)
    had made it Inactive; C(HubTransport Active); the transport restart; and C(ServerWideOffline), C(Monitoring) or
    C(RecoveryActionsEnabled) back to Active when requester C(Functional) left them Inactive (a failed update).
    Databases are not moved back: use M(exchange.dr.dag_rebalance), as the role C(exchange.dr.server_switchover)
    does.
  - >-
    Exchange 2010 (no component states): activation policy C(Blocked), node paused, databases and PAM moved, then
    C(Suspend-MailboxDatabaseCopy -ActivationOnly) on every copy of the server with the comment "Suspended
    ActivationOnly by exchange.dr.server_maintenance at <time>". Leaving maintenance resumes the node, restores
    the policy and runs C(Resume-MailboxDatabaseCopy) only on copies whose suspend comment starts with "Suspended
    ActivationOnly by" (this module's and C(StartDagServerMaintenance.ps1)'s), never on copies suspended for
    another reason.
  - >-
    Exchange 2007 CCR (O(exchange_version=2007)): O(mailbox_server) is the clustered mailbox server and
    O(cluster_node) the node to vacate; entering maintenance moves the clustered mailbox server to the other node
    with C(Move-ClusteredMailboxServer) and stops there. O(state=active) has nothing to undo (move it back by
    entering maintenance on the other node).
  - Before any write of O(state=maintenance) the module checks the redundancy floor (O(min_healthy_copies)), the
    number of servers in maintenance (O(max_servers_in_maintenance)), that the cluster keeps quorum once the node
    restarts, the file share witness, and that another server can take the queued mail. It refuses with a message
    naming the databases or servers concerned.
options:
  mailbox_server:
    description:
      - Name (or FQDN) of the Exchange server to put into or take out of maintenance.
      - The connection option O(server) is the host the PowerShell session is opened on; it may be this server or
        any other Exchange server of the organization.
      - With O(exchange_version=2007), the clustered mailbox server (CMS) name.
    type: str
    required: true
  state:
    description:
      - V(maintenance) enters maintenance, V(active) leaves it.
    type: str
    choices: [maintenance, active]
    default: maintenance
  cluster_node:
    description:
      - Exchange 2007 CCR only, and required there with O(state=maintenance), the node of the clustered mailbox
        server O(mailbox_server) to vacate. The module is idempotent on it. When the CMS is not active on this
        node nothing moves.
    type: str
  min_healthy_copies:
    description:
      - Redundancy floor. Every replicated database with a copy on O(mailbox_server) must keep at least this many
        healthy copies on the other servers (the active copy mounted, passive copies C(Healthy)), not counting
        servers already in maintenance.
      - Defaults to V(2), or V(1) when the DAG has two members (not counting stopped ones), the rule of
        C(StartDagServerMaintenance.ps1).
      - With Exchange 2007 CCR any value above V(0) requires the storage group copies to be C(Healthy).
    type: int
  max_servers_in_maintenance:
    description:
      - Most DAG members allowed in maintenance at once, this one included. A member is in maintenance when it is in
        the DAG's C(ServersInMaintenance) or its cluster node is C(Paused).
      - Independently of this number, the module refuses when the DAG's cluster would lose quorum with this server
        and the others in maintenance down (node majority, with the file share witness's vote while the DAG uses one).
    type: int
    default: 1
  redirect_target:
    description:
      - Server (name or FQDN) that receives the queued mail (C(Redirect-Message -Target)).
      - By default the module chooses another Exchange 2013 or later server with C(HubTransport) and
        C(ServerWideOffline) C(Active) and an activation policy other than C(Blocked), not in maintenance, in the
        same Active Directory site first, then in the same DAG, then by name.
      - A given server must meet the same conditions.
    type: str
  restore_activation_policy:
    description:
      - The C(DatabaseCopyAutoActivationPolicy) to set when leaving maintenance.
      - V(recorded) restores the value recorded in O(record_file) when the server entered maintenance.
        C(StopDagServerMaintenance.ps1) always writes C(Unrestricted), which is wrong for a server that was
        deliberately C(Blocked) or C(IntrasiteOnly), for example in a standby datacenter.
      - With V(recorded) and nothing recorded, a server whose policy is C(Blocked) is refused (nothing is written)
        until this option names the policy.
    type: str
    choices: [recorded, Unrestricted, IntrasiteOnly, Blocked]
    default: recorded
  record_file:
    description:
      - JSON file on the controller where entering maintenance records what the server's state does not keep,
        that is the activation policy before maintenance and whether a transport restart is still pending.
      - Leaving maintenance reads it back (see O(restore_activation_policy)) and marks it as left.
      - A run that enters maintenance again on a server that has not left it keeps the recorded policy instead of
        reading C(Blocked), the value the first run set.
      - The file is written with mode C(0600); its directory is created when missing. Nothing is written in check
        mode. Without O(record_file), the pre-maintenance policy is returned in RV(pre_maintenance) only.
    type: path
  timeout:
    description:
      - Seconds the module may wait in total for Active Manager to move the databases, for the retries and for the
        queues to drain, before it fails naming what is left.
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between two reads while waiting.
    type: float
    default: 5.0
  move_retries:
    description:
      - Number of times C(Move-ActiveMailboxDatabase -Server) is retried when databases are still active on the
        server (the maintenance script's 2 retries).
    type: int
    default: 2
  move_retry_delay:
    description:
      - Seconds between two C(Move-ActiveMailboxDatabase) attempts (the maintenance script waits 60 seconds).
      - Also how long the module waits without any database moving before it stops waiting for Active Manager's
        own moves (C(DatabaseCopyActivationDisabledAndMoveNow)) and moves the rest itself.
    type: float
    default: 60.0
extends_documentation_fragment:
  - exchange.dr.connection
  - exchange.dr.windows_connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: >-
      Reads the state, runs the checks and returns the plan (RV(steps) with status V(planned) or V(skipped)) and the
      predicted state in RV(after). Sends no C(Set-), C(Move-), C(Suspend-), C(Resume-), C(Redirect-), C(Stop-) or
      C(Start-) cmdlet and writes no O(record_file).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The diff is RV(before) and RV(after).
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - >-
    Reads: C(Get-ExchangeServer), C(Get-MailboxServer), C(Get-DatabaseAvailabilityGroup -Status),
    C(Get-MailboxDatabaseCopyStatus), C(Get-ServerComponentState -Identity) (this server, and the other Exchange 2013+
    servers when mail has to be redirected), C(Get-Queue -Server); on the Windows endpoint C(Get-ClusterNode), and
    C(Get-Command Move-ClusterGroup) when the server is the PAM.
  - >-
    The Exchange user needs the Server Management and Databases roles (Organization Management has them); the Windows
    user must be a local administrator of the server (cluster and service control).
  - >-
    The transport restart is C(Stop-Service MSExchangeTransport) then C(Start-Service MSExchangeTransport). The runbook's
    C(Restart-Service) is not among the cmdlets whose syntax the collection is checked against. The restart is done in
    the run that changes C(HubTransport). With O(record_file) a run that stopped between the two does it on the next
    run. Without it that restart is not detected.
  - >-
    The PAM is moved with the FailoverClusters cmdlet C(Move-ClusterGroup -Name "Cluster Group" -Node <node>). The
    maintenance script uses its own helper, and this cmdlet choice is not confirmed by the runbooks. When the cmdlet is not
    available on the server (C(Get-Command) finds none), the step is skipped with a warning. The cluster then moves
    the core group to an Up node when the paused node stops or restarts for its update, because a paused node cannot
    take it back.
  - >-
    The databases move first by Active Manager (C(DatabaseCopyActivationDisabledAndMoveNow)). The module waits while
    they move, then sends C(Move-ActiveMailboxDatabase -Server) for those left, up to 1 + O(move_retries) times,
    O(move_retry_delay) seconds apart, and fails naming the databases still active and the errors Exchange gave.
  - Names of servers are compared case-insensitively; FQDNs are accepted where names are.
seealso:
  - module: exchange.dr.exchange_info
  - module: exchange.dr.dag_rebalance
  - name: Performing maintenance on DAG members
    description: Microsoft's manual steps this module follows.
    link: https://learn.microsoft.com/exchange/high-availability/manage-ha/manage-dags#performing-maintenance-on-dag-members
  - name: Set-ServerComponentState
    description: The component states and requesters.
    link: https://learn.microsoft.com/powershell/module/exchange/set-servercomponentstate
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
# The connection options are set once for the play; the module runs on the controller.
- name: Patch EX01
  module_defaults:
    group/exchange.dr.exchange:
      server: ex02.contoso.com
      username: admin@CONTOSO.COM
      password: "{{ vault_exchange_admin_password }}"
      auth: kerberos
      ca_trust_path: /etc/pki/contoso-root-ca.pem
  block:
    - name: Enter maintenance (Windows cmdlets on https://ex01.contoso.com:5986/wsman)
      exchange.dr.server_maintenance:
        mailbox_server: EX01
        state: maintenance
        record_file: /var/lib/exchange-dr/maintenance/EX01.json
      register: entered

    - name: Show what was done
      ansible.builtin.debug:
        msg: "{{ entered.steps | selectattr('status', 'eq', 'done') | map(attribute='name') | list }}"

    - name: Leave maintenance and restore the recorded activation policy
      exchange.dr.server_maintenance:
        mailbox_server: EX01
        state: active
        record_file: /var/lib/exchange-dr/maintenance/EX01.json

# Check mode: the plan and the predicted state, nothing written.
- name: What would entering maintenance on EX03 do?
  exchange.dr.server_maintenance:
    mailbox_server: EX03
    min_healthy_copies: 3
    max_servers_in_maintenance: 2
  check_mode: true
  register: plan

# Explicit choices and waits; a Windows endpoint on another port, with other credentials.
- name: Enter maintenance with a chosen mail target
  exchange.dr.server_maintenance:
    mailbox_server: ex02.contoso.com
    redirect_target: ex04.contoso.com
    timeout: 3600
    poll_interval: 10
    move_retries: 3
    move_retry_delay: 90
    windows_connection:
      server: ex02-mgmt.contoso.com
      port: 5986
      path: wsman
      configuration_name: Microsoft.PowerShell
      username: CONTOSO\winadmin
      password: "{{ vault_windows_admin_password }}"
      auth: ntlm
      ssl: true
      validate_certs: true
      ca_trust_path: /etc/pki/contoso-root-ca.pem
      message_encryption: auto
      connection_timeout: 10
      operation_timeout: 60
      reconnection_retries: 1
      reconnection_backoff: 2.0
      no_proxy: true
      allow_unencrypted: false

# A standby-datacenter server that stays Blocked whatever was recorded.
- name: Leave maintenance, keeping activation blocked
  exchange.dr.server_maintenance:
    mailbox_server: EX03
    state: active
    restore_activation_policy: Blocked

# The lab: each host's Exchange and Windows endpoints from `exchange-lab inventory`.
- name: One DAG member at a time (run it in a play on the dag_DAG1 group with serial 1)
  module_defaults:
    group/exchange.dr.exchange: "{{ exchange_dr_connection }}"
  block:
    - name: Enter maintenance
      exchange.dr.server_maintenance:
        mailbox_server: "{{ inventory_hostname }}"
        windows_connection: "{{ exchange_dr_windows_connection }}"
        record_file: "{{ playbook_dir }}/records/{{ inventory_hostname }}.json"

# Exchange 2007 CCR: move the clustered mailbox server off node NODEA.
- name: Vacate NODEA
  exchange.dr.server_maintenance:
    server: nodeb.contoso.com
    exchange_version: "2007"
    mailbox_server: CMS1
    cluster_node: NODEA
    state: maintenance
"""

RETURN = r"""
server:
  description: Short name of the server acted on.
  returned: always
  type: str
  sample: EX01
version:
  description: Exchange product of the server.
  returned: always
  type: str
  sample: "2019"
state:
  description: The requested state.
  returned: always
  type: str
  sample: maintenance
steps:
  description:
    - The ordered steps, each with V(done) (sent in this run), V(skipped) (already so, or not applicable; see
      C(reason)), V(planned) (check mode, or not reached because a check refused or an earlier step failed) or
      V(failed).
  returned: always
  type: list
  elements: dict
  sample:
    - name: hub_transport_draining
      description: HubTransport Draining (requester Maintenance)
      endpoint: exchange
      status: skipped
      reason: already Draining
      commands:
        - cmdlet: Set-ServerComponentState
          parameters: {Identity: EX01, Component: HubTransport, State: Draining, Requester: Maintenance}
      elapsed: 0.0
    - name: move_databases
      description: move the active databases off EX01
      endpoint: exchange
      status: done
      reason: null
      databases: [DB01, DB03, DB07]
      attempts: 1
      commands:
        - cmdlet: Move-ActiveMailboxDatabase
          parameters: {Server: EX01, Confirm: false}
      elapsed: 1.52
before:
  description: The managed state before the run (see RV(after)).
  returned: always
  type: dict
  sample:
    server: EX01
    activation_policy: Unrestricted
    cluster_node: Up
    primary_active_manager: EX01
    active_databases: [DB01, DB03, DB07]
    components: {HubTransport: Active, ServerWideOffline: Active, Monitoring: Active}
    maintenance_requester: {}
    activation_disabled_and_move_now: false
    queued_messages: 3
after:
  description:
    - The managed state after the run, read back; in check mode the state the plan predicts.
    - Keys as in RV(before). C(components) holds effective states, and C(maintenance_requester) what requester
      C(Maintenance) set (Exchange 2013 and later). C(activation_suspended_copies) is for Exchange 2010, and
      C(clustered_mailbox_server)/C(active_node) for Exchange 2007.
  returned: always
  type: dict
  sample:
    server: EX01
    activation_policy: Blocked
    cluster_node: Paused
    primary_active_manager: EX02
    active_databases: []
    components: {HubTransport: Inactive, ServerWideOffline: Inactive, Monitoring: Active}
    maintenance_requester: {HubTransport: Draining, ServerWideOffline: Inactive}
    activation_disabled_and_move_now: true
    queued_messages: 0
verification:
  description: The runbook's success checks for the requested state, on RV(after).
  returned: always
  type: dict
  sample: {activation_blocked: true, no_active_databases: true, cluster_node_paused: true,
           not_primary_active_manager: true, server_wide_offline_inactive: true, hub_transport_not_active: true,
           queues_empty: true}
in_maintenance:
  description: Whether RV(after) meets every check for maintenance (the PAM aside, see the notes).
  returned: always
  type: bool
  sample: true
pre_maintenance:
  description:
    - The activation policy recorded on entry (O(state=maintenance)) or restored on exit (O(state=active)), and where
      it came from, C(read) (the server's value), C(record) (O(record_file)), C(option)
      (O(restore_activation_policy)) or C(unknown).
  returned: always
  type: dict
  sample: {activation_policy: Unrestricted, source: read}
checks:
  description: The checks made before writing, with the floor used and the servers already in maintenance.
  returned: when O(state=maintenance)
  type: dict
  sample:
    min_healthy_copies: 2
    servers_in_maintenance: []
    quorum: {votes: 4, needed: 3, total: 5, voting: [EX02, EX03, EX04], has_quorum: true}
    problems: []
progress:
  description: How many steps are done, skipped, planned and failed, and the share finished.
  returned: always
  type: dict
  sample: {done: 8, skipped: 2, planned: 0, failed: 0, total: 10, percent: 100}
record_file:
  description: The record file used, if any.
  returned: always
  type: str
  sample: /var/lib/exchange-dr/maintenance/EX01.json
round_trips:
  description: Cmdlet invocations sent, Exchange and Windows endpoints together.
  returned: always
  type: int
  sample: 31
elapsed:
  description: Seconds the run took.
  returned: always
  type: float
  sample: 12.7
"""

import datetime
import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils import exchange
from ansible_collections.exchange.dr.plugins.module_utils import maintenance as m
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client, ExchangeError, connection_argument_spec
from ansible_collections.exchange.dr.plugins.module_utils.windows import (
    get_cluster_nodes,
    set_service_state,
    windows_client,
    windows_connection_argument_spec,
)


class StepFailure(Exception):
    """A step could not reach its state (databases still active, mail still queued)."""


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def load_record(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return data if isinstance(data, dict) else None


def save_record(path, data) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".maintenance-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def public_step(step: dict) -> dict:
    out = {key: value for key, value in step.items() if key != "commands"}
    out["commands"] = [{"cmdlet": cmdlet, "parameters": params} for cmdlet, params in step["commands"]]
    out.setdefault("elapsed", 0.0)
    return out


class Maintenance:
    """One run: read, check, plan, apply step by step (each waited on), read back."""

    def __init__(self, module) -> None:
        self.module = module
        self.params = module.params
        self.started = time.monotonic()
        self.deadline = self.started + self.params["timeout"]
        self.ex = Client.from_module(module)
        self.win = None
        self.fqdn = None
        self.warnings = []
        self.record = None
        self.snap = None
        self.steps = []
        self.move_now_set = False
        self.restart_planned = False

    # ------------------------------------------------------------------ sessions
    def windows(self):
        if self.win is None:
            self.win = windows_client(self.module, self.fqdn)
        return self.win

    def client(self, endpoint: str):
        return self.windows() if endpoint == "windows" else self.ex

    def close(self) -> None:
        for client in (self.ex, self.win):
            if client is not None:
                client.close()

    @property
    def round_trips(self) -> int:
        return len(self.ex.calls) + (len(self.win.calls) if self.win is not None else 0)

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    # --------------------------------------------------------------------- reads
    def snapshot(self, state: str) -> dict:
        if self.params["exchange_version"] == "2007":
            return self.snapshot_2007()
        wanted = self.params["mailbox_server"]
        servers = exchange.read_servers(self.ex)
        me = next((s for s in servers if m._same(s["name"], wanted) or m._same(s["fqdn"], wanted)
                   or m._same(s["name"], m._short(wanted))), None)
        if me is None:
            raise m.MaintenanceError("mailbox_server %s is not an Exchange server of the organization (servers: %s)"
                                     % (wanted, ", ".join(s["name"] for s in servers)))
        family = m.family_of(me["product"])
        if family == "2007":
            raise m.MaintenanceError("%s runs Exchange 2007: connect with exchange_version 2007 to its clustered "
                                     "mailbox server's node and give cluster_node" % me["name"])
        self.fqdn = me["fqdn"] or me["name"]
        snap = {"server": me["name"], "fqdn": self.fqdn, "family": family, "product": me["product"],
                "site": me["site"], "activation_policy": me["database_copy_auto_activation_policy"],
                "move_now": bool(me["database_copy_activation_disabled_and_move_now"]), "record": self.record,
                "dag": None, "cluster_nodes": [], "components": {}, "queues": [], "pam_move_available": False}
        snap["servers"] = [{"name": s["name"], "fqdn": s["fqdn"], "site": s["site"], "dag": s["dag"],
                            "family": m.family_of(s["product"]), "roles": s["roles"],
                            "activation_policy": s["database_copy_auto_activation_policy"],
                            "move_now": s["database_copy_activation_disabled_and_move_now"]} for s in servers]
        if me["dag"]:
            snap["dag"] = next((d for d in exchange.read_dags(self.ex) if m._same(d["name"], me["dag"])), None)
        snap["copies"] = exchange.read_copies(self.ex)
        if snap["dag"] is not None:
            snap["cluster_nodes"] = [{"name": n["name"], "state": n["state"]} for n in get_cluster_nodes(self.windows())]
        if family == "2013":
            rows, problems = exchange.read_components(self.ex, [me])
            if problems:
                raise m.MaintenanceError("cannot read the component states of %s: %s" % (me["name"], "; ".join(problems)))
            snap["components"] = {row["component"]: row for row in rows}
            rows, problems = exchange.read_queues(self.ex, [me])
            snap["queues"] = None if problems else rows
            self.warnings.extend("Get-Queue -Server %s: %s" % (me["name"], p) for p in problems)
            if state == "maintenance" and (snap["queues"] is None or m.queued_messages(snap["queues"])):
                others = [s for s in servers if not m._same(s["name"], me["name"])]
                rows, problems = exchange.read_components(self.ex, others)
                by_server = {}
                for row in rows:
                    by_server.setdefault(row["server"].lower(), {})[row["component"]] = row
                for other in snap["servers"]:
                    other["components"] = by_server.get(other["name"].lower(), {})
        dag = snap["dag"]
        if state == "maintenance" and dag is not None and m._same(dag.get("primary_active_manager"), me["name"]):
            rows, _errors = self.windows().invoke("Get-Command", {"Name": m.MOVE_CLUSTER_GROUP}, errors="return")
            snap["pam_move_available"] = bool(rows)
        return snap

    def snapshot_2007(self) -> dict:
        cms = self.params["mailbox_server"]
        rows = self.ex.invoke("Get-ClusteredMailboxServerStatus", {"Identity": cms},
                              select=["Identity", "ClusteredMailboxServerName", "State", "OperationalMachines"])
        if not rows:
            raise m.MaintenanceError("%s is not a clustered mailbox server" % cms)
        nodes = []
        for entry in c.as_list(rows[0].get("OperationalMachines")):
            text = c.text(entry) or ""
            name, _sep, tags = text.partition("<")
            nodes.append({"name": name.strip(), "operational": True,
                          "active": "Active" in [t.strip() for t in tags.rstrip(">").split(",")]})
        active = next((n["name"] for n in nodes if n["active"]), None)
        copies = self.ex.invoke("Get-StorageGroupCopyStatus", {"Server": cms},
                                select=["Identity", "StorageGroupName", "SummaryCopyStatus"])
        self.fqdn = c.text(rows[0].get("ClusteredMailboxServerName")) or cms
        return {"server": m._short(c.text(rows[0].get("Identity")) or cms), "fqdn": self.fqdn, "family": "2007",
                "product": "2007", "cluster_node": self.params["cluster_node"], "record": self.record,
                "cms": {"name": m._short(c.text(rows[0].get("Identity")) or cms), "state": c.enum(rows[0].get("State")),
                        "active_node": active, "nodes": nodes,
                        "copies": [{"name": c.text(r.get("StorageGroupName")) or c.text(r.get("Identity")),
                                    "status": c.enum(r.get("SummaryCopyStatus"))} for r in copies]}}

    def active_on_server(self, replicated: set) -> list:
        server = self.snap["server"]
        rows = self.ex.invoke("Get-MailboxDatabaseCopyStatus", {"Server": server}, select=exchange.select("copies"))
        copies = [exchange.normalise("copies", row) for row in rows]
        return m._names(cp["database"] for cp in copies if cp["database"] in replicated
                        and (cp["active"] or cp["status"] in m.ACTIVE_COPY_STATUSES))

    def queue_count(self):
        rows, problems = exchange.read_queues(self.ex, [{"name": self.snap["server"], "roles": ["Mailbox"]}])
        return (None, problems) if problems else (m.queued_messages(rows), [])

    # ------------------------------------------------------------------ record
    def write_record(self, **changes) -> None:
        path = self.params["record_file"]
        if not path or self.module.check_mode:
            return
        data = dict(self.record or {})
        data.update(changes)
        data.update(module="exchange.dr.server_maintenance", server=self.snap["server"])
        if data != (self.record or {}):
            data["updated_at"] = now_iso()
            save_record(path, data)
            self.record = data

    # -------------------------------------------------------------------- steps
    def run_step(self, step: dict, state: str) -> None:
        name = step["name"]
        started = time.monotonic()
        if name in ("hub_transport_draining", "hub_transport_active") and self.restart_planned:
            self.write_record(transport_restart_pending=state)
        if name == "transport_restart":
            result = set_service_state(self.windows(), m.TRANSPORT_SERVICE, "restarted")
            step["service"] = result["after"]
            self.write_record(transport_restart_pending=None)
        elif name == "move_databases":
            self.move_databases(step)
        elif name == "redirect_messages":
            if not self.redirect_messages(step):
                step.update(status="skipped", reason="no message queued outside the shadow queues (read again)",
                            elapsed=round(time.monotonic() - started, 3))
                return
        else:
            client = self.client(step["endpoint"])
            for cmdlet, params in step["commands"]:
                client.invoke(cmdlet, params)
        if name == "activation_disabled_and_move_now":
            self.move_now_set = True
        step["status"] = "done"
        step["elapsed"] = round(time.monotonic() - started, 3)

    def move_databases(self, step: dict) -> None:
        """Wait while Active Manager moves the databases (MoveNow set in this run), then
        Move-ActiveMailboxDatabase -Server for the rest, 1 + move_retries times."""
        replicated = m.replicated_databases(self.snap.get("copies") or [])
        interval = self.params["poll_interval"]
        remaining = self.active_on_server(replicated)
        if remaining and self.move_now_set:
            last, last_change = len(remaining), time.monotonic()
            while remaining and time.monotonic() - last_change < self.params["move_retry_delay"] and self.remaining():
                time.sleep(min(interval, self.remaining()))
                remaining = self.active_on_server(replicated)
                if len(remaining) != last:
                    last, last_change = len(remaining), time.monotonic()
            step["moved_by_active_manager"] = [d for d in step["databases"] if d not in remaining]
        errors = []
        attempts = 0
        while remaining and attempts <= self.params["move_retries"]:
            if attempts:
                if self.remaining() < self.params["move_retry_delay"]:
                    break
                time.sleep(self.params["move_retry_delay"])
            attempts += 1
            _rows, records = self.ex.invoke("Move-ActiveMailboxDatabase", {"Server": self.snap["server"],
                                                                           "Confirm": False}, errors="return")
            errors = [" ".join(r.message.split()) for r in records]
            remaining = self.active_on_server(replicated)
        step["attempts"] = attempts
        if remaining:
            raise StepFailure("%s still active on %s after %d Move-ActiveMailboxDatabase attempt%s%s"
                              % (", ".join(remaining), self.snap["server"], attempts, "" if attempts == 1 else "s",
                                 (": " + " | ".join(errors)) if errors else ""))

    def redirect_messages(self, step: dict) -> None:
        interval = self.params["poll_interval"]

        def answered():
            count, problems = self.queue_count()
            return count is not None, (count, problems)

        waited = m.wait_until(answered, self.remaining(), interval)
        count, problems = waited["value"]
        if count is None:
            raise StepFailure("Get-Queue -Server %s did not answer within timeout: %s"
                              % (self.snap["server"], "; ".join(problems)))
        if count == 0:
            return False
        if step.get("problem") or not step["commands"]:
            raise StepFailure(step.get("problem") or "no server can take the queued mail")
        for cmdlet, params in step["commands"]:
            self.ex.invoke(cmdlet, params)

        def drained():
            count, _problems = self.queue_count()
            return count == 0, count

        waited = m.wait_until(drained, self.remaining(), interval)
        step["polls"] = waited["polls"]
        if not waited["done"]:
            raise StepFailure("%s message(s) still queued on %s after Redirect-Message to %s"
                              % (waited["value"], self.snap["server"], step.get("target")))
        return True

    # ---------------------------------------------------------------------- run
    def result(self, **extra) -> dict:
        out = dict(server=self.snap.get("server") if self.snap else self.params["mailbox_server"],
                   version=self.snap.get("product") if self.snap else None, state=self.params["state"],
                   steps=[public_step(s) for s in self.steps], progress=m.progress(self.steps),
                   record_file=self.params["record_file"], round_trips=self.round_trips,
                   elapsed=round(time.monotonic() - self.started, 3))
        out.update(extra)
        return out

    def run(self) -> dict:
        state = self.params["state"]
        self.record = load_record(self.params["record_file"])
        if self.record and not m._same(self.record.get("server"), m._short(self.params["mailbox_server"])) \
                and not m._same(self.record.get("server"), self.params["mailbox_server"]):
            raise m.MaintenanceError("record_file %s records server %s, not %s: give each server its own record file"
                                     % (self.params["record_file"], self.record.get("server"),
                                        self.params["mailbox_server"]))
        if self.params["exchange_version"] == "2007" and state == "maintenance" and not self.params["cluster_node"]:
            raise m.MaintenanceError("cluster_node is required with exchange_version 2007 and state maintenance: the "
                                     "node of %s to vacate" % self.params["mailbox_server"])
        self.snap = self.snapshot(state)
        when = now_iso()
        self.steps = m.plan(self.snap, state, {"redirect_target": self.params["redirect_target"],
                                               "restore_activation_policy": self.params["restore_activation_policy"]},
                            when)
        before = m.summary(self.snap)
        extra = {"before": before}
        if state == "maintenance":
            policy, source = m.entry_policy(self.snap)
            extra["pre_maintenance"] = {"activation_policy": policy, "source": source}
            if source == "unknown":
                self.warnings.append("%s is Blocked and already partly in maintenance and no record_file says what its "
                                     "activation policy was before: set restore_activation_policy when it leaves "
                                     "maintenance" % self.snap["server"])
        else:
            policy, source = m.restore_policy(self.snap, self.params["restore_activation_policy"])
            extra["pre_maintenance"] = {"activation_policy": policy, "source": source}
        problems = m.problems_of(self.steps)
        if state == "maintenance" and m.writes_planned(self.steps):
            checks = m.preflight(self.snap, self.params["min_healthy_copies"], self.params["max_servers_in_maintenance"])
            extra["checks"] = checks
            problems = checks["problems"] + problems
        elif state == "maintenance":
            extra["checks"] = {"problems": [], "min_healthy_copies": None, "servers_in_maintenance":
                               m.in_maintenance_servers(self.snap), "quorum": None}
        for step in self.steps:
            if step.get("unavailable"):
                self.warnings.append("%s: %s" % (step["name"], step["reason"]))
        if problems:
            raise Refusal("refusing to %s %s, nothing was changed: %s"
                          % ("enter maintenance on" if state == "maintenance" else "take out of maintenance",
                             self.snap["server"], "; ".join(problems)), self.result(**extra))
        self.restart_planned = any(s["name"] == "transport_restart" and s["status"] == "planned" for s in self.steps)
        if self.module.check_mode:
            after_snap = m.predict(self.snap, self.steps, when)
        else:
            if state == "maintenance" and m.writes_planned(self.steps):
                previous = self.record or {}
                entered_at = previous.get("entered_at") if previous.get("state") == "maintenance" else when
                self.write_record(state="maintenance", activation_policy=extra["pre_maintenance"]["activation_policy"],
                                  entered_at=entered_at)
            for step in self.steps:
                if step["status"] != "planned":
                    continue
                try:
                    self.run_step(step, state)
                except (ExchangeError, StepFailure) as exc:
                    step["status"] = "failed"
                    step["error"] = str(exc)
                    message = ("step %s (%s) failed: %s. The steps before it stay done: run the task again to "
                               "resume (done steps are detected and skipped)" % (step["name"], step["description"], exc))
                    raise Failure(message, self.result(**extra), exc)
            if state == "active" and (self.record or {}).get("state") == "maintenance":
                self.write_record(state="active", left_at=when, transport_restart_pending=None)
            after_snap = self.snapshot(state) if any(s["status"] == "done" for s in self.steps) else self.snap
        after = m.summary(after_snap)
        changed = any(s["status"] in ("done", "planned") for s in self.steps) if self.module.check_mode else any(
            s["status"] == "done" for s in self.steps)
        checks = m.verification(after, self.snap["family"], state)
        extra.update(after=after, verification=checks, in_maintenance=m.in_maintenance(after, self.snap["family"]))
        if self.module._diff:
            extra["diff"] = {"before": before, "after": after}
        if state == "maintenance" and not checks.get("not_primary_active_manager", True) and not self.module.check_mode \
                and not any(s.get("unavailable") for s in self.steps):
            self.warnings.append("%s is still the primary active manager of %s"
                                 % (self.snap["server"], self.snap["dag"]["name"]))
        return self.result(changed=changed, **extra)


class Refusal(Exception):
    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        self.result = result


class Failure(Exception):
    def __init__(self, message: str, result: dict, cause: Exception) -> None:
        super().__init__(message)
        self.result = result
        self.cause = cause


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(windows_connection_argument_spec())
    argument_spec.update(
        mailbox_server=dict(type="str", required=True),
        state=dict(type="str", default="maintenance", choices=["maintenance", "active"]),
        cluster_node=dict(type="str"),
        min_healthy_copies=dict(type="int"),
        max_servers_in_maintenance=dict(type="int", default=1),
        redirect_target=dict(type="str"),
        restore_activation_policy=dict(type="str", default="recorded",
                                       choices=["recorded", "Unrestricted", "IntrasiteOnly", "Blocked"]),
        record_file=dict(type="path"),
        timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=5.0),
        move_retries=dict(type="int", default=2),
        move_retry_delay=dict(type="float", default=60.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    for name in ("timeout", "move_retries", "min_healthy_copies"):
        if params[name] is not None and params[name] < 0:
            module.fail_json(msg="%s must be 0 or more, got %s" % (name, params[name]))
    if params["max_servers_in_maintenance"] < 1:
        module.fail_json(msg="max_servers_in_maintenance must be at least 1, got %s" % params["max_servers_in_maintenance"])
    if params["poll_interval"] <= 0 or params["move_retry_delay"] < 0:
        module.fail_json(msg="poll_interval must be above 0 and move_retry_delay 0 or more")
    run = None
    outcome = {}
    try:
        run = Maintenance(module)
        outcome = {"result": run.run()}
    except Refusal as exc:
        outcome = {"msg": str(exc), "result": exc.result}
    except Failure as exc:
        cause = exc.cause.result() if isinstance(exc.cause, ExchangeError) else {}
        outcome = {"msg": str(exc), "result": dict(exc.result, **cause)}
    except m.MaintenanceError as exc:
        outcome = {"msg": str(exc), "result": run.result() if run is not None else {}}
    except ExchangeError as exc:
        outcome = {"msg": str(exc), "result": dict(exc.result(), round_trips=run.round_trips if run else 0)}
    except (OSError, json.JSONDecodeError) as exc:
        outcome = {"msg": "record_file %s: %s" % (params["record_file"], exc), "result": {}}
    finally:
        if run is not None:
            for warning in run.ex.warnings + (run.win.warnings if run.win is not None else []) + run.warnings:
                module.warn(warning)
            run.close()
    if "msg" in outcome:
        module.fail_json(msg=outcome["msg"], **outcome["result"])
    module.exit_json(**outcome["result"])


if __name__ == "__main__":
    main()
