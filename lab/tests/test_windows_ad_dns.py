"""Active Directory computer accounts, Exchange's AD permission cmdlets and DNS records,
through plain pypsrp (runbooks §10 CNO permissions, §13 DNS TTL)."""

from __future__ import annotations

import copy

from pypsrp.powershell import PowerShell

from conftest import pool, props, run

PS = "Microsoft.PowerShell"
ETS = "CONTOSO\\Exchange Trusted Subsystem"


# ------------------------------------------------------------ AD computer accounts
def test_computer_accounts_and_the_prestaged_cno(fresh_lab):
    with pool(fresh_lab, "DC01", configuration=PS) as rp:
        res = run(rp, "Get-ADComputer", Identity="DAG1", Properties=["userAccountControl", "IPv4Address"])
        cno = props(res.output[0])
        assert res.output[0].types[0] == "Microsoft.ActiveDirectory.Management.ADComputer"
        assert (cno["DistinguishedName"], cno["SamAccountName"], cno["Enabled"]) == (
            "CN=DAG1,CN=Computers,DC=contoso,DC=com", "DAG1$", True)  # enabled once the cluster came online
        assert cno["IPv4Address"] == "10.1.1.50" and cno["userAccountControl"] == 4096
        res = run(rp, "Get-ADComputer", Filter='Name -like "EX*"')
        assert [props(c)["Name"] for c in res.output] == ["EX01", "EX02", "EX03", "EX04"]
        dc = props(run(rp, "Get-ADComputer", Identity="DC01$").output[0])
        assert dc["DistinguishedName"] == "CN=DC01,OU=Domain Controllers,DC=contoso,DC=com"
        res = run(rp, "Get-ADComputer", Identity="NOPE")
        assert res.failed and str(res.error) == "Cannot find an object with identity: 'NOPE' under: 'DC=contoso,DC=com'."
        assert res.error.fq_error == (
            "ActiveDirectoryCmdlet:Microsoft.ActiveDirectory.Management.ADIdentityNotFoundException,"
            "Microsoft.ActiveDirectory.Management.Commands.GetADComputer")

        # runbooks §10.2 step 1: pre-stage a disabled computer account
        res = run(rp, "New-ADComputer", Name="DAG2", Enabled=False, PassThru=None)
        assert props(res.output[0])["Enabled"] is False
        new = props(run(rp, "Get-ADComputer", Identity="DAG2", Properties="userAccountControl").output[0])
        assert new["userAccountControl"] == 4130 and new["SamAccountName"] == "DAG2$"
        res = run(rp, "New-ADComputer", Name="DAG2")
        assert res.failed and str(res.error) == "The specified account already exists"
        res = run(rp, "New-ADComputer", Name="DAG3", Path="OU=Nowhere,DC=contoso,DC=com")
        assert res.failed and str(res.error) == "Directory object not found"
        assert not run(rp, "Set-ADComputer", Identity="DAG2", Enabled=True).errors
        assert props(run(rp, "Get-ADComputer", Identity="DAG2").output[0])["Enabled"] is True
    with pool(fresh_lab, "EX01", configuration=PS) as rp:  # RSAT-ADDS is an Exchange prerequisite
        assert props(run(rp, "Get-ADComputer", Identity="DAG2").output[0])["Enabled"] is True


