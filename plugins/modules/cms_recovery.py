#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cms_recovery
short_description: Exchange 2007 SCR site failover (Setup /RecoverCMS on a standby cluster, or database portability)
version_added: 0.1.0
description:
  - Activates the standby continuous replication (SCR) copies of an Exchange 2007 SP1 mailbox server in the backup
    datacenter, as runbooks §8 and §9 describe (seed 000 Q1 and Q2).
  - O(method=recover_cms) (runbooks §8) recovers a clustered mailbox server (CMS) onto a standby cluster. Before any
    change it checks that the standby cluster's cluster name object (CNO) has Full Control (C(GenericAll)) on the
    CMS computer object (C(Get-ADPermission); without it C(Setup /RecoverCMS) cannot bring the network name online,
    seed 000 Q1), that the SCR copies on O(standby_machine) can be activated (C(Get-StorageGroupCopyStatus
    -StandbyMachine)), that no other CMS runs on the standby cluster, and that the old CMS is not online anywhere.
    Then it stops the old CMS when O(stop_source=true) and it still runs, activates each storage group's SCR copy
    (C(Restore-StorageGroupCopy -StandbyMachine), C(-Force) only with O(allow_data_loss=true) when the source is not
    available), runs C(Setup.com /RecoverCMS /CMSName:<cms> /CMSIPv4Address:<ip>) on the standby machine, mounts the
    databases recovery left dismounted (C(Mount-Database)), points the CMS's DNS A record at the new address with a
    short TTL (O(dns), 300 s by default, seed 000 Q2) and verifies the CMS is online on the standby cluster with
    every database mounted (C(Get-ClusteredMailboxServerStatus), C(Get-MailboxDatabase -Status)).
  - O(method=portability) (runbooks §9, standalone to standalone) activates the SCR copy of O(source_database)'s
    storage group on O(standby_machine) when given, mounts O(target_database) and re-homes the user mailboxes of
    O(source_database) to it with C(Move-Mailbox -ConfigurationOnly) (only the Active Directory attributes change).
    The result says what that means for Outlook clients (RV(client_consequence)). Exchange 2010 and later
    portability (C(Set-Mailbox -Database)) is not covered.
  - Every step is checked against the current state first, so a run that stopped part way resumes where it stopped
    and a run after a completed recovery changes nothing.
