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
import re
import uuid
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
from psrpcore.types._base import PSObjectMeta, TypeRegistry
from psrpcore.types._serializer import _serialize_datetime, _serialize_duration, _serialize_string

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


# -- Writing pipeline output as CLIXML ----------------------------------------------------------
#
# ``to_clixml(value)`` gives the bytes psrpcore 0.3.1 would put in a PipelineOutput message for
# ``to_wire(value)`` (``serialize()`` then ``ElementTree.tostring(..., encoding="utf-8")``), written
# directly as text: same elements, attribute order, RefId / TN RefId numbering, escaping, empty
# element form (``<LST />``) and number formats.  Building ~55,000 psrpcore property objects and
# ElementTree elements per ``exchange_info`` run cost most of the lab's CPU; this path writes the
# same bytes about an order of magnitude faster.  Values it does not know (psrpcore objects other
# than plain numbers, enums, bytes, str subclasses, ...) make it return None and the caller falls
# back to psrpcore.  lab/tests/test_serialisation.py compares both paths byte for byte.


class _Unsupported(Exception):
    """A value the direct writer leaves to psrpcore."""


def _cdata(text: str) -> str:
    """ElementTree's ``_escape_cdata``."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _attrib(text: str) -> str:
    """ElementTree's ``_escape_attrib``."""
    text = _cdata(text)
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    if "\n" in text:
        text = text.replace("\n", "&#10;")
    if "\t" in text:
        text = text.replace("\t", "&#09;")
    return text


# The code points psrpcore's _serialize_string rewrites as _xHHHH_ (its _STRING_SERIAL_ESCAPE)
# plus "_" (an "_x" it escapes as _x005F_x): strings without any are written as they are.
_NEEDS_PS_ESCAPE = re.compile("[_\u0000-\u001f\u007f-\u009f\ud800-\ud8ff\udc00-\udfff\U00010000-\U0010ffff]")
_STRING_CACHE: dict[str, str] = {}
_STRING_CACHE_MAX = 65536
_NAME_CACHE: dict[str, str] = {}  # property name -> ' N="..."'
_TN_CACHE: dict[tuple[str, ...], str] = {}  # type names -> "<T>...</T><T>...</T>"


def _ps_text(value: str) -> str:
    """psrpcore's ``_serialize_string`` then ElementTree's text escaping (cached)."""
    text = _STRING_CACHE.get(value)
    if text is None:
        text = _serialize_string(value) if _NEEDS_PS_ESCAPE.search(value) else value
        text = _cdata(text)
        if len(_STRING_CACHE) >= _STRING_CACHE_MAX:
            _STRING_CACHE.clear()
        _STRING_CACHE[value] = text
    return text


def _n_attr(name: str) -> str:
    attr = _NAME_CACHE.get(name)
    if attr is None:
        attr = _NAME_CACHE[name] = ' N="%s"' % _attrib(_serialize_string(name))
    return attr


def _tn_body(names: Iterable[str]) -> str:
    key = tuple(names)
    body = _TN_CACHE.get(key)
    if body is None:
        body = _TN_CACHE[key] = "".join("<T>%s</T>" % _cdata(t) for t in key)
    return body


def _elem(tag: str, attr: str, text: str) -> str:
    """A leaf element as ElementTree writes it (an empty one as ``<tag />``)."""
    if text:
        return "<%s%s>%s</%s>" % (tag, attr, text, tag)
    return "<%s%s />" % (tag, attr)


# psrpcore number types the lab uses, and their CLIXML element (psrpcore's TypeRegistry).
_PS_NUMBER_TAGS = {
    ps_type: tag
    for tag, ps_type in TypeRegistry().element_registry.items()
    if tag in ("By", "SB", "U16", "I16", "U32", "I32", "U64", "I64", "Sg", "Db")
}
_LIST_TYPES = tuple(PSList.PSObject.type_names)
_DICT_TYPES = ("System.Collections.Hashtable", "System.Object")


