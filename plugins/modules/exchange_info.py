#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: exchange_info
short_description: Topology and health facts of an Exchange organization
version_added: 0.1.0
description:
  - Reads the Exchange servers, database availability groups (with C(-Status)), mailbox databases, database
    copy status, server component states, DAG networks and transport queues of an Exchange 2010 or later
    organization over PowerShell Remoting, and returns them as plain data with C(snake_case) keys.
  - With O(exchange_version=2007) (a C(Microsoft.PowerShell) session on an Exchange 2007 SP1 server, the
    Exchange snap-in added once per session) it reads the Exchange 2007 view in the same shape where the
    concepts match - servers, clustered mailbox servers (RV(clustered_mailbox_servers)), storage group copies
    of cluster continuous replication (CCR) and standby continuous replication (SCR) as RV(copies) with a
    C(kind), mailbox databases and queues. Exchange 2007 has no DAGs, DAG networks or component
    states - V(dags), V(networks) and V(components) are returned empty with a warning saying so.
  - One cmdlet call per kind of object - component states included, the server names going as pipeline
    input of a single call - except transport queues, which Exchange only returns per server
    (C(Get-Queue -Server), one call per transport server).
  - Optionally evaluates a JMESPath O(query) on the gathered data.
options:
  gather_subset:
    description:
      - Kinds of object to read.
      - V(servers) calls C(Get-ExchangeServer) and C(Get-MailboxServer); V(dags)
        C(Get-DatabaseAvailabilityGroup -Status); V(databases) C(Get-MailboxDatabase -Status); V(copies)
        C(Get-MailboxDatabaseCopyStatus) (every copy of every database); V(components)
        C(Get-ServerComponentState) once, with the names of the Exchange 2013 or later servers as pipeline
        input (it runs once per server on the Exchange side); V(networks) C(Get-DatabaseAvailabilityGroupNetwork);
        V(queues) C(Get-Queue -Server) once per transport server (Mailbox from Exchange 2013, Hub Transport
        before) - C(Get-Queue) reads only the server it is given, or the local one, and C(Get-QueueDigest) is
        an aggregate (by next hop, one to two minutes old, by default only queues of ten or more messages),
        not the queues.
      - V(components) and V(queues) also read the servers, to know which servers to ask.
      - V(clustered_mailbox_servers) exists in Exchange 2007 only (C(Get-ClusteredMailboxServerStatus) with
        the clustered mailbox server names as pipeline input); asked of Exchange 2010 or later it is empty,
        with a warning.
      - With O(exchange_version=2007), V(copies) calls C(Get-MailboxServer), C(Get-ClusteredMailboxServerStatus),
        C(Get-StorageGroup), then C(Get-StorageGroupCopyStatus) once for the CCR copies and once per SCR target
        (C(-StandbyMachine)), the storage groups as pipeline input.
      - V(all) reads every kind; V(clustered_mailbox_servers) only with O(exchange_version=2007).
    type: list
    elements: str
    choices: [all, servers, dags, databases, copies, components, networks, queues, clustered_mailbox_servers]
    default: [all]
  query:
    description:
      - JMESPath expression evaluated on the gathered data, a dictionary with one list per kind in
        O(gather_subset) (for example V(copies[?status!='Healthy' && !active].name)).
      - The result is returned in RV(query_result). Needs the C(jmespath) library on the controller.
    type: str
extends_documentation_fragment:
  - exchange.dr.connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; check mode changes nothing in its behaviour.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Only reads. On Exchange 2010 and later the View-Only Organization Management role group is enough.
  - Servers that fail to answer C(Get-ServerComponentState) or C(Get-Queue), and on Exchange 2007 clusters or
    storage groups whose status cannot be read, are reported as warnings; the other results are still
    returned.
  - Names of servers are short (NetBIOS) names, spelled as C(Get-ExchangeServer) spells them where Exchange
    reports them in lower case or as an FQDN.
