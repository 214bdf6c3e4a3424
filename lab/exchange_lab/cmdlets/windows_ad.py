"""ActiveDirectory module cmdlets: Get-ADComputer, New-ADComputer, Set-ADComputer (on domain
controllers and Exchange 2013+ Mailbox servers, Microsoft.PowerShell configuration).

Computer accounts are ``LabState.windows`` AD objects: every host, and the cluster name
object (CNO) of every DAG with an administrative access point, pre-staged as runbooks
§10.2 describes.  Identities: distinguished name, GUID, SID or SAM account name (with or
without the trailing ``$``), the page's list.  ``-Filter`` supports the simple forms of
about_ActiveDirectory_Filter the lab needs: ``*`` and ``<property> <op> <value>`` terms
(-eq -ne -like -notlike) joined by -and / -or, optionally negated with -not; anything else
is an ADFilterParsingException that says so.  Errors are the module's (FullyQualifiedErrorId
``ActiveDirectoryCmdlet:<exception>,Microsoft.ActiveDirectory.Management.Commands.<Cmdlet>``).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from .. import errors
from ..model.windows import ADObject
from ..psobj import get_prop, make_object
from ..registry import POWERSHELL, READ, WRITE, cmdlet
from .windows_common import ad_module_host, as_bool, require_confirmation, text, texts

RESOURCE_EXISTS = 20
T_AD_COMPUTER = [
    "Microsoft.ActiveDirectory.Management.ADComputer",
    "Microsoft.ActiveDirectory.Management.ADAccount",
    "Microsoft.ActiveDirectory.Management.ADPrincipal",
    "Microsoft.ActiveDirectory.Management.ADObject",
    "Microsoft.ActiveDirectory.Management.ADEntity",
    "Microsoft.ActiveDirectory.Management.ADPropertyCollection",
]
_DEFAULT_PROPS = ("DistinguishedName", "DNSHostName", "Enabled", "Name", "ObjectClass", "ObjectGUID",
                  "SamAccountName", "SID", "UserPrincipalName")
# Set-/New-ADComputer parameters kept as attributes (shown back by -Properties).
_ATTR_PARAMS = ("Description", "DisplayName", "DNSHostName", "HomePage", "Location", "ManagedBy",
                "OperatingSystem", "OperatingSystemHotfix", "OperatingSystemServicePack", "OperatingSystemVersion")


# --------------------------------------------------------------------- errors
def ad_error(inv: Any, exception: str, message: str, *, category: int, target: str | None = None,
             error_id: str | None = None) -> errors.PSError:
    cmd = inv.name.replace("-", "")
    full = f"Microsoft.ActiveDirectory.Management.{exception}"
    return errors.PSError(
        message=message,
        fqid=f"{error_id or 'ActiveDirectoryCmdlet:' + full},Microsoft.ActiveDirectory.Management.Commands.{cmd}",
        category=category,
        exception_types=[full, "System.Exception"] if exception == "ADException" else
        [full, "Microsoft.ActiveDirectory.Management.ADException", "System.Exception"],
        activity=inv.name,
        target_name=target,
        target_type=None if target is None else "String",
        target_object=target,
    )


def _identity_not_found(inv: Any, identity: str) -> errors.PSError:
    return ad_error(inv, "ADIdentityNotFoundException",
                    f"Cannot find an object with identity: '{identity}' under: '{inv.lab.windows.domain_dn}'.",
                    category=errors.OBJECT_NOT_FOUND, target=identity)


# ------------------------------------------------------------------ properties
def _all_properties(lab: Any, obj: ADObject) -> dict[str, Any]:
    w = lab.windows
    uac = w.user_account_control(obj)
    dns_name = obj.attrs.get("DNSHostName")
    ipv4 = None
    if dns_name:
        found = w.resolve_a(dns_name)
        ipv4 = found[0] if found else None
    canonical = "/".join([lab.domain, *[p.split("=", 1)[1] for p in reversed(obj.container.split(",")) if not
                          p.upper().startswith("DC=")], obj.name])
    props: dict[str, Any] = {
        "CanonicalName": canonical,
        "CN": obj.name,
        "Created": obj.created,
        "createTimeStamp": obj.created,
        "Description": obj.attrs.get("Description"),
        "DisplayName": obj.attrs.get("DisplayName"),
        "DistinguishedName": obj.dn,
        "DNSHostName": dns_name,
        "Enabled": obj.enabled,
        "HomePage": obj.attrs.get("HomePage"),
        "IPv4Address": ipv4,
        "isCriticalSystemObject": obj.critical,
        "Location": obj.attrs.get("Location"),
        "ManagedBy": obj.attrs.get("ManagedBy"),
        "MemberOf": w.member_of(obj),
        "Modified": obj.modified,
        "modifyTimeStamp": obj.modified,
        "Name": obj.name,
        "ObjectCategory": f"CN=Computer,CN=Schema,CN=Configuration,{w.domain_dn}",
        "ObjectClass": "computer",
        "ObjectGUID": obj.guid,
        "objectSid": obj.sid,
        "OperatingSystem": obj.attrs.get("OperatingSystem"),
        "OperatingSystemHotfix": obj.attrs.get("OperatingSystemHotfix"),
        "OperatingSystemServicePack": obj.attrs.get("OperatingSystemServicePack"),
        "OperatingSystemVersion": obj.attrs.get("OperatingSystemVersion"),
        "PasswordNotRequired": bool(uac & 0x20),
        "PrimaryGroup": (f"CN=Domain Controllers,{w.containers['users']}" if obj.critical else
                         f"CN=Domain Computers,{w.containers['users']}"),
        "primaryGroupID": 516 if obj.critical else 515,
        "ProtectedFromAccidentalDeletion": False,
        "SamAccountName": obj.sam,
        "sAMAccountType": 805306369,
        "ServicePrincipalNames": list(obj.attrs.get("ServicePrincipalNames", [])),
        "servicePrincipalName": list(obj.attrs.get("ServicePrincipalNames", [])),
        "SID": obj.sid,
        "TrustedForDelegation": obj.critical,
        "userAccountControl": uac,
        "UserPrincipalName": None,
        "whenChanged": obj.modified,
        "whenCreated": obj.created,
    }
    for key, value in obj.attrs.items():
        if key not in props and key != "ServicePrincipalNames":
            props[key] = value
    return props


def computer_object(lab: Any, obj: ADObject, wanted: list[str] | None = None) -> Any:
    """The default property set plus ``wanted`` (``*``: all), in the module's order
    (default set first, then the others alphabetically)."""
    allp = _all_properties(lab, obj)
    names = list(_DEFAULT_PROPS)
    if wanted:
        if any(w == "*" for w in wanted):
            extra = sorted((k for k in allp if k not in names), key=str.lower)
        else:
            index = {k.lower(): k for k in allp}
            extra = [index[w.lower()] for w in wanted if w.lower() in index and index[w.lower()] not in names]
        names.extend(extra)
    return make_object(T_AD_COMPUTER, {n: allp[n] for n in names}, obj.dn)


def _check_properties(inv: Any, wanted: list[str], sample: ADObject | None) -> None:
    if not wanted or sample is None:
        return
    known = {k.lower() for k in _all_properties(inv.lab, sample)}
    bad = [w for w in wanted if w != "*" and w.lower() not in known]
    if bad:
        raise errors.PSError(
            message=f"One or more properties are invalid.\r\nParameter name: {bad[0]}",
            fqid=f"ActiveDirectoryCmdlet:System.ArgumentException,Microsoft.ActiveDirectory.Management.Commands."
                 f"{inv.name.replace('-', '')}",
            category=errors.INVALID_ARGUMENT,
            exception_types=["System.ArgumentException", "System.SystemException", "System.Exception"],
            activity=inv.name,
            target_name=bad[0],
            target_type="String",
            target_object=bad[0],
        )


# ----------------------------------------------------------------------- filter
_TERM = re.compile(
    r"""\s*(?P<not>-not\s+)?(?P<attr>[A-Za-z][\w-]*)\s+(?P<op>-eq|-ne|-like|-notlike)\s+
        (?P<value>"[^"]*"|'[^']*'|\$true|\$false|\$null|[^\s()]+)\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def _filter_error(inv: Any, flt: str, detail: str) -> errors.PSError:
    return ad_error(
        inv, "ADFilterParsingException",
        f"Error parsing query: '{flt}' Error Message: '{detail}' (the lab supports '*' and "
        "'<Property> -eq|-ne|-like|-notlike <value>' terms joined by -and/-or, optionally with -not).",
        category=errors.PARSER_ERROR, target=flt)


