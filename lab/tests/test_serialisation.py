"""The lab's direct CLIXML writer (``psobj.to_clixml``) against psrpcore's own serializer.

The lab writes cmdlet output as text instead of building psrpcore objects and ElementTree
elements (lab/exchange_lab/psobj.py).  What goes on the wire must not change: for every value
the writer takes, its bytes equal what ``psrpcore.types.serialize(to_wire(value))`` +
``ElementTree.tostring`` (psrpcore's ``prepare_message``) produced before - element names,
attribute order, RefId and TN RefId numbering, escaping, number formats.  Checked here for
hand-made values of every kind and for every object the lab's read cmdlets write over the
protocol (Exchange 2019, Windows, Exchange 2007), and for the PSRP message around them.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Iterator
from xml.etree import ElementTree

import psrpcore
import pytest
from psrpcore.types import (
    ErrorCategory,
    PSCustomObject,
    PSDouble,
    PSInt64,
    PSSingle,
    PSString,
    PSUInt,
    PSUInt16,
    PSUInt64,
)

from exchange_lab import Lab, objects, psrp_host
from exchange_lab.psobj import custom_object, make_object, ps_int64, ps_list, ps_timespan, to_clixml, to_wire

from conftest import pool, props, run

UTC = datetime.timezone.utc


def psrpcore_bytes(value: Any) -> bytes:
    """What the lab sent before: psrpcore's serializer on ``to_wire(value)`` (prepare_message)."""
    return ElementTree.tostring(psrpcore.types.serialize(to_wire(value), None), encoding="utf-8", method="xml")


def _exchange_like() -> Any:
    """An Exchange object with what real ones carry: enums as strings, sizes, TimeSpans,
    DateTimes, a MultiValuedProperty, KeyValuePair items, a nested object and a hashtable."""
    status = make_object(
        objects.T_COPY_STATUS,
        {
            "Name": "DB01\\EX01",
            "Status": "Healthy",  # an enum: its member name, as the remote view has it
            "ContentIndexState": "Healthy",
            "CopyQueueLength": ps_int64(0),
            "ReplayQueueLength": 12,
            "LatestFullBackupTime": datetime.datetime(2024, 5, 1, 22, 0, 0, 123456, tzinfo=UTC),
            "LastInspectedLogTime": datetime.datetime(2024, 5, 2, 8, 30),
            "ReplayLagStatus": None,
            "DiskFreeSpace": objects.byte_quantified(512 * 1024**3),
            "DiskFreeSpacePercent": 42,
            "IncomingLogCopyingNetwork": make_object(["Microsoft.Exchange.Rpc.Cluster.NetworkEndPoint"], {
                "NetworkName": "ReplicationDagNetwork01", "Address": "10.1.2.11"}, to_string="{ReplicationDagNetwork01,10.1.2.11}"),
            "Guid": uuid.UUID("5b9a3a66-5e1c-4a4b-9a63-4a4f0b0c1d2e"),
            "ReplayLagTime": ps_timespan(7 * 86400),
            "TruncationLagTime": datetime.timedelta(0),
            "ActivationPreference": [objects.kvp("EX01", 1, objects.KVP_INT), objects.kvp("EX02", 2, objects.KVP_INT)],
            "Servers": objects.mvp(["EX01", "EX02"]),
            "Empty": objects.mvp([]),
            "Extra": {"Key & <1>": "v\"1\"", "nested": [1, 2.5, None, True]},
            "Ratio": 0.75,
        },
        to_string="DB01\\EX01",
    )
    return status


