#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dag_restore
short_description: Activate the surviving site of a DAG in DAC mode (Restore-DatabaseAvailabilityGroup)
version_added: 0.1.0
description:
  - Activates the Mailbox servers of the surviving Active Directory site after the members of the other sites were
    marked stopped (M(exchange.dr.dag_site)), as runbooks §5.2 steps 3-5 describe.
  - Stops the cluster service (C(Stop-Service ClusSvc)) on each surviving member through its Windows PowerShell
    endpoint, then sends C(Restore-DatabaseAvailabilityGroup -ActiveDirectorySite). Exchange forcibly evicts the
    stopped members from the DAG's cluster, re-establishes quorum with the survivors and, for an even number of
    survivors or a single one, switches to the alternate witness.
  - Then makes every database of the DAG active and mounted in the site. Active Manager activates the databases
    whose copies there may be activated automatically, and the module waits for it. The others (servers with
    C(DatabaseCopyAutoActivationPolicy Blocked), activation-suspended copies) are activated with an explicit
    target, C(Move-ActiveMailboxDatabase -ActivateOnServer), on the best copy in the site (Active Manager's
    criteria; never a lagged copy). A move that could lose logs needs O(allow_data_loss=true).
  - Idempotent by the cluster membership (C(Get-ClusterNode) on a survivor), the witness in use
    (C(WitnessShareInUse)) and where each database is active. A run that stopped part way resumes; a member whose
    cluster service is already stopped is not stopped again.
options:
  activate_databases:
    description:
      - Make every database of the DAG active and mounted in the site after the restore (runbooks §5.2 step 5).
    type: bool
    default: true
  active_directory_site:
    description:
      - The surviving Active Directory site. Every DAG member outside it must be in C(StoppedMailboxServers).
    type: str
    required: true
  allow_data_loss:
    description:
      - Accept activating a copy that misses logs when the active copy does not answer (it is C(ServiceDown)), so
        Active Manager cannot copy the last logs. The move then uses C(-MountDialOverride BestEffort) and
        C(-SkipLagChecks).
      - Without it such a database is left where it is and the task fails after activating the others.
    type: bool
    default: false
  alternate_witness_directory:
    description:
      - Directory of the alternate witness share (C(-AlternateWitnessDirectory)).
    type: str
  alternate_witness_server:
    description:
      - Alternate witness server sent to C(Restore-DatabaseAvailabilityGroup) (C(-AlternateWitnessServer)).
      - When unset, the DAG's configured C(AlternateWitnessServer) is used. The task fails before any change
        when a witness is needed and none is known.
      - Mutually exclusive with O(use_primary_witness_server).
    type: str
  dag:
    description:
      - Name of the database availability group. Its C(DatacenterActivationMode) must be C(DagOnly).
    type: str
    required: true
  domain_controller:
    description:
      - Fully qualified name of a domain controller in the surviving site, for the reads and the restore
        (C(-DomainController)).
    type: str
  parallel_cluster_stop:
    description:
      - Stop C(ClusSvc) on all the surviving members at the same time (one session per member) instead of one
        after the other. Every stop is still done before the restore, and a failure still fails the task before
        it; RV(actions) lists the stops in the members' order, but their order of completion is not fixed.
      - Shortens step 3 from the sum of the members' stop times to the longest one.
    type: bool
    default: false
  stop_cluster_service:
    description:
      - Stop C(ClusSvc) on the surviving members before the restore (runbooks §5.2 step 3). The restore starts the
        cluster again on them.
    type: bool
    default: true
  use_primary_witness_server:
    description:
      - Keep the current witness (C(-UsePrimaryWitnessServer), Exchange 2013 and later), for a witness in a third
        site that survived.
    type: bool
    default: false
  windows_connections:
    description:
      - Windows PowerShell endpoint of each surviving member, by member name. Each value takes the suboptions of
        O(windows_connection) and overrides them for that member.
      - A member without an entry uses O(windows_connection), whose endpoint defaults to WinRM on the member's FQDN.
    type: dict
