"""psrp.py: options, the pipeline it builds, error records and connection failures.

pypsrp's classes are replaced at the seam (``psrp.PowerShell``, ``psrp.RunspacePool``,
``psrp.WSMan``) with monkeypatch; nothing here opens a socket.
"""

from __future__ import annotations

import importlib.util
import re
import types
from pathlib import Path

import pytest
import requests
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

from ansible_collections.exchange.dr.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.exchange.dr.plugins.module_utils import convert, errors, psrp
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client, ConnectionFailure, ExchangeCommandError

REPO = Path(__file__).resolve().parents[4]
BASE = dict(server="ex01.contoso.com", username="CONTOSO\\administrator", password="secret")


# --------------------------------------------------------------------------- options
class TestArgumentSpec:
    def test_mirrors_the_doc_fragment(self):
        doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
        spec = psrp.connection_argument_spec()
        assert list(doc) == list(spec)
        for name, option in spec.items():
            documented = doc[name]
            assert documented["type"] == option["type"], name
            assert documented.get("default") == option.get("default"), name
            assert documented.get("required", False) == option.get("required", False), name
            assert [str(c) for c in documented.get("choices", [])] == option.get("choices", []), name
            assert option["fallback"][1] == ["EXCHANGE_DR_%s" % name.upper()], name
            assert "E(EXCHANGE_DR_%s)" % name.upper() in " ".join(documented["description"]), name
        assert spec["password"]["no_log"] is True

    def test_environment_fallbacks(self, monkeypatch):
        monkeypatch.setenv("EXCHANGE_DR_SERVER", "ex02.contoso.com")
        monkeypatch.setenv("EXCHANGE_DR_PORT", "8443")
        monkeypatch.setenv("EXCHANGE_DR_SSL", "false")
        monkeypatch.setenv("EXCHANGE_DR_AUTH", "ntlm")
        monkeypatch.setenv("EXCHANGE_DR_OPERATION_TIMEOUT", "50")
        monkeypatch.setenv("EXCHANGE_DR_PASSWORD", "from-env")
        with patch_module_args({"username": "CONTOSO\\viewer"}):
            module = AnsibleModule(argument_spec=psrp.connection_argument_spec())
        client = Client.from_module(module)
        assert (client.server, client.port, client.ssl, client.auth, client.read_timeout) == (
            "ex02.contoso.com", 8443, False, "ntlm", 60)
        assert "from-env" in module.no_log_values

    def test_is_a_copy(self):
        psrp.connection_argument_spec()["server"]["required"] = False
        assert psrp.CONNECTION_ARGSPEC["server"]["required"] is True

    def test_action_group_lists_every_module_with_the_fragment(self):
        runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
        group = runtime["action_groups"]["exchange"]
        using = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")
                       if "exchange.dr.connection" in p.read_text())
        assert sorted(group) == using
        assert len(group) == len(set(group))


