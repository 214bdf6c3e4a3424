"""cno_permission against the lab, through ansible-playbook (runbooks §10.1 and §10.2).

Two labs, one per topology, each started once for the file (clock x200):

* exchange2007-ccr-scr: the standby cluster CLU2's cluster name object lacks Full Control on the
  CMS1 computer object (seed 000 Q1, a defect of the topology).  Bad input and a check-mode run
  write nothing and report the missing ACE on the CMS1 object; the real run sends exactly one
  Add-ADPermission on the snap-in endpoint; the ACE is then there (read back with
  Get-ADPermission); a second run changes nothing; state=absent removes it again (one
  Remove-ADPermission) and is idempotent too.
* two-datacenters (Exchange 2019): pre-staging the CNO of a new DAG creates the computer account
  disabled (New-ADComputer on the domain controller) and grants Full Control to the first
  member's computer account, or to Exchange Trusted Subsystem; an account that is enabled although
  the DAG has no member is reported and left untouched; DAG1's existing CNO is compliant.

Assertions are on the lab's audit log and on what the read cmdlets return.
"""

from __future__ import annotations

import pytest

import harness
from harness import lab_fixture, ps, run_play

CMS1_DN = "CN=CMS1,CN=Computers,DC=contoso,DC=com"
COMPUTERS = "CN=Computers,DC=contoso,DC=com"
CONN_2007 = "{{ hostvars['MBX1A'].exchange_dr_connection | combine({'exchange_version': '2007'}) }}"
CONN_2019 = "{{ hostvars['EX01'].exchange_dr_connection }}"
DC01 = "{{ hostvars['DC01'].exchange_dr_windows_connection }}"


e2007 = lab_fixture("exchange2007-ccr-scr")
e2019 = lab_fixture("two-datacenters")


def play(env, name: str, connection: str, tasks: list) -> dict:
    """Run ``tasks`` (each registered as r0, r1, ...) in one playbook; return the registered
    results, the output and the audit entries the run caused."""
    return run_play(env, tasks, module_defaults=connection, name=name, ignore_errors=False, require_success=True)


def writes(run) -> list:
    return harness.writes(run, "host", "cmdlet", "parameters")


def ace_rights(lab, host: str, identity: str, user: str, e2007: bool) -> list:
    rows = ps(lab, host, "Get-ADPermission", {"Identity": identity, "User": user},
              configuration="Microsoft.PowerShell" if e2007 else "Microsoft.Exchange", snapin=e2007)
    out = []
    for row in rows:
        rights = row.adapted_properties.get("AccessRights") or row.extended_properties.get("AccessRights")
        deny = row.adapted_properties.get("Deny", row.extended_properties.get("Deny"))
        out.append((str(rights), bool(deny)))
    return out


def task(name: str, module_args: dict, **extra) -> dict:
    return dict({"name": name, "exchange.dr.cno_permission": module_args}, **extra)


CLU2 = {"identity": "CMS1", "principal": "CONTOSO\\CLU2$"}


# ------------------------------------------------------------------------- Exchange 2007
@pytest.fixture(scope="module")
def runs2007(e2007):
    runs = {}
    runs["dry"] = play(e2007, "dry", CONN_2007, [
        task("missing principal", {"identity": "CMS1"}, ignore_errors=True),
        task("bad right", dict(CLU2, access_rights=["FullControl"]), ignore_errors=True),
        task("unknown object", {"identity": "CMS9", "principal": "CONTOSO\\CLU2$"}, ignore_errors=True),
        task("unknown principal", {"identity": "CMS1", "principal": "CONTOSO\\CLU9$"}, ignore_errors=True),
        task("prestage on 2007", dict(CLU2, prestage=True), ignore_errors=True),
        task("empty identity", {"identity": " ", "principal": "CONTOSO\\CLU2$"}, ignore_errors=True),
        task("check", CLU2, check_mode=True, diff=True),
    ])
    runs["apply"] = play(e2007, "apply", CONN_2007, [task("grant", CLU2), task("again", CLU2, diff=True)])
    runs["granted"] = ace_rights(e2007["lab"], "MBX1A", CMS1_DN, "CONTOSO\\CLU2$", True)
    absent = {"identity": CMS1_DN, "principal": "CONTOSO\\CLU2$", "state": "absent"}
    runs["absent"] = play(e2007, "absent", CONN_2007, [
        task("check absent", absent, check_mode=True), task("remove", absent), task("again", absent)])
    runs["removed"] = ace_rights(e2007["lab"], "MBX1A", CMS1_DN, "CONTOSO\\CLU2$", True)
    return runs


