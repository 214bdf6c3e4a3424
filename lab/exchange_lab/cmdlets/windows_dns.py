"""DnsServer cmdlets on DNS servers (the domain controllers): Get-DnsServerResourceRecord,
Add-DnsServerResourceRecordA, Remove-DnsServerResourceRecord, Set-DnsServerResourceRecord.

Zones and records are ``LabState.dns_zones`` (topology ``dns:``); an Active
Directory-integrated zone is one store for all its servers (replication is immediate in
the lab).  Record objects: object-properties §9 (HostName, RecordType, Timestamp,
TimeToLive as a TimeSpan, RecordData with IPv4Address).  Set-DnsServerResourceRecord
takes the record objects (``-OldInputObject``/``-NewInputObject``, runbooks §13): they
arrive deserialised from the client and are matched on HostName, RecordType and
RecordData; the Name and Type cannot change (the page).  Errors: CimException records
with the DNS server's Win32 codes (``WIN32 9714,<cmdlet>``: name does not exist, 9711:
record already exists, 9601: zone does not exist).
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

from psrpcore.types import PSUInt16

from .. import errors
from ..engine import native_command
from ..registry import POWERSHELL, READ, WRITE, cmdlet
from .windows_common import (
    cim_error,
    cim_object,
    dns_module_host,
    lab_not_supported,
    prop,
    require_confirmation,
    text,
    texts,
    timespan,
)

RESOURCE_EXISTS = 20
RECORD_CLASS = "root/Microsoft/Windows/DNS/DnsServerResourceRecord"
TYPE_CODES = {"A": 1, "CNAME": 5}
TYPE_BY_CODE = {v: k for k, v in TYPE_CODES.items()}
DEFAULT_TTL_S = 3600  # the zone's default TTL (01:00:00), a choice


# -------------------------------------------------------------------- objects
def record_object(lab: Any, zone: dict, rec: dict) -> Any:
    if rec["type"] == "A":
        data = cim_object("root/Microsoft/Windows/DNS/DnsServerResourceRecordA", {"IPv4Address": rec["data"]},
                          rec["data"])
    else:
        data = cim_object("root/Microsoft/Windows/DNS/DnsServerResourceRecordCName",
                          {"HostNameAlias": rec["data"]}, rec["data"])
    stamp = datetime.datetime.fromisoformat(rec["timestamp"]) if rec.get("timestamp") else None
    return cim_object(
        RECORD_CLASS,
        {
            "DistinguishedName": (f"DC={rec['name']},DC={zone['name']},cn=MicrosoftDNS,DC=DomainDnsZones,"
                                  f"{lab.windows.domain_dn}"),
            "HostName": rec["name"],
            "RecordClass": "IN",
            "RecordData": data,
            "RecordType": "CNAME" if rec["type"] == "CNAME" else rec["type"],
            "Timestamp": stamp,
            "TimeToLive": datetime.timedelta(seconds=rec["ttl"]),
            "Type": PSUInt16(TYPE_CODES.get(rec["type"], 0)),
        },
        rec["name"],
    )


# ------------------------------------------------------------------ resolution
def _server_and_zone(inv: Any) -> tuple[str, dict]:
    """The DNS server (-ComputerName or this host) and the zone (-ZoneName) on it."""
    lab = inv.lab
    if inv.has("ZoneScope") or inv.has("VirtualizationInstance"):
        raise lab_not_supported(inv, "The lab's DNS zones have no zone scopes or virtualization instances.")
    computer = text(inv.get("ComputerName"))
    if computer:
        host = lab.host(computer)
        if host is None or "DNS" not in host.roles or not lab.host_up(host.name):
            raise cim_error(inv, f"The RPC server is unavailable. Failed to contact DNS server {computer}.",
                            "WIN32 1722", category=21, target=computer)
        server = host.name
    else:
        server = inv.host.name
    zone_name = text(inv.get("ZoneName")) or ""
    zone = lab.windows.zone(zone_name)
    if zone is None or not lab.windows.zone_on(zone, server):
        raise cim_error(inv, f"Failed to get the zone information for {zone_name} on server {server}.",
                        "WIN32 9601", category=errors.OBJECT_NOT_FOUND, target=zone_name)
    return server, zone


def _type_filter(inv: Any) -> str | None:
    if inv.has("RRType"):
        return str(inv.get("RRType")).upper()
    if inv.has("Type"):
        return TYPE_BY_CODE.get(int(inv.get("Type")), f"TYPE{int(inv.get('Type'))}")
    return None


def _record_of(inv: Any, zone: dict, obj: Any, param: str) -> tuple[str, str, str, datetime.timedelta | None]:
    """(relative name, type, data, TTL) of a record object sent by the client."""
    name = text(prop(obj, "HostName"))
    rtype = text(prop(obj, "RecordType"))
    data_obj = prop(obj, "RecordData")
    data = None
    if data_obj is not None:
        data = text(prop(data_obj, "IPv4Address")) or text(prop(data_obj, "HostNameAlias"))
        if data is None and isinstance(data_obj, str):
            data = str(data_obj)
    if not name or not rtype or not data:
        raise errors.PSError(
            message=(f"Cannot validate argument on parameter '{param}'. The object is not a DNS server resource "
                     "record: HostName, RecordType and RecordData are required."),
            fqid=f"ParameterArgumentValidationError,{inv.name}",
            category=errors.INVALID_DATA,
            exception_types=["System.Management.Automation.ParameterBindingValidationException",
                             "System.Management.Automation.ParameterBindingException",
                             "System.Management.Automation.RuntimeException", "System.SystemException",
                             "System.Exception"],
            activity=inv.name,
        )
    ttl_value = prop(obj, "TimeToLive")
    return inv.lab.windows.relative_name(zone, name), rtype.upper(), str(data), timespan(ttl_value)


def _find(zone: dict, name: str, rtype: str, data: str) -> dict | None:
    for r in zone["records"]:
        if r["name"].lower() == name.lower() and r["type"].upper() == rtype.upper() and str(r["data"]).lower() == data.lower():
            return r
    return None


def _write(inv: Any, out: list[Any]) -> None:
    for o in out:
        inv.write_output(o)


# ------------------------------------------------------ Get-DnsServerResourceRecord
@cmdlet("Get-DnsServerResourceRecord", syntax="windows", rbac=READ, configurations=(POWERSHELL,),
        available_on=dns_module_host)
def get_dns_server_resource_record(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        lab.tick()
        server, zone = _server_and_zone(inv)
        name = text(inv.get("Name"))
        if name is None and inv.get("Node"):
            name = "@"
        rtype = _type_filter(inv)
        if name is not None and not lab.windows.records(zone, name):
            inv.write_error(cim_error(inv, f"Failed to get {name} record in {zone['name']} zone on {server} server.",
                                      "WIN32 9714", category=errors.OBJECT_NOT_FOUND, target=name))
            return
        out = [record_object(lab, zone, r) for r in lab.windows.records(zone, name, rtype)]
    _write(inv, out)


# ----------------------------------------------------- Add-DnsServerResourceRecordA
@cmdlet("Add-DnsServerResourceRecordA", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=dns_module_host)
def add_dns_server_resource_record_a(inv: Any) -> None:
    lab = inv.lab
    name = text(inv.get("Name")) or ""
    addresses = []
    for value in texts(inv.get("IPv4Address")):
        try:
            addresses.append(str(ipaddress.IPv4Address(value)))
        except ValueError:
            raise errors.parameter_transformation(
                f"Cannot process argument transformation on parameter 'IPv4Address'. Cannot convert value "
                f'"{value}" to type "System.Net.IPAddress[]". Error: "An invalid IP address was specified."',
                inv.name,
            ) from None
    ttl = timespan(inv.get("TimeToLive")) if inv.has("TimeToLive") else None
    if inv.has("TimeToLive") and ttl is None:
        raise errors.parameter_transformation(
            f"Cannot process argument transformation on parameter 'TimeToLive'. Cannot convert value "
            f'"{inv.get("TimeToLive")}" to type "System.TimeSpan".',
            inv.name,
        )
    ttl_s = int(ttl.total_seconds()) if ttl is not None else DEFAULT_TTL_S
    out = []
    with lab.lock:
        lab.tick()
        server, zone = _server_and_zone(inv)
        for address in addresses:
            if _find(zone, lab.windows.relative_name(zone, name), "A", address) is not None:
                inv.write_error(cim_error(
                    inv, f"Failed to create resource record {name} in {zone['name']} zone on server {server}.",
                    "WIN32 9711", category=RESOURCE_EXISTS, target=name))
                continue
            rec = lab.windows.add_record(zone, name, "A", address, ttl_s, dynamic=bool(inv.get("AgeRecord")))
            if inv.get("CreatePtr"):
                inv.write_error(cim_error(
                    inv, f"Failed to create PTR record. Resource record {name} in zone {zone['name']} on server "
                         f"{server} is created successfully, but corresponding PTR record could not be created.",
                    "WIN32 9715", category=errors.OBJECT_NOT_FOUND, target=name))
            if inv.get("PassThru"):
                out.append(record_object(lab, zone, rec))
    _write(inv, out)


# --------------------------------------------------- Remove-DnsServerResourceRecord
@cmdlet("Remove-DnsServerResourceRecord", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=dns_module_host)
def remove_dns_server_resource_record(inv: Any) -> None:
    """Removes the piped/given record, or every record of -Name and -RRType (only those
    with -RecordData when given).  Prompts unless -Force or -Confirm:$false (the page)."""
    lab = inv.lab
    with lab.lock:
        lab.tick()
        server, zone = _server_and_zone(inv)
        if inv.has("InputObject"):
            rel, rtype, data, _ttl = _record_of(inv, zone, inv.get("InputObject"), "InputObject")
            rec = _find(zone, rel, rtype, data)
            targets = [rec] if rec is not None else []
            label = rel
        else:
            rel = lab.windows.relative_name(zone, text(inv.get("Name")) or "")
            rtype = _type_filter(inv) or ""
            wanted = [d.lower() for d in texts(inv.get("RecordData"))]
            targets = [r for r in lab.windows.records(zone, rel, rtype)
                       if not wanted or str(r["data"]).lower() in wanted]
            label = rel
        if not targets:
            raise cim_error(inv, f"Failed to get {label} record in {zone['name']} zone on {server} server.",
                            "WIN32 9714", category=errors.OBJECT_NOT_FOUND, target=label)
        require_confirmation(
            inv, "Remove",
            f"Removing DNS resource record {label} of type {targets[0]['type']} from zone {zone['name']} on "
            f"{server} server.",
            prompts_by_default=True, force=bool(inv.get("Force")))
        out = [record_object(lab, zone, r) for r in targets] if inv.get("PassThru") else []
        for r in targets:
            lab.windows.remove_record(zone, r)
    _write(inv, out)


# ------------------------------------------------------ Set-DnsServerResourceRecord
@cmdlet("Set-DnsServerResourceRecord", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=dns_module_host)
def set_dns_server_resource_record(inv: Any) -> None:
    """Changes the record described by -OldInputObject into -NewInputObject (TTL and
    record data; not the name or type)."""
    lab = inv.lab
    with lab.lock:
        lab.tick()
        server, zone = _server_and_zone(inv)
        old_name, old_type, old_data, _old_ttl = _record_of(inv, zone, inv.get("OldInputObject"), "OldInputObject")
        new_name, new_type, new_data, new_ttl = _record_of(inv, zone, inv.get("NewInputObject"), "NewInputObject")
        rec = _find(zone, old_name, old_type, old_data)
        if rec is None:
            raise cim_error(inv, f"Failed to get {old_name} record in {zone['name']} zone on {server} server.",
                            "WIN32 9714", category=errors.OBJECT_NOT_FOUND, target=old_name)
        if new_name.lower() != old_name.lower() or new_type != old_type:
            raise cim_error(
                inv,
                f"The name or type of a resource record can't be changed: OldInputObject is {old_name} "
                f"({old_type}), NewInputObject is {new_name} ({new_type}).",
                "WIN32 87", category=errors.INVALID_ARGUMENT, target=new_name)
        if new_type == "A":
            try:
                new_data = str(ipaddress.IPv4Address(new_data))
            except ValueError:
                raise cim_error(inv, f"'{new_data}' is not a valid IPv4 address.", "WIN32 87",
                                category=errors.INVALID_ARGUMENT, target=new_data) from None
        if new_data.lower() != str(rec["data"]).lower() and _find(zone, new_name, new_type, new_data) is not None:
            raise cim_error(inv, f"Failed to update record {new_name} in {zone['name']} zone on server {server}.",
                            "WIN32 9711", category=RESOURCE_EXISTS, target=new_name)
        require_confirmation(inv, "Set", new_name, prompts_by_default=False)
        rec["data"] = new_data
        if new_ttl is not None:
            rec["ttl"] = int(new_ttl.total_seconds())
        out = record_object(lab, zone, rec)
    if inv.get("PassThru"):
        inv.write_output(out)


# ------------------------------------------------------------------ dnscmd.exe
# The DNS server's command-line tool, the way to manage records on Windows Server 2008 DNS
# servers, which have no DnsServer module (runbooks §13 "Older DNS servers").  Syntax from
# Microsoft's Dnscmd reference (learn.microsoft.com previous-versions windows-server-2012-R2-and-2012
# cc772069, "Applies To: Windows Server 2003 ... 2008 R2, 2012"):
#   dnscmd [<ServerName>] /enumrecords <ZoneName> <NodeName> [/type <RRType>]
#   dnscmd [<ServerName>] /recordadd <ZoneName> <NodeName> [/aging] [<Ttl>] <RRType> <RRData>
#   dnscmd [<ServerName>] /recorddelete <ZoneName> <NodeName> <RRType> <RRData> [/f]
# Only A records.  The output layout ("Returned records:", "<node> [Aging:<hours>] <ttl> A <ip>",
# "Command completed successfully.", "Command failed:  <symbol>  <code>  <hex>") is the lab's
# recollection of dnscmd's console text, unconfirmed; /recorddelete without /f would ask on the
# console, which a remote session has not: the lab refuses it.  Failures also go out as an
# error record (NativeCommandError), as for the lab's Setup.com.
_DNS_ERRORS = {9714: "DNS_ERROR_NAME_DOES_NOT_EXIST", 9601: "DNS_ERROR_ZONE_DOES_NOT_EXIST",
               9711: "DNS_ERROR_RECORD_ALREADY_EXISTS", 87: "ERROR_INVALID_PARAMETER",
               1722: "RPC_S_SERVER_UNAVAILABLE"}


def _dns_role_host(host: Any) -> bool:
    return "DNS" in (getattr(host, "roles", None) or [])


def _dnscmd_fail(inv: Any, code: int, detail: str = "") -> None:
    line = f"Command failed:  {_DNS_ERRORS[code]}     {code}    0x{code:X}"
    if detail:
        inv.write_output(detail)
    inv.write_output(line)
    inv.write_error(errors.PSError(message=line, fqid="NativeCommandError", category=errors.NOT_SPECIFIED,
                                   exception_types=["System.Management.Automation.RemoteException",
                                                    "System.Exception"], activity=inv.name, target_object=line))


@cmdlet("dnscmd.exe", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,), available_on=_dns_role_host)
@native_command
def dnscmd(inv: Any) -> None:
    args = [str(a) for a in (inv.get("Arguments") or []) if str(a).strip()]
    lab = inv.lab
    server = inv.host.name
    if args and not args[0].startswith("/"):
        host = lab.host(args.pop(0))
        if host is None or not _dns_role_host(host) or not lab.host_up(host.name):
            return _dnscmd_fail(inv, 1722)
        server = host.name
    op = args[0].lower() if args else ""
    rest = args[1:]
    flags = [a.lower() for a in rest if a.startswith("/")]
    values = [a for a in rest if not a.startswith("/")]
    with lab.lock:
        lab.tick()
        if op not in ("/enumrecords", "/recordadd", "/recorddelete") or len(values) < 2:
            inv.write_error(lab_not_supported(inv, "The lab's dnscmd runs /EnumRecords, /RecordAdd and /RecordDelete "
                                                   "of A records only."))
            return None
        zone = lab.windows.zone(values[0])
        if zone is None or not lab.windows.zone_on(zone, server):
            return _dnscmd_fail(inv, 9601)
        node = values[1]
        if op == "/enumrecords":
            found = lab.windows.records(zone, node, "A") if node != "@" else lab.windows.records(zone, "@", "A")
            if not found:
                return _dnscmd_fail(inv, 9714)
            inv.write_output("Returned records:")
            for rec in found:
                aging = ""
                if rec.get("timestamp"):
                    stamp = datetime.datetime.fromisoformat(rec["timestamp"])
                    aging = f"[Aging:{int((stamp - datetime.datetime(1601, 1, 1, tzinfo=stamp.tzinfo)).total_seconds() // 3600)}] "
                inv.write_output(f"@ {aging}{rec['ttl']} A\t{rec['data']}")
            inv.write_output("")
            inv.write_output("Command completed successfully.")
            return None
        if op == "/recordadd":
            data = values[2:]
            ttl = DEFAULT_TTL_S
            if data and data[0].isdigit():
                ttl = int(data.pop(0))
            if len(data) != 2 or data[0].upper() != "A":
                return _dnscmd_fail(inv, 87)
            try:
                ip = str(ipaddress.IPv4Address(data[1]))
            except ValueError:
                return _dnscmd_fail(inv, 87)
            if _find(zone, lab.windows.relative_name(zone, node), "A", ip) is not None:
                return _dnscmd_fail(inv, 9711)
            lab.windows.add_record(zone, node, "A", ip, ttl, dynamic="/aging" in flags)
            inv.write_output(f"Add A Record for {lab.windows.relative_name(zone, node)}.{zone['name']} at {zone['name']}")
            inv.write_output("Command completed successfully.")
            return None
        # /recorddelete
        data = values[2:]
        if "/f" not in flags:
            inv.write_error(lab_not_supported(inv, "dnscmd /RecordDelete asks for confirmation on the console; use "
                                                   "/f in a remote session."))
            return None
        if len(data) != 2 or data[0].upper() != "A":
            return _dnscmd_fail(inv, 87)
        rec = _find(zone, lab.windows.relative_name(zone, node), "A", data[1])
        if rec is None:
            return _dnscmd_fail(inv, 9714)
        lab.windows.remove_record(zone, rec)
        inv.write_output(f"Deleted A record(s) at {zone['name']}")
        inv.write_output("Command completed successfully.")
        return None