class TestOptions:
    @pytest.mark.parametrize("kwargs, port, path, configuration", [
        ({}, 443, "PowerShell", "Microsoft.Exchange"),
        ({"ssl": False, "auth": "ntlm"}, 80, "PowerShell", "Microsoft.Exchange"),
        ({"configuration_name": "Microsoft.PowerShell"}, 5986, "wsman", "Microsoft.PowerShell"),
        ({"configuration_name": "Microsoft.PowerShell", "ssl": False}, 5985, "wsman", "Microsoft.PowerShell"),
        ({"exchange_version": "2007"}, 5986, "wsman", "Microsoft.PowerShell"),
        ({"port": 4443, "path": "/PowerShell/"}, 4443, "/PowerShell/", "Microsoft.Exchange"),
    ])
    def test_defaults_follow_the_endpoint(self, kwargs, port, path, configuration):
        client = Client(**{**BASE, **kwargs})
        assert (client.port, client.path, client.configuration_name) == (port, path, configuration)
        assert client._wsman_kwargs["path"] == path.strip("/")

    @pytest.mark.parametrize("args, expected", [
        ((None, None, None, True, "auto"), ("Microsoft.Exchange", "PowerShell", 443)),
        ((None, None, None, False, "2019"), ("Microsoft.Exchange", "PowerShell", 80)),
        ((None, None, None, True, "2007"), ("Microsoft.PowerShell", "wsman", 5986)),
        (("Microsoft.PowerShell", None, None, False, "auto"), ("Microsoft.PowerShell", "wsman", 5985)),
        (("Microsoft.Exchange", "wsman", None, True, "auto"), ("Microsoft.Exchange", "wsman", 5986)),
        ((None, None, 8443, True, "auto"), ("Microsoft.Exchange", "PowerShell", 8443)),
    ])
    def test_endpoint(self, args, expected):
        assert psrp.endpoint(*args) == expected

    def test_read_timeout_exceeds_operation_timeout(self):
        client = Client(**BASE, operation_timeout=45)
        assert client._wsman_kwargs["operation_timeout"] == 45
        assert client._wsman_kwargs["read_timeout"] == 55

    @pytest.mark.parametrize("validate, ca, expected", [(True, None, True), (True, "/ca.pem", "/ca.pem"),
                                                        (False, "/ca.pem", False)])
    def test_cert_validation(self, validate, ca, expected):
        client = Client(**BASE, validate_certs=validate, ca_trust_path=ca)
        assert client._wsman_kwargs["cert_validation"] == expected

    def test_basic_over_http_is_refused(self):
        with pytest.raises(ConnectionFailure, match=r"auth basic over plain HTTP .*ssl true.*allow_unencrypted"):
            Client(**BASE, auth="basic", ssl=False)

    def test_message_encryption_never_over_http_is_refused(self):
        with pytest.raises(ConnectionFailure, match="allow_unencrypted"):
            Client(**BASE, auth="ntlm", ssl=False, message_encryption="never")

    def test_allow_unencrypted(self):
        client = Client(**BASE, auth="basic", ssl=False, allow_unencrypted=True)
        assert client._wsman_kwargs["encryption"] == "never"
        assert client.port == 80

    def test_ntlm_over_http_encrypts(self):
        assert Client(**BASE, auth="ntlm", ssl=False)._wsman_kwargs["encryption"] == "auto"

    @pytest.mark.parametrize("kwargs, message", [
        ({"auth": "basic", "password": None}, "auth basic needs username and password"),
        ({"auth": "certificate"}, "certificate_pem and certificate_key_pem"),
        ({"auth": "certificate", "certificate_pem": "c", "certificate_key_pem": "k", "ssl": False,
          "allow_unencrypted": True}, "only over HTTPS"),
        ({"auth": "basic", "message_encryption": "always"}, "message_encryption always needs"),
        ({"exchange_version": "2007", "configuration_name": "Microsoft.Exchange"}, "Microsoft.PowerShell"),
        ({"operation_timeout": 0}, "at least 1 second"),
    ])
    def test_inconsistent_options(self, kwargs, message):
        with pytest.raises(ConnectionFailure, match=re.escape(message)):
            Client(**{**BASE, **kwargs})

    def test_certificate_auth_passes_the_files(self):
        client = Client(**BASE, auth="certificate", certificate_pem="c.pem", certificate_key_pem="k.pem")
        assert client._wsman_kwargs["certificate_pem"] == "c.pem"
        assert client._wsman_kwargs["certificate_key_pem"] == "k.pem"

    @pytest.mark.parametrize("auth, extra", [("kerberos", "pypsrp[kerberos]"), ("credssp", "pypsrp[credssp]")])
    def test_missing_extras(self, monkeypatch, auth, extra):
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
        with pytest.raises(ConnectionFailure, match=re.escape("pip install " + extra)):
            Client(**BASE, auth=auth)

    def test_from_module_reads_params(self):
        params = {key: spec.get("default") for key, spec in psrp.CONNECTION_ARGSPEC.items()}
        params.update(BASE, port=4443)
        module = types.SimpleNamespace(params=params, fail_json=pytest.fail)
        client = Client.from_module(module)
        assert (client.server, client.port, client.auth) == ("ex01.contoso.com", 4443, "negotiate")

    def test_require_pypsrp(self, monkeypatch):
        monkeypatch.setattr(psrp, "HAS_PYPSRP", False)
        failures = []
        psrp.require_pypsrp(types.SimpleNamespace(fail_json=lambda **kw: failures.append(kw)))
        assert "pypsrp" in failures[0]["msg"]


