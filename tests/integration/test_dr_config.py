"""DR configuration drift and the Exchange 2007 SCR site failover, through the playbooks
enforce_dr_config.yml and scr_site_failover.yml with the worked examples playbooks/vars/<topology>.yml.

Exchange 2007 (lab ``exchange2007-ccr-scr``, the defects of seed 000), one scenario run once by the
``e2007`` fixture, each test checking one aspect of it:

1. the SCR site failover before the fix stops in its preflight, naming seed 000 Q1's cause (CLU2's CNO
   lacks Full Control on CMS1), and writes nothing;
2. enforce_dr_config.yml --check reports every seed defect (CNO permission, OAB share scope below Update
   Rollup 5, no replication host names, CMS TTL 3600 s) as drift and writes nothing;
3. a normal run fixes them (read back through the protocol); a second run changes nothing;
4. site DC1 fails (the lab's ``site_down`` fault); the failover with the data-loss consent recovers CMS1 on
   MBX2A (Online, databases mounted, DNS record at 10.2.1.50 with TTL 300 s); a rerun changes nothing.

Exchange 2019 (lab ``two-datacenters``): --check reports the namespaces' TTL and the DR site's activation
policy as drift (the rest compliant) and writes nothing; a run fixes them; a second run changes nothing.

Assertions are on the JSON report (format exchange.dr/dr_config/v1), the lab's audit log and state, and
read cmdlets through plain pypsrp.
"""

from __future__ import annotations

import json

import pytest

import harness
from harness import REPO, lab_env, properties, run_playbook

ENFORCE = REPO / "playbooks" / "enforce_dr_config.yml"
FAILOVER = REPO / "playbooks" / "scr_site_failover.yml"
VARS = REPO / "playbooks" / "vars"


def playbook(env, path, topology: str, *args: str, report: str | None = None) -> dict:
    """Run a playbook with the topology's vars file; returns its exit status, output, recap counts, the
    audit entries it caused and (with ``report``) the JSON report it wrote."""
    extra = ["-e", "dr_config_report_path=%s" % (env["tmp"] / report)] if report else []
    run = run_playbook(env, path, "-e", "@%s" % (VARS / ("%s.yml" % topology)), *extra, *args)
    if report and (env["tmp"] / report).exists():
        run["report"] = json.loads((env["tmp"] / report).read_text())
    return run


def writes(run) -> list:
    return harness.writes(run, "host", "cmdlet")


def items(run) -> dict:
    """Report items by (kind, name)."""
    return {(i["kind"], i["name"]): i for i in run["report"]["items"]}


def statuses(run) -> dict:
    return {key: item["status"] for key, item in items(run).items()}


def records(lab, name: str) -> list:
    zone = next(z for z in lab.state()["dns"]["zones"] if z["name"] == "contoso.com")
    return sorted((r["data"], r["ttl"]) for r in zone["records"] if r["name"] == name and r["type"] == "A")


def ps(lab, host: str, cmdlet: str, snapin: bool = True, **params) -> list:
    """One cmdlet on ``host``'s Microsoft.PowerShell endpoint (with the 2007 snap-in); plain pypsrp."""
    return [properties(o) for o in harness.ps(lab, host, cmdlet, params, snapin=snapin)]


# --------------------------------------------------------------------------------- Exchange 2007
@pytest.fixture(scope="module")
def e2007(tmp_path_factory):
    with lab_env(tmp_path_factory.mktemp("dr_config_2007"), "exchange2007-ccr-scr") as env:
        lab = env["lab"]
        runs = {"failover_before_fix": playbook(env, FAILOVER, "exchange2007-ccr-scr")}
        runs["check"] = playbook(env, ENFORCE, "exchange2007-ccr-scr", "--check", report="check.json")
        runs["fix"] = playbook(env, ENFORCE, "exchange2007-ccr-scr", report="fix.json")
        runs["again"] = playbook(env, ENFORCE, "exchange2007-ccr-scr", report="again.json")
        runs["fixed_state"] = {
            "ace": ps(lab, "MBX2A", "Get-ADPermission", Identity="CMS1", User="CONTOSO\\CLU2$"),
            "cms": ps(lab, "MBX1A", "Get-ClusteredMailboxServerStatus", Identity="CMS1")[0],
            "cms1": records(lab, "cms1"), "mbx1a-repl": records(lab, "mbx1a-repl"),
        }
        lab.inject_fault({"id": "site_down", "target": "DC1"})
        runs["failover"] = playbook(env, FAILOVER, "exchange2007-ccr-scr", "-e", "scr_site_recovery_allow_data_loss=true")
        runs["failover_again"] = playbook(env, FAILOVER, "exchange2007-ccr-scr", "-e", "scr_site_recovery_allow_data_loss=true")
        runs["failed_over_state"] = {
            "cms": ps(lab, "MBX2A", "Get-ClusteredMailboxServerStatus", Identity="CMS1")[0],
            "databases": ps(lab, "MBX2A", "Get-MailboxDatabase", Server="CMS1", Status=True),
            "cms1": records(lab, "cms1"),
        }
        yield runs


