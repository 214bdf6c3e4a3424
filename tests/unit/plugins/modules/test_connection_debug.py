"""connection_debug: every probe reports instead of failing; no secret in the result."""

from __future__ import annotations

import json
import socket
import sys
import types

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange.dr.plugins.module_utils.errors import ConnectionFailure
from ansible_collections.exchange.dr.plugins.modules import connection_debug

PASSWORD = "S3cret-for-the-test"


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            connection_debug.main()
    return json.loads(capsys.readouterr().out)


# ----------------------------------------------------------------------------- probes
def test_packages_report_versions_or_null():
    found = connection_debug.packages()
    assert set(found) == {"python", *connection_debug.PACKAGES}
    assert found["pypsrp"] and found["pyspnego"] and found["requests"]
    assert found["python"].count(".") == 2


@pytest.fixture
def no_kerberos(monkeypatch):
    monkeypatch.setitem(sys.modules, "krb5", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "gssapi", None)


def test_kerberos_not_installed(no_kerberos, monkeypatch):
    monkeypatch.setenv("KRB5CCNAME", "FILE:/tmp/krb5cc_test")
    found = connection_debug.kerberos()
    assert found["available"] is False
    assert found["message"] == "not installed: pip install pypsrp[kerberos]"
    assert found["ccache"] == "FILE:/tmp/krb5cc_test"


class FakePrincipal:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name


class FakeCache:
    principal = FakePrincipal("administrator@CONTOSO.COM")

    def __str__(self):
        return "FILE:/tmp/krb5cc_1000"

    def __iter__(self):
        return iter([types.SimpleNamespace(client=self.principal, server=FakePrincipal("krbtgt/CONTOSO.COM@CONTOSO.COM"))])


def test_kerberos_through_krb5(monkeypatch):
    fake = types.SimpleNamespace(init_context=lambda: "ctx", get_default_realm=lambda ctx: b"CONTOSO.COM",
                                 cc_default=lambda ctx: FakeCache())
    monkeypatch.setitem(sys.modules, "krb5", fake)
    monkeypatch.setitem(sys.modules, "gssapi", None)
    found = connection_debug.kerberos()
    assert found["available"] is True and found["error"] is None
    assert (found["default_realm"], found["ccache"], found["principal"]) == (
        "CONTOSO.COM", "FILE:/tmp/krb5cc_1000", "administrator@CONTOSO.COM")
    assert found["tickets"] == [{"client": "administrator@CONTOSO.COM", "server": "krbtgt/CONTOSO.COM@CONTOSO.COM"}]
    assert found["message"] == "ticket cache holds administrator@CONTOSO.COM"


def test_kerberos_through_gssapi_with_an_empty_cache(monkeypatch):
    def credentials(usage):
        raise RuntimeError("Major (851968): Unspecified GSS failure.\n Minor (2529639053): No Kerberos credentials available")

    monkeypatch.setitem(sys.modules, "krb5", None)
    monkeypatch.setitem(sys.modules, "gssapi", types.SimpleNamespace(Credentials=credentials))
    found = connection_debug.kerberos()
    assert found["available"] is True
    assert found["error"] == ("Major (851968): Unspecified GSS failure. Minor (2529639053): No Kerberos credentials "
                              "available")
    assert found["message"].startswith("no Kerberos ticket in the cache: run kinit")


def test_kerberos_through_gssapi(monkeypatch):
    monkeypatch.setitem(sys.modules, "krb5", None)
    monkeypatch.setitem(sys.modules, "gssapi", types.SimpleNamespace(
        Credentials=lambda usage: types.SimpleNamespace(name="viewer@CONTOSO.COM", lifetime=3600)))
    found = connection_debug.kerberos()
    assert (found["principal"], found["lifetime"]) == ("viewer@CONTOSO.COM", 3600)


