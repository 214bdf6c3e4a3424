"""plugins/filter/copy_health.py: thin wrappers; errors become AnsibleFilterError; one doc per filter."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.dr.plugins.filter import copy_health as plugin

FILTER_DIR = Path(plugin.__file__).resolve().parent
COPY = {"name": "DB01\\EX02", "database": "DB01", "server": "EX02", "active": False, "status": "Healthy",
        "activation_preference": 2, "activation_suspended": False, "copy_queue_length": 0, "replay_queue_length": 0,
        "content_index_state": "NotApplicable"}


def test_filters_and_their_docs():
    filters = plugin.FilterModule().filters()
    assert sorted(filters) == ["best_copy", "copy_health", "exchange_bytes"]
    for name, function in filters.items():
        doc = yaml.safe_load((FILTER_DIR / ("%s.yml" % name)).read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        documented = set(doc["DOCUMENTATION"]["options"]) - {"_input"}
        code = set(function.__code__.co_varnames[1:function.__code__.co_argcount])
        assert documented == code, name
        assert doc["EXAMPLES"].strip() and doc["RETURN"]["_value"]


@pytest.mark.parametrize("value, expected", [
    ("1.5 GB (1,610,612,736 bytes)", 1610612736),
    ("0 B (0 bytes)", 0),
    ("1.492 GB (1,601,896,448 bytes)", 1601896448),
    ("500 MB", 524288000),
    ("500MB", 524288000),
    ("1,024", 1024),
    (2048, 2048),
    (1.0, 1),
    ("Unlimited", None),
    ("unlimited", None),
    ({"IsUnlimited": True}, None),
    ({"IsUnlimited": False, "Value": "2 GB (2,147,483,648 bytes)"}, 2147483648),
    (None, None),
    ("", None),
])
def test_exchange_bytes(value, expected):
    assert plugin.exchange_bytes(value) == expected


@pytest.mark.parametrize("value", ["a lot", "12 parsecs", True, [1], {"Value": None}])
def test_exchange_bytes_refuses_what_is_not_a_size(value):
    with pytest.raises(AnsibleFilterError, match=r"^exchange_bytes: .* is not an Exchange size"):
        plugin.exchange_bytes(value)


def test_copy_health_passes_every_option():
    assert plugin.copy_health(COPY) == {"name": "DB01\\EX02", "healthy": True, "reasons": []}
    lagged = dict(COPY, server="EX04", copy_queue_length=20, status="DisconnectedAndHealthy",
                  content_index_state="Crawling", activation_suspended=True, replay_queue_length=99)
    databases = [{"name": "DB01", "replay_lag_times": {"EX04": "7.00:00:00"}}]
    assert len(plugin.copy_health(lagged, databases=databases)["reasons"]) == 6
    relaxed = plugin.copy_health(lagged, statuses=["DisconnectedAndHealthy"], copy_queue_limit=21,
                                 replay_queue_limit=100, content_index_states=["Crawling"],
                                 allow_activation_suspended=True, allow_lagged=True, databases=databases)
    assert relaxed["healthy"] is True


def test_best_copy_passes_every_option():
    copies = [dict(COPY, server="EX01", name="DB01\\EX01", active=True, status="Mounted", activation_preference=1),
              COPY, dict(COPY, server="EX03", name="DB01\\EX03", activation_preference=3, copy_queue_length=0)]
    result = plugin.best_copy(copies, database="DB01", servers=[], databases=[], components=[], lossless=True,
                              targetless=False, explain=True)
    assert [(r["server"], r["rank"]) for r in result] == [("EX02", 1), ("EX03", 2), ("EX01", None)]


@pytest.mark.parametrize("call, message", [
    (lambda: plugin.copy_health("DB01\\EX02"), "copy_health expects a copy"),
    (lambda: plugin.copy_health(COPY, copy_queue_limit=-3), "copy_health: copy_queue_limit must not be negative"),
    (lambda: plugin.best_copy([COPY, dict(COPY, database="DB02")]), "best_copy: the copies belong to 2 databases"),
    (lambda: plugin.best_copy([COPY], explain="yes"), "best_copy: explain must be a boolean"),
])
def test_errors_are_filter_errors(call, message):
    with pytest.raises(AnsibleFilterError) as exc:
        call()
    assert str(exc.value).startswith(message)
