# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A records of client namespaces on a Windows DNS server (runbooks §5.4, §5.5 3c, §13).

Internal to exchange.dr: no stable API, for the collection's own modules only.

:func:`record_plan` is pure: from the records a name has and the ones wanted it computes the
changes and the time caches may keep the old answers (the largest TTL among the records changed or
removed).  The I/O functions send the DnsServer cmdlets of the DNS server's ``Microsoft.PowerShell``
endpoint with typed parameters: ``Get-DnsServerResourceRecord -ZoneName -Name -RRType A``;
``Set-DnsServerResourceRecord -ZoneName -OldInputObject -NewInputObject`` to change the data or TTL
of a record in place (runbooks §13); ``Add-DnsServerResourceRecordA`` for an address the name did
not have; ``Remove-DnsServerResourceRecord -RRType A -RecordData -Force`` for one it no longer has.
The record objects of ``Set-`` are sent as property tables (``HostName``, ``RecordType``,
``RecordClass``, ``RecordData.IPv4Address``, ``TimeToLive``), which is how the deserialised record
of a ``Get-`` travels back over PowerShell Remoting.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError

DEFAULT_TTL = 3600  # what a DNS server gives a new record when no TTL is sent (01:00:00)
NOT_FOUND = ("WIN32 9714",)  # "Failed to get <name> record in <zone> zone"


class DnsPlanError(ValueError):
    """Unusable input: the message names the option."""


def address(value, option: str = "data") -> str:
    """An IPv4 address in canonical form; :class:`DnsPlanError` naming ``option`` otherwise."""
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except ValueError:
        raise DnsPlanError("%s: %r is not an IPv4 address" % (option, value)) from None


def relative(name: str, zone: str) -> str:
    """``mail.contoso.com`` or ``mail`` in zone ``contoso.com`` -> ``mail``; the zone itself -> ``@``."""
    text = name.strip().rstrip(".")
    zone = zone.strip().rstrip(".")
    if text.lower() == zone.lower() or text == "@":
        return "@"
    suffix = "." + zone.lower()
    return text[: -len(suffix)] if text.lower().endswith(suffix) else text


def ttl_text(seconds: int) -> str:
    """Seconds as a .NET TimeSpan text (``00:05:00``), what ``-TimeToLive`` binds."""
    return c.timespan_text(seconds)


def normalise(row: dict) -> dict:
    """One ``Get-DnsServerResourceRecord`` output (A record) to ``{"name", "data", "ttl"}``."""
    data = c.prop(row.get("RecordData"), "IPv4Address") if isinstance(row.get("RecordData"), dict) else None
    if data is None:
        data = c.text(row.get("RecordData"))
    ttl = c.timespan_seconds(row.get("TimeToLive"))
    return {"name": c.text(row.get("HostName")), "data": data, "ttl": int(ttl) if ttl is not None else None}


# ------------------------------------------------------------------------- planning
def _sorted(records: list) -> list:
    return sorted(({"data": r["data"], "ttl": r["ttl"]} for r in records), key=lambda r: ipaddress.IPv4Address(r["data"]))