seealso:
  - name: Get-StorageGroupCopyStatus (Exchange 2007)
    description: The cmdlet reference of the CCR/SCR copy status read by O(gather_subset=copies) on Exchange 2007.
    link: https://learn.microsoft.com/previous-versions/office/exchange-server-2007/aa997246(v=exchg.80)
  - name: Get-MailboxDatabaseCopyStatus
    description: The cmdlet reference of the copy status read by O(gather_subset=copies).
    link: https://learn.microsoft.com/powershell/module/exchange/get-mailboxdatabasecopystatus
  - name: JMESPath
    description: The query language of O(query).
    link: https://jmespath.org/
requirements:
  - jmespath (for O(query))
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
# The connection options are set once (for a play, a block or a task) through the action group;
# the module runs on the controller.
- name: Report the DAG health of the organization
  module_defaults:
    group/exchange.dr.exchange:
      server: ex01.contoso.com
      username: viewer@CONTOSO.COM
      password: "{{ vault_exchange_viewer_password }}"
      auth: kerberos
      ca_trust_path: /etc/pki/contoso-root-ca.pem
  block:
    - name: Read everything
      exchange.dr.exchange_info:
      register: exchange

    - name: Show the active server of every database
      ansible.builtin.debug:
        msg: "{{ exchange.databases | items2dict(key_name='name', value_name='server') }}"

# With an inventory from the exchange.dr.exchange inventory plugin or `exchange-lab inventory`,
# each host carries its connection options in exchange_dr_connection.
- name: Read the copies once for the play
  module_defaults:
    group/exchange.dr.exchange: "{{ exchange_dr_connection }}"
  exchange.dr.exchange_info:
    gather_subset: [copies]
  run_once: true
  register: copies

# Only copies, filtered on the controller with JMESPath.
- name: List the passive copies that are not healthy
  exchange.dr.exchange_info:
    server: ex01.contoso.com
    gather_subset: [copies]
    query: "copies[?!active && status != 'Healthy'].{copy: name, status: status, queue: copy_queue_length}"
  register: unhealthy
  failed_when: unhealthy.query_result | length > 0

# NTLM over HTTP (messages are encrypted by NTLM), with an explicit port and longer timeouts.
- name: Read the DAG and its networks
  exchange.dr.exchange_info:
    server: ex01.contoso.com
    port: 80
    ssl: false
    auth: ntlm
    username: CONTOSO\viewer
    password: "{{ vault_exchange_viewer_password }}"
    operation_timeout: 60
    connection_timeout: 10
    reconnection_retries: 2
    reconnection_backoff: 1.5
    no_proxy: true
    gather_subset: [dags, networks]

# A lab or test environment: Basic over HTTPS with the lab's CA, or over plain HTTP only when allowed.
- name: Read the servers from the exchange.dr lab
  exchange.dr.exchange_info:
    server: 127.0.0.1
    port: "{{ lab_https_port }}"
    path: PowerShell
    configuration_name: Microsoft.Exchange
    auth: basic
    username: CONTOSO\administrator
    password: "{{ lab_password }}"
    validate_certs: true
    ca_trust_path: "{{ lab_ca_file }}"
    message_encryption: auto
    exchange_version: "2019"
    gather_subset: servers

- name: Same over plain HTTP (lab only)
  exchange.dr.exchange_info:
    server: 127.0.0.1
    port: "{{ lab_http_port }}"
    ssl: false
    auth: basic
    allow_unencrypted: true
    username: CONTOSO\administrator
    password: "{{ lab_password }}"
    gather_subset: [servers, components]

# Exchange 2007 SP1 (CCR + SCR): WinRM on the Exchange 2007 server, Microsoft.PowerShell (the default
# configuration for exchange_version 2007, path wsman, port 5986/5985) with the Exchange snap-in.
- name: Report the SCR copies that are not healthy
  exchange.dr.exchange_info:
    server: mbx1a.contoso.com
    exchange_version: "2007"
    auth: kerberos
    gather_subset: [clustered_mailbox_servers, copies]
    query: "copies[?kind=='scr' && status!='Healthy'].{copy: name, status: status, replay_queue: replay_queue_length}"
  register: e2007

