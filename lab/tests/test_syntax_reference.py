"""The lab's syntax declarations equal the shared reference data (sets, parameters,
mandatory flags, position order, switches, aliases, applicability)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exchange_lab import syntax

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REF = SHARED / "reference" / "cmdlets"

pytestmark = pytest.mark.skipif(not REF.is_dir(), reason=f"reference data not present at {REF}")


def _reference(table: str) -> dict[str, Any]:
    return json.loads((REF / f"{table}.json").read_text(encoding="utf-8"))


def _cases() -> list[tuple[str, str]]:
    if not REF.is_dir():
        return [("exchange", "<no reference>")]
    return [(t, name) for t in ("exchange", "windows") for name in _reference(t) if not name.startswith("_")]


def _position_order(s: dict[str, Any]) -> list[str]:
    positional = [p for p in s["parameters"] if p.get("position") is not None]
    return [p["name"] for p in sorted(positional, key=lambda p: p["position"])]


@pytest.fixture(scope="module")
def refs() -> dict[str, dict[str, Any]]:
    return {t: _reference(t) for t in ("exchange", "windows")}


@pytest.mark.parametrize(("table", "name"), _cases())
def test_declaration_matches_reference(refs: dict[str, dict[str, Any]], table: str, name: str) -> None:
    ref = refs[table][name]
    lab = syntax.get(table, name)
    assert lab is not None, f"{name} is not declared in syntax/{table}.json"
    assert lab.get("applies_to") == ref.get("applies_to")
    assert lab.get("docset") == ref.get("docset")
    assert lab["default_parameter_set"] == ref["default_parameter_set"]
    assert lab["risk_mitigation_parameters"] == ref["risk_mitigation_parameters"]
    assert [s["name"] for s in lab["parameter_sets"]] == [s["name"] for s in ref["parameter_sets"]]
    for lab_set, ref_set in zip(lab["parameter_sets"], ref["parameter_sets"]):
        where = f"{name} set {ref_set['name']}"
        assert lab_set.get("applicable") == ref_set.get("applicable"), where
        assert [p["name"] for p in lab_set["parameters"]] == [p["name"] for p in ref_set["parameters"]], where
        for lp, rp in zip(lab_set["parameters"], ref_set["parameters"]):
            for key in ("type", "mandatory", "switch"):
                assert lp[key] == rp[key], f"{where} -{rp['name']} {key}"
        assert _position_order(lab_set) == _position_order(ref_set), where
    assert set(lab["parameters"]) == set(ref["parameters"])
    for pname, rp in ref["parameters"].items():
        lp = lab["parameters"][pname]
        for key in ("type", "aliases", "applicable", "switch", "parameter_sets", "accepted_values", "pipeline_by"):
            assert lp.get(key) == rp.get(key), f"{name} -{pname} {key}"
        assert bool(lp.get("accepts_pipeline")) == bool(rp.get("accepts_pipeline")), f"{name} -{pname}"


def test_no_extra_cmdlets(refs: dict[str, dict[str, Any]]) -> None:
    for table in ("exchange", "windows"):
        expected = sorted(k for k in refs[table] if not k.startswith("_"))
        assert syntax.names(table) == expected


def test_common_parameters(refs: dict[str, dict[str, Any]]) -> None:
    for table in ("exchange", "windows"):
        assert syntax.common_parameters(table) == refs[table]["_meta"]["common_parameters"]
    assert syntax.common_parameters("utility") == refs["exchange"]["_meta"]["common_parameters"]


def test_lookup_ignores_case() -> None:
    assert syntax.get("exchange", "get-mailboxdatabasecopystatus") is syntax.get("exchange", "Get-MailboxDatabaseCopyStatus")
    assert syntax.canonical_name("windows", "get-clusternode") == "Get-ClusterNode"
    assert syntax.get("exchange", "Get-Nothing") is None


def test_utility_declarations_are_well_formed() -> None:
    for name in syntax.names("utility"):
        decl = syntax.get("utility", name)
        assert decl is not None
        set_names = [s["name"] for s in decl["parameter_sets"]]
        assert decl["default_parameter_set"] in set_names
        for s in decl["parameter_sets"]:
            for p in s["parameters"]:
                assert s["name"] in decl["parameters"][p["name"]]["parameter_sets"]
