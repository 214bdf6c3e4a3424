"""Exchange 2007 SCR site failover (runbooks §8/§9, seed 000 Q1/Q2) with exchange.dr.cms_recovery,
through ansible-playbook against the ``exchange2007-ccr-scr`` lab (clock x200).

One lab for the module; each test starts from the topology (``reset``), whose defect of seed 000 Q1 is
present: the standby cluster CLU2's CNO lacks Full Control on the CMS1 computer object.

(f) bad input fails naming the option, before any session; (a) with the seed's defect the recovery
fails in its preflight naming the cause and writes nothing; (c) with the ACE added but the primary site
down, a run without allow_data_loss refuses before writing; (d) check mode changes nothing; (b) with
allow_data_loss the recovery completes (CMS1 online on MBX2A, databases mounted, DNS record at the new
address with a TTL of 300 s); (e) a second run changes nothing; a run interrupted after the activation
of the SCR copies resumes without activating them again.  Portability (runbooks §9): the lab models no
standalone 2007 Mailbox server, so it is exercised on CMS1's databases (restore of SG1's SCR copy on
MBX2A, configuration-only re-homing of alice and bob to DB2).

The ACE is added with Add-ADPermission through plain pypsrp (the cno_permission module is another
helper's).  Assertions are on read cmdlets through the protocol, the lab's DNS state and audit log.
"""

from __future__ import annotations

import pytest

import harness
from harness import lab_fixture, ps as cmdlet, run_play

SITE_DOWN = {"id": "site_down", "target": "DC1"}
RECOVER = {"cms": "CMS1", "standby_cluster": "CONTOSO\\CLU2", "standby_machine": "MBX2A",
           "ipv4_address": "10.2.1.50", "dns": {"zone": "contoso.com"},
           "windows_connection": "{{ hostvars['DC02'].exchange_dr_windows_connection }}"}
DEFAULTS = "{{ hostvars['MBX2A'].exchange_dr_connection }}"


env = lab_fixture("exchange2007-ccr-scr")


@pytest.fixture
def lab(env):
    env["lab"].reset()
    return env["lab"]


def play(env, tasks: list, *args: str) -> dict:
    """Run the tasks (each registers ``r<i>``; failures ignored) and return each task's result,
    the audit entries of the run and the output."""
    return run_play(env, tasks, *args, module_defaults=DEFAULTS, name="cms_recovery")


def writes(run) -> list:
    return harness.writes(run, "host", "cmdlet")


def recover(**extra) -> dict:
    return {"name": "recover CMS1", "exchange.dr.cms_recovery": dict(RECOVER, **extra)}


def dnscmd(run) -> list:
    return [e["parameters"]["Arguments"] for e in harness.writes(run) if e["cmdlet"] == "dnscmd.exe"]


def ps(lab, host: str, name: str, **params):
    """One cmdlet on ``host``'s Microsoft.PowerShell endpoint with the 2007 snap-in; plain pypsrp."""
    return [{p: o.adapted_properties.get(p, o.extended_properties.get(p))
             for p in list(o.adapted_properties) + list(o.extended_properties)}
            for o in cmdlet(lab, host, name, params, snapin=True)]


def grant_cno(lab) -> None:
    ps(lab, "MBX2A", "Add-ADPermission", Identity="CMS1", User="CONTOSO\\CLU2$", AccessRights="GenericAll")


def cms_status(lab) -> dict:
    (status,) = ps(lab, "MBX2A", "Get-ClusteredMailboxServerStatus", Identity="CMS1")
    return status


def mounted(lab) -> dict:
    return {str(d["Identity"]): d["Mounted"] for d in ps(lab, "MBX2A", "Get-MailboxDatabase", Server="CMS1",
                                                         Status=True)}


def record(lab) -> list:
    zone = next(z for z in lab.state()["dns"]["zones"] if z["name"] == "contoso.com")
    return sorted((r["data"], r["ttl"]) for r in zone["records"] if r["name"].lower() == "cms1" and r["type"] == "A")


# ------------------------------------------------------------------------------------ tests
BAD = [
    recover(ipv4_address="10.2.1.500"),
    {"name": "no cms", "exchange.dr.cms_recovery": {k: v for k, v in RECOVER.items() if k != "cms"}},
    recover(dns={"zone": "contoso.com"}, windows_connection={"port": 1}),
    {"name": "portability without target", "exchange.dr.cms_recovery": {
        "method": "portability", "source_database": "CMS1\\SG1\\DB1"}},
    {"name": "bad database", "exchange.dr.cms_recovery": {
        "method": "portability", "source_database": "DB1", "target_database": "CMS1\\SG2\\DB2"}},
    recover(standby_machine="MBX2A;Remove-Item"),
]
PORTABILITY = {"name": "portability", "exchange.dr.cms_recovery": {
    "method": "portability", "source_database": "CMS1\\SG1\\DB1", "target_database": "CMS1\\SG2\\DB2",
    "standby_machine": "MBX2A"}}