def _parse_filter(inv: Any, flt: str) -> list[list[tuple[bool, str, str, Any]]]:
    """Disjunctive form: a list of -or alternatives, each a list of -and terms
    (negated, attribute, operator, value)."""
    s = flt.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1].strip()
    if s == "*":
        return [[]]
    alternatives: list[list[tuple[bool, str, str, Any]]] = []
    for alt in re.split(r"\s-or\s", s, flags=re.IGNORECASE):
        terms = []
        for part in re.split(r"\s-and\s", alt, flags=re.IGNORECASE):
            part = part.strip()
            while part.startswith("(") and part.endswith(")"):
                part = part[1:-1].strip()
            m = _TERM.fullmatch(part)
            if not m:
                raise _filter_error(inv, flt, f"syntax error near '{part}'")
            raw = m.group("value")
            if raw[:1] in ("'", '"'):
                value: Any = raw[1:-1]
            elif raw.lower() in ("$true", "$false"):
                value = raw.lower() == "$true"
            elif raw.lower() == "$null":
                value = None
            elif raw.startswith("$"):
                raise _filter_error(inv, flt, f"variable {raw} cannot be resolved in a remote session")
            else:
                value = raw
            terms.append((bool(m.group("not")), m.group("attr"), m.group("op").lower(), value))
        alternatives.append(terms)
    return alternatives