# --------------------------------------------------------------------------- pipelines
class FakeRecord(types.SimpleNamespace):
    def __str__(self):
        return self.to_string


def exchange_error_record(message="The operation couldn't be performed because object 'DB99' couldn't be found.",
                          target="DB99"):
    return FakeRecord(
        exception=("<Obj RefId=\"1\" N=\"Exception\"><TN RefId=\"1\"><T>Microsoft.Exchange.Configuration.Tasks."
                   "ManagementObjectNotFoundException</T><T>System.Exception</T></TN><Props><S N=\"Message\">"
                   f"{message}</S></Props></Obj>"),
        fq_error=("[Server=EX01,RequestId=8eb5eae6-28dd-4d34-9a89-2c3a88cbc334,TimeStamp=11/25/2026 11:37:59 AM] "
                  "[FailureCategory=Cmdlet-ManagementObjectNotFoundException] 98B24F6D,"
                  "Microsoft.Exchange.Management.SystemConfigurationTasks.GetMailboxDatabase"),
        category=0, reason="ManagementObjectNotFoundException", target_name=target, target_object=target,
        details_message=None, invocation_name=None, to_string=message)


class FakePowerShell:
    """Stands in for pypsrp.powershell.PowerShell; the test sets what the next invoke returns."""

    script: list = []
    created: list = []

    def __init__(self, pool):
        self.pool = pool
        self.commands = []
        reply = self.script.pop(0) if self.script else {}
        self.output = reply.get("output", [])
        self.had_errors = reply.get("had_errors", False)
        self.raises = reply.get("raises")
        self.streams = types.SimpleNamespace(error=list(reply.get("errors", [])),
                                             warning=[types.SimpleNamespace(message=w) for w in reply.get("warnings", [])])
        self.closed = False
        FakePowerShell.created.append(self)

    def add_cmdlet(self, name):
        self.commands.append([name])
        return self

    def add_parameter(self, name, *value):
        self.commands[-1].append((name,) + value)
        return self

    def begin_invoke(self, input=None):  # pylint: disable=redefined-builtin
        self.input = input
        self.state = PSInvocationState.RUNNING
        if self.raises:
            raise self.raises
        self.pending, self.output = self.output, []

    def poll_invoke(self):
        """One receive: the next object of the scripted output (the pipeline ends with the last)."""
        if self.pending:
            self.output.append(self.pending.pop(0))
        if not self.pending:
            self.state = PSInvocationState.COMPLETED

    def close(self):
        self.closed = True


class FakePool:
    opened = 0

    def __init__(self, wsman, configuration_name):
        self.wsman = wsman
        self.configuration_name = configuration_name
        self.closed = False

    def open(self):
        FakePool.opened += 1

    def close(self):
        self.closed = True


@pytest.fixture
def fake_pypsrp(monkeypatch):
    FakePowerShell.script = []
    FakePowerShell.created = []
    FakePool.opened = 0
    monkeypatch.setattr(psrp, "PowerShell", FakePowerShell)
    monkeypatch.setattr(psrp, "RunspacePool", FakePool)
    monkeypatch.setattr(psrp, "WSMan", types.SimpleNamespace)
    return FakePowerShell


def selected(props):
    return types.SimpleNamespace(adapted_properties={}, extended_properties=props, to_string=None,
                                 types=["Selected.X", "System.Management.Automation.PSCustomObject"], property_sets=[])