def record_plan(current: dict, names: list, data: list | None, ttl: int | None, state: str = "present") -> dict:
    """Changes that give each of ``names`` exactly the A records ``data`` with ``ttl``.

    ``current`` maps each name to its records (``{"data", "ttl"}``).  ``state=present``: records
    with the wanted data keep their place (their TTL is set when ``ttl`` is given); a record with an
    unwanted address is changed in place into a missing one (``set``), the remaining missing
    addresses are added and the remaining unwanted ones removed.  Without ``data`` only the TTL
    changes (the name must have records).  New records get ``ttl``, else the largest TTL the name
    had, else the server default.  ``state=absent`` removes the records with ``data`` (all when
    ``data`` is None).

    Returns ``{"changes", "before", "after", "old_ttl"}``: ``changes`` is a list of ``{"name",
    "action" (set/add/remove), "old", "new"}``; ``old_ttl`` is the largest TTL of a record changed or
    removed, i.e. how long resolvers may still hand out the old answer (0 when nothing changes).
    """
    if state not in ("present", "absent"):
        raise DnsPlanError("state must be present or absent, got %r" % state)
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1 or ttl > 2147483647):
        raise DnsPlanError("ttl: %r is not a number of seconds between 1 and 2147483647" % (ttl,))
    wanted = [address(d) for d in data] if data is not None else None
    if wanted is not None and len(set(wanted)) != len(wanted):
        raise DnsPlanError("data: an address is listed twice (%s)" % ", ".join(wanted))
    changes, before, after, old_ttl = [], {}, {}, 0
    for name in names:
        records = [{"data": address(r["data"], "record data"), "ttl": r.get("ttl")} for r in current.get(name) or []]
        before[name] = _sorted(records)
        if state == "absent":
            gone = [r for r in records if wanted is None or r["data"] in wanted]
            for r in gone:
                changes.append({"name": name, "action": "remove", "old": r, "new": None})
                old_ttl = max(old_ttl, r["ttl"] or 0)
            after[name] = _sorted([r for r in records if r not in gone])
            continue
        if wanted is None:
            if not records:
                raise DnsPlanError("name: %s has no A record to set the TTL of; give data to create it" % name)
            if ttl is None:
                raise DnsPlanError("give data, ttl or both for state=present")
            result = []
            for r in records:
                new = {"data": r["data"], "ttl": ttl}
                if r["ttl"] != ttl:
                    changes.append({"name": name, "action": "set", "old": r, "new": new})
                    old_ttl = max(old_ttl, r["ttl"] or 0)
                result.append(new)
            after[name] = _sorted(result)
            continue
        default_ttl = ttl if ttl is not None else max((r["ttl"] or 0 for r in records), default=0) or None
        kept = [r for r in records if r["data"] in wanted]
        extra = [r for r in records if r["data"] not in wanted]
        missing = [d for d in wanted if d not in [r["data"] for r in records]]
        result = []
        for r in kept:
            new = {"data": r["data"], "ttl": ttl if ttl is not None else r["ttl"]}
            if new["ttl"] != r["ttl"]:
                changes.append({"name": name, "action": "set", "old": r, "new": new})
                old_ttl = max(old_ttl, r["ttl"] or 0)
            result.append(new)
        while extra and missing:
            r = extra.pop(0)
            new = {"data": missing.pop(0), "ttl": ttl if ttl is not None else r["ttl"]}
            changes.append({"name": name, "action": "set", "old": r, "new": new})
            old_ttl = max(old_ttl, r["ttl"] or 0)
            result.append(new)
        for d in missing:
            new = {"data": d, "ttl": default_ttl}
            changes.append({"name": name, "action": "add", "old": None, "new": new})
            result.append({"data": d, "ttl": default_ttl if default_ttl is not None else DEFAULT_TTL})
        for r in extra:
            changes.append({"name": name, "action": "remove", "old": r, "new": None})
            old_ttl = max(old_ttl, r["ttl"] or 0)
        after[name] = _sorted(result)
    return {"changes": changes, "before": before, "after": after, "old_ttl": old_ttl}


# ------------------------------------------------------------------------------- I/O
def read_records(client, zone: str, name: str) -> list:
    """The A records of ``name`` (relative to ``zone``) as :func:`normalise` returns them; a name
    without records is an empty list."""
    rows, errors = client.invoke("Get-DnsServerResourceRecord", {"ZoneName": zone, "Name": name, "RRType": "A"},
                                 select=["HostName", "RecordType", "RecordData", "TimeToLive"], errors="return")
    for err in errors:
        if err.error_id not in NOT_FOUND:
            raise err
    return [r for r in (normalise(row) for row in rows) if r["data"]]


def read_zone_records(client, zone: str, names: list) -> dict:
    """The A records of several ``names`` of ``zone`` in one round trip (the zone's A records, read
    once and grouped by host name): ``{name: [record, ...]}``, a name without records mapped to
    an empty list."""
    rows = client.invoke("Get-DnsServerResourceRecord", {"ZoneName": zone, "RRType": "A"},
                         select=["HostName", "RecordType", "RecordData", "TimeToLive"])
    wanted = {name.lower(): name for name in names}
    out = {name: [] for name in names}
    for record in (normalise(row) for row in rows):
        name = wanted.get((record["name"] or "").lower())
        if name is not None and record["data"]:
            out[name].append(record)
    return out


def _record(name: str, record: dict) -> dict:
    table = {"HostName": name, "RecordType": "A", "RecordClass": "IN",
             "RecordData": {"IPv4Address": record["data"]}}
    if record.get("ttl") is not None:
        table["TimeToLive"] = ttl_text(record["ttl"])
    return table


CMDLETS = {"set": "Set-DnsServerResourceRecord", "add": "Add-DnsServerResourceRecordA",
           "remove": "Remove-DnsServerResourceRecord"}


def parameters(zone: str, change: dict) -> dict:
    """The cmdlet parameters of one change of :func:`record_plan` (the cmdlet is ``CMDLETS[action]``)."""
    name = change["name"]
    if change["action"] == "set":
        return {"ZoneName": zone, "OldInputObject": _record(name, change["old"]),
                "NewInputObject": _record(name, change["new"])}
    if change["action"] == "add":
        params = {"ZoneName": zone, "Name": name, "IPv4Address": [change["new"]["data"]]}
        if change["new"].get("ttl") is not None:
            params["TimeToLive"] = ttl_text(change["new"]["ttl"])
        return params
    if change["action"] == "remove":
        return {"ZoneName": zone, "Name": name, "RRType": "A", "RecordData": change["old"]["data"], "Force": None}
    raise ValueError("unknown change %r" % change["action"])


