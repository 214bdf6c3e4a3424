"""The lab's PowerShell engine: runs one PSRP pipeline against the cmdlet registry.

``run_pipeline(session, commands, input_objects, sink)`` is called by the protocol layer
in a worker thread.  For each statement (``end_of_statement`` ends one) it

1. resolves every command (``registry.CMDLETS``, case-insensitive) and checks that this
   session may run it: configuration, host (``available_on``), snap-in (on
   ``Microsoft.PowerShell`` only) and RBAC (``WRITE`` cmdlets need ``user.can_write`` on
   ``Microsoft.Exchange``).  Any failure is ``CommandNotFoundException`` ("not
   recognized"), which is what Exchange's RBAC-trimmed runspace reports;
2. checks the named parameters of every command (unknown / ambiguous names fail the
   pipeline before anything runs, as PowerShell binds all commands first);
3. runs the commands in order, the collected output of one being the input of the next.

Decisions (documented for the cmdlet authors):

* **Scripts**: any ``is_script`` command fails the pipeline before anything runs:
  ``ScriptsNotAllowed`` (ParseException) on ``Microsoft.Exchange`` (NoLanguage mode, as
  real Exchange), ``ScriptsNotSupportedByLab`` (System.NotSupportedException,
  NotImplemented) on ``Microsoft.PowerShell``, where a real server would run the script
  but the lab has no PowerShell language interpreter.
* **Pipeline input**: a command that receives objects (client ``input`` for the first
  command, the previous command's output otherwise) and whose declaration has
  ``Identity`` taking pipeline input (not given on the command line) runs once per
  object, with ``Identity`` bound to the object's ``Identity`` property, else its
  ``Name`` property, else the object itself when it is a string/number (a PSObject
  identity is bound as its ToString).  Failing that, an ``InputObject`` parameter taking
  pipeline input by value gets the object itself.  Utility cmdlets (Select-Object ...)
  run once and read ``inv.input``.  An object no parameter takes gives the non-terminating
  ``InputObjectNotBound`` error.  ``inv.input`` always holds the object(s) of that run.
* **-ErrorAction**: ``Stop`` raises the first non-terminating error (terminating the
  pipeline with that error record); ``SilentlyContinue``/``Ignore`` drop non-terminating
  errors; otherwise they go to the client.  ``-WarningAction SilentlyContinue``/``Ignore``
  drop warnings, ``Stop`` terminates with ``ActionPreferenceStopException``.  Verbose
  records are sent only with ``-Verbose``.
* **-WhatIf**: PowerShell writes "What if:" text to the host UI, which the lab does not
  model.  An implementation that honours WhatIf (does not change the model) declares it
  with :func:`supports_whatif`; it is called with ``inv.common["WhatIf"] = True``.  For
  any other implementation the engine does not call it at all under ``-WhatIf`` (no
  output, nothing changed).
* **Audit**: one record per execution of an implementation (so per pipeline object when a
  command runs once per object, like Exchange's admin audit log), and one record for a
  command that failed before running (not found, binding, script), with ``outcome`` the
  error id of the first error (terminating or not) or ``"ok"``.
* **Undeclared cmdlets** (no entry in their syntax table, e.g. Exchange 2007-only cmdlets
  the documentation lacks): names are bound as given (common parameters recognised),
  positional arguments are refused, the parameter set is ``__AllParameterSets``.
* **Native commands** (an implementation marked with :func:`native_command`, e.g.
  ``Setup.com`` on an Exchange 2007 node): no binding at all; every argument is passed
  as text in order, as PowerShell hands them to a program (``inv.params["Arguments"]``;
  a named parameter ``-Name`` / ``-Name:value`` as such).  A command text that is a path
  is looked up by its last component.
* **Variants**: a name may have several definitions (``registry.definitions``); a session
  runs the first one visible to it.  The ``exchange2007`` syntax table is bound as
  ``"Exchange Server 2007"`` (Windows PowerShell 1.0 common parameters).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable

from . import binding, errors, psobj, syntax
from .registry import CMDLETS, EXCHANGE, POWERSHELL, VARIANTS, WRITE, CmdletDef, Invocation, Session, definitions

log = logging.getLogger(__name__)

EXCHANGE_VERSIONS = ("2010", "2013", "2016", "2019")


def supports_whatif(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a cmdlet implementation as honouring ``inv.common["WhatIf"]``."""
    func.supports_whatif = True  # type: ignore[attr-defined]
    return func


