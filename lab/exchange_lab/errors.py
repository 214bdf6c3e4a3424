"""PowerShell error records as the lab sends them.

A cmdlet (or the engine) raises :class:`PSError` for a terminating error, or hands
one to ``Invocation.write_error`` for a non-terminating one.  ``to_error_record``
turns it into the psrpcore ``ErrorRecord`` that goes on the wire, with the .NET
exception type chain, the category, the activity (cmdlet name) and the
FullyQualifiedErrorId that Exchange/PowerShell use.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

from psrpcore.types import ErrorCategory, ErrorCategoryInfo, ErrorRecord, NETException

from .psobj import to_wire

# Category numbers (System.Management.Automation.ErrorCategory).
NOT_SPECIFIED = 0
INVALID_ARGUMENT = 5
INVALID_DATA = 6
INVALID_OPERATION = 7
OBJECT_NOT_FOUND = 13
OPERATION_STOPPED = 14
PARSER_ERROR = 17
PERMISSION_DENIED = 18
RESOURCE_UNAVAILABLE = 21
READ_ERROR = 22
WRITE_ERROR = 23

_EXCHANGE_LOCALIZED = ["Microsoft.Exchange.Data.LocalizedException", "System.Exception"]


@dataclass
class PSError(Exception):
    """A PowerShell error record.

    ``exception_types`` is the .NET type chain, most derived first, ending in
    ``System.Exception``.  ``reason`` defaults to the short name of the first type.
    """

    message: str
    fqid: str
    category: int = NOT_SPECIFIED
    exception_types: list[str] = field(default_factory=lambda: ["System.Exception"])
    activity: str | None = None
    target_name: str | None = None
    target_type: str | None = None
    target_object: Any = None
    hresult: int = -2146233088

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    @property
    def reason(self) -> str:
        return self.exception_types[0].rsplit(".", 1)[-1]

    @property
    def error_id(self) -> str:
        """The short error id (what precedes the first comma of the FQID)."""
        return self.fqid.split(",", 1)[0]

    def to_error_record(self) -> ErrorRecord:
        exc = NETException(Message=self.message, HResult=self.hresult)
        # PowerShell ends every type chain with System.Object.
        exc.PSObject.type_names = [*self.exception_types, "System.Object"]
        info = ErrorCategoryInfo(
            Category=ErrorCategory(self.category),
            Activity=self.activity or "",
            Reason=self.reason,
            TargetName=self.target_name if self.target_name is not None else "",
            TargetType=self.target_type if self.target_type is not None else "",
        )
        return ErrorRecord(
            Exception=exc,
            CategoryInfo=info,
            TargetObject=to_wire(self.target_object),
            FullyQualifiedErrorId=self.fqid,
        )


# ---------------------------------------------------------------------------
# PowerShell engine errors
# ---------------------------------------------------------------------------

def command_not_found(name: str) -> PSError:
    return PSError(
        message=(
            f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, "
            "or operable program. Check the spelling of the name, or if a path was included, "
            "verify that the path is correct and try again."
        ),
        fqid="CommandNotFoundException",
        category=OBJECT_NOT_FOUND,
        exception_types=[
            "System.Management.Automation.CommandNotFoundException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
        ],
        target_name=name,
        target_type="String",
        target_object=name,
    )


def scripts_not_allowed(script: str) -> PSError:
    return PSError(
        message=(
            "The syntax is not supported by this runspace. This can occur if the runspace "
            "is in no-language mode."
        ),
        fqid="ScriptsNotAllowed",
        category=PARSER_ERROR,
        exception_types=[
            "System.Management.Automation.ParseException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
        ],
        target_name=script,
        target_type="String",
        target_object=script,
    )


_BINDING_TYPES = [
    "System.Management.Automation.ParameterBindingException",
    "System.Management.Automation.RuntimeException",
    "System.SystemException",
    "System.Exception",
]


def parameter_binding(message: str, error_id: str, cmdlet: str, target: str | None = None) -> PSError:
    """A ParameterBindingException as PowerShell raises it (category InvalidArgument)."""
    return PSError(
        message=message,
        fqid=f"{error_id},{cmdlet}",
        category=INVALID_ARGUMENT,
        exception_types=list(_BINDING_TYPES),
        activity=cmdlet,
        target_name=target,
        target_type=None if target is None else "String",
        target_object=target,
    )


# ---------------------------------------------------------------------------
# Exchange task errors
# ---------------------------------------------------------------------------

def exchange_fqid(server: str, failure_class: str, task_class: str) -> str:
    """Exchange's FullyQualifiedErrorId shape:
    ``[Server=EX01,RequestId=<guid>,TimeStamp=<time>] [FailureCategory=Cmdlet-<Class>] <hex>,<Task class>``.
    """
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%m/%d/%Y %I:%M:%S %p")
    request = uuid.uuid4()
    code = format(abs(hash((failure_class, task_class))) & 0xFFFFFFFF, "X")
    return (
        f"[Server={server},RequestId={request},TimeStamp={stamp}] "
        f"[FailureCategory=Cmdlet-{failure_class}] {code},{task_class}"
    )


def exchange_error(
    message: str,
    exception_type: str,
    *,
    server: str,
    cmdlet: str,
    task_class: str,
    category: int = NOT_SPECIFIED,
    target: str | None = None,
    base_types: list[str] | None = None,
) -> PSError:
    """An Exchange task error.  ``exception_type`` is the full .NET name of the
    exception (e.g. ``Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException``);
    ``base_types`` its bases before ``LocalizedException``."""
    short = exception_type.rsplit(".", 1)[-1]
    return PSError(
        message=message,
        fqid=exchange_fqid(server, short, task_class),
        category=category,
        exception_types=[exception_type, *(base_types or []), *_EXCHANGE_LOCALIZED],
        activity=cmdlet,
        target_name=target,
        target_type=None if target is None else "String",
        target_object=target,
    )


def object_not_found(identity: str, *, dc_fqdn: str, server: str, cmdlet: str, task_class: str) -> PSError:
    """Exchange's "couldn't be found on '<dc>'" error (ManagementObjectNotFoundException)."""
    return exchange_error(
        f"The operation couldn't be performed because object '{identity}' couldn't be found on '{dc_fqdn}'.",
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        server=server,
        cmdlet=cmdlet,
        task_class=task_class,
        category=NOT_SPECIFIED,
        target=identity,
    )