def test_ad_permission_read_add_idempotent_remove(fresh_lab):
    with pool(fresh_lab, "EX01") as rp:
        # the pre-staged CNO: Exchange Trusted Subsystem has Full Control (runbooks §10.2 step 2)
        res = run(rp, "Get-ADPermission", Identity="DAG1", User="Exchange Trusted Subsystem")
        ace = props(res.output[0])
        assert res.output[0].types[0] == "Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject"
        assert (ace["User"], ace["AccessRights"], ace["Deny"], ace["IsInherited"], ace["InheritanceType"]) == (
            ETS, ["GenericAll"], False, False, "All")
        all_aces = [props(a) for a in run(rp, "Get-ADPermission", Identity="CN=DAG1,CN=Computers,DC=contoso,DC=com").output]
        assert any(a["IsInherited"] for a in all_aces) and len(all_aces) > 1

        dn = "CN=EX02,CN=Computers,DC=contoso,DC=com"
        assert run(rp, "Get-ADPermission", Identity=dn, User="CONTOSO\\EX01$").output == []
        res = run(rp, "Add-ADPermission", Identity=dn, User="CONTOSO\\EX01$", AccessRights="GenericAll")
        assert [(props(a)["User"], props(a)["AccessRights"]) for a in res.output] == [("CONTOSO\\EX01$", ["GenericAll"])]
        res = run(rp, "Add-ADPermission", Identity=dn, User="CONTOSO\\EX01$", AccessRights="GenericAll")
        assert res.output == [] and not res.errors
        assert res.warnings == [f'The appropriate access control entry is already present on the object "{dn}" '
                                'for account "CONTOSO\\EX01$".']
        assert len(run(rp, "Get-ADPermission", Identity=dn, User="CONTOSO\\EX01$").output) == 1

        res = run(rp, "Remove-ADPermission", Identity=dn, User="CONTOSO\\EX01$", AccessRights="GenericAll")
        assert res.failed and res.error.fq_error.startswith("HostFunctionNotImplemented")  # built-in pause
        res = run(rp, "Remove-ADPermission", Identity=dn, User="CONTOSO\\EX01$", AccessRights="GenericAll",
                  Confirm=False)
        assert not res.errors and not res.warnings
        assert run(rp, "Get-ADPermission", Identity=dn, User="CONTOSO\\EX01$").output == []
        res = run(rp, "Remove-ADPermission", Identity=dn, User="CONTOSO\\EX01$", AccessRights="GenericAll",
                  Confirm=False)
        assert res.warnings and "already absent" in res.warnings[0]

        # the pipeline idiom: the piped ACEs are what is removed
        run(rp, "Add-ADPermission", Identity=dn, User="CONTOSO\\EX01$", AccessRights="GenericAll")
        ps = PowerShell(rp)
        ps.add_cmdlet("Get-ADPermission").add_parameter("Identity", dn).add_parameter("User", "CONTOSO\\EX01$")
        ps.add_cmdlet("Remove-ADPermission").add_parameter("Confirm", False)
        ps.invoke()
        assert not ps.had_errors and run(rp, "Get-ADPermission", Identity=dn, User="CONTOSO\\EX01$").output == []

        res = run(rp, "Add-ADPermission", Identity="DAG9", User=ETS, AccessRights="GenericAll")
        assert res.failed and "couldn't be found" in str(res.error)
        res = run(rp, "Add-ADPermission", Identity=dn, User="CONTOSO\\EX01$", AccessRights="FullControl")
        assert res.failed and "FullControl" in str(res.error)
    with pool(fresh_lab, "EX01", configuration=PS) as rp:  # an Exchange cmdlet: not on Microsoft.PowerShell
        assert run(rp, "Get-ADPermission", Identity="DAG1").error.fq_error == "CommandNotFoundException"


# ----------------------------------------------------------------------------- DNS
def _mail(rp) -> list:
    res = run(rp, "Get-DnsServerResourceRecord", ZoneName="contoso.com", Name="mail", RRType="A")
    assert not res.errors
    return res.output


