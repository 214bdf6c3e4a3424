"""Service cmdlets (Microsoft.PowerShell.Management, Windows PowerShell 5.1 pages):
Get-Service, Start-Service, Stop-Service, Set-Service, on the Microsoft.PowerShell
configuration of every host.

The services and their consequences are in ``model/windows.py``: ClusSvc follows the
DAG member's cluster node (stopping it takes the node Down, runbooks §5.2 step 3),
MSExchangeRepl stopped shows the server's copies ServiceDown (runbooks §1.1),
MSExchangeIS stopped fails the active databases over (failure-modes
``information-store-stopped-or-paused-by-admin``).  Errors are the PowerShell 5.1 ones
(ServiceCommandException, non-terminating).
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..model.windows import SERVICE_START_S, SERVICE_STOP_S, Service, ServiceError, wildcard_match
from ..psobj import get_prop, make_object
from ..registry import POWERSHELL, READ, WRITE, cmdlet
from .windows_common import any_windows_host, require_confirmation, text, texts

OPEN_ERROR = 1
CLOSE_ERROR = 2
T_SERVICE = [
    "System.ServiceProcess.ServiceController",
    "System.ComponentModel.Component",
    "System.MarshalByRefObject",
]
_SERVICE_EXC = ["Microsoft.PowerShell.Commands.ServiceCommandException", "System.SystemException", "System.Exception"]
_CLASSES = {
    "Get-Service": "GetServiceCommand",
    "Start-Service": "StartServiceCommand",
    "Stop-Service": "StopServiceCommand",
    "Set-Service": "SetServiceCommand",
}


def _fqid(inv: Any, error_id: str) -> str:
    return f"{error_id},Microsoft.PowerShell.Commands.{_CLASSES[inv.name]}"


def _service_error(inv: Any, message: str, error_id: str, category: int, target: str | None) -> errors.PSError:
    return errors.PSError(
        message=message,
        fqid=_fqid(inv, error_id),
        category=category,
        exception_types=list(_SERVICE_EXC),
        activity=inv.name,
        target_name=target,
        target_type=None if target is None else "ServiceController",
        target_object=target,
    )


def _label(svc: Service) -> str:
    return f"{svc.display_name} ({svc.name})"


def service_object(lab: Any, host: str, svc: Service, machine: str = ".") -> Any:
    w = lab.windows
    status = w.service_status(host, svc)
    dependents = [s.name for s in w.services_of(host) if any(d.lower() == svc.name.lower() for d in s.depends_on)]
    return make_object(
        T_SERVICE,
        {
            "Name": svc.name,
            "RequiredServices": list(svc.depends_on),
            "CanPauseAndContinue": False,
            "CanShutdown": status == "Running",
            "CanStop": status == "Running",
            "DisplayName": svc.display_name,
            "DependentServices": dependents,
            "MachineName": machine,
            "ServiceName": svc.name,
            "ServicesDependedOn": list(svc.depends_on),
            "Status": status,
            "ServiceType": svc.service_type,
            "StartType": w.service_start_type(host, svc),
            "Site": None,
            "Container": None,
        },
        "System.ServiceProcess.ServiceController",
    )


def _target_host(inv: Any, computer: str | None) -> tuple[str | None, str]:
    """(host name, MachineName) for -ComputerName (``.``/localhost/own name: local)."""
    if computer is None or computer.lower() in (".", "localhost", inv.host.name.lower(), inv.host.fqdn.lower()):
        return inv.host.name, "."
    h = inv.lab.host(computer)
    if h is None or not inv.lab.host_up(h.name):
        return None, computer
    return h.name, computer


def _scm_unreachable(inv: Any, computer: str) -> errors.PSError:
    return errors.PSError(
        message=(f"Cannot open Service Control Manager on computer '{computer}'. This operation might require "
                 "other privileges."),
        fqid=f"System.InvalidOperationException,Microsoft.PowerShell.Commands.{_CLASSES[inv.name]}",
        category=errors.NOT_SPECIFIED,
        exception_types=["System.InvalidOperationException", "System.SystemException", "System.Exception"],
        activity=inv.name,
    )


def _select(inv: Any, host: str, *, names: list[str] | None, display_names: list[str] | None,
            input_objects: list[Any] | None) -> list[Service]:
    """Services matched by -Name / -DisplayName / -InputObject (+ -Include/-Exclude);
    writes the not-found errors."""
    w = inv.lab.windows
    all_services = w.services_of(host)
    found: list[Service] = []

    def add(svc: Service) -> None:
        if svc not in found:
            found.append(svc)

    if input_objects is not None:
        for obj in input_objects:
            name = text(obj) if isinstance(obj, str) else text(get_prop(obj, "Name") or obj)
            svc = w.service(host, name or "")
            if svc is None:
                inv.write_error(_service_error(
                    inv, f"Cannot find any service with service name '{name}'.", "NoServiceFoundForGivenName",
                    errors.OBJECT_NOT_FOUND, name))
            else:
                add(svc)
    elif display_names is not None:
        for pattern in display_names:
            hits = [s for s in all_services if wildcard_match(pattern, s.display_name)]
            if not hits and not any(ch in pattern for ch in "*?["):
                inv.write_error(_service_error(
                    inv, f"Cannot find any service with display name '{pattern}'.",
                    "NoServiceFoundForGivenDisplayName", errors.OBJECT_NOT_FOUND, pattern))
            for s in hits:
                add(s)
    elif names is not None:
        for pattern in names:
            hits = [s for s in all_services if wildcard_match(pattern, s.name)]
            if not hits and not any(ch in pattern for ch in "*?["):
                inv.write_error(_service_error(
                    inv, f"Cannot find any service with service name '{pattern}'.", "NoServiceFoundForGivenName",
                    errors.OBJECT_NOT_FOUND, pattern))
            for s in hits:
                add(s)
    else:
        found = list(all_services)
    include = texts(inv.get("Include"))
    exclude = texts(inv.get("Exclude"))
    if include:
        found = [s for s in found if any(wildcard_match(p, s.name) for p in include)]
    if exclude:
        found = [s for s in found if not any(wildcard_match(p, s.name) for p in exclude)]
    return found


# ------------------------------------------------------------------- Get-Service
@cmdlet("Get-Service", syntax="windows", rbac=READ, configurations=(POWERSHELL,), available_on=any_windows_host)
def get_service(inv: Any) -> None:
    lab = inv.lab
    out = []
    with lab.lock:
        lab.tick()
        computers = texts(inv.get("ComputerName")) or [None]
        for computer in computers:
            host, machine = _target_host(inv, computer)
            if host is None:
                inv.write_error(_scm_unreachable(inv, machine))
                continue
            services = _select(
                inv, host,
                names=texts(inv.get("Name")) if inv.has("Name") else None,
                display_names=texts(inv.get("DisplayName")) if inv.has("DisplayName") else None,
                input_objects=list(inv.get("InputObject")) if inv.has("InputObject") else None,
            )
            if inv.get("DependentServices"):
                services = [d for s in services for d in lab.windows.dependents(host, s.name, running_only=False)]
            elif inv.get("RequiredServices"):
                services = [
                    d for s in services
                    for d in (lab.windows.service(host, n) for n in s.depends_on) if d is not None
                ]
            out.extend(service_object(lab, host, s, machine) for s in services)
    for o in out:
        inv.write_output(o)


# ----------------------------------------------------------- Start/Stop-Service
def _input_host(inv: Any) -> str | None:
    """The host a piped ServiceController belongs to (its MachineName; ``.`` = here).
    None when that computer can't be reached (the error is written)."""
    objs = inv.get("InputObject") if inv.has("InputObject") else None
    machine = next((text(get_prop(o, "MachineName")) for o in objs or [] if get_prop(o, "MachineName")), None)
    host, shown = _target_host(inv, machine)
    if host is None:
        inv.write_error(_scm_unreachable(inv, shown))
    return host