SYNTHETIC: dict[str, Any] = {
    "none": None,
    "bools": [True, False],
    "int32 edges": [0, -1, 2**31 - 1, -(2**31)],
    "int64 and uint64": [2**31, -(2**31) - 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1],
    "doubles": [1.5, 0.1, 1e20, 1e-7, -0.0, float("inf"), float("-inf"), float("nan"), 123456789.123],
    "strings plain": ["", "EX01", "DB01\\EX01", "Version 15.2 (Build 1544.4)"],
    "strings escaped": ["a_x41b", "_X0041_", "tab\tnl\ncr\r", "&<>\"'", "\x00\x1f\x7f\x85", "caf\u00e9 \u4e2d",
                        "\U0001f389 emoji", "lone \ud9ab surrogate", "\udc00"],
    "byte quantified sizes": [objects.byte_quantified(0), objects.byte_quantified(1536), objects.byte_quantified(2**40)],
    "datetimes": [datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=UTC),
                  datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-5, minutes=-30)))],
    "timespans": [datetime.timedelta(0), datetime.timedelta(days=3, seconds=5), datetime.timedelta(microseconds=-1),
                  datetime.timedelta(hours=25, microseconds=7), datetime.timedelta(days=-2, minutes=3), ps_timespan(0.5)],
    "guid": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
    "psrpcore numbers": [PSInt64(5), PSInt64(2**40), PSUInt(3_000_000_000), PSUInt16(7), PSUInt64(2**64 - 1),
                         PSDouble(2.5), PSSingle(1.25), ps_int64(-3)],
    "containers": [[], (1, 2), frozenset({"a"}), {}, {"k": [1, {"x": None}], "": ""}, [[[]]]],
    "multi-valued properties": [objects.mvp([]), objects.mvp(["EX01", "EX02"]), ps_list(["x"]),
                                objects.id_array(["DB01", "DB02"])],
    "key value pairs": [objects.kvp("EX01", 1, objects.KVP_INT), objects.kvp("EX04", datetime.timedelta(days=7), objects.KVP_TIMESPAN)],
    "exchange object": _exchange_like(),
    "objects sharing type names": [_exchange_like(), _exchange_like(), make_object(["A.B"], {"x": make_object(["A.B"], {})})],
    "custom objects (Select-Object)": [
        custom_object({"Name": "EX01", "Size": 2**33, "Items": [custom_object({"c": 2})]}),
        custom_object({}),
        custom_object({"a": 1}, ["Selected.X", "System.Management.Automation.PSCustomObject", "System.Object"]),
    ],
    "deserialized types": make_object(["Deserialized.Microsoft.Exchange.Data.Directory.ADObjectId", "Deserialized.System.Object"],
                                      {"Name": "EX01", "DistinguishedName": "CN=EX01,CN=Servers"}, to_string="EX01"),
    "to_string edge cases": [make_object(["T"], {"a": 1}, to_string=""), make_object(["T"], {}, to_string="a&b<c>"),
                             make_object([], {}), make_object(["T"], {"P\tN&\"": 1})],
}


@pytest.mark.parametrize("value", list(SYNTHETIC.values()), ids=list(SYNTHETIC))
def test_same_bytes_as_psrpcore(value: Any) -> None:
    new = to_clixml(value)
    assert new is not None
    assert new == psrpcore_bytes(value)
    if isinstance(value, list):  # and each alone (its own message: ids from 0)
        for item in value:
            assert to_clixml(item) == psrpcore_bytes(item)


def test_the_bytes_are_exact_clixml() -> None:
    """A spot check written out by hand (not only "same as psrpcore")."""
    props_ = {"Name": "DB01\\EX01", "Size": 2**33, "Lag": datetime.timedelta(days=7), "Servers": objects.mvp(["EX01"]),
              "Opt": None}
    obj = make_object(["X.Copy"], props_, to_string="DB01\\EX01")
    mvp_types = "".join(f"<T>{t}</T>" for t in objects.mvp([]).PSObject.type_names)
    assert to_clixml(obj).decode() == (
        '<Obj RefId="0"><TN RefId="0"><T>X.Copy</T><T>System.Object</T></TN><Props>'
        '<S N="Name">DB01\\EX01</S><I64 N="Size">8589934592</I64><TS N="Lag">P7D</TS>'
        f'<Obj RefId="1" N="Servers"><TN RefId="1">{mvp_types}</TN><LST><S>EX01</S></LST></Obj>'
        '<Nil N="Opt" /></Props><ToString>DB01\\EX01</ToString></Obj>'
    )


@pytest.mark.parametrize(
    "value",
    [PSString("x"), ErrorCategory.NotSpecified, b"\x00\x01", PSCustomObject(a=1), {1: "int key"},
     [1, b"bytes inside a list"], make_object(["T"], {"p": PSCustomObject(a=1)}), 2**64, object()],
    ids=["PSString", "enum", "bytes", "psrpcore object", "non-string key", "nested bytes", "nested psrpcore object",
         "beyond UInt64", "plain object"],
)
def test_left_to_psrpcore(value: Any) -> None:
    """Values the writer does not know: None, so the lab sends them the psrpcore way."""
    assert to_clixml(value) is None


def test_queued_message_is_psrpcore_s() -> None:
    """queue_output queues the message pipe.write_output would (header, data, ids, stream)."""
    rp = psrpcore.ServerRunspacePool()
    pipe = psrpcore.ServerPipeline(rp, uuid.uuid4())
    pipe.state = psrpcore.types.PSInvocationState.Running
    value = _exchange_like()
    pipe.write_output(to_wire(value))
    psrp_host.queue_output(pipe, to_clixml(value))
    old, new = rp._send_buffer  # pylint: disable=protected-access
    assert bytes(new.data) == bytes(old.data)
    assert (new.message_type, new.pipeline_id, new.runspace_pool_id, new.stream_type) == (
        old.message_type, old.pipeline_id, old.runspace_pool_id, old.stream_type)
    assert new.object_id == old.object_id + 1


class Shadow:
    """Stands in for psrp_host.to_clixml: records what the writer and psrpcore make of each
    object a pipeline writes (at write time, before anything can change it)."""

    def __init__(self) -> None:
        self.written: list[tuple[str, bytes | None, bytes]] = []

    def __call__(self, value: Any) -> bytes | None:
        new = to_clixml(value)
        kind = value.PSObject.type_names[0] if hasattr(value, "PSObject") else type(value).__name__
        self.written.append((kind, new, psrpcore_bytes(value)))
        return new

    def check(self, expected_kinds: set[str]) -> None:
        assert self.written
        for kind, new, old in self.written:
            assert new is not None, f"{kind} left to psrpcore"
            assert new == old, kind
        seen = {kind for kind, _new, _old in self.written}
        assert expected_kinds <= seen, sorted(expected_kinds - seen)


