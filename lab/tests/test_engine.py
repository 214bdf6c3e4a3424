"""The engine: lookup and access checks, scripts, pipelines, error actions, utility cmdlets, audit."""

from __future__ import annotations

import types
from typing import Any, Callable
from xml.etree import ElementTree

import pytest
from psrpcore import Command
from psrpcore.types import serialize

from exchange_lab import cmdlets, engine, psobj
from exchange_lab.errors import PSError, object_not_found
from exchange_lab.registry import CMDLETS, EXCHANGE, POWERSHELL, READ, WRITE, CmdletDef, Invocation, Session, User


class Sink:
    def __init__(self) -> None:
        self.output: list[Any] = []
        self.errors: list[PSError] = []
        self.warnings: list[str] = []
        self.verbose: list[str] = []
        self.stopping = False

    def write_output(self, obj: Any) -> None:
        self.output.append(obj)

    def write_error(self, err: PSError) -> None:
        self.errors.append(err)

    def write_warning(self, message: str) -> None:
        self.warnings.append(message)

    def write_verbose(self, message: str) -> None:
        self.verbose.append(message)

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        pass


class Audit:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(self, **kw: Any) -> None:
        self.records.append(kw)


ADMIN = User("CONTOSO\\administrator", "administrator@contoso.com", ["Organization Management"])
VIEWER = User("CONTOSO\\viewer", "viewer@contoso.com", ["View-Only Organization Management"])


def session(user: User = ADMIN, configuration: str = EXCHANGE, version: str = "2016", kind: str = "exchange") -> Session:
    host = types.SimpleNamespace(name="EX01", fqdn="ex01.contoso.com", kind=kind, version=version)
    return Session(host=host, configuration=configuration, user=user, lab=types.SimpleNamespace(audit=Audit()))


def cmd(name: str, *params: tuple[str | None, Any], script: bool = False, end: bool = False) -> Command:
    c = Command(name, is_script=script)
    for n, v in params:
        c.add_parameter(n, v)
    c.end_of_statement = end
    return c


def db(name: str, size: int) -> Any:
    return psobj.make_object(
        ["Microsoft.Exchange.Data.Directory.SystemConfiguration.MailboxDatabase"],
        {"Name": name, "Identity": name, "Server": "EX01", "DatabaseSize": size, "Mounted": True},
        to_string=name,
    )


@pytest.fixture
def calls() -> list[Invocation]:
    return []


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, calls: list[Invocation]) -> Callable[..., None]:
    """Register a test-only implementation for a declared cmdlet (restored afterwards)."""
    cmdlets.load_all()

    def register(name: str, func: Callable[[Invocation], Any] | None = None, *, syntax: str = "exchange",
                 rbac: str = READ, configurations: tuple[str, ...] = (EXCHANGE,), snapin: str | None = None,
                 whatif: bool = False) -> None:
        def impl(inv: Invocation) -> Any:
            calls.append(inv)
            return func(inv) if func else None

        if whatif:
            engine.supports_whatif(impl)
        monkeypatch.setitem(
            CMDLETS,
            name.lower(),
            CmdletDef(name=name, func=impl, syntax=syntax, rbac=rbac, configurations=frozenset(configurations),
                      snapin=snapin),
        )

    return register


@pytest.fixture
def databases(fake: Callable[..., None]) -> None:
    fake("Get-MailboxDatabase", lambda inv: [db("DB1", 100), db("DB2", 300), db("DB3", 200)])


# --- scripts, lookup, access ---------------------------------------------------------------


def test_script_refused_on_exchange_before_anything_runs(databases: None, calls: list[Invocation]) -> None:
    s = session()
    with pytest.raises(PSError) as info:
        engine.run_pipeline(s, [cmd("Get-MailboxDatabase", end=True), cmd("Get-Date", script=True)], [], Sink())
    assert info.value.fqid == "ScriptsNotAllowed"
    assert info.value.category == 17
    assert info.value.target_object == "Get-Date"
    assert calls == []


def test_script_on_powershell_not_supported_by_lab() -> None:
    with pytest.raises(PSError) as info:
        engine.run_pipeline(session(configuration=POWERSHELL), [cmd("$PSVersionTable", script=True)], [], Sink())
    assert info.value.fqid == "ScriptsNotSupportedByLab"
    assert info.value.exception_types[0] == "System.NotSupportedException"
    assert info.value.category == 11