def native_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an implementation as a native program (see the module docstring)."""
    func.native_command = True  # type: ignore[attr-defined]
    return func


def _binding_version(cdef: CmdletDef, host: Any) -> str | None:
    if cdef.syntax == "exchange":
        return exchange_version(host)
    if cdef.syntax == "exchange2007":
        return "Exchange Server 2007"
    return None


def exchange_version(host: Any) -> str | None:
    """``"Exchange Server <version>"`` for an Exchange 2010-2019 host, else None."""
    if getattr(host, "kind", None) == "exchange" and str(getattr(host, "version", "")) in EXCHANGE_VERSIONS:
        return f"Exchange Server {host.version}"
    return None


def _load() -> None:
    from . import cmdlets

    cmdlets.load_all()


# ---------------------------------------------------------------------------
# Command lookup
# ---------------------------------------------------------------------------


def lookup(session: Session, name: str) -> CmdletDef | None:
    """The cmdlet ``name`` if this session may run it (else None: "not recognized")."""
    _load()
    short = name.rsplit("\\", 1)[-1]
    for cdef in definitions(short):
        if visible(session, cdef):
            return cdef
    return None


def visible(session: Session, cdef: CmdletDef) -> bool:
    """Configuration, host, snap-in and RBAC checks for one cmdlet."""
    if session.configuration not in cdef.configurations:
        return False
    if cdef.syntax == "utility":
        return True
    if cdef.available_on is not None and not cdef.available_on(session.host):
        return False
    if cdef.snapin and session.configuration == POWERSHELL and cdef.snapin not in session.snapins:
        return False
    if cdef.rbac == WRITE and session.configuration == EXCHANGE and not session.user.can_write:
        return False
    return True


def visible_cmdlets(session: Session) -> list[CmdletDef]:
    """Every command this session may run (Get-Command)."""
    _load()
    seen: dict[str, CmdletDef] = {}
    for key in [*CMDLETS, *VARIANTS]:
        if key in seen:
            continue
        for cdef in definitions(key):
            if visible(session, cdef):
                seen[key] = cdef
                break
    return sorted(seen.values(), key=lambda c: c.name.lower())


# ---------------------------------------------------------------------------
# Sinks
# ---------------------------------------------------------------------------


class _Collector:
    """Output of a command that is not last in its statement."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def write_output(self, obj: Any) -> None:
        self.items.append(obj)


def _action_stop(message: str, cmdlet: str) -> errors.PSError:
    return errors.PSError(
        message=(
            'The running command stopped because the preference variable "WarningPreference" or '
            f"common parameter is set to Stop: {message}"
        ),
        fqid=f"ActionPreferenceStop,{cmdlet}",
        category=errors.OPERATION_STOPPED,
        exception_types=[
            "System.Management.Automation.ActionPreferenceStopException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
        ],
        activity=cmdlet,
    )


