"""PowerShell parameter binding against the lab's syntax declarations.

``bind(decl, raw_params, cmdlet=..., version=...)`` does what PowerShell's parameter
binder does with the ``(name | None, value)`` pairs a PSRP client sends, following the
steps of the reference README ("Validating a call"):

1. named parameters: case-insensitive; full name, alias, or a prefix that matches one
   parameter only (an exact name/alias match wins; on an ambiguous prefix, a single
   cmdlet parameter wins over common parameters, as in PowerShell's
   ``MergedCommandParameterMetadata.GetMatchingParameter``).  Common parameters always,
   WhatIf/Confirm only when the cmdlet lists them.  ``ProgressAction`` (PowerShell 7.4)
   never exists; on Exchange 2010 (PowerShell 2.0) and in Exchange 2007's snap-in
   (PowerShell 1.0, version ``"Exchange Server 2007"``) neither do InformationAction,
   InformationVariable (5.0) nor PipelineVariable (4.0).
2. version applicability: with ``version`` (e.g. ``"Exchange Server 2013"``) a parameter
   or set whose ``applicable`` omits it does not exist.  Without a version, parameters
   and sets that apply only to Exchange Online / cloud add-ons do not exist either (the
   lab is on-premises).
3. positional arguments bind, in order, to the unbound positional parameters of the
   still-possible sets by increasing position.
4. parameter set: candidates contain every supplied parameter; of those, the ones whose
   mandatory parameters were all supplied; a tie goes to the effective default set.

Effective default set (ties the documentation leaves open, see ``LAB_DEFAULT_SETS``):
the declared ``default_parameter_set``; else the lab's choice for the cmdlet; else, for a
cmdlet without a declared default, the set named ``Identity`` (Exchange's Get-/Set- tasks
declare ``DefaultParameterSetName = "Identity"``; this settles ``Get-Queue``,
``Get-Mailbox``, ``Get-MailboxDatabase`` ... called with no or only shared parameters).

Values: switches become ``True``/``False`` (``None`` = bare switch = ``True``); Boolean and
SwitchParameter parameters accept bools and numbers; integer parameters accept ints and
numeric strings; array / ``MultiValuedProperty`` parameters turn a scalar into a
one-element list; documented accepted values are checked (ValidateSet for string
parameters, enum conversion otherwise) and normalised to the documented spelling.
Everything else is passed through as the client sent it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import errors, syntax

# Ties the documentation leaves open, decided by the lab (see README "Validating a call").
# Get-ADPermission -Identity X matches both Owner and AccessRights; the real cmdlet lists
# the ACEs (AccessRights) unless -Owner is given, so AccessRights is the default.
LAB_DEFAULT_SETS: dict[str, str] = {
    "get-adpermission": "AccessRights",
}

ACTION_PREFERENCES = ["SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"]

_INT_TYPES: dict[str, tuple[str, int, int]] = {
    "int16": ("System.Int16", -(2**15), 2**15 - 1),
    "int32": ("System.Int32", -(2**31), 2**31 - 1),
    "int": ("System.Int32", -(2**31), 2**31 - 1),
    "int64": ("System.Int64", -(2**63), 2**63 - 1),
    "long": ("System.Int64", -(2**63), 2**63 - 1),
    "uint16": ("System.UInt16", 0, 2**16 - 1),
    "uint32": ("System.UInt32", 0, 2**32 - 1),
    "uint64": ("System.UInt64", 0, 2**64 - 1),
    "byte": ("System.Byte", 0, 255),
}
_STRING_TYPES = {"string", "system.string"}
_MULTI_VALUED = ("MultiValuedProperty", "Collection", "StringCollection")


@dataclass
class Bound:
    """The result of binding one command's parameters."""

    cmdlet: str
    parameter_set: str
    params: dict[str, Any] = field(default_factory=dict)   # canonical name -> value
    common: dict[str, Any] = field(default_factory=dict)   # common / risk-mitigation parameters

    def all_params(self) -> dict[str, Any]:
        """Cmdlet and common parameters together (what the audit log records)."""
        return {**self.params, **self.common}