def test_unknown_command_not_recognized_and_audited() -> None:
    s = session()
    with pytest.raises(PSError) as info:
        engine.run_pipeline(s, [cmd("Get-Foo", ("Identity", "x"))], [], Sink())
    assert info.value.fqid == "CommandNotFoundException"
    assert info.value.message.startswith("The term 'Get-Foo' is not recognized")
    (rec,) = s.lab.audit.records
    assert rec["cmdlet"] == "Get-Foo" and rec["outcome"] == "CommandNotFoundException"
    assert rec["parameters"] == {"Identity": "x"}


def test_viewer_cannot_run_write_cmdlet(fake: Callable[..., None], calls: list[Invocation]) -> None:
    fake("Suspend-MailboxDatabaseCopy", rbac=WRITE)
    raw = [("Identity", "DB1\\EX01"), ("Confirm", False)]
    with pytest.raises(PSError) as info:
        engine.run_pipeline(session(VIEWER), [cmd("Suspend-MailboxDatabaseCopy", *raw)], [], Sink())
    assert info.value.fqid == "CommandNotFoundException"
    assert calls == []
    engine.run_pipeline(session(ADMIN), [cmd("suspend-mailboxdatabasecopy", *raw)], [], Sink())
    assert len(calls) == 1 and calls[0].name == "Suspend-MailboxDatabaseCopy"
    assert calls[0].params == {"Identity": "DB1\\EX01"} and calls[0].common == {"Confirm": False}


def test_exchange_cmdlet_absent_from_powershell_configuration(databases: None) -> None:
    with pytest.raises(PSError) as info:
        engine.run_pipeline(session(configuration=POWERSHELL), [cmd("Get-MailboxDatabase")], [], Sink())
    assert info.value.fqid == "CommandNotFoundException"


def test_snapin_required_on_powershell(fake: Callable[..., None], calls: list[Invocation]) -> None:
    snapin = "Microsoft.Exchange.Management.PowerShell.E2010"
    fake("Get-MailboxDatabase", configurations=(EXCHANGE, POWERSHELL), snapin=snapin)
    s = session(configuration=POWERSHELL, version="2010")
    with pytest.raises(PSError):
        engine.run_pipeline(s, [cmd("Get-MailboxDatabase")], [], Sink())
    sink = Sink()
    engine.run_pipeline(s, [cmd("Add-PSSnapin", ("Name", "Microsoft.Exchange.Management.PowerShell.Admin"))], [], sink)
    assert sink.errors[0].message == (
        "The Windows PowerShell snap-in 'Microsoft.Exchange.Management.PowerShell.Admin' is not installed on this computer."
    )
    assert sink.errors[0].fqid == "AddPSSnapInRead,Microsoft.PowerShell.Commands.AddPSSnapinCommand"
    assert sink.errors[0].category == 5
    engine.run_pipeline(s, [cmd("Add-PSSnapin", (None, snapin))], [], Sink())
    assert s.snapins == {snapin}
    engine.run_pipeline(s, [cmd("Get-MailboxDatabase")], [], Sink())
    assert len(calls) == 1
    sink = Sink()
    engine.run_pipeline(s, [cmd("Get-PSSnapin")], [], sink)
    assert [str(o) for o in sink.output] == ["Microsoft.PowerShell.Core", snapin]


def test_add_pssnapin_not_on_exchange_endpoint() -> None:
    with pytest.raises(PSError) as info:
        engine.run_pipeline(session(), [cmd("Add-PSSnapin", ("Name", "x"))], [], Sink())
    assert info.value.fqid == "CommandNotFoundException"


def test_binding_error_fails_pipeline_before_first_command(databases: None, calls: list[Invocation]) -> None:
    s = session()
    with pytest.raises(PSError) as info:
        engine.run_pipeline(s, [cmd("Get-MailboxDatabase"), cmd("Select-Object", ("Bogus", 1))], [], Sink())
    assert info.value.fqid == "NamedParameterNotFound,Select-Object"
    assert calls == []
    assert s.lab.audit.records[-1]["outcome"] == "NamedParameterNotFound"


