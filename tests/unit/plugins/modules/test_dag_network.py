"""dag_network: the pure plan, input validation, and the module with a fake PowerShell Remoting client
(only the ``psrp.Client`` seam is faked; rows shaped as a remote session returns them)."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange.dr.plugins.module_utils import psrp
from ansible_collections.exchange.dr.plugins.modules import dag_network as m

WRITES = ("Set-", "New-")


def net(name, subnets, replication=True, ignore=False, description="", mapi=False):
    return {"name": name, "subnets": sorted(subnets), "description": description, "replication_enabled": replication,
            "ignore_network": ignore, "mapi_access_enabled": mapi}


EXISTING = [net("MapiDagNetwork", ["10.1.1.0/24", "10.2.1.0/24"], mapi=True),
            net("ReplicationDagNetwork01", ["10.1.2.0/24", "10.2.2.0/24"])]


# ------------------------------------------------------------------------------------ pure
def test_plan_sets_only_differing_properties_and_creates_missing():
    wanted = m.declared({"networks": [{"name": "MapiDagNetwork", "replication_enabled": False},
                                      {"name": "ReplicationDagNetwork01", "subnets": ["10.2.2.0/24", "10.1.2.0/24"]},
                                      {"name": "iSCSI", "subnets": ["10.1.9.0/24"], "replication_enabled": False,
                                       "ignore_network": True}]})
    out = m.plan("DAG1", True, False, None, wanted, EXISTING)
    assert out["commands"] == [
        ("Set-DatabaseAvailabilityGroupNetwork", {"Identity": "DAG1\\MapiDagNetwork", "ReplicationEnabled": False},
         "DAG1\\MapiDagNetwork"),
        ("New-DatabaseAvailabilityGroupNetwork", {"DatabaseAvailabilityGroup": "DAG1", "Name": "iSCSI",
                                                  "Subnets": ["10.1.9.0/24"], "ReplicationEnabled": False,
                                                  "IgnoreNetwork": True}, "DAG1\\iSCSI"),
    ]
    assert out["drift"] == ["DAG1\\MapiDagNetwork: ReplicationEnabled is true, should be false",
                            "DAG1\\iSCSI: missing (subnets 10.1.9.0/24)"]
    assert out["blocked"] is None
    assert out["before"]["networks"]["iSCSI"] is None
    assert out["after"]["networks"]["MapiDagNetwork"] == {"replication_enabled": False}


def test_plan_compliant_and_subnet_moves_predicted():
    same = m.declared({"name": "ReplicationDagNetwork01", "subnets": ["10.1.2.0/24", "10.2.2.0/24"],
                       "description": None, "replication_enabled": True, "ignore_network": None})
    assert m.plan("DAG1", True, False, True, same, EXISTING)["commands"] == []
    moved = m.declared({"networks": [{"name": "ReplicationDagNetwork01", "subnets": ["10.1.2.0/24"]},
                                     {"name": "New", "subnets": ["10.2.2.0/24"]}]})
    out = m.plan("DAG1", True, False, None, moved, EXISTING)
    assert out["after"]["networks"] == {"ReplicationDagNetwork01": {"subnets": ["10.1.2.0/24"]},
                                        "New": {"subnets": ["10.2.2.0/24"]}}


def test_plan_manual_configuration_first_and_blocked_without_it():
    wanted = m.declared({"name": "MapiDagNetwork", "replication_enabled": False})
    out = m.plan("DAG1", False, False, True, wanted, EXISTING)
    assert [c[0] for c in out["commands"]] == ["Set-DatabaseAvailabilityGroup", "Set-DatabaseAvailabilityGroupNetwork"]
    assert out["commands"][0][1] == {"Identity": "DAG1", "ManualDagNetworkConfiguration": True}
    blocked = m.plan("DAG1", False, False, None, wanted, EXISTING)
    assert "ManualDagNetworkConfiguration false" in blocked["blocked"] and "manual_configuration: true" in blocked["blocked"]


def test_plan_refuses_manual_configuration_on_2010_and_creation_without_subnets():
    with pytest.raises(m.Refused, match="Exchange 2010 has no ManualDagNetworkConfiguration"):
        m.plan("DAG1", None, True, True, [], EXISTING)
    out = m.plan("DAG1", None, True, None, m.declared({"name": "MapiDagNetwork", "replication_enabled": False}),
                 EXISTING)
    assert out["blocked"] is None and len(out["commands"]) == 1  # 2010: networks changed directly
    with pytest.raises(m.Refused, match="subnets: network Other does not exist"):
        m.plan("DAG1", True, False, None, m.declared({"name": "Other", "description": "x"}), EXISTING)


@pytest.mark.parametrize("params, message", [
    ({"name": "N", "subnets": ["10.1.2.5/24"]}, "is not a subnet ID"),
    ({"name": "N", "subnets": []}, "subnets must list at least one subnet ID"),
    ({"networks": [{"name": "A"}, {"name": "a"}]}, "declared twice"),
    ({"networks": [{"name": "A", "subnets": ["10.1.0.0/16"]}, {"name": "B", "subnets": ["10.1.0.0/16"]}]},
     "declared for both A and B"),
    ({"networks": []}, "at least one network"),
    ({"name": "DAG1\\X"}, "without a backslash"),
])
def test_declared_bad_input(params, message):
    full = {"name": None, "subnets": None, "description": None, "replication_enabled": None, "ignore_network": None,
            "networks": None}
    full.update(params)
    with pytest.raises(ValueError, match=message):
        m.declared(full)


# ------------------------------------------------------------------------------- the module
class FakeClient:
    def __init__(self, state):
        self.state = state
        self.calls = []
        self.warnings = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def invoke(self, cmdlet, params=None, select=None, errors="raise", input=None):  # pylint: disable=redefined-builtin
        self.calls.append((cmdlet, dict(params or {})))
        self.state["calls"].append((cmdlet, dict(params or {})))
        if cmdlet == "Get-DatabaseAvailabilityGroup":
            rows = [{"Name": "DAG1", "ManualDagNetworkConfiguration": self.state["manual"]}]
            return (rows, []) if errors == "return" else rows
        if cmdlet == "Get-DatabaseAvailabilityGroupNetwork":
            return [{"Identity": "DAG1\\%s" % n["name"], "Name": n["name"], "Description": n["description"],
                     "Subnets": ["{%s,Up}" % s for s in n["subnets"]], "Interfaces": [],
                     "MapiAccessEnabled": n["mapi_access_enabled"], "ReplicationEnabled": n["replication_enabled"],
                     "IgnoreNetwork": n["ignore_network"]} for n in self.state["networks"]]
        if cmdlet == "Set-DatabaseAvailabilityGroup":
            self.state["manual"] = params["ManualDagNetworkConfiguration"]
        elif cmdlet == "Set-DatabaseAvailabilityGroupNetwork":
            target = next(n for n in self.state["networks"] if "DAG1\\" + n["name"] == params["Identity"])
            target.update({key: params[prop] for key, prop in m.PROPERTIES if prop in params})
        elif cmdlet == "New-DatabaseAvailabilityGroupNetwork":
            self.state["networks"].append(net(params["Name"], params.get("Subnets", []),
                                              params.get("ReplicationEnabled", True)))
        return []


@pytest.fixture
def org(monkeypatch):
    state = {"manual": False, "networks": [dict(n) for n in EXISTING], "calls": []}
    monkeypatch.setattr(psrp.Client, "from_module", classmethod(lambda cls, module: FakeClient(state)))
    return state


def run(capsys, args, check=False):
    base = {"server": "ex01.contoso.com", "username": "CONTOSO\\administrator", "password": "S3cret!", "auth": "basic",
            "_ansible_check_mode": check, "_ansible_diff": True}
    with patch_module_args(dict(base, **args)):
        with pytest.raises(SystemExit):
            m.main()
    return json.loads(capsys.readouterr().out)


def writes(state):
    return [c for c, _p in state["calls"] if c.startswith(WRITES)]


def test_module_check_apply_idempotent(org, capsys):
    args = {"dag": "DAG1", "manual_configuration": True, "name": "MapiDagNetwork", "replication_enabled": False}
    planned = run(capsys, args, check=True)
    assert planned["changed"] and writes(org) == [] and [a["status"] for a in planned["actions"]] == ["planned"] * 2
    assert planned["diff"]["after"]["networks"]["MapiDagNetwork"] == {"replication_enabled": False}
    done = run(capsys, args)
    assert done["changed"] and writes(org) == ["Set-DatabaseAvailabilityGroup", "Set-DatabaseAvailabilityGroupNetwork"]
    reads = [c for c, _p in org["calls"] if c == "Get-DatabaseAvailabilityGroupNetwork"]
    assert len(reads) == 2  # one network read per run
    again = run(capsys, args)
    assert not again["changed"] and again["drift"] == [] and again["reason"].startswith("compliant")
    assert writes(org) == ["Set-DatabaseAvailabilityGroup", "Set-DatabaseAvailabilityGroupNetwork"]


def test_module_blocked_without_manual_configuration(org, capsys):
    result = run(capsys, {"dag": "DAG1", "name": "MapiDagNetwork", "replication_enabled": False})
    assert result["failed"] and "manual_configuration: true" in result["msg"] and writes(org) == []
    assert result["drift"] == ["DAG1\\MapiDagNetwork: ReplicationEnabled is true, should be false"]


def test_module_refuses_2010(org, capsys):
    org["manual"] = None  # Exchange 2010: the DAG has no ManualDagNetworkConfiguration
    result = run(capsys, {"dag": "DAG1", "manual_configuration": True})
    assert result["failed"] and "Exchange 2010 has no ManualDagNetworkConfiguration" in result["msg"]
    assert writes(org) == []


def test_module_bad_input_before_connecting(org, capsys):
    result = run(capsys, {"dag": "DAG1", "name": "N", "subnets": ["300.1.1.0/24"]})
    assert result["failed"] and "subnets" in result["msg"] and org["calls"] == []
    result = run(capsys, {"dag": "DAG1", "subnets": ["10.1.1.0/24"]})
    assert result["failed"] and "name" in result["msg"] and org["calls"] == []
