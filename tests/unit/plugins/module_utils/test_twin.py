"""plugins/module_utils/twin.py: pseudonyms, supplement merge, completeness checks (pure logic)."""

from __future__ import annotations

import pytest

from ansible_collections.exchange.dr.plugins.module_utils import twin

TOPO = {
    "capture": {"format": twin.FORMAT, "version": twin.VERSION}, "name": "t",
    "org": {"name": "Contoso", "domain": "contoso.com", "netbios": "CONTOSO"},
    "users": [{"name": "CONTOSO\\administrator", "upn": "administrator@contoso.com", "roles": ["Organization Management"]}],
    "sites": [{"name": "DC1"}],
    "hosts": [{"name": "EX01", "kind": "exchange", "site": "DC1", "version": "2019", "ip": "10.1.1.11",
               "roles": ["Mailbox"], "fqdn": "ex01.contoso.com"},
              {"name": "EX02", "kind": "exchange", "site": "DC1", "version": "2019", "ip": "10.1.1.12", "roles": ["Mailbox"]},
              {"name": "FS01", "kind": "fileserver", "site": "DC1", "version": "WS2019", "ip": "10.1.1.20"}],
    "dags": [{"name": "DAG1", "members": ["EX01", "EX02"], "witness_server": "FS01",
              "witness_directory": "C:\\DAGFileShareWitnesses\\DAG1.contoso.com", "datacenter_activation_mode": "DagOnly"}],
    "databases": [{"name": "Mailbox", "copies": [{"server": "EX01", "preference": 1}], "edb_path": "D:\\Mailbox\\Mailbox.edb"}],
    "end_of_capture": True,
}


def test_pseudonyms_are_consistent_and_leave_enumerations_alone():
    out, mapping = twin.pseudonymise(TOPO)
    assert mapping["EX01"] == "XS01" and mapping["DAG1"] == "XG01" and mapping["contoso.com"] == "twin.example"
    assert out["hosts"][0]["fqdn"] == "XS01.twin.example"
    assert out["dags"][0]["members"] == ["XS01", "XS02"] and out["dags"][0]["witness_server"] == "XF01"
    assert out["dags"][0]["witness_directory"] == "C:\\DAGFileShareWitnesses\\XG01.twin.example"
    assert out["databases"][0]["name"] == "XDB001" and out["databases"][0]["edb_path"] == "D:\\XDB001\\XDB001.edb"
    assert out["hosts"][0]["roles"] == ["Mailbox"]  # a role, not the database called Mailbox
    assert out["users"][0] == {"name": "TWIN\\administrator", "upn": "administrator@twin.example",
                               "roles": ["Organization Management"]}
    assert out["capture"]["pseudonymised"] is True and TOPO["hosts"][0]["name"] == "EX01"  # input untouched


def test_given_pseudonyms_are_not_chained():
    out, _mapping = twin.pseudonymise(TOPO, {"EX01": "EX02"})
    assert out["dags"][0]["members"] == ["EX02", "XS01"]


@pytest.mark.parametrize("given,message", [
    ({"EX01": "SRV", "ex02": "srv"}, "pseudonym_map: EX01 and EX02 would both become"),
    ({"EX01": "XF01"}, "would both become 'XF01'"),  # the generated pseudonym of FS01
    ({"DAG1": "XS02"}, "would both become 'XS02'"),  # hosts and DAGs share a name space
    ({"EX99": "X"}, "pseudonym_map: ex99 is not a name of the captured organization"),
    ({"EX01": "bad name!"}, "pseudonym_map: 'bad name!' (for EX01) is not a usable name"),
])
def test_bad_pseudonyms(given, message):
    with pytest.raises(twin.TwinError, match=message.replace("(", r"\(").replace(")", r"\)")):
        twin.pseudonymise(TOPO, given)


def test_supplement_merges_by_name():
    out = twin.apply_supplement(TOPO, {"sites": [{"name": "dc1", "subnets": ["10.1.0.0/16"]}, {"name": "DC2"}],
                                       "hosts": [{"name": "EX02", "ip": "10.1.1.99"}]})
    assert out["sites"] == [{"name": "DC1", "subnets": ["10.1.0.0/16"]}, {"name": "DC2"}]
    assert out["hosts"][1]["ip"] == "10.1.1.99" and list(out)[-1] == "end_of_capture"
    with pytest.raises(twin.TwinError, match="supplement: 'capture' is written by the capture itself"):
        twin.apply_supplement(TOPO, {"capture": {"format": "x"}})


def test_incomplete_capture_names_the_host_and_the_option():
    topo = twin.apply_supplement(TOPO, {"hosts": [{"name": "FS02", "kind": "fileserver", "site": "DC1", "version": "WS2019"}]})
    with pytest.raises(twin.TwinError, match=r"host FS02: no IP address could be read .* supplement"):
        twin.check_complete(topo)


def test_render_puts_the_markers_first_and_last():
    text = twin.render(TOPO)
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert text.startswith("# Rehearsal twin written by exchange.dr.twin_capture")
    assert lines[0].startswith("capture: {format: exchange.dr/twin, version: 1")
    assert lines[-1] == "end_of_capture: true"
    assert "password:" not in text.lower()
