"""SmbShare cmdlets (Windows Server 2012 and later): Get-SmbShare, New-SmbShare,
Remove-SmbShare, Set-SmbShare, Get-SmbShareAccess, Grant-SmbShareAccess,
Revoke-SmbShareAccess.  On Windows Server 2008 / 2008 R2 hosts they do not exist ("not
recognized"); the share store behind them (``model/windows.py``) exists on every host.

Scopes: ``*`` is the server's own name; a scope name is a cluster network name online on
this host (runbooks §11: a share is tied either to the node's name or to a cluster
network name).  Behaviour and messages from the winserver2019-ps SmbShare pages (the
Grant/Revoke/Set/Remove pages show the confirmation prompt, ``-Force`` skips it); CDXML
errors as CimException records.
"""

from __future__ import annotations

from typing import Any

from psrpcore.types import PSUInt as PSUInt32  # System.UInt32

from .. import errors
from ..engine import supports_whatif
from ..model.objects_state import lab_guid
from ..model.windows import Share, ShareAce
from ..psobj import get_prop
from ..registry import POWERSHELL, READ, WRITE, cmdlet
from .windows_common import (
    as_bool,
    cdxml_not_found,
    cim_error,
    cim_object,
    require_confirmation,
    text,
    texts,
    ws2012_plus,
)

RESOURCE_EXISTS = 20
SHARE_CLASS = "ROOT/Microsoft/Windows/SMB/MSFT_SmbShare"
ACE_CLASS = "ROOT/Microsoft/Windows/SMB/MSFT_SmbShareAccessControlEntry"
_SDDL_RIGHT = {"Full": "FA", "Change": "0x1301bf", "Read": "0x1200a9"}


# -------------------------------------------------------------------- objects
def _sddl(share: Share) -> str:
    parts = [f"({'A' if a.type == 'Allow' else 'D'};;{_SDDL_RIGHT[a.right]};;;{a.sid})" for a in share.aces]
    return "O:BAG:DUD:" + "".join(parts)


def _volume(host: str, share: Share) -> str:
    """The volume of the share's path (a GUID per drive of the server or network name)."""
    if not share.path or ":" not in share.path:
        return ""
    owner = share.scope if share.scoped else host
    return "\\\\?\\Volume{" + str(lab_guid("volume", f"{owner}:{share.path[0]}")) + "}\\"


def share_object(lab: Any, host: str, share: Share) -> Any:
    return cim_object(
        SHARE_CLASS,
        {
            "AvailabilityType": "Clustered" if share.scoped else "NonClustered",
            "CachingMode": share.caching_mode,
            "CATimeout": PSUInt32(share.ca_timeout),
            "ConcurrentUserLimit": PSUInt32(share.concurrent_user_limit),
            "ContinuouslyAvailable": share.continuously_available,
            "CurrentUsers": PSUInt32(0),
            "Description": share.description,
            "EncryptData": share.encrypt_data,
            "FolderEnumerationMode": share.folder_enumeration_mode,
            "Name": share.name,
            "Path": share.path,
            "Scoped": share.scoped,
            "ScopeName": share.scope,
            "SecurityDescriptor": _sddl(share),
            "ShadowCopy": False,
            "ShareState": "Online",
            "ShareType": share.share_type,
            "Special": share.special,
            "Temporary": share.temporary,
            "Volume": _volume(host, share),
        },
        share.name,
    )


def access_object(share: Share, ace: ShareAce) -> Any:
    return cim_object(
        ACE_CLASS,
        {
            "AccessControlType": ace.type,
            "AccessRight": ace.right,
            "AccountName": ace.account,
            "Name": share.name,
            "ScopeName": share.scope,
        },
        f"{share.scope},{share.name}",
    )


# ------------------------------------------------------------------ resolution
def _query(inv: Any, host: str, *, required: bool) -> list[Share]:
    """Shares matched by -Name/-ScopeName or by piped share objects (-InputObject); a
    name that matches nothing is the CDXML not-found error (non-terminating)."""
    w = inv.lab.windows
    if inv.has("InputObject"):
        out = []
        for obj in inv.get("InputObject") or []:
            name = text(obj) if isinstance(obj, str) else text(_p(obj, "Name"))
            scope = text(_p(obj, "ScopeName")) if not isinstance(obj, str) else None
            hits = w.find_shares(host, name or "", scope)
            if not hits:
                inv.write_error(cdxml_not_found(inv, "MSFT_SmbShare", "Name", name or ""))
            out.extend(s for s in hits if s not in out)
        return out
    names = texts(inv.get("Name"))
    scopes = texts(inv.get("ScopeName"))
    if not names:
        shares = w.shares_on(host)
        return [s for s in shares if not scopes or any(s.scope.lower() == x.lower() for x in scopes)]
    out = []
    for name in names:
        hits = [s for s in w.find_shares(host, name) if not scopes or any(s.scope.lower() == x.lower() for x in scopes)]
        if not hits and required:
            inv.write_error(cdxml_not_found(inv, "MSFT_SmbShare", "Name", name))
        out.extend(s for s in hits if s not in out)
    return out