def test_version_applicability_from_host(fake: Callable[..., None]) -> None:
    fake("Move-ActiveMailboxDatabase")
    raw = [("Identity", "DB1"), ("ActivateOnServer", "EX02"), ("SkipAllChecks", None), ("Confirm", False)]
    with pytest.raises(PSError) as info:
        engine.run_pipeline(session(version="2013"), [cmd("Move-ActiveMailboxDatabase", *raw)], [], Sink())
    assert info.value.error_id == "NamedParameterNotFound"
    engine.run_pipeline(session(version="2016"), [cmd("Move-ActiveMailboxDatabase", *raw)], [], Sink())


# --- error actions ---------------------------------------------------------------------------


def _not_found(inv: Invocation) -> list[Any]:
    inv.write_error(
        object_not_found("DB9", dc_fqdn="dc01.contoso.com", server="EX01", cmdlet=inv.name,
                         task_class="Microsoft.Exchange.Management.SystemConfigurationTasks.GetMailboxDatabase")
    )
    inv.write_warning("careful")
    return [db("DB1", 1)]


@pytest.mark.parametrize(
    ("action", "raises", "errors_seen"),
    [(None, False, 1), ("Continue", False, 1), ("SilentlyContinue", False, 0), ("Ignore", False, 0), ("Stop", True, 0)],
)
def test_error_action(fake: Callable[..., None], action: str | None, raises: bool, errors_seen: int) -> None:
    fake("Get-MailboxDatabase", _not_found)
    params = [("ErrorAction", action)] if action else []
    sink = Sink()
    s = session()
    if raises:
        with pytest.raises(PSError) as info:
            engine.run_pipeline(s, [cmd("Get-MailboxDatabase", *params)], [], sink)
        assert "ManagementObjectNotFoundException" in info.value.fqid
        assert sink.output == []
    else:
        engine.run_pipeline(s, [cmd("Get-MailboxDatabase", *params)], [], sink)
        assert len(sink.output) == 1
    assert len(sink.errors) == errors_seen
    assert s.lab.audit.records[-1]["outcome"].startswith("[Server=EX01")


def test_warning_action_silently_continue(fake: Callable[..., None]) -> None:
    fake("Get-MailboxDatabase", _not_found)
    sink = Sink()
    engine.run_pipeline(session(), [cmd("Get-MailboxDatabase", ("wa", "SilentlyContinue"))], [], sink)
    assert sink.warnings == []
    sink = Sink()
    engine.run_pipeline(session(), [cmd("Get-MailboxDatabase")], [], sink)
    assert sink.warnings == ["careful"]


def test_error_from_implementation_gets_activity(fake: Callable[..., None]) -> None:
    def fail(inv: Invocation) -> None:
        raise PSError("boom", "Boom")

    fake("Get-MailboxDatabase", fail)
    with pytest.raises(PSError) as info:
        engine.run_pipeline(session(), [cmd("Get-MailboxDatabase")], [], Sink())
    assert info.value.activity == "Get-MailboxDatabase"


# --- WhatIf ----------------------------------------------------------------------------------


def test_whatif_skips_implementation_without_support(fake: Callable[..., None], calls: list[Invocation]) -> None:
    fake("Suspend-MailboxDatabaseCopy", rbac=WRITE)
    s = session()
    engine.run_pipeline(s, [cmd("Suspend-MailboxDatabaseCopy", ("Identity", "DB1\\EX01"), ("WhatIf", None))], [], Sink())
    assert calls == []
    assert s.lab.audit.records[-1]["parameters"] == {"Identity": "DB1\\EX01", "WhatIf": True}
    fake("Suspend-MailboxDatabaseCopy", rbac=WRITE, whatif=True)
    engine.run_pipeline(s, [cmd("Suspend-MailboxDatabaseCopy", ("Identity", "DB1\\EX01"), ("WhatIf", None))], [], Sink())
    assert len(calls) == 1 and calls[0].common["WhatIf"] is True


# --- pipelines -------------------------------------------------------------------------------


def test_pipeline_binds_identity_per_object(databases: None, fake: Callable[..., None], calls: list[Invocation]) -> None:
    fake("Get-MailboxDatabaseCopyStatus", lambda inv: [f"status of {inv.params['Identity']}"])
    sink = Sink()
    s = session()
    engine.run_pipeline(s, [cmd("Get-MailboxDatabase"), cmd("Get-MailboxDatabaseCopyStatus", ("Active", None))], [], sink)
    assert sink.output == ["status of DB1", "status of DB2", "status of DB3"]
    status_calls = [c for c in calls if c.name == "Get-MailboxDatabaseCopyStatus"]
    assert [c.input[0].Name for c in status_calls] == ["DB1", "DB2", "DB3"]
    assert status_calls[0].params == {"Active": True, "Identity": "DB1"}
    assert [r["cmdlet"] for r in s.lab.audit.records] == ["Get-MailboxDatabase"] + ["Get-MailboxDatabaseCopyStatus"] * 3