options:
  allow_data_loss:
    description:
      - Accept activating SCR copies that miss logs. Needed when the source (the old CMS or server) is not available,
        because C(Restore-StorageGroupCopy) then needs C(-Force) and the logs not yet copied are lost, and for copies
        that are C(Suspended) or C(Initializing).
      - Without it such a run fails before any change, naming the storage groups and their copy queues.
      - The logs lost are returned per storage group (RV(storage_groups)).
    type: bool
    default: false
  cms:
    description:
      - Name of the clustered mailbox server to recover (its NetBIOS name, for example V(CMS1)).
      - Required with O(method=recover_cms).
    type: str
  cms_computer_identity:
    description:
      - The CMS computer object for C(Get-ADPermission), best its distinguished name
        (V(CN=CMS1,CN=Computers,DC=contoso,DC=com)).
      - Defaults to O(cms).
    type: str
  dns:
    description:
      - The CMS's DNS A record, updated to O(ipv4_address) with O(dns.ttl) on a Windows DNS server reached through
        O(windows_connection) (whose O(windows_connection.server) must then name the DNS server).
      - When omitted the record is left to the cluster's own registration, which uses the network name's
        C(HostRecordTTL) (1200 s by default, runbooks §13).
      - Only with O(method=recover_cms).
    type: dict
    suboptions:
      name:
        description:
          - The record's host name, relative to O(dns.zone) or fully qualified. Defaults to O(cms).
        type: str
      ttl:
        description:
          - Time to live of the record in seconds. With the recommended 5 minutes Outlook reconnects to the recovered
            CMS after a short delay (seed 000 Q2).
        type: int
        default: 300
      zone:
        description:
          - The DNS zone, for example V(contoso.com).
        type: str
        required: true
  ipv4_address:
    description:
      - The CMS's new IPv4 address on the standby cluster's network (C(/CMSIPv4Address)). The CMS keeps its name.
      - Required with O(method=recover_cms).
    type: str
  method:
    description:
      - V(recover_cms) recovers a clustered mailbox server onto a standby cluster (runbooks §8).
      - V(portability) moves the mailboxes of a standalone server's database to a database of another server
        (runbooks §9).
    type: str
    choices: [recover_cms, portability]
    default: recover_cms
  setup_path:
    description:
      - Path of C(Setup.com) on the standby machine (the Exchange 2007 SP1 installation files).
    type: str
    default: Setup.com
  source_database:
    description:
      - With O(method=portability), the database whose mailboxes move, as C(<Server>\<StorageGroup>\<Database>).
    type: str
  standby_cluster:
    description:
      - The standby cluster (its cluster name, V(CLU2), or with the domain, V(CONTOSO\\CLU2)). Its CNO
        (C(CONTOSO\\CLU2$)) must have Full Control on the CMS computer object.
      - Required with O(method=recover_cms).
    type: str
  standby_machine:
    description:
      - The SCR target node of the standby cluster, where the SCR copies are activated and C(Setup /RecoverCMS) runs.
        The module's connection must address this node.
      - Required with O(method=recover_cms). With O(method=portability), the SCR target of O(source_database)'s
        storage group; when omitted no copy is activated (the target database's files are already in place).
    type: str
  stop_reason:
    description:
      - The C(-StopReason) of C(Stop-ClusteredMailboxServer) (O(stop_source=true)).
    type: str
    default: "exchange.dr: SCR site failover"
  stop_source:
    description:
      - When the old CMS is still online on its cluster, stop it (C(Stop-ClusteredMailboxServer)) before recovering
        it, to prevent a split brain. Without it such a run fails before any change.
    type: bool
    default: false
  target_database:
    description:
      - With O(method=portability), the database on the target server that receives the mailboxes
        (C(<Server>\<StorageGroup>\<Database>)). It must exist, with its files taken from the SCR copy (runbooks §9
        step 3); it is mounted when it is not.
    type: str
extends_documentation_fragment:
  - exchange.dr.connection
  - exchange.dr.windows_connection
  - exchange.dr.switchover.wait
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the state and runs every preflight check, then returns the plan (RV(actions) with status V(planned),
        RV(storage_groups), RV(dns)) and the predicted RV(after) state. Nothing is written and nothing is waited for.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Where the CMS runs, its databases' mount state and its DNS record (recover_cms); where the mailboxes are
      homed (portability).
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Exchange 2007 has no remote Exchange endpoint. The module's connection addresses the Windows PowerShell endpoint
    (WinRM, C(Microsoft.PowerShell), path V(wsman)) of O(standby_machine) and loads the snap-in
    C(Microsoft.Exchange.Management.PowerShell.Admin); O(exchange_version) defaults to V(2007) here.
  - Exchange cmdlets sent (recover_cms) are C(Get-ClusteredMailboxServerStatus), C(Get-MailboxServer),
    C(Get-ADPermission), C(Get-StorageGroupCopyStatus -StandbyMachine), C(Get-MailboxDatabase -Status),
    C(Stop-ClusteredMailboxServer), C(Restore-StorageGroupCopy -StandbyMachine [-Force] -Confirm:$false) and
    C(Mount-Database); the native program C(Setup.com) receives its switches as separate arguments, never as script
    text. The user needs Exchange Organization Administrator rights and local administrator rights on the node.
  - Portability sends C(Get-MailboxDatabase -Status), C(Get-StorageGroupCopyStatus), C(Restore-StorageGroupCopy),
    C(Mount-Database), C(Get-Mailbox -Database) and C(Move-Mailbox -ConfigurationOnly -Confirm:$false) (all the
    mailboxes in one pipeline).
  - The DNS record is changed with C(Get-/Set-/Add-DnsServerResourceRecord) on the DNS server, as
    M(exchange.dr.dns_record) does. A Windows Server 2008 DNS server has no DnsServer module (the cmdlet is not
    recognized), and the module then uses C(dnscmd.exe /EnumRecords), C(/RecordDelete ... /f) and C(/RecordAdd ... <ttl>
    A <ip>), each argument sent as a separate value. The cluster may later re-register the name with the network
    name's own C(HostRecordTTL).
  - Outside this module (runbooks §8 steps 3 and 7) are the soft recovery of databases not in clean shutdown
    (C(eseutil /r)) and rebuilding redundancy (passive node, new SCR targets).
seealso:
  - module: exchange.dr.dns_record
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
# Seed 000 Q1/Q2: the primary datacenter is lost; recover CMS1 onto the standby cluster CLU2.
- name: Recover CMS1 on the standby cluster
  exchange.dr.cms_recovery:
    server: mbx2a.contoso.com
    username: CONTOSO\administrator
    password: "{{ vault_exchange_password }}"
    auth: ntlm
    cms: CMS1
    cms_computer_identity: CN=CMS1,CN=Computers,DC=contoso,DC=com
    standby_cluster: CONTOSO\CLU2
    standby_machine: MBX2A
    ipv4_address: 10.2.1.50
    allow_data_loss: true
    setup_path: D:\Setup.com
    dns:
      zone: contoso.com
      ttl: 300
    windows_connection:
      server: dc02.contoso.com
    timeout: 1800
    poll_interval: 10
  register: recovery

# A DR test with the primary still running: stop the old CMS first.
- name: Recover CMS1 in a DR test
  exchange.dr.cms_recovery:
    server: mbx2a.contoso.com
    cms: CMS1
    standby_cluster: CLU2
    standby_machine: MBX2A
    ipv4_address: 10.2.1.50
    stop_source: true
    stop_reason: DR test
    allow_data_loss: true

# What would the recovery do, and do its preconditions hold?
- name: Plan the recovery
  exchange.dr.cms_recovery:
    server: mbx2a.contoso.com
    cms: CMS1
    standby_cluster: CLU2
    standby_machine: MBX2A
    ipv4_address: 10.2.1.50
  check_mode: true
  register: plan

# Runbooks §9: standalone MBX1 -> standalone MBX2 with database portability.
- name: Re-home the mailboxes of MBX1's database
  exchange.dr.cms_recovery:
    server: mbx2.contoso.com
    method: portability
    source_database: MBX1\SG1\DB1
    target_database: MBX2\SG1\DB1
    standby_machine: MBX2
    allow_data_loss: true
"""

RETURN = r"""
method:
  description: The method run.
  returned: always
  type: str
  sample: recover_cms
preflight:
  description:
    - What the checks before any change found. C(cno_full_control) is whether the standby cluster's CNO has Full
      Control on the CMS computer object, C(source) whether the old CMS is V(online), V(offline) or V(unreachable)
      (its cluster cannot be contacted), C(recovered) whether the CMS already runs on the standby cluster.
  returned: success
  type: dict
  sample: {cno_principal: CONTOSO\CLU2$, cno_full_control: true, source: unreachable, recovered: false,
           source_error: "Unable to contact the Cluster service on any node of cluster CLU1."}
storage_groups:
  description:
    - One entry per storage group with its SCR copy status before the run, the C(action) (V(restore) or V(done)),
      whether C(-Force) was (or would be) used, C(logs_at_risk) (the copy queue when the source is not available) and
      C(logs_lost) as C(Restore-StorageGroupCopy) reported it (null when it reported none).
  returned: success
  type: list
  elements: dict
  sample:
    - {storage_group: CMS1\SG1, status: Healthy, action: restore, force: true, logs_at_risk: 0, logs_lost: 0}
logs_lost:
  description: Total logs reported lost by the activation of the SCR copies.
  returned: success
  type: int
  sample: 0
setup:
  description: C(Setup.com /RecoverCMS), when it ran; C(output) holds its last lines.
  returned: when Setup ran or would run
  type: dict
  sample: {command: Setup.com, arguments: [/RecoverCMS, "/CMSName:CMS1", "/CMSIPv4Address:10.2.1.50"],
           output: ["    Clustered Mailbox Server Role ......................... COMPLETED"]}
mounted:
  description: The databases mounted by the module (recovery left them dismounted), or the target database.
  returned: success
  type: list
  elements: str
  sample: [CMS1\SG2\DB2]
dns:
  description:
    - The DNS record plan (see M(exchange.dr.dns_record)), with C(before) (right before the change, after Setup
      registered the name), C(after) and C(changes).
    - C(method) is V(cmdlets) (DnsServer module) or V(dnscmd.exe) (Windows Server 2008 DNS servers).
  returned: when O(dns) is set
  type: dict
  sample: {zone: contoso.com, name: cms1, method: dnscmd.exe, before: [{data: 10.2.1.50, ttl: 1200}], after: [{data: 10.2.1.50, ttl: 300}],
           changes: [{name: cms1, action: set, old: {data: 10.2.1.50, ttl: 1200}, new: {data: 10.2.1.50, ttl: 300}}]}
mailboxes_rehomed:
  description: The mailboxes whose home database was (or in check mode would be) set to O(target_database).
  returned: when O(method=portability)
  type: list
  elements: str
  sample: [alice, bob]
client_consequence:
  description: What the re-homing means for Outlook 2007 and Outlook 2003 clients (seed 000 Q2).
  returned: when O(method=portability)
  type: str
  sample: Outlook 2007 finds the new database through Autodiscover ...
before:
  description: The state before the run (recover_cms, where the CMS runs and its databases; portability, the
    mailboxes of both databases).
  returned: success
  type: dict
  sample: {state: null, active_node: null, redundant_machines: [MBX1A, MBX1B], databases: {CMS1\SG1\DB1: false}}
after:
  description: The same after the run; in check mode the predicted state.
  returned: success
  type: dict
  sample: {state: Online, active_node: MBX2A, redundant_machines: [MBX2A, MBX2B], databases: {CMS1\SG1\DB1: true}}
actions:
  description: The state-changing commands in order, with their parameters (or arguments) and V(done), V(failed) or,
    in check mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - {cmdlet: Restore-StorageGroupCopy, target: CMS1\SG1, status: done,
       parameters: {Identity: CMS1\SG1, StandbyMachine: MBX2A, Force: null, Confirm: false}}
progress:
  description: Progress lines with the seconds since the start.
  returned: always
  type: list
  elements: str
  sample: ["[0.4s] Restore-StorageGroupCopy CMS1\\SG1"]
polls:
  description: Number of status polls while verifying.
  returned: always
  type: int
  sample: 1
elapsed:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 3.2
round_trips:
  description: Commands sent over PowerShell Remoting (the Exchange session and the DNS server's).
  returned: always
  type: int
  sample: 14
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import database as db
from ansible_collections.exchange.dr.plugins.module_utils import dns as dnsrec
from ansible_collections.exchange.dr.plugins.module_utils import e2007
from ansible_collections.exchange.dr.plugins.module_utils import windows

CNO_FIX = ("grant it with exchange.dr.cno_permission (identity %s, principal %s, access_rights [GenericAll]) or "
           "Add-ADPermission -Identity \"%s\" -User \"%s\" -AccessRights GenericAll, allow Active Directory "
           "replication, then run again (runbooks §10.1)")


class Recovery:
    """One recover_cms run (runbooks §8): read, preflight, plan, apply, verify."""

    def __init__(self, run) -> None:
        self.run = run
        self.client = run.client
        self.params = run.module.params
        self.cms = self.params["cms"]
        self.node = self.params["standby_machine"]
        self.ip = e2007.ipv4(self.params["ipv4_address"], "ipv4_address")
        self.principal = e2007.cno_principal(self.params["standby_cluster"])
        self.computer = self.params["cms_computer_identity"] or self.cms
        self.dns_client = None
        self.dns = None
        self.storage_groups: list = []
        self.mounted: list = []

    # ------------------------------------------------------------------------ reads
    def read_state(self) -> dict:
        status = e2007.read_cms_status(self.client, self.cms)
        if not status["found"]:
            raise e2007.RecoveryRefused("cms: no clustered mailbox server %s (%s)" % (self.cms, status["error"]))
        servers = e2007.read_mailbox_servers(self.client)
        row = next((s for s in servers if e2007.same(s["name"], self.cms)), None)
        redundant = row["redundant_machines"] if row else []
        databases, _missing = e2007.read_databases(self.client, server=self.cms)
        return {"status": status, "servers": servers, "redundant_machines": redundant, "databases": databases}

    def recovered(self, state: dict) -> bool:
        return any(e2007.same(m, self.node) for m in state["redundant_machines"])

    @staticmethod
    def summary(state: dict) -> dict:
        status = state["status"]
        return {"state": status["state"], "active_node": status["active_node"],
                "redundant_machines": list(state["redundant_machines"]),
                "databases": {d["identity"]: d["mounted"] for d in state["databases"]}}

    # -------------------------------------------------------------------- preflight
    def preflight(self, state: dict) -> dict:
        status = state["status"]
        source = "unreachable" if not status["reachable"] else (
            "online" if status["state"] in e2007.ONLINE_STATES else "offline")
        report = {"cno_principal": self.principal, "cno_full_control": None, "source": source,
                  "source_error": status["error"], "recovered": self.recovered(state), "stop_source": False}
        if report["recovered"]:
            return report
        # the CNO of the standby cluster needs Full Control on the CMS computer object (seed 000 Q1)
        aces, missing = e2007.read_aces(self.client, self.computer)
        if missing:
            raise e2007.RecoveryRefused("cms_computer_identity: no Active Directory object %s (%s); give the CMS "
                                        "computer object's distinguished name" % (self.computer, missing))
        access = e2007.cno_access(aces, self.principal)
        report["cno_full_control"] = access["full_control"]
        report["cms_computer_object"] = access["object"]
        if not access["full_control"]:
            dn = access["object"] or self.computer
            cause = ("has a Deny Full Control entry" if access["deny"] else "lacks Full Control (GenericAll)")
            raise e2007.RecoveryRefused(
                "preflight failed, nothing was changed: the cluster name object of standby cluster %s (%s) %s on the "
                "%s computer object (%s). This is the cause seed 000 Q1 describes: Setup /RecoverCMS would fail to "
                "bring the CMS network name online (0x8007139f) because the Windows Server 2008 cluster acts in Active "
                "Directory as its CNO. Fix: %s" % (self.params["standby_cluster"], self.principal, cause, self.cms, dn,
                                                   CNO_FIX % (dn, self.principal, dn, self.principal)))
        # the standby cluster must not run another CMS (Setup refuses a second one)
        for server in state["servers"]:
            hosts_node = any(e2007.same(m, self.node) for m in server["redundant_machines"])
            if not e2007.same(server["name"], self.cms) and hosts_node:
                raise e2007.RecoveryRefused("standby_machine: %s already belongs to clustered mailbox server %s "
                                            "(redundant machines %s); a standby cluster can host one CMS; nothing "
                                            "was changed" % (self.node, server["name"],
                                                             ", ".join(server["redundant_machines"])))
        # split brain: the old CMS must not be online anywhere
        if source == "online":
            if not self.params["stop_source"]:
                raise e2007.RecoveryRefused(
                    "the clustered mailbox server %s is still online on %s (State %s): recovering it elsewhere would "
                    "run it twice (split brain). Stop it (set stop_source true, or power the primary nodes off) and "
                    "run again; nothing was changed" % (self.cms, status["active_node"] or "its cluster", status["state"]))
            report["stop_source"] = True
        # the SCR copies on the standby machine
        copies, errors = e2007.read_scr_copies(self.client, self.cms, self.node)
        groups = sorted({d["storage_group"] for d in state["databases"] if d["storage_group"]}, key=str.lower)
        have = {c["storage_group"].lower() for c in copies}
        lacking = [g for g in groups if g.lower() not in have]
        if lacking or (errors and not copies):
            detail = "; ".join(errors) if errors else ""
            raise e2007.RecoveryRefused("standby_machine: %s has no SCR copy of %s%s (Enable-StorageGroupCopy "
                                        "-StandbyMachine, runbooks §8 step 7); nothing was changed"
                                        % (self.node, ", ".join(lacking) or self.cms,
                                           " (%s)" % detail if detail else ""))
        # a stopped CMS is no source either: the logs not copied can only be had with it online
        self.storage_groups = e2007.restore_plan(copies, source == "online" and not report["stop_source"],
                                                 self.params["allow_data_loss"])
        report["scr_copies"] = [{"storage_group": c["storage_group"], "status": c["status"],
                                 "copy_queue": c["copy_queue"], "replay_queue": c["replay_queue"]} for c in copies]
        return report

    # --------------------------------------------------------------------------- DNS
    def dns_name(self) -> str:
        spec = self.params["dns"]
        return dnsrec.relative(spec.get("name") or self.cms, spec["zone"].strip().rstrip("."))

    def dns_plan(self) -> dict:
        spec = self.params["dns"]
        zone = spec["zone"].strip().rstrip(".")
        name = self.dns_name()
        current = {name: self.dns.read(zone, name)}
        plan = dnsrec.record_plan(current, [name], [self.ip], spec["ttl"])
        return {"zone": zone, "name": name, "method": self.dns.mode, "before": plan["before"][name],
                "after": plan["after"][name], "changes": plan["changes"]}

    def apply_dns(self, plan: dict) -> None:
        for change in plan["changes"]:
            for command, payload in self.dns.commands(plan["zone"], change):
                action = {"cmdlet": command, "target": change["name"], "status": "planned" if self.run.check_mode
                          else "sent"}
                action["arguments" if command == e2007.DNSCMD else "parameters"] = payload
                self.run.actions.append(action)
                if self.run.check_mode:
                    self.run.progress("check mode: would run %s %s" % (command, change["name"]))
                    continue
                self.run.progress("%s %s: %s -> %s" % (command, change["name"], change["old"], change["new"]))
                try:
                    self.dns.send(command, payload)
                except Exception:
                    action["status"] = "failed"
                    raise
                action["status"] = "done"

    # -------------------------------------------------------------------------- steps
    def stop_source(self) -> None:
        params = {"Identity": self.cms, "StopReason": self.params["stop_reason"], "Confirm": False}
        e2007.send(self.run, "Stop-ClusteredMailboxServer", params, self.cms)

    def restore(self) -> None:
        for group in self.storage_groups:
            group["logs_lost"] = None
            if group["action"] != "restore":
                continue
            params = {"Identity": group["storage_group"], "StandbyMachine": self.node}
            if group["force"]:
                params["Force"] = None
            params["Confirm"] = False
            seen = len(self.client.warnings)
            e2007.send(self.run, "Restore-StorageGroupCopy", params, group["storage_group"],
                       select=["Identity", "LastLogGenerated", "LastLogInspected"])
            if not self.run.check_mode:
                group["logs_lost"] = e2007.logs_lost(self.client.warnings[seen:], group["storage_group"])
                if group["logs_lost"] is None:
                    group["logs_lost"] = 0

    def setup(self) -> dict:
        arguments = e2007.setup_arguments(self.cms, self.ip)
        command = self.params["setup_path"]
        lines, errors = e2007.run_native(self.run, command, arguments, self.node)
        result = {"command": command, "arguments": arguments, "output": [ln for ln in lines if ln.strip()][-12:]}
        if errors:
            message = " ".join(errors[0].message.split())
            hint = ""
            if "0x8007139f" in message.lower():
                hint = (" The cluster could not bring the CMS network name online: check that the CNO %s has Full "
                        "Control on the %s computer object and that AD replication completed (seed 000 Q1)."
                        % (self.principal, self.cms))
            self.run.result["setup"] = result
            raise db.TaskFailed("%s /RecoverCMS failed on %s: %s.%s Re-run the task after fixing the cause: the "
                                "storage groups already activated are not activated again." % (command, self.node,
                                                                                               message, hint))
        return result

    def mount(self, databases: list) -> None:
        for database in databases:
            if database["mounted"]:
                continue
            e2007.send(self.run, "Mount-Database", {"Identity": database["identity"]}, database["identity"])
            self.mounted.append(database["identity"])

    def verify(self):
        def predicate():
            state = self.read_state()
            status = state["status"]
            on_standby = any(e2007.same(status["active_node"], m) for m in state["redundant_machines"])
            online = status["state"] == "Online" and on_standby
            home = self.recovered(state)
            dismounted = [d["identity"] for d in state["databases"] if not d["mounted"]]
            done = online and home and not dismounted
            detail = "State %s on %s, redundant machines %s%s" % (
                status["state"], status["active_node"], ", ".join(state["redundant_machines"]),
                ", dismounted: " + ", ".join(dismounted) if dismounted else "")
            return done, detail, state
        return self.run.wait(predicate, "%s online on the standby cluster with its databases mounted" % self.cms)

    # ---------------------------------------------------------------------------- run
    def __call__(self):
        run = self.run
        before_state = self.read_state()
        before = self.summary(before_state)
        report = self.preflight(before_state)
        if self.params["dns"]:
            self.dns_client = windows.windows_client(run.module, self.params["windows_connection"]["server"],
                                                     self.params["windows_connection"])
            self.dns = e2007.DnsRecords(self.dns_client)
            before["dns"] = dnsrec.normalised_records(self.dns.read(self.params["dns"]["zone"].strip().rstrip("."),
                                                                    self.dns_name()))
        try:
            return self.apply(before_state, before, report)
        finally:
            if self.dns_client is not None:
                self.dns_client.close()

    def apply(self, before_state, before, report):
        run = self.run
        setup = None
        if not report["recovered"]:
            if report["stop_source"]:
                self.stop_source()
            self.restore()
            setup = self.setup()
        else:
            run.progress("%s already runs on the standby cluster (%s): restore and Setup /RecoverCMS are done"
                         % (self.cms, ", ".join(before_state["redundant_machines"])))
        if run.check_mode:
            databases = before_state["databases"] if report["recovered"] else []
            predicted = [d["identity"] for d in before_state["databases"]]
            self.mount(databases)
            if not report["recovered"]:
                run.progress("check mode: Mount-Database for the databases /RecoverCMS leaves dismounted")
            after = {"state": "Online", "active_node": before["active_node"] if report["recovered"] else self.node,
                     "redundant_machines": before["redundant_machines"] if report["recovered"] else [self.node],
                     "databases": {identity: True for identity in predicted}}
        else:
            state = self.read_state() if setup is not None else before_state
            self.mount(state["databases"])
        dns_result = None
        if self.dns_client is not None:
            dns_result = self.dns_plan()
            self.apply_dns(dns_result)
        if not run.check_mode:
            verified = self.verify()
            after = self.summary(verified.value)
            if dns_result is not None and dns_result["changes"]:
                dns_result["after"] = dnsrec.normalised_records(self.dns.read(dns_result["zone"],
                                                                              dns_result["name"]))
        changed = any(a["status"] in ("done", "planned", "failed") for a in run.actions)
        lost = sum(g.get("logs_lost") or 0 for g in self.storage_groups)
        values = dict(changed=changed, method="recover_cms", cms=self.cms, standby_machine=self.node,
                      preflight=report, storage_groups=self.storage_groups, logs_lost=lost, mounted=self.mounted,
                      before=before, after=after)
        if setup is not None:
            values["setup"] = setup
        if dns_result is not None:
            values["dns"] = dns_result
            after["dns"] = dns_result["after"]
        result = run.finish(**values)
        if self.dns_client is not None:
            result["round_trips"] += len(self.dns_client.calls)
        if run.module._diff:
            diff_before, diff_after = dict(before), dict(after)
            if dns_result is not None:
                diff_after["dns"] = dns_result["after"]
            result["diff"] = {"before": diff_before, "after": diff_after}
        return result


def portability(run):
    """runbooks §9 (2007): activate the source storage group's SCR copy, mount the target
    database, re-home the user mailboxes with Move-Mailbox -ConfigurationOnly."""
    params = run.module.params
    client = run.client
    source_name, target_name = params["source_database"], params["target_database"]
    sources, missing = e2007.read_databases(client, identity=source_name)
    if not sources:
        raise e2007.RecoveryRefused("source_database: no mailbox database %s (%s)" % (source_name, missing))
    targets, missing = e2007.read_databases(client, identity=target_name)
    if not targets:
        raise e2007.RecoveryRefused(
            "target_database: no mailbox database %s (%s). Create it on the target server with its paths on the SCR "
            "copy's files and AllowFileRestore $true first (runbooks §9 step 3)" % (target_name, missing))
    source, target = sources[0], targets[0]
    if source["identity"].lower() == target["identity"].lower():
        raise e2007.RecoveryRefused("target_database: %s is the source database itself" % target_name)
    source_available = source["mounted"]
    groups = []
    if params["standby_machine"]:
        copy, message = e2007.read_scr_copy(client, source["storage_group"], params["standby_machine"])
        if copy is None:
            raise e2007.RecoveryRefused("standby_machine: %s has no SCR copy of %s (%s); nothing was changed"
                                        % (params["standby_machine"], source["storage_group"], message))
        groups = e2007.restore_plan([copy], source_available, params["allow_data_loss"])
    mailboxes = e2007.read_mailboxes(client, source["identity"])
    on_target = e2007.read_mailboxes(client, target["identity"])
    before = {"source": {"database": source["identity"], "mounted": source["mounted"],
                         "mailboxes": [m["alias"] for m in mailboxes]},
              "target": {"database": target["identity"], "mounted": target["mounted"],
                         "mailboxes": [m["alias"] for m in on_target]}}
    for group in groups:
        group["logs_lost"] = None
        if group["action"] != "restore":
            continue
        rparams = {"Identity": group["storage_group"], "StandbyMachine": params["standby_machine"]}
        if group["force"]:
            rparams["Force"] = None
        rparams["Confirm"] = False
        seen = len(client.warnings)
        e2007.send(run, "Restore-StorageGroupCopy", rparams, group["storage_group"])
        if not run.check_mode:
            group["logs_lost"] = e2007.logs_lost(client.warnings[seen:], group["storage_group"]) or 0
    mounted = []
    if not target["mounted"]:
        e2007.send(run, "Mount-Database", {"Identity": target["identity"]}, target["identity"])
        mounted.append(target["identity"])
    rehomed = [m["alias"] or m["identity"] for m in mailboxes]
    if mailboxes:
        identities = [m["identity"] for m in mailboxes]
        mparams = {"TargetDatabase": target["identity"], "ConfigurationOnly": None, "Confirm": False}
        select = ["Identity", "Alias", "TargetDatabase", "StatusMessage"]
        _rows, errors = run.perform(
            {"cmdlet": "Move-Mailbox", "target": ", ".join(rehomed), "parameters": dict(mparams), "input": identities},
            lambda: client.invoke("Move-Mailbox", mparams, select=select, errors="return", input=identities),
            "Move-Mailbox -ConfigurationOnly -TargetDatabase %s: %s" % (target["identity"], ", ".join(rehomed)))
        if errors:
            db.raise_first(errors)
    if run.check_mode:
        after = {"source": dict(before["source"], mounted=source["mounted"], mailboxes=[]),
                 "target": dict(before["target"], mounted=True,
                                mailboxes=before["target"]["mailboxes"] + [m["alias"] for m in mailboxes])}
    else:
        targets, _missing = e2007.read_databases(client, identity=target["identity"])
        left = e2007.read_mailboxes(client, source["identity"])
        now = e2007.read_mailboxes(client, target["identity"])
        after = {"source": dict(before["source"], mailboxes=[m["alias"] for m in left]),
                 "target": {"database": target["identity"], "mounted": bool(targets and targets[0]["mounted"]),
                            "mailboxes": [m["alias"] for m in now]}}
        if left or not after["target"]["mounted"]:
            raise db.TaskFailed("portability did not complete: %s still homes %s; %s mounted: %s"
                                % (source["identity"], ", ".join(m["alias"] for m in left) or "no mailbox",
                                   target["identity"], after["target"]["mounted"]))
    changed = bool(run.actions)
    result = run.finish(changed=changed, method="portability", storage_groups=groups,
                        logs_lost=sum(g.get("logs_lost") or 0 for g in groups), mounted=mounted,
                        mailboxes_rehomed=rehomed, client_consequence=e2007.CLIENT_CONSEQUENCE,
                        preflight={"source": "online" if source_available else "unavailable"},
                        before=before, after=after)
    if run.module._diff:
        result["diff"] = {"before": before, "after": after}
    return result


def body(run):
    try:
        if run.module.params["method"] == "portability":
            return portability(run)
        return Recovery(run)()
    except (e2007.RecoveryRefused, ValueError, dnsrec.DnsPlanError) as exc:
        raise db.TaskFailed(getattr(exc, "message", None) or str(exc)) from None


def validate(module) -> None:
    """Bad input fails naming the option, before any session."""
    params = module.params
    if params["method"] == "recover_cms":
        missing = [name for name in ("cms", "standby_machine", "standby_cluster", "ipv4_address") if not params[name]]
        if missing:
            module.fail_json(msg="method recover_cms needs %s" % ", ".join(missing))
        for option in ("source_database", "target_database"):
            if params[option]:
                module.fail_json(msg="%s applies to method portability only" % option)
        try:
            e2007.netbios_name(params["cms"], "cms")
            e2007.netbios_name(params["standby_machine"].split(".", 1)[0], "standby_machine")
            e2007.netbios_name(params["standby_cluster"].rsplit("\\", 1)[-1].rstrip("$"), "standby_cluster")
            e2007.ipv4(params["ipv4_address"], "ipv4_address")
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        if not params["setup_path"].strip() or any(ch in params["setup_path"] for ch in "\r\n\x00;|&`$"):
            module.fail_json(msg="setup_path: %r is not a path of Setup.com" % params["setup_path"])
        spec = params["dns"]
        if spec:
            if not spec["zone"] or not spec["zone"].strip():
                module.fail_json(msg="dns.zone must name the DNS zone of the CMS record")
            if not 1 <= spec["ttl"] <= 2147483647:
                module.fail_json(msg="dns.ttl must be a number of seconds between 1 and 2147483647, got %d"
                                 % spec["ttl"])
            if not (params["windows_connection"] or {}).get("server"):
                module.fail_json(msg="dns needs windows_connection.server: the DNS server whose zone %s holds the "
                                     "CMS record" % spec["zone"])
    else:
        missing = [name for name in ("source_database", "target_database") if not params[name]]
        if missing:
            module.fail_json(msg="method portability needs %s" % ", ".join(missing))
        for option in ("source_database", "target_database"):
            if len([p for p in params[option].split("\\") if p.strip()]) != 3:
                module.fail_json(msg="%s: %r is not <Server>\\<StorageGroup>\\<Database>" % (option, params[option]))
        for option in ("cms", "ipv4_address", "dns", "standby_cluster"):
            if params[option]:
                module.fail_json(msg="%s applies to method recover_cms only" % option)
        if params["standby_machine"]:
            try:
                e2007.netbios_name(params["standby_machine"].split(".", 1)[0], "standby_machine")
            except ValueError as exc:
                module.fail_json(msg=str(exc))


def main():
    argument_spec = db.argument_spec(windows.windows_connection_argument_spec(), dict(
        method=dict(type="str", default="recover_cms", choices=["recover_cms", "portability"]),
        cms=dict(type="str"),
        cms_computer_identity=dict(type="str"),
        standby_machine=dict(type="str"),
        standby_cluster=dict(type="str"),
        ipv4_address=dict(type="str"),
        allow_data_loss=dict(type="bool", default=False),
        stop_source=dict(type="bool", default=False),
        stop_reason=dict(type="str", default="exchange.dr: SCR site failover"),
        setup_path=dict(type="str", default="Setup.com"),
        dns=dict(type="dict", options=dict(
            zone=dict(type="str", required=True),
            name=dict(type="str"),
            ttl=dict(type="int", default=300),
        )),
        source_database=dict(type="str"),
        target_database=dict(type="str"),
    ))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    e2007.use_2007_endpoint(module.params)
    db.execute(module, body)


if __name__ == "__main__":
    main()
