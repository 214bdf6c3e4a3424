# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: exchange
short_description: Exchange servers of an organization, grouped by AD site, DAG and version
version_added: 0.1.0
description:
  - Reads the Exchange servers of an organization from one Exchange server over PowerShell Remoting, with two cmdlet
    calls (C(Get-ExchangeServer) and C(Get-DatabaseAvailabilityGroup), both projected with C(Select-Object)), and adds
    one host per server, named as Exchange names it (for example V(EX01)).
  - The groups are V(exchange_servers) (every server), V(site_<AD site>), V(dag_<DAG>) and V(exchange_<version>)
    (for example V(site_DC1), V(dag_DAG1), V(exchange_2019), V(exchange_se)).
  - The host variables are C(exchange_dr_fqdn), C(exchange_dr_site), C(exchange_dr_dag) (null outside a DAG),
    C(exchange_dr_version) (V(2013), V(2016), V(2019), V(SE), ...), C(exchange_dr_build) (V(15.2.1544.4)) and
    C(exchange_dr_roles) (a list such as V([Mailbox])), plus the variables of O(host_vars).
  - The configuration file name must end with C(exchange.yml) or C(exchange.yaml), for example C(org.exchange.yml).
  - >-
    The modules of this collection read their connection options from C(module_defaults) of the action group
    C(group/exchange.dr.exchange). The convention is one host variable, C(exchange_dr_connection), a dictionary of
    those options, set with O(host_vars); a play then uses
    C(module_defaults: {group/exchange.dr.exchange: "{{ exchange_dr_connection }}"}).
    C(exchange-lab inventory) writes the same variable for the lab.
options:
  plugin:
    description: The name of this plugin; must be V(exchange.dr.exchange).
    type: str
    required: true
    choices: [exchange.dr.exchange]
  host_vars:
    description:
      - Variables to set on every host, typically C(exchange_dr_connection) (the connection options of the modules),
        C(ansible_connection=local) and C(ansible_python_interpreter) (the modules run on the controller).
      - Values are set as written; templates in them are rendered when a play uses them, with the host's variables, so
        V({{ inventory_hostname }}), V({{ exchange_dr_fqdn }}) and vaulted variables may be used.
      - O(compose) can refer to these variables; as O(compose) does not render templates inside them, prefer
        O(compose) for values that groups are built from.
    type: dict
    default: {}
  server:
    description:
      - Host name of the Exchange server to read the organization from.
      - The other connection options are those of the modules (see M(exchange.dr.exchange_info)).
    type: str
    required: true
    env:
      - name: EXCHANGE_DR_SERVER
  port:
    description: TCP port of the endpoint; defaults to V(443)/V(80) for the path V(PowerShell), V(5986)/V(5985) otherwise.
    type: int
    env:
      - name: EXCHANGE_DR_PORT
  path:
    description: URL path of the WSMan endpoint; defaults to V(PowerShell) for O(configuration_name=Microsoft.Exchange).
    type: str
    env:
      - name: EXCHANGE_DR_PATH
  configuration_name:
    description:
      - PowerShell session configuration; defaults to V(Microsoft.Exchange), or V(Microsoft.PowerShell) with
        O(exchange_version=2007).
    type: str
    env:
      - name: EXCHANGE_DR_CONFIGURATION_NAME
  username:
    description: User to authenticate as (C(DOMAIN\user), or C(user@REALM) for Kerberos); a view-only role is enough.
    type: str
    env:
      - name: EXCHANGE_DR_USERNAME
  password:
    description:
      - Password of O(username).
      - May be a template, for example V({{ lookup('ansible.builtin.env', 'EXCHANGE_PASSWORD') }}).
    type: str
    env:
      - name: EXCHANGE_DR_PASSWORD
  auth:
    description: Authentication protocol.
    type: str
    choices: [kerberos, negotiate, ntlm, credssp, basic, certificate]
    default: negotiate
    env:
      - name: EXCHANGE_DR_AUTH
  ssl:
    description: Connect over HTTPS.
    type: bool
    default: true
    env:
      - name: EXCHANGE_DR_SSL
  validate_certs:
    description: Verify the server's TLS certificate and host name.
    type: bool
    default: true
    env:
      - name: EXCHANGE_DR_VALIDATE_CERTS
  ca_trust_path:
    description: PEM bundle of the certificate authorities to trust for the server's certificate.
    type: path
    env:
      - name: EXCHANGE_DR_CA_TRUST_PATH
  certificate_pem:
    description: Client certificate (PEM) for O(auth=certificate).
    type: path
    env:
      - name: EXCHANGE_DR_CERTIFICATE_PEM
  certificate_key_pem:
    description: Private key (PEM) of O(certificate_pem).
    type: path
    env:
      - name: EXCHANGE_DR_CERTIFICATE_KEY_PEM
  allow_unencrypted:
    description: Allow O(auth=basic) or O(message_encryption=never) over plain HTTP (O(ssl=false)); for a lab only.
    type: bool
    default: false
    env:
      - name: EXCHANGE_DR_ALLOW_UNENCRYPTED
  connection_timeout:
    description: Seconds to wait for the TCP and TLS connection.
    type: int
    default: 30
    env:
      - name: EXCHANGE_DR_CONNECTION_TIMEOUT
  operation_timeout:
    description: Seconds the server may take to answer one WSMan operation.
    type: int
    default: 20
    env:
      - name: EXCHANGE_DR_OPERATION_TIMEOUT
  reconnection_retries:
    description: Number of times to retry a connection that could not be established.
    type: int
    default: 0
    env:
      - name: EXCHANGE_DR_RECONNECTION_RETRIES
  reconnection_backoff:
    description: Seconds before the first retry; doubles on each retry.
    type: float
    default: 2.0
    env:
      - name: EXCHANGE_DR_RECONNECTION_BACKOFF
  proxy:
    description: HTTP proxy URL to reach the server through.
    type: str
    env:
      - name: EXCHANGE_DR_PROXY
  no_proxy:
    description: Ignore the controller's proxy environment variables.
    type: bool
    default: false
    env:
      - name: EXCHANGE_DR_NO_PROXY
  message_encryption:
    description: WinRM message encryption.
    type: str
    choices: [auto, always, never]
    default: auto
    env:
      - name: EXCHANGE_DR_MESSAGE_ENCRYPTION
  exchange_version:
    description: Exchange version of O(server); V(2007) reads through the Exchange 2007 snap-in on WinRM.
    type: str
    choices: [auto, "2007", "2010", "2013", "2016", "2019"]
    default: auto
    env:
      - name: EXCHANGE_DR_EXCHANGE_VERSION
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
notes:
  - Runs on the controller and needs C(pypsrp) there (C(pip install pypsrp); C(pip install pypsrp[kerberos]) for
    Kerberos).
  - C(Get-DatabaseAvailabilityGroup) is called without C(-Status), so building the inventory contacts no DAG member.
  - The connection options have the same names, defaults and environment variables as the modules' options.