def test_dns_record_ttl_change_with_old_and_new_input_objects(fresh_lab):
    with pool(fresh_lab, "DC01", configuration=PS) as rp:
        records = _mail(rp)
        rows = [props(r) for r in records]
        assert [(r["HostName"], r["RecordType"], props(r["RecordData"])["IPv4Address"]) for r in rows] == [
            ("mail", "A", "10.1.1.11"), ("mail", "A", "10.1.1.12")]
        assert all(r["TimeToLive"] == "PT1H" for r in rows)  # a TimeSpan (pypsrp returns the XML duration)
        assert rows[0]["Timestamp"] is None  # a static record
        # runbooks §13: clone the record, set TimeToLive, Set-DnsServerResourceRecord -Old/-New
        old = records[0]
        new = copy.deepcopy(old)
        new.adapted_properties["TimeToLive"] = "00:05:00"
        res = run(rp, "Set-DnsServerResourceRecord", ZoneName="contoso.com", OldInputObject=old, NewInputObject=new,
                  PassThru=None)
        assert not res.errors and props(res.output[0])["TimeToLive"] == "PT5M"
        assert [props(r)["TimeToLive"] for r in _mail(rp)] == ["PT5M", "PT1H"]
        # idempotent: the same change again changes nothing and does not fail
        assert not run(rp, "Set-DnsServerResourceRecord", ZoneName="contoso.com", OldInputObject=new,
                       NewInputObject=copy.deepcopy(new)).errors
        renamed = copy.deepcopy(old)
        renamed.adapted_properties["HostName"] = "webmail"
        res = run(rp, "Set-DnsServerResourceRecord", ZoneName="contoso.com", OldInputObject=new,
                  NewInputObject=renamed)
        assert res.failed and "can't be changed" in str(res.error)
        # an object that matches no record (RecordData differs)
        gone = copy.deepcopy(old)
        gone.adapted_properties["RecordData"].adapted_properties["IPv4Address"] = "10.9.9.9"
        res = run(rp, "Set-DnsServerResourceRecord", ZoneName="contoso.com", OldInputObject=gone, NewInputObject=new)
        assert res.failed and res.error.fq_error == "WIN32 9714,Set-DnsServerResourceRecord"
    # the zone is AD-integrated: DC02 serves the same records
    with pool(fresh_lab, "DC02", configuration=PS) as rp:
        assert [props(r)["TimeToLive"] for r in _mail(rp)] == ["PT5M", "PT1H"]
    zone = fresh_lab.state()["dns"]["zones"][0]
    assert [r["ttl"] for r in zone["records"] if r["name"] == "mail"] == [300, 3600]


def test_dns_add_remove_and_dynamic_records(fresh_lab):
    with pool(fresh_lab, "DC02", configuration=PS) as rp:
        res = run(rp, "Add-DnsServerResourceRecordA", ZoneName="contoso.com", Name="owa", IPv4Address="10.2.1.13",
                  TimeToLive="00:05:00", PassThru=None)
        assert props(res.output[0])["TimeToLive"] == "PT5M"
        res = run(rp, "Add-DnsServerResourceRecordA", ZoneName="contoso.com", Name="owa", IPv4Address="10.2.1.13")
        assert res.error.fq_error == "WIN32 9711,Add-DnsServerResourceRecordA"
        res = run(rp, "Remove-DnsServerResourceRecord", ZoneName="contoso.com", Name="owa", RRType="A")
        assert res.failed and res.error.fq_error == "HostFunctionNotImplemented,Remove-DnsServerResourceRecord"
        assert not run(rp, "Remove-DnsServerResourceRecord", ZoneName="contoso.com", Name="owa", RRType="A",
                       Force=None).errors
        res = run(rp, "Get-DnsServerResourceRecord", ZoneName="contoso.com", Name="owa")
        assert not res.output and str(res.error) == "Failed to get owa record in contoso.com zone on DC02 server."
        # host records are registered dynamically (a timestamp), like the DAG's network name (TTL 1200)
        ex01 = props(run(rp, "Get-DnsServerResourceRecord", ZoneName="contoso.com", Name="ex01").output[0])
        dag1 = props(run(rp, "Get-DnsServerResourceRecord", ZoneName="contoso.com", Name="dag1").output[0])
        assert ex01["Timestamp"] is not None and (dag1["TimeToLive"], dag1["Timestamp"] is not None) == ("PT20M", True)
        res = run(rp, "Get-DnsServerResourceRecord", ZoneName="fabrikam.com")
        assert res.failed and res.error.fq_error == "WIN32 9601,Get-DnsServerResourceRecord"
    with pool(fresh_lab, "EX01", configuration=PS) as rp:  # not a DNS server
        assert run(rp, "Get-DnsServerResourceRecord", ZoneName="contoso.com").error.fq_error == "CommandNotFoundException"
