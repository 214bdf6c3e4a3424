"""Exchange cmdlets, parameter binding and the audit log, seen through plain pypsrp."""

from __future__ import annotations

import pytest

from conftest import VIEWER, pool, props, run
from exchange_lab.audit import sanitize


@pytest.fixture
def rp(fresh_lab):
    with pool(fresh_lab) as p:
        yield p


def test_copy_status_by_database_server_and_active(rp):
    res = run(rp, "Get-MailboxDatabaseCopyStatus", Identity="DB01")
    rows = [props(o) for o in res.output]
    assert sorted(r["MailboxServer"] for r in rows) == ["EX01", "EX02", "EX03", "EX04"]
    active = [r for r in rows if r["ActiveCopy"]]
    assert len(active) == 1 and active[0]["Status"] == "Mounted" and active[0]["CopyQueueLength"] == 0
    assert all(r["Status"] == "Healthy" for r in rows if not r["ActiveCopy"])
    assert {r["Name"] for r in rows} == {f"DB01\\{s}" for s in ("EX01", "EX02", "EX03", "EX04")}
    res = run(rp, "Get-MailboxDatabaseCopyStatus", Server="EX03", Active=None)
    assert [props(o)["DatabaseName"] for o in res.output] == ["DB05"]
    res = run(rp, "Get-MailboxDatabaseCopyStatus", Identity="DB02\\EX04")
    assert [props(o)["Identity"] for o in res.output] == ["DB02\\EX04"]


def test_select_object_projects_on_the_server(rp):
    res = run(rp, "Get-MailboxDatabaseCopyStatus", Server="EX01", select=["DatabaseName", "Status"])
    assert len(res.output) == 8
    for obj in res.output:
        assert set(props(obj)) == {"DatabaseName", "Status"}
        assert obj.types[0].startswith("Selected.")


def test_not_found_is_an_exchange_error_record(rp):
    res = run(rp, "Get-MailboxDatabase", Identity="DB99")
    assert not res.failed and not res.output  # non-terminating, as Get-* tasks report it
    err = res.error
    assert str(err) == "The operation couldn't be performed because object 'DB99' couldn't be found on 'dc01.contoso.com'."
    assert "ManagementObjectNotFoundException" in err.fq_error
    res = run(rp, "Get-MailboxDatabase", Identity="DB99", ErrorAction="Stop")
    assert res.failed and "couldn't be found" in str(res.error)


@pytest.mark.parametrize(
    "cmdlet,params,error_id,message",
    [
        ("Set-MailboxServer", {"Identity": "EX01", "Bogus": 1}, "NamedParameterNotFound",
         "A parameter cannot be found that matches parameter name 'Bogus'."),
        ("Set-MailboxServer", {"Identity": "EX01", "DatabaseCopy": "Blocked"}, "AmbiguousParameter",
         "Parameter cannot be processed because the parameter name 'DatabaseCopy' is ambiguous."),
        ("Get-MailboxDatabaseCopyStatus", {"Identity": "DB01", "Server": "EX01"}, "AmbiguousParameterSet",
         "Parameter set cannot be resolved using the specified named parameters."),
    ],
)
def test_binding_failures(rp, cmdlet, params, error_id, message):
    res = run(rp, cmdlet, **params)
    assert res.failed and not res.output
    assert res.error.fq_error == f"{error_id},{cmdlet}"
    assert str(res.error).startswith(message)


def test_missing_mandatory_parameter(rp):
    res = run(rp, "Set-ServerComponentState", Identity="EX01", Component="HubTransport", State="Draining")
    assert res.failed
    assert res.error.fq_error == "MissingMandatoryParameter,Set-ServerComponentState"
    assert str(res.error) == "Cannot process command because of one or more missing mandatory parameters: Requester."


def test_abbreviated_and_case_insensitive_names(rp):
    res = run(rp, "get-mailboxdatabasecopystatus", ident="DB03", ACTIVE=None)
    assert [props(o)["MailboxServer"] for o in res.output] == ["EX01"]


def test_component_state_round_trip_and_audit(fresh_lab):
    with pool(fresh_lab) as rp:
        res = run(rp, "Set-ServerComponentState", Identity="EX02", Component="HubTransport", State="Draining",
                  Requester="Maintenance")
        assert not res.failed and not res.errors
        res = run(rp, "Get-ServerComponentState", Identity="EX02", Component="HubTransport")
        assert props(res.output[0])["State"] == "Draining"
    with pool(fresh_lab, user=VIEWER) as rp:
        assert props(run(rp, "Get-ServerComponentState", Identity="EX02", Component="HubTransport").output[0])["State"] == "Draining"
    audit = fresh_lab.audit()
    setter = [a for a in audit if a["cmdlet"] == "Set-ServerComponentState"]
    assert len(setter) == 1
    entry = setter[0]
    assert entry["host"] == "EX01" and entry["configuration"] == "Microsoft.Exchange"
    assert entry["user"] == "CONTOSO\\administrator" and entry["outcome"] == "ok"
    assert entry["parameters"]["Identity"] == "EX02" and entry["parameters"]["Requester"] == "Maintenance"
    assert entry["lab_time"] and entry["time"] and entry["duration_ms"] >= 0
    viewer = [a for a in audit if a["user"] == "CONTOSO\\viewer"]
    assert [a["cmdlet"] for a in viewer] == ["Get-ServerComponentState"]


def test_audit_masks_secrets():
    class SecureString:  # stands in for psrpcore's deserialised SecureString
        pass

    out = sanitize({"Identity": "X", "Password": "Passw0rd!", "Credential": SecureString(), "NewPassword": "p"})
    assert out == {"Identity": "X", "Password": "***", "Credential": "***", "NewPassword": "***"}
