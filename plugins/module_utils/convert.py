# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remote-deserialised PowerShell values to plain Python (and the typed readers of them).

Internal to exchange.dr: no stable API, for the collection's own modules only.

This file does not import pypsrp: it recognises pypsrp's ``GenericComplexObject`` by its
attributes (``adapted_properties``, ``extended_properties``, ``to_string``, ``types``,
``property_sets``).  Two layers:

* :func:`to_plain` / :func:`row`: generic, lossless enough for any object.  Enums become their
  member name, objects with properties become dicts, objects without properties their
  ToString, collections lists.  pypsrp leaves a collection whose .NET type it does not know
  (an Exchange ``MultiValuedProperty``) as the raw CLIXML of its ``<LST>``; that is parsed here.
* typed readers used by the property tables of ``exchange.py``: :func:`name`, :func:`names`,
  :func:`server_name`, :func:`enum`, :func:`flags`, :func:`to_bytes`, :func:`iso_datetime`,
  :func:`timespan_seconds`, :func:`timespan_text`, :func:`key_value_pairs`, :func:`integer`,
  :func:`boolean`, :func:`exchange_product`.  They accept what :func:`to_plain` produces and the
  raw pypsrp values alike, never ``str()`` a PowerShell object, and return a value they cannot
  parse unchanged (``timespan_seconds`` returns None) rather than fail a whole report.