def test_2007_bad_input_fails_naming_the_option_and_writes_nothing(runs2007):
    r = runs2007["dry"]["registered"]
    assert r["r0"]["failed"] and "principal" in r["r0"]["msg"]
    assert r["r1"]["failed"] and r["r1"]["msg"].startswith("access_rights: 'FullControl'") and "GenericAll" in r["r1"]["msg"]
    assert r["r2"]["failed"] and r["r2"]["msg"].startswith("identity: no Active Directory object CMS9")
    assert r["r3"]["failed"] and r["r3"]["msg"].startswith("principal: no security principal CONTOSO\\CLU9$")
    assert r["r4"]["failed"] and r["r4"]["msg"].startswith("prestage is for the cluster name object of an Exchange 2010+")
    assert r["r5"]["failed"] and r["r5"]["msg"].startswith("identity must name the computer object")
    for i in range(6):
        assert r["r%d" % i]["changed"] is False and r["r%d" % i].get("actions", []) == []
    assert writes(runs2007["dry"]) == []


def test_2007_check_mode_reports_the_missing_ace_on_the_cms_object(runs2007):
    check = runs2007["dry"]["registered"]["r6"]
    assert check["changed"] is True
    assert check["drift"] == ["ACE missing on %s: CONTOSO\\CLU2$ Allow GenericAll (Full Control) (Deny False)" % CMS1_DN]
    assert "Setup /RecoverCMS" in check["reason"] and "would grant" in check["reason"]
    assert check["before"]["allow"] == [] and check["after"]["allow"] == ["GenericAll"]
    assert check["diff"]["before"] == check["before"]
    assert [(a["cmdlet"], a["status"]) for a in check["actions"]] == [("Add-ADPermission", "planned")]
    assert writes(runs2007["dry"]) == []  # the whole dry run: no Add-/Remove- reached the lab
    assert all(e["host"] == "MBX1A" and e["configuration"] == "Microsoft.PowerShell" for e in runs2007["dry"]["audit"])


def test_2007_apply_grants_full_control_once_then_is_idempotent(runs2007):
    run = runs2007["apply"]
    grant, again = run["registered"]["r0"], run["registered"]["r1"]
    assert writes(run) == [("MBX1A", "Add-ADPermission", {"Identity": CMS1_DN, "User": "CONTOSO\\CLU2$",
                                                          "AccessRights": ["GenericAll"], "Confirm": False})]
    assert grant["changed"] is True and grant["after"]["allow"] == ["GenericAll"]
    assert again["changed"] is False and again["drift"] == [] and again["reason"].startswith("compliant")
    assert again["diff"]["before"] == again["diff"]["after"]
    assert len(runs2007["granted"]) == 1  # read back through Get-ADPermission: one allow ACE, Full Control
    assert "GenericAll" in runs2007["granted"][0][0] and runs2007["granted"][0][1] is False


def test_2007_absent_removes_the_ace_once_then_is_idempotent(runs2007):
    run = runs2007["absent"]
    check, remove, again = (run["registered"][k] for k in ("r0", "r1", "r2"))
    assert check["changed"] and check["drift"] == ["extra ACE on %s: CONTOSO\\CLU2$ Allow GenericAll (Full Control)"
                                                   % CMS1_DN]
    assert [c for _h, c, _p in writes(run)] == ["Remove-ADPermission"]  # the check-mode task sent nothing
    assert writes(run)[0][2] == {"Identity": CMS1_DN, "User": "CONTOSO\\CLU2$", "AccessRights": ["GenericAll"],
                                 "Confirm": False}
    assert remove["changed"] and remove["after"]["allow"] == []
    assert again["changed"] is False and again["drift"] == []
    assert runs2007["removed"] == []


# ------------------------------------------------------------------ Exchange 2019 pre-staging
@pytest.fixture(scope="module")
def runs2019(e2019):
    lab = e2019["lab"]
    # an account named like a future DAG, enabled, that no DAG member brought online (someone else's?)
    ps(lab, "DC01", "New-ADComputer", {"Name": "DAG3", "SAMAccountName": "DAG3", "Enabled": True})
    dag2 = {"identity": "DAG2", "principal": "CONTOSO\\EX01$", "prestage": True, "organizational_unit": COMPUTERS,
            "windows_connection": DC01}
    dag4 = {"identity": "CN=DAG4,%s" % COMPUTERS, "principal": "Exchange Trusted Subsystem", "prestage": True,
            "windows_connection": DC01}
    runs = {}
    runs["dry"] = play(e2019, "dry", CONN_2019, [
        task("prestage check", dag2, check_mode=True, diff=True),
        task("dag1 cno", {"identity": "DAG1", "principal": "Exchange Trusted Subsystem", "windows_connection": DC01}),
        task("enabled account", dict(dag2, identity="DAG3")),
        task("name too long", dict(dag2, identity="DAG-NAME-TOO-LONG"), ignore_errors=True),
        task("absent with prestage", dict(dag2, state="absent"), ignore_errors=True),
        task("ou not a dn", dict(dag2, organizational_unit="Exchange DAGs"), ignore_errors=True),
    ])
    runs["apply"] = play(e2019, "apply", CONN_2019, [task("prestage", dag2), task("again", dag2),
                                                     task("ets", dag4), task("ets again", dag4)])
    runs["accounts"] = {name: ps(lab, "DC01", "Get-ADComputer", {"Identity": name,
                                                                 "Properties": ["userAccountControl"]})[0]
                        for name in ("DAG2", "DAG3", "DAG4")}
    runs["aces"] = {"DAG2": ace_rights(lab, "EX01", "CN=DAG2,%s" % COMPUTERS, "CONTOSO\\EX01$", False),
                    "DAG3": ace_rights(lab, "EX01", "CN=DAG3,%s" % COMPUTERS, "CONTOSO\\EX01$", False),
                    "DAG4": ace_rights(lab, "EX01", "CN=DAG4,%s" % COMPUTERS, "Exchange Trusted Subsystem", False)}
    return runs


