"""dnscmd.exe on the Windows Server 2008 DNS servers of the exchange2007-ccr-scr topology, which
have no DnsServer module (README-model.md, DNS): read, add and delete A records with their TTL,
through plain pypsrp (a native program: each argument a separate value)."""

from __future__ import annotations

from typing import Iterator

import pytest
from pypsrp.powershell import PowerShell, RunspacePool

from exchange_lab import Lab

from conftest import Result, run, wsman


@pytest.fixture(scope="module")
def lab07() -> Iterator[Lab]:
    with Lab("exchange2007-ccr-scr", speed=200.0) as running:
        yield running


def dnscmd(rp: RunspacePool, *args: str) -> Result:
    ps = PowerShell(rp)
    ps.add_cmdlet("dnscmd.exe")
    for a in args:
        ps.add_argument(a)
    out = ps.invoke()
    res = Result(ps, out)
    ps.close()
    return res


def cms1(lab: Lab) -> list:
    zone = next(z for z in lab.state()["dns"]["zones"] if z["name"] == "contoso.com")
    return sorted((r["data"], r["ttl"]) for r in zone["records"] if r["name"] == "cms1")


def test_dnscmd_reads_and_changes_a_records(lab07: Lab) -> None:
    lab07.reset()
    with RunspacePool(wsman(lab07, "DC02", path="wsman"), configuration_name="Microsoft.PowerShell") as rp:
        # Windows Server 2008: no DnsServer module
        res = run(rp, "Get-DnsServerResourceRecord", ZoneName="contoso.com", Name="cms1", RRType="A")
        assert res.failed and "is not recognized" in str(res.error)
        res = dnscmd(rp, "/EnumRecords", "contoso.com", "cms1", "/Type", "A")
        assert not res.errors, res.errors
        lines = [str(x) for x in res.output]
        assert lines[0] == "Returned records:" and lines[-1] == "Command completed successfully."
        assert any(line.startswith("@ ") and line.endswith("3600 A\t10.1.1.50") for line in lines)
        # without /f the delete would prompt on the console
        res = dnscmd(rp, "/RecordDelete", "contoso.com", "cms1", "A", "10.1.1.50")
        assert res.errors and cms1(lab07) == [("10.1.1.50", 3600)]
        assert not dnscmd(rp, "/RecordDelete", "contoso.com", "cms1", "A", "10.1.1.50", "/f").errors
        assert not dnscmd(rp, "/RecordAdd", "contoso.com", "cms1", "300", "A", "10.2.1.50").errors
        assert cms1(lab07) == [("10.2.1.50", 300)]
        res = dnscmd(rp, "/RecordAdd", "contoso.com", "cms1", "300", "A", "10.2.1.50")
        assert res.errors and "9711" in str(res.error)
        res = dnscmd(rp, "/EnumRecords", "contoso.com", "nosuchname", "/Type", "A")
        assert res.errors and "DNS_ERROR_NAME_DOES_NOT_EXIST" in str(res.error)
        res = dnscmd(rp, "/RecordAdd", "nosuch.zone", "x", "A", "10.2.1.9")
        assert res.errors and "9601" in str(res.error)
    audit = [e for e in lab07.audit() if e["cmdlet"] == "dnscmd.exe"]
    assert audit[2]["parameters"]["Arguments"] == ["/RecordDelete", "contoso.com", "cms1", "A", "10.1.1.50", "/f"]
