"""oab_share_scope: the pure decisions of module_utils/oab.py, input validation, and the module with fake
PowerShell Remoting clients (the ``psrp.Client`` seam for the Exchange 2007 session and
``dac.windows_client_for`` for the node / Client Access server sessions)."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange.dr.plugins.module_utils import dac, database, oab
from ansible_collections.exchange.dr.plugins.modules import oab_share_scope as m

PKG = "C:\\Updates\\Exchange2007-SP1-UR5-x64.msp"
GUID = "51be15ee-c928-594d-850b-a8e14c4073bf"
MSG = ("Process MSExchangeFDS.exe (PID=4285). Could not find directory \\\\CMS1\\ExchangeOAB\\%s. This is normal if "
       "it has never been generated. Otherwise, make sure this directory and share has read permission for "
       "\"Exchange Servers\" group." % GUID)


# ------------------------------------------------------------------------------------ pure
@pytest.mark.parametrize("names, expected", [
    ([], (0, None)),
    (["Update Rollup 4 for Exchange Server 2007 Service Pack 1"], (4, 1)),
    (["Update Rollup 4 for Exchange Server 2007 Service Pack 1 (KB952580)",
      "Update Rollup 5 for Exchange Server 2007 Service Pack 1 (KB953467)"], (5, 1)),
    (["Update Rollup 1 for Exchange Server 2007 Service Pack 2", "Update Rollup 9 for Exchange Server 2007 Service "
      "Pack 1"], (1, 2)),
    (["Security Update for something"], (0, None)),
])
def test_rollup_level(names, expected):
    assert oab.rollup_level(names) == expected


def test_versions_nodes_packages():
    assert oab.service_pack("Version 8.1 (Build 240.6)") == (8, 1)
    assert oab.service_pack(None) == (None, None)
    assert oab.active_node(["MBX1A <Active, Quorum Owner>", "MBX1B"]) == "MBX1A"
    assert oab.active_node(["MBX1A <Quorum Owner>", "MBX1B <Active>"]) == "MBX1B"
    assert oab.active_node(["MBX1A", "MBX1B"]) is None
    assert oab.valid_package(PKG) and oab.valid_package("\\\\fs01\\updates\\ru5.msp")
    assert not oab.valid_package("ru5.msp") and not oab.valid_package("C:\\x.exe") and not oab.valid_package("C:\\a\r\n.msp")


def test_fds_failures_since_generation_and_after_index():
    events = [{"Index": 3, "EventID": 1021, "Source": "MSExchangeFDS", "TimeGenerated": "2026-11-25T12:00:00Z",
               "Message": MSG},
              {"Index": 2, "EventID": 1000, "Source": "MSExchangeFDS", "TimeGenerated": "2026-11-25T11:00:00Z",
               "Message": "x"},
              {"Index": 1, "EventID": 1021, "Source": "MSExchangeFDS", "TimeGenerated": "2026-11-25T09:00:00Z",
               "Message": MSG}]
    assert [e["index"] for e in oab.fds_failures(events)] == [3, 1]
    assert [e["index"] for e in oab.fds_failures(events, since="2026-11-25T10:00:00+00:00")] == [3]
    assert oab.fds_failures(events, after_index=3) == []
    assert oab.newest_index(events) == 3
    assert oab.unc_of(MSG) == "\\\\CMS1\\ExchangeOAB\\" + GUID


def test_plan_below_ru5_blocked_without_permission():
    out = oab.plan("CMS1", 1, ["MBX1A", "MBX1B"], "MBX1A", {"MBX1A": 4, "MBX1B": 4}, {"CAS1": [], "CAS2": []},
                   None, False)
    assert out["install_on"] == [] and not out["regenerate"]
    assert "Update Rollup 5 or later on MBX1B, MBX1A" in out["blocked"]
    assert out["drift"][0].startswith("MBX1A (node of CMS1): Exchange 2007 SP1 Update Rollup 4, below Update Rollup 5")
    assert "\\\\MBX1A\\ExchangeOAB, a share scoped to the node name" in out["drift"][0]
    assert "once MBX1B is active" in out["drift"][1]
    assert out["before"]["share"] == {"unc": "\\\\MBX1A\\ExchangeOAB", "scope": "MBX1A",
                                      "access": "Exchange Servers: Read"}
    assert out["after"] == out["before"]


def test_plan_install_passive_first_and_predicted_after():
    failures = {"CAS1": [{"index": 1, "time": "t", "message": MSG}], "CAS2": []}
    out = oab.plan("CMS1", 1, ["MBX1A", "MBX1B"], "MBX1A", {"MBX1A": 4, "MBX1B": 4}, failures, PKG, True)
    assert out["install_on"] == ["MBX1B", "MBX1A"] and out["regenerate"] and out["blocked"] is None
    assert out["before"]["distribution"] == {"CAS1": "failing", "CAS2": "not_verified"}
    assert out["after"]["rollups"] == {"MBX1A": 5, "MBX1B": 5}
    assert out["after"]["share"]["unc"] == "\\\\CMS1\\ExchangeOAB"
    assert out["after"]["distribution"] == {"CAS1": "ok", "CAS2": "ok"}
    assert any("CAS1: MSExchangeFDS event 1021" in d and "Read for Exchange Servers" in d for d in out["drift"])


def test_plan_compliant_and_regenerate_only():
    ok = oab.plan("CMS1", 1, ["MBX1A", "MBX1B"], "MBX1A", {"MBX1A": 5, "MBX1B": 6}, {"CAS1": []}, None, False)
    assert ok["drift"] == [] and not ok["regenerate"] and ok["reason"].startswith("compliant")
    sp2 = oab.plan("CMS1", 2, ["MBX1A"], "MBX1A", {"MBX1A": 0}, {}, None, False)
    assert sp2["drift"] == [] and sp2["before"]["share"]["scope"] == "CMS1"
    stale = oab.plan("CMS1", 1, ["MBX1A"], "MBX1A", {"MBX1A": 5}, {"CAS1": [{"index": 9, "time": "t",
                                                                            "message": MSG}]}, None, False)
    assert stale["regenerate"] and not stale["install_on"] and "regenerate the OAB" in stale["reason"]


# ------------------------------------------------------------------------------- the module
class Org:
    def __init__(self, level=4, packages=(PKG,)):
        self.levels = {"MBX1A": level, "MBX1B": level}
        self.packages = packages
        self.events = {"CAS1": [], "CAS2": []}
        self.calls = []
        self.generated = "2026-11-25T10:00:00Z"
        self.published_to_cms = level >= 5

    def fds(self, cas):
        if not self.published_to_cms:
            log = self.events[cas]
            log.insert(0, {"Index": len(log) + 1, "EventID": 1021, "Source": "MSExchangeFDS",
                           "TimeGenerated": "2026-11-25T12:00:00Z", "EntryType": "Warning", "Message": MSG})


class FakeClient:
    def __init__(self, org, host=None):
        self.org, self.host, self.calls, self.warnings = org, host, [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass

    def invoke(self, cmdlet, params=None, select=None, errors="raise", input=None):  # pylint: disable=redefined-builtin
        params = dict(params or {})
        self.calls.append(cmdlet)
        self.org.calls.append((self.host or "exchange", cmdlet, params))
        rows = []
        if cmdlet == "Get-MailboxServer":
            rows = [{"Name": "CMS1", "RedundantMachines": ["MBX1A", "MBX1B"]}]
        elif cmdlet == "Get-ClusteredMailboxServerStatus":
            rows = [{"Identity": "CMS1", "State": "Online", "OperationalMachines": ["MBX1A <Active, Quorum Owner>",
                                                                                    "MBX1B"]}]
        elif cmdlet == "Get-ExchangeServer":
            rows = [{"Name": "CMS1", "AdminDisplayVersion": "Version 8.1 (Build 240.6)"}]
        elif cmdlet == "Get-OfflineAddressBook":
            rows = [{"Name": "Default Offline Address Book", "Guid": GUID, "Server": "CMS1",
                     "VirtualDirectories": ["CAS1\\OAB (Default Web Site)", "CAS2\\OAB (Default Web Site)"],
                     "LastTouchedTime": self.org.generated}]
        elif cmdlet == "Get-ItemProperty":
            level = self.org.levels[self.host]
            rows = [{"PSChildName": "AB", "DisplayName": "Update Rollup %d for Exchange Server 2007 Service Pack 1"
                     % level}] if level else []
        elif cmdlet == "Get-EventLog":
            rows = list(self.org.events[self.host])
        elif cmdlet == "Update-OfflineAddressBook":
            self.org.generated = "2026-11-25T11:00:00Z"
            self.org.published_to_cms = self.org.levels["MBX1A"] >= 5
        elif cmdlet == "Update-FileDistributionService":
            self.org.fds(params["Identity"])
        return (rows, []) if errors == "return" else rows

    def invoke_native(self, command, arguments):
        self.calls.append(command)
        self.org.calls.append((self.host, command, list(arguments)))
        if arguments[1] in self.org.packages:
            self.org.levels[self.host] = 5
        return [], []


@pytest.fixture
def org(monkeypatch):
    state = Org()

    def install(new):
        monkeypatch.setattr(database.Client, "from_module", classmethod(lambda cls, module: FakeClient(new)))
        monkeypatch.setattr(dac, "windows_client_for",
                            lambda module, server, connections: FakeClient(new, host=server["name"]))
        return new
    install(state)
    state.install = install
    return state


def run(capsys, args, check=False):
    base = {"server": "cas1.contoso.com", "username": "CONTOSO\\administrator", "password": "S3cret!", "auth": "basic",
            "_ansible_check_mode": check, "_ansible_diff": True, "clustered_mailbox_server": "CMS1"}
    with patch_module_args(dict(base, **args)):
        with pytest.raises(SystemExit):
            m.main()
    return json.loads(capsys.readouterr().out)


def writes(state):
    return [(host, cmdlet) for host, cmdlet, _p in state.calls if not cmdlet.startswith("Get-")]


def test_check_mode_reports_and_changes_nothing(org, capsys):
    result = run(capsys, {"rollup_package": PKG, "install_rollup": True}, check=True)
    assert result["changed"] and writes(org) == []
    assert [(a["cmdlet"], a["target"], a["status"]) for a in result["actions"]] == [
        ("msiexec.exe", "MBX1B", "planned"), ("msiexec.exe", "MBX1A", "planned"),
        ("Update-OfflineAddressBook", "Default Offline Address Book", "planned"),
        ("Update-FileDistributionService", "CAS1", "planned"), ("Update-FileDistributionService", "CAS2", "planned")]
    assert len(result["drift"]) == 2 and result["diff"]["after"]["share"]["unc"] == "\\\\CMS1\\ExchangeOAB"


def test_without_permission_fails_without_writes(org, capsys):
    result = run(capsys, {"rollup_package": PKG})
    assert result["failed"] and "install_rollup=true" in result["msg"] and writes(org) == []
    assert result["drift"] and result["reason"].startswith("OAB changes do not reach")


def test_install_verify_then_idempotent(org, capsys):
    result = run(capsys, {"rollup_package": PKG, "install_rollup": True})
    assert result["changed"] and not result.get("failed")
    assert writes(org) == [("MBX1B", "msiexec.exe"), ("MBX1A", "msiexec.exe"),
                           ("exchange", "Update-OfflineAddressBook"), ("exchange", "Update-FileDistributionService"),
                           ("exchange", "Update-FileDistributionService")]
    assert result["verification"] == {"CAS1": [], "CAS2": []}
    assert result["after"]["rollups"] == {"MBX1A": 5, "MBX1B": 5} and result["reason"].startswith("fixed")
    before = len(org.calls)
    again = run(capsys, {"rollup_package": PKG, "install_rollup": True})
    assert not again["changed"] and again["drift"] == [] and writes(org)[-1][1] == "Update-FileDistributionService"
    assert all(c.startswith("Get-") for _h, c, _p in org.calls[before:])


def test_wrong_package_level_fails(org, capsys):
    org.packages = ()
    result = run(capsys, {"rollup_package": "C:\\Updates\\old-ru3.msp", "install_rollup": True})
    assert result["failed"] and "reports Update Rollup 4" in result["msg"]


def test_verification_failure_names_share_and_access(org, capsys):
    org.levels = {"MBX1A": 5, "MBX1B": 5}
    org.events["CAS1"] = [{"Index": 1, "EventID": 1021, "Source": "MSExchangeFDS",
                           "TimeGenerated": "2026-11-25T12:00:00Z", "Message": MSG}]
    org.published_to_cms = False

    def broken_fds(cas):  # the share lacks Read for Exchange Servers: every copy fails
        log = org.events[cas]
        log.insert(0, {"Index": len(log) + 1, "EventID": 1021, "Source": "MSExchangeFDS",
                       "TimeGenerated": "2026-11-25T13:00:00Z", "Message": MSG})
    org.fds = broken_fds
    result = run(capsys, {})
    assert result["failed"] and "still fails" in result["msg"]
    assert "\\\\CMS1\\ExchangeOAB\\" + GUID in result["msg"] and "Read for Exchange Servers" in result["msg"]


@pytest.mark.parametrize("args, message", [
    ({"install_rollup": True}, "rollup_package"),
    ({"rollup_package": "ru5.exe"}, "rollup_package must be the path of an .msp package"),
    ({"clustered_mailbox_server": " "}, "clustered_mailbox_server must name"),
    ({"exchange_version": "2016"}, "exchange_version must be 2007"),
    ({"client_access_servers": [""]}, "client_access_servers must not contain empty names"),
    ({"windows_connections": {"CAS1": {"prot": 1}}}, "windows_connections.CAS1"),
])
def test_bad_input_fails_before_any_call(org, capsys, args, message):
    result = run(capsys, args)
    assert result["failed"] and message in result["msg"] and org.calls == []


def test_unknown_oab(org, capsys):
    result = run(capsys, {"offline_address_book": ["Other OAB"]})
    assert result["failed"] and "offline_address_book: no OAB generated by CMS1: Other OAB" in result["msg"]
    assert writes(org) == []