class _ClixmlWriter:
    """One message's worth of CLIXML (RefIds and TN RefIds count from 0 per message)."""

    __slots__ = ("out", "ref_id", "tn_refs")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.ref_id = 0
        self.tn_refs: dict[str, int] = {}

    def _open_obj(self, attr: str, type_names: Iterable[str]) -> None:
        """``<Obj RefId=..>`` and its ``<TN>`` (or ``<TNRef>`` for a type seen before)."""
        out = self.out
        names = tuple(type_names)
        out.append('<Obj RefId="%d"%s>' % (self.ref_id, attr))
        self.ref_id += 1
        if names:
            main = names[0]
            ref = self.tn_refs.get(main)
            if ref is None:
                ref = self.tn_refs[main] = len(self.tn_refs)
                out.append('<TN RefId="%d">%s</TN>' % (ref, _tn_body(names)))
            else:
                out.append('<TNRef RefId="%d" />' % ref)

    def _props(self, tag: str, obj: Any, props: list[Any]) -> None:
        out = self.out
        out.append("<%s>" % tag)
        write = self.write
        for p in props:
            write(p.value if type(p) is Prop else p.get_value(obj), _n_attr(p.name))
        out.append("</%s>" % tag)

    def _items(self, tag: str, items: Iterable[Any]) -> None:
        out = self.out
        mark = len(out)
        out.append("<%s>" % tag)
        for item in items:
            self.write(item, "")
        if len(out) == mark + 1:
            out[mark] = "<%s />" % tag
        else:
            out.append("</%s>" % tag)

    def write(self, value: Any, attr: str) -> None:  # noqa: C901 - one dispatch on the value's type
        vtype = type(value)
        out = self.out
        if vtype is str:
            out.append(_elem("S", attr, _ps_text(value)))
        elif value is None:
            out.append("<Nil%s />" % attr)
        elif vtype is bool:
            out.append("<B%s>%s</B>" % (attr, "true" if value else "false"))
        elif vtype is int:
            if INT32_MIN <= value <= INT32_MAX:
                out.append("<I32%s>%d</I32>" % (attr, value))
            elif INT64_MIN <= value <= INT64_MAX:
                out.append("<I64%s>%d</I64>" % (attr, value))
            elif 0 <= value < 2**64:
                out.append("<U64%s>%d</U64>" % (attr, value))
            else:
                raise _Unsupported(vtype)
        elif vtype is LabObject:
            meta = value.PSObject
            self._open_obj(attr, meta.type_names)
            if meta.adapted_properties:
                self._props("Props", value, meta.adapted_properties)
            if meta.extended_properties:
                self._props("MS", value, meta.extended_properties)
            if meta.to_string:
                out.append("<ToString>%s</ToString>" % _cdata(meta.to_string))
            out.append("</Obj>")
        elif vtype is datetime.datetime:
            out.append(_elem("DT", attr, _cdata(_serialize_datetime(value))))
        elif vtype is datetime.timedelta:
            out.append(_elem("TS", attr, _cdata(_serialize_duration(value))))
        elif vtype is float:
            out.append(_elem("Db", attr, str(value).upper()))
        elif vtype in (list, tuple, set, frozenset):
            self._open_obj(attr, _LIST_TYPES)
            self._items("LST", value)
            out.append("</Obj>")
        elif vtype is PSList:
            meta = value.PSObject
            if meta.adapted_properties or meta.extended_properties:
                raise _Unsupported(vtype)
            self._open_obj(attr, meta.type_names)
            self._items("LST", value)
            out.append("</Obj>")
        elif vtype is dict:
            self._open_obj(attr, _DICT_TYPES)
            if value:
                out.append("<DCT>")
                for key, item in value.items():
                    if type(key) is not str:
                        raise _Unsupported(type(key))
                    out.append("<En>%s" % _elem("S", ' N="Key"', _ps_text(key)))
                    self.write(item, ' N="Value"')
                    out.append("</En>")
                out.append("</DCT>")
            else:
                out.append("<DCT />")
            out.append("</Obj>")
        elif vtype in _PS_NUMBER_TAGS:
            meta = value.PSObject
            if meta.adapted_properties or meta.extended_properties:
                raise _Unsupported(vtype)
            # to_ps leaves psrpcore numbers as they are; psrpcore writes int(value) or str(value)
            tag = _PS_NUMBER_TAGS[vtype]
            text = str(value).upper() if isinstance(value, float) else str(int(value))
            out.append("<%s%s>%s</%s>" % (tag, attr, text, tag))
        elif vtype is uuid.UUID:
            out.append("<G%s>%s</G>" % (attr, value))
        else:
            raise _Unsupported(vtype)


def to_clixml(value: Any) -> bytes | None:
    """The PipelineOutput message body psrpcore would write for ``to_wire(value)``, or None
    when ``value`` holds something only psrpcore knows how to write (then use ``to_wire``)."""
    writer = _ClixmlWriter()
    try:
        writer.write(value, "")
    except _Unsupported:
        return None
    return "".join(writer.out).encode("utf-8", "xmlcharrefreplace")
