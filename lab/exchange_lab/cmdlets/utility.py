"""Utility cmdlets the engine provides in both configurations.

Select-Object, Measure-Object and Get-Command (a restricted Exchange session exposes these
as proxy functions), and Add-PSSnapin / Get-PSSnapin on ``Microsoft.PowerShell``.
Declarations: ``syntax/utility.py``.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Iterable

from .. import errors, psobj, syntax
from ..registry import EXCHANGE, POWERSHELL, Invocation, cmdlet

BOTH = (EXCHANGE, POWERSHELL)


def _wild(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _like(name: str, pattern: str) -> bool:
    """PowerShell wildcard match (case-insensitive)."""
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _first_type(obj: Any) -> str:
    return psobj.type_names(obj)[0]


# ---------------------------------------------------------------------------
# Select-Object
# ---------------------------------------------------------------------------


def _property_spec(item: Any) -> tuple[str, str] | None:
    """(label, source property) of a -Property entry: a name, or a hashtable whose
    Expression is a property name (script blocks cannot be evaluated)."""
    if isinstance(item, dict):
        label = expr = None
        for k, v in item.items():
            key = str(k).lower()
            if "name".startswith(key) or "label".startswith(key):
                label = str(v)
            elif "expression".startswith(key):
                expr = v
        if not isinstance(expr, str):
            return None
        return (label or expr, expr)
    return (str(item), str(item))


def _selected(obj: Any, specs: list[tuple[str, str]], exclude: list[str]) -> dict[str, Any]:
    names = psobj.prop_names(obj)
    out: dict[str, Any] = {}
    for label, source in specs:
        if _wild(source):
            for n in names:
                if _like(n, source) and n not in out:
                    out[n] = psobj.get_prop(obj, n)
        elif label not in out:
            out[label] = psobj.get_prop(obj, source)
    return {k: v for k, v in out.items() if not any(_like(k, e) for e in exclude)}


def _key(value: Any) -> Any:
    """A hashable comparison key for -Unique."""
    if hasattr(value, "PSObject") and not isinstance(value, (str, int, float)):
        return tuple((n.lower(), repr(_key(psobj.get_prop(value, n)))) for n in psobj.prop_names(value)) or str(value)
    if isinstance(value, list):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), repr(_key(v))) for k, v in value.items()))
    return value


def _window(items: list[Any], inv: Invocation) -> list[Any]:
    """-Index, -Skip, -First, -Last, -SkipLast."""
    if inv.has("Index"):
        idx = {i if i >= 0 else len(items) + i for i in inv.get("Index")}
        return [x for i, x in enumerate(items) if i in idx]
    if inv.has("SkipLast"):
        n = inv.get("SkipLast")
        return items[: max(len(items) - n, 0)]
    skip = inv.get("Skip", 0) or 0
    if inv.has("Last"):
        end = len(items) - skip
        last = items[max(end - inv.get("Last"), 0): max(end, 0)]
        if inv.has("First"):
            return items[skip: skip + inv.get("First")] + last
        return last
    items = items[skip:]
    if inv.has("First"):
        items = items[: inv.get("First")]
    return items


@cmdlet("Select-Object", syntax="utility", configurations=BOTH)
def select_object(inv: Invocation) -> Iterable[Any]:
    """Select-Object: project properties (as Selected.<type> PSCustomObjects), expand one,
    take a window of the input, drop duplicates."""
    items = list(inv.input)
    if inv.has("InputObject"):
        items = [inv.get("InputObject")]
    items = _window(items, inv)
    specs = [s for s in (_property_spec(p) for p in _as_list(inv.get("Property"))) if s]
    exclude = [str(e) for e in _as_list(inv.get("ExcludeProperty"))]
    expand = inv.get("ExpandProperty")
    out: list[Any] = []
    for obj in items:
        if expand is not None:
            out.extend(_expand(inv, obj, str(expand), specs, exclude))
        elif specs:
            props = _selected(obj, specs, exclude)
            types = [f"Selected.{_first_type(obj)}", *psobj.PSCUSTOMOBJECT_TYPES]
            out.append(psobj.custom_object(props, type_names=types))
        else:
            out.append(obj)
    if inv.get("Unique"):
        seen: set[Any] = set()
        unique = []
        for obj in out:
            k = _key(obj)
            if k not in seen:
                seen.add(k)
                unique.append(obj)
        out = unique
    return out


def _expand(inv: Invocation, obj: Any, name: str, specs: list[tuple[str, str]], exclude: list[str]) -> list[Any]:
    match = next((n for n in psobj.prop_names(obj) if n.lower() == name.lower()), None)
    if match is None and isinstance(obj, dict):
        match = next((str(k) for k in obj if str(k).lower() == name.lower()), None)
    if match is None:
        inv.write_error(
            errors.PSError(
                message=f'Property "{name}" cannot be found.',
                fqid="ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand",
                category=errors.INVALID_ARGUMENT,
                exception_types=[
                    "System.Management.Automation.PSArgumentException",
                    "System.ArgumentException",
                    "System.SystemException",
                    "System.Exception",
                ],
                target_object=obj,
            )
        )
        return []
    value = psobj.get_prop(obj, match)
    values = list(value) if isinstance(value, list) else [value]
    if specs:
        extra = _selected(obj, specs, exclude)
        for v in values:
            meta = getattr(v, "PSObject", None)
            if meta is not None:
                for k, pv in extra.items():
                    meta.extended_properties.append(psobj.PSNoteProperty(k, psobj.to_ps(pv)))
    return values


# ---------------------------------------------------------------------------
# Measure-Object
# ---------------------------------------------------------------------------

_GENERIC_TYPES = ["Microsoft.PowerShell.Commands.GenericMeasureInfo", "Microsoft.PowerShell.Commands.MeasureInfo"]
_TEXT_TYPES = ["Microsoft.PowerShell.Commands.TextMeasureInfo", "Microsoft.PowerShell.Commands.MeasureInfo"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _measure_error(message: str, fqid: str, category: int, target: Any = None) -> errors.PSError:
    return errors.PSError(
        message=message,
        fqid=f"{fqid},Microsoft.PowerShell.Commands.MeasureObjectCommand",
        category=category,
        exception_types=[
            "System.Management.Automation.PSInvalidOperationException",
            "System.InvalidOperationException",
            "System.SystemException",
            "System.Exception",
        ],
        target_object=target,
    )


def _values(inv: Invocation, prop: str | None) -> tuple[list[Any], bool]:
    items = [inv.get("InputObject")] if inv.has("InputObject") else list(inv.input)
    items = [x for x in items if x is not None]
    if prop is None:
        return items, True
    found = [psobj.get_prop(x, prop) for x in items if psobj.has_prop(x, prop)]
    return found, bool(found)


@cmdlet("Measure-Object", syntax="utility", configurations=BOTH)
def measure_object(inv: Invocation) -> Iterable[Any]:
    """Measure-Object: Count, and Sum/Average/Maximum/Minimum (GenericMeasure) or
    Lines/Words/Characters (TextMeasure) of the input or of its -Property values."""
    props: list[str | None] = [str(p) for p in _as_list(inv.get("Property"))] or [None]
    out = []
    for prop in props:
        values, found = _values(inv, prop)
        if not found and prop is not None:
            inv.write_error(
                _measure_error(
                    f'The property "{prop}" cannot be found in the input for any objects.',
                    "GenericMeasurePropertyNotFound",
                    errors.INVALID_ARGUMENT,
                    prop,
                )
            )
            continue
        if inv.parameter_set == "TextMeasure":
            out.append(_text_measure(inv, values, prop))
        else:
            measured = _generic_measure(inv, values, prop)
            if measured is not None:
                out.append(measured)
    return out


def _generic_measure(inv: Invocation, values: list[Any], prop: str | None) -> Any:
    stats: dict[str, Any] = {"Count": len(values), "Average": None, "Sum": None, "Maximum": None, "Minimum": None}
    if any(inv.get(s) for s in ("Sum", "Average", "Maximum", "Minimum")):
        numbers: list[float] = []
        for v in values:
            n = _number(v)
            if n is None:
                inv.write_error(
                    _measure_error(
                        f'Input object "{v}" is not numeric.', "NonNumericInputObject", errors.INVALID_ARGUMENT, v
                    )
                )
                return None
            numbers.append(n)
        if inv.get("Sum"):
            stats["Sum"] = float(sum(numbers))
        if inv.get("Average"):
            stats["Average"] = float(sum(numbers) / len(numbers)) if numbers else None
        if inv.get("Maximum"):
            stats["Maximum"] = max(numbers) if numbers else None
        if inv.get("Minimum"):
            stats["Minimum"] = min(numbers) if numbers else None
    stats["Property"] = prop
    return psobj.make_object(_GENERIC_TYPES, stats)


def _text_measure(inv: Invocation, values: list[Any], prop: str | None) -> Any:
    lines = words = chars = 0
    for v in values:
        text = str(v)
        lines += len([ln for ln in text.splitlines() if ln.strip() or not inv.get("IgnoreWhiteSpace")]) or 0
        words += len(text.split())
        chars += len("".join(text.split())) if inv.get("IgnoreWhiteSpace") else len(text)
    stats: dict[str, Any] = {
        "Lines": lines if inv.get("Line") else None,
        "Words": words if inv.get("Word") else None,
        "Characters": chars if inv.get("Character") else None,
        "Property": prop,
    }
    return psobj.make_object(_TEXT_TYPES, stats)


# ---------------------------------------------------------------------------
# Get-Command
# ---------------------------------------------------------------------------

_EXCHANGE_SNAPIN = "Microsoft.Exchange.Management.PowerShell.E2010"
_UTILITY_MODULES = {
    "Select-Object": "Microsoft.PowerShell.Utility",
    "Measure-Object": "Microsoft.PowerShell.Utility",
}


def _module_of(inv: Invocation, cdef: Any) -> str:
    if cdef.syntax == "utility":
        return _UTILITY_MODULES.get(cdef.name, "Microsoft.PowerShell.Core")
    if cdef.snapin:
        return cdef.snapin
    if cdef.syntax == "exchange":
        return _EXCHANGE_SNAPIN
    decl = syntax.get(cdef.syntax, cdef.name) or {}
    return str(decl.get("module", ""))


@cmdlet("Get-Command", syntax="utility", configurations=BOTH)
def get_command(inv: Invocation) -> Iterable[Any]:
    """Get-Command: the commands this session may run.  On Microsoft.Exchange the utility
    commands are proxy functions (CommandType Function), as in a restricted session."""
    from .. import engine

    names = [str(n) for n in _as_list(inv.get("Name"))]
    modules = [str(m) for m in _as_list(inv.get("Module"))]
    verbs = [str(v) for v in _as_list(inv.get("Verb"))]
    nouns = [str(n) for n in _as_list(inv.get("Noun"))]
    kinds = [k.strip().lower() for k in str(inv.get("CommandType") or "").split(",") if k.strip()]
    out = []
    for cdef in engine.visible_cmdlets(inv.session):
        verb, _, noun = cdef.name.partition("-")
        module = _module_of(inv, cdef)
        kind = "Function" if cdef.syntax == "utility" and inv.session.configuration == EXCHANGE else "Cmdlet"
        if names and not any(_like(cdef.name, n) for n in names):
            continue
        if modules and not any(_like(module, m) for m in modules):
            continue
        if verbs and not any(_like(verb, v) for v in verbs):
            continue
        if nouns and not any(_like(noun, n) for n in nouns):
            continue
        if kinds and "all" not in kinds and kind.lower() not in kinds:
            continue
        info_type = "System.Management.Automation.FunctionInfo" if kind == "Function" else "System.Management.Automation.CmdletInfo"
        out.append(
            psobj.make_object(
                [info_type, "System.Management.Automation.CommandInfo"],
                {"Name": cdef.name, "CommandType": kind, "ModuleName": module, "Source": module, "Visibility": "Public"},
                to_string=cdef.name,
            )
        )
    for n in names:
        if not _wild(n) and not any(_like(str(psobj.get_prop(o, "Name")), n) for o in out):
            inv.write_error(_command_not_found_for_get_command(n))
    total = inv.get("TotalCount")
    if total is not None and total >= 0:
        out = out[:total]
    return out


def _command_not_found_for_get_command(name: str) -> errors.PSError:
    err = errors.command_not_found(name)
    err.fqid = "CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand"
    return err


# ---------------------------------------------------------------------------
# Snap-ins (Microsoft.PowerShell)
# ---------------------------------------------------------------------------

SNAPIN_2007 = "Microsoft.Exchange.Management.PowerShell.Admin"
SNAPIN_2010 = "Microsoft.Exchange.Management.PowerShell.E2010"
_CORE_SNAPIN = "Microsoft.PowerShell.Core"


def host_snapins(host: Any) -> list[str]:
    """Snap-ins installed on a host: ``host.snapins`` when the model sets it, else the
    Exchange management snap-in of the host's Exchange version."""
    declared = getattr(host, "snapins", None)
    if declared is not None:
        return list(declared)
    if getattr(host, "kind", None) != "exchange":
        return []
    version = str(getattr(host, "version", ""))
    if version == "2007":
        return [SNAPIN_2007]
    if version.isdigit() and int(version) >= 2010:
        return [SNAPIN_2010]
    return []