def test_prestage_check_mode_plans_account_and_ace_and_writes_nothing(runs2019):
    r = runs2019["dry"]["registered"]
    check = r["r0"]
    assert check["changed"] is True
    assert check["drift"] == ["computer account DAG2 missing in %s: pre-stage it disabled (runbooks §10.2)" % COMPUTERS,
                              "ACE missing on CN=DAG2,%s: CONTOSO\\EX01$ Allow GenericAll (Full Control) (Deny False)"
                              % COMPUTERS]
    assert [(a["cmdlet"], a["endpoint"], a["status"]) for a in check["actions"]] == [
        ("New-ADComputer", "windows", "planned"), ("Add-ADPermission", "exchange", "planned")]
    assert check["actions"][0]["parameters"] == {"Name": "DAG2", "SAMAccountName": "DAG2", "Enabled": False,
                                                 "Path": COMPUTERS}
    assert check["before"]["account"] is None
    assert check["after"]["account"] == {"dn": "CN=DAG2,%s" % COMPUTERS, "enabled": False}
    assert writes(runs2019["dry"]) == []


def test_prestage_existing_cno_of_a_dag_with_members_is_compliant(runs2019):
    dag1 = runs2019["dry"]["registered"]["r1"]
    assert dag1["changed"] is False and dag1["drift"] == []
    assert dag1["identity"] == "CN=DAG1,%s" % COMPUTERS  # resolved through Get-ADComputer on DC01
    assert dag1["reason"] == ("compliant: Exchange Trusted Subsystem is allowed GenericAll (Full Control) on "
                              "CN=DAG1,%s" % COMPUTERS)


def test_prestage_enabled_account_without_members_is_reported_not_touched(runs2019):
    res = runs2019["dry"]["registered"]["r2"]
    assert res["changed"] is False and res["actions"] == []
    assert len(res["drift"]) == 1 and "computer account CN=DAG3,%s is enabled although DAG DAG3" % COMPUTERS in res["drift"][0]
    assert res["reason"].startswith("not changed:") and "left untouched" in res["reason"]
    assert "[WARNING]" in runs2019["dry"]["output"] and "DAG3" in runs2019["dry"]["output"]
    assert runs2019["accounts"]["DAG3"].adapted_properties["Enabled"] is True
    assert runs2019["aces"]["DAG3"] == []


def test_prestage_bad_input_names_the_option(runs2019):
    r = runs2019["dry"]["registered"]
    assert r["r3"]["failed"] and r["r3"]["msg"].startswith("identity: 'DAG-NAME-TOO-LONG' is not a computer name")
    assert r["r4"]["failed"] and r["r4"]["msg"].startswith("prestage creates the DAG's computer account and works only "
                                                           "with state=present")
    assert r["r5"]["failed"] and r["r5"]["msg"].startswith("organizational_unit: 'Exchange DAGs' is not a "
                                                           "distinguished name")


def test_prestage_creates_disabled_account_and_grants_first_member_then_idempotent(runs2019):
    run = runs2019["apply"]
    r = run["registered"]
    assert [(h, c) for h, c, _p in writes(run)] == [("DC01", "New-ADComputer"), ("EX01", "Add-ADPermission"),
                                                    ("DC01", "New-ADComputer"), ("EX01", "Add-ADPermission")]
    assert writes(run)[0][2] == {"Name": "DAG2", "SAMAccountName": "DAG2", "Enabled": False, "Path": COMPUTERS}
    assert writes(run)[1][2] == {"Identity": "CN=DAG2,%s" % COMPUTERS, "User": "CONTOSO\\EX01$",
                                 "AccessRights": ["GenericAll"], "Confirm": False}
    assert writes(run)[3][2]["User"] == "Exchange Trusted Subsystem"
    assert r["r0"]["changed"] and r["r0"]["after"]["account"] == {"dn": "CN=DAG2,%s" % COMPUTERS, "enabled": False}
    assert r["r1"]["changed"] is False and r["r1"]["drift"] == [] and r["r1"]["actions"] == []
    assert r["r2"]["changed"] and not r["r3"]["changed"]
    for name in ("DAG2", "DAG4"):
        account = runs2019["accounts"][name].adapted_properties
        assert account["Enabled"] is False and account["userAccountControl"] == 4130  # runbooks §10.2
        assert len(runs2019["aces"][name]) == 1 and "GenericAll" in runs2019["aces"][name][0][0]
        assert runs2019["aces"][name][0][1] is False
