# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions of the connection layer and the Exchange error-id advice table.

Internal to exchange.dr: no stable API, for the collection's own modules only.
``psrp.py`` raises these; modules turn them into ``fail_json`` with :meth:`ExchangeError.result`.
"""

from __future__ import annotations

import re

# System.Management.Automation.ErrorCategory, by value.
ERROR_CATEGORIES = (
    "NotSpecified", "OpenError", "CloseError", "DeviceError", "DeadlockDetected", "InvalidArgument",
    "InvalidData", "InvalidOperation", "InvalidResult", "InvalidType", "MetadataError", "NotImplemented",
    "NotInstalled", "ObjectNotFound", "OperationStopped", "OperationTimeout", "SyntaxError", "ParserError",
    "PermissionDenied", "ResourceBusy", "ResourceExists", "ResourceUnavailable", "ReadError", "WriteError",
    "FromStdErr", "SecurityError", "ProtocolError", "ConnectionError", "AuthenticationError",
    "LimitsExceeded", "QuotaExceeded", "NotEnabled",
)

# Error id -> what the operator should check.  Ids are PowerShell's (before the first comma of
# the FullyQualifiedErrorId) or, for Exchange task errors, the exception class named in
# "[FailureCategory=Cmdlet-<Exception>]".
ADVICE = {
    "CommandNotFoundException": (
        "the cmdlet is not available in this session: Exchange RBAC only exposes the cmdlets the "
        "user's role groups grant (View-Only Organization Management has no Set-/Move-/Suspend- "
        "cmdlets); Windows cmdlets need configuration_name Microsoft.PowerShell"
    ),
    "ScriptsNotAllowed": "the Microsoft.Exchange endpoint accepts cmdlets with typed parameters only, no script text",
    "ManagementObjectNotFoundException": "check the identity: Exchange found no object with that name",
    "ManagementObjectAmbiguousException": "the identity matches several objects: use a unique name, DN or GUID",
    "NamedParameterNotFound": "the parameter does not exist for this cmdlet in this Exchange version",
    "AmbiguousParameter": "the parameter name is an ambiguous abbreviation: use its full name",
    "AmbiguousParameterSet": "the parameters given match several parameter sets of the cmdlet",
    "MissingMandatoryParameter": "a mandatory parameter of the cmdlet was not given",
    "ParameterArgumentTransformationError": "a parameter value has the wrong type for the cmdlet",
    "ParameterArgumentValidationError": "a parameter value is outside what the cmdlet accepts",
}

_EXCHANGE_FAILURE = re.compile(r"\[FailureCategory=Cmdlet-([A-Za-z0-9_.]+)\]")


def category_name(category: int | str | None) -> str | None:
    """The ErrorCategory member name of ``category`` (an int as it arrives over PSRP)."""
    if category is None or isinstance(category, str):
        return category
    if 0 <= category < len(ERROR_CATEGORIES):
        return ERROR_CATEGORIES[category]
    return str(category)


def error_id(fq_error: str | None, reason: str | None = None) -> str | None:
    """The short error id of a FullyQualifiedErrorId.

    PowerShell's form is ``<Id>,<Command>``: the part before the first comma.  Exchange task
    errors read ``[Server=EX01,RequestId=...,TimeStamp=...] [FailureCategory=Cmdlet-<Exception>]
    <hex>,<Task>``: the exception class is the useful id; ``reason`` (the error record's
    CategoryInfo.Reason, the exception's short name) is the fallback.
    """
    if not fq_error:
        return reason
    match = _EXCHANGE_FAILURE.search(fq_error)
    if match:
        return match.group(1).rsplit(".", 1)[-1]
    if fq_error.startswith("["):
        return reason or fq_error.rsplit("] ", 1)[-1].split(",", 1)[0]
    return fq_error.split(",", 1)[0]


class ExchangeError(Exception):
    """Base of the exceptions raised by the connection layer."""

    def result(self) -> dict:
        """Extra keys for ``fail_json`` (never secrets)."""
        return {}


class ConnectionFailure(ExchangeError):
    """The session could not be opened or broke: bad options, refused connection, 401, TLS,
    timeout, missing WSMan configuration.  The message is one line naming the endpoint and the
    probable cause."""

    def __init__(self, message: str, *, server: str | None = None, port: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.server = server
        self.port = port

    def result(self) -> dict:
        return {"connection": {"server": self.server, "port": self.port}} if self.server else {}


class ExchangeCommandError(ExchangeError):
    """A cmdlet wrote an error record (terminating or not)."""

    def __init__(self, cmdlet: str, error_id: str | None, category: str | None, target: str | None,
                 message: str, fq_error: str | None, *, exception_type: str | None = None) -> None:
        super().__init__(message)
        self.cmdlet = cmdlet
        self.error_id = error_id
        self.category = category
        self.target = target
        self.message = message
        self.fq_error = fq_error
        self.exception_type = exception_type
        self.records = [self]  # every error record of the pipeline, this one first

    @property
    def advice(self) -> str | None:
        return ADVICE.get(self.error_id or "")

    def __str__(self) -> str:
        text = "%s failed: %s (error id %s" % (self.cmdlet, self.message.strip(), self.error_id)
        if self.category and self.category != "NotSpecified":
            text += ", category %s" % self.category
        if self.target:
            text += ", target %s" % self.target
        text += ")"
        if self.advice:
            text += " - " + self.advice
        return text

    def to_dict(self) -> dict:
        return {
            "cmdlet": self.cmdlet,
            "error_id": self.error_id,
            "category": self.category,
            "target": self.target,
            "message": self.message,
            "fully_qualified_error_id": self.fq_error,
            "exception_type": self.exception_type,
        }

    def result(self) -> dict:
        return {"error": self.to_dict()}