def _snapin_info(name: str, default: bool = False) -> Any:
    return psobj.make_object(
        ["System.Management.Automation.PSSnapInInfo"],
        {
            "Name": name,
            "IsDefault": default,
            "PSVersion": "1.0" if name == SNAPIN_2007 else "2.0",
            "Description": "Windows PowerShell snap-in" if not default else "This Windows PowerShell snap-in contains cmdlets used to manage components of Windows PowerShell.",
        },
        to_string=name,
    )


def _snapin_error(message: str, fqid: str, target: str) -> errors.PSError:
    return errors.PSError(
        message=message,
        fqid=fqid,
        category=errors.INVALID_ARGUMENT,
        exception_types=[
            "System.Management.Automation.PSArgumentException",
            "System.ArgumentException",
            "System.SystemException",
            "System.Exception",
        ],
        target_name=target,
        target_type="String",
        target_object=target,
    )


@cmdlet("Add-PSSnapin", syntax="utility", configurations=(POWERSHELL,))
def add_pssnapin(inv: Invocation) -> Iterable[Any]:
    """Add-PSSnapin: load a snap-in the host has into the session."""
    installed = host_snapins(inv.host)
    out = []
    for name in (str(n) for n in _as_list(inv.get("Name"))):
        matches = [s for s in installed if _like(s, name)] if _wild(name) else [
            s for s in installed if s.lower() == name.lower()
        ]
        if not matches:
            if not _wild(name):
                inv.write_error(
                    _snapin_error(
                        f"The Windows PowerShell snap-in '{name}' is not installed on this computer.",
                        "AddPSSnapInRead,Microsoft.PowerShell.Commands.AddPSSnapinCommand",
                        name,
                    )
                )
            continue
        for snapin in matches:
            with inv.session.lock:
                already = snapin in inv.session.snapins
                inv.session.snapins.add(snapin)
            if already:
                inv.write_error(
                    _snapin_error(
                        f"Cannot add Windows PowerShell snap-in {snapin} because it is already added. "
                        "Verify the name of the snap-in, and then try again.",
                        "AddPSSnapInRead,Microsoft.PowerShell.Commands.AddPSSnapinCommand",
                        snapin,
                    )
                )
                continue
            if inv.get("PassThru"):
                out.append(_snapin_info(snapin))
    return out


@cmdlet("Get-PSSnapin", syntax="utility", configurations=(POWERSHELL,))
def get_pssnapin(inv: Invocation) -> Iterable[Any]:
    """Get-PSSnapin: loaded snap-ins (with -Registered: installed, non-default ones)."""
    if inv.get("Registered"):
        available = [(s, False) for s in host_snapins(inv.host)]
    else:
        available = [(_CORE_SNAPIN, True)] + [(s, False) for s in sorted(inv.session.snapins)]
    patterns = [str(n) for n in _as_list(inv.get("Name"))]
    out = []
    for name, default in available:
        if patterns and not any(_like(name, p) for p in patterns):
            continue
        out.append(_snapin_info(name, default))
    for p in patterns:
        if not _wild(p) and not any(_like(n, p) for n, _ in available):
            inv.write_error(
                _snapin_error(
                    f"No Windows PowerShell snap-ins matching the pattern '{p}' were found. Check the pattern "
                    "and then try the command again.",
                    "NoPSSnapInsFound,Microsoft.PowerShell.Commands.GetPSSnapinCommand",
                    p,
                )
            )
    return out