# Certificate authentication through a proxy.
- name: Read queues
  exchange.dr.exchange_info:
    server: ex01.contoso.com
    auth: certificate
    certificate_pem: /etc/exchange-dr/client.pem
    certificate_key_pem: /etc/exchange-dr/client.key
    proxy: http://proxy.contoso.com:8080
    gather_subset: queues
"""

RETURN = r"""
servers:
  description:
    - Exchange servers (C(Get-ExchangeServer)) with their mailbox server settings (C(Get-MailboxServer));
      the mailbox settings are null for servers without the Mailbox role.
    - On Exchange 2007 the 2010+ mailbox settings (C(dag), activation policies, limits) are null, and each
      server has C(is_member_of_cluster) and C(redundant_machines) (the cluster nodes a clustered mailbox
      server may run on; empty for other servers). Exchange 2007 lists clustered mailbox servers, not their
      nodes.
  returned: when O(gather_subset) has V(servers) or V(all)
  type: list
  elements: dict
  sample:
    - name: EX01
      fqdn: ex01.contoso.com
      site: DC1
      roles: [Mailbox]
      admin_display_version: Version 15.2 (Build 1544.4)
      product: "2019"
      major: 15
      minor: 2
      build: 15.2.1544.4
      edition: Enterprise
      is_mailbox_server: true
      dag: DAG1
      database_copy_auto_activation_policy: Unrestricted
      database_copy_activation_disabled_and_move_now: false
      auto_database_mount_dial: GoodAvailability
      maximum_active_databases: null
      maximum_preferred_active_databases: null
clustered_mailbox_servers:
  description:
    - Exchange 2007 clustered mailbox servers (C(Get-ClusteredMailboxServerStatus)) with the node they are
      active on and the quorum owner (read from the markers of C(OperationalMachines)), the operational and
      redundant nodes, failed cluster resources and the continuous replication host names.
    - Empty (with a warning) when asked of Exchange 2010 or later.
  returned: when O(gather_subset) has V(clustered_mailbox_servers), or V(all) with O(exchange_version=2007)
  type: list
  elements: dict
  sample:
    - name: CMS1
      fqdn: CMS1.contoso.com
      state: Online
      active_node: MBX1A
      quorum_owner: MBX1A
      operational_machines: [MBX1A, MBX1B]
      redundant_machines: [MBX1A, MBX1B]
      failed_resources: []
      operational_replication_host_names: [mbx1a, mbx1b]
      failed_replication_host_names: []
      in_use_replication_host_names: [mbx1a, mbx1b]
dags:
  description:
    - Database availability groups with their status (C(Get-DatabaseAvailabilityGroup -Status)).
    - Always empty on Exchange 2007 (with a warning).
  returned: when O(gather_subset) has V(dags) or V(all)
  type: list
  elements: dict
  sample:
    - name: DAG1
      servers: [EX01, EX02, EX03, EX04]
      operational_servers: [EX01, EX02, EX03, EX04]
      started_mailbox_servers: [EX01, EX02, EX03, EX04]
      stopped_mailbox_servers: []
      servers_in_maintenance: []
      primary_active_manager: EX01
      witness_server: FS01.contoso.com
      witness_directory: C:\DAGFileShareWitnesses\DAG1.contoso.com
      alternate_witness_server: FS02.contoso.com
      alternate_witness_directory: C:\DAGFileShareWitnesses\DAG1.contoso.com
      witness_share_in_use: Primary
      datacenter_activation_mode: DagOnly
      ip_addresses: [10.1.1.50, 10.2.1.50]
      network_compression: InterSubnetOnly
      network_encryption: InterSubnetOnly
      manual_dag_network_configuration: false
      replication_port: 64327
      third_party_replication: Disabled
