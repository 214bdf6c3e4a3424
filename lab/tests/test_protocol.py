"""WSMan/PSRP fidelity: what an unmodified pypsrp client sees from the lab."""

from __future__ import annotations

import ssl
import threading
import time
import urllib.request

import pytest
import requests
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool

from conftest import ADMIN, PASSWORD, VIEWER, pool, props, run, wsman


@pytest.mark.parametrize(
    "auth,user",
    [("basic", ADMIN), ("basic", "administrator@contoso.com"), ("ntlm", ADMIN), ("negotiate", "administrator@contoso.com")],
)
def test_auth_over_http(lab, auth, user):
    with pool(lab, auth=auth, user=user) as rp:
        res = run(rp, "Get-ExchangeServer", Identity="EX01")
    assert not res.failed and not res.errors
    assert [props(o)["Name"] for o in res.output] == ["EX01"]


def test_ntlm_bodies_are_encrypted(lab):
    """With NTLM over HTTP the client encrypts (pypsrp's default 'auto') and the lab answers encrypted."""
    w = wsman(lab, auth="ntlm")
    with RunspacePool(w, configuration_name="Microsoft.Exchange") as rp:
        assert run(rp, "Get-ExchangeServer", Identity="EX02").output
    assert w.transport.encryption is not None


def test_basic_over_https_validates_the_lab_ca(lab):
    with pool(lab, https=True) as rp:
        res = run(rp, "Get-DatabaseAvailabilityGroup")
    assert [props(o)["Name"] for o in res.output] == ["DAG1"]


def test_https_with_an_untrusted_ca_fails(lab):
    with pytest.raises(requests.exceptions.SSLError):
        with pool(lab, https=True, cert_validation=True):  # system CAs do not know the lab CA
            pass


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_wrong_password_is_401(lab, auth):
    with pytest.raises(AuthenticationError):
        with pool(lab, auth=auth, password="wrong"):
            pass


def test_script_text_is_refused_on_the_exchange_endpoint(lab):
    with pool(lab) as rp:
        ps = PowerShell(rp)
        ps.add_script("Get-MailboxDatabase | ForEach-Object { $_.Name }")
        ps.invoke()
        assert ps.had_errors
        err = ps.streams.error[0]
        assert err.fq_error == "ScriptsNotAllowed"
        assert err.category == 17
        assert "no-language mode" in str(err)
        assert err.reason == "ParseException"
        # the pool stays usable
        assert run(rp, "Get-ExchangeServer", Identity="EX03").output


def test_exchange_configuration_only_on_exchange_servers(lab):
    with pytest.raises(WSManFaultError) as exc:
        with pool(lab, host="DC01", configuration="Microsoft.Exchange"):
            pass
    assert "Microsoft.Exchange session configuration" in str(exc.value)


def test_unknown_cmdlet_is_not_recognized(lab):
    with pool(lab) as rp:
        res = run(rp, "Get-Frobnicator")
    assert res.failed
    assert res.error.fq_error == "CommandNotFoundException"
    assert "is not recognized as the name of a cmdlet" in str(res.error)


def test_viewer_has_no_set_cmdlets(lab):
    with pool(lab, user=VIEWER) as rp:
        assert run(rp, "Get-MailboxServer", Identity="EX01").output
        res = run(rp, "Set-MailboxServer", Identity="EX01", DatabaseCopyAutoActivationPolicy="Blocked")
    assert res.failed and res.error.fq_error == "CommandNotFoundException"


def test_pool_lifecycle_calls(lab):
    with pool(lab) as rp:
        assert rp.is_alive() if hasattr(rp, "is_alive") else True
        rp.max_runspaces = 4
        assert rp.get_available_runspaces() >= 1
        ps = PowerShell(rp)
        ps.add_cmdlet("Get-ExchangeServer")
        first = ps.invoke()
        ps.clear_streams() if hasattr(ps, "clear_streams") else None
        second = ps.invoke()  # same CommandId reused by pypsrp
        assert len(first) >= 4 and len(second) >= len(first)