def test_bad_input_and_the_seed_defect_fail_without_writing(env, lab):
    """(f) bad input names the option before any session; (a) with seed 000's defect the recovery fails in
    its preflight naming the cause and the fix, and nothing is written."""
    lab.inject_fault(SITE_DOWN)
    before = record(lab)
    run = play(env, BAD + [recover(allow_data_loss=True)])
    *bad, result = run["results"]
    msgs = [r["msg"] for r in bad]
    assert all(r["failed"] for r in bad), msgs
    assert "ipv4_address" in msgs[0] and "10.2.1.500" in msgs[0]
    assert "needs cms" in msgs[1]
    assert "windows_connection.server" in msgs[2]
    assert "target_database" in msgs[3]
    assert "source_database" in msgs[4] and "<Server>" in msgs[4]
    assert "standby_machine" in msgs[5]
    assert "Traceback" not in run["output"]

    assert result["failed"]
    msg = result["msg"]
    assert "preflight failed, nothing was changed" in msg
    assert "CONTOSO\\CLU2$" in msg and "Full Control (GenericAll)" in msg and "CMS1 computer object" in msg
    assert "seed 000 Q1" in msg and "0x8007139f" in msg
    assert "exchange.dr.cno_permission" in msg and "Add-ADPermission" in msg and "-AccessRights GenericAll" in msg
    assert "CN=CMS1,CN=Computers,DC=contoso,DC=com" in msg
    assert result["actions"] == []
    # only the preflight reads of the last task reached the lab
    assert writes(run) == []
    assert {e["cmdlet"] for e in run["audit"]} >= {"Get-ADPermission", "Get-ClusteredMailboxServerStatus"}
    assert record(lab) == before == [("10.1.1.50", 3600)]


def test_refusals_check_mode_recovery_and_idempotence(env, lab):
    """After the ACE is added, with site DC1 down: (c) without allow_data_loss the recovery (and the
    portability) refuse before writing; (d) check mode plans and changes nothing; (b) with
    allow_data_loss the recovery completes; (e) a second run changes nothing.  One playbook."""
    grant_cno(lab)
    lab.inject_fault(SITE_DOWN)
    run = play(env, [
        recover(),
        PORTABILITY,
        dict(recover(allow_data_loss=True), check_mode=True, diff=True),
        dict(recover(allow_data_loss=True), diff=True),
        recover(allow_data_loss=True),
    ])
    refused, portability, plan, result, again = run["results"]
    # (c)
    assert refused["failed"] and "allow_data_loss" in refused["msg"] and "CMS1\\SG1" in refused["msg"]
    assert "nothing was changed" in refused["msg"] and refused["actions"] == []
    assert portability["failed"] and "allow_data_loss" in portability["msg"] and portability["actions"] == []
    # (d)
    assert not plan.get("failed"), plan.get("msg")
    assert plan["changed"]
    assert [(a["cmdlet"], a["status"]) for a in plan["actions"]] == [
        ("Restore-StorageGroupCopy", "planned"), ("Restore-StorageGroupCopy", "planned"), ("Setup.com", "planned"),
        ("dnscmd.exe", "planned"), ("dnscmd.exe", "planned")]
    assert plan["dns"]["method"] == "dnscmd.exe"  # Windows Server 2008 DNS: no DnsServer module
    assert plan["preflight"]["source"] == "unreachable" and plan["preflight"]["cno_full_control"] is True
    assert all(g["force"] for g in plan["storage_groups"])
    assert plan["after"]["active_node"] == "MBX2A"
    assert plan["dns"]["after"] == [{"data": "10.2.1.50", "ttl": 300}]
    # (b): the only writes of the whole playbook are the recovery's, in this order
    assert not result.get("failed"), result.get("msg")
    assert result["changed"]
    assert writes(run) == [
        ("MBX2A", "Restore-StorageGroupCopy"), ("MBX2A", "Restore-StorageGroupCopy"), ("MBX2A", "Setup.com"),
        ("DC02", "dnscmd.exe"), ("DC02", "dnscmd.exe")]
    restores = [e for e in run["audit"] if e["cmdlet"] == "Restore-StorageGroupCopy"]
    assert [e["parameters"].get("Force") for e in restores] == [True, True]
    setup = next(e for e in run["audit"] if e["cmdlet"] == "Setup.com")
    assert setup["parameters"]["Arguments"] == ["/RecoverCMS", "/CMSName:CMS1", "/CMSIPv4Address:10.2.1.50"]
    # Setup registered the name with HostRecordTTL 1200; the record gets the 5-minute TTL
    assert dnscmd(run) == [["/RecordDelete", "contoso.com", "CMS1", "A", "10.2.1.50", "/f"],
                           ["/RecordAdd", "contoso.com", "CMS1", "300", "A", "10.2.1.50"]]
    assert [g["logs_lost"] for g in result["storage_groups"]] == [0, 0] and result["logs_lost"] == 0
    status = cms_status(lab)
    assert status["State"] == "Online"
    assert any(str(m).startswith("MBX2A <Active") for m in status["OperationalMachines"])
    assert mounted(lab) == {"CMS1\\SG1\\DB1": True, "CMS1\\SG2\\DB2": True}
    assert record(lab) == [("10.2.1.50", 300)]
    assert result["after"]["state"] == "Online" and result["after"]["active_node"] == "MBX2A"
    assert result["diff"]["before"]["dns"] == [{"data": "10.1.1.50", "ttl": 3600}]
    assert result["diff"]["after"]["dns"] == [{"data": "10.2.1.50", "ttl": 300}]
    assert result["elapsed"] > 0 and result["progress"] and result["round_trips"] > 0
    # (e)
    assert not again.get("failed"), again.get("msg")
    assert not again["changed"] and again["actions"] == [] and again["preflight"]["recovered"] is True


