"""Helpers shared by the Windows cmdlet implementations (windows_*.py): which hosts have
which module, values sent as deserialised objects, and the error records of the
Windows modules (service, CDXML/CIM, FailoverClusters, ActiveDirectory)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from .. import errors, psobj
from ..model.windows import windows_at_least

CIM_BASE = "Microsoft.Management.Infrastructure.CimInstance"


# ------------------------------------------------------------ where modules exist
def any_windows_host(host: Any) -> bool:
    """Every lab host is a Windows server (Microsoft.PowerShell.Management cmdlets)."""
    return host is not None


def ws2012_plus(host: Any) -> bool:
    """The SmbShare, DnsServer, FailoverClusters and ActiveDirectory modules the lab
    implements are the Windows Server 2012+ ones (windows.json has no older docset; on
    2008 R2 the modules need Import-Module, which the lab does not have)."""
    return windows_at_least(host, "WS2012")


def cluster_module_host(host: Any) -> bool:
    """FailoverClusters cmdlets: Exchange 2013+ Mailbox servers (their documented
    Windows prerequisites install RSAT-Clustering-PowerShell), Windows Server 2012+."""
    return (
        getattr(host, "kind", None) == "exchange"
        and str(getattr(host, "version", "")) in ("2013", "2016", "2019")
        and ws2012_plus(host)
    )


def ad_module_host(host: Any) -> bool:
    """ActiveDirectory cmdlets: domain controllers (AD DS tools come with the role) and
    Exchange 2013+ Mailbox servers (their prerequisites install RSAT-ADDS)."""
    if not ws2012_plus(host):
        return False
    if getattr(host, "kind", None) == "dc":
        return True
    return getattr(host, "kind", None) == "exchange" and str(getattr(host, "version", "")) in ("2013", "2016", "2019")


def dns_module_host(host: Any) -> bool:
    """DnsServer cmdlets: hosts with the DNS role (the DNS server tools come with it)."""
    return "DNS" in (getattr(host, "roles", None) or []) and ws2012_plus(host)


# ------------------------------------------------------------------------- values
def text(value: Any) -> str | None:
    """A parameter value as text (deserialised objects by Name, else their string form)."""
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    for prop in ("Name",):
        v = psobj.get_prop(value, prop)
        if isinstance(v, str):
            return str(v)
    meta = getattr(value, "PSObject", None)
    to_string = getattr(meta, "to_string", None) if meta is not None else None
    return str(to_string) if to_string else str(value)


def texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for v in value:
            out.extend(texts(v))
        return out
    t = text(value)
    return [t] if t is not None else []


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "$true", "1")
    return bool(value)


_NET_TS = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")
_ISO_TS = re.compile(
    r"^(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_PY_TS = re.compile(r"^(-?\d+) days?, (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$")


def timespan(value: Any) -> datetime.timedelta | None:
    """A TimeSpan as a client may send it: a CLIXML TimeSpan (timedelta), a .NET string
    (``01:00:00``, ``1.00:00:00``), an XML duration (``PT1H``, what pypsrp hands back for a
    deserialised TimeSpan), Python's ``str(timedelta)`` or a number of seconds."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return datetime.timedelta(seconds=value.total_seconds())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.timedelta(seconds=float(value))
    s = str(value).strip()
    m = _NET_TS.match(s)
    if m:
        neg, d, h, mi, sec, frac = m.groups()
        total = int(d or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + int(sec or 0) + float(f"0.{frac or 0}")
        return datetime.timedelta(seconds=-total if neg else total)
    m = _ISO_TS.match(s)
    if m and s not in ("P", "PT", "-P", "-PT"):
        neg, d, h, mi, sec = m.groups()
        total = float(d or 0) * 86400 + float(h or 0) * 3600 + float(mi or 0) * 60 + float(sec or 0)
        return datetime.timedelta(seconds=-total if neg else total)
    m = _PY_TS.match(s)
    if m:
        d, h, mi, sec, frac = m.groups()
        return datetime.timedelta(days=int(d), hours=int(h), minutes=int(mi), seconds=int(sec),
                                  microseconds=int((frac or "0").ljust(6, "0")[:6]))
    return None


def prop(obj: Any, *path: str) -> Any:
    """A (nested) property of a deserialised object; None when missing."""
    cur = obj
    for name in path:
        if cur is None:
            return None
        cur = psobj.get_prop(cur, name)
    return cur


# ------------------------------------------------------------------------- errors
def require_confirmation(inv: Any, action: str, target: str, *, prompts_by_default: bool,
                         force: bool = False) -> None:
    """ShouldProcess over a remote session (runbooks §0.3): a cmdlet that prompts by
    default (the Remove-*/Grant-/Revoke-/Set-SmbShare pages show the prompt) does so unless
    ``-Force`` or ``-Confirm:$false``; any cmdlet prompts with a bare ``-Confirm``.  With
    no interactive host the prompt fails the pipeline (HostException,
    HostFunctionNotImplemented)."""
    confirm = inv.common.get("Confirm")
    if confirm is False:
        return
    if confirm is None and (force or not prompts_by_default):
        return
    message = f"Are you sure you want to perform this action?\nPerforming the operation \"{action}\" on target \"{target}\"."
    raise errors.PSError(
        message=("A command that prompts the user failed because the host program or the command type does not "
                 "support user interaction. The host was attempting to request confirmation with the following "
                 f"message: {message}"),
        fqid=f"HostFunctionNotImplemented,{inv.name}",
        category=errors.NOT_IMPLEMENTED,
        exception_types=["System.Management.Automation.Host.HostException",
                         "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"],
        activity=inv.name,
    )


def cim_error(inv: Any, message: str, error_id: str, *, category: int = errors.NOT_SPECIFIED,
              target: str | None = None) -> errors.PSError:
    """An error of a CDXML cmdlet (SmbShare, DnsServer): CimException, FullyQualifiedErrorId
    ``<id>,<cmdlet>`` (e.g. ``Windows System Error 2118,New-SmbShare``, ``WIN32 9714,...``)."""
    return errors.PSError(
        message=message,
        fqid=f"{error_id},{inv.name}",
        category=category,
        exception_types=["Microsoft.Management.Infrastructure.CimException", "System.SystemException",
                         "System.Exception"],
        activity=inv.name,
        target_name=target,
        target_type=None if target is None else "String",
        target_object=target,
    )


def cdxml_not_found(inv: Any, cim_class: str, prop_name: str, value: str) -> errors.PSError:
    """A CDXML query that matched nothing (non-terminating in PowerShell)."""
    return errors.PSError(
        message=(f"No {cim_class} objects found with property '{prop_name}' equal to '{value}'.  Verify the value "
                 "of the property and retry."),
        fqid=f"CmdletizationQuery_NotFound_{prop_name},{inv.name}",
        category=errors.OBJECT_NOT_FOUND,
        exception_types=["Microsoft.PowerShell.Cmdletization.Cim.CimJobException", "System.SystemException",
                         "System.Exception"],
        activity=inv.name,
        target_name=value,
        target_type="String",
        target_object=value,
    )


def lab_not_supported(inv: Any, message: str) -> errors.PSError:
    """Something the lab's model cannot represent (named in README-model.md)."""
    return errors.PSError(
        message=message,
        fqid=f"NotSupportedByLab,{inv.name}",
        category=errors.NOT_IMPLEMENTED,
        exception_types=["System.NotSupportedException", "System.SystemException", "System.Exception"],
        activity=inv.name,
        hresult=-2146233067,
    )


def cim_object(type_names_tail: str, props: dict[str, Any], to_string: str | None = None) -> Any:
    """A CIM instance as a remote session sees it: ``CimInstance#<namespace>/<class>``,
    ``CimInstance#<class>``, ``CimInstance``; ``PSComputerName`` is empty for the local
    server."""
    cls = type_names_tail.rpartition("/")[2]
    return psobj.make_object(
        [f"{CIM_BASE}#{type_names_tail}", f"{CIM_BASE}#{cls}", CIM_BASE],
        {**props, "PSComputerName": None},
        to_string,
    )
