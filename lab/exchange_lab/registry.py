"""Cmdlet registry and the objects a cmdlet implementation receives.

The three layers of the lab meet here:

* the protocol layer (``wsman.py`` / ``psrp_host.py``) creates one :class:`Session`
  per runspace pool and hands every pipeline to ``engine.run_pipeline``;
* the engine (``engine.py``) resolves each command against :data:`CMDLETS`, checks
  the configuration, the snap-ins loaded and the caller's RBAC, binds the
  parameters against the declarations in ``syntax/`` and calls the implementation
  with an :class:`Invocation`;
* implementations (``cmdlets/*.py``) are registered with :func:`cmdlet` and read
  and change the model through ``inv.lab``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .errors import PSError

EXCHANGE = "Microsoft.Exchange"
POWERSHELL = "Microsoft.PowerShell"

# RBAC classes: a View-Only Organization Management user gets only "read" cmdlets;
# Organization Management gets both.  Utility cmdlets are available to everyone.
READ = "read"
WRITE = "write"


@dataclass
class CmdletDef:
    name: str
    func: Callable[["Invocation"], Iterable[Any] | None]
    # which syntax table declares it: "exchange", "windows" or "utility"
    syntax: str
    rbac: str = READ
    # configurations where it exists; hosts further restrict by role/version
    configurations: frozenset[str] = frozenset({EXCHANGE})
    # snap-in that must be loaded first (Exchange 2007 on Microsoft.PowerShell)
    snapin: str | None = None
    # predicate(host) -> bool: does this host have the cmdlet at all
    available_on: Callable[[Any], bool] | None = None


CMDLETS: dict[str, CmdletDef] = {}
# Further definitions of a name that CMDLETS already has (e.g. the Exchange 2007 snap-in's
# Get-ExchangeServer next to the 2010+ endpoint's): a session runs the first definition,
# CMDLETS entry first, that is visible to it (engine.lookup).
VARIANTS: dict[str, list[CmdletDef]] = {}


def definitions(name: str) -> list[CmdletDef]:
    """Every definition registered under ``name`` (case-insensitive), primary first."""
    key = name.lower()
    primary = CMDLETS.get(key)
    return ([primary] if primary is not None else []) + VARIANTS.get(key, [])


def cmdlet(
    name: str,
    *,
    syntax: str,
    rbac: str = READ,
    configurations: Iterable[str] = (EXCHANGE,),
    snapin: str | None = None,
    available_on: Callable[[Any], bool] | None = None,
    variant: bool = False,
) -> Callable[[Callable[["Invocation"], Any]], Callable[["Invocation"], Any]]:
    """Register a cmdlet implementation.  ``variant=True`` adds a further definition of a
    name (another configuration, snap-in or host set) instead of replacing it."""

    def deco(func: Callable[["Invocation"], Any]) -> Callable[["Invocation"], Any]:
        cdef = CmdletDef(
            name=name,
            func=func,
            syntax=syntax,
            rbac=rbac,
            configurations=frozenset(configurations),
            snapin=snapin,
            available_on=available_on,
        )
        if variant:
            VARIANTS.setdefault(name.lower(), []).append(cdef)
        else:
            CMDLETS[name.lower()] = cdef
        return func

    return deco


class PipelineSink(Protocol):
    """Where a running pipeline writes (implemented by the protocol layer)."""

    def write_output(self, obj: Any) -> None: ...
    def write_error(self, err: "PSError") -> None: ...
    def write_warning(self, message: str) -> None: ...
    def write_verbose(self, message: str) -> None: ...
    def write_progress(self, activity: str, status: str, percent: int = -1) -> None: ...
    @property
    def stopping(self) -> bool: ...


@dataclass
class User:
    name: str            # DOMAIN\sam, e.g. CONTOSO\administrator
    upn: str             # administrator@contoso.com
    roles: list[str]     # e.g. ["Organization Management"]

    @property
    def can_write(self) -> bool:
        return any(r in ("Organization Management", "Server Management", "Domain Admins") for r in self.roles)


@dataclass
class Session:
    """One runspace pool: who, where, which configuration, what is loaded."""

    host: Any            # the virtual host (model.HostInfo)
    configuration: str   # EXCHANGE or POWERSHELL
    user: User
    lab: Any             # the LabState
    snapins: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Invocation:
    """What a cmdlet implementation receives."""

    name: str                      # canonical cmdlet name
    parameter_set: str             # resolved parameter set name
    params: dict[str, Any]         # canonical parameter name -> value (switches: True/False)
    common: dict[str, Any]         # common/risk parameters given (ErrorAction, Confirm, WhatIf, ...)
    input: list[Any]               # pipeline input objects (already collected)
    session: Session
    sink: PipelineSink

    @property
    def lab(self) -> Any:
        return self.session.lab

    @property
    def host(self) -> Any:
        return self.session.host

    def has(self, name: str) -> bool:
        return name in self.params

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def write_output(self, obj: Any) -> None:
        self.sink.write_output(obj)

    def write_error(self, err: "PSError") -> None:
        """A non-terminating error (the engine turns it terminating under -ErrorAction Stop)."""
        self.sink.write_error(err)

    def write_warning(self, message: str) -> None:
        self.sink.write_warning(message)

    def write_verbose(self, message: str) -> None:
        self.sink.write_verbose(message)

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        self.sink.write_progress(activity, status, percent)

    @property
    def stopping(self) -> bool:
        return self.sink.stopping