def test_interrupted_run_resumes_after_the_restore(env, lab):
    """The SCR copies were activated by an earlier run that stopped (here by hand); the next run does not
    activate them again (no allow_data_loss needed: nothing left to lose) and completes."""
    lab.inject_fault(SITE_DOWN)
    for group in ("CMS1\\SG1", "CMS1\\SG2"):
        ps(lab, "MBX2A", "Restore-StorageGroupCopy", Identity=group, StandbyMachine="MBX2A", Force=True)
    grant_cno(lab)
    run = play(env, [recover()])
    (result,) = run["results"]
    assert not result.get("failed"), result.get("msg")
    assert [g["action"] for g in result["storage_groups"]] == ["done", "done"]
    assert writes(run) == [("MBX2A", "Setup.com"), ("DC02", "dnscmd.exe"), ("DC02", "dnscmd.exe")]
    assert cms_status(lab)["State"] == "Online" and record(lab) == [("10.2.1.50", 300)]


def test_source_online_refused_and_portability(env, lab):
    """With the primary up: the recovery refuses without stop_source (split brain); portability (runbooks
    §9) restores SG1's SCR copy, re-homes alice and bob to DB2 (check mode first, then idempotent)."""
    grant_cno(lab)
    run = play(env, [recover(allow_data_loss=True), dict(PORTABILITY, check_mode=True), PORTABILITY, PORTABILITY])
    online, plan, result, again = run["results"]
    assert online["failed"] and "split brain" in online["msg"] and "stop_source" in online["msg"]
    assert "MBX1A" in online["msg"] and online["actions"] == []
    assert not plan.get("failed"), plan.get("msg")
    assert plan["changed"] and plan["mailboxes_rehomed"] == ["alice", "bob"]
    assert [a["status"] for a in plan["actions"]] == ["planned", "planned"]
    assert not result.get("failed"), result.get("msg")
    # the playbook's only writes: the portability run's (Move-Mailbox: one pipeline, audited per mailbox)
    assert writes(run) == [("MBX2A", "Restore-StorageGroupCopy"), ("MBX2A", "Move-Mailbox"),
                           ("MBX2A", "Move-Mailbox")]
    restore = next(e for e in run["audit"] if e["cmdlet"] == "Restore-StorageGroupCopy")
    assert "Force" not in restore["parameters"]  # the source is available: no log lost
    moves = [e for e in run["audit"] if e["cmdlet"] == "Move-Mailbox"]
    assert all(e["parameters"].get("ConfigurationOnly") is True for e in moves)
    assert result["mailboxes_rehomed"] == ["alice", "bob"] and result["storage_groups"][0]["logs_lost"] == 0
    assert "Autodiscover" in result["client_consequence"] and "exprofre" in result["client_consequence"]
    homes = {str(m["Alias"]): str(m["Database"]) for m in ps(lab, "MBX2A", "Get-Mailbox")}
    assert homes == {"alice": "CMS1\\SG2\\DB2", "bob": "CMS1\\SG2\\DB2", "carol": "CMS1\\SG2\\DB2"}
    assert not again["changed"] and again["actions"] == []
