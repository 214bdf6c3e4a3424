"""Parameter binding against the lab's declarations: PowerShell's messages and ids."""

from __future__ import annotations

from typing import Any

import pytest

from exchange_lab import binding, syntax
from exchange_lab.errors import PSError

E2010 = "Exchange Server 2010"
E2013 = "Exchange Server 2013"
E2016 = "Exchange Server 2016"


def bind(cmdlet: str, raw: list[tuple[str | None, Any]], version: str | None = E2016, table: str = "exchange"):
    decl = syntax.get(table, cmdlet)
    assert decl is not None
    return binding.bind(decl, raw, cmdlet=cmdlet, version=version)


def fails(cmdlet: str, raw: list[tuple[str | None, Any]], version: str | None = E2016, table: str = "exchange") -> PSError:
    with pytest.raises(PSError) as info:
        bind(cmdlet, raw, version, table)
    return info.value


def test_named_exact_case_insensitive() -> None:
    b = bind("Get-MailboxDatabaseCopyStatus", [("identity", "DB1\\EX01"), ("ACTIVE", None)])
    assert b.params == {"Identity": "DB1\\EX01", "Active": True}
    assert b.parameter_set == "Identity"


def test_unknown_parameter() -> None:
    err = fails("Get-MailboxDatabase", [("Bogus", 1)])
    assert err.message == "A parameter cannot be found that matches parameter name 'Bogus'."
    assert err.fqid == "NamedParameterNotFound,Get-MailboxDatabase"
    assert err.category == 5
    assert err.exception_types[0] == "System.Management.Automation.ParameterBindingException"


def test_prefix_abbreviation_and_alias() -> None:
    b = bind("Move-ActiveMailboxDatabase", [("Ident", "DB1"), ("ActivateOn", "EX02"), ("ea", "stop"), ("cf", False)])
    assert b.parameter_set == "Identity"
    assert b.params == {"Identity": "DB1", "ActivateOnServer": "EX02"}
    assert b.common == {"ErrorAction": "Stop", "Confirm": False}


def test_exact_match_wins_over_prefix() -> None:
    b = bind("Get-Queue", [("Server", "EX01")])
    assert b.parameter_set == "Server"
    # WarningAction's alias "wa" is exact; "WarningVariable" also starts with "w"
    b = bind("Get-Queue", [("wa", "SilentlyContinue")])
    assert b.common == {"WarningAction": "SilentlyContinue"}


def test_ambiguous_parameter() -> None:
    err = fails("Move-ActiveMailboxDatabase", [("Skip", None)])
    assert err.error_id == "AmbiguousParameter"
    assert err.message.startswith(
        "Parameter cannot be processed because the parameter name 'Skip' is ambiguous. Possible matches include: -Skip"
    )
    assert " -SkipHealthChecks" in err.message and err.message.endswith(".")


def test_cmdlet_parameter_preferred_over_common_on_prefix() -> None:
    # "i" matches -Identity and the common -InformationAction/-InformationVariable: the cmdlet's own wins
    assert bind("Dismount-Database", [("i", "DB1")]).params == {"Identity": "DB1"}
    assert bind("Dismount-Database", [(None, "DB1"), ("d", "dc01")]).params == {"DomainController": "dc01", "Identity": "DB1"}
    # "Err" matches two common parameters and no cmdlet parameter
    err = fails("Get-Queue", [("Err", "x")])
    assert err.error_id == "AmbiguousParameter"
    assert "-ErrorAction -ErrorVariable" in err.message


def test_missing_mandatory() -> None:
    err = fails("Resume-MailboxDatabaseCopy", [])
    assert err.message == "Cannot process command because of one or more missing mandatory parameters: Identity."
    assert err.fqid == "MissingMandatoryParameter,Resume-MailboxDatabaseCopy"


def test_missing_mandatory_lists_all_space_separated() -> None:
    err = fails("Add-MailboxDatabaseCopy", [])
    missing = err.message.split(": ", 1)[1].rstrip(".").split(" ")
    decl = syntax.get("exchange", "Add-MailboxDatabaseCopy")
    expected = [p["name"] for p in decl["parameter_sets"][0]["parameters"] if p["mandatory"]]
    assert missing == expected and len(expected) >= 2