def _p(obj: Any, name: str) -> Any:
    return get_prop(obj, name)


def _share_ace(inv: Any, account: str, right: str, type_: str = "Allow") -> ShareAce:
    p = inv.lab.windows.resolve_principal(account)
    if p is None:
        raise cim_error(inv, "No mapping between account names and security IDs was done.",
                        "Windows System Error 1332", category=errors.NOT_SPECIFIED, target=account)
    return ShareAce(p.display, p.sid, type_, right)


def _write(inv: Any, out: list[Any]) -> None:
    for o in out:
        inv.write_output(o)


def _filter_bool(values: Any, actual: bool) -> bool:
    wanted = values if isinstance(values, list) else [values]
    return any(as_bool(v) == actual for v in wanted)


# ---------------------------------------------------------------- Get-SmbShare
@cmdlet("Get-SmbShare", syntax="windows", rbac=READ, configurations=(POWERSHELL,), available_on=ws2012_plus)
def get_smb_share(inv: Any) -> None:
    lab = inv.lab
    host = inv.host.name
    with lab.lock:
        lab.tick()
        shares = _query(inv, host, required=True)
        if inv.has("Scoped"):
            shares = [s for s in shares if _filter_bool(inv.get("Scoped"), s.scoped)]
        if inv.has("Special"):
            shares = [s for s in shares if _filter_bool(inv.get("Special"), s.special)]
        if inv.has("AvailabilityType"):
            wanted = [str(v) for v in inv.get("AvailabilityType")]
            shares = [s for s in shares if ("Clustered" if s.scoped else "NonClustered") in wanted]
        out = [share_object(lab, host, s) for s in shares]
    _write(inv, out)


# ---------------------------------------------------------------- New-SmbShare
@cmdlet("New-SmbShare", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,), available_on=ws2012_plus)
@supports_whatif
def new_smb_share(inv: Any) -> None:
    """Creates a share (the page: "The WhatIf parameter does not work with this cmdlet",
    so -WhatIf creates it too).  Scope: ``*`` or a cluster network name online on this
    host; no access list given: Everyone Read."""
    lab = inv.lab
    w = lab.windows
    host = inv.host.name
    name = text(inv.get("Name")) or ""
    path = text(inv.get("Path")) or ""
    scope = text(inv.get("ScopeName")) or "*"
    with lab.lock:
        lab.tick()
        if scope != "*":
            online = [n for n in w.network_names_on(host) if n.lower() == scope.lower()]
            if not online:
                raise cim_error(inv, "The network name cannot be found.", "Windows System Error 67",
                                category=errors.OBJECT_NOT_FOUND, target=scope)
            scope = online[0]
        if any(s.name.lower() == name.lower() and s.scope.lower() == scope.lower() for s in w.shares_on(host)):
            raise cim_error(inv, "The name has already been shared.", "Windows System Error 2118",
                            category=RESOURCE_EXISTS, target=name)
        aces: list[ShareAce] = []
        for param, right, type_ in (("FullAccess", "Full", "Allow"), ("ChangeAccess", "Change", "Allow"),
                                    ("ReadAccess", "Read", "Allow"), ("NoAccess", "Full", "Deny")):
            for account in texts(inv.get(param)):
                aces.append(_share_ace(inv, account, right, type_))
        if not aces:
            aces = [_share_ace(inv, "Everyone", "Read")]
        options: dict[str, Any] = {
            "temporary": bool(inv.get("Temporary")),
            "encrypt_data": as_bool(inv.get("EncryptData", False)),
            "continuously_available": as_bool(inv.get("ContinuouslyAvailable", False)),
        }
        if inv.has("FolderEnumerationMode"):
            options["folder_enumeration_mode"] = str(inv.get("FolderEnumerationMode"))
        if inv.has("CachingMode"):
            options["caching_mode"] = str(inv.get("CachingMode"))
        if inv.has("CATimeout"):
            options["ca_timeout"] = int(inv.get("CATimeout"))
        if inv.has("ConcurrentUserLimit"):
            options["concurrent_user_limit"] = int(inv.get("ConcurrentUserLimit"))
        share = w.new_share(host, name, path, scope=scope, description=text(inv.get("Description")) or "",
                            aces=aces, **options)
        out = share_object(lab, host, share)
    inv.write_output(out)