def test_small_envelope_fragments_both_ways(lab):
    big = "x" * 120_000  # a large parameter value: CREATE_PIPELINE spans several Sends
    with pool(lab, max_envelope_size=32768) as rp:
        res = run(rp, "Get-MailboxDatabaseCopyStatus", Server="EX01")
        assert len(res.output) == 8
        res = run(rp, "Get-ExchangeServer", Identity=big)
        assert res.errors and "couldn't be found" in str(res.errors[0])


def test_concurrent_pools_do_not_block_each_other(lab):
    """A long pipeline in one pool never holds up another client's requests."""
    results = {}

    def slow():
        with pool(lab) as rp:
            t0 = time.monotonic()
            ps = PowerShell(rp)
            ps.add_cmdlet("Get-MailboxDatabaseCopyStatus").add_parameter("Server", "EX02")
            ps.invoke()
            results["slow"] = time.monotonic() - t0

    def quick():
        with pool(lab, host="EX03") as rp:
            t0 = time.monotonic()
            for _ in range(5):
                assert run(rp, "Get-ExchangeServer", Identity="EX03").output
            results["quick"] = time.monotonic() - t0

    threads = [threading.Thread(target=slow), threading.Thread(target=quick), threading.Thread(target=quick)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert "slow" in results and "quick" in results


def test_garbage_then_valid_request(lab):
    h = lab.host("EX01")
    url = f"http://127.0.0.1:{h['http_port']}/PowerShell"
    auth = (ADMIN, PASSWORD)
    for body, fragment in [
        (b"\x00\xffnot xml at all", b"SchemaValidationError"),
        (b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body/></s:Envelope>", b"SchemaValidationError"),
        (b"x" * (600 * 1024), b"EncodingLimit"),
    ]:
        r = requests.post(url, data=body, auth=auth, headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
        assert r.status_code == 500
        assert fragment in r.content
    unknown = (
        "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:a='http://schemas.xmlsoap.org/ws/2004/08/addressing'>"
        "<s:Header><a:Action>http://example.invalid/Frob</a:Action><a:MessageID>uuid:1</a:MessageID></s:Header><s:Body/></s:Envelope>"
    )
    r = requests.post(url, data=unknown, auth=auth)
    assert r.status_code == 500 and b"ActionNotSupported" in r.content and b"uuid:1" in r.content
    with pool(lab) as rp:
        assert run(rp, "Get-ExchangeServer", Identity="EX01").output


def test_receive_for_an_unknown_shell_is_invalid_selectors(lab):
    w = wsman(lab)
    from pypsrp.shell import WinRS  # noqa: F401  (pypsrp's own request builder)
    with pytest.raises(WSManFaultError) as exc:
        w.get("http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
              selector_set=_selectors("00000000-0000-0000-0000-000000000001"))
    assert exc.value.code == 2150858843


def _selectors(shell_id):
    from pypsrp.wsman import SelectorSet

    s = SelectorSet()
    s.add_option("ShellId", shell_id)
    return s


def test_config_get_reports_max_envelope(lab):
    w = wsman(lab)
    w.update_max_payload_size()
    assert w.max_envelope_size == 500 * 1024


def test_ntlm_keeps_working_while_a_second_lab_runs_and_stops(lab):
    """NTLM_USER_FILE is per process: labs in one process share one user file."""
    from exchange_lab import Lab

    with Lab("exchange2007-ccr-scr", speed=200.0) as other:
        with pool(other, host="CAS1", configuration="Microsoft.PowerShell", auth="ntlm"):
            pass
        with pool(lab, auth="ntlm") as rp:
            assert run(rp, "Get-ExchangeServer", Identity="EX01").output
    with pool(lab, auth="ntlm") as rp:
        assert run(rp, "Get-ExchangeServer", Identity="EX01").output