@dataclass
class _Param:
    name: str
    type: str
    switch: bool
    aliases: list[str]
    common: bool
    accepted_values: list[str] | None = None


# ---------------------------------------------------------------------------
# Declaration view for one version
# ---------------------------------------------------------------------------


def _online_only(applicable: list[str] | None) -> bool:
    return bool(applicable) and not any(a.startswith("Exchange Server") for a in applicable)


def _applies(applicable: list[str] | None, version: str | None) -> bool:
    if applicable is None:
        return True
    if version is not None:
        return version in applicable
    return not _online_only(applicable)


def _common_params(decl: dict[str, Any], version: str | None) -> list[_Param]:
    meta = syntax.common_parameters()
    # Exchange 2010's endpoint runs PowerShell 2.0; Exchange 2007 SP1 runs in PowerShell 1.0
    old_ps = version in ("Exchange Server 2007", "Exchange Server 2010")
    out: list[_Param] = []
    for name, info in meta["common"].items():
        introduced = info.get("introduced")
        if introduced == "PowerShell 7.4":
            continue
        if old_ps and (introduced == "PowerShell 5.0" or name == "PipelineVariable"):
            continue
        out.append(_Param(name, info["type"], info["type"] == "SwitchParameter", list(info["aliases"]), True))
    risk = decl.get("risk_mitigation_parameters") or []
    for name, info in meta["risk_mitigation"].items():
        if name in risk:
            out.append(_Param(name, info["type"], True, list(info["aliases"]), True))
    return out


@dataclass
class _View:
    """The cmdlet as it exists on one version: its sets and its parameters."""

    sets: list[dict[str, Any]]                  # name, members (ordered names), mandatory, positional
    params: dict[str, _Param]                   # canonical name -> info (cmdlet params, then common)
    order: list[str]                            # matching order


_VIEWS: dict[tuple[int, str | None], tuple[dict[str, Any], _View]] = {}


def _view(decl: dict[str, Any], version: str | None) -> _View:
    """The (cached) view of a declaration on one version."""
    cached = _VIEWS.get((id(decl), version))
    if cached is not None and cached[0] is decl:
        return cached[1]
    view = _build_view(decl, version)
    _VIEWS[(id(decl), version)] = (decl, view)
    return view


def _build_view(decl: dict[str, Any], version: str | None) -> _View:
    pinfo = decl.get("parameters", {})
    live = {n for n, i in pinfo.items() if _applies(i.get("applicable"), version)}
    sets = []
    for s in decl.get("parameter_sets", []):
        if not _applies(s.get("applicable"), version):
            continue
        members = [p for p in s["parameters"] if p["name"] in live]
        positional = sorted(
            (p for p in members if p.get("position") is not None), key=lambda p: p["position"]
        )
        sets.append(
            {
                "name": s["name"],
                "members": [p["name"] for p in members],
                "mandatory": [p["name"] for p in members if p.get("mandatory")],
                "positional": [(p["position"], p["name"]) for p in positional],
            }
        )
    in_sets = {n for s in sets for n in s["members"]}
    params: dict[str, _Param] = {}
    for name, info in pinfo.items():
        if name in in_sets:
            params[name] = _Param(
                name,
                info.get("type", "Object"),
                bool(info.get("switch")),
                list(info.get("aliases") or []),
                False,
                info.get("accepted_values"),
            )
    for cp in _common_params(decl, version):
        params.setdefault(cp.name, cp)
    return _View(sets=sets, params=params, order=list(params))


# ---------------------------------------------------------------------------
# Name matching
# ---------------------------------------------------------------------------