class _CommandSink:
    """What one cmdlet run writes to: applies -ErrorAction / -WarningAction / -Verbose."""

    def __init__(self, real: Any, output: Any, cmdlet: str, common: dict[str, Any]) -> None:
        self.real = real
        self.output = output
        self.cmdlet = cmdlet
        self.error_action = common.get("ErrorAction", "Continue")
        self.warning_action = common.get("WarningAction", "Continue")
        self.verbose = bool(common.get("Verbose", False))
        self.first_error: str | None = None

    def write_output(self, obj: Any) -> None:
        self.output.write_output(obj)

    def write_error(self, err: errors.PSError) -> None:
        if err.activity is None:
            err.activity = self.cmdlet
        if self.first_error is None:
            self.first_error = err.error_id
        if self.error_action == "Stop":
            raise err
        if self.error_action in ("SilentlyContinue", "Ignore"):
            return
        self.real.write_error(err)

    def write_warning(self, message: str) -> None:
        if self.warning_action in ("SilentlyContinue", "Ignore"):
            return
        if self.warning_action == "Stop":
            raise _action_stop(message, self.cmdlet)
        self.real.write_warning(message)

    def write_verbose(self, message: str) -> None:
        if self.verbose:
            self.real.write_verbose(message)

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        self.real.write_progress(activity, status, percent)

    @property
    def stopping(self) -> bool:
        return bool(getattr(self.real, "stopping", False))


# ---------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a parameter value for the audit log (secrets masked)."""
    type_names = getattr(getattr(value, "PSObject", None), "type_names", None) or []
    if any("SecureString" in t or "PSCredential" in t for t in type_names) or type(value).__name__ in (
        "PSSecureString",
        "PSCredential",
    ):
        return "********"
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return str(value)


def _audit(session: Session, cmdlet: str, params: dict[str, Any], outcome: str, started: float) -> None:
    audit = getattr(session.lab, "audit", None)
    if audit is None:
        return
    audit.record(
        session=session,
        cmdlet=cmdlet,
        parameters={k: _plain(v) for k, v in params.items()},
        outcome=outcome,
        duration_s=time.perf_counter() - started,
    )


