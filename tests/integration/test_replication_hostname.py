"""replication_hostname against the exchange2007-ccr-scr lab, through ansible-playbook (runbooks §12.1).

One lab for the file (clock x200), seed 000's topology: CMS1 on the CCR cluster CLU1 (MBX1A, MBX1B),
SCR target MBX2A on the standby cluster CLU2, no continuous replication host names (Q3).

1. Bad input and the SCR target are refused before any write, each naming the option (the SCR
   refusal gives seed 000 Q3's reason); a check-mode run reports the plan; none of them writes.
2. Enabling a host name on each CCR node sends one Enable-ContinuousReplicationHostName each; the
   names then show in Get-ClusteredMailboxServerStatus; a second run changes nothing.
3. state=absent (check, then real, then again) sends exactly one Disable-.
4. The CNO precondition (runbooks §10.1): the stale computer object of the removed name loses the
   cluster's Full Control (cno_permission state=absent); re-enabling with ``cluster`` is refused
   before any write, re-enabling without it fails in Exchange with the network-name error; after
   cno_permission grants the right again, the host name comes back.

Assertions are on the lab's audit log and on Get-ClusteredMailboxServerStatus read back.
"""

from __future__ import annotations

import pytest
from pypsrp.powershell import PowerShell

import harness
from harness import lab_fixture, run_play, session

CONN = "{{ hostvars['MBX1A'].exchange_dr_connection }}"  # the module selects the 2007 snap-in endpoint itself
MBX1A = {"identity": "CMS1", "target_machine": "MBX1A", "host_name": "MBX1A-REPL", "ipv4_address": "10.1.2.121",
         "cluster": "CONTOSO\\CLU1"}
MBX1B = {"identity": "CMS1", "target_machine": "MBX1B", "host_name": "MBX1B-REPL", "ipv4_address": "10.1.2.122",
         "cluster": "CONTOSO\\CLU1"}
SCR_REASON = "not for standby continuous replication (SCR) (seed 000 Q3, runbooks §12.1)"


env = lab_fixture("exchange2007-ccr-scr")


def play(env, name: str, tasks: list) -> dict:
    """Run ``tasks`` (registered as r0, r1, ...) in one playbook: registered results, output and the
    audit entries of the run."""
    return run_play(env, tasks, module_defaults=CONN, name=name, ignore_errors=False, require_success=True)


def writes(run) -> list:
    return harness.writes(run, "cmdlet", "parameters", "status")


def host_names(lab) -> dict:
    """Get-ClusteredMailboxServerStatus -Identity CMS1 through an unmodified pypsrp client."""
    with session(lab, "MBX1A", snapin=True) as pool:
        ps = PowerShell(pool).add_cmdlet("Get-ClusteredMailboxServerStatus").add_parameter("Identity", "CMS1")
        ps.add_cmdlet("Select-Object").add_parameter("Property", ["OperationalReplicationHostNames",
                                                                  "InUseReplicationHostNames"])
        row = ps.invoke()[0]
    props = harness.properties(row)

    def names(value):
        items = getattr(value, "value", value)
        return sorted(str(x).lower() for x in (items if isinstance(items, list) else [items]) if x)
    return {"operational": names(props["OperationalReplicationHostNames"]),
            "in_use": names(props["InUseReplicationHostNames"])}


def task(name: str, args: dict, **extra) -> dict:
    return dict({"name": name, "exchange.dr.replication_hostname": args}, **extra)


def cno_task(name: str, state: str) -> dict:
    return {"name": name, "exchange.dr.cno_permission": {
        "identity": "MBX1B-REPL", "principal": "CONTOSO\\CLU1$", "state": state, "exchange_version": "2007"}}