def test_resolve(monkeypatch):
    def getaddrinfo(host, port, type=0, flags=0):  # pylint: disable=redefined-builtin
        if host == "ex01.contoso.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "ex01.contoso.com", ("10.1.1.11", port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.1.11", port))]
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(connection_debug.socket, "getaddrinfo", getaddrinfo)
    assert connection_debug.resolve("ex01.contoso.com", 443) == {
        "resolved": True, "canonical_name": "ex01.contoso.com", "addresses": ["10.1.1.11"], "error": None}
    missing = connection_debug.resolve("ex99.contoso.com", 443)
    assert missing["resolved"] is False
    assert missing["error"] == "cannot resolve ex99.contoso.com: [Errno -2] Name or service not known"


def test_tcp_reachable_and_refused():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        found = connection_debug.tcp("127.0.0.1", port, 5)
        assert found["reachable"] is True and found["error"] is None and found["elapsed"] >= 0
    refused = connection_debug.tcp("127.0.0.1", port, 5)
    assert refused["reachable"] is False and "Connection refused" in refused["error"]


def test_tcp_timeout(monkeypatch):
    def create_connection(address, timeout):
        raise socket.timeout("timed out")

    monkeypatch.setattr(connection_debug.socket, "create_connection", create_connection)
    found = connection_debug.tcp("10.9.9.9", 443, 3)
    assert found["error"] == "no answer from 10.9.9.9:443 within 3 s (filtered by a firewall?)"


class FakeClient:
    opened = []
    failure = None

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        if kwargs["auth"] == "kerberos" and FakeClient.failure == "options":
            raise ConnectionFailure("auth kerberos needs the Kerberos extras on the controller: "
                                    "pip install pypsrp[kerberos]")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def open(self):
        if FakeClient.failure == "open":
            raise ConnectionFailure("401 from ex01.contoso.com:443 - check username/password; auth was negotiate")
        FakeClient.opened.append(self.kwargs)
        return self


@pytest.fixture
def fake_client(monkeypatch):
    FakeClient.opened, FakeClient.failure = [], None
    monkeypatch.setattr(connection_debug, "Client", FakeClient)
    return FakeClient


def params(**changes):
    base = {key: spec.get("default") for key, spec in connection_debug.CONNECTION_ARGSPEC.items()}
    base.update(server="ex01.contoso.com", username="CONTOSO\\administrator", password=PASSWORD)
    base.update(changes)
    return base


def test_session_opened(fake_client):
    found = connection_debug.session(params())
    assert found["opened"] is True and found["error"] is None
    assert fake_client.opened[0]["password"] == PASSWORD


@pytest.mark.parametrize("failure, auth", [("open", "negotiate"), ("options", "kerberos")])
def test_session_failure_is_reported(fake_client, failure, auth):
    fake_client.failure = failure
    found = connection_debug.session(params(auth=auth))
    assert found["opened"] is False
    assert found["error"] and "\n" not in found["error"]


def test_session_without_pypsrp(monkeypatch):
    monkeypatch.setattr(connection_debug, "HAS_PYPSRP", False)
    assert connection_debug.session(params())["error"] == "pypsrp is not installed on the controller: pip install pypsrp"


# ------------------------------------------------------------------------------ hints
NOT_KERBEROS = {"available": False, "principal": None}
RESOLVED = {"resolved": True}
REACHABLE = {"reachable": True, "port": 443}
OPENED = {"error": None}


