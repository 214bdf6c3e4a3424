"""Building and reading the psrpcore objects the lab sends as cmdlet output.

A real Exchange server serializes .NET objects: their type chain goes in ``<TN>`` and
their (adapted) .NET properties in ``<Props>``.  :func:`make_object` builds exactly that.
PowerShell-made objects (``Select-Object`` output, ``[PSCustomObject]``) carry note
properties instead, in ``<MS>``: :func:`custom_object`.

Python value -> CLIXML, as psrpcore serializes it (``to_ps`` applies the lab's fixes):

=====================================  =====================================================
Python value                           CLIXML
=====================================  =====================================================
``None``                               ``<Nil/>``
``bool``                               ``<B>`` (Boolean)
``int`` within Int32                   ``<I32>``
``int`` outside Int32                  ``<I64>`` (``to_ps``/``ps_int64``; psrpcore alone would
                                       send a negative one as ``<I32>``)
``float``                              ``<Db>`` (``to_ps`` makes it ``PSDouble``; psrpcore alone
                                       sends ``<Sg>``, a Single)
``str``                                ``<S>``
``datetime.datetime``                  ``<DT>`` (aware UTC -> ``Z`` suffix, naive -> no zone)
``datetime.timedelta``                 ``<TS>`` (TimeSpan; ``ps_timespan``)
``uuid.UUID``                          ``<G>``
``list`` / ``tuple`` / ``set``         ``<Obj><TN>System.Collections.ArrayList</TN><LST>``
                                       (``to_ps`` turns tuples and sets into lists)
``dict``                               ``<Obj><TN>System.Collections.Hashtable</TN><DCT>``
``PSObject``                           ``<Obj>`` with its own ``<TN>``, ``<Props>``, ``<MS>``
=====================================  =====================================================

For an Exchange ``MultiValuedProperty`` use :func:`ps_list` with its type names.
"""

from __future__ import annotations

import datetime
from typing import Any, Iterable

from psrpcore.types import (
    PSCustomObject,
    PSDouble,
    PSInt64,
    PSList,
    PSNoteProperty,
    PSObject,
    PSUInt64,
)
from psrpcore.types._base import PSObjectMeta

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

PSCUSTOMOBJECT_TYPES = ["System.Management.Automation.PSCustomObject", "System.Object"]


def ps_int64(value: int) -> PSInt64:
    """An Int64 (``<I64>``) whatever the magnitude (e.g. sizes in bytes)."""
    return PSInt64(int(value))


def ps_timespan(value: datetime.timedelta | float) -> datetime.timedelta:
    """A TimeSpan (``<TS>``); a number is taken as seconds."""
    if isinstance(value, datetime.timedelta):
        return value
    return datetime.timedelta(seconds=float(value))


def to_ps(value: Any) -> Any:
    """Normalise a Python value so psrpcore serializes it as the matching .NET type."""
    if value is None or isinstance(value, (PSObject, bool, str, datetime.datetime, datetime.timedelta)):
        return value
    if isinstance(value, int):
        if INT32_MIN <= value <= INT32_MAX:
            return value
        if INT64_MIN <= value <= INT64_MAX:
            return PSInt64(value)
        return PSUInt64(value)
    if isinstance(value, float):
        return PSDouble(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_ps(v) for v in value]
    if isinstance(value, dict):
        return {k: to_ps(v) for k, v in value.items()}
    return value


def ps_list(items: Iterable[Any], type_names: list[str] | None = None) -> PSList:
    """A list (``<LST>``) with explicit .NET type names, e.g. a ``MultiValuedProperty``."""
    lst = PSList([to_ps(v) for v in items])
    if type_names:
        lst.PSObject.type_names = list(type_names)
    return lst