@pytest.fixture(scope="module")
def runs(env):
    lab = env["lab"]
    out = {"initial": host_names(lab)}
    out["dry"] = play(env, "dry", [
        task("scr target", {"identity": "CMS1", "target_machine": "MBX2A", "host_name": "MBX2A-REPL",
                            "ipv4_address": "10.2.2.121"}, ignore_errors=True),
        task("no target", {"identity": "CMS1", "host_name": "MBX1A-REPL", "ipv4_address": "10.1.2.121"},
             ignore_errors=True),
        task("bad address", dict(MBX1A, ipv4_address="10.1.2.300"), ignore_errors=True),
        task("long name", dict(MBX1A, host_name="MBX1A-REPLICATION"), ignore_errors=True),
        task("node name", dict(MBX1A, host_name="MBX1B"), ignore_errors=True),
        task("not 2007", dict(MBX1A, exchange_version="2016"), ignore_errors=True),
        task("unknown cms", dict(MBX1A, identity="CMS9"), ignore_errors=True),
        task("missing host name", {"identity": "CMS1", "target_machine": "MBX1A"}, ignore_errors=True),
        task("check", MBX1A, check_mode=True, diff=True),
    ])
    out["apply"] = play(env, "apply", [task("MBX1A", MBX1A), task("MBX1B", MBX1B), task("MBX1A again", MBX1A),
                                       task("MBX1B again", MBX1B)])
    out["enabled"] = host_names(lab)
    absent = {"identity": "CMS1", "host_name": "MBX1B-REPL", "state": "absent"}
    out["absent"] = play(env, "absent", [task("check", absent, check_mode=True), task("remove", absent),
                                         task("again", absent)])
    out["disabled"] = host_names(lab)
    out["cno"] = play(env, "cno", [
        cno_task("take the CNO's right away", "absent"),
        task("refused by the CNO check", MBX1B, ignore_errors=True),
        task("without cluster Exchange fails", {k: v for k, v in MBX1B.items() if k != "cluster"}, ignore_errors=True),
        cno_task("grant the CNO's right", "present"),
        task("now it works", MBX1B),
    ])
    out["final"] = host_names(lab)
    return out


def test_refusals_name_the_option_and_write_nothing(runs):
    r = runs["dry"]["registered"]
    scr = r["r0"]
    assert scr["failed"] and scr["msg"].startswith("target_machine: MBX2A is not a CCR node of CMS1 (nodes MBX1A, "
                                                   "MBX1B); it is the standby continuous replication (SCR) target of "
                                                   "CMS1\\SG1, CMS1\\SG2")
    assert SCR_REASON in scr["msg"] and scr["actions"] == []
    assert scr["preconditions"] == [{"check": "ccr_node", "status": "failed", "detail": "MBX2A: it is the standby "
                                     "continuous replication (SCR) target of CMS1\\SG1, CMS1\\SG2"}]
    assert r["r1"]["msg"].startswith("target_machine is required with state=present")
    assert r["r2"]["msg"] == "ipv4_address: '10.1.2.300' is not an IPv4 address"
    assert r["r3"]["msg"].startswith("host_name: 'MBX1A-REPLICATION' is not a computer name")
    assert r["r4"]["msg"].startswith("host_name: MBX1B is the name of a node of CMS1")
    assert r["r5"]["msg"].startswith("exchange_version 2016: continuous replication host names exist only on "
                                     "Exchange 2007 CCR")
    assert r["r6"]["msg"].startswith("identity: no clustered mailbox server CMS9")
    assert "host_name" in r["r7"]["msg"]
    assert all(r["r%d" % i]["failed"] and not r["r%d" % i]["changed"] for i in range(8))
    assert writes(runs["dry"]) == []