def _matches(props: dict[str, Any], alternatives: list[list[tuple[bool, str, str, Any]]]) -> bool:
    index = {k.lower(): v for k, v in props.items()}
    for terms in alternatives:
        ok = True
        for negate, attr, op, value in terms:
            actual = index.get(attr.lower())
            if isinstance(value, bool) or isinstance(actual, bool):
                hit = bool(actual) == (value if isinstance(value, bool) else str(value).lower() == "true")
            elif value is None:
                hit = actual is None
            else:
                a, v = str(actual if actual is not None else "").lower(), str(value).lower()
                if op in ("-like", "-notlike"):
                    hit = fnmatch.fnmatchcase(a, v)
                else:
                    hit = a == v
            if op in ("-ne", "-notlike"):
                hit = not hit
            if negate:
                hit = not hit
            if not hit:
                ok = False
                break
        if ok:
            return True
    return False


# ---------------------------------------------------------------- Get-ADComputer
def _resolve(inv: Any, identity: Any) -> ADObject:
    w = inv.lab.windows
    if identity is not None and not isinstance(identity, str):
        dn = get_prop(identity, "DistinguishedName")
        identity = text(dn) if dn is not None else text(identity)
    ident = str(identity or "")
    found = w.find_objects(ident, object_class="computer")
    if len(found) > 1:
        raise ad_error(inv, "ADMultipleMatchingIdentitiesException",
                       "Multiple objects were found with the same identity.", category=errors.INVALID_DATA,
                       target=ident)
    if not found:
        raise _identity_not_found(inv, ident)
    return found[0]


@cmdlet("Get-ADComputer", syntax="windows", rbac=READ, configurations=(POWERSHELL,), available_on=ad_module_host)
def get_ad_computer(inv: Any) -> None:
    lab = inv.lab
    w = lab.windows
    wanted = texts(inv.get("Properties"))
    with lab.lock:
        lab.tick()
        computers = w.computers()
        _check_properties(inv, wanted, computers[0] if computers else None)
        if inv.parameter_set == "Identity":
            out = [computer_object(lab, _resolve(inv, inv.get("Identity")), wanted)]
        elif inv.parameter_set == "LdapFilter":
            raise ad_error(inv, "ADFilterParsingException",
                           "The lab does not evaluate LDAP filters; use -Filter or -Identity.",
                           category=errors.PARSER_ERROR, target=text(inv.get("LDAPFilter")))
        else:
            alternatives = _parse_filter(inv, text(inv.get("Filter")) or "")
            base = text(inv.get("SearchBase"))
            scope = str(inv.get("SearchScope") or "Subtree")
            out = []
            for obj in computers:
                if base:
                    b = base.lower()
                    container = obj.container.lower()
                    if scope == "Base" and obj.dn.lower() != b:
                        continue
                    if scope == "OneLevel" and container != b:
                        continue
                    if scope == "Subtree" and not (obj.dn.lower() == b or obj.dn.lower().endswith("," + b)):
                        continue
                if _matches(_all_properties(lab, obj), alternatives):
                    out.append(computer_object(lab, obj, wanted))
            size = inv.get("ResultSetSize")
            if size is not None:
                out = out[: int(size)]
    for o in out:
        inv.write_output(o)