def _raw_dict(raw: list[tuple[str | None, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, (name, value) in enumerate(raw):
        out[name if name else f"<positional {i}>"] = value
    return out


# ---------------------------------------------------------------------------
# Binding
# ---------------------------------------------------------------------------


class _Prepared:
    """One resolved command of a statement."""

    def __init__(self, cdef: CmdletDef, raw: list[tuple[str | None, Any]], decl: dict[str, Any] | None,
                 version: str | None, named: list[str]) -> None:
        self.cdef = cdef
        self.raw = raw
        self.decl = decl
        self.version = version
        self.named = named


# The declaration an undeclared cmdlet is bound against (common parameters only).
_UNDECLARED: dict[str, Any] = {
    "parameter_sets": [{"name": "__AllParameterSets", "parameters": []}],
    "parameters": {},
    "risk_mitigation_parameters": ["WhatIf", "Confirm"],
}


def _bind_undeclared(cdef: CmdletDef, raw: list[tuple[str | None, Any]], version: str | None) -> binding.Bound:
    """Bind a cmdlet the syntax tables do not declare: names as given, common ones canonical."""
    common_decl = _UNDECLARED
    bound = binding.Bound(cmdlet=cdef.name, parameter_set="__AllParameterSets")
    for name, value in raw:
        if not name:
            raise errors.parameter_binding(
                f"A positional parameter cannot be found that accepts argument '{value}'.",
                "PositionalParameterNotFound",
                cdef.name,
            )
        try:
            common = binding.bind(common_decl, [(name, value)], cmdlet=cdef.name, version=version)
        except errors.PSError as err:
            if err.error_id != "NamedParameterNotFound":
                raise
            key = name.lstrip("-")
            if key in bound.params:
                raise errors.parameter_binding(
                    f"Cannot bind parameter because parameter '{key}' is specified more than once. To provide "
                    "multiple values to parameters that can accept multiple values, use the array syntax. "
                    'For example, "-parameter value1,value2,value3".',
                    "ParameterAlreadyBound",
                    cdef.name,
                )
            bound.params[key] = True if value is None else value
        else:
            bound.common.update(common.common)
    return bound


def _bind_native(cdef: CmdletDef, raw: list[tuple[str | None, Any]]) -> binding.Bound:
    """A native program's arguments, as text, in order (no parameter binding)."""
    args: list[str] = []
    for name, value in raw:
        if name:
            flag = name if name.startswith("-") else f"-{name}"
            args.append(flag if value is None else f"{flag}:{value}")
        elif isinstance(value, (list, tuple)):
            args.extend(str(v) for v in value)
        else:
            args.append(str(value))
    return binding.Bound(cmdlet=cdef.name, parameter_set="__AllParameterSets", params={"Arguments": args})


def _bind(prep: _Prepared, raw: list[tuple[str | None, Any]]) -> binding.Bound:
    if getattr(prep.cdef.func, "native_command", False):
        return _bind_native(prep.cdef, raw)
    if prep.decl is None:
        return _bind_undeclared(prep.cdef, raw, prep.version)
    return binding.bind(prep.decl, raw, cmdlet=prep.cdef.name, version=prep.version)


def _pipeline_param(prep: _Prepared) -> str | None:
    """The parameter that takes each piped object (see the module docstring)."""
    if prep.decl is None or prep.cdef.syntax == "utility":
        return None
    if "Identity" not in prep.named and binding.accepts_pipeline(prep.decl, "Identity"):
        return "Identity"
    if "InputObject" not in prep.named and binding.accepts_pipeline(prep.decl, "InputObject", "ByValue"):
        return "InputObject"
    return None


def _identity_of(obj: Any) -> Any:
    """The value bound to -Identity from a piped object (None when it has none)."""
    for prop in ("Identity", "Name"):
        if psobj.has_prop(obj, prop):
            value = psobj.get_prop(obj, prop)
            if value is None:
                continue
            if hasattr(value, "PSObject") and not isinstance(value, (str, int)):
                return str(value)
            return value
    if isinstance(obj, (str, int)) and not isinstance(obj, bool):
        return obj
    return None


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def _invoke(session: Session, prep: _Prepared, bound: binding.Bound, input_items: list[Any],
            real_sink: Any, output: Any) -> None:
    """Run one implementation with audit and error-action handling."""
    cdef = prep.cdef
    started = time.perf_counter()
    csink = _CommandSink(real_sink, output, cdef.name, bound.common)
    outcome = "ok"
    try:
        if bound.common.get("WhatIf") and not getattr(cdef.func, "supports_whatif", False):
            return
        inv = Invocation(
            name=cdef.name,
            parameter_set=bound.parameter_set,
            params=bound.params,
            common=bound.common,
            input=input_items,
            session=session,
            sink=csink,
        )
        result = cdef.func(inv)
        if result is not None:
            for obj in result:
                csink.write_output(obj)
    except errors.PSError as err:
        if err.activity is None:
            err.activity = cdef.name
        outcome = csink.first_error or err.error_id
        raise
    except Exception as exc:  # an implementation bug: fail the pipeline with a readable record
        log.exception("cmdlet %s failed", cdef.name)
        err = errors.PSError(
            message=f"{type(exc).__name__}: {exc}",
            fqid=f"LabInternalError,{cdef.name}",
            category=errors.NOT_SPECIFIED,
            exception_types=["System.InvalidOperationException", "System.SystemException", "System.Exception"],
            activity=cdef.name,
        )
        outcome = csink.first_error or err.error_id
        raise err from exc
    finally:
        if outcome == "ok" and csink.first_error:
            outcome = csink.first_error
        _audit(session, cdef.name, bound.all_params(), outcome, started)


def _run_command(session: Session, prep: _Prepared, input_items: list[Any], has_input: bool,
                 real_sink: Any, output: Any) -> None:
    """Run one command of a statement over its input."""
    param = _pipeline_param(prep) if has_input else None
    if not has_input or prep.cdef.syntax == "utility" or prep.decl is None:
        bound = _bind_audited(session, prep, prep.raw)
        _invoke(session, prep, bound, input_items, real_sink, output)
        return
    for obj in input_items:
        if getattr(real_sink, "stopping", False):
            return
        value = _identity_of(obj) if param == "Identity" else obj if param == "InputObject" else None
        if value is None:
            err = errors.input_object_not_bound(prep.cdef.name, obj)
            _CommandSink(real_sink, output, prep.cdef.name, _common_of(prep)).write_error(err)
            continue
        bound = _bind_audited(session, prep, [*prep.raw, (param, value)])
        _invoke(session, prep, bound, [obj], real_sink, output)


def _common_of(prep: _Prepared) -> dict[str, Any]:
    """Common parameters of a command, for errors written outside a run."""
    if getattr(prep.cdef.func, "native_command", False):
        return {}
    decl = prep.decl if prep.decl is not None else _UNDECLARED
    return binding.bind_common(decl, prep.raw, cmdlet=prep.cdef.name, version=prep.version)


def _bind_audited(session: Session, prep: _Prepared, raw: list[tuple[str | None, Any]]) -> binding.Bound:
    started = time.perf_counter()
    try:
        return _bind(prep, raw)
    except errors.PSError as err:
        _audit(session, prep.cdef.name, _raw_dict(raw), err.error_id, started)
        raise


def _prepare(session: Session, command: Any, may_get_input: bool) -> _Prepared:
    """Resolve a command and check its parameter names (no mandatory/set checks yet)."""
    name = str(command.command_text)
    raw = list(command.parameters or [])
    started = time.perf_counter()
    cdef = lookup(session, name)
    if cdef is None:
        err = errors.command_not_found(name)
        _audit(session, name, _raw_dict(raw), err.error_id, started)
        raise err
    decl = None if getattr(cdef.func, "native_command", False) else syntax.get(cdef.syntax, cdef.name)
    version = _binding_version(cdef, session.host)
    named: list[str] = []
    try:
        if decl is not None:
            named = binding.match_names(decl, raw, cmdlet=cdef.name, version=version)
        prep = _Prepared(cdef, raw, decl, version, named)
        if not may_get_input:
            _bind(prep, raw)
    except errors.PSError as err:
        _audit(session, cdef.name, _raw_dict(raw), err.error_id, started)
        raise
    return prep


def _statements(commands: Iterable[Any]) -> list[list[Any]]:
    out: list[list[Any]] = []
    current: list[Any] = []
    for cmd in commands:
        current.append(cmd)
        if getattr(cmd, "end_of_statement", False):
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def _refuse_scripts(session: Session, commands: list[Any]) -> None:
    for cmd in commands:
        if getattr(cmd, "is_script", False):
            text = str(cmd.command_text)
            if session.configuration == EXCHANGE:
                err = errors.scripts_not_allowed(text)
            else:
                err = errors.scripts_not_supported_by_lab(text)
            _audit(session, "<script>", {"Script": text}, err.error_id, time.perf_counter())
            raise err


def run_pipeline(session: Session, commands: list[Any], input_objects: list[Any] | None, sink: Any) -> None:
    """Run a PSRP pipeline (see the module docstring).  Raises PSError when it fails."""
    commands = list(commands)
    _refuse_scripts(session, commands)
    client_input = list(input_objects or [])
    for index, statement in enumerate(_statements(commands)):
        first_input = client_input if index == 0 else []
        prepared = [
            _prepare(session, cmd, may_get_input=(i > 0 or bool(first_input)))
            for i, cmd in enumerate(statement)
        ]
        data = first_input
        has_input = bool(first_input)
        for i, prep in enumerate(prepared):
            if getattr(sink, "stopping", False):
                return
            last = i == len(prepared) - 1
            output: Any = sink if last else _Collector()
            _run_command(session, prep, data, has_input or (i > 0), sink, output)
            if not last:
                data = output.items
                has_input = True