# ---------------------------------------------------------------------------
# Parameter binding: validation and conversion (engine / binding.py)
# ---------------------------------------------------------------------------

NOT_IMPLEMENTED = 11


def parameter_validation(message: str, error_id: str, cmdlet: str) -> PSError:
    """A ParameterBindingValidationException (ValidateSet, ValidateRange, ...):
    category InvalidData, as PowerShell reports argument validation failures."""
    return PSError(
        message=message,
        fqid=f"{error_id},{cmdlet}",
        category=INVALID_DATA,
        exception_types=["System.Management.Automation.ParameterBindingValidationException", *_BINDING_TYPES],
        activity=cmdlet,
    )


def parameter_transformation(message: str, cmdlet: str) -> PSError:
    """A ParameterBindingArgumentTransformationException (e.g. a string given to a
    Boolean parameter): id ParameterArgumentTransformationError, category InvalidData."""
    return PSError(
        message=message,
        fqid=f"ParameterArgumentTransformationError,{cmdlet}",
        category=INVALID_DATA,
        exception_types=[
            "System.Management.Automation.ParameterBindingArgumentTransformationException",
            *_BINDING_TYPES,
        ],
        activity=cmdlet,
    )


def input_object_not_bound(cmdlet: str, target: Any = None) -> PSError:
    """Pipeline input that no parameter of the command takes (non-terminating)."""
    err = parameter_binding(
        "The input object cannot be bound to any parameters for the command either because the "
        "command does not take pipeline input or the input and its properties do not match any of "
        "the parameters that take pipeline input.",
        "InputObjectNotBound",
        cmdlet,
    )
    err.target_object = target
    return err


def scripts_not_supported_by_lab(script: str) -> PSError:
    """Script text on the Microsoft.PowerShell endpoint: a real server would run it, the lab
    has no PowerShell language interpreter (System.NotSupportedException, NotImplemented)."""
    return PSError(
        message="The lab does not interpret script text; send cmdlets with typed parameters.",
        fqid="ScriptsNotSupportedByLab",
        category=NOT_IMPLEMENTED,
        exception_types=["System.NotSupportedException", "System.SystemException", "System.Exception"],
        target_name=script,
        target_type="String",
        target_object=script,
        hresult=-2146233067,
    )