requirements:
  - pypsrp >= 0.9.0 on the controller
seealso:
  - module: exchange.dr.exchange_info
  - module: exchange.dr.connection_debug
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
# Each example is one configuration file, whose name ends with exchange.yml (for example
# inventory/org.exchange.yml); use it with ansible-playbook -i inventory/org.exchange.yml.

# An organization read with the controller's Kerberos ticket (kinit first); the modules of each
# host then connect to that host with Kerberos. A playbook runs unchanged against this inventory
# or the lab's:
#   - hosts: dag_DAG1
#     gather_facts: false
#     module_defaults:
#       group/exchange.dr.exchange: "{{ exchange_dr_connection }}"
#     tasks:
#       - exchange.dr.exchange_info:
#           gather_subset: [copies]
#         run_once: true
plugin: exchange.dr.exchange
server: ex01.contoso.com
auth: kerberos
ca_trust_path: /etc/pki/contoso-root-ca.pem
host_vars:
  ansible_connection: local
  ansible_python_interpreter: "{{ ansible_playbook_python }}"
  exchange_dr_connection:
    server: "{{ exchange_dr_fqdn }}"
    auth: kerberos
    ca_trust_path: /etc/pki/contoso-root-ca.pem
# ansible_host from the FQDN, for the Windows connection plugins
compose:
  ansible_host: exchange_dr_fqdn
# groups from conditions on the host variables
groups:
  primary_datacenter: exchange_dr_site == 'DC1'
  exchange_2016_or_later: exchange_dr_version in ['2016', '2019', 'SE']
# role_Mailbox, role_ClientAccess, ... and build_15_2_1544_4, ...
keyed_groups:
  - key: exchange_dr_roles
    prefix: role
  - key: exchange_dr_build
    prefix: build
strict: true
# keep what was read for an hour in JSON files
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/exchange-dr-inventory
cache_timeout: 3600

---
# A view-only user over NTLM, the password from the environment; the modules use the same
# account, whose password comes from a vaulted variable when the play runs.
plugin: exchange.dr.exchange
server: ex01.contoso.com
auth: ntlm
username: CONTOSO\viewer
password: "{{ lookup('ansible.builtin.env', 'EXCHANGE_VIEWER_PASSWORD') }}"
host_vars:
  ansible_connection: local
  exchange_dr_connection:
    server: "{{ inventory_hostname | lower }}.contoso.com"
    auth: ntlm
    username: CONTOSO\viewer
    password: "{{ vault_exchange_viewer_password }}"