def test_2007_failover_before_the_fix_stops_in_preflight_naming_the_cause(e2007):
    run = e2007["failover_before_fix"]
    assert run["rc"] != 0
    assert "stopped in its preflight, before any change" in run["output"]
    assert "CLU2" in run["output"] and "lacks Full Control" in run["output"] and "CMS1" in run["output"]
    assert writes(run) == []


def test_2007_check_reports_every_seed_defect_and_changes_nothing(e2007):
    run = e2007["check"]
    assert run["rc"] == 0, run["output"][-3000:]
    report = run["report"]
    assert report["format"] == "exchange.dr/dr_config/v1" and report["check_mode"] is True
    by_kind = {}
    for item in report["items"]:
        by_kind.setdefault(item["kind"], []).append(item)
    # seed 000 Q1: the standby cluster's CNO on the CMS object
    (cno,) = by_kind["cno_permission"]
    assert cno["status"] == "drift" and any("CLU2" in line for line in cno["drift"]), cno
    # Q4: OAB share scoped to the node name below Update Rollup 5
    (oab,) = by_kind["oab_share_scope"]
    assert oab["status"] == "drift" and any("Update Rollup 5" in line for line in oab["drift"]), oab
    # Q3: no continuous replication host names on the CCR nodes
    assert sorted(i["name"] for i in by_kind["replication_hostname"] if i["status"] == "drift") == [
        "CMS1: replication host name MBX1A-REPL on MBX1A", "CMS1: replication host name MBX1B-REPL on MBX1B"]
    # Q2: the CMS record's TTL, and the static records of the replication host names
    dns = {i["name"]: i for i in by_kind["dns_record"]}
    assert dns["cms1.contoso.com TTL 300 s"]["status"] == "drift"
    assert dns["cms1.contoso.com TTL 300 s"]["drift"] == ["cms1.contoso.com A 10.1.1.50: TTL 3600 s, should be 300 s"]
    assert dns["mbx1a-repl.contoso.com TTL 300 s"]["drift"] == ["mbx1a-repl.contoso.com: A 10.1.2.121 missing"]
    assert report["summary"] == {"ok": 0, "drift": len(report["items"]), "fixed": 0, "failed": 0}
    assert all(i["reason"] and i["drift"] for i in report["items"])
    assert writes(run) == []
    assert "drift  cno_permission CMS1" in run["output"]  # the human summary, one line per item


def test_2007_normal_run_fixes_the_seed_defects(e2007):
    run = e2007["fix"]
    assert run["rc"] == 0, run["output"][-3000:]
    assert set(statuses(run).values()) == {"fixed"}
    assert run["report"]["check_mode"] is False
    state = e2007["fixed_state"]
    (ace,) = state["ace"]
    assert "GenericAll" in str(ace["AccessRights"]) and ace["Deny"] is False
    assert {"mbx1a-repl", "mbx1b-repl"} <= set(state["cms"]["OperationalReplicationHostNames"])
    assert state["cms1"] == [("10.1.1.50", 300)]
    assert state["mbx1a-repl"] == [("10.1.2.121", 300)]
    sent = [cmdlet for _host, cmdlet in writes(run)]
    # the CNO permission comes first, then the host names, the rollup on both nodes, the DNS records
    assert sent.index("Add-ADPermission") < sent.index("Enable-ContinuousReplicationHostName")
    assert sorted(host for host, cmdlet in writes(run) if cmdlet == "msiexec.exe") == ["MBX1A", "MBX1B"]


def test_2007_second_run_changes_nothing(e2007):
    run = e2007["again"]
    assert run["rc"] == 0, run["output"][-3000:]
    assert run["changed"] == 0
    assert set(statuses(run).values()) == {"ok"}
    assert writes(run) == []