def _targets(inv: Any, host: str) -> list[Service]:
    return _select(
        inv, host,
        names=texts(inv.get("Name")) if inv.has("Name") else None,
        display_names=texts(inv.get("DisplayName")) if inv.has("DisplayName") else None,
        input_objects=list(inv.get("InputObject")) if inv.has("InputObject") else None,
    )


@cmdlet("Start-Service", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,), available_on=any_windows_host)
def start_service(inv: Any) -> None:
    lab = inv.lab
    host = _input_host(inv)
    if host is None:
        return
    with lab.lock:
        lab.tick()
        services = _targets(inv, host)
        for svc in services:
            require_confirmation(inv, "Start-Service", _label(svc), prompts_by_default=False)
        pending = [s for s in services if lab.windows.service_status(host, s) != "Running"]
    if pending and not lab.clock.sleep(SERVICE_START_S, lambda: inv.stopping):
        return
    out = []
    with lab.lock:
        for svc in services:
            try:
                lab.windows.start_service(host, svc.name)
            except ServiceError as exc:
                inv.write_error(_service_error(
                    inv,
                    f"Service '{_label(svc)}' cannot be started due to the following error: Cannot start service "
                    f"{svc.name} on computer '.'.",
                    "CouldNotStartService", OPEN_ERROR, svc.name) if exc.kind == "cannot_start" else
                    _service_error(inv, str(exc), "CouldNotStartService", OPEN_ERROR, svc.name))
                continue
            if inv.get("PassThru"):
                out.append(service_object(lab, host, svc, "." if host == inv.host.name else host))
    for o in out:
        inv.write_output(o)