def test_check_mode_returns_the_plan(runs):
    check = runs["dry"]["registered"]["r8"]
    assert check["changed"] is True
    assert check["drift"] == ["CMS1: continuous replication host name mbx1a-repl missing on MBX1A (10.1.2.121)"]
    planned = [(a["cmdlet"], a["status"]) for a in check["actions"]]
    assert planned == [("Enable-ContinuousReplicationHostName", "planned")]
    assert check["before"] == {"operational": ["mbx1a", "mbx1b"], "failed": [], "in_use": ["mbx1a", "mbx1b"]}
    assert check["after"]["operational"] == ["mbx1a", "mbx1b", "mbx1a-repl"]
    assert [(p["check"], p["status"]) for p in check["preconditions"]] == [
        ("ccr_node", "ok"), ("cno_rights", "ok"), ("name_resolution", "not_checked")]
    assert writes(runs["dry"]) == []
    assert runs["initial"] == {"operational": ["mbx1a", "mbx1b"], "in_use": ["mbx1a", "mbx1b"]}


def test_enable_on_each_ccr_node_once_then_idempotent(runs):
    run = runs["apply"]
    assert writes(run) == [
        ("Enable-ContinuousReplicationHostName", {"Identity": "CMS1", "TargetMachine": "MBX1A",
                                                  "HostName": "MBX1A-REPL", "IPv4Address": "10.1.2.121",
                                                  "Confirm": False}, "ok"),
        ("Enable-ContinuousReplicationHostName", {"Identity": "CMS1", "TargetMachine": "MBX1B",
                                                  "HostName": "MBX1B-REPL", "IPv4Address": "10.1.2.122",
                                                  "Confirm": False}, "ok")]
    r = run["registered"]
    assert r["r0"]["changed"] and r["r1"]["changed"]
    assert not r["r2"]["changed"] and not r["r3"]["changed"] and r["r2"]["drift"] == [] and r["r3"]["actions"] == []
    assert r["r2"]["reason"] == "compliant: CMS1 already has the continuous replication host name mbx1a-repl"
    assert runs["enabled"] == {"operational": ["mbx1a", "mbx1a-repl", "mbx1b", "mbx1b-repl"],
                               "in_use": ["mbx1a-repl", "mbx1b-repl"]}


def test_absent_disables_once_then_idempotent(runs):
    run = runs["absent"]
    assert writes(run) == [("Disable-ContinuousReplicationHostName", {"Identity": "CMS1", "HostName": "MBX1B-REPL",
                                                                      "Confirm": False}, "ok")]
    check, remove, again = (run["registered"][k] for k in ("r0", "r1", "r2"))
    assert check["changed"] and check["drift"] == ["CMS1: extra continuous replication host name mbx1b-repl"]
    assert check["actions"][0]["status"] == "planned" and remove["actions"][0]["status"] == "done"
    assert remove["after"]["operational"] == ["mbx1a", "mbx1b", "mbx1a-repl"]
    assert not again["changed"] and again["drift"] == []
    assert runs["disabled"] == {"operational": ["mbx1a", "mbx1a-repl", "mbx1b"], "in_use": ["mbx1a-repl"]}


def test_cno_precondition_refuses_before_any_write(runs):
    run = runs["cno"]
    r = run["registered"]
    refused, failed = r["r1"], r["r2"]
    assert refused["failed"] and refused["msg"].startswith(
        "cluster: the cluster name object CONTOSO\\CLU1$ lacks Full Control on the existing computer object "
        "CN=MBX1B-REPL,CN=Computers,DC=contoso,DC=com of host name MBX1B-REPL")
    assert "exchange.dr.cno_permission" in refused["msg"] and refused["actions"] == []
    # without `cluster` the module cannot see it: Exchange refuses (runbooks §8 failure symptom)
    assert failed["failed"] and "0x8007139f" in failed["msg"]
    assert [a["status"] for a in failed["actions"]] == ["failed"]
    assert [(c, s) for c, _p, s in writes(run)] == [
        ("Remove-ADPermission", "ok"),  # cno_permission absent
        ("Enable-ContinuousReplicationHostName", "failed"),  # the run without `cluster`; none from the refused one
        ("Add-ADPermission", "ok"),  # cno_permission present
        ("Enable-ContinuousReplicationHostName", "ok")]
    assert r["r0"]["changed"] and r["r3"]["changed"] and r["r4"]["changed"]
    assert runs["final"] == runs["enabled"]
