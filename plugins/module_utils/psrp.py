# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell Remoting sessions to Exchange: the only importer of pypsrp in exchange.dr.

Internal to exchange.dr: no stable API, for the collection's own modules only.

The connection options are documented once in ``plugins/doc_fragments/connection.py``;
``CONNECTION_ARGSPEC`` below mirrors that fragment: change both together.

Cmdlets are sent with typed parameters only (``add_cmdlet``/``add_parameter``, never script
text), so the restricted ``Microsoft.Exchange`` endpoint accepts them.

Pipeline output is read by ``convert.parse_clixml`` instead of pypsrp's generic
deserialiser (:class:`OutputSerializer`): pypsrp re-serialises every nested element to text
while it reads an object, which made most of the controller's time on large reads.  The
values are the same kinds (see ``convert``); every other message is pypsrp's.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import traceback
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.exchange.dr.plugins.module_utils import convert
from ansible_collections.exchange.dr.plugins.module_utils.errors import (
    ConnectionFailure,
    ExchangeCommandError,
    ExchangeError,
    category_name,
    error_id,
)

try:
    import requests
    from pypsrp.complex_objects import PSInvocationState
    from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.serializer import Serializer
    from pypsrp.wsman import WSMan
except ImportError:
    HAS_PYPSRP = False
    PYPSRP_IMPORT_ERROR = traceback.format_exc()
    Serializer = object  # pylint: disable=invalid-name
else:
    HAS_PYPSRP = True
    PYPSRP_IMPORT_ERROR = None

__all__ = ["CONNECTION_ARGSPEC", "Client", "ConnectionFailure", "ExchangeCommandError", "ExchangeError",
           "connection_argument_spec", "endpoint", "require_pypsrp"]

EXCHANGE_CONFIGURATION = "Microsoft.Exchange"
POWERSHELL_CONFIGURATION = "Microsoft.PowerShell"
EXCHANGE_2007_SNAPIN = "Microsoft.Exchange.Management.PowerShell.Admin"
READ_TIMEOUT_MARGIN = 10  # pypsrp read_timeout = operation_timeout + this: a WSMan Receive must end first


def _env(option: str) -> tuple:
    return (env_fallback, ["EXCHANGE_DR_%s" % option.upper()])


# Mirrors plugins/doc_fragments/connection.py (documentation of every option): keep in step.
CONNECTION_ARGSPEC = {
    "server": {"type": "str", "required": True, "fallback": _env("server")},
    "port": {"type": "int", "fallback": _env("port")},
    "path": {"type": "str", "fallback": _env("path")},
    "configuration_name": {"type": "str", "fallback": _env("configuration_name")},
    "username": {"type": "str", "fallback": _env("username")},
    "password": {"type": "str", "no_log": True, "fallback": _env("password")},
    "auth": {"type": "str", "default": "negotiate", "fallback": _env("auth"),
             "choices": ["kerberos", "negotiate", "ntlm", "credssp", "basic", "certificate"]},
    "ssl": {"type": "bool", "default": True, "fallback": _env("ssl")},
    "validate_certs": {"type": "bool", "default": True, "fallback": _env("validate_certs")},
    "ca_trust_path": {"type": "path", "fallback": _env("ca_trust_path")},
    "certificate_pem": {"type": "path", "fallback": _env("certificate_pem")},
    "certificate_key_pem": {"type": "path", "no_log": False, "fallback": _env("certificate_key_pem")},
    "allow_unencrypted": {"type": "bool", "default": False, "fallback": _env("allow_unencrypted")},
    "connection_timeout": {"type": "int", "default": 30, "fallback": _env("connection_timeout")},
    "operation_timeout": {"type": "int", "default": 20, "fallback": _env("operation_timeout")},
    "reconnection_retries": {"type": "int", "default": 0, "fallback": _env("reconnection_retries")},
    "reconnection_backoff": {"type": "float", "default": 2.0, "fallback": _env("reconnection_backoff")},
    "proxy": {"type": "str", "fallback": _env("proxy")},
    "no_proxy": {"type": "bool", "default": False, "fallback": _env("no_proxy")},
    "message_encryption": {"type": "str", "default": "auto", "choices": ["auto", "always", "never"],
                           "fallback": _env("message_encryption")},
    "exchange_version": {"type": "str", "default": "auto", "fallback": _env("exchange_version"),
                         "choices": ["auto", "2007", "2010", "2013", "2016", "2019"]},
}


def connection_argument_spec() -> dict:
    """A copy of ``CONNECTION_ARGSPEC`` for a module's ``argument_spec``."""
    return copy.deepcopy(CONNECTION_ARGSPEC)


