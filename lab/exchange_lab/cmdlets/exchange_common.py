"""Helpers shared by the Exchange cmdlet implementations (exchange_*.py)."""

from __future__ import annotations

import fnmatch
from typing import Any

from .. import errors
from ..psobj import get_prop

TASK_NS = "Microsoft.Exchange.Management.SystemConfigurationTasks"


def task_class(name: str, namespace: str = TASK_NS) -> str:
    return f"{namespace}.{name}"


def text_of(value: Any) -> str | None:
    """An identity parameter's value as text: a string as is; an object (pipeline input or
    a deserialised ADObjectId) by its ``Identity``/``Name`` property or its string form."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    for prop in ("Identity", "Name"):
        v = get_prop(value, prop)
        if v is not None and v is not value:
            return text_of(v)
    meta = getattr(value, "PSObject", None)
    to_string = getattr(meta, "to_string", None) if meta is not None else None
    if to_string:
        return str(to_string)
    return str(value)


def texts_of(value: Any) -> list[str]:
    """A (possibly multi-valued) parameter as a list of strings."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for v in value:
            out.extend(texts_of(v))
        return out
    t = text_of(value)
    return [t] if t is not None else []


def matches(pattern: str, name: str) -> bool:
    """Case-insensitive name match with PowerShell-style ``*``/``?`` wildcards."""
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name.lower(), pattern.lower())
    return pattern.lower() == name.lower()


def short_name(identity: str) -> str:
    """``ex01.contoso.com`` -> ``ex01`` (server identities accept FQDNs)."""
    return identity.split(".", 1)[0] if "." in identity else identity


def dc_fqdn(inv: Any) -> str:
    """The domain controller a task on this host talks to (one in the host's site)."""
    dc = inv.lab.domain_controller_for(getattr(inv.host, "site", None))
    return dc.fqdn if dc else f"dc.{inv.lab.domain}"


def not_found(inv: Any, identity: str, task: str) -> errors.PSError:
    return errors.object_not_found(
        identity, dc_fqdn=dc_fqdn(inv), server=inv.host.name, cmdlet=inv.name, task_class=task
    )


def task_error(
    inv: Any,
    message: str,
    exception_type: str,
    task: str,
    *,
    category: int = errors.INVALID_OPERATION,
    target: str | None = None,
    base_types: list[str] | None = None,
) -> errors.PSError:
    return errors.exchange_error(
        message,
        exception_type,
        server=inv.host.name,
        cmdlet=inv.name,
        task_class=task,
        category=category,
        target=target,
        base_types=base_types,
    )


def invalid_operation(inv: Any, message: str, task: str, target: str | None = None) -> errors.PSError:
    """A task's ``WriteError(new InvalidOperationException(...), InvalidOperation)``."""
    return errors.PSError(
        message=message,
        fqid=errors.exchange_fqid(inv.host.name, "InvalidOperationException", task),
        category=errors.INVALID_OPERATION,
        exception_types=["System.InvalidOperationException", "System.SystemException", "System.Exception"],
        activity=inv.name,
        target_name=target,
        target_type=None if target is None else "String",
        target_object=target,
    )


def argument_error(inv: Any, message: str, task: str, target: str | None = None) -> errors.PSError:
    """A task's ``WriteError(new ArgumentException(...), InvalidArgument)``."""
    return errors.PSError(
        message=message,
        fqid=errors.exchange_fqid(inv.host.name, "ArgumentException", task),
        category=errors.INVALID_ARGUMENT,
        exception_types=["System.ArgumentException", "System.SystemException", "System.Exception"],
        activity=inv.name,
        target_name=target,
        target_type=None if target is None else "String",
        target_object=target,
    )


def no_change_warning(inv: Any, identity: str) -> None:
    inv.write_warning(f"The command completed successfully but no settings of '{identity}' have been modified.")


def begin(inv: Any) -> None:
    """Apply due scheduled transitions before reading the model (lock held by caller)."""
    inv.lab.tick()


def resolve_servers(inv: Any, identity: str | None, task: str, *, terminating: bool) -> list:
    """Exchange servers matching ``identity`` (name, FQDN or wildcard); all when None.
    Not found: non-terminating error (Get-*) or raised (Set-*/actions)."""
    lab = inv.lab
    if identity is None:
        return list(lab.servers.values())
    srv = lab.server(identity)
    if srv is not None:
        return [srv]
    found = [s for s in lab.servers.values() if matches(identity, s.name) or matches(identity, s.fqdn)]
    if found:
        return found
    err = not_found(inv, identity, task)
    if terminating:
        raise err
    inv.write_error(err)
    return []