# ------------------------------------------------------------- Remove-SmbShare
@cmdlet("Remove-SmbShare", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,), available_on=ws2012_plus)
def remove_smb_share(inv: Any) -> None:
    lab = inv.lab
    host = inv.host.name
    with lab.lock:
        lab.tick()
        shares = _query(inv, host, required=True)
        out = []
        for share in shares:
            require_confirmation(inv, "Remove-Share", f"{share.scope},{share.name}", prompts_by_default=True,
                                 force=bool(inv.get("Force")))
            if inv.get("PassThru"):
                out.append(share_object(lab, host, share))
            lab.windows.remove_share(host, share)
    _write(inv, out)


# ---------------------------------------------------------------- Set-SmbShare
_SET_FIELDS = {
    "Description": ("description", str),
    "ConcurrentUserLimit": ("concurrent_user_limit", int),
    "CATimeout": ("ca_timeout", int),
    "ContinuouslyAvailable": ("continuously_available", as_bool),
    "FolderEnumerationMode": ("folder_enumeration_mode", str),
    "CachingMode": ("caching_mode", str),
    "EncryptData": ("encrypt_data", as_bool),
}


@cmdlet("Set-SmbShare", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,), available_on=ws2012_plus)
def set_smb_share(inv: Any) -> None:
    lab = inv.lab
    host = inv.host.name
    with lab.lock:
        lab.tick()
        shares = _query(inv, host, required=True)
        out = []
        for share in shares:
            require_confirmation(inv, "Modify", f"{share.scope},{share.name}", prompts_by_default=True,
                                 force=bool(inv.get("Force")))
            for param, (attr, conv) in _SET_FIELDS.items():
                if inv.has(param):
                    value = inv.get(param)
                    setattr(share, attr, conv(text(value) if conv is str else value))
            for param in ("SecurityDescriptor", "LeasingMode"):
                if inv.has(param):
                    share.other[param] = inv.get(param)
            if inv.get("PassThru"):
                out.append(share_object(lab, host, share))
    _write(inv, out)


# ------------------------------------------------------------- share access
@cmdlet("Get-SmbShareAccess", syntax="windows", rbac=READ, configurations=(POWERSHELL,), available_on=ws2012_plus)
def get_smb_share_access(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        lab.tick()
        shares = _query(inv, inv.host.name, required=True)
        out = [access_object(s, a) for s in shares for a in s.aces]
    _write(inv, out)


@cmdlet("Grant-SmbShareAccess", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=ws2012_plus)
def grant_smb_share_access(inv: Any) -> None:
    """Adds an allow ACE for each account (an existing allow ACE of the account gets the
    new right).  Without -AccessRight the right is Full (the CIM method's first value).
    Writes the share's whole access list, as the page's examples show."""
    lab = inv.lab
    right = str(inv.get("AccessRight") or "Full")
    with lab.lock:
        lab.tick()
        shares = _query(inv, inv.host.name, required=True)
        accounts = texts(inv.get("AccountName"))
        out = []
        for share in shares:
            require_confirmation(inv, "Modify", f"{share.scope},{share.name}", prompts_by_default=True,
                                 force=bool(inv.get("Force")))
            for account in accounts:
                lab.windows.grant_share_access(share, _share_ace(inv, account, right))
            out.extend(access_object(share, a) for a in share.aces)
    _write(inv, out)


@cmdlet("Revoke-SmbShareAccess", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,),
        available_on=ws2012_plus)
def revoke_smb_share_access(inv: Any) -> None:
    """Removes every allow ACE of each account; writes the remaining access list."""
    lab = inv.lab
    with lab.lock:
        lab.tick()
        shares = _query(inv, inv.host.name, required=True)
        accounts = texts(inv.get("AccountName"))
        out = []
        for share in shares:
            require_confirmation(inv, "Modify", f"{share.scope},{share.name}", prompts_by_default=True,
                                 force=bool(inv.get("Force")))
            for account in accounts:
                ace = _share_ace(inv, account, "Full")
                lab.windows.revoke_share_access(share, ace.sid)
            out.extend(access_object(share, a) for a in share.aces)
    _write(inv, out)