def test_2007_failover_after_the_fix_recovers_cms1_in_dc2(e2007):
    run = e2007["failover"]
    assert run["rc"] == 0, run["output"][-3000:]
    sent = [cmdlet for _host, cmdlet in writes(run)]
    assert sent[:2] == ["Restore-StorageGroupCopy", "Restore-StorageGroupCopy"] and "Setup.com" in sent
    state = e2007["failed_over_state"]
    assert state["cms"]["State"] == "Online"
    assert any(str(m).startswith("MBX2A") and "Active" in str(m) for m in state["cms"]["OperationalMachines"])
    assert sorted((d["Name"], d["Mounted"]) for d in state["databases"]) == [("DB1", True), ("DB2", True)]
    assert state["cms1"] == [("10.2.1.50", 300)]
    again = e2007["failover_again"]
    assert again["rc"] == 0 and again["changed"] == 0 and writes(again) == [], again["output"][-3000:]


# ------------------------------------------------------------------------------ Exchange 2019
@pytest.fixture(scope="module")
def dc2(tmp_path_factory):
    with lab_env(tmp_path_factory.mktemp("dr_config_2019"), "two-datacenters") as env:
        lab = env["lab"]
        runs = {"check": playbook(env, ENFORCE, "two-datacenters", "--check", report="check.json")}
        runs["fix"] = playbook(env, ENFORCE, "two-datacenters", report="fix.json")
        runs["again"] = playbook(env, ENFORCE, "two-datacenters", report="again.json")
        state = lab.state()
        runs["state"] = {"mail": records(lab, "mail"), "autodiscover": records(lab, "autodiscover"),
                         "policies": {s["name"]: s["mailbox"]["DatabaseCopyAutoActivationPolicy"]
                                      for s in state["exchange_servers"]},
                         "dag": state["dags"][0]}
        yield runs


NAMESPACES = ("dns_record", "mail.contoso.com, autodiscover.contoso.com TTL 300 s")
POLICY = ("site_activation", "DAG1 DC2: activation policy IntrasiteOnly")


def test_2019_check_reports_the_drift_and_changes_nothing(dc2):
    run = dc2["check"]
    assert run["rc"] == 0, run["output"][-3000:]
    assert statuses(run) == {
        ("cno_permission", "DAG1: GenericAll for Exchange Trusted Subsystem"): "ok",
        ("dag_settings", "DAG1 DAC mode and witnesses"): "ok",
        ("dag_network", "DAG1\\MapiDagNetwork, ReplicationDagNetwork01"): "ok",
        NAMESPACES: "drift",
        POLICY: "drift",
    }
    found = items(run)
    assert len(found[NAMESPACES]["drift"]) == 4
    assert "mail.contoso.com A 10.1.1.11: TTL 3600 s, should be 300 s" in found[NAMESPACES]["drift"]
    assert found[POLICY]["drift"] == ["EX03: DatabaseCopyAutoActivationPolicy is Unrestricted, should be IntrasiteOnly",
                                      "EX04: DatabaseCopyAutoActivationPolicy is Unrestricted, should be IntrasiteOnly"]
    assert found[("dag_settings", "DAG1 DAC mode and witnesses")]["reason"].startswith("compliant")
    assert writes(run) == []


def test_2019_normal_run_fixes_and_second_run_changes_nothing(dc2):
    fix, again = dc2["fix"], dc2["again"]
    assert fix["rc"] == 0, fix["output"][-3000:]
    assert statuses(fix)[NAMESPACES] == "fixed" and statuses(fix)[POLICY] == "fixed"
    assert fix["report"]["summary"] == {"ok": 3, "drift": 0, "fixed": 2, "failed": 0}
    assert sorted(cmdlet for _host, cmdlet in writes(fix)) == ["Set-DnsServerResourceRecord"] * 4 + ["Set-MailboxServer"] * 2
    state = dc2["state"]
    assert state["mail"] == [("10.1.1.11", 300), ("10.1.1.12", 300)] and state["autodiscover"] == state["mail"]
    dr_site = {k: v for k, v in state["policies"].items() if k in ("EX03", "EX04")}
    assert dr_site == {"EX03": "IntrasiteOnly", "EX04": "IntrasiteOnly"}
    assert state["policies"]["EX01"] == "Unrestricted"
    assert state["dag"]["datacenter_activation_mode"] == "DagOnly"
    assert again["rc"] == 0 and again["changed"] == 0 and writes(again) == []
    assert set(statuses(again).values()) == {"ok"}