---
# The exchange.dr lab (port and CA path as printed by `exchange-lab start`; `exchange-lab
# inventory` writes a ready static inventory of the lab instead).
plugin: exchange.dr.exchange
server: 127.0.0.1
port: 40002
auth: basic
username: CONTOSO\administrator
password: Passw0rd!
ca_trust_path: /tmp/lab/tls/ca.pem
no_proxy: true
host_vars:
  ansible_connection: local
  ansible_python_interpreter: "{{ ansible_playbook_python }}"
  exchange_dr_connection:
    server: 127.0.0.1
    port: 40002
    auth: basic
    username: CONTOSO\administrator
    password: Passw0rd!
    ca_trust_path: /tmp/lab/tls/ca.pem
    no_proxy: true
"""

import traceback

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.exchange.dr.plugins.module_utils.exchange import read_membership
from ansible_collections.exchange.dr.plugins.module_utils.psrp import (
    CONNECTION_ARGSPEC,
    HAS_PYPSRP,
    PYPSRP_IMPORT_ERROR,
    Client,
    ExchangeError,
)

VAR_PREFIX = "exchange_dr_"
ALL_GROUP = "exchange_servers"


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "exchange.dr.exchange"

    def verify_file(self, path):
        if super().verify_file(path):
            return path.endswith(("exchange.yml", "exchange.yaml"))
        return False

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        if not HAS_PYPSRP:
            raise AnsibleError("%s: pip install pypsrp\n%s" % (
                missing_required_lib("pypsrp", url="https://pypi.org/project/pypsrp/",
                                     reason="for the exchange.dr.exchange inventory"), PYPSRP_IMPORT_ERROR))

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache")
        servers = None
        if use_cache and cache:
            try:
                servers = self._cache[cache_key]
            except KeyError:
                servers = None
        if servers is None:
            servers = self._read_servers()
            if use_cache:
                self._cache[cache_key] = servers
        self._populate(servers)

    def _connection_options(self) -> dict:
        options = {}
        for key in CONNECTION_ARGSPEC:
            value = self.get_option(key)
            if isinstance(value, str) and self.templar.is_template(value):
                value = self.templar.template(value)
            options[key] = value
        return options

    def _read_servers(self) -> list:
        options = self._connection_options()
        try:
            with Client(**options) as client:
                servers = read_membership(client)
        except ExchangeError as exc:
            raise AnsibleParserError("exchange.dr.exchange cannot read the Exchange servers from %s: %s"
                                     % (options["server"], exc)) from None
        except Exception as exc:
            raise AnsibleParserError("exchange.dr.exchange failed unexpectedly reading %s: %s\n%s"
                                     % (options["server"], exc, traceback.format_exc())) from exc
        return [{key: server.get(key) for key in ("name", "fqdn", "site", "roles", "product", "build", "dag")}
                for server in servers if server.get("name")]

    def _populate(self, servers: list) -> None:
        strict = self.get_option("strict")
        host_vars = self.get_option("host_vars") or {}
        if not isinstance(host_vars, dict):
            raise AnsibleParserError("host_vars must be a dictionary of variables, got %s" % type(host_vars).__name__)
        self.inventory.add_group(ALL_GROUP)
        for server in sorted(servers, key=lambda s: s["name"].lower()):
            host = self.inventory.add_host(server["name"], group=ALL_GROUP)
            # what the server reports is data, never a template: wrap_var marks it so on every ansible-core
            variables = wrap_var({
                VAR_PREFIX + "fqdn": server.get("fqdn"),
                VAR_PREFIX + "site": server.get("site"),
                VAR_PREFIX + "dag": server.get("dag"),
                VAR_PREFIX + "version": server.get("product"),
                VAR_PREFIX + "build": server.get("build"),
                VAR_PREFIX + "roles": list(server.get("roles") or []),
            })
            variables.update(host_vars)
            for name, value in variables.items():
                self.inventory.set_variable(host, name, value)
            for prefix, value in (("site", server.get("site")), ("dag", server.get("dag")),
                                  ("exchange", (server.get("product") or "").lower())):
                if value:
                    group = self.inventory.add_group(self._sanitize_group_name("%s_%s" % (prefix, value)))
                    self.inventory.add_child(group, host)
            hostvars = self.inventory.get_host(host).get_vars()
            self._set_composite_vars(self.get_option("compose"), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host, strict=strict)