extends_documentation_fragment:
  - exchange.dr.connection
  - exchange.dr.windows_connection
  - exchange.dr.switchover.wait
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the DAG, the databases, the copies, C(ClusSvc) and the cluster nodes, and returns the plan
        (RV(restore), RV(activation)), the cmdlets it would send (RV(actions), status V(planned)) and the predicted
        RV(after) state. Members outside the site that are not stopped yet are reported as a warning (an earlier
        step of the switchover would stop them) instead of failing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Cluster nodes, witness in use, operational servers and the placement of the databases.
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Exchange cmdlets (the module's connection, best on a surviving member) are C(Get-ExchangeServer),
    C(Get-MailboxServer), C(Get-DatabaseAvailabilityGroup -Status), C(Get-MailboxDatabase -Status),
    C(Get-MailboxDatabaseCopyStatus), C(Restore-DatabaseAvailabilityGroup -Confirm:$false),
    C(Move-ActiveMailboxDatabase -Confirm:$false) and C(Mount-Database).
  - On each surviving member's Windows endpoint it sends C(Get-Service ClusSvc) and C(Stop-Service ClusSvc), and
    C(Get-ClusterNode) on one member whose cluster service runs (before the stops) and, after the restore, on the
    first member that can read the cluster. That needs local administrator rights there.
  - Needs the Database Availability Groups and Database Copies management roles (Organization Management).
  - Review the warnings Exchange writes (returned as task warnings); runbooks §5.2 step 6.
seealso:
  - module: exchange.dr.dag_site
  - module: exchange.dr.site_activation
  - name: Restore-DatabaseAvailabilityGroup
    description: The cmdlet reference.
    link: https://learn.microsoft.com/powershell/module/exchange/restore-databaseavailabilitygroup
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
- name: Activate DC2 after DC1 was lost
  module_defaults:
    group/exchange.dr.exchange:
      server: ex03.contoso.com
      username: admin@CONTOSO.COM
      password: "{{ vault_exchange_password }}"
      auth: kerberos
  exchange.dr.dag_restore:
    dag: DAG1
    active_directory_site: DC2
    alternate_witness_server: fs02.contoso.com
    alternate_witness_directory: C:\DAGFileShareWitnesses\DAG1.contoso.com
    domain_controller: dc02.contoso.com
    timeout: 600
    poll_interval: 5
  register: restored

# Windows endpoints that are not WinRM on the FQDN (the exchange.dr lab: one port per host), a witness in a
# third site that survived, and an accepted loss of logs.
- name: Restore with per-member Windows endpoints
  exchange.dr.dag_restore:
    server: 127.0.0.1
    port: 40005
    dag: DAG1
    active_directory_site: DC2
    use_primary_witness_server: true
    allow_data_loss: true
    windows_connection:
      username: CONTOSO\administrator
      auth: basic
    windows_connections:
      EX03: {server: 127.0.0.1, port: 40006}
      EX04: {server: 127.0.0.1, port: 40008}

# Databases only (the cluster was restored by hand): activate what Active Manager did not.
- name: Activate the databases in DC2
  exchange.dr.dag_restore:
    server: ex03.contoso.com
    dag: DAG1
    active_directory_site: DC2
    stop_cluster_service: false
    activate_databases: true

# What would a restore do now?
- name: Plan the restore
  exchange.dr.dag_restore:
    server: ex03.contoso.com
    dag: DAG1
    active_directory_site: DC2
  check_mode: true
  register: plan
"""

RETURN = r"""
dag:
  description: Name of the DAG.
  returned: always
  type: str
  sample: DAG1
survivors:
  description: The members of the site that are not stopped.
  returned: success
  type: list
  elements: str
  sample: [EX03, EX04]
restore:
  description:
    - The restore plan. C(done) is true when the cluster, the witness and the survivors were already as the
      restore leaves them, and C(steps) lists what was (or would be) done.
  returned: success
  type: dict
  sample:
    done: false
    evict: [EX01, EX02]
    witness_share_in_use: Alternate
    steps:
      - {action: stop_cluster_service, server: EX03, status: Running}
      - {action: stop_cluster_service, server: EX04, status: Running}
      - {action: restore, parameters: {Identity: DAG1, ActiveDirectorySite: DC2}}
activation:
  description:
    - One entry per database of the DAG. C(action) is V(none) (already mounted in the site), V(mount), V(move) or
      V(blocked) (cannot be activated, C(reason) says why).
    - C(how) is V(automatic) (Active Manager activated it) or V(explicit) (the module moved or mounted it).
  returned: when O(activate_databases=true)
  type: list
  elements: dict
  sample:
    - {database: DB01, from: EX01, to: EX03, action: move, how: explicit, logs_at_risk: 0, logs_lost: 0, reason: null}
    - {database: DB05, from: EX03, to: EX03, action: none, how: automatic, logs_at_risk: 0, logs_lost: null,
       reason: null}
logs_lost:
  description: Logs lost by the explicit moves (sum of C(NumberOfLogsLost)); 0 in check mode.
  returned: success
  type: int
  sample: 0
before:
  description: Cluster nodes, C(WitnessShareInUse), C(OperationalServers), C(StoppedMailboxServers) and where each
    database was active (C(server), C(mounted)) before the task.
  returned: success
  type: dict
  sample:
    cluster_nodes: null
    witness_share_in_use: Primary
    operational_servers: []
    stopped_mailbox_servers: [EX01, EX02]
    databases: {DB01: {server: EX01, mounted: false}}
after:
  description: The same after the task; in check mode the predicted values.
  returned: success
  type: dict
  sample:
    cluster_nodes: [EX03, EX04]
    witness_share_in_use: Alternate
    operational_servers: [EX03, EX04]
    stopped_mailbox_servers: [EX01, EX02]
    databases: {DB01: {server: EX03, mounted: true}}
actions:
  description: The state-changing cmdlets in order (Windows and Exchange), with their parameters and V(done),
    V(failed) or, in check mode, V(planned).
  returned: always
  type: list
  elements: dict
  sample:
    - {cmdlet: Stop-Service, target: EX03, parameters: {Name: ClusSvc}, status: done}
    - {cmdlet: Restore-DatabaseAvailabilityGroup, target: DC2, parameters: {Identity: DAG1, ActiveDirectorySite: DC2,
       Confirm: false}, status: done}
progress:
  description: Progress lines with the seconds since the start (also written to the module log).
  returned: always
  type: list
  elements: str
  sample: ["[0.3s] Stop-Service ClusSvc on EX03", "[1.9s] Restore-DatabaseAvailabilityGroup DC2"]
polls:
  description: Number of state reads while waiting for Active Manager.
  returned: always
  type: int
  sample: 1
elapsed:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 4.2
round_trips:
  description: Number of cmdlet invocations sent to Exchange (the Windows endpoints not counted).
  returned: always
  type: int
  sample: 12
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils import dac
from ansible_collections.exchange.dr.plugins.module_utils import database as db
from ansible_collections.exchange.dr.plugins.module_utils import datacenter as dc
from ansible_collections.exchange.dr.plugins.module_utils import exchange
from ansible_collections.exchange.dr.plugins.module_utils.errors import ConnectionFailure
from ansible_collections.exchange.dr.plugins.module_utils.windows import windows_connection_argument_spec

MAX_PARALLEL_SESSIONS = 16  # Windows sessions of the surviving members used at the same time


def state_view(dag: dict, nodes, databases: list) -> dict:
    return {"cluster_nodes": nodes, "witness_share_in_use": dag.get("witness_share_in_use"),
            "operational_servers": dag.get("operational_servers"),
            "stopped_mailbox_servers": dag.get("stopped_mailbox_servers"),
            "databases": dc.placement(databases)}


class Windows:
    """The Windows sessions of the surviving members, opened lazily and closed at the end.  The
    reads of every member (``ClusSvc``) run at the same time, one thread per member, so the
    sessions open and answer in parallel; the results keep the members' order."""

    def __init__(self, module, servers: list, survivors: list) -> None:
        self.module = module
        self.connections = dac.windows_connections(module)
        rows = {dc.short(s.get("name")): s for s in servers}
        self.rows = {name: rows.get(dc.short(name), {"name": name}) for name in survivors}
        self.clients = {}

    def client(self, name: str):
        if name not in self.clients:
            self.clients[name] = dac.windows_client_for(self.module, self.rows[name], self.connections)
        return self.clients[name]

    def each(self, names: list, work) -> dict:
        """``{name: work(name)}``; concurrent for more than one member (the clients are built
        first, here); the first failure in the order of ``names`` is raised."""
        for name in names:
            self.client(name)
        if len(names) < 2:
            return {name: work(name) for name in names}
        with ThreadPoolExecutor(max_workers=min(len(names), MAX_PARALLEL_SESSIONS)) as pool:
            futures = {name: pool.submit(work, name) for name in names}
        return {name: futures[name].result() for name in names}

    def services(self) -> dict:
        def status(name):
            try:
                return dac.cluster_service_status(self.clients[name])
            except ConnectionFailure as exc:
                raise dac.endpoint_failure(name, exc) from None
        return self.each(list(self.rows), status)

    def nodes(self, services: dict):
        running = [name for name, status in services.items() if status == "Running"]
        return dac.cluster_nodes(self.client(running[0])) if running else None

    def nodes_after_restore(self):
        """The cluster's nodes as the first member that can read them sees them (the restore started
        the cluster service on the survivors: no ``Get-Service`` read first); None when none can."""
        for name in self.rows:
            try:
                nodes = dac.cluster_nodes(self.client(name))
            except ConnectionFailure as exc:
                raise dac.endpoint_failure(name, exc) from None
            if nodes is not None:
                return nodes
        return None

    def stop(self, run, steps: list, parallel: bool) -> None:
        """Runbooks §5.2 step 3 on every member of ``steps``: one after the other, or with
        ``parallel`` at the same time (every stop is recorded in ``actions`` in the plan's order
        first; the first failure in that order is raised once all have returned)."""
        if not parallel or run.check_mode or len(steps) < 2:
            for step in steps:
                dac.stop_cluster_service(run, self.client(step["server"]), step["server"], step.get("status"))
            return
        sent = {step["server"]: dac.stop_cluster_service_begin(run, step["server"]) for step in steps}
        self.each([step["server"] for step in steps],
                  lambda name: dac.stop_cluster_service_end(sent[name], self.clients[name], name,
                                                            next(s.get("status") for s in steps if s["server"] == name)))

    def close(self) -> None:
        clients = list(self.clients.values())
        if len(clients) < 2:
            for client in clients:
                client.close()
            return
        with ThreadPoolExecutor(max_workers=min(len(clients), MAX_PARALLEL_SESSIONS)) as pool:
            list(pool.map(lambda client: client.close(), clients))


def activate(run, params: dict, dag: dict, servers: list, survivors: list, restoring: bool,
             fresh_dag: dict | None = None) -> tuple:
    """Runbooks §5.2 step 5: wait for Active Manager, then explicit moves and mounts.  Returns
    (activation entries, databases after, logs lost, failures, the DAG as last read).  ``restoring``: a
    restore was planned in check mode, after which Active Manager mounts the databases dismounted by the
    loss of quorum on their (surviving) server by itself.  ``fresh_dag``: the DAG just read (after the
    restore), used for the first plan instead of reading it again."""
    client = run.client
    name = dag["name"]
    automatic = {}
    last = {"dag": fresh_dag}

    def read_plan():
        current = last.pop("dag", None) or dac.read_dag(client, name, params["domain_controller"])
        last["seen"] = current
        databases, copies = dac.read_databases(client, name)
        eligible = survivors if run.check_mode else [s for s in survivors
                                                     if dc.among(s, current.get("operational_servers"))]
        plan = dc.activation_plan(databases, copies, survivors, dag=name, order="bcss", eligible=eligible,
                                  allow_data_loss=params["allow_data_loss"])
        for entry in plan:
            entry["how"] = "automatic" if entry["action"] == "none" else "explicit"
            expected = dc.automatic_activation_expected(copies, entry["database"], servers, databases, survivors)
            if entry["action"] == "move" and expected:
                entry["how"] = "automatic"
        return plan, databases

    plan, databases = read_plan()
    if any(e["how"] == "automatic" and e["action"] == "move" for e in plan):
        def settled():
            current, rows = read_plan()
            waiting = [e["database"] for e in current if e["how"] == "automatic" and e["action"] == "move"]
            return not waiting, "waiting for Active Manager: %s" % (", ".join(waiting) or "none"), (current, rows)
        try:
            found = run.wait(settled, "Active Manager to activate the databases in %s" % params["active_directory_site"])
            if found.value is not None:
                plan, databases = found.value
        except db.WaitTimeout as exc:
            run.module.warn("%s; activating them with explicit targets" % exc.message)
            plan, databases = read_plan()
            for entry in plan:
                if entry["action"] == "move":
                    entry["how"] = "explicit"
    if run.check_mode:
        for entry in plan:
            if restoring and entry["action"] == "mount":
                entry["how"] = "automatic"
            if entry["how"] == "automatic" and entry["action"] in ("move", "mount"):
                entry["logs_lost"] = None
    lost, failures = 0, []
    for entry in plan:
        entry.setdefault("logs_lost", None)
        if entry["action"] == "blocked":
            failures.append(entry["reason"])
        elif entry["action"] == "mount" and entry["how"] == "explicit":
            dac.mount(run, entry["database"])
        elif entry["action"] == "move" and entry["how"] == "explicit":
            outcome = dac.move(run, dc.move_parameters(entry))
            if outcome is not None:
                entry["logs_lost"] = outcome["logs_lost"]
                lost += outcome["logs_lost"] or 0
                if not outcome["mounted"]:
                    dac.mount(run, entry["database"])
            else:
                entry["logs_lost"] = entry["logs_at_risk"]
    return plan, databases, lost, failures, last.get("seen")


def body(run):
    params = run.module.params
    client = run.client
    controller = params["domain_controller"]
    site = params["active_directory_site"]
    servers = exchange.read_servers(client)
    dag = dac.read_dag(client, params["dag"], controller)
    dac.require_dac(dag)
    databases, _copies = dac.read_databases(client, dag["name"], copies=False)  # the activation reads the copies
    in_site = dc.members_in_site(dag, servers, site)
    survivors = dc.without(in_site, dag.get("stopped_mailbox_servers"))
    # the preconditions first (members outside the site stopped, a witness known): no Windows session
    # is opened for a restore that cannot run
    dc.restore_plan(dag, servers, site, None, {}, params["alternate_witness_server"],
                    params["alternate_witness_directory"], params["use_primary_witness_server"],
                    params["stop_cluster_service"], check_mode=run.check_mode)
    hosts = Windows(run.module, servers, survivors)
    try:
        services = hosts.services() if survivors else {}
        nodes = hosts.nodes(services)
        plan = dc.restore_plan(dag, servers, site, nodes, services, params["alternate_witness_server"],
                               params["alternate_witness_directory"], params["use_primary_witness_server"],
                               params["stop_cluster_service"], check_mode=run.check_mode)
        for warning in plan["warnings"]:
            run.module.warn(warning)
        before = state_view(dag, nodes, databases)
        hosts.stop(run, [step for step in plan["steps"] if step["action"] == "stop_cluster_service"],
                   params["parallel_cluster_stop"])
        for step in plan["steps"]:
            if step["action"] == "restore":
                dac.restore(run, step["parameters"], controller)
        restored_dag, restored_nodes = dag, nodes
        if plan["steps"] and not run.check_mode:
            restored_dag = dac.read_dag(client, dag["name"], controller)
            restored_nodes = hosts.nodes_after_restore()
    finally:
        hosts.close()

    activation, lost, failures, after_databases = None, 0, [], databases
    explicit, last_dag = True, None
    if params["activate_databases"]:
        activation, after_databases, lost, failures, last_dag = activate(
            run, params, dag, servers, plan["survivors"], bool(plan["steps"]),
            fresh_dag=restored_dag if plan["steps"] and not run.check_mode else None)
        explicit = any(e["action"] in ("move", "mount") and e["how"] == "explicit" for e in activation)
        if not run.check_mode and explicit:
            after_databases, _copies = dac.read_databases(client, dag["name"], copies=False)
    if run.check_mode:
        after = {"cluster_nodes": plan["after"]["cluster_nodes"], "witness_share_in_use": plan["after"]["witness_share_in_use"],
                 "operational_servers": plan["after"]["operational_servers"],
                 "stopped_mailbox_servers": plan["after"]["stopped_mailbox_servers"],
                 "databases": dc.predict_placement(databases, activation or [])}
    else:
        # the DAG as the activation last read it, unless the module moved or mounted databases since
        fresh = last_dag if last_dag is not None and not explicit else None
        final_dag = (fresh or dac.read_dag(client, dag["name"], controller)) if run.actions else restored_dag
        after = state_view(final_dag, restored_nodes, after_databases)
    result = run.finish(changed=bool(run.actions), dag=dag["name"], survivors=plan["survivors"],
                        restore={key: plan[key] for key in ("done", "evict", "witness_share_in_use", "steps")},
                        logs_lost=lost, before=before, after=after)
    if activation is not None:
        result["activation"] = activation
    if run.module._diff:
        result["diff"] = {"before": before, "after": after}
    if failures:
        raise db.TaskFailed("%d database(s) could not be activated in %s: %s"
                            % (len(failures), site, "; ".join(failures)))
    return result


def main():
    argument_spec = db.argument_spec(windows_connection_argument_spec(), dict(
        dag=dict(type="str", required=True),
        active_directory_site=dict(type="str", required=True),
        alternate_witness_server=dict(type="str"),
        alternate_witness_directory=dict(type="str"),
        use_primary_witness_server=dict(type="bool", default=False),
        domain_controller=dict(type="str"),
        stop_cluster_service=dict(type="bool", default=True),
        parallel_cluster_stop=dict(type="bool", default=False),
        windows_connections=dict(type="dict"),
        activate_databases=dict(type="bool", default=True),
        allow_data_loss=dict(type="bool", default=False),
    ))
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("alternate_witness_server", "use_primary_witness_server"),
                            ("alternate_witness_directory", "use_primary_witness_server")],
        required_by={"alternate_witness_directory": "alternate_witness_server"},
    )
    dac.windows_connections(module)  # bad suboptions fail before any session
    dac.execute(module, body)


if __name__ == "__main__":
    main()