class TestInvoke:
    def test_builds_typed_pipeline_with_select(self, fake_pypsrp):
        fake_pypsrp.script = [{"output": [selected({"Name": "DAG1", "Servers": ["EX01"]})]}]
        with Client(**BASE) as client:
            rows = client.invoke("Get-DatabaseAvailabilityGroup", {"Status": None, "Identity": "DAG1"},
                                 select=["Name", "Servers"])
            ps = fake_pypsrp.created[0]
            assert ps.commands == [["Get-DatabaseAvailabilityGroup", ("Status",), ("Identity", "DAG1")],
                                   ["Select-Object", ("Property", ["Name", "Servers"])]]
            assert rows == [{"Name": "DAG1", "Servers": ["EX01"]}]
            assert ps.closed
        assert FakePool.opened == 1

    def test_input_is_sent_as_pipeline_input_in_one_call(self, fake_pypsrp):
        fake_pypsrp.script = [{"output": [selected({"Identity": "EX01"}), selected({"Identity": "EX02"})]}]
        client = Client(**BASE)
        rows = client.invoke("Get-ServerComponentState", select=["Identity"], input=("EX01", "EX02"))
        ps = fake_pypsrp.created[0]
        assert ps.commands == [["Get-ServerComponentState"], ["Select-Object", ("Property", ["Identity"])]]
        assert ps.input == ["EX01", "EX02"]
        assert rows == [{"Identity": "EX01"}, {"Identity": "EX02"}]
        assert client.calls == [{"cmdlet": "Get-ServerComponentState", "parameters": {}, "select": ["Identity"],
                                 "input": ["EX01", "EX02"]}]

    def test_rows_are_converted_as_they_arrive_and_receive_failures_are_connection_failures(self, fake_pypsrp):
        fake_pypsrp.script = [{"output": [selected({"Name": "EX%02d" % i}) for i in range(3)]}]
        client = Client(**BASE)
        assert client.invoke("Get-ExchangeServer") == [{"Name": "EX00"}, {"Name": "EX01"}, {"Name": "EX02"}]

        def broken(_ps):
            raise requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected('closed'))")

        fake_pypsrp.script = [{"output": [selected({"Name": "EX00"}), selected({"Name": "EX01"})]}]
        original = FakePowerShell.poll_invoke
        FakePowerShell.poll_invoke = broken
        try:
            with pytest.raises(ConnectionFailure, match="closed the connection"):
                client.invoke("Get-ExchangeServer")
        finally:
            FakePowerShell.poll_invoke = original

    def test_empty_input_sends_nothing(self, fake_pypsrp):
        client = Client(**BASE)
        assert client.invoke("Get-ServerComponentState", input=[]) == []
        assert client.invoke("Get-ServerComponentState", input=[], errors="return") == ([], [])
        assert fake_pypsrp.created == [] and client.calls == []

    def test_open_opens_the_pool_once_without_a_cmdlet(self, fake_pypsrp):
        with Client(**BASE) as client:
            assert client.open() is client
            client.open()
            client.invoke("Get-ExchangeServer")
            assert FakePool.opened == 1
            assert [c["cmdlet"] for c in client.calls] == ["Get-ExchangeServer"]

    def test_open_failure_is_a_connection_failure(self, fake_pypsrp, monkeypatch):
        def refuse(pool):
            raise requests.exceptions.ConnectionError("[Errno 111] Connection refused")

        monkeypatch.setattr(FakePool, "open", refuse)
        with pytest.raises(ConnectionFailure, match=r"^nothing listens on ex01\.contoso\.com:443"):
            Client(**BASE).open()

    def test_one_pool_for_many_calls_and_closed_once(self, fake_pypsrp):
        client = Client(**BASE)
        client.invoke("Get-ExchangeServer")
        client.invoke("Get-MailboxServer")
        pool = client._pool
        assert FakePool.opened == 1 and pool.configuration_name == "Microsoft.Exchange"
        client.close()
        client.close()
        assert pool.closed and client._pool is None
        assert [c["cmdlet"] for c in client.calls] == ["Get-ExchangeServer", "Get-MailboxServer"]

    def test_wsman_gets_the_options(self, fake_pypsrp):
        client = Client(**BASE, port=4443, no_proxy=True)
        client.invoke("Get-ExchangeServer")
        wsman = client._pool.wsman
        assert (wsman.server, wsman.port, wsman.path, wsman.auth, wsman.no_proxy) == (
            "ex01.contoso.com", 4443, "PowerShell", "negotiate", True)

    def test_exchange_2007_adds_the_snapin_once(self, fake_pypsrp):
        client = Client(**BASE, exchange_version="2007")
        client.invoke("Get-StorageGroupCopyStatus")
        client.invoke("Get-ClusteredMailboxServerStatus")
        assert [c["cmdlet"] for c in client.calls] == [
            "Add-PSSnapin", "Get-StorageGroupCopyStatus", "Get-ClusteredMailboxServerStatus"]
        assert fake_pypsrp.created[0].commands == [["Add-PSSnapin", ("Name", psrp.EXCHANGE_2007_SNAPIN)]]
        assert client._pool.configuration_name == "Microsoft.PowerShell"

    def test_error_record_raises_one_exception(self, fake_pypsrp):
        fake_pypsrp.script = [{"errors": [exchange_error_record(), exchange_error_record(target="DB98")]}]
        with pytest.raises(ExchangeCommandError) as caught:
            Client(**BASE).invoke("Get-MailboxDatabase", {"Identity": "DB99"})
        err = caught.value
        assert (err.cmdlet, err.error_id, err.category, err.target) == (
            "Get-MailboxDatabase", "ManagementObjectNotFoundException", "NotSpecified", "DB99")
        assert err.exception_type == "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
        assert "couldn't be found" in err.message
        assert len(err.records) == 2
        assert "check the identity" in str(err)

    def test_errors_return_gives_non_terminating_errors_back(self, fake_pypsrp):
        fake_pypsrp.script = [{"output": [selected({"Name": "EX01"})], "errors": [exchange_error_record()]}]
        rows, errs = Client(**BASE).invoke("Get-ServerComponentState", {"Identity": "EX01"}, errors="return")
        assert rows == [{"Name": "EX01"}]
        assert [e.error_id for e in errs] == ["ManagementObjectNotFoundException"]

    def test_terminating_error_raises_even_with_errors_return(self, fake_pypsrp):
        fake_pypsrp.script = [{"errors": [exchange_error_record()], "had_errors": True}]
        with pytest.raises(ExchangeCommandError):
            Client(**BASE).invoke("Get-MailboxDatabase", errors="return")

    def test_failed_pipeline_without_record(self, fake_pypsrp):
        fake_pypsrp.script = [{"had_errors": True}]
        with pytest.raises(ExchangeCommandError, match="PipelineFailed"):
            Client(**BASE).invoke("Get-MailboxDatabase")

    def test_bad_errors_argument(self, fake_pypsrp):
        with pytest.raises(ValueError):
            Client(**BASE).invoke("Get-MailboxDatabase", errors="ignore")

    def test_warnings_are_collected(self, fake_pypsrp):
        fake_pypsrp.script = [{"warnings": ["The witness server is not reachable."]}]
        client = Client(**BASE)
        client.invoke("Get-DatabaseAvailabilityGroup")
        assert client.warnings == ["Get-DatabaseAvailabilityGroup: The witness server is not reachable."]

    def test_secrets_are_masked_in_the_call_log(self, fake_pypsrp):
        client = Client(**BASE)
        client.invoke("Set-Something", {"Password": "p4ss", "Credential": "c", "Name": "x"})
        assert client.calls[0]["parameters"] == {"Password": "********", "Credential": "********", "Name": "x"}

    def test_transport_error_during_invoke_is_a_connection_failure(self, fake_pypsrp):
        fake_pypsrp.script = [{"raises": requests.exceptions.ReadTimeout("read timed out")}]
        with pytest.raises(ConnectionFailure, match=r"did not answer within 30 s \(operation_timeout \+ 10\)"):
            Client(**BASE).invoke("Get-MailboxDatabaseCopyStatus")

    def test_open_failure_is_a_connection_failure(self, fake_pypsrp, monkeypatch):
        def refuse(self):
            raise AuthenticationError("Failed to authenticate the user")
        monkeypatch.setattr(FakePool, "open", refuse)
        with pytest.raises(ConnectionFailure, match="401 from ex01.contoso.com:443"):
            Client(**BASE).invoke("Get-ExchangeServer")


