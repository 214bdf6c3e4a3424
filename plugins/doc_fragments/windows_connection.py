# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The windows_connection option of modules that also run Windows cmdlets (failover cluster,
    # services) on WinRM's Microsoft.PowerShell endpoint. Mirrored by WINDOWS_CONNECTION_SPEC in
    # plugins/module_utils/windows.py: change both together.
    DOCUMENTATION = r"""
options:
  windows_connection:
    description:
      - Connection to the Windows PowerShell Remoting endpoint (WinRM) of the server acted on, for the
        Windows cmdlets (failover cluster nodes, services) that the Exchange endpoint does not have.
      - Each suboption left out is taken from the module's Exchange connection options (O(username),
        O(password), O(auth), O(ssl), O(validate_certs), O(ca_trust_path), the certificate, timeout, retry and
        proxy options, O(allow_unencrypted), O(message_encryption)), except the endpoint, which defaults to
        WinRM's on the server acted on (see O(windows_connection.server), O(windows_connection.port),
        O(windows_connection.path), O(windows_connection.configuration_name)).
      - When the whole option is omitted the module connects to C(https://<server FQDN>:5986/wsman) (or
        C(http://...:5985/wsman) with O(ssl=false)), configuration V(Microsoft.PowerShell), with the Exchange
        connection's credentials and TLS options.
      - The user needs local administrator rights on the server (cluster and service control); the Exchange
        RBAC roles do not apply to this endpoint.
      - The environment variables E(EXCHANGE_DR_*) of the Exchange connection are not read for these suboptions.
    type: dict
    suboptions:
      server:
        description:
          - Host name of the Windows endpoint.
          - Defaults to the fully qualified domain name of the Exchange server the module acts on, as Exchange
            reports it (C(Get-ExchangeServer) C(Fqdn)).
          - For Kerberos give the name the host's C(HTTP/) or C(WSMAN/) SPN is registered with.
        type: str
      port:
        description:
          - TCP port of the WinRM listener.
          - Defaults to V(5986) when HTTPS is used (O(windows_connection.ssl), else O(ssl)) and to V(5985) otherwise.
        type: int
      path:
        description:
          - URL path of the WSMan endpoint.
        type: str
        default: wsman
      configuration_name:
        description:
          - PowerShell session configuration with the Windows cmdlets (C(FailoverClusters), services).
        type: str
        default: Microsoft.PowerShell
      username:
        description:
          - User to authenticate as. Defaults to O(username).
        type: str
      password:
        description:
          - Password of O(windows_connection.username). Defaults to O(password).
        type: str
      auth:
        description:
          - Authentication protocol. Defaults to O(auth).
        type: str
        choices: [kerberos, negotiate, ntlm, credssp, basic, certificate]
      ssl:
        description:
          - Connect over HTTPS. Defaults to O(ssl).
        type: bool
      validate_certs:
        description:
          - Verify the endpoint's TLS certificate and host name. Defaults to O(validate_certs).
        type: bool
      ca_trust_path:
        description:
          - PEM bundle of the certificate authorities to trust. Defaults to O(ca_trust_path).
        type: path
      certificate_pem:
        description:
          - Client certificate (PEM) for certificate authentication. Defaults to O(certificate_pem).
        type: path
      certificate_key_pem:
        description:
          - Private key (PEM) of the client certificate. Defaults to O(certificate_key_pem).
        type: path
      allow_unencrypted:
        description:
          - Allow credentials and data to cross the network unencrypted. Defaults to O(allow_unencrypted).
        type: bool
      connection_timeout:
        description:
          - Seconds to wait for the TCP and TLS connection. Defaults to O(connection_timeout).
        type: int
      operation_timeout:
        description:
          - Seconds the endpoint may take to answer one WSMan operation. Defaults to O(operation_timeout).
        type: int
      reconnection_retries:
        description:
          - Number of times to retry a connection. Defaults to O(reconnection_retries).
        type: int
      reconnection_backoff:
        description:
          - Seconds before the first retry, doubling on each retry. Defaults to O(reconnection_backoff).
        type: float
      proxy:
        description:
          - HTTP proxy URL. Defaults to O(proxy).
        type: str
      no_proxy:
        description:
          - Ignore the controller's proxy environment variables. Defaults to O(no_proxy).
        type: bool
      message_encryption:
        description:
          - WinRM message encryption. Defaults to O(message_encryption).
        type: str
        choices: [auto, always, never]
notes:
  - >-
    Restarting a service is done as C(Stop-Service) then C(Start-Service): C(Restart-Service) is not among the
    cmdlets whose syntax the collection is checked against.
"""