def test_parameter_set_unresolved() -> None:
    err = fails("Get-MailboxDatabase", [("Identity", "DB1"), ("Server", "EX01")])
    assert err.message == "Parameter set cannot be resolved using the specified named parameters."
    assert err.fqid == "AmbiguousParameterSet,Get-MailboxDatabase"


def test_positional_binding() -> None:
    b = bind("Move-ActiveMailboxDatabase", [(None, "DB1"), (None, "EX02")])
    assert b.params == {"Identity": "DB1", "ActivateOnServer": "EX02"}
    assert b.parameter_set == "Identity"
    b = bind("Move-ActiveMailboxDatabase", [("Server", "EX01"), (None, "EX02")])
    assert b.params == {"Server": "EX01", "ActivateOnServer": "EX02"}


def test_positional_not_found() -> None:
    err = fails("Get-MailboxDatabase", [(None, "DB1"), (None, "x")])
    assert err.message == "A positional parameter cannot be found that accepts argument 'x'."
    assert err.error_id == "PositionalParameterNotFound"


def test_duplicate_parameter() -> None:
    err = fails("Get-MailboxDatabase", [("Identity", "DB1"), ("identity", "DB2")])
    assert err.message == (
        "Cannot bind parameter because parameter 'Identity' is specified more than once. To provide multiple "
        "values to parameters that can accept multiple values, use the array syntax. For example, "
        '"-parameter value1,value2,value3".'
    )
    assert err.error_id == "ParameterAlreadyBound"


def test_switch_values() -> None:
    b = bind("Suspend-MailboxDatabaseCopy", [("Identity", "DB1\\EX01"), ("ActivationOnly", None), ("Confirm", False)])
    assert b.params["ActivationOnly"] is True
    assert b.common["Confirm"] is False
    b = bind("Suspend-MailboxDatabaseCopy", [("Identity", "DB1\\EX01"), ("ActivationOnly", False), ("WhatIf", None)])
    assert b.params["ActivationOnly"] is False and b.common["WhatIf"] is True


def test_whatif_only_when_listed() -> None:
    assert syntax.get("exchange", "Get-MailboxDatabase")["risk_mitigation_parameters"] == []
    err = fails("Get-MailboxDatabase", [("WhatIf", None)])
    assert err.error_id == "NamedParameterNotFound"


def test_version_applicability() -> None:
    raw = [("Identity", "DB1"), ("ActivateOnServer", "EX02"), ("SkipAllChecks", None)]
    err = fails("Move-ActiveMailboxDatabase", raw, E2013)
    assert err.message == "A parameter cannot be found that matches parameter name 'SkipAllChecks'."
    b = bind("Move-ActiveMailboxDatabase", raw, E2016)
    assert b.parameter_set == "SkipAllChecks" and b.params["SkipAllChecks"] is True
    raw = [("Identity", "DAG1"), ("UsePrimaryWitnessServer", None)]
    assert fails("Restore-DatabaseAvailabilityGroup", raw, E2010).error_id == "NamedParameterNotFound"
    assert bind("Restore-DatabaseAvailabilityGroup", raw, E2013).params["UsePrimaryWitnessServer"] is True


def test_set_not_applicable_on_version() -> None:
    # ActivatePreferred exists from 2013 on
    raw = [("ActivatePreferredOnServer", "EX01")]
    assert fails("Move-ActiveMailboxDatabase", raw, E2010).error_id == "NamedParameterNotFound"
    assert bind("Move-ActiveMailboxDatabase", raw, E2013).parameter_set == "ActivatePreferred"


def test_exchange_2010_has_no_powershell5_common_parameters() -> None:
    assert fails("Get-Queue", [("InformationAction", "Stop")], E2010).error_id == "NamedParameterNotFound"
    assert bind("Get-Queue", [("InformationAction", "Stop")], E2016).common == {"InformationAction": "Stop"}
    assert fails("Get-Queue", [("ProgressAction", "Stop")], E2016).error_id == "NamedParameterNotFound"