"""

from __future__ import annotations

import base64
import datetime
import re
import uuid
import xml.etree.ElementTree as ET

UNLIMITED = "Unlimited"

_RAW_COLLECTIONS = ("<LST", "<IE", "<QUE", "<STK", "<DCT")


class PSObjectView:
    """A deserialised object parsed from raw CLIXML (same attributes as pypsrp's generic object)."""

    def __init__(self) -> None:
        self.types: list = []
        self.adapted_properties: dict = {}
        self.extended_properties: dict = {}
        self.to_string = None
        self.property_sets: list = []


def is_psobject(value) -> bool:
    return hasattr(value, "adapted_properties") and hasattr(value, "extended_properties")


def type_names(value) -> list:
    """The .NET type names of an object, without the ``Deserialized.`` prefix."""
    names = getattr(value, "types", None) or []
    return [t[len("Deserialized."):] if t.startswith("Deserialized.") else t for t in names]


def ps_properties(value) -> dict:
    """Adapted and extended properties of a deserialised object (extended win), unconverted."""
    props = dict(getattr(value, "adapted_properties", None) or {})
    props.update(getattr(value, "extended_properties", None) or {})
    return props


# --------------------------------------------------------------------------- raw CLIXML
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TEXT_TAGS = frozenset(("S", "ToString", "URI", "XD", "SBK", "DT", "TS", "Version", "D"))
_INT_TAGS = frozenset(("By", "SB", "U16", "I16", "U32", "I32", "U64", "I64"))
_LIST_TAGS = frozenset(("LST", "IE", "QUE", "STK"))
_MISSING = object()


def _unescape(text: str | None) -> str:
    """CLIXML string text: ``_xHHHH_`` escapes decoded (UTF-16 surrogate pairs joined)."""
    if not text:
        return ""
    if "_x" not in text:
        return text
    decoded = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if _SURROGATE.search(decoded):
        try:
            return decoded.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:  # a lone surrogate: keep the code point as sent
            return decoded
    return decoded


class _ClixmlReader:
    """One CLIXML document to Python values, resolving ``<Ref>`` and ``<TNRef>`` inside it.

    Primitives become Python values (``DT``/``TS``/``D`` stay text, ``G`` a string), a
    collection object without members (``MultiValuedProperty``, ``ArrayList``, ``Hashtable``)
    its list or dict, any other object a :class:`PSObjectView`.  These are the values
    :func:`to_plain` and the typed readers accept from pypsrp too.
    """

    __slots__ = ("objects", "type_refs")

    def __init__(self) -> None:
        self.objects: dict = {}
        self.type_refs: dict = {}

    def value(self, el):  # pylint: disable=too-many-return-statements
        tag = el.tag
        if tag in _TEXT_TAGS:
            return _unescape(el.text)
        if tag in _INT_TAGS:
            return int(el.text)
        if tag == "Obj":
            return self.obj(el)
        if tag == "Nil":
            return None
        if tag == "B":
            return (el.text or "").strip().lower() == "true"
        if tag in ("Sg", "Db"):
            return float(el.text)
        if tag == "G":
            return str(uuid.UUID(el.text))
        if tag == "Ref":
            return self.objects.get(el.get("RefId"))  # None for an object outside this document
        if tag == "C":
            return chr(int(el.text))
        if tag == "BA":
            return base64.b64decode(el.text or "")
        if tag in _LIST_TAGS:
            return [self.value(child) for child in el]
        if tag == "DCT":
            return self.dictionary(el)
        return None  # SecureString and unknown tags: not readable here

    def dictionary(self, el) -> dict:
        result = {}
        for entry in el:
            key = value = None
            for part in entry:
                if part.get("N") == "Key":
                    key = self.value(part)
                elif part.get("N") == "Value":
                    value = self.value(part)
            result[key] = value
        return result

    def obj(self, el):
        types: list = []
        adapted = extended = None
        to_string = None
        collection = _MISSING
        sets = []
        for child in el:
            tag = child.tag
            if tag == "MS" or tag == "Props":
                members = {member.get("N"): self.value(member) for member in child}
                if tag == "MS":
                    extended = members
                else:
                    adapted = members
            elif tag == "TN":
                types = [t.text or "" for t in child]
                self.type_refs[child.get("RefId")] = types
            elif tag == "TNRef":
                types = self.type_refs.get(child.get("RefId"), [])
            elif tag == "ToString":
                to_string = _unescape(child.text)
            elif tag in _LIST_TAGS:
                collection = [self.value(item) for item in child]
            elif tag == "DCT":
                collection = self.dictionary(child)
            else:
                sets.append(self.value(child))
        if collection is not _MISSING and adapted is None and extended is None:
            result = collection
        else:
            result = PSObjectView()
            result.types = types
            result.adapted_properties = adapted or {}
            result.extended_properties = extended or {}
            result.to_string = to_string
            result.property_sets = sets if collection is _MISSING else [collection] + sets
        ref = el.get("RefId")
        if ref is not None:
            self.objects[ref] = result
        return result


def parse_clixml(text: str):
    """Parse one CLIXML element (a pipeline output object, or a collection pypsrp left as
    text) to Python values: see :class:`_ClixmlReader`."""
    return _ClixmlReader().value(ET.fromstring(text))


# ------------------------------------------------------------------------ generic layer
def to_plain(value):
    """Any deserialised value to JSON-friendly Python: see the module docstring."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime.date):
        return iso_datetime(value)
    if isinstance(value, datetime.timedelta):
        return timespan_text(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(to_plain(k)): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in value]
    if hasattr(value, "queue"):  # queue.Queue from <QUE>
        return [to_plain(v) for v in list(value.queue)]
    if not is_psobject(value):
        return str(value)
    for item in getattr(value, "property_sets", None) or []:
        if isinstance(item, str) and item.lstrip().startswith(_RAW_COLLECTIONS):
            return to_plain(parse_clixml(item))
    if "System.Enum" in type_names(value):
        return value.to_string if value.to_string is not None else to_plain((value.property_sets or [None])[0])
    props = ps_properties(value)
    if props:
        return {k: to_plain(v) for k, v in props.items()}
    if value.to_string is not None:
        return value.to_string
    sets = getattr(value, "property_sets", None) or []
    return to_plain(sets[0]) if sets else None


def row(obj) -> dict:
    """One output object of a pipeline as a plain dict (a primitive output as ``{"Value": v}``)."""
    if is_psobject(obj):
        plain = to_plain(obj)
        return plain if isinstance(plain, dict) else {"Value": plain}
    return {"Value": to_plain(obj)}


# ------------------------------------------------------------------------ typed readers
def prop(value, key):
    """Property ``key`` of a dict or deserialised object, case-insensitive (missing: None)."""
    props = ps_properties(value) if is_psobject(value) else value
    if not isinstance(props, dict):
        return None
    if key in props:
        return props[key]
    lowered = key.lower()
    for k, v in props.items():
        if str(k).lower() == lowered:
            return v
    return None


def _canonical_leaf(text: str) -> str:
    """``contoso.com/Configuration/Sites/DC1`` -> ``DC1`` (``\\/`` is an escaped slash)."""
    if "/" not in text:
        return text
    return re.split(r"(?<!\\)/", text)[-1].replace("\\/", "/")


def name(value):
    """An identity (ADObjectId object or string, canonical name, DN) to the object's name."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if value.upper().startswith("CN=") and "," in value:
            return re.split(r"(?<!\\),", value, maxsplit=1)[0][3:].replace("\\,", ",")
        return _canonical_leaf(value)
    if is_psobject(value) or isinstance(value, dict):
        found = prop(value, "Name")
        if found:
            return to_plain(found)
        to_string = getattr(value, "to_string", None)
        if to_string:
            return name(to_string)
        dn = prop(value, "DistinguishedName")
        return name(dn) if dn else None
    return to_plain(value)


def as_list(value) -> list:
    if value is None:
        return []
    if is_psobject(value):
        value = to_plain(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def names(value) -> list:
    """A multi-valued identity (MultiValuedProperty<ADObjectId>, array) to a list of names."""
    return [n for n in (name(v) for v in as_list(value)) if n is not None]


_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def server_name(value):
    """A server identity to its short (NetBIOS) name: FQDNs lose their domain suffix."""
    found = name(value)
    if isinstance(found, str) and "." in found and not _IPV4.match(found) and ":" not in found:
        return found.split(".", 1)[0]
    return found


def server_names(value) -> list:
    return [n for n in (server_name(v) for v in as_list(value)) if n is not None]


def enum(value):
    """An enum (object with ToString, int-backed, or already a string) to its member name."""
    if value is None:
        return None
    if is_psobject(value):
        if value.to_string is not None:
            return value.to_string
        return to_plain(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


def flags(value) -> list:
    """A flags enum (``"Mailbox, ClientAccess"``) or a list of members to a list of names."""
    result = []
    for item in as_list(value):
        member = enum(item)
        if isinstance(member, str):
            result.extend(part.strip() for part in member.split(",") if part.strip())
        elif member is not None:
            result.append(member)
    return result


_SIZE_BYTES = re.compile(r"\(\s*([\d,.\s]+?)\s*bytes?\s*\)", re.IGNORECASE)
_SIZE_UNIT = re.compile(r"^([\d,]*\.?\d+)\s*(B|KB|MB|GB|TB|PB)?$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4, "PB": 1024 ** 5}


def to_bytes(value):
    """A ByteQuantifiedSize (``1.492 GB (1,601,896,448 bytes)``, ``500MB``, an int) to bytes.

    ``Unlimited`` (an ``Unlimited<ByteQuantifiedSize>`` with no limit) is returned as the string
    ``Unlimited``: it is what the Set-* cmdlets take back.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return int(value)
    if is_psobject(value) or isinstance(value, dict):
        if prop(value, "IsUnlimited") is True:
            return UNLIMITED
        inner = prop(value, "Value")
        if inner is not None:
            return to_bytes(inner)
        to_string = getattr(value, "to_string", None)
        return to_bytes(to_string) if to_string is not None else value
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() == "unlimited":
        return UNLIMITED
    match = _SIZE_BYTES.search(text)
    if match:
        return int(re.sub(r"[,.\s]", "", match.group(1)))
    match = _SIZE_UNIT.match(text)
    if match:
        return int(float(match.group(1).replace(",", "")) * _UNITS[(match.group(2) or "B").upper()])
    return value


_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")
_DISPLAY_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y")


def iso_datetime(value):
    """A DateTime (CLIXML ``<DT>`` text, a datetime, or US display text) to ISO-8601."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if is_psobject(value):
        value = value.to_string
    if not isinstance(value, str):
        return value
    text = value.strip()
    match = _ISO.match(text)
    if match:
        day, clock, fraction, zone = match.groups()
        if len(clock) == 5:
            clock += ":00"
        micro = ("." + (fraction + "000000")[:6]) if fraction else ""
        if zone == "Z":
            zone = "+00:00"
        elif zone and ":" not in zone:
            zone = zone[:3] + ":" + zone[3:]
        return datetime.datetime.fromisoformat("%sT%s%s%s" % (day, clock, micro, zone or "")).isoformat()
    for fmt in _DISPLAY_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    return value


_DURATION = re.compile(r"^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
_DOTNET_SPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$")


def timespan_seconds(value):
    """A TimeSpan/EnhancedTimeSpan (``<TS>`` xs:duration ``P7D``, .NET text ``7.00:00:00``,
    a timedelta, a number of seconds) to seconds (float); None when not a time span."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)):
        return float(value)
    if is_psobject(value) or isinstance(value, dict):
        for key, factor in (("TotalSeconds", 1.0), ("Ticks", 1e-7)):
            found = prop(value, key)
            if isinstance(found, (int, float)) and not isinstance(found, bool):
                return float(found) * factor
        return timespan_seconds(getattr(value, "to_string", None))
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _DURATION.match(text)
    if match and text not in ("P", "-P", "PT", "-PT"):
        sign, days, hours, minutes, seconds = match.groups()
        total = int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
        return -total if sign else total
    match = _DOTNET_SPAN.match(text)
    if match:
        sign, days, hours, minutes, seconds, fraction = match.groups()
        total = (int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
                 + (int((fraction or "0").ljust(7, "0")) / 1e7))
        return -total if sign else total
    return None


def timespan_text(value):
    """A time span in .NET's constant format ``[-][d.]hh:mm:ss[.fffffff]`` (``7.00:00:00``)."""
    seconds = timespan_seconds(value)
    if seconds is None:
        return None if value is None or value == "" else value
    ticks = int(round(abs(seconds) * 10_000_000))
    whole, fraction = divmod(ticks, 10_000_000)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = "%02d:%02d:%02d" % (hours, minutes, secs)
    if days:
        text = "%d.%s" % (days, text)
    if fraction:
        text += ".%07d" % fraction
    return ("-" + text) if seconds < 0 else text


_KVP_TEXT = re.compile(r"^\[(.*), (.*)\]$")


def key_value_pairs(value, convert=None) -> dict:
    """KeyValuePair<ADObjectId,T> items (``ActivationPreference``: ``[EX01, 1]``) or a
    hashtable to ``{name: value}``, in the order received; ``convert`` types each value."""
    convert = convert or to_plain
    if value is None:
        return {}
    single_pair = isinstance(value, dict) and set(k.lower() for k in map(str, value)) <= {"key", "value"}
    if isinstance(value, dict) and not single_pair:
        return {name(k): convert(v) for k, v in value.items()}
    result = {}
    for item in as_list(value):
        if isinstance(item, str):
            match = _KVP_TEXT.match(item.strip())
            if match:
                result[name(match.group(1))] = convert(match.group(2))
            continue
        key = prop(item, "Key")
        if key is None and getattr(item, "to_string", None):
            match = _KVP_TEXT.match(item.to_string)
            if match:
                result[name(match.group(1))] = convert(match.group(2))
            continue
        result[name(key)] = convert(prop(item, "Value"))
    return result


def integer(value):
    """An integer (int, integral float, ``"1,024"``); None stays None."""
    if value is None or value == "" or isinstance(value, bool):
        return None if value == "" else value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.match(r"^-?[\d,]+$", value.strip()):
        return int(value.strip().replace(",", ""))
    if is_psobject(value):
        return integer(to_plain(value))
    return value


def boolean(value):
    """A Boolean (``True``/``"True"``/``"Yes"``); None stays None."""
    if value is None or value == "" or isinstance(value, bool):
        return None if value == "" else value
    if isinstance(value, int):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
    return value


def text(value):
    """A plain string value; objects become their name or ToString."""
    if value is None or isinstance(value, str):
        return value
    if is_psobject(value) or isinstance(value, dict):
        return name(value)
    return to_plain(value)


_VERSION = re.compile(r"Version\s+(\d+)\.(\d+)\s*\(Build\s+(\d+)\.(\d+)\)", re.IGNORECASE)
_BUILD = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+)$")
# Exchange Server Subscription Edition keeps major.minor 15.2; its builds start at 2562.
_SE_FIRST_BUILD = 2562


def exchange_product(value) -> dict:
    """``AdminDisplayVersion`` (``Version 15.2 (Build 1544.4)``) to product and build.

    Returns ``{"product": "2019", "major": 15, "minor": 2, "build": "15.2.1544.4"}``; the values
    are None when the text is not a version.
    """
    shown = value.to_string if is_psobject(value) else value
    match = _VERSION.search(shown or "") if isinstance(shown, str) else None
    if match is None and isinstance(shown, str):
        match = _BUILD.match(shown.strip())
    if match is None:
        return {"product": None, "major": None, "minor": None, "build": None}
    major, minor, build, revision = (int(part) for part in match.groups())
    if major == 8:
        product = "2007"
    elif major == 14:
        product = "2010"
    elif major == 15:
        product = {0: "2013", 1: "2016", 2: "SE" if build >= _SE_FIRST_BUILD else "2019"}.get(minor)
    else:
        product = None
    return {"product": product, "major": major, "minor": minor,
            "build": "%d.%d.%d.%d" % (major, minor, build, revision)}