# ---------------------------------------------------------------- New-ADComputer
@cmdlet("New-ADComputer", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,), available_on=ad_module_host)
def new_ad_computer(inv: Any) -> None:
    """Creates a computer account (the page: it does not join a computer).  Defaults: the
    Computers container, SAM account name = the name with ``$``, enabled (``-Enabled
    $false`` gives the disabled pre-staged account of runbooks §10.2)."""
    lab = inv.lab
    w = lab.windows
    name = text(inv.get("Name")) or ""
    with lab.lock:
        lab.tick()
        template = inv.get("Instance")
        attrs: dict[str, Any] = {}
        if template is not None:
            for key in ("Location", "OperatingSystem", "OperatingSystemHotfix", "OperatingSystemServicePack",
                        "OperatingSystemVersion", "Description"):
                value = get_prop(template, key)
                if value is not None:
                    attrs[key] = text(value)
        for key in _ATTR_PARAMS:
            if inv.has(key):
                attrs[key] = text(inv.get(key))
        if inv.has("ServicePrincipalNames"):
            attrs["ServicePrincipalNames"] = texts(inv.get("ServicePrincipalNames"))
        for key, value in inv.params.items():
            if key not in ("Name", "SAMAccountName", "Path", "Enabled", "Instance", "PassThru", "Server",
                           "Credential", "AuthType", "ServicePrincipalNames", "AccountPassword", *_ATTR_PARAMS):
                attrs[key] = value
        sam = text(inv.get("SAMAccountName")) or name
        if not sam.endswith("$"):
            sam += "$"
        path = text(inv.get("Path")) or w.containers["computers"]
        if not w.container_exists(path):
            raise ad_error(inv, "ADIdentityNotFoundException", "Directory object not found",
                           category=errors.OBJECT_NOT_FOUND, target=f"CN={name},{path}",
                           error_id="ActiveDirectoryCmdlet:Microsoft.ActiveDirectory.Management."
                                    "ADIdentityNotFoundException")
        clash = [o for o in w.objects if o.sam.lower() == sam.lower() or o.dn.lower() == f"cn={name},{path}".lower()]
        if clash:
            raise ad_error(inv, "ADIdentityAlreadyExistsException", "The specified account already exists",
                           category=RESOURCE_EXISTS, target=f"CN={name},{path}",
                           error_id="ActiveDirectoryServer:1316")
        require_confirmation(inv, "New", f"CN={name},{path}", prompts_by_default=False)
        enabled = as_bool(inv.get("Enabled")) if inv.has("Enabled") else True
        obj = w.new_computer(name, sam=sam, path=path, enabled=enabled, attrs=attrs)
        out = computer_object(lab, obj) if inv.get("PassThru") else None
    if out is not None:
        inv.write_output(out)


# ---------------------------------------------------------------- Set-ADComputer
@cmdlet("Set-ADComputer", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,), available_on=ad_module_host)
def set_ad_computer(inv: Any) -> None:
    """Changes -Enabled and the attribute parameters; -Instance applies the changed
    properties of a (deserialised) computer object; -Add/-Replace/-Remove/-Clear work on
    the attributes the lab keeps."""
    lab = inv.lab
    with lab.lock:
        lab.tick()
        if inv.parameter_set == "Instance":
            instance = inv.get("Instance")
            obj = _resolve(inv, get_prop(instance, "DistinguishedName") or get_prop(instance, "SamAccountName"))
            changes: dict[str, Any] = {}
            current = _all_properties(lab, obj)
            for key in ("Enabled", *_ATTR_PARAMS):
                value = get_prop(instance, key)
                if value is not None and value != current.get(key):
                    changes[key] = value
        else:
            obj = _resolve(inv, inv.get("Identity"))
            changes = {k: inv.get(k) for k in ("Enabled", *_ATTR_PARAMS) if inv.has(k)}
        require_confirmation(inv, "Set", obj.dn, prompts_by_default=False)
        changed = False
        if "Enabled" in changes:
            enabled = as_bool(changes.pop("Enabled"))
            changed |= enabled != obj.enabled
            obj.enabled = enabled
        for key, value in changes.items():
            new = text(value)
            changed |= obj.attrs.get(key) != new
            obj.attrs[key] = new
        for op in ("Add", "Replace", "Remove"):
            table = inv.get(op)
            if isinstance(table, dict):
                for key, value in table.items():
                    k = "ServicePrincipalNames" if str(key).lower() in ("serviceprincipalname",
                                                                         "serviceprincipalnames") else str(key)
                    values = texts(value)
                    if k == "ServicePrincipalNames":
                        have = list(obj.attrs.get(k, []))
                        if op == "Add":
                            have += [v for v in values if v not in have]
                        elif op == "Replace":
                            have = values
                        else:
                            have = [v for v in have if v not in values]
                        obj.attrs[k] = have
                    elif op == "Remove":
                        obj.attrs.pop(k, None)
                    else:
                        obj.attrs[k] = values[0] if len(values) == 1 else values
                    changed = True
        for key in texts(inv.get("Clear")):
            if key in obj.attrs:
                obj.attrs.pop(key)
                changed = True
        if changed:
            obj.modified = lab.clock.now()
        out = computer_object(lab, obj) if inv.get("PassThru") else None
    if out is not None:
        inv.write_output(out)

