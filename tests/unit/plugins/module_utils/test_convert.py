"""convert.py: deserialised PowerShell values to plain Python.

Objects are built the way a client receives them: CLIXML as Exchange sends it, deserialised by
pypsrp's own Serializer.
"""

from __future__ import annotations

import datetime
import uuid

import pytest
from pypsrp.serializer import Serializer

from ansible_collections.exchange.dr.plugins.module_utils import convert

ADOBJECTID = "Microsoft.Exchange.Data.Directory.ADObjectId"
MVP = "Microsoft.Exchange.Data.MultiValuedProperty`1[[Microsoft.Exchange.Data.Directory.ADObjectId, Microsoft.Exchange.Data.Directory]]"
KVP_INT = ("System.Collections.Generic.KeyValuePair`2[[Microsoft.Exchange.Data.Directory.ADObjectId, "
           "Microsoft.Exchange.Data.Directory],[System.Int32, mscorlib]]")


def clixml(xml: str):
    return Serializer().deserialize(xml)


def adobjectid(ref: int, name: str, to_string: str | None = None, tn: bool = True) -> str:
    types = (f'<TN RefId="{ref}"><T>{ADOBJECTID}</T><T>System.Object</T></TN>' if tn else '<TNRef RefId="90" />')
    return (f'<Obj RefId="{ref}">{types}<ToString>{to_string or name}</ToString>'
            f'<Props><S N="Name">{name}</S><S N="DistinguishedName">CN={name},CN=Servers,DC=contoso,DC=com</S>'
            f'<I32 N="Depth">9</I32></Props></Obj>')


ENUM_HEALTHY = ('<Obj RefId="0"><TN RefId="0"><T>Microsoft.Exchange.Management.SystemConfigurationTasks.CopyStatus</T>'
                '<T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Healthy</ToString>'
                '<I32>1</I32></Obj>')
MVP_STRINGS = (f'<Obj RefId="0"><TN RefId="0"><T>{MVP}</T><T>Microsoft.Exchange.Data.MultiValuedPropertyBase</T>'
               '<T>System.Object</T></TN><LST><S>EX01</S><S>EX_x0032_</S></LST></Obj>')
MVP_OBJECTS = (f'<Obj RefId="0"><TN RefId="0"><T>{MVP}</T><T>System.Object</T></TN><LST>'
               f'<Obj RefId="1"><TN RefId="90"><T>{ADOBJECTID}</T><T>System.Object</T></TN><ToString>EX01</ToString>'
               '<Props><S N="Name">EX01</S></Props></Obj>'
               '<Obj RefId="2"><TNRef RefId="90" /><ToString>EX02</ToString><Props><S N="Name">EX02</S></Props></Obj>'
               '<Ref RefId="5" /></LST></Obj>')
ARRAYLIST = '<Obj RefId="0"><TN RefId="0"><T>System.Collections.ArrayList</T><T>System.Object</T></TN><LST>{}</LST></Obj>'


def kvp(ref: int, key_xml: str, value_xml: str, shown: str) -> str:
    return (f'<Obj RefId="{ref}"><TN RefId="{ref}"><T>{KVP_INT}</T><T>System.ValueType</T><T>System.Object</T></TN>'
            f'<ToString>{shown}</ToString><Props>{key_xml}{value_xml}</Props></Obj>')


class TestToPlain:
    def test_enum_is_member_name(self):
        assert convert.to_plain(clixml(ENUM_HEALTHY)) == "Healthy"

    def test_multivalued_property_left_raw_by_pypsrp_is_parsed(self):
        value = clixml(MVP_STRINGS)
        assert any(str(s).startswith("<LST") for s in value.property_sets)  # what pypsrp leaves
        assert convert.to_plain(value) == ["EX01", "EX2"]

    def test_multivalued_identities_with_tnref_and_unresolvable_ref(self):
        assert convert.names(clixml(MVP_OBJECTS)) == ["EX01", "EX02"]

    def test_object_with_properties_becomes_dict(self):
        plain = convert.to_plain(clixml(adobjectid(0, "EX01")))
        assert plain["Name"] == "EX01" and plain["Depth"] == 9

    def test_object_without_properties_is_its_tostring(self):
        xml = '<Obj RefId="0"><TN RefId="0"><T>Some.Type</T><T>System.Object</T></TN><ToString>text</ToString></Obj>'
        assert convert.to_plain(clixml(xml)) == "text"

    @pytest.mark.parametrize("value, expected", [
        (None, None), (True, True), (3, 3), (1.5, 1.5), ("x", "x"),
        (uuid.UUID("73433b67-e99e-50ed-91b5-826c0e49a8a2"), "73433b67-e99e-50ed-91b5-826c0e49a8a2"),
        (datetime.timedelta(days=7), "7.00:00:00"),
        (datetime.datetime(2026, 3, 14, 10, 2, 11, tzinfo=datetime.timezone.utc), "2026-03-14T10:02:11+00:00"),
        (b"\x00\x01", "AAE="), ({"a": [1, (2, 3)]}, {"a": [1, [2, 3]]}),
    ])
    def test_python_values(self, value, expected):
        assert convert.to_plain(value) == expected

    def test_row_of_a_primitive_output(self):
        assert convert.row(5) == {"Value": 5}

    def test_parse_clixml_primitives_and_dictionary(self):
        xml = ('<DCT><En><S N="Key">a</S><I64 N="Value">5000000000</I64></En>'
               '<En><S N="Key">b</S><B N="Value">true</B></En><En><S N="Key">c</S><Nil N="Value" /></En>'
               '<En><S N="Key">d</S><G N="Value">73433b67-e99e-50ed-91b5-826c0e49a8a2</G></En>'
               '<En><S N="Key">e</S><Db N="Value">1.5</Db></En><En><S N="Key">f</S><C N="Value">65</C></En>'
               '<En><S N="Key">g</S><DT N="Value">2026-03-14T10:02:11Z</DT></En></DCT>')
        assert convert.parse_clixml(xml) == {"a": 5000000000, "b": True, "c": None,
                                             "d": "73433b67-e99e-50ed-91b5-826c0e49a8a2", "e": 1.5, "f": "A",
                                             "g": "2026-03-14T10:02:11Z"}


