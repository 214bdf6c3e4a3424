"""Declarations of the utility cmdlets the engine itself implements.

Hand-written from Windows PowerShell 5.1's documented syntax, in the same shape as the
generated ``exchange.json`` / ``windows.json`` (see ``tools/gen_syntax.py``).  Only the
cmdlets of a restricted Exchange session that the lab implements are declared, plus
``Add-PSSnapin`` / ``Get-PSSnapin`` for the ``Microsoft.PowerShell`` configuration.
"""

from __future__ import annotations

from typing import Any

# (name, type, sets -> (mandatory, position), aliases, pipeline_by)
_P = tuple[str, str, dict[str, tuple[bool, int | None]], list[str], list[str]]


def _decl(default_set: str | None, sets: list[str], params: list[_P]) -> dict[str, Any]:
    parameter_sets = []
    for set_name in sets:
        members = []
        for name, typ, in_sets, _aliases, _pipe in params:
            if set_name in in_sets:
                mandatory, position = in_sets[set_name]
                members.append(
                    {"name": name, "type": typ, "mandatory": mandatory, "position": position,
                     "switch": typ == "SwitchParameter"}
                )
        entry: dict[str, Any] = {"name": set_name, "parameters": members}
        if set_name == default_set:
            entry["default"] = True
        parameter_sets.append(entry)
    parameters: dict[str, Any] = {}
    for name, typ, in_sets, aliases, pipe in params:
        parameters[name] = {
            "type": typ,
            "aliases": aliases,
            "applicable": None,
            "switch": typ == "SwitchParameter",
            "parameter_sets": list(in_sets),
            "accepts_pipeline": bool(pipe),
        }
        if pipe:
            parameters[name]["pipeline_by"] = pipe
    return {
        "source": "hand-written from Windows PowerShell 5.1 documentation",
        "default_parameter_set": default_set,
        "parameter_sets": parameter_sets,
        "parameters": parameters,
        "supports_common_parameters": True,
        "risk_mitigation_parameters": [],
    }


def _all(sets: list[str], mandatory: bool = False, position: int | None = None) -> dict[str, tuple[bool, int | None]]:
    return {s: (mandatory, position) for s in sets}


_SEL = ["DefaultParameter", "SkipLastParameter", "IndexParameter"]
_MEAS = ["GenericMeasure", "TextMeasure"]
_GCM = ["CmdletSet", "AllCommandSet"]

UTILITY: dict[str, dict[str, Any]] = {
    "Select-Object": _decl("DefaultParameter", _SEL, [
        ("InputObject", "PSObject", _all(_SEL), [], ["ByValue"]),
        ("Property", "Object[]", _all(_SEL[:2], position=0), [], []),
        ("ExcludeProperty", "String[]", _all(_SEL[:2]), [], []),
        ("ExpandProperty", "String", _all(_SEL[:2]), [], []),
        ("Unique", "SwitchParameter", _all(_SEL), [], []),
        ("Last", "Int32", _all(_SEL[:1]), [], []),
        ("First", "Int32", _all(_SEL[:1]), [], []),
        ("Skip", "Int32", _all(_SEL[:1]), [], []),
        ("SkipLast", "Int32", {"SkipLastParameter": (False, None)}, [], []),
        ("Wait", "SwitchParameter", {"DefaultParameter": (False, None), "IndexParameter": (False, None)}, [], []),
        ("Index", "Int32[]", {"IndexParameter": (False, None)}, [], []),
    ]),
    "Measure-Object": _decl("GenericMeasure", _MEAS, [
        ("InputObject", "PSObject", _all(_MEAS), [], ["ByValue"]),
        ("Property", "String[]", _all(_MEAS, position=0), [], []),
        ("Sum", "SwitchParameter", _all(_MEAS[:1]), [], []),
        ("Average", "SwitchParameter", _all(_MEAS[:1]), [], []),
        ("Maximum", "SwitchParameter", _all(_MEAS[:1]), [], []),
        ("Minimum", "SwitchParameter", _all(_MEAS[:1]), [], []),
        ("Line", "SwitchParameter", _all(_MEAS[1:]), [], []),
        ("Word", "SwitchParameter", _all(_MEAS[1:]), [], []),
        ("Character", "SwitchParameter", _all(_MEAS[1:]), [], []),
        ("IgnoreWhiteSpace", "SwitchParameter", _all(_MEAS[1:]), [], []),
    ]),
    "Get-Command": _decl("CmdletSet", _GCM, [
        ("Name", "String[]", {"AllCommandSet": (False, 0)}, [], ["ByValue", "ByPropertyName"]),
        ("Verb", "String[]", {"CmdletSet": (False, None)}, [], ["ByPropertyName"]),
        ("Noun", "String[]", {"CmdletSet": (False, None)}, [], ["ByPropertyName"]),
        ("Module", "String[]", _all(_GCM), ["PSSnapin"], ["ByPropertyName"]),
        ("FullyQualifiedModule", "ModuleSpecification[]", _all(_GCM), [], ["ByPropertyName"]),
        ("CommandType", "CommandTypes", {"AllCommandSet": (False, None)}, ["Type"], ["ByPropertyName"]),
        ("TotalCount", "Int32", _all(_GCM), [], ["ByPropertyName"]),
        ("Syntax", "SwitchParameter", _all(_GCM), [], ["ByPropertyName"]),
        ("ShowCommandInfo", "SwitchParameter", _all(_GCM), [], []),
        ("ArgumentList", "Object[]", _all(_GCM, position=1), ["Args"], []),
        ("All", "SwitchParameter", _all(_GCM), [], ["ByPropertyName"]),
        ("ListImported", "SwitchParameter", _all(_GCM), [], ["ByPropertyName"]),
        ("ParameterName", "String[]", _all(_GCM), [], []),
        ("ParameterType", "PSTypeName[]", _all(_GCM), [], []),
    ]),
    "Add-PSSnapin": _decl("__AllParameterSets", ["__AllParameterSets"], [
        ("Name", "String[]", _all(["__AllParameterSets"], mandatory=True, position=0), [], ["ByPropertyName"]),
        ("PassThru", "SwitchParameter", _all(["__AllParameterSets"]), [], []),
    ]),
    "Get-PSSnapin": _decl("__AllParameterSets", ["__AllParameterSets"], [
        ("Name", "String[]", _all(["__AllParameterSets"], position=0), [], []),
        ("Registered", "SwitchParameter", _all(["__AllParameterSets"]), [], []),
    ]),
}