# --------------------------------------------------------------------------- error ids
@pytest.mark.parametrize("fq_error, reason, expected", [
    ("NamedParameterNotFound,Get-MailboxDatabase", "ParameterBindingException", "NamedParameterNotFound"),
    ("CommandNotFoundException", "CommandNotFoundException", "CommandNotFoundException"),
    ("[Server=EX01,RequestId=1,TimeStamp=1/1/2026 1:00:00 AM] [FailureCategory=Cmdlet-ManagementObjectNotFoundException]"
     " 98B24F6D,Microsoft.Exchange.Management.X", None, "ManagementObjectNotFoundException"),
    ("[Server=EX01,RequestId=1] [FailureCategory=Cmdlet-Microsoft.Exchange.Cluster.Replay.AmDbActionException] 1,X",
     None, "AmDbActionException"),
    ("[Server=EX01,RequestId=1] 98B24F6D,Microsoft.Exchange.X", "TaskException", "TaskException"),
    ("[Server=EX01,RequestId=1] 98B24F6D,Microsoft.Exchange.X", None, "98B24F6D"),
    (None, "SomeException", "SomeException"),
])
def test_error_id(fq_error, reason, expected):
    assert errors.error_id(fq_error, reason) == expected


@pytest.mark.parametrize("category, expected", [
    (0, "NotSpecified"), (13, "ObjectNotFound"), (21, "ResourceUnavailable"), (22, "ReadError"), (31, "NotEnabled"),
    (99, "99"), (None, None),
])
def test_category_name(category, expected):
    assert errors.category_name(category) == expected