@cmdlet("Stop-Service", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,), available_on=any_windows_host)
def stop_service(inv: Any) -> None:
    lab = inv.lab
    host = _input_host(inv)
    if host is None:
        return
    force = bool(inv.get("Force"))
    with lab.lock:
        lab.tick()
        services = _targets(inv, host)
        for svc in services:
            require_confirmation(inv, "Stop-Service", _label(svc), prompts_by_default=False)
        pending = [s for s in services if lab.windows.service_status(host, s) != "Stopped"]
    if pending and not inv.get("NoWait") and not lab.clock.sleep(SERVICE_STOP_S, lambda: inv.stopping):
        return
    out = []
    with lab.lock:
        for svc in services:
            try:
                lab.windows.stop_service(host, svc.name, force=force)
            except ServiceError:
                inv.write_error(_service_error(
                    inv,
                    f"Cannot stop service '{_label(svc)}' because it has dependent services. It can only be "
                    "stopped if the Force flag is set.",
                    "ServiceHasDependentServices", errors.INVALID_OPERATION, svc.name))
                continue
            if inv.get("PassThru"):
                out.append(service_object(lab, host, svc, "." if host == inv.host.name else host))
    for o in out:
        inv.write_output(o)


# ------------------------------------------------------------------- Set-Service
_START_TYPES = ("Boot", "System", "Automatic", "Manual", "Disabled")


@cmdlet("Set-Service", syntax="windows", rbac=WRITE, configurations=(POWERSHELL,), available_on=any_windows_host)
def set_service(inv: Any) -> None:
    lab = inv.lab
    w = lab.windows
    out = []
    with lab.lock:
        lab.tick()
        computers = texts(inv.get("ComputerName")) or [None]
        for computer in computers:
            host, machine = _target_host(inv, computer)
            if host is None:
                inv.write_error(_scm_unreachable(inv, machine))
                continue
            if inv.has("InputObject"):
                name = text(get_prop(inv.get("InputObject"), "Name") or inv.get("InputObject")) or ""
            else:
                name = text(inv.get("Name")) or ""
            svc = w.service(host, name)
            if svc is None:
                inv.write_error(errors.PSError(
                    message=f"Service '{name}' was not found on computer '{machine}'.",
                    fqid=_fqid(inv, "InvalidOperationException"),
                    category=errors.OBJECT_NOT_FOUND,
                    exception_types=["System.InvalidOperationException", "System.SystemException", "System.Exception"],
                    activity=inv.name,
                    target_name=name,
                    target_type="String",
                    target_object=name,
                ))
                continue
            require_confirmation(inv, "Set-Service", _label(svc), prompts_by_default=False)
            if inv.has("StartupType"):
                start_type = str(inv.get("StartupType"))
                if start_type in ("Boot", "System"):
                    inv.write_error(_service_error(
                        inv,
                        f"Service '{_label(svc)}' cannot be configured due to the following error: The parameter "
                        "is incorrect",
                        "CouldNotSetService", errors.PERMISSION_DENIED, svc.name))
                    continue
                w.set_start_type(host, svc.name, start_type)
            if inv.has("DisplayName"):
                svc.display_name = text(inv.get("DisplayName")) or svc.display_name
            if inv.has("Description"):
                svc.description = text(inv.get("Description"))
            if inv.has("Status"):
                status = str(inv.get("Status"))
                try:
                    if status == "Running":
                        w.start_service(host, svc.name)
                    elif status == "Stopped":
                        w.stop_service(host, svc.name, force=False)
                    else:
                        inv.write_error(_service_error(
                            inv,
                            f"Service '{_label(svc)}' cannot be suspended because the service does not support "
                            "being suspended or resumed.",
                            "CouldNotSuspendServiceNotSupported", CLOSE_ERROR, svc.name))
                        continue
                except ServiceError as exc:
                    if exc.kind == "dependents":
                        message = (f"Cannot stop service '{_label(svc)}' because it has dependent services.")
                        error_id, category = "ServiceHasDependentServices", errors.INVALID_OPERATION
                    else:
                        message = (f"Service '{_label(svc)}' cannot be started due to the following error: Cannot "
                                   f"start service {svc.name} on computer '{machine}'.")
                        error_id, category = "CouldNotStartService", OPEN_ERROR
                    inv.write_error(_service_error(inv, message, error_id, category, svc.name))
                    continue
            if inv.get("PassThru"):
                out.append(service_object(lab, host, svc, machine))
    for o in out:
        inv.write_output(o)
