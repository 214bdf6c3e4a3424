# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options of every module that talks to Exchange over PowerShell Remoting.
    # Mirrored by CONNECTION_ARGSPEC in plugins/module_utils/psrp.py: change both together.
    DOCUMENTATION = r"""
options:
  server:
    description:
      - Host name of the Exchange server (or Windows host) to open the PowerShell Remoting session on.
      - For Kerberos give the name the server's SPN is registered with (its FQDN), not an IP address.
      - Can be set with the E(EXCHANGE_DR_SERVER) environment variable.
    type: str
    required: true
  port:
    description:
      - TCP port of the endpoint.
      - Defaults to V(443) (O(ssl=true)) or V(80) for the IIS path V(PowerShell), and to V(5986) or V(5985)
        for WinRM paths such as V(wsman).
      - Can be set with the E(EXCHANGE_DR_PORT) environment variable.
    type: int
  path:
    description:
      - URL path of the WSMan endpoint.
      - Defaults to V(PowerShell) (Exchange 2010 and later, hosted by IIS) when O(configuration_name) is
        V(Microsoft.Exchange), and to V(wsman) (WinRM) otherwise.
      - Can be set with the E(EXCHANGE_DR_PATH) environment variable.
    type: str
  configuration_name:
    description:
      - PowerShell session configuration to open.
      - V(Microsoft.Exchange) is Exchange's restricted endpoint (2010 and later). It accepts cmdlets only,
        limited by the user's RBAC roles, which is how every module of this collection talks to it.
      - V(Microsoft.PowerShell) is WinRM's default endpoint, for Windows cmdlets and for Exchange 2007.
      - Defaults to V(Microsoft.Exchange), or to V(Microsoft.PowerShell) when O(exchange_version=2007).
      - Can be set with the E(EXCHANGE_DR_CONFIGURATION_NAME) environment variable.
    type: str
  username:
    description:
      - User to authenticate as, as C(DOMAIN\user) or as a UPN C(user@domain).
      - Kerberos needs the UPN form with the realm in upper case (C(user@CONTOSO.COM)). Without O(username),
        Kerberos and Negotiate use the controller's Kerberos ticket cache.
      - Can be set with the E(EXCHANGE_DR_USERNAME) environment variable.
    type: str
  password:
    description:
      - Password of O(username).
      - Can be set with the E(EXCHANGE_DR_PASSWORD) environment variable.
    type: str
  auth:
    description:
      - Authentication protocol.
      - V(negotiate) uses Kerberos when the controller can, NTLM otherwise.
      - V(kerberos) needs C(pip install pypsrp[kerberos]) on the controller; V(credssp) needs
        C(pip install pypsrp[credssp]).
      - V(basic) sends the password itself, so use it over HTTPS only (see O(allow_unencrypted)).
      - V(certificate) needs O(certificate_pem), O(certificate_key_pem) and O(ssl=true).
      - Can be set with the E(EXCHANGE_DR_AUTH) environment variable.
    type: str
    choices: [kerberos, negotiate, ntlm, credssp, basic, certificate]
    default: negotiate
  ssl:
    description:
      - Connect over HTTPS. With V(false) the session uses HTTP; Negotiate, NTLM, Kerberos and CredSSP
        then encrypt every message themselves.
      - Can be set with the E(EXCHANGE_DR_SSL) environment variable.
    type: bool
    default: true
  validate_certs:
    description:
      - Verify the server's TLS certificate and host name.
      - Set O(ca_trust_path) when the certificate comes from an internal CA rather than setting V(false).
      - Can be set with the E(EXCHANGE_DR_VALIDATE_CERTS) environment variable.
    type: bool
    default: true
  ca_trust_path:
    description:
      - PEM bundle of the certificate authorities to trust for the server's certificate, instead of the
        controller's default trust store.
      - Can be set with the E(EXCHANGE_DR_CA_TRUST_PATH) environment variable.
    type: path
  certificate_pem:
    description:
      - Client certificate (PEM) for O(auth=certificate).
      - Can be set with the E(EXCHANGE_DR_CERTIFICATE_PEM) environment variable.
    type: path
  certificate_key_pem:
    description:
      - Private key (PEM) of O(certificate_pem) for O(auth=certificate).
      - Can be set with the E(EXCHANGE_DR_CERTIFICATE_KEY_PEM) environment variable.
    type: path
  allow_unencrypted:
    description:
      - Allow a session whose credentials and data cross the network unencrypted, that is O(auth=basic) or
        O(message_encryption=never) with O(ssl=false).
      - Without it such a session is refused before anything is sent. Use it only on a lab network.
      - Can be set with the E(EXCHANGE_DR_ALLOW_UNENCRYPTED) environment variable.
    type: bool
    default: false
  connection_timeout:
    description:
      - Seconds to wait for the TCP and TLS connection to the server.
      - Can be set with the E(EXCHANGE_DR_CONNECTION_TIMEOUT) environment variable.
    type: int
    default: 30
  operation_timeout:
    description:
      - Seconds the server may take to answer one WSMan operation before it reports a timeout.
      - The HTTP read timeout is set to this value plus 10 seconds so that the server answers first.
      - Can be set with the E(EXCHANGE_DR_OPERATION_TIMEOUT) environment variable.
    type: int
    default: 20
  reconnection_retries:
    description:
      - Number of times to retry a connection that could not be established.
      - Can be set with the E(EXCHANGE_DR_RECONNECTION_RETRIES) environment variable.
    type: int
    default: 0
  reconnection_backoff:
    description:
      - Seconds to wait before the first retry of O(reconnection_retries); the wait doubles on each retry.
      - Can be set with the E(EXCHANGE_DR_RECONNECTION_BACKOFF) environment variable.
    type: float
    default: 2.0
  proxy:
    description:
      - HTTP proxy URL to reach the server through, for example V(http://proxy.contoso.com:8080).
      - Without it the controller's proxy environment variables apply, unless O(no_proxy=true).
      - Can be set with the E(EXCHANGE_DR_PROXY) environment variable.
    type: str
  no_proxy:
    description:
      - Ignore the controller's proxy environment variables and connect directly.
      - Can be set with the E(EXCHANGE_DR_NO_PROXY) environment variable.
    type: bool
    default: false
  message_encryption:
    description:
      - WinRM message encryption.
      - V(auto) encrypts messages over HTTP (with Negotiate, NTLM, Kerberos or CredSSP) and leaves it to TLS
        over HTTPS; V(always) encrypts messages over HTTPS too; V(never) does not encrypt messages, which over
        HTTP also needs O(allow_unencrypted=true).
      - Can be set with the E(EXCHANGE_DR_MESSAGE_ENCRYPTION) environment variable.
    type: str
    choices: [auto, always, never]
    default: auto
  exchange_version:
    description:
      - Exchange version of the server.
      - V(auto) and V(2010) to V(2019) (including Exchange Server SE) use the remote PowerShell endpoint.
      - V(2007) has no remote PowerShell. The session opens O(configuration_name=Microsoft.PowerShell) on the
        server's WinRM endpoint and loads the snap-in C(Microsoft.Exchange.Management.PowerShell.Admin) once,
        with an C(Add-PSSnapin) cmdlet call.
      - Can be set with the E(EXCHANGE_DR_EXCHANGE_VERSION) environment variable.
    type: str
    choices: [auto, "2007", "2010", "2013", "2016", "2019"]
    default: auto
notes:
  - >-
    The modules run on the Ansible controller (C(delegate_to: localhost) or a play on C(localhost)) and need
    C(pypsrp) there.
  - >-
    Set the connection options once for a play with C(module_defaults: {group/exchange.dr.exchange: {...}}).
requirements:
  - pypsrp >= 0.9.0 on the controller
"""