@pytest.mark.parametrize("changes, krb, dns, tcp, opened, expected", [
    ({}, NOT_KERBEROS, RESOLVED, REACHABLE, OPENED, []),
    ({"server": "10.1.1.11", "auth": "kerberos", "username": "admin@CONTOSO.COM"}, {"available": True, "principal": None},
     RESOLVED, REACHABLE, OPENED,
     ["Kerberos needs the server's host name (its SPN), not an IP address: use the FQDN in server"]),
    ({"server": "10.1.1.11"}, NOT_KERBEROS, RESOLVED, REACHABLE, OPENED,
     ["Kerberos needs the server's host name (its SPN), not an IP address: use the FQDN in server (negotiate falls "
      "back to NTLM)"]),
    ({"auth": "kerberos", "username": None, "password": None}, NOT_KERBEROS, RESOLVED, REACHABLE, OPENED,
     ["auth kerberos needs the Kerberos extras on the controller: pip install pypsrp[kerberos]"]),
    ({"auth": "kerberos"}, {"available": True, "principal": None}, RESOLVED, REACHABLE, OPENED,
     ["Kerberos needs the user name as a UPN with the realm in upper case (user@CONTOSO.COM), not DOMAIN\\user"]),
    ({"auth": "kerberos", "username": None}, {"available": True, "principal": None}, RESOLVED, REACHABLE, OPENED,
     ["no username and no ticket in the Kerberos cache: run kinit user@REALM first"]),
    ({}, NOT_KERBEROS, {"resolved": False}, {"reachable": False, "port": 443}, OPENED,
     ["the server name does not resolve from the controller: check server and the DNS settings"]),
    ({}, NOT_KERBEROS, RESOLVED, {"reachable": False, "port": 5986}, OPENED,
     ["port 5986 does not accept connections: Exchange 2010+ listens on 443/80 (/PowerShell), WinRM on 5986/5985 "
      "(/wsman)"]),
    ({"proxy": "http://proxy:8080"}, NOT_KERBEROS, RESOLVED, {"reachable": False, "port": 443}, OPENED, []),
    ({"validate_certs": False}, NOT_KERBEROS, RESOLVED, REACHABLE, OPENED,
     ["certificate validation is off (validate_certs false): set ca_trust_path instead outside a lab"]),
    ({}, NOT_KERBEROS, RESOLVED, REACHABLE, {"error": "401 from ex01.contoso.com:443 - check username/password"},
     ["with DOMAIN\\user negotiate uses NTLM; check that NTLM is allowed on the server or use kerberos with "
      "user@REALM"]),
])
def test_hints(changes, krb, dns, tcp, opened, expected):
    assert connection_debug.hints(params(**changes), krb, dns, tcp, opened) == expected


# ------------------------------------------------------------------------------- main
def test_main_reports_everything_and_never_fails(capsys, fake_client, no_kerberos, monkeypatch):
    monkeypatch.setattr(connection_debug, "resolve", lambda server, port: {
        "resolved": True, "canonical_name": server, "addresses": ["10.1.1.11"], "error": None})
    monkeypatch.setattr(connection_debug, "tcp", lambda server, port, timeout: {
        "reachable": False, "port": port, "elapsed": 0.01, "error": "%s:%s: refused" % (server, port)})
    fake_client.failure = "open"
    result = run_module(capsys, {"server": "ex01.contoso.com", "username": "CONTOSO\\administrator",
                                 "password": PASSWORD, "ssl": False, "auth": "ntlm"})
    assert result.get("failed") is not True and result["changed"] is False
    assert result["ok"] is False
    assert result["endpoint"] == {"url": "http://ex01.contoso.com:80/PowerShell", "configuration_name":
                                  "Microsoft.Exchange", "auth": "ntlm", "username": "CONTOSO\\administrator"}
    assert result["session"]["error"].startswith("401 from ex01.contoso.com:443")
    assert result["tcp"]["error"] == "ex01.contoso.com:80: refused"
    assert result["kerberos"]["message"] == "not installed: pip install pypsrp[kerberos]"
    assert PASSWORD not in json.dumps(result)


def test_main_skips_tcp_when_dns_fails(capsys, fake_client, no_kerberos, monkeypatch):
    monkeypatch.setattr(connection_debug, "resolve", lambda server, port: {
        "resolved": False, "canonical_name": None, "addresses": [], "error": "cannot resolve %s: nope" % server})
    result = run_module(capsys, {"server": "ex99.contoso.com", "exchange_version": "2007", "ssl": True,
                                 "password": PASSWORD, "username": "u"})
    assert result["endpoint"]["url"] == "https://ex99.contoso.com:5986/wsman"
    assert result["tcp"] == {"reachable": False, "port": 5986, "elapsed": None,
                             "error": "not tried: the server name does not resolve"}
    assert result["ok"] is True  # the fake session opens; the report is still complete
    assert PASSWORD not in json.dumps(result)


def test_main_fails_on_bad_option(capsys):
    result = run_module(capsys, {"server": "ex01", "auth": "digest"})
    assert result["failed"] is True
    assert "value of auth must be one of: kerberos, negotiate, ntlm, credssp, basic, certificate, got: digest" in \
        result["msg"]
