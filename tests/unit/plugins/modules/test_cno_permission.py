"""cno_permission and module_utils/adperm.py with a fake PowerShell Remoting client.

Only the seam of ``psrp.py`` is faked (``Client.from_module`` for the Exchange session,
``windows.windows_client`` for the domain controller): the fake keeps a small directory (computer
objects with ACEs, principals, DAGs), answers the reads with rows shaped as the lab returns them
(captured from exchange2007-ccr-scr and two-datacenters) and applies the writes.  The tests check
the ordered cmdlets, check mode (no write), idempotence, the drift lines and the refusals.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange.dr.plugins.module_utils import adperm, windows
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError
from ansible_collections.exchange.dr.plugins.modules import cno_permission

COMPUTERS = "CN=Computers,DC=contoso,DC=com"
CMS1 = "CN=CMS1,%s" % COMPUTERS
WRITES = ("Add-ADPermission", "Remove-ADPermission", "New-ADComputer", "Set-ADComputer")
PRINCIPALS = ("CONTOSO\\CLU1$", "CONTOSO\\CLU2$", "CONTOSO\\EX01$", "Exchange Trusted Subsystem")


def not_found(cmdlet, identity, error_id="ManagementObjectNotFoundException"):
    return ExchangeCommandError(cmdlet, error_id, "NotSpecified", identity,
                                "The operation couldn't be performed because object '%s' couldn't be found on "
                                "'dc01.contoso.com'." % identity, None)


class Directory:
    """Computer objects by DN: {"enabled": bool, "aces": [[user, [rights], deny, inherited]]}."""

    def __init__(self):
        self.objects = {CMS1: {"enabled": True, "aces": [["CONTOSO\\CLU1$", ["GenericAll"], False, False]]},
                        "CN=DAG1,%s" % COMPUTERS: {"enabled": True, "aces": [
                            ["Exchange Trusted Subsystem", ["GenericAll"], False, False]]}}
        self.dags = {"DAG1": ["EX01", "EX02"]}
        self.calls = []

    def find(self, identity):
        if identity in self.objects:
            return identity
        hits = [dn for dn in self.objects if dn.split(",")[0][3:].lower() == identity.lower()]
        return hits[0] if len(hits) == 1 else None


class FakeClient:
    def __init__(self, directory, endpoint):
        self.d = directory
        self.endpoint = endpoint
        self.calls = []
        self.warnings = []

    def close(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def invoke(self, cmdlet, params=None, select=None, errors="raise"):
        params = dict(params or {})
        self.calls.append((cmdlet, params))
        self.d.calls.append((self.endpoint, cmdlet, params))
        try:
            rows = getattr(self, "do_" + cmdlet.replace("-", "_"))(params)
        except ExchangeCommandError as exc:
            if errors == "return" and cmdlet.startswith("Get-") and exc.error_id.endswith("NotFoundException"):
                return [], [exc]
            raise
        return (rows, []) if errors == "return" else rows

    def _object(self, cmdlet, identity):
        dn = self.d.find(identity)
        if dn is None:
            raise not_found(cmdlet, identity)
        return dn

    def _principal(self, cmdlet, user):
        if user not in PRINCIPALS:
            raise not_found(cmdlet, user)
        return user

    def do_Get_ADPermission(self, p):
        dn = self._object("Get-ADPermission", p["Identity"])
        if "Owner" in p:
            return [{"Identity": dn, "Owner": "CONTOSO\\Domain Admins"}]
        user = self._principal("Get-ADPermission", p["User"])
        return [{"Identity": dn, "User": u, "AccessRights": list(r), "Deny": deny, "IsInherited": inh,
                 "InheritanceType": "All"} for u, r, deny, inh in self.d.objects[dn]["aces"] if u == user]

    def do_Add_ADPermission(self, p):
        dn = self._object("Add-ADPermission", p["Identity"])
        self._principal("Add-ADPermission", p["User"])
        self.d.objects[dn]["aces"].append([p["User"], list(p["AccessRights"]), False, False])
        return []

    def do_Remove_ADPermission(self, p):
        dn = self._object("Remove-ADPermission", p["Identity"])
        for ace in self.d.objects[dn]["aces"]:
            if ace[0] == p["User"] and not ace[2] and not ace[3]:
                ace[1] = [r for r in ace[1] if r not in p["AccessRights"]]
        self.d.objects[dn]["aces"] = [a for a in self.d.objects[dn]["aces"] if a[1]]
        return []

    def do_Get_ADComputer(self, p):
        dn = self.d.find(p["Identity"])
        if dn is None:
            raise not_found("Get-ADComputer", p["Identity"],
                            "ActiveDirectoryCmdlet:Microsoft.ActiveDirectory.Management.ADIdentityNotFoundException")
        name = dn.split(",")[0][3:]
        enabled = self.d.objects[dn]["enabled"]
        return [{"DistinguishedName": dn, "Name": name, "SamAccountName": name + "$", "Enabled": enabled,
                 "userAccountControl": 4096 if enabled else 4130}]

    def do_New_ADComputer(self, p):
        dn = "CN=%s,%s" % (p["Name"], p.get("Path", COMPUTERS))
        self.d.objects[dn] = {"enabled": p["Enabled"], "aces": []}
        return []

    def do_Get_DatabaseAvailabilityGroup(self, p):
        if p["Identity"] not in self.d.dags:
            raise not_found("Get-DatabaseAvailabilityGroup", p["Identity"])
        return [{"Name": p["Identity"], "Servers": list(self.d.dags[p["Identity"]])}]


@pytest.fixture
def directory(monkeypatch):
    d = Directory()
    monkeypatch.setattr(cno_permission.Client, "from_module", classmethod(lambda cls, module: FakeClient(d, "exchange")))
    monkeypatch.setattr(windows, "windows_client", lambda module, server, connection=None: FakeClient(d, "windows"))
    return d


def run(capsys, args, check=False):
    base = {"server": "mbx1a.contoso.com", "username": "CONTOSO\\administrator", "password": "S3cret!",
            "auth": "basic", "_ansible_check_mode": check, "_ansible_diff": True}
    with patch_module_args(dict(base, **args)):
        with pytest.raises(SystemExit):
            cno_permission.main()
    return json.loads(capsys.readouterr().out)


def writes(d):
    return [(endpoint, cmdlet, params) for endpoint, cmdlet, params in d.calls if cmdlet in WRITES]


CLU2 = {"identity": "CMS1", "principal": "CONTOSO\\CLU2$", "exchange_version": "2007"}


# ------------------------------------------------------------------------ module, 2007 case
def test_check_mode_reports_the_missing_ace_and_sends_nothing(directory, capsys):
    result = run(capsys, CLU2, check=True)
    assert result["changed"] is True and writes(directory) == []
    assert result["drift"] == ["ACE missing on %s: CONTOSO\\CLU2$ Allow GenericAll (Full Control) (Deny False)" % CMS1]
    assert result["identity"] == CMS1  # named through Get-ADPermission -Owner: CLU2$ has no ACE to name it
    assert [c for _e, c, _p in directory.calls] == ["Get-ADPermission", "Get-ADPermission"]
    assert result["actions"] == [{"cmdlet": "Add-ADPermission", "target": CMS1, "endpoint": "exchange",
                                  "status": "planned", "parameters": {"Identity": CMS1, "User": "CONTOSO\\CLU2$",
                                                                      "AccessRights": ["GenericAll"], "Confirm": False}}]
    assert result["diff"] == {"before": result["before"], "after": result["after"]}
    assert result["after"]["allow"] == ["GenericAll"] and "runbooks §10.1" in result["reason"]


def test_apply_then_idempotent(directory, capsys):
    done = run(capsys, CLU2)
    assert done["changed"] and done["actions"][0]["status"] == "done"
    assert writes(directory) == [("exchange", "Add-ADPermission", {"Identity": CMS1, "User": "CONTOSO\\CLU2$",
                                                                   "AccessRights": ["GenericAll"], "Confirm": False})]
    assert done["after"]["allow"] == ["GenericAll"] and done["round_trips"] == 4
    again = run(capsys, CLU2)
    assert not again["changed"] and again["drift"] == [] and len(writes(directory)) == 1
    assert again["reason"] == "compliant: CONTOSO\\CLU2$ is allowed GenericAll (Full Control) on %s" % CMS1
    assert again["round_trips"] == 1  # the principal's ACE names the object: no second read


def test_absent_removes_explicit_rights_and_reports_inherited(directory, capsys):
    directory.objects[CMS1]["aces"] += [["CONTOSO\\CLU2$", ["GenericAll"], False, False],
                                        ["CONTOSO\\CLU2$", ["GenericAll"], False, True]]
    result = run(capsys, dict(CLU2, state="absent"))
    assert [c for _e, c, _p in writes(directory)] == ["Remove-ADPermission"]
    assert result["drift"][0] == "extra ACE on %s: CONTOSO\\CLU2$ Allow GenericAll (Full Control)" % CMS1
    assert result["drift"][1].startswith("inherited ACE on %s" % CMS1)
    assert "still to fix by hand" in result["reason"]
    again = run(capsys, dict(CLU2, state="absent"))
    assert not again["changed"] and again["reason"].startswith("not fixable by the module: inherited ACE")


def test_deny_entry_is_reported_never_removed(directory, capsys):
    directory.objects[CMS1]["aces"].append(["CONTOSO\\CLU2$", ["GenericAll"], True, False])
    result = run(capsys, CLU2)
    assert [c for _e, c, _p in writes(directory)] == ["Add-ADPermission"]
    assert any(line.startswith("deny ACE on %s: CONTOSO\\CLU2$ Deny GenericAll" % CMS1) for line in result["drift"])
    assert any(a[2] for a in directory.objects[CMS1]["aces"])  # the deny ACE is still there
    again = run(capsys, CLU2)
    assert not again["changed"] and again["reason"].startswith("not fixable by the module: deny ACE")


def test_unknown_object_and_principal(directory, capsys):
    missing = run(capsys, dict(CLU2, identity="CMS9"))
    assert missing["failed"] and missing["msg"].startswith("identity: no Active Directory object CMS9")
    nobody = run(capsys, dict(CLU2, principal="CONTOSO\\CLU9$"))
    assert nobody["failed"] and nobody["msg"].startswith("principal: no security principal CONTOSO\\CLU9$")
    assert writes(directory) == []


def test_exchange_error_on_write_is_reported_with_the_failed_action(directory, capsys, monkeypatch):
    def refuse(self, p):
        raise ExchangeCommandError("Add-ADPermission", "ADOperationException", "WriteError", CMS1,
                                   "Insufficient access rights to perform the operation.", None)
    monkeypatch.setattr(FakeClient, "do_Add_ADPermission", refuse)
    result = run(capsys, CLU2)
    assert result["failed"] and "Insufficient access rights" in result["msg"]
    assert result["actions"][0]["status"] == "failed" and result["changed"] is False
    assert result["error"]["error_id"] == "ADOperationException"


@pytest.mark.parametrize("args, message", [
    ({"access_rights": ["FullControl"]}, "access_rights: 'FullControl' is not an ActiveDirectoryRights value"),
    ({"access_rights": []}, "access_rights must name at least one right"),
    ({"identity": "  "}, "identity must name the computer object"),
    ({"principal": ""}, "principal must name the account to grant"),
    ({"organizational_unit": COMPUTERS}, "organizational_unit is used only with prestage=true"),
    ({"prestage": True}, "prestage is for the cluster name object of an Exchange 2010+ DAG"),
    ({"prestage": True, "exchange_version": "2019", "state": "absent"}, "prestage creates the DAG's computer account "
                                                                        "and works only with state=present"),
    ({"prestage": True, "exchange_version": "2019", "identity": "DAG-NAME-TOO-LONG"},
     "identity: 'DAG-NAME-TOO-LONG' is not a computer name"),
    ({"prestage": True, "exchange_version": "2019", "organizational_unit": "Exchange DAGs"},
     "organizational_unit: 'Exchange DAGs' is not a distinguished name"),
    ({"prestage": True, "exchange_version": "2019", "identity": "CN=DAG2,OU=A,DC=contoso,DC=com",
      "organizational_unit": "OU=B,DC=contoso,DC=com"}, "organizational_unit OU=B,DC=contoso,DC=com differs from"),
])
def test_bad_input_fails_naming_the_option(directory, capsys, args, message):
    result = run(capsys, dict(CLU2, **args))
    assert result["failed"] and result["msg"].startswith(message), result["msg"]
    assert directory.calls == [] and result["changed"] is False


def test_missing_required_option_is_ansibles_message(directory, capsys):
    result = run(capsys, {"identity": "CMS1"})
    assert result["failed"] and "principal" in result["msg"] and directory.calls == []


# ------------------------------------------------------------------------- module, prestage
DAG2 = {"identity": "DAG2", "principal": "CONTOSO\\EX01$", "prestage": True, "organizational_unit": COMPUTERS,
        "windows_connection": {"server": "dc01.contoso.com"}}


def test_prestage_check_mode_plans_account_then_ace(directory, capsys):
    result = run(capsys, DAG2, check=True)
    assert writes(directory) == [] and result["changed"]
    assert [(c, e) for e, c, _p in directory.calls] == [("Get-ADComputer", "windows")]
    assert [(a["cmdlet"], a["endpoint"]) for a in result["actions"]] == [("New-ADComputer", "windows"),
                                                                         ("Add-ADPermission", "exchange")]
    assert result["before"]["account"] is None
    assert result["after"]["account"] == {"dn": "CN=DAG2,%s" % COMPUTERS, "enabled": False}
    assert result["drift"][0].startswith("computer account DAG2 missing in %s" % COMPUTERS)


def test_prestage_creates_disabled_account_grants_then_idempotent(directory, capsys):
    result = run(capsys, DAG2)
    dn = "CN=DAG2,%s" % COMPUTERS
    assert writes(directory) == [
        ("windows", "New-ADComputer", {"Name": "DAG2", "SAMAccountName": "DAG2", "Enabled": False, "Path": COMPUTERS}),
        ("exchange", "Add-ADPermission", {"Identity": dn, "User": "CONTOSO\\EX01$", "AccessRights": ["GenericAll"],
                                          "Confirm": False})]
    assert directory.objects[dn]["enabled"] is False
    assert result["after"]["account"] == {"dn": dn, "enabled": False} and "runbooks §10.2" in result["reason"]
    again = run(capsys, DAG2)
    assert not again["changed"] and again["drift"] == [] and len(writes(directory)) == 2


def test_prestage_enabled_account_before_any_member_is_left_untouched(directory, capsys):
    directory.objects["CN=DAG3,%s" % COMPUTERS] = {"enabled": True, "aces": []}
    result = run(capsys, dict(DAG2, identity="DAG3"))
    assert not result["changed"] and writes(directory) == [] and result["actions"] == []
    assert [c for _e, c, _p in directory.calls] == ["Get-ADComputer", "Get-DatabaseAvailabilityGroup"]
    assert "is enabled although DAG DAG3 has no member yet (the DAG does not exist)" in result["drift"][0]
    assert "left untouched" in json.dumps(result["warnings"])


def test_prestage_enabled_cno_of_a_dag_with_members_is_fine(directory, capsys):
    result = run(capsys, dict(DAG2, identity="DAG1", principal="Exchange Trusted Subsystem"))
    assert not result["changed"] and result["drift"] == [] and result["identity"] == "CN=DAG1,%s" % COMPUTERS


def test_prestage_account_elsewhere_is_reported_not_moved(directory, capsys):
    result = run(capsys, dict(DAG2, identity="DAG1", principal="Exchange Trusted Subsystem",
                              organizational_unit="OU=DAGs,DC=contoso,DC=com"))
    assert not result["changed"] and writes(directory) == []
    assert result["drift"] == ["computer account DAG1 is in %s, not in organizational_unit OU=DAGs,DC=contoso,DC=com "
                               "(not moved)" % COMPUTERS]


def test_name_identity_is_resolved_through_the_windows_endpoint(directory, capsys):
    result = run(capsys, dict(CLU2, windows_connection={"server": "dc01.contoso.com"}))
    calls = [(e, c) for e, c, _p in directory.calls]
    assert calls[:2] == [("windows", "Get-ADComputer"), ("exchange", "Get-ADPermission")]
    assert directory.calls[1][2]["Identity"] == CMS1 and result["identity"] == CMS1


# ------------------------------------------------------------------------- adperm, pure parts
@pytest.mark.parametrize("aces, rights, state, add, remove, unfixable", [
    ([], ["GenericAll"], "present", ["GenericAll"], [], 0),
    ([["GenericAll", False, False]], ["GenericAll"], "present", [], [], 0),
    ([["GenericAll", False, True]], ["GenericAll"], "present", [], [], 0),  # inherited Full Control is enough
    ([["GenericAll", False, False]], ["ReadProperty", "WriteProperty"], "present", [], [], 0),
    ([["ReadProperty", False, False]], ["ReadProperty", "WriteProperty"], "present", ["WriteProperty"], [], 0),
    ([["GenericAll", True, False]], ["GenericAll"], "present", ["GenericAll"], [], 1),
    ([["GenericAll", False, False]], ["GenericAll"], "absent", [], ["GenericAll"], 0),
    ([["GenericAll", False, True]], ["GenericAll"], "absent", [], [], 1),
    ([["ReadProperty", False, False]], ["GenericAll"], "absent", [], [], 0),
    ([], ["GenericAll"], "absent", [], [], 0),
])
def test_ace_plan(aces, rights, state, add, remove, unfixable):
    rows = [{"object": CMS1, "user": "CONTOSO\\CLU2$", "access_rights": [r], "deny": d, "inherited": i}
            for r, d, i in aces]
    plan = adperm.ace_plan(adperm.ace_state(CMS1, "CONTOSO\\CLU2$", rows), rights, state)
    assert (plan["add"], plan["remove"], len(plan["unfixable"])) == (add, remove, unfixable)
    assert bool(plan["drift"]) == bool(add or remove or unfixable)


@pytest.mark.parametrize("account, ou, members, create, conflict, drift", [
    (None, None, None, True, False, 1),
    ({"dn": "CN=DAG2,%s" % COMPUTERS, "enabled": False}, COMPUTERS, None, False, False, 0),
    ({"dn": "CN=DAG2,%s" % COMPUTERS, "enabled": True}, None, None, False, True, 1),
    ({"dn": "CN=DAG2,%s" % COMPUTERS, "enabled": True}, None, [], False, True, 1),
    ({"dn": "CN=DAG2,%s" % COMPUTERS, "enabled": True}, None, ["EX01"], False, False, 0),
    ({"dn": "CN=DAG2,%s" % COMPUTERS, "enabled": False}, "OU=X,DC=contoso,DC=com", None, False, False, 1),
])
def test_account_plan(account, ou, members, create, conflict, drift):
    plan = adperm.account_plan("DAG2", account, ou, members)
    assert (plan["create"], bool(plan["conflict"]), len(plan["drift"])) == (create, conflict, drift)


def test_access_rights_canonical_and_deduplicated():
    assert adperm.access_rights(["genericall", "GenericAll", "readproperty, WriteProperty"]) == [
        "GenericAll", "ReadProperty", "WriteProperty"]


@pytest.mark.parametrize("value, expected", [
    ("CN=DAG2,OU=Exchange DAGs,DC=contoso,DC=com", ("DAG2", "OU=Exchange DAGs,DC=contoso,DC=com")),
    ("CN=A\\,B,CN=Computers,DC=contoso,DC=com", ("A,B", "CN=Computers,DC=contoso,DC=com")),
])
def test_dn_parts(value, expected):
    assert adperm.is_dn(value) and adperm.dn_name_and_parent(value) == expected


@pytest.mark.parametrize("value", ["CMS1", "Exchange DAGs", "CN=X", ""])
def test_not_a_dn(value):
    assert not adperm.is_dn(value)


def test_not_found_covers_2007_2010_and_the_ad_module():
    e2007 = ExchangeCommandError("Get-ADPermission", "F36D5B08", "NotSpecified", "CMS9", "…", "F36D5B08,Task",
                                 exception_type="Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException")
    assert adperm.not_found(e2007)
    assert adperm.not_found(not_found("Get-ADComputer", "X", "ActiveDirectoryCmdlet:Microsoft.ActiveDirectory."
                                                             "Management.ADIdentityNotFoundException"))
    assert not adperm.not_found(ExchangeCommandError("Get-ADPermission", "ADOperationException", None, None, "x", None))
