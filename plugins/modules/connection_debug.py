#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: connection_debug
short_description: Troubleshoot the PowerShell Remoting connection to an Exchange or Windows server
version_added: 0.1.0
description:
  - Reports what decides whether the other modules of this collection can reach O(server), without failing when a
    probe fails, so that one task shows every problem at once.
  - The Python libraries on the controller (C(pypsrp), C(pyspnego), C(requests), and the optional Kerberos and CredSSP
    extras) with their versions.
  - Kerberos on the controller, through C(krb5) or C(gssapi) when installed, the default realm, the credential cache
    (E(KRB5CCNAME)) with its principal and tickets; or that the Kerberos extras are not installed.
  - The DNS resolution of O(server), whether its O(port) accepts a TCP connection, and the result of opening a
    PowerShell Remoting session (a RunspacePool) with the connection options, as the one-line message the other
    modules would fail with.
  - Never reports O(password) or any other secret.
extends_documentation_fragment:
  - exchange.dr.connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only probes; it opens and closes a session and sends no cmdlet.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  action_group:
    description: Use C(group/exchange.dr.exchange) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - exchange.dr.exchange
notes:
  - Runs on the controller like every module of the collection; the probes are made from there.
  - The task fails only for invalid options (a wrong type or choice). A failed probe is reported in its key and in
    RV(session.error), and RV(ok) is V(false).
  - Opening a session needs no Exchange role; any user allowed to use remote PowerShell can open it.
seealso:
  - module: exchange.dr.exchange_info
  - name: pypsrp
    description: The PowerShell Remoting client library, its authentication options and extras.
    link: https://github.com/jborean93/pypsrp
requirements:
  - krb5 or gssapi (through C(pip install pypsrp[kerberos])) to report the Kerberos cache
author:
  - exchange.dr developers (@exchange-dr)
"""

EXAMPLES = r"""
- name: Troubleshoot the connection to the Exchange server
  module_defaults:
    group/exchange.dr.exchange:
      server: ex01.contoso.com
      auth: kerberos
  block:
    - name: Probe DNS, TCP, Kerberos and the session
      exchange.dr.connection_debug:
      register: probe

    - name: Show the result
      ansible.builtin.debug:
        var: probe

    - name: Stop here when the session cannot be opened
      ansible.builtin.assert:
        that: probe.ok
        fail_msg: "{{ probe.session.error }} ({{ probe.hints | join('; ') }})"

# Probe every host of an inventory from the exchange.dr.exchange inventory plugin or
# `exchange-lab inventory` with its own connection variables (run in a play on those hosts)
- name: Probe this host's endpoint
  module_defaults:
    group/exchange.dr.exchange: "{{ exchange_dr_connection }}"
  exchange.dr.connection_debug:

# Every connection option can be given, as for the other modules
- name: Probe a WinRM endpoint with NTLM over HTTP
  exchange.dr.connection_debug:
    server: fs01.contoso.com
    port: 5985
    path: wsman
    configuration_name: Microsoft.PowerShell
    ssl: false
    auth: ntlm
    username: CONTOSO\administrator
    password: "{{ vault_admin_password }}"
    message_encryption: auto
    connection_timeout: 5
    operation_timeout: 10
    reconnection_retries: 1
    reconnection_backoff: 1.0
    no_proxy: true

- name: Probe through a proxy with a client certificate and the internal CA
  exchange.dr.connection_debug:
    server: ex01.contoso.com
    auth: certificate
    certificate_pem: /etc/exchange-dr/client.pem
    certificate_key_pem: /etc/exchange-dr/client.key
    ca_trust_path: /etc/pki/contoso-root-ca.pem
    validate_certs: true
    proxy: http://proxy.contoso.com:8080
    exchange_version: "2019"

- name: Probe an Exchange 2007 server (Microsoft.PowerShell on WinRM)
  exchange.dr.connection_debug:
    server: ex2007.contoso.com
    exchange_version: "2007"
    auth: basic
    allow_unencrypted: false
    username: CONTOSO\administrator
    password: "{{ vault_admin_password }}"
"""

RETURN = r"""
ok:
  description: Whether the session could be opened.
  returned: always
  type: bool
  sample: true
endpoint:
  description: Where the session goes, with the defaults filled in.
  returned: always
  type: dict
  contains:
    url:
      description: The WSMan URL.
      type: str
      sample: https://ex01.contoso.com:443/PowerShell
    configuration_name:
      description: The session configuration.
      type: str
      sample: Microsoft.Exchange
    auth:
      description: The authentication protocol.
      type: str
      sample: kerberos
    username:
      description: The user name given, or null when the Kerberos cache is used.
      type: str
      sample: administrator@CONTOSO.COM
  sample:
    url: https://ex01.contoso.com:443/PowerShell
    configuration_name: Microsoft.Exchange
    auth: kerberos
    username: null