def test_tie_breaks() -> None:
    assert bind("Get-Queue", []).parameter_set == "Identity"
    assert bind("Get-Mailbox", [("ResultSize", "Unlimited")]).parameter_set == "Identity"
    assert bind("Get-Mailbox", [("Database", "DB1")]).parameter_set == "DatabaseSet"
    assert bind("Get-ADPermission", [("Identity", "EX01")]).parameter_set == "AccessRights"
    assert bind("Get-ADPermission", [("Identity", "EX01"), ("Owner", None)]).parameter_set == "Owner"
    err = fails("Get-ADPermission", [])
    assert err.message.endswith("missing mandatory parameters: Identity.")


def test_online_only_parameters_unknown_on_premises() -> None:
    # MailboxPlan exists only in Exchange Online
    assert fails("Get-Mailbox", [("MailboxPlan", "x")], None).error_id == "NamedParameterNotFound"


def test_accepted_values_validate_set_and_enum() -> None:
    err = fails("Set-Service", [("Name", "MSExchangeIS"), ("Status", "Sleeping")], None, "windows")
    assert err.message == (
        "Cannot validate argument on parameter 'Status'. The argument \"Sleeping\" does not belong to the set "
        '"Paused,Running,Stopped" specified by the ValidateSet attribute. Supply an argument that is in the set '
        "and then try the command again."
    )
    assert err.fqid == "ParameterArgumentValidationError,Set-Service"
    b = bind("Set-Service", [("Name", "x"), ("StartupType", "automatic")], None, "windows")
    assert b.params["StartupType"] == "Automatic"
    err = fails("Set-Service", [("Name", "x"), ("StartupType", "Sometimes")], None, "windows")
    assert err.error_id == "CannotConvertArgumentNoMessage"
    assert "Specify one of the following enumerator names" in err.message


def test_integer_and_boolean_coercion() -> None:
    assert bind("Get-Queue", [("BookmarkIndex", "5")]).params["BookmarkIndex"] == 5
    err = fails("Get-Queue", [("BookmarkIndex", "five")])
    assert err.message == (
        "Cannot bind parameter 'BookmarkIndex'. Cannot convert value \"five\" to type \"System.Int32\". "
        'Error: "Input string was not in a correct format."'
    )
    assert bind("Get-Queue", [("IncludeBookmark", 1)]).params["IncludeBookmark"] is True
    err = fails("Get-Queue", [("IncludeBookmark", "yes")])
    assert err.fqid == "ParameterArgumentTransformationError,Get-Queue"
    assert "Boolean parameters accept only Boolean values and numbers" in err.message


def test_arrays_wrap_scalars() -> None:
    b = bind("Get-Queue", [("SortOrder", "+Identity")])
    assert b.params["SortOrder"] == ["+Identity"]
    b = bind("Get-Queue", [("SortOrder", ["+Identity", "-MessageCount"])])
    assert b.params["SortOrder"] == ["+Identity", "-MessageCount"]


def test_error_action_values() -> None:
    assert bind("Get-Queue", [("ErrorAction", 0)]).common["ErrorAction"] == "SilentlyContinue"
    err = fails("Get-Queue", [("ErrorAction", "Explode")])
    assert err.error_id == "CannotConvertArgumentNoMessage"


def test_missing_argument_for_non_switch() -> None:
    err = fails("Get-MailboxDatabase", [("Identity", None)])
    assert err.error_id == "MissingArgument"
    assert err.message.startswith("Missing an argument for parameter 'Identity'.")


def test_utility_declarations_bind() -> None:
    b = bind("Select-Object", [(None, ["Name", "Status"]), ("First", "2")], None, "utility")
    assert b.parameter_set == "DefaultParameter"
    assert b.params == {"Property": ["Name", "Status"], "First": 2}
    assert bind("Select-Object", [("SkipLast", 1)], None, "utility").parameter_set == "SkipLastParameter"
    assert bind("Get-Command", [(None, "Get-*")], None, "utility").parameter_set == "AllCommandSet"
    assert bind("Get-Command", [], None, "utility").parameter_set == "CmdletSet"
    err = fails("Add-PSSnapin", [], None, "utility")
    assert err.message.endswith("missing mandatory parameters: Name.")