def test_command_error_from_record_with_parsed_exception_object():
    record = FakeRecord(exception=types.SimpleNamespace(
        adapted_properties={"Message": "A server-side failure."}, extended_properties={}, to_string=None,
        types=["Deserialized.Microsoft.Exchange.X.TaskException", "System.Exception", "System.Object"],
        property_sets=[]), fq_error="Oops,Move-ActiveMailboxDatabase", category=7, reason="TaskException",
        target_name="", target_object=None, details_message=None, invocation_name="Move-ActiveMailboxDatabase",
        to_string="x")
    err = Client._command_error("Move-ActiveMailboxDatabase", record)
    assert (err.message, err.error_id, err.category, err.target, err.exception_type) == (
        "A server-side failure.", "Oops", "InvalidOperation", None, "Microsoft.Exchange.X.TaskException")
    assert str(err) == ("Move-ActiveMailboxDatabase failed: A server-side failure. (error id Oops, "
                        "category InvalidOperation)")
    assert err.result()["error"]["fully_qualified_error_id"] == "Oops,Move-ActiveMailboxDatabase"


# --------------------------------------------------------------------------- connection failures
def ssl_error(text):
    return requests.exceptions.SSLError("HTTPSConnectionPool(host='ex01', port=443): Max retries exceeded "
                                        "(Caused by SSLError(%s))" % text)