def _match_name(view: _View, given: str, cmdlet: str) -> _Param:
    """Resolve a supplied parameter name the way PowerShell does."""
    name = given[1:] if given.startswith("-") else given
    low = name.lower()
    for pname in view.order:
        if pname.lower() == low:
            return view.params[pname]
    for pname in view.order:
        if any(a.lower() == low for a in view.params[pname].aliases):
            return view.params[pname]
    matches: list[_Param] = []
    for pname in view.order:
        p = view.params[pname]
        if pname.lower().startswith(low) and p not in matches:
            matches.append(p)
    for pname in view.order:
        p = view.params[pname]
        if any(a.lower().startswith(low) for a in p.aliases) and p not in matches:
            matches.append(p)
    if len(matches) > 1:
        own = [p for p in matches if not p.common]
        if len(own) == 1:
            return own[0]
        listing = "".join(f" -{p.name}" for p in matches)
        raise errors.parameter_binding(
            f"Parameter cannot be processed because the parameter name '{name}' is ambiguous. "
            f"Possible matches include:{listing}.",
            "AmbiguousParameter",
            cmdlet,
        )
    if not matches:
        raise errors.parameter_binding(
            f"A parameter cannot be found that matches parameter name '{name}'.",
            "NamedParameterNotFound",
            cmdlet,
        )
    return matches[0]


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


def _base_type(type_name: str) -> tuple[str, bool]:
    """(element type, is_array) of a declared type."""
    t = type_name.strip()
    if t.endswith("[]"):
        return t[:-2], True
    if t.split(".")[-1].startswith(_MULTI_VALUED) or t.endswith("Collection"):
        return t, True
    return t, False


def _short(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1].lower()


def _full_type(type_name: str) -> str:
    short = _short(type_name)
    if short in _INT_TYPES:
        return _INT_TYPES[short][0]
    if short in ("boolean", "bool"):
        return "System.Boolean"
    if short == "switchparameter":
        return "System.Management.Automation.SwitchParameter"
    if short == "string":
        return "System.String"
    return type_name


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _bool_value(p: _Param, value: Any, cmdlet: str) -> bool:
    """Boolean / SwitchParameter: bools and numbers only (PowerShell's rule)."""
    if value is None and p.switch:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    type_shown = type(value).__name__ if not isinstance(value, str) else "System.String"
    raise errors.parameter_transformation(
        f"Cannot process argument transformation on parameter '{p.name}'. Cannot convert value "
        f'"{type_shown}" to type "{_full_type(p.type)}". Boolean parameters accept only Boolean '
        "values and numbers, such as $True, $False, 1 or 0.",
        cmdlet,
    )


def _convert_error(p: _Param, value: Any, target_type: str, detail: str, cmdlet: str) -> errors.PSError:
    return errors.parameter_binding(
        f"Cannot bind parameter '{p.name}'. Cannot convert value \"{_display(value)}\" to type "
        f'"{target_type}". Error: "{detail}"',
        "CannotConvertArgumentNoMessage",
        cmdlet,
    )


def _int_value(p: _Param, value: Any, short: str, cmdlet: str) -> int:
    full, lo, hi = _INT_TYPES[short]
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            raise _convert_error(p, value, full, "Input string was not in a correct format.", cmdlet) from None
    else:
        raise _convert_error(p, value, full, "Input string was not in a correct format.", cmdlet)
    if not lo <= number <= hi:
        raise _convert_error(p, value, full, f"Value was either too large or too small for {_article(full)}.", cmdlet)
    return number


def _article(full: str) -> str:
    short = full.rsplit(".", 1)[-1]
    return f"an {short}" if short[0] in "AEIOUaeiou" else f"a {short}"


