"""Exchange's AD permission cmdlets on the Microsoft.Exchange endpoint (2010+):
Get-ADPermission, Add-ADPermission, Remove-ADPermission.

They read and change the ACLs of the AD objects in ``LabState.windows`` (computers,
groups, users), the way runbooks §10 uses them: check and grant Full Control
(``GenericAll``) for a cluster's computer account or the Exchange Trusted Subsystem on a
cluster name object.  Output: ADAcePresentationObject (object-properties §7).
``-Identity`` is a distinguished name or a name that is unique among those objects
(ADRawEntryIdParameter); ``-User``/``-Owner`` a security principal (``DOMAIN\\name``,
name, UPN, DN or SID).  Not found: Get non-terminating, Add/Remove terminating (the lab's
convention for Exchange cmdlets, lab/README-model.md).  Remove-ADPermission has the
built-in confirmation pause of Remove-* tasks (pass ``-Confirm:$false``).
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..model.windows import ACTIVE_DIRECTORY_RIGHTS, INHERITANCE_TYPES, Ace, ADObject
from ..psobj import get_prop, make_object, type_names
from ..registry import READ, WRITE, cmdlet
from .exchange_common import argument_error, begin, not_found, text_of, texts_of
from .windows_common import require_confirmation

NS = "Microsoft.Exchange.Management.RecipientTasks"
T_GET = f"{NS}.GetADPermission"
T_ADD = f"{NS}.AddADPermission"
T_REMOVE = f"{NS}.RemoveADPermission"
T_ACE = [f"{NS}.ADAcePresentationObject", f"{NS}.AcePresentationObject", "Microsoft.Exchange.Data.ConfigurableObject"]
T_OWNER = [f"{NS}.OwnerPresentationObject", "Microsoft.Exchange.Data.ConfigurableObject"]


def _exchange_2010_plus(host: Any) -> bool:
    return getattr(host, "kind", None) == "exchange" and str(getattr(host, "version", "")) in (
        "2010", "2013", "2016", "2019")


# --------------------------------------------------------------------- objects
def ace_object(obj: ADObject, ace: Ace) -> Any:
    return make_object(
        T_ACE,
        {
            "Identity": obj.dn,
            "User": ace.principal,
            "AccessRights": list(ace.rights),
            "ExtendedRights": list(ace.extended_rights) or None,
            "ChildObjectTypes": list(ace.child_object_types) or None,
            "InheritedObjectType": ace.inherited_object_type,
            "Properties": list(ace.properties) or None,
            "Deny": ace.deny,
            "InheritanceType": ace.inheritance,
            "IsInherited": ace.inherited,
            "IsValid": True,
            "ObjectState": "Unchanged",
        },
        obj.dn,
    )


def _owner_object(obj: ADObject) -> Any:
    return make_object(T_OWNER, {"Identity": obj.dn, "Owner": obj.owner, "IsValid": True,
                                 "ObjectState": "Unchanged"}, obj.dn)


# ------------------------------------------------------------------ resolution
def _resolve_object(inv: Any, identity: Any, task: str, *, terminating: bool) -> ADObject | None:
    ident = text_of(identity) or ""
    w = inv.lab.windows
    found = w.find_objects(ident)
    if len(found) > 1:
        err = argument_error(
            inv, f"The identity '{ident}' matches more than one object. Specify the distinguished name.", task,
            target=ident)
        if terminating:
            raise err
        inv.write_error(err)
        return None
    if not found:
        err = not_found(inv, ident, task)
        if terminating:
            raise err
        inv.write_error(err)
        return None
    return found[0]


def _resolve_principal(inv: Any, value: Any, task: str, *, terminating: bool) -> Any:
    ident = text_of(value) or ""
    p = inv.lab.windows.resolve_principal(ident)
    if p is None:
        err = not_found(inv, ident, task)
        if terminating:
            raise err
        inv.write_error(err)
    return p


def _rights(inv: Any, value: Any, task: str) -> list[str]:
    by_low = {r.lower(): r for r in ACTIVE_DIRECTORY_RIGHTS}
    out: list[str] = []
    for item in texts_of(value):
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if part.lower() not in by_low:
                raise errors.parameter_binding(
                    f"Cannot bind parameter 'AccessRights'. Cannot convert value \"{part}\" to type "
                    f"\"System.DirectoryServices.ActiveDirectoryRights\". Error: \"Unable to match the identifier "
                    f"name {part} to a valid enumerator name. Specify one of the following enumerator names and try "
                    f"again:\n{', '.join(ACTIVE_DIRECTORY_RIGHTS)}\"",
                    "CannotConvertArgumentNoMessage",
                    inv.name,
                )
            if by_low[part.lower()] not in out:
                out.append(by_low[part.lower()])
    return out


def _inheritance(inv: Any, value: Any, task: str) -> str:
    t = text_of(value) or ""
    for v in INHERITANCE_TYPES:
        if v.lower() == t.lower():
            return v
    raise argument_error(
        inv, f"Cannot convert value \"{t}\" to type \"System.DirectoryServices.ActiveDirectorySecurityInheritance\". "
             f"Valid values are: {', '.join(INHERITANCE_TYPES)}.", task, target=t)


def _piped_ace(inv: Any) -> Any:
    """An ADAcePresentationObject piped in (``Get-ADPermission … | Remove-ADPermission``):
    the engine binds its Identity to -Identity; the ACE itself is what -Instance would get."""
    for obj in inv.input or []:
        if any(t.endswith("ADAcePresentationObject") for t in type_names(obj)):
            return obj
    return None


def _template(inv: Any, task: str, *, terminating: bool) -> tuple[Ace | None, bool]:
    """The ACE a call describes (from -Instance or a piped ACE, overridden by the explicit
    parameters) and whether -InheritanceType was given."""
    inst = inv.get("Instance") if inv.has("Instance") else _piped_ace(inv)

    def pick(name: str) -> Any:
        if inv.has(name):
            return inv.get(name)
        return get_prop(inst, name) if inst is not None else None

    user = pick("User")
    if user is None:
        raise argument_error(inv, "The User parameter must be specified.", task)
    principal = _resolve_principal(inv, user, task, terminating=terminating)
    if principal is None:
        return None, False
    rights = _rights(inv, pick("AccessRights"), task) if pick("AccessRights") is not None else []
    extended = texts_of(pick("ExtendedRights"))
    if extended and "ExtendedRight" not in rights:
        rights.append("ExtendedRight")
    inheritance_given = pick("InheritanceType") is not None
    inheritance = _inheritance(inv, pick("InheritanceType"), task) if inheritance_given else "All"
    deny = pick("Deny")
    ace = Ace(
        principal=principal.display,
        sid=principal.sid,
        rights=[r for r in ACTIVE_DIRECTORY_RIGHTS if r in rights],
        deny=bool(deny) if not isinstance(deny, str) else deny.lower() in ("true", "$true"),
        inheritance=inheritance,
        extended_rights=extended,
        properties=texts_of(pick("Properties")),
        child_object_types=texts_of(pick("ChildObjectTypes")),
        inherited_object_type=text_of(pick("InheritedObjectType")),
    )
    return ace, inheritance_given


def _identity(inv: Any) -> Any:
    if inv.has("Identity"):
        return inv.get("Identity")
    inst = inv.get("Instance")
    return get_prop(inst, "Identity") if inst is not None else None


# ---------------------------------------------------------------- Get-ADPermission
@cmdlet("Get-ADPermission", syntax="exchange", rbac=READ, available_on=_exchange_2010_plus)
def get_ad_permission(inv: Any) -> None:
    lab = inv.lab
    out = []
    with lab.lock:
        begin(inv)
        obj = _resolve_object(inv, inv.get("Identity"), T_GET, terminating=False)
        if obj is None:
            return
        if inv.parameter_set == "Owner":
            out = [_owner_object(obj)]
        else:
            principal = None
            if inv.has("User"):
                principal = _resolve_principal(inv, inv.get("User"), T_GET, terminating=False)
                if principal is None:
                    return
            out = [ace_object(obj, a) for a in lab.windows.matching_aces(obj, principal)]
    for o in out:
        inv.write_output(o)


# ---------------------------------------------------------------- Add-ADPermission
@cmdlet("Add-ADPermission", syntax="exchange", rbac=WRITE, available_on=_exchange_2010_plus)
def add_ad_permission(inv: Any) -> None:
    """Adds an explicit ACE (InheritanceType All by default, PS:Add-ADPermission).  An ACE
    that already grants the rights is left alone with a warning; no output then."""
    lab = inv.lab
    with lab.lock:
        begin(inv)
        identity = _identity(inv)
        if identity is None:
            raise argument_error(inv, "The Identity parameter must be specified.", T_ADD)
        obj = _resolve_object(inv, identity, T_ADD, terminating=True)
        if inv.parameter_set == "Owner":
            principal = _resolve_principal(inv, inv.get("Owner"), T_ADD, terminating=True)
            require_confirmation(inv, "Add-ADPermission", obj.dn, prompts_by_default=False)
            obj.owner = principal.display
            obj.modified = lab.clock.now()
            return
        ace, _given = _template(inv, T_ADD, terminating=True)
        if not ace.rights and not ace.extended_rights:
            raise argument_error(inv, "Specify the AccessRights or ExtendedRights parameter.", T_ADD)
        require_confirmation(inv, "Add-ADPermission", obj.dn, prompts_by_default=False)
        if not lab.windows.add_ace(obj, ace):
            inv.write_warning(
                f'The appropriate access control entry is already present on the object "{obj.dn}" for account '
                f'"{ace.principal}".')
            return
        added = next(a for a in obj.aces if not a.inherited and a.same_rule(ace))
        out = ace_object(obj, added)
    inv.write_output(out)


# ------------------------------------------------------------- Remove-ADPermission
@cmdlet("Remove-ADPermission", syntax="exchange", rbac=WRITE, available_on=_exchange_2010_plus)
def remove_ad_permission(inv: Any) -> None:
    """Removes the given rights from the matching explicit ACEs (the whole ACE without
    -AccessRights/-ExtendedRights; any inheritance type unless -InheritanceType is given).
    Inherited ACEs stay (they come from the parent).  Nothing matching: a warning."""
    lab = inv.lab
    with lab.lock:
        begin(inv)
        identity = _identity(inv)
        if identity is None:
            raise argument_error(inv, "The Identity parameter must be specified.", T_REMOVE)
        obj = _resolve_object(inv, identity, T_REMOVE, terminating=True)
        if inv.parameter_set == "Owner" and _piped_ace(inv) is None:
            raise argument_error(
                inv, "Specify the User parameter (or Instance) to remove access control entries; an object's owner "
                     "can't be removed.", T_REMOVE)
        ace, inheritance_given = _template(inv, T_REMOVE, terminating=True)
        require_confirmation(inv, "Remove-ADPermission", f'{obj.dn}: "{ace.principal}"', prompts_by_default=True)
        all_rights = not ace.rights and not ace.extended_rights
        candidates = [ace]
        if not inheritance_given:
            candidates = []
            for inheritance in INHERITANCE_TYPES:
                c = Ace(**{**ace.__dict__, "inheritance": inheritance})
                candidates.append(c)
        changed = []
        for c in candidates:
            changed.extend(lab.windows.remove_ace(obj, c, all_rights=all_rights))
        if not changed:
            inv.write_warning(
                f'The appropriate access control entry is already absent on the object "{obj.dn}" for account '
                f'"{ace.principal}".')