@pytest.mark.parametrize("value, expected", [
    ("1.492 GB (1,601,896,448 bytes)", 1601896448),
    ("76.8 MB (80,530,636 bytes)", 80530636),
    ("0 B (0 bytes)", 0),
    ("Unlimited", "Unlimited"),
    ("unlimited", "Unlimited"),
    ("500MB", 524288000),
    ("1 GB", 1073741824),
    ("1.5TB", 1649267441664),
    ("1024", 1024),
    ("1,024", 1024),
    (2048, 2048),
    (None, None),
    ("", None),
    ("not a size", "not a size"),
    ({"IsUnlimited": True, "Value": None}, "Unlimited"),
    ({"IsUnlimited": False, "Value": "2 GB (2,147,483,648 bytes)"}, 2147483648),
])
def test_to_bytes(value, expected):
    assert convert.to_bytes(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("2026-03-14T10:02:11.1234567+01:00", "2026-03-14T10:02:11.123456+01:00"),
    ("2026-03-14T10:02:11Z", "2026-03-14T10:02:11+00:00"),
    ("2026-03-14T10:02:11.5Z", "2026-03-14T10:02:11.500000+00:00"),
    ("2026-03-14T10:02:11", "2026-03-14T10:02:11"),
    ("2026-03-14T10:02", "2026-03-14T10:02:00"),
    ("2026-03-14T10:02:11+0100", "2026-03-14T10:02:11+01:00"),
    ("3/14/2024 10:02:11 AM", "2024-03-14T10:02:11"),
    ("3/14/2024 10:02:11 PM", "2024-03-14T22:02:11"),
    (datetime.datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05"),
    (None, None),
    ("", None),
    ("yesterday", "yesterday"),
])
def test_iso_datetime(value, expected):
    assert convert.iso_datetime(value) == expected


@pytest.mark.parametrize("value, seconds, text", [
    ("PT0S", 0.0, "00:00:00"),
    ("P7D", 604800.0, "7.00:00:00"),
    ("P7DT0H0M0S", 604800.0, "7.00:00:00"),
    ("PT1H30M", 5400.0, "01:30:00"),
    ("PT1.5S", 1.5, "00:00:01.5000000"),
    ("-PT5M", -300.0, "-00:05:00"),
    ("7.00:00:00", 604800.0, "7.00:00:00"),
    ("00:30:00", 1800.0, "00:30:00"),
    ("1.02:03:04.5", 93784.5, "1.02:03:04.5000000"),
    ("-1.00:00:00", -86400.0, "-1.00:00:00"),
    ("01:00", 3600.0, "01:00:00"),
    (datetime.timedelta(hours=1), 3600.0, "01:00:00"),
    (90, 90.0, "00:01:30"),
    ({"TotalSeconds": 60.0}, 60.0, "00:01:00"),
    ({"Ticks": 600000000}, 60.0, "00:01:00"),
    (None, None, None),
    ("PT", None, "PT"),
    ("soon", None, "soon"),
])
def test_timespan(value, seconds, text):
    assert convert.timespan_seconds(value) == seconds
    assert convert.timespan_text(value) == text