packages:
  description: Python and the libraries on the controller, each with its version, or null when not installed.
  returned: always
  type: dict
  sample:
    python: 3.11.7
    pypsrp: 0.9.1
    pyspnego: 0.12.4
    requests: 2.34.2
    cryptography: 50.0.2
    krb5: null
    gssapi: null
    requests-credssp: null
kerberos:
  description: Kerberos on the controller.
  returned: always
  type: dict
  contains:
    available:
      description: Whether a Kerberos library (C(krb5) or C(gssapi)) is installed.
      type: bool
      sample: false
    message:
      description: One line about the Kerberos state, including how to install the extras when they are missing.
      type: str
      sample: "not installed: pip install pypsrp[kerberos]"
    ccache:
      description: The credential cache in use (E(KRB5CCNAME) when set, else the library's default).
      type: str
      sample: FILE:/tmp/krb5cc_1000
    config:
      description: E(KRB5_CONFIG) when set.
      type: str
      sample: null
    default_realm:
      description: The default realm of the Kerberos configuration.
      type: str
      sample: CONTOSO.COM
    principal:
      description: The principal of the credential cache.
      type: str
      sample: administrator@CONTOSO.COM
    lifetime:
      description: Seconds the initial ticket remains valid (through C(gssapi)).
      type: int
      sample: 35999
    tickets:
      description: Tickets in the cache (client and server principals; never their keys).
      type: list
      elements: dict
      sample: [{client: administrator@CONTOSO.COM, server: krbtgt/CONTOSO.COM@CONTOSO.COM}]
    error:
      description: Why the cache could not be read, on one line.
      type: str
      sample: null
dns:
  description: Resolution of O(server).
  returned: always
  type: dict
  contains:
    resolved:
      description: Whether the name resolved.
      type: bool
      sample: true
    canonical_name:
      description: The canonical name DNS returned.
      type: str
      sample: ex01.contoso.com
    addresses:
      description: The IP addresses of O(server).
      type: list
      elements: str
      sample: [10.1.1.11]
    error:
      description: The resolver's error, on one line.
      type: str
      sample: null
tcp:
  description: Whether O(port) of O(server) accepts a TCP connection (directly, even when O(proxy) is set).
  returned: always
  type: dict
  contains:
    reachable:
      description: Whether the connection was accepted.
      type: bool
      sample: true
    port:
      description: The port probed.
      type: int
      sample: 443
    elapsed:
      description: Seconds the connection took.
      type: float
      sample: 0.002
    error:
      description: Why it failed, on one line.
      type: str
      sample: null
session:
  description: The result of opening a PowerShell Remoting session with the connection options.
  returned: always
  type: dict
  contains:
    opened:
      description: Whether the RunspacePool opened.
      type: bool
      sample: false
    elapsed:
      description: Seconds spent opening (and closing) it.
      type: float
      sample: 0.41
    error:
      description: The one-line message the other modules would fail with; null when it opened.
      type: str
      sample: 401 from ex01.contoso.com:443 - check username/password; Kerberos needs a UPN user name (user@REALM);
        auth was negotiate
hints:
  description: Likely causes found by comparing the probes with the options.
  returned: always
  type: list
  elements: str
  sample: ["Kerberos needs the server's host name (its SPN), not an IP address: use the FQDN in server"]
"""

import importlib
import importlib.metadata
import ipaddress
import os
import platform
import socket
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange.dr.plugins.module_utils.psrp import (
    CONNECTION_ARGSPEC,
    HAS_PYPSRP,
    Client,
    ExchangeError,
    connection_argument_spec,
    endpoint,
)

PACKAGES = ("pypsrp", "pyspnego", "requests", "cryptography", "krb5", "gssapi", "requests-credssp")
KERBEROS_EXTRAS = "pip install pypsrp[kerberos]"


def one_line(exc) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def packages() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def kerberos() -> dict:
    """The controller's Kerberos state, through krb5 (preferred) or gssapi."""
    info = {"available": False, "message": None, "ccache": os.environ.get("KRB5CCNAME"),
            "config": os.environ.get("KRB5_CONFIG"), "default_realm": None, "principal": None, "lifetime": None,
            "tickets": [], "error": None}
    krb5, gssapi = _import("krb5"), _import("gssapi")
    if krb5 is None and gssapi is None:
        info["message"] = "not installed: %s" % KERBEROS_EXTRAS
        return info
    info["available"] = True
    try:
        if krb5 is not None:
            context = krb5.init_context()
            try:
                info["default_realm"] = krb5.get_default_realm(context).decode("utf-8")
            except Exception as exc:  # no default realm in krb5.conf is common and not fatal
                info["error"] = "no default realm: %s" % one_line(exc)
            cache = krb5.cc_default(context)
            info["ccache"] = str(cache)
            info["principal"] = str(cache.principal)
            info["tickets"] = [{"client": str(getattr(cred, "client", "")), "server": str(getattr(cred, "server", ""))}
                               for cred in cache]
        else:
            credentials = gssapi.Credentials(usage="initiate")
            info["principal"] = str(credentials.name)
            info["lifetime"] = credentials.lifetime
    except Exception as exc:  # an empty or missing cache raises; it is a finding, not a failure
        info["error"] = one_line(exc)
    if info["principal"]:
        info["message"] = "ticket cache holds %s" % info["principal"]
    else:
        info["message"] = "no Kerberos ticket in the cache: run kinit user@REALM, or give username and password"
    return info


def resolve(server: str, port: int) -> dict:
    info = {"resolved": False, "canonical_name": None, "addresses": [], "error": None}
    try:
        found = socket.getaddrinfo(server, port, type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME)
    except (OSError, UnicodeError) as exc:
        info["error"] = "cannot resolve %s: %s" % (server, one_line(exc))
        return info
    info["resolved"] = True
    info["canonical_name"] = next((entry[3] for entry in found if entry[3]), None) or server
    for entry in found:
        if entry[4][0] not in info["addresses"]:
            info["addresses"].append(entry[4][0])
    return info


def tcp(server: str, port: int, timeout: int) -> dict:
    info = {"reachable": False, "port": port, "elapsed": None, "error": None}
    started = time.monotonic()
    try:
        with socket.create_connection((server, port), timeout=timeout):
            info["reachable"] = True
    except socket.timeout:
        info["error"] = "no answer from %s:%s within %s s (filtered by a firewall?)" % (server, port, timeout)
    except OSError as exc:
        info["error"] = "%s:%s: %s" % (server, port, one_line(exc))
    info["elapsed"] = round(time.monotonic() - started, 3)
    return info


def session(params: dict) -> dict:
    info = {"opened": False, "elapsed": None, "error": None}
    if not HAS_PYPSRP:
        info["error"] = "pypsrp is not installed on the controller: pip install pypsrp"
        return info
    started = time.monotonic()
    try:
        with Client(**{key: params.get(key) for key in CONNECTION_ARGSPEC}) as client:
            client.open()
        info["opened"] = True
    except ExchangeError as exc:
        info["error"] = str(exc)
    info["elapsed"] = round(time.monotonic() - started, 3)
    return info


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def hints(params: dict, krb: dict, dns: dict, port: dict, opened: dict) -> list:
    found = []
    auth, username = params["auth"], params.get("username") or ""
    if auth in ("kerberos", "negotiate") and _is_ip(params["server"]):
        found.append("Kerberos needs the server's host name (its SPN), not an IP address: use the FQDN in server"
                     + (" (negotiate falls back to NTLM)" if auth == "negotiate" else ""))
    if auth == "kerberos" and not krb["available"]:
        found.append("auth kerberos needs the Kerberos extras on the controller: %s" % KERBEROS_EXTRAS)
    if auth == "kerberos" and username and "@" not in username:
        found.append("Kerberos needs the user name as a UPN with the realm in upper case (user@CONTOSO.COM), "
                     "not DOMAIN\\user")
    if auth == "kerberos" and krb["available"] and not username and not krb["principal"]:
        found.append("no username and no ticket in the Kerberos cache: run kinit user@REALM first")
    if not dns["resolved"]:
        found.append("the server name does not resolve from the controller: check server and the DNS settings")
    elif not port["reachable"] and not params.get("proxy"):
        found.append("port %s does not accept connections: Exchange 2010+ listens on 443/80 (/PowerShell), "
                     "WinRM on 5986/5985 (/wsman)" % port["port"])
    if not params["validate_certs"] and params["ssl"]:
        found.append("certificate validation is off (validate_certs false): set ca_trust_path instead outside a lab")
    if opened["error"] and "401" in opened["error"] and auth == "negotiate" and "\\" in username:
        found.append("with DOMAIN\\user negotiate uses NTLM; check that NTLM is allowed on the server or use "
                     "kerberos with user@REALM")
    return found


def main():
    module = AnsibleModule(argument_spec=connection_argument_spec(), supports_check_mode=True)
    params = module.params
    configuration_name, path, port = endpoint(params["configuration_name"], params["path"], params["port"],
                                              params["ssl"], params["exchange_version"])
    result = {
        "changed": False,
        "endpoint": {
            "url": "%s://%s:%s/%s" % ("https" if params["ssl"] else "http", params["server"], port, path.strip("/")),
            "configuration_name": configuration_name,
            "auth": params["auth"],
            "username": params["username"],
        },
        "packages": packages(),
        "kerberos": kerberos(),
        "dns": resolve(params["server"], port),
    }
    result["tcp"] = tcp(params["server"], port, params["connection_timeout"]) if result["dns"]["resolved"] else {
        "reachable": False, "port": port, "elapsed": None, "error": "not tried: the server name does not resolve"}
    result["session"] = session(params)
    result["ok"] = result["session"]["opened"]
    result["hints"] = hints(params, result["kerberos"], result["dns"], result["tcp"], result["session"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