@pytest.mark.parametrize("exc, expected", [
    (AuthenticationError("Failed to authenticate the user CONTOSO\\administrator with negotiate"),
     "401 from ex01.contoso.com:443 - check username/password; Kerberos needs a UPN user name (user@REALM)"),
    (WSManFaultError(2150858752, "dc01", "The WS-Management service cannot process the request. Cannot find the "
                     "Microsoft.Exchange session configuration in the WSMan: drive on the DC01 computer.", None, None, None),
     "use https://<server>/PowerShell with configuration Microsoft.Exchange on an Exchange 2010+ server"),
    (WSManFaultError(2150858752, "ex01", "The resource URI http://schemas.microsoft.com/powershell/Foo was not "
                     "found in the WS-Management catalog.", None, None, None), "has no Microsoft.Exchange session"),
    (WSManFaultError(2150858843, "ex01", "The request for the Windows Remote Shell with ShellId X failed because "
                     "the shell was not found on the server.", None, None, None), "WSMan fault from ex01.contoso.com:443"),
    (WinRMTransportError("http", 404, ""), "HTTP 404 from ex01.contoso.com:443: no endpoint at /PowerShell"),
    (WinRMTransportError("http", 503, "Service Unavailable"), "HTTP 503 from ex01.contoso.com:443: Service Unavailable"),
    (ssl_error("SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
               "self-signed certificate in certificate chain (_ssl.c:1006)')"),
     "the TLS certificate of ex01.contoso.com:443 is not trusted (certificate verify failed: self-signed certificate "
     "in certificate chain) - set ca_trust_path to the CA bundle that issued it, or validate_certs false for a lab"),
    (ssl_error("'[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)'"),
     "does not speak TLS - it looks like an HTTP port: set ssl false"),
    (ssl_error("'[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred'"), "TLS with ex01.contoso.com:443 failed"),
    (requests.exceptions.ConnectTimeout("timed out"), "no answer from ex01.contoso.com:443 within connection_timeout 30 s"),
    (requests.exceptions.ProxyError("Cannot connect to proxy."), "check proxy/no_proxy"),
    (requests.exceptions.ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused"),
     "nothing listens on ex01.contoso.com:443 (connection refused)"),
    (requests.exceptions.ConnectionError("NameResolutionError: Failed to resolve 'ex01.contoso.com' "
                                         "([Errno -2] Name or service not known)"),
     "cannot resolve the server name ex01.contoso.com"),
    (requests.exceptions.ConnectionError("('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"),
     "closed the connection"),
    (requests.exceptions.ConnectionError("something else"), "cannot connect to ex01.contoso.com:443: something else"),
    (ImportError("Cannot use CredSSP auth as requests-credssp is not installed"), "pip install pypsrp[credssp]"),
    (ImportError("GSSAPIProxy requires the Python gssapi library"), "pip install pypsrp[kerberos]"),
    (RuntimeError("boom"), "cannot use the PowerShell session on ex01.contoso.com:443: RuntimeError: boom"),
])
def test_connection_failure_messages(exc, expected):
    failure = Client(**BASE)._connection_failure(exc)
    assert isinstance(failure, ConnectionFailure)
    assert expected in str(failure)
    assert "\n" not in str(failure)
    assert "secret" not in str(failure)
    assert failure.result() == {"connection": {"server": "ex01.contoso.com", "port": 443}}


def test_spnego_failure_names_kinit():
    spnego_error = type("NoCredentialError", (Exception,), {"__module__": "spnego.exceptions"})
    failure = Client(**BASE)._connection_failure(spnego_error("No Kerberos credentials available"))
    assert "run kinit" in str(failure)