databases:
  description:
    - Mailbox databases with their status (C(Get-MailboxDatabase -Status)).
    - Sizes are in bytes; lag times in .NET's C(d.hh:mm:ss) form; backup times in ISO-8601.
    - C(servers) are the servers with a copy, in activation preference order.
    - On Exchange 2007 each database also has C(storage_group) (C(<server>\<storage group>)); C(servers) is
      its server (the clustered mailbox server); DAG, copy and size values are null or empty.
  returned: when O(gather_subset) has V(databases) or V(all)
  type: list
  elements: dict
  sample:
    - name: DB08
      guid: 0c7b5a7e-9a57-5d43-8c4b-2a9a4f2e4f10
      server: EX02
      master: DAG1
      servers: [EX02, EX01, EX03, EX04]
      activation_preference: {EX02: 1, EX01: 2, EX03: 3, EX04: 4}
      replay_lag_times: {EX02: "00:00:00", EX01: "00:00:00", EX03: "00:00:00", EX04: "7.00:00:00"}
      truncation_lag_times: {EX02: "00:00:00", EX01: "00:00:00", EX03: "00:00:00", EX04: "00:00:00"}
      replication_type: Remote
      recovery: false
      mounted: true
      mounted_on_server: EX02
      database_size: 1610612736
      available_new_mailbox_space: 80530636
      edb_file_path: D:\Databases\DB08\DB08.edb
      log_folder_path: E:\Logs\DB08
      log_file_prefix: E07
      circular_logging_enabled: false
      mount_at_startup: true
      data_move_replication_constraint: SecondCopy
      last_full_backup: "2026-03-13T23:00:03+00:00"
      last_incremental_backup: null
copies:
  description:
    - Status of every database copy (C(Get-MailboxDatabaseCopyStatus)).
    - On Exchange 2007, the continuous replication copies of the storage groups (C(Get-StorageGroupCopyStatus)),
      in the same shape - C(database) is the storage group identity (C(CMS1\SG1)), C(status) its
      C(SummaryCopyStatus), C(server) the node (CCR) or standby machine (SCR) holding the copy, C(active_server)
      the node the clustered mailbox server runs on (or the source server), C(active) false (Exchange 2007
      reports the passive copies only); C(activation_preference), C(activation_suspended),
      C(auto_activation_policy) and C(content_index_state) are null. Each 2007 copy has C(kind), V(ccr) or
      V(scr).
  returned: when O(gather_subset) has V(copies) or V(all)
  type: list
  elements: dict
  sample:
    - name: DB08\EX04
      database: DB08
      server: EX04
      active_server: EX02
      active: false
      status: Healthy
      activation_preference: 4
      activation_suspended: false
      auto_activation_policy: Unrestricted
      copy_queue_length: 0
      replay_queue_length: 2016
      content_index_state: NotApplicable
      last_log_generated: 81234
      last_log_inspected: 81234
      last_log_replayed: 79218
      last_inspected_log_time: "2026-03-14T10:02:11+00:00"
      last_replayed_log_time: "2026-03-07T10:01:58+00:00"
      error_message: null
      suspend_comment: null
    - name: CMS1\SG1\MBX2A
      database: CMS1\SG1
      server: MBX2A
      active_server: MBX1A
      active: false
      status: Healthy
      activation_preference: null
      activation_suspended: null
      auto_activation_policy: null
      copy_queue_length: 0
      replay_queue_length: 338
      content_index_state: null
      last_log_generated: 9650
      last_log_inspected: 9650
      last_log_replayed: 9312
      last_inspected_log_time: "2026-03-14T10:02:11+00:00"
      last_replayed_log_time: "2026-03-13T10:02:11+00:00"
      error_message: null
      suspend_comment: null
      kind: scr