@pytest.fixture
def shadow(monkeypatch: pytest.MonkeyPatch) -> Iterator[Shadow]:
    recorder = Shadow()
    monkeypatch.setattr(psrp_host, "to_clixml", recorder)
    yield recorder


EXCHANGE_READS: list[tuple[str, dict[str, Any]]] = [
    ("Get-ExchangeServer", {"Status": None}),
    ("Get-MailboxServer", {}),
    ("Get-DatabaseAvailabilityGroup", {"Status": None}),
    ("Get-DatabaseAvailabilityGroupNetwork", {}),
    ("Get-MailboxDatabase", {"Status": None}),
    ("Get-MailboxDatabaseCopyStatus", {}),
    ("Get-ServerComponentState", {"Identity": "EX01"}),
    ("Get-Queue", {"Server": "EX01"}),
    ("Test-ReplicationHealth", {"Identity": "EX01"}),
    ("Get-ADPermission", {"Identity": "EX01"}),
    ("Get-Command", {"Name": "Get-*"}),
]
WINDOWS_READS: list[tuple[str, str, dict[str, Any]]] = [
    ("EX01", "Get-Cluster", {}),
    ("EX01", "Get-ClusterNode", {}),
    ("EX01", "Get-ClusterGroup", {}),
    ("EX01", "Get-ClusterNetwork", {}),
    ("EX01", "Get-ClusterQuorum", {}),
    ("EX01", "Get-ClusterResource", {}),
    ("EX01", "Get-Service", {}),
    ("DC01", "Get-ADComputer", {"Filter": 'Name -like "EX*"', "Properties": ["userAccountControl", "IPv4Address"]}),
    ("DC01", "Get-DnsServerResourceRecord", {"ZoneName": "contoso.com"}),
    ("FS01", "Get-SmbShare", {}),
    ("FS01", "Get-SmbShareAccess", {"Name": "ADMIN$"}),
]


def test_every_object_of_the_exchange_and_windows_reads(lab: Lab, shadow: Shadow) -> None:
    with pool(lab, "EX01") as rp:
        for cmdlet, params in EXCHANGE_READS:
            res = run(rp, cmdlet, **params)
            assert not res.failed and res.output, (cmdlet, res.errors)
        # Select-Object output (what the collection's modules read) and Measure-Object's
        projected = run(rp, "Get-MailboxDatabaseCopyStatus", select=["Name", "Status", "CopyQueueLength",
                                                                     "LatestFullBackupTime", "ActivationPreference"])
        assert props(projected.output[0])["Status"]
        selected = ["Name", "DatabaseSize", "ActivationPreference", "ReplayLagTimes", "Servers"]
        assert not run(rp, "Get-MailboxDatabase", select=selected, Status=None).failed
    for host, cmdlet, params in WINDOWS_READS:
        with pool(lab, host, configuration="Microsoft.PowerShell") as rp:
            res = run(rp, cmdlet, **params)
            assert not res.failed and res.output, (cmdlet, res.errors)
    shadow.check({
        objects.T_EXCHANGE_SERVER[0], objects.T_MAILBOX_SERVER[0], objects.T_DAG[0], objects.T_DAG_NETWORK[0],
        objects.T_MAILBOX_DATABASE[0], objects.T_COPY_STATUS[0], objects.T_COMPONENT_STATE[0], objects.T_QUEUE[0],
        objects.T_REPLICATION_CHECK[0], f"Selected.{objects.T_COPY_STATUS[0]}", f"Selected.{objects.T_MAILBOX_DATABASE[0]}",
    })
    assert len(shadow.written) > 100


def test_every_object_of_the_exchange_2007_reads(shadow: Shadow) -> None:
    with Lab("exchange2007-ccr-scr", speed=200.0) as lab07:
        with pool(lab07, "MBX1B", configuration="Microsoft.PowerShell") as rp:
            assert not run(rp, "Add-PSSnapin", Name="Microsoft.Exchange.Management.PowerShell.Admin").failed
            for cmdlet, params in [("Get-ExchangeServer", {}), ("Get-MailboxServer", {}), ("Get-StorageGroup", {}),
                                   ("Get-MailboxDatabase", {}), ("Get-ClusteredMailboxServerStatus", {"Identity": "CMS1"}),
                                   ("Get-StorageGroupCopyStatus", {"Server": "CMS1"}),
                                   ("Get-EventLog", {"List": None}), ("Get-PSSnapin", {})]:
                res = run(rp, cmdlet, **params)
                assert not res.failed and res.output, (cmdlet, res.errors)
    shadow.check(set())
    assert len({kind for kind, _new, _old in shadow.written}) >= 6