def endpoint(configuration_name: str | None, path: str | None, port: int | None, ssl: bool = True,
             exchange_version: str = "auto") -> tuple:
    """The (configuration_name, path, port) a session uses, defaults filled in as the connection
    options document them (Microsoft.Exchange on /PowerShell 443/80, else /wsman 5986/5985)."""
    configuration_name = configuration_name or (
        POWERSHELL_CONFIGURATION if exchange_version == "2007" else EXCHANGE_CONFIGURATION)
    path = path or ("PowerShell" if configuration_name == EXCHANGE_CONFIGURATION else "wsman")
    if port is None:
        iis = path.strip("/").lower() == "powershell"
        port = (443 if ssl else 80) if iis else (5986 if ssl else 5985)
    return configuration_name, path, port


def require_pypsrp(module) -> None:
    if not HAS_PYPSRP:
        module.fail_json(msg=missing_required_lib("pypsrp"), exception=PYPSRP_IMPORT_ERROR)


class OutputSerializer(Serializer):  # type: ignore[misc,valid-type]
    """pypsrp's serializer, except for pipeline output objects: those (the only messages pypsrp
    deserialises without metadata from a string) are read by ``convert.parse_clixml``.

    pypsrp 0.9.1 calls ``ET.tostring`` on every nested element it deserialises (to keep a text
    fallback); for 1,600 copy-status objects that is most of the module's time.  A message
    with a SecureString (which needs the session key) still goes through pypsrp.
    """

    def deserialize(self, element, metadata=None, clear=True):
        if metadata is None and clear and isinstance(element, str) and "<SS" not in element:
            try:
                return convert.parse_clixml(element)
            except ET.ParseError:  # as pypsrp does: data that is not XML is returned as text
                return element
        return super().deserialize(element, metadata, clear)


def _use_output_serializer(pool) -> None:
    """Give a new (not yet opened) RunspacePool an :class:`OutputSerializer`: the pool's
    fragmenter and the pool itself share one serializer (the session key is set on it)."""
    fragmenter = getattr(pool, "_fragmenter", None)
    if HAS_PYPSRP and isinstance(getattr(pool, "_serializer", None), Serializer) and fragmenter is not None:
        serializer = OutputSerializer()
        pool._serializer = serializer  # pylint: disable=protected-access
        fragmenter.serializer = serializer