# --------------------------------------------------------------------------- output deserialisation
SELECTED_DB = (
    '<Obj RefId="0"><TN RefId="0"><T>Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.MailboxDatabase</T>'
    '<T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS>'
    '<S N="Name">DB_x0030_2 _xD83D__xDE00_</S><G N="Guid">0297EB96-4B97-5006-A9B9-1C9DFAEC3660</G>'
    '<Obj RefId="1" N="Servers"><TN RefId="1"><T>Microsoft.Exchange.Data.MultiValuedProperty`1[[System.String]]</T>'
    '<T>Microsoft.Exchange.Data.MultiValuedPropertyBase</T></TN><LST><S>EX09</S><S>EX10</S></LST></Obj>'
    '<Obj RefId="2" N="ActivationPreference"><TN RefId="2"><T>System.Collections.ArrayList</T><T>System.Object</T></TN>'
    '<LST><Obj RefId="3"><TN RefId="3"><T>System.Collections.Generic.KeyValuePair`2[[ADObjectId],[System.Int32]]</T>'
    '<T>System.ValueType</T><T>System.Object</T></TN><Props><S N="Key">EX09</S><I32 N="Value">1</I32></Props>'
    '<ToString>[EX09, 1]</ToString></Obj><Obj RefId="4"><TNRef RefId="3" /><Props><S N="Key">EX10</S>'
    '<I32 N="Value">2</I32></Props><ToString>[EX10, 2]</ToString></Obj></LST></Obj>'
    '<Obj RefId="5" N="Status"><TN RefId="4"><T>Some.CopyStatus</T><T>System.Enum</T><T>System.ValueType</T>'
    '<T>System.Object</T></TN><ToString>Healthy</ToString><I32>1</I32></Obj>'
    '<Obj RefId="6" N="Hash"><TN RefId="5"><T>System.Collections.Hashtable</T><T>System.Object</T></TN>'
    '<DCT><En><S N="Key">a</S><I64 N="Value">5000000000</I64></En></DCT></Obj>'
    '<Ref N="Again" RefId="1" /><Nil N="LastFullBackup" /><B N="Mounted">true</B><DT N="When">2026-03-14T10:02:11Z</DT>'
    '<TS N="Lag">P7D</TS><Db N="Ratio">0.5</Db><S N="Empty"></S></MS></Obj>')


def test_output_serializer_gives_the_rows_pypsrp_gives():
    from pypsrp.serializer import Serializer

    expected = convert.row(Serializer().deserialize(SELECTED_DB))
    fast = psrp.OutputSerializer().deserialize(SELECTED_DB)
    assert convert.row(fast) == {**expected, "Servers": ["EX09", "EX10"], "Again": ["EX09", "EX10"]}
    # pypsrp leaves a MultiValuedProperty whose types it does not know as its CLIXML text
    assert expected["Servers"].startswith("<Obj") and expected["Again"] is expected["Servers"]
    assert fast.extended_properties["Name"] == "DB02 \U0001F600"
    assert convert.row(fast)["Hash"] == {"a": 5000000000} and convert.row(fast)["Status"] == "Healthy"


def test_output_serializer_reads_pipeline_output_messages_only():
    from pypsrp.complex_objects import ObjectMeta
    from pypsrp.messages import Message, MessageType

    rpid, pid = b"\x01" * 16, b"\x02" * 16
    data = (b"\x02\x00\x00\x00" + MessageType.PIPELINE_OUTPUT.to_bytes(4, "little") + rpid + pid
            + b"\xef\xbb\xbf" + SELECTED_DB.encode())
    message = Message.unpack(data, psrp.OutputSerializer())
    assert convert.row(message.data.data)["Servers"] == ["EX09", "EX10"]
    serializer = psrp.OutputSerializer()
    assert serializer.deserialize("<S>x</S>", ObjectMeta("S")) == "x"  # with metadata: pypsrp's own path
    assert serializer.deserialize("not xml") == "not xml"


def test_a_new_pool_gets_the_output_serializer():
    from pypsrp.powershell import RunspacePool
    from pypsrp.wsman import WSMan

    pool = RunspacePool(WSMan("ex01.contoso.com", username="u", password="p", auth="basic", ssl=True))
    psrp._use_output_serializer(pool)
    assert isinstance(pool._serializer, psrp.OutputSerializer)
    assert pool._fragmenter.serializer is pool._serializer
    psrp._use_output_serializer(FakePool(None, "Microsoft.Exchange"))  # not a pypsrp pool: left alone