def apply_change(client, zone: str, change: dict) -> None:
    """Send one change of :func:`record_plan`."""
    client.invoke(CMDLETS[change["action"]], parameters(zone, change))


def normalised_records(records: list) -> list:
    """Records as :func:`record_plan` reports them (``{"data", "ttl"}``, by address)."""
    return _sorted(records)


# ------------------------------------------------ Windows Server 2008 DNS servers: dnscmd.exe
DNSCMD = "dnscmd.exe"
_DNSCMD_RECORD = re.compile(r"^\S+\s+(?:\[Aging:\d+\]\s+)?(\d+)\s+A\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$")
_DNSCMD_NOT_FOUND = ("9714", "DNS_ERROR_NAME_DOES_NOT_EXIST")


class DnsRecords:
    """A records of one name on a Windows DNS server: through the DnsServer cmdlets (Windows Server
    2012 and later) or, on a server without them (Windows Server 2008: the cmdlet is not
    recognized), through ``dnscmd.exe`` (``/EnumRecords``, ``/RecordAdd``, ``/RecordDelete
    /f``; Microsoft's Dnscmd reference), its arguments sent as separate values.  ``mode`` says which
    was used."""

    def __init__(self, client) -> None:
        self.client = client
        self.mode = None

    def read(self, zone: str, name: str) -> list:
        if self.mode in (None, "cmdlets"):
            try:
                records = read_records(self.client, zone, name)
            except ExchangeCommandError as exc:
                if exc.error_id != "CommandNotFoundException":
                    raise
                self.mode = DNSCMD
            else:
                self.mode = "cmdlets"
                return records
        lines, errors = self.client.invoke_native(DNSCMD, ["/EnumRecords", zone, name, "/Type", "A"])
        if errors:
            if any(code in errors[0].message for code in _DNSCMD_NOT_FOUND):
                return []
            raise errors[0]
        return dnscmd_records(lines)

    def read_names(self, zone: str, names: list) -> dict:
        """``{name: records}`` of several names: one read of the zone's A records through the
        DnsServer cmdlets, else (dnscmd.exe) one read per name."""
        if len(names) > 1 and self.mode in (None, "cmdlets"):
            try:
                found = read_zone_records(self.client, zone, names)
            except ExchangeCommandError as exc:
                if exc.error_id != "CommandNotFoundException":
                    raise
                self.mode = DNSCMD
            else:
                self.mode = "cmdlets"
                return found
        return {name: self.read(zone, name) for name in names}

    def commands(self, zone: str, change: dict) -> list:
        """``[(command, parameters or arguments)]`` of one change of ``record_plan``."""
        if self.mode != DNSCMD:
            return [(CMDLETS[change["action"]], parameters(zone, change))]
        name, out = change["name"], []
        if change["old"] is not None:
            out.append((DNSCMD, ["/RecordDelete", zone, name, "A", change["old"]["data"], "/f"]))
        if change["new"] is not None:
            new = change["new"]
            ttl = [str(int(new["ttl"]))] if new.get("ttl") is not None else []
            out.append((DNSCMD, ["/RecordAdd", zone, name] + ttl + ["A", new["data"]]))
        return out

    def batched_commands(self, zone: str, changes: list) -> list:
        """``[(name, command, parameters or arguments, changes)]`` of the changes of ``record_plan``, in
        their order: through the DnsServer cmdlets, the additions of one name with one TTL go in one
        ``Add-DnsServerResourceRecordA`` (its ``-IPv4Address`` takes an array: one record per address),
        every other change in a command of its own."""
        out = []
        for change in changes:
            last = out[-1] if out else None
            if (self.mode != DNSCMD and change["action"] == "add" and last is not None and last[3]
                    and last[3][-1]["action"] == "add" and last[0] == change["name"]
                    and last[3][-1]["new"].get("ttl") == change["new"].get("ttl")):
                last[2]["IPv4Address"].append(change["new"]["data"])
                last[3].append(change)
                continue
            for index, (command, payload) in enumerate(self.commands(zone, change)):
                # dnscmd.exe takes a change in place as two commands: the change goes with the first
                out.append((change["name"], command, payload, [change] if index == 0 else []))
        return out

    def send(self, command: str, payload) -> None:
        if command != DNSCMD:
            self.client.invoke(command, payload)
            return
        _lines, errors = self.client.invoke_native(command, payload)
        if errors:
            raise errors[0]


def dnscmd_records(lines: list) -> list:
    """``dnscmd /EnumRecords <zone> <name> /Type A`` output lines to ``[{"name", "data", "ttl"}]``."""
    out = []
    for line in lines:
        match = _DNSCMD_RECORD.match(str(line).strip())
        if match:
            out.append({"name": None, "data": match.group(2), "ttl": int(match.group(1))})
    return out