@pytest.mark.parametrize("value, expected", [
    ("EX01", "EX01"),
    ("contoso.com/Configuration/Sites/DC1", "DC1"),
    ("contoso.com/Users/A\\/B", "A/B"),
    ("CN=EX01,CN=Servers,DC=contoso,DC=com", "EX01"),
    ("DB01\\EX02", "DB01\\EX02"),
    ({"Name": "EX03", "DistinguishedName": "CN=x"}, "EX03"),
    ({"DistinguishedName": "CN=EX04,CN=Servers"}, "EX04"),
    (None, None),
    ("", None),
])
def test_name(value, expected):
    assert convert.name(value) == expected


def test_name_of_adobjectid_object_prefers_name_over_tostring():
    value = clixml(adobjectid(0, "DC1", to_string="contoso.com/Configuration/Sites/DC1"))
    assert convert.name(value) == "DC1"


@pytest.mark.parametrize("value, expected", [
    ("ex01.contoso.com", "ex01"),
    ("EX01", "EX01"),
    ("10.1.1.50", "10.1.1.50"),
    (None, None),
])
def test_server_name(value, expected):
    assert convert.server_name(value) == expected


def test_server_names_and_names():
    assert convert.server_names(["ex01.contoso.com", "EX02", None]) == ["ex01", "EX02"]
    assert convert.names(None) == []
    assert convert.names("EX01") == ["EX01"]


@pytest.mark.parametrize("value, expected", [
    ("Mailbox, ClientAccess", ["Mailbox", "ClientAccess"]),
    ("Mailbox", ["Mailbox"]),
    (["Mailbox", "HubTransport"], ["Mailbox", "HubTransport"]),
    (None, []),
])
def test_flags(value, expected):
    assert convert.flags(value) == expected


def test_enum():
    assert convert.enum(clixml(ENUM_HEALTHY)) == "Healthy"
    assert convert.enum("DagOnly") == "DagOnly"
    assert convert.enum(3) == "3"
    assert convert.enum(None) is None


class TestKeyValuePairs:
    def test_activation_preference_objects_with_adobjectid_keys(self):
        items = "".join(kvp(i + 1, adobjectid(10 + i, srv).replace('<Obj', '<Obj N="Key"', 1), f'<I32 N="Value">{i + 1}</I32>',
                            f"[{srv}, {i + 1}]") for i, srv in enumerate(("EX01", "EX02")))
        value = clixml(ARRAYLIST.format(items))
        assert convert.key_value_pairs(value, convert.integer) == {"EX01": 1, "EX02": 2}
        assert convert.key_value_pairs(convert.to_plain(value), convert.integer) == {"EX01": 1, "EX02": 2}

    def test_string_keys_and_timespan_values(self):
        value = [{"Key": "EX01", "Value": "PT0S"}, {"Key": "EX04", "Value": "P7D"}]
        assert convert.key_value_pairs(value, convert.timespan_text) == {"EX01": "00:00:00", "EX04": "7.00:00:00"}

    def test_display_strings(self):
        assert convert.key_value_pairs(["[EX01, 1]", "[EX02, 2]"], convert.integer) == {"EX01": 1, "EX02": 2}

    def test_hashtable_and_single_pair(self):
        assert convert.key_value_pairs({"EX01": 1}) == {"EX01": 1}
        assert convert.key_value_pairs({"Key": "EX01", "Value": 1}) == {"EX01": 1}
        assert convert.key_value_pairs(None) == {}


@pytest.mark.parametrize("value, expected", [
    (1, 1), ("1,024", 1024), ("-3", -3), (2.0, 2), (None, None), ("", None), ("x", "x"), (True, True),
])
def test_integer(value, expected):
    assert convert.integer(value) == expected


@pytest.mark.parametrize("value, expected", [
    (True, True), ("True", True), ("false", False), ("Yes", True), ("No", False), (0, False), (None, None), ("", None),
])
def test_boolean(value, expected):
    assert convert.boolean(value) == expected


@pytest.mark.parametrize("value, product, build", [
    ("Version 15.2 (Build 1544.4)", "2019", "15.2.1544.4"),
    ("Version 15.2 (Build 2562.17)", "SE", "15.2.2562.17"),
    ("Version 15.1 (Build 2507.6)", "2016", "15.1.2507.6"),
    ("Version 15.0 (Build 1497.2)", "2013", "15.0.1497.2"),
    ("Version 14.3 (Build 123.4)", "2010", "14.3.123.4"),
    ("Version 8.3 (Build 83.6)", "2007", "8.3.83.6"),
    ("15.2.1544.4", "2019", "15.2.1544.4"),
    ("Version 16.0 (Build 1.0)", None, "16.0.1.0"),
    ("garbage", None, None),
    (None, None, None),
])
def test_exchange_product(value, product, build):
    found = convert.exchange_product(value)
    assert (found["product"], found["build"]) == (product, build)


def test_text():
    assert convert.text(None) is None
    assert convert.text("a") == "a"
    assert convert.text({"Name": "EX01"}) == "EX01"
    assert convert.text(uuid.UUID(int=0)) == "00000000-0000-0000-0000-000000000000"
