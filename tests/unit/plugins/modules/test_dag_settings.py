"""dag_settings with a fake PowerShell Remoting client (only the ``psrp.Client`` seam is faked).

The fake holds one DAG as Get-DatabaseAvailabilityGroup shows it remotely (witnesses as FQDNs) and
applies Set-DatabaseAvailabilityGroup; the tests check the drift, the parameters sent (only the drifted
ones), check mode (no write), idempotence and bad input.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError
from ansible_collections.exchange.dr.plugins.modules import dag_settings


class FakeClient:
    def __init__(self, dags: dict) -> None:
        self.dags = dags
        self.calls: list = []
        self.warnings: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def invoke(self, cmdlet, params=None, select=None, errors="raise"):
        self.calls.append((cmdlet, dict(params or {})))
        dag = self.dags.get(params["Identity"].lower())
        if cmdlet == "Get-DatabaseAvailabilityGroup":
            if dag is None:
                error = ExchangeCommandError(cmdlet, "ManagementObjectNotFoundException", "NotSpecified",
                                             params["Identity"], "The operation couldn't be performed because "
                                             "object '%s' couldn't be found." % params["Identity"], None)
                if errors == "return":
                    return [], [error]
                raise error
            row = dict(dag)
            return ([row], []) if errors == "return" else [row]
        assert cmdlet == "Set-DatabaseAvailabilityGroup"
        for key, value in params.items():
            if key != "Identity":
                dag[key] = value + ".contoso.com" if key.endswith("WitnessServer") else value
        return []


@pytest.fixture
def client(monkeypatch):
    fake = FakeClient({"dag1": {"Name": "DAG1", "DatacenterActivationMode": "Off", "WitnessServer": "FS01.contoso.com",
                                "WitnessDirectory": "C:\\DAGFileShareWitnesses\\DAG1.contoso.com",
                                "AlternateWitnessServer": None, "AlternateWitnessDirectory": None}})
    monkeypatch.setattr(dag_settings.Client, "from_module", classmethod(lambda cls, module: fake))
    return fake


def run(capsys, args, check=False):
    base = {"server": "ex01.contoso.com", "username": "CONTOSO\\administrator", "password": "S3cret!", "auth": "basic",
            "_ansible_check_mode": check, "_ansible_diff": True}
    with patch_module_args(dict(base, **args)):
        with pytest.raises(SystemExit):
            dag_settings.main()
    return json.loads(capsys.readouterr().out)


def sets(client):
    return [params for cmdlet, params in client.calls if cmdlet.startswith("Set-")]


DESIRED = {"dag": "DAG1", "datacenter_activation_mode": "DagOnly", "alternate_witness_server": "FS02",
           "alternate_witness_directory": "C:\\DAGFileShareWitnesses\\DAG1.contoso.com"}


def test_check_mode_reports_drift_and_sends_nothing(client, capsys):
    result = run(capsys, DESIRED, check=True)
    assert result["changed"] is True and sets(client) == []
    assert result["drift"] == ["DAG1: DatacenterActivationMode is Off, should be DagOnly",
                               "DAG1: AlternateWitnessServer is not set, should be FS02",
                               "DAG1: AlternateWitnessDirectory is not set, should be "
                               "C:\\DAGFileShareWitnesses\\DAG1.contoso.com"]
    assert "would set" in result["reason"] and "split brain" in result["reason"]
    assert result["actions"][0]["status"] == "planned"
    assert result["after"]["datacenter_activation_mode"] == "DagOnly"
    assert result["diff"]["before"]["datacenter_activation_mode"] == "Off"


def test_apply_sends_only_the_drifted_settings_then_is_idempotent(client, capsys):
    result = run(capsys, {"dag": "DAG1", "datacenter_activation_mode": "DagOnly", "witness_server": "fs01"})
    assert result["changed"] is True
    assert sets(client) == [{"Identity": "DAG1", "DatacenterActivationMode": "DagOnly"}]  # FS01 = FS01.contoso.com
    assert result["after"] == {"datacenter_activation_mode": "DagOnly", "witness_server": "FS01.contoso.com"}
    client.calls.clear()
    again = run(capsys, DESIRED)
    assert sets(client) == [{"Identity": "DAG1", "AlternateWitnessServer": "FS02",
                             "AlternateWitnessDirectory": "C:\\DAGFileShareWitnesses\\DAG1.contoso.com"}]
    assert again["after"]["alternate_witness_server"] == "FS02.contoso.com"
    client.calls.clear()
    third = run(capsys, DESIRED)
    assert third["changed"] is False and sets(client) == [] and third["drift"] == []
    assert third["reason"].startswith("compliant")


def test_unknown_dag_fails_naming_the_option(client, capsys):
    result = run(capsys, {"dag": "DAG9", "datacenter_activation_mode": "DagOnly"})
    assert result["failed"] is True and result["msg"] == "dag: no database availability group DAG9"
    assert sets(client) == []


@pytest.mark.parametrize("args, message", [
    ({"dag": "DAG1"}, "one of the following is required"),
    ({"dag": "DAG1", "alternate_witness_server": " "}, "alternate_witness_server must not be empty"),
    ({"dag": "DAG1", "datacenter_activation_mode": "On"}, "datacenter_activation_mode"),
])
def test_bad_input_fails_before_any_session(client, capsys, args, message):
    result = run(capsys, args)
    assert result["failed"] is True and message in result["msg"]
    assert client.calls == []