class Client:
    """One PowerShell Remoting session (a RunspacePool, opened lazily) per module run.

    Keyword arguments are the connection options.  ``warnings`` collects the cmdlets' warning
    records (for ``module.warn``); ``calls`` logs every cmdlet sent, secrets masked.
    """

    def __init__(self, server: str, port: int | None = None, path: str | None = None,
                 configuration_name: str | None = None, username: str | None = None,
                 password: str | None = None, auth: str = "negotiate", ssl: bool = True,
                 validate_certs: bool = True, ca_trust_path: str | None = None,
                 certificate_pem: str | None = None, certificate_key_pem: str | None = None,
                 allow_unencrypted: bool = False, connection_timeout: int = 30, operation_timeout: int = 20,
                 reconnection_retries: int = 0, reconnection_backoff: float = 2.0, proxy: str | None = None,
                 no_proxy: bool = False, message_encryption: str = "auto", exchange_version: str = "auto") -> None:
        self.server = server
        self.auth = auth
        self.ssl = ssl
        self.exchange_version = exchange_version
        self.configuration_name, self.path, self.port = endpoint(configuration_name, path, port, ssl, exchange_version)
        self.operation_timeout = operation_timeout
        self.read_timeout = operation_timeout + READ_TIMEOUT_MARGIN
        self.warnings: list[str] = []
        self.calls: list[dict] = []
        self._pool = None
        self._snapin_loaded = False
        encryption = self._check_options(username, password, certificate_pem, certificate_key_pem,
                                         allow_unencrypted, message_encryption, connection_timeout)
        self._wsman_kwargs = {
            "server": server, "port": self.port, "path": self.path.strip("/"), "ssl": ssl, "auth": auth,
            "username": username, "password": password, "encryption": encryption,
            "cert_validation": (ca_trust_path or True) if validate_certs else False,
            "connection_timeout": connection_timeout, "operation_timeout": operation_timeout,
            "read_timeout": self.read_timeout, "reconnection_retries": reconnection_retries,
            "reconnection_backoff": reconnection_backoff, "proxy": proxy, "no_proxy": no_proxy,
        }
        if auth == "certificate":
            self._wsman_kwargs.update(certificate_pem=certificate_pem, certificate_key_pem=certificate_key_pem)

    @classmethod
    def from_module(cls, module) -> "Client":
        """A client built from ``module.params`` (fails the module when pypsrp is missing)."""
        require_pypsrp(module)
        return cls(**{key: module.params.get(key) for key in CONNECTION_ARGSPEC})

    @property
    def where(self) -> str:
        return "%s:%s" % (self.server, self.port)

    def _fail(self, message: str) -> ConnectionFailure:
        return ConnectionFailure(message, server=self.server, port=self.port)

    def _check_options(self, username, password, certificate_pem, certificate_key_pem, allow_unencrypted,
                       message_encryption, connection_timeout) -> str:
        """Refuse inconsistent options before any traffic; returns pypsrp's ``encryption``."""
        if self.exchange_version == "2007" and self.configuration_name == EXCHANGE_CONFIGURATION:
            raise self._fail("exchange_version 2007 has no remote PowerShell endpoint: use configuration_name "
                             "Microsoft.PowerShell (WinRM, path wsman) on the Exchange 2007 server")
        if self.operation_timeout < 1 or connection_timeout < 1:
            raise self._fail("operation_timeout and connection_timeout must be at least 1 second")
        if self.auth in ("basic", "ntlm", "credssp") and not (username and password):
            raise self._fail("auth %s needs username and password" % self.auth)
        if self.auth == "certificate":
            if not (certificate_pem and certificate_key_pem):
                raise self._fail("auth certificate needs certificate_pem and certificate_key_pem")
            if not self.ssl:
                raise self._fail("auth certificate works only over HTTPS: set ssl true")
        wrapping = self.auth in ("negotiate", "ntlm", "kerberos", "credssp")
        if message_encryption == "always" and not wrapping:
            raise self._fail("message_encryption always needs auth negotiate, ntlm, kerberos or credssp "
                             "(auth %s cannot encrypt messages)" % self.auth)
        encryption = message_encryption
        if not self.ssl and (not wrapping or message_encryption == "never"):
            if not allow_unencrypted:
                raise self._fail("auth %s over plain HTTP (ssl false) would send credentials and data to %s "
                                 "unencrypted: use ssl true (HTTPS), or set allow_unencrypted true on a "
                                 "trusted lab network" % (self.auth, self.where))
            encryption = "never"
        if self.auth == "kerberos" and not (importlib.util.find_spec("gssapi") or importlib.util.find_spec("krb5")):
            raise self._fail("auth kerberos needs the Kerberos extras on the controller: pip install pypsrp[kerberos]")
        if self.auth == "credssp" and not importlib.util.find_spec("requests_credssp"):
            raise self._fail("auth credssp needs the CredSSP extras on the controller: pip install pypsrp[credssp]")
        return encryption

    # ------------------------------------------------------------------ session
    def _open(self):
        if self._pool is not None:
            return self._pool
        try:
            pool = RunspacePool(WSMan(**self._wsman_kwargs), configuration_name=self.configuration_name)
            _use_output_serializer(pool)
            pool.open()
        except Exception as exc:  # every failure to open becomes one clear line
            raise self._connection_failure(exc) from exc
        self._pool = pool
        if self.exchange_version == "2007" and not self._snapin_loaded:
            self.invoke("Add-PSSnapin", {"Name": EXCHANGE_2007_SNAPIN})
            self._snapin_loaded = True
        return pool

    def open(self) -> "Client":
        """Open the session now (it otherwise opens on the first :meth:`invoke`); raises
        :class:`ConnectionFailure` when it cannot."""
        self._open()
        return self

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                pool.close()
            except Exception:  # the session is gone either way; closing must not mask a result
                pass

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ------------------------------------------------------------------ commands
    def invoke(self, cmdlet: str, params: dict | None = None, select: list | None = None, errors: str = "raise",
               input: list | None = None):  # pylint: disable=redefined-builtin
        """Run ``cmdlet`` with typed ``params`` (a None value is a bare switch), optionally piped
        to ``Select-Object -Property <select>``; return its output as plain dicts.

        ``input`` (a list) is sent as pipeline input to the cmdlet, in the same round trip: a
        cmdlet whose parameter takes pipeline input (``Identity`` of most Get- cmdlets) runs
        once per object.  An empty list sends nothing and returns no rows.

        Output objects are converted as they arrive, while the server is still producing the
        next ones.

        Error records raise :class:`ExchangeCommandError` (the first one; all of them are in its
        ``records``).  With ``errors="return"`` non-terminating errors are returned instead:
        ``(rows, [ExchangeCommandError, ...])``; a terminating error still raises.
        """
        if errors not in ("raise", "return"):
            raise ValueError("errors must be 'raise' or 'return'")
        if input is not None:
            input = list(input)
            if not input:  # no object: the cmdlet would not run at all
                return ([], []) if errors == "return" else []
        pool = self._open()
        ps = PowerShell(pool)
        ps.add_cmdlet(cmdlet)
        for name, value in (params or {}).items():
            if value is None:
                ps.add_parameter(name)
            else:
                ps.add_parameter(name, value)
        if select:
            ps.add_cmdlet("Select-Object").add_parameter("Property", list(select))
        self._log(cmdlet, params, select, input)
        rows: list = []
        self._pipeline(ps, input, rows)
        try:
            ps.close()
        except Exception:  # the result is complete; a failed cleanup signal changes nothing
            pass
        self.warnings.extend("%s: %s" % (cmdlet, getattr(w, "message", None) or w) for w in ps.streams.warning)
        records = [self._command_error(cmdlet, record) for record in ps.streams.error]
        if records and (ps.had_errors or errors == "raise"):
            records[0].records = records
            raise records[0]
        if ps.had_errors:
            raise ExchangeCommandError(cmdlet, "PipelineFailed", None, None,
                                       "the pipeline failed without an error record", None)
        return (rows, records) if errors == "return" else rows

    def invoke_native(self, command: str, arguments: list) -> tuple:
        """Run the native program ``command`` (``Setup.com``, ``msiexec.exe``) with ``arguments``,
        each sent as one positional value of the command (``add_argument``): no script text is
        built or parsed, so no value can be read as PowerShell syntax.  Returns ``(lines,
        errors)``: the program's output (text lines) and its error records as
        :class:`ExchangeCommandError` (a program's stderr reaches a remote client as
        ``NativeCommandError`` records).  A failure of the session raises.

        Only ``Microsoft.PowerShell`` sessions run programs; every argument must be a string
        without line breaks or NUL characters (:class:`ValueError` otherwise)."""
        if self.configuration_name == EXCHANGE_CONFIGURATION:
            raise ValueError("native programs run only on the %s configuration" % POWERSHELL_CONFIGURATION)
        arguments = list(arguments)
        for argument in arguments:
            if not isinstance(argument, str) or any(ch in argument for ch in "\r\n\x00"):
                raise ValueError("native command arguments must be single-line strings, got %r" % (argument,))
        pool = self._open()
        ps = PowerShell(pool)
        ps.add_cmdlet(command)
        for argument in arguments:
            ps.add_argument(argument)
        self.calls.append({"cmdlet": command, "parameters": {}, "select": [], "arguments": list(arguments)})
        rows: list = []
        self._pipeline(ps, None, rows)
        try:
            ps.close()
        except Exception:  # the result is complete; a failed cleanup signal changes nothing
            pass
        self.warnings.extend("%s: %s" % (command, getattr(w, "message", None) or w) for w in ps.streams.warning)
        records = [self._command_error(command, record) for record in ps.streams.error]
        lines = [str(row["Value"]) if set(row) == {"Value"} else str(row) for row in rows]
        return lines, records

    def _pipeline(self, ps, input, rows: list) -> None:  # pylint: disable=redefined-builtin
        """Run ``ps`` to its end, appending its output to ``rows`` as plain dicts after every
        receive.  Failures of the session become :class:`ConnectionFailure`."""
        try:
            if input is not None:
                ps.begin_invoke(input=input)
            else:
                ps.begin_invoke()
        except Exception as exc:
            raise self._connection_failure(exc) from exc
        while True:
            rows.extend(convert.row(obj) for obj in ps.output[len(rows):])
            if ps.state != PSInvocationState.RUNNING:
                return
            try:
                ps.poll_invoke()
            except Exception as exc:
                raise self._connection_failure(exc) from exc

    def _log(self, cmdlet: str, params: dict | None, select: list | None, input: list | None = None) -> None:
        # pylint: disable=redefined-builtin
        masked = {}
        for name, value in (params or {}).items():
            secret = any(word in name.lower() for word in ("password", "credential", "secret"))
            masked[name] = "********" if secret and value is not None else value
        call = {"cmdlet": cmdlet, "parameters": masked, "select": list(select or [])}
        if input is not None:
            call["input"] = list(input)
        self.calls.append(call)

    @staticmethod
    def _command_error(cmdlet: str, record) -> ExchangeCommandError:
        exception = getattr(record, "exception", None)
        if isinstance(exception, str) and exception.lstrip().startswith("<Obj"):
            # pypsrp leaves an exception whose type chain it cannot map as its raw CLIXML
            exception = convert.parse_clixml(exception)
        props = convert.ps_properties(exception) if convert.is_psobject(exception) else {}
        message = getattr(record, "details_message", None) or props.get("Message") or str(record)
        types = convert.type_names(exception)
        target = getattr(record, "target_name", None) or convert.to_plain(getattr(record, "target_object", None))
        return ExchangeCommandError(
            getattr(record, "invocation_name", None) or cmdlet,
            error_id(getattr(record, "fq_error", None), getattr(record, "reason", None)),
            category_name(getattr(record, "category", None)),
            target if isinstance(target, str) and target else None,
            str(message),
            getattr(record, "fq_error", None),
            exception_type=types[0] if types else None,
        )

    # ------------------------------------------------------------------ failures
    def _connection_failure(self, exc: Exception) -> ConnectionFailure:
        if isinstance(exc, ConnectionFailure):
            return exc
        text = " ".join(str(exc).split())
        if isinstance(exc, AuthenticationError):
            return self._fail("401 from %s - check username/password; Kerberos needs a UPN user name "
                              "(user@REALM); auth was %s" % (self.where, self.auth))
        if isinstance(exc, WSManFaultError):
            reason = " ".join(str(exc.reason or exc).split())
            if "session configuration" in reason or "not found in the WS-Management catalog" in reason:
                return self._fail("%s has no %s session configuration (%s) - use https://<server>/PowerShell "
                                  "with configuration Microsoft.Exchange on an Exchange 2010+ server; Windows "
                                  "cmdlets and Exchange 2007 use Microsoft.PowerShell on /wsman"
                                  % (self.where, self.configuration_name, reason))
            return self._fail("WSMan fault from %s: %s" % (self.where, reason))
        if isinstance(exc, WinRMTransportError):
            if exc.code == 404:
                return self._fail("HTTP 404 from %s: no endpoint at /%s - Exchange 2010+ listens on /PowerShell "
                                  "(IIS, ports 443/80), WinRM on /wsman (5986/5985)" % (self.where, self.path))
            return self._fail("HTTP %s from %s: %s" % (exc.code, self.where, " ".join(str(exc.response_text).split())[:300]))
        if isinstance(exc, requests.exceptions.SSLError):
            if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
                detail = re.search(r"certificate verify failed:? ?([^(]*)", text)
                return self._fail("the TLS certificate of %s is not trusted (%s) - set ca_trust_path to the CA "
                                  "bundle that issued it, or validate_certs false for a lab"
                                  % (self.where, detail.group(0).strip() if detail else text))
            if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
                return self._fail("%s does not speak TLS - it looks like an HTTP port: set ssl false or use "
                                  "the HTTPS port" % self.where)
            return self._fail("TLS with %s failed (%s) - check ssl, validate_certs and ca_trust_path" % (self.where, text))
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return self._fail("no answer from %s within connection_timeout %s s - check server, port and "
                              "firewalls" % (self.where, self._wsman_kwargs["connection_timeout"]))
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return self._fail("%s did not answer within %s s (operation_timeout + %s) - raise operation_timeout "
                              "or check the server" % (self.where, self.read_timeout, READ_TIMEOUT_MARGIN))
        if isinstance(exc, requests.exceptions.ProxyError):
            return self._fail("the proxy refused the connection to %s (%s) - check proxy/no_proxy" % (self.where, text))
        if isinstance(exc, requests.exceptions.ConnectionError):
            if "refused" in text.lower():
                return self._fail("nothing listens on %s (connection refused) - check server, port and ssl" % self.where)
            if any(word in text for word in ("Name or service not known", "nodename nor servname", "getaddrinfo",
                                             "NameResolution", "Failed to resolve", "Temporary failure in name")):
                return self._fail("cannot resolve the server name %s - check server (DNS)" % self.server)
            if any(word in text for word in ("RemoteDisconnected", "Connection aborted", "reset by peer")):
                return self._fail("%s closed the connection (%s) - if it is an HTTPS port set ssl true"
                                  % (self.where, text))
            return self._fail("cannot connect to %s: %s" % (self.where, text))
        if isinstance(exc, ImportError):
            extra = "credssp" if "credssp" in text.lower() else "kerberos"
            return self._fail("auth %s is missing a library on the controller (%s): pip install pypsrp[%s]"
                              % (self.auth, text, extra))
        if isinstance(exc, WinRMError):
            return self._fail("PowerShell Remoting error with %s: %s" % (self.where, text))
        if type(exc).__module__.split(".")[0] == "spnego":
            return self._fail("%s authentication to %s failed on the controller: %s - for Kerberos run kinit or "
                              "give username (user@REALM) and password" % (self.auth, self.where, text))
        return self._fail("cannot use the PowerShell session on %s: %s: %s" % (self.where, type(exc).__name__, text))