def test_client_input_feeds_first_command(fake: Callable[..., None], calls: list[Invocation]) -> None:
    fake("Get-MailboxDatabaseCopyStatus", lambda inv: [inv.params["Identity"]])
    sink = Sink()
    engine.run_pipeline(session(), [cmd("Get-MailboxDatabaseCopyStatus")], ["DB1\\EX01", "DB2\\EX01"], sink)
    assert sink.output == ["DB1\\EX01", "DB2\\EX01"]


def test_input_not_bound_when_no_pipeline_parameter(fake: Callable[..., None], calls: list[Invocation]) -> None:
    fake("Get-Queue")
    sink = Sink()
    engine.run_pipeline(session(), [cmd("Get-Queue", ("Identity", "EX01\\Submission"))], ["x"], sink)
    assert calls == []
    assert [e.error_id for e in sink.errors] == ["InputObjectNotBound"]
    assert sink.errors[0].target_object == "x"


def test_statements_run_in_order_and_input_goes_to_first(databases: None) -> None:
    sink = Sink()
    engine.run_pipeline(
        session(),
        [cmd("Get-MailboxDatabase", end=True), cmd("Measure-Object")],
        [],
        sink,
    )
    assert [str(o) for o in sink.output[:3]] == ["DB1", "DB2", "DB3"]
    assert psobj.get_prop(sink.output[3], "Count") == 0


# --- utility cmdlets -------------------------------------------------------------------------


def _xml(obj: Any) -> str:
    return ElementTree.tostring(serialize(psobj.to_wire(obj), cipher=None), encoding="unicode")


def test_select_object_projection(databases: None) -> None:
    sink = Sink()
    engine.run_pipeline(
        session(),
        [cmd("Get-MailboxDatabase"), cmd("Select-Object", ("Property", ["Server", "Name", "Missing"]), ("First", 2))],
        [],
        sink,
    )
    assert len(sink.output) == 2
    first = sink.output[0]
    assert first.PSObject.type_names == [
        "Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.MailboxDatabase",
        "System.Management.Automation.PSCustomObject",
        "System.Object",
    ]
    assert [p.name for p in first.PSObject.extended_properties] == ["Server", "Name", "Missing"]
    assert psobj.get_prop(first, "name") == "DB1" and psobj.get_prop(first, "Missing") is None
    xml = _xml(first)
    assert '<MS><S N="Server">EX01</S><S N="Name">DB1</S><Nil N="Missing" /></MS>' in xml


def test_select_object_wildcards_exclude_last_skip_unique(databases: None) -> None:
    sink = Sink()
    engine.run_pipeline(
        session(),
        [cmd("Get-MailboxDatabase"),
         cmd("Select-Object", (None, "*"), ("ExcludeProperty", "D*"), ("Last", 1), ("Skip", 1))],
        [],
        sink,
    )
    (obj,) = sink.output
    assert psobj.prop_names(obj) == ["Name", "Identity", "Server", "Mounted"]
    assert psobj.get_prop(obj, "Name") == "DB2"
    sink = Sink()
    engine.run_pipeline(session(), [cmd("Get-MailboxDatabase"), cmd("Select-Object", ("Property", "Server"), ("Unique", None))], [], sink)
    assert len(sink.output) == 1


def test_select_object_expand_property(databases: None) -> None:
    sink = Sink()
    engine.run_pipeline(session(), [cmd("Get-MailboxDatabase"), cmd("Select-Object", ("ExpandProperty", "name"))], [], sink)
    assert sink.output == ["DB1", "DB2", "DB3"]