def _accepted(p: _Param, value: Any, elem_type: str, cmdlet: str) -> Any:
    """Check a value against documented accepted values; return the documented spelling."""
    allowed = p.accepted_values or []
    by_low = {a.lower(): a for a in allowed}
    text = _display(value)
    if _short(elem_type) in _STRING_TYPES:
        if text.lower() in by_low:
            return by_low[text.lower()]
        raise errors.parameter_validation(
            f"Cannot validate argument on parameter '{p.name}'. The argument \"{text}\" does not belong "
            f"to the set \"{','.join(allowed)}\" specified by the ValidateSet attribute. Supply an argument "
            "that is in the set and then try the command again.",
            "ParameterArgumentValidationError",
            cmdlet,
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    parts = [part.strip() for part in text.split(",")]
    bad = next((part for part in parts if part.lower() not in by_low), None)
    if bad is None:
        return ", ".join(by_low[part.lower()] for part in parts)
    raise _convert_error(
        p,
        value,
        elem_type,
        f"Unable to match the identifier name {bad} to a valid enumerator name. Specify one of the "
        f"following enumerator names and try again:\n{', '.join(allowed)}",
        cmdlet,
    )


def _scalar(p: _Param, value: Any, elem_type: str, cmdlet: str) -> Any:
    short = _short(elem_type)
    if p.switch or short in ("boolean", "bool", "switchparameter"):
        return _bool_value(p, value, cmdlet)
    if value is None:
        return None
    if short in _INT_TYPES:
        return _int_value(p, value, short, cmdlet)
    if p.accepted_values:
        return _accepted(p, value, elem_type, cmdlet)
    return value


def _coerce(p: _Param, value: Any, cmdlet: str) -> Any:
    """Light type coercion of one supplied value."""
    if p.name in ("ErrorAction", "WarningAction", "InformationAction"):
        return _action_preference(p, value, cmdlet)
    if p.switch:
        return _bool_value(p, value, cmdlet)
    if value is None:
        raise errors.parameter_binding(
            f"Missing an argument for parameter '{p.name}'. Specify a parameter of type "
            f"'{_full_type(p.type)}' and try again.",
            "MissingArgument",
            cmdlet,
        )
    elem, is_array = _base_type(p.type)
    if is_array:
        items = list(value) if isinstance(value, (list, tuple, set)) else [value]
        return [_scalar(p, v, elem, cmdlet) for v in items]
    return _scalar(p, value, elem, cmdlet)


def _action_preference(p: _Param, value: Any, cmdlet: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(ACTION_PREFERENCES):
        return ACTION_PREFERENCES[value]
    text = "" if value is None else str(value)
    for name in ACTION_PREFERENCES:
        if name.lower() == text.strip().lower():
            return name
    raise _convert_error(
        p,
        text,
        "System.Management.Automation.ActionPreference",
        f"Unable to match the identifier name {text} to a valid enumerator name. Specify one of the "
        f"following enumerator names and try again:\n{', '.join(ACTION_PREFERENCES)}",
        cmdlet,
    )


# ---------------------------------------------------------------------------
# Binding
# ---------------------------------------------------------------------------


def effective_default(decl: dict[str, Any], cmdlet: str, names: list[str]) -> str | None:
    """The set that wins a tie among ``names`` (see the module docstring)."""
    declared = decl.get("default_parameter_set")
    if declared in names:
        return declared
    lab = LAB_DEFAULT_SETS.get(cmdlet.lower())
    if lab in names:
        return lab
    if declared is None and "Identity" in names:
        return "Identity"
    return None


def _unresolved(cmdlet: str) -> errors.PSError:
    return errors.parameter_binding(
        "Parameter set cannot be resolved using the specified named parameters.",
        "AmbiguousParameterSet",
        cmdlet,
    )


def bind(
    decl: dict[str, Any],
    raw_params: list[tuple[str | None, Any]],
    *,
    cmdlet: str,
    version: str | None = None,
) -> Bound:
    """Bind ``raw_params`` (as psrpcore delivers them) to the cmdlet declared by ``decl``.

    Raises :class:`errors.PSError` (a ParameterBindingException record) on failure.
    """
    view = _view(decl, version)
    bound: dict[str, Any] = {}
    positional: list[Any] = []
    for name, value in raw_params:
        if name is None or name == "":
            positional.append(value)
            continue
        p = _match_name(view, str(name), cmdlet)
        if p.name in bound:
            raise errors.parameter_binding(
                f"Cannot bind parameter because parameter '{p.name}' is specified more than once. "
                "To provide multiple values to parameters that can accept multiple values, use the "
                'array syntax. For example, "-parameter value1,value2,value3".',
                "ParameterAlreadyBound",
                cmdlet,
            )
        bound[p.name] = _coerce(p, value, cmdlet)

    own = [n for n in bound if not view.params[n].common]
    candidates = [s for s in view.sets if all(n in s["members"] for n in own)]
    if not candidates:
        raise _unresolved(cmdlet)

    _bind_positional(decl, view, candidates, bound, positional, cmdlet)
    own = [n for n in bound if not view.params[n].common]
    candidates = [s for s in candidates if all(n in s["members"] for n in own)]

    chosen = _choose_set(decl, candidates, own, cmdlet)
    return Bound(
        cmdlet=cmdlet,
        parameter_set=chosen,
        params={n: v for n, v in bound.items() if not view.params[n].common},
        common={n: v for n, v in bound.items() if view.params[n].common},
    )


def _bind_positional(
    decl: dict[str, Any],
    view: _View,
    candidates: list[dict[str, Any]],
    bound: dict[str, Any],
    positional: list[Any],
    cmdlet: str,
) -> None:
    """Bind positional arguments in order to the next free position of the candidate sets."""
    last: Any = None
    for value in positional:
        slots: dict[Any, list[str]] = {}
        for s in candidates:
            for pos, pname in s["positional"]:
                if pname not in bound and (last is None or pos > last):
                    slots.setdefault(pos, [])
                    if pname not in slots[pos]:
                        slots[pos].append(pname)
        if not slots:
            raise errors.parameter_binding(
                f"A positional parameter cannot be found that accepts argument '{_display(value)}'.",
                "PositionalParameterNotFound",
                cmdlet,
            )
        last = min(slots)
        names = slots[last]
        pick = names[0]
        if len(names) > 1:
            default = effective_default(decl, cmdlet, [s["name"] for s in candidates])
            for s in candidates:
                if s["name"] == default:
                    pick = next((n for n in names if n in s["members"]), pick)
        bound[pick] = _coerce(view.params[pick], value, cmdlet)
        candidates[:] = [s for s in candidates if pick in s["members"]]


def _choose_set(decl: dict[str, Any], candidates: list[dict[str, Any]], own: list[str], cmdlet: str) -> str:
    """README steps 5 and 6."""
    names = [s["name"] for s in candidates]
    complete = [s for s in candidates if all(m in own for m in s["mandatory"])]
    if len(complete) == 1:
        return complete[0]["name"]
    if complete:
        default = effective_default(decl, cmdlet, [s["name"] for s in complete])
        if default is not None:
            return default
        raise _unresolved(cmdlet)
    if len(candidates) == 1:
        target = candidates[0]
    else:
        default = effective_default(decl, cmdlet, names)
        if default is None:
            raise _unresolved(cmdlet)
        target = next(s for s in candidates if s["name"] == default)
    missing = [m for m in target["mandatory"] if m not in own]
    raise errors.parameter_binding(
        "Cannot process command because of one or more missing mandatory parameters: "
        f"{' '.join(missing)}.",
        "MissingMandatoryParameter",
        cmdlet,
    )


def accepts_pipeline(decl: dict[str, Any], param: str, by: str | None = None) -> bool:
    """Whether ``param`` takes pipeline input (optionally ``ByValue`` / ``ByPropertyName``)."""
    info = decl.get("parameters", {}).get(param)
    if not info or not info.get("accepts_pipeline"):
        return False
    if by is None:
        return True
    return by in (info.get("pipeline_by") or ["ByValue"])


def match_names(
    decl: dict[str, Any],
    raw_params: list[tuple[str | None, Any]],
    *,
    cmdlet: str,
    version: str | None = None,
) -> list[str]:
    """Canonical names of the named parameters supplied (raises on unknown/ambiguous names)."""
    view = _view(decl, version)
    return [_match_name(view, str(n), cmdlet).name for n, _ in raw_params if n]


def is_common(name: str) -> bool:
    """Whether ``name`` (canonical) is a common or risk-mitigation parameter."""
    meta = syntax.common_parameters()
    return name in meta["common"] or name in meta["risk_mitigation"]


def bind_common(
    decl: dict[str, Any],
    raw_params: list[tuple[str | None, Any]],
    *,
    cmdlet: str,
    version: str | None = None,
) -> dict[str, Any]:
    """Only the common / risk-mitigation parameters of a call (other names are skipped)."""
    view = _view(decl, version)
    out: dict[str, Any] = {}
    for name, value in raw_params:
        if not name:
            continue
        try:
            p = _match_name(view, str(name), cmdlet)
        except errors.PSError:
            continue
        if p.common:
            try:
                out[p.name] = _coerce(p, value, cmdlet)
            except errors.PSError:
                continue
    return out