components:
  description:
    - Server component states (C(Get-ServerComponentState)), one entry per server and component, read in one
      call for all Exchange 2013 or later servers.
    - Always empty on Exchange 2007 (with a warning).
  returned: when O(gather_subset) has V(components) or V(all)
  type: list
  elements: dict
  sample:
    - server: EX01
      component: HubTransport
      state: Inactive
      local_states:
        - {requester: Maintenance, state: Inactive, timestamp: "2026-03-14T10:02:11+00:00"}
      remote_states: []
networks:
  description:
    - DAG networks (C(Get-DatabaseAvailabilityGroupNetwork)).
    - Always empty on Exchange 2007 (with a warning).
  returned: when O(gather_subset) has V(networks) or V(all)
  type: list
  elements: dict
  sample:
    - identity: DAG1\ReplicationDagNetwork01
      dag: DAG1
      name: ReplicationDagNetwork01
      description: null
      subnets: [{subnet: 10.1.2.0/24, state: Up}]
      interfaces: [{node: EX01, state: Up, ip_address: 10.1.2.11}]
      mapi_access_enabled: false
      replication_enabled: true
      ignore_network: false
queues:
  description:
    - Transport queues (C(Get-Queue -Server)) of every transport server - Mailbox (Exchange 2013 and later) or
      Hub Transport - one call per server, since C(Get-Queue) reads only the server it is given.
    - A server that does not answer is left out, with a warning.
  returned: when O(gather_subset) has V(queues) or V(all)
  type: list
  elements: dict
  sample:
    - identity: EX01\Submission
      server: EX01
      delivery_type: Undefined
      next_hop_domain: Submission
      next_hop_category: Internal
      status: Ready
      message_count: 3
      last_error: null
query_result:
  description: The result of O(query) on the gathered data (any JSON type).
  returned: when O(query) is set
  type: raw
  sample: ["DB08\\EX04"]
round_trips:
  description:
    - Number of pipelines (cmdlet invocations) sent to Exchange. A pipeline with input objects (component
      states, Exchange 2007 cluster and copy status) counts once, although Exchange runs the cmdlet once per
      object.
    - With O(gather_subset=all) on Exchange 2013 or later - 7 plus one per transport server (queues).
    - On Exchange 2007 it includes the C(Add-PSSnapin) call.
  returned: always
  type: int
  sample: 11
elapsed:
  description: Seconds spent reading, including opening the session.
  returned: always
  type: float
  sample: 1.84
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.exchange.dr.plugins.module_utils.exchange import SUBSETS, gather
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client, ExchangeError, connection_argument_spec

try:
    import jmespath
except ImportError:
    HAS_JMESPATH = False
    JMESPATH_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_JMESPATH = True
    JMESPATH_IMPORT_ERROR = None


def compile_query(module):
    """The compiled O(query), or None; fails the module on a bad expression."""
    text = module.params["query"]
    if text is None:
        return None
    if not HAS_JMESPATH:
        module.fail_json(msg=missing_required_lib("jmespath"), exception=JMESPATH_IMPORT_ERROR)
    try:
        return jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as exc:
        module.fail_json(msg="query is not a valid JMESPath expression: %s" % " ".join(str(exc).split()))


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        gather_subset=dict(type="list", elements="str", default=["all"], choices=["all"] + list(SUBSETS)),
        query=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    expression = compile_query(module)

    started = time.monotonic()
    client = None
    try:
        client = Client.from_module(module)
        with client:
            facts, problems = gather(client, module.params["gather_subset"])
    except ExchangeError as exc:
        module.fail_json(msg=str(exc), round_trips=len(client.calls) if client else 0, **exc.result())

    for warning in client.warnings + problems:
        module.warn(warning)
    result = dict(changed=False, round_trips=len(client.calls), elapsed=round(time.monotonic() - started, 3))
    result.update(facts)
    if expression is not None:
        try:
            result["query_result"] = expression.search(facts)
        except jmespath.exceptions.JMESPathError as exc:
            module.fail_json(msg="query could not be evaluated: %s" % " ".join(str(exc).split()), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