class Prop:
    """A property of a :class:`LabObject` (quacks like psrpcore's PSNoteProperty)."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.value = value

    def get_value(self, _obj: Any = None) -> Any:
        return self.value


class LabMeta:
    """What ``obj.PSObject`` offers on a :class:`LabObject`."""

    __slots__ = ("type_names", "adapted_properties", "extended_properties", "to_string")

    def __init__(self, type_names: list[str], adapted: list[Any], extended: list[Any], to_string: str | None) -> None:
        self.type_names = type_names
        self.adapted_properties = adapted
        self.extended_properties = extended
        self.to_string = to_string


class LabObject:
    """A cmdlet output object inside the lab.

    Cmdlets build these (cheap: plain Python); the protocol layer turns them into
    psrpcore objects once, when they are written to the wire (:func:`to_wire`), so
    a pipeline such as ``Get-MailboxDatabaseCopyStatus | Select-Object a,b`` never pays
    for serialising properties nobody asked for.
    """

    __slots__ = ("PSObject",)

    def __init__(self, type_names: list[str], adapted: list[Any], extended: list[Any], to_string: str | None = None) -> None:
        self.PSObject = LabMeta(type_names, adapted, extended, to_string)

    def __getattr__(self, name: str) -> Any:
        """Property access by name, as on psrpcore objects (``obj.Name``)."""
        value = get_prop(self, name, _MISSING)
        if value is _MISSING:
            raise AttributeError(name)
        return value

    def __str__(self) -> str:
        return self.PSObject.to_string if self.PSObject.to_string is not None else self.PSObject.type_names[0]

    def __repr__(self) -> str:
        return f"<LabObject {self.PSObject.type_names[0]} {self.PSObject.to_string or ''}>"


def make_object(type_names: list[str], props: dict[str, Any], to_string: str | None = None) -> LabObject:
    """A .NET object as a real server sends it: ``props`` become adapted properties
    (``<Props>``) in the given order, ``type_names`` the ``<TN>`` chain (most derived
    first; ``System.Object`` is appended when missing)."""
    names = list(type_names)
    if not names or names[-1] != "System.Object":
        names.append("System.Object")
    return LabObject(names, [Prop(str(k), v) for k, v in props.items()], [], to_string)


def custom_object(props: dict[str, Any], type_names: list[str] | None = None) -> LabObject:
    """A PSCustomObject whose ``props`` are note properties (``<MS>``)."""
    names = list(type_names) if type_names else list(PSCUSTOMOBJECT_TYPES)
    return LabObject(names, [], [Prop(str(k), v) for k, v in props.items()])


def to_wire(value: Any) -> Any:
    """Turn lab values (LabObjects, nested in lists/dicts too) into what psrpcore serializes."""
    if isinstance(value, LabObject):
        meta = value.PSObject
        obj = PSObject()
        obj.PSObject = PSObjectMeta(
            list(meta.type_names),
            adapted_properties=[PSNoteProperty(p.name, to_wire(p.get_value(value))) for p in meta.adapted_properties],
            extended_properties=[PSNoteProperty(p.name, to_wire(p.get_value(value))) for p in meta.extended_properties],
            rehydrate=False,
        )
        obj.PSObject._instance = obj
        if meta.to_string is not None:
            obj.PSObject.to_string = meta.to_string
        return obj
    if isinstance(value, PSList):
        out = PSList([to_wire(v) for v in value])
        out.PSObject.type_names = list(value.PSObject.type_names)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict) and not isinstance(value, PSObject):
        return {k: to_wire(v) for k, v in value.items()}
    return to_ps(value)


def prop_names(obj: Any) -> list[str]:
    """Property names of an object, adapted first then extended (no duplicates)."""
    meta = getattr(obj, "PSObject", None)
    if meta is None:
        return []
    seen: dict[str, None] = {}
    for p in [*meta.adapted_properties, *meta.extended_properties]:
        seen.setdefault(p.name, None)
    return list(seen)


_MISSING = object()


def get_prop(obj: Any, name: str, default: Any = None) -> Any:
    """The value of property ``name`` (case-insensitive; extended wins over adapted,
    as in PowerShell's ETS).  Dicts are looked up by key, case-insensitively."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if str(k).lower() == name.lower():
                return v
        return default
    meta = getattr(obj, "PSObject", None)
    if meta is None:
        return default
    lname = name.lower()
    for props in (meta.extended_properties, meta.adapted_properties):
        for p in props:
            if p.name.lower() == lname:
                return p.get_value(obj)
    return default


def has_prop(obj: Any, name: str) -> bool:
    """Whether the object has property ``name`` (case-insensitive)."""
    return get_prop(obj, name, _MISSING) is not _MISSING


def type_names(obj: Any) -> list[str]:
    """The object's .NET type names (for a primitive, its natural .NET type)."""
    meta = getattr(obj, "PSObject", None)
    if meta is not None and meta.type_names:
        return list(meta.type_names)
    if isinstance(obj, bool):
        return ["System.Boolean", "System.ValueType", "System.Object"]
    if isinstance(obj, int):
        return ["System.Int32", "System.ValueType", "System.Object"]
    if isinstance(obj, float):
        return ["System.Double", "System.ValueType", "System.Object"]
    if isinstance(obj, str):
        return ["System.String", "System.Object"]
    if isinstance(obj, datetime.datetime):
        return ["System.DateTime", "System.ValueType", "System.Object"]
    if isinstance(obj, datetime.timedelta):
        return ["System.TimeSpan", "System.ValueType", "System.Object"]
    return ["System.Object"]