def test_measure_object(databases: None) -> None:
    sink = Sink()
    engine.run_pipeline(
        session(),
        [cmd("Get-MailboxDatabase"),
         cmd("Measure-Object", ("Property", "DatabaseSize"), ("Sum", None), ("Average", None), ("Maximum", None),
             ("Minimum", None))],
        [],
        sink,
    )
    (m,) = sink.output
    assert m.PSObject.type_names[0] == "Microsoft.PowerShell.Commands.GenericMeasureInfo"
    assert [p.name for p in m.PSObject.adapted_properties] == ["Count", "Average", "Sum", "Maximum", "Minimum", "Property"]
    assert (m.Count, m.Sum, m.Average, m.Maximum, m.Minimum, m.Property) == (3, 600.0, 200.0, 300.0, 100.0, "DatabaseSize")
    assert '<I32 N="Count">3</I32>' in _xml(m) and '<Db N="Sum">600.0</Db>' in _xml(m)
    sink = Sink()
    engine.run_pipeline(session(), [cmd("Get-MailboxDatabase"), cmd("Measure-Object")], [], sink)
    assert sink.output[0].Count == 3 and sink.output[0].Sum is None


def test_measure_object_missing_property(databases: None) -> None:
    sink = Sink()
    engine.run_pipeline(session(), [cmd("Get-MailboxDatabase"), cmd("Measure-Object", ("Property", "Nope"))], [], sink)
    assert sink.output == []
    assert sink.errors[0].message == 'The property "Nope" cannot be found in the input for any objects.'


def test_get_command_lists_only_runnable(fake: Callable[..., None]) -> None:
    fake("Get-MailboxDatabase")
    fake("Suspend-MailboxDatabaseCopy", rbac=WRITE)
    sink = Sink()
    engine.run_pipeline(session(VIEWER), [cmd("Get-Command", ("Name", ["*-MailboxDatabase*", "Select-Object"]))], [], sink)
    names = [psobj.get_prop(o, "Name") for o in sink.output]
    assert "Get-MailboxDatabase" in names and "Select-Object" in names
    assert "Suspend-MailboxDatabaseCopy" not in names
    select = next(o for o in sink.output if o.Name == "Select-Object")
    assert select.CommandType == "Function" and select.ModuleName == "Microsoft.PowerShell.Utility"
    sink = Sink()
    engine.run_pipeline(session(ADMIN), [cmd("Get-Command", (None, "Suspend-MailboxDatabaseCopy"))], [], sink)
    assert [o.CommandType for o in sink.output] == ["Cmdlet"]


# --- audit -----------------------------------------------------------------------------------


def test_audit_record_contents(databases: None) -> None:
    s = session()
    engine.run_pipeline(s, [cmd("Get-MailboxDatabase", ("Identity", "DB1"), ("ea", "Stop"))], [], Sink())
    (rec,) = s.lab.audit.records
    assert rec["session"] is s
    assert rec["cmdlet"] == "Get-MailboxDatabase"
    assert rec["parameters"] == {"Identity": "DB1", "ErrorAction": "Stop"}
    assert rec["outcome"] == "ok"
    assert isinstance(rec["duration_s"], float) and rec["duration_s"] >= 0


def test_no_audit_when_lab_has_none(databases: None) -> None:
    s = session()
    s.lab.audit = None
    engine.run_pipeline(s, [cmd("Get-MailboxDatabase")], [], Sink())


# --- psobj -----------------------------------------------------------------------------------


def test_make_object_serializes_as_dotnet_object() -> None:
    import datetime

    obj = psobj.make_object(
        ["Microsoft.Exchange.Data.Mapi.DatabaseCopyStatusEntry"],
        {"Name": "DB1\\EX01", "CopyQueueLength": 2**40, "Status": None, "When": datetime.datetime(2024, 1, 2),
         "Lag": datetime.timedelta(hours=1), "Servers": ["EX01", "EX02"], "Ratio": 0.5, "Ok": True},
        to_string="DB1\\EX01",
    )
    xml = _xml(obj)
    assert "<TN RefId=\"0\"><T>Microsoft.Exchange.Data.Mapi.DatabaseCopyStatusEntry</T><T>System.Object</T></TN>" in xml
    for fragment in ('<S N="Name">DB1\\EX01</S>', '<I64 N="CopyQueueLength">1099511627776</I64>', '<Nil N="Status" />',
                     '<DT N="When">2024-01-02T00:00:00</DT>', '<TS N="Lag">PT1H</TS>', "<LST><S>EX01</S><S>EX02</S></LST>",
                     '<Db N="Ratio">0.5</Db>', '<B N="Ok">true</B>', "<ToString>DB1\\EX01</ToString>"):
        assert fragment in xml
    assert "<Props>" in xml and "<MS>" not in xml
    assert psobj.get_prop(obj, "copyqueuelength") == 2**40
