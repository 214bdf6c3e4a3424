"""Fixtures: one in-process lab per test session, reached only through pypsrp.

Tests talk to the lab the way a user's script would (plain pypsrp) and look at
the admin API (state, audit) — never at the lab's internals.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from exchange_lab import Lab

ADMIN = "CONTOSO\\administrator"
VIEWER = "CONTOSO\\viewer"
PASSWORD = "Passw0rd!"


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    with Lab("two-datacenters", speed=200.0) as running:
        yield running


@pytest.fixture
def fresh_lab(lab: Lab) -> Lab:
    """The session lab, reset to its topology (state, faults, audit) before the test."""
    lab.reset()
    return lab


def wsman(lab: Lab, host: str = "EX01", *, user: str = ADMIN, password: str = PASSWORD, auth: str = "basic",
          https: bool = False, cert_validation: Any = None, **kw: Any) -> WSMan:
    h = lab.host(host)
    opts: dict[str, Any] = dict(username=user, password=password, auth=auth, path="PowerShell", no_proxy=True)
    if https:
        opts.update(ssl=True, port=h["https_port"], cert_validation=lab.ca_file if cert_validation is None else cert_validation)
    else:
        opts.update(ssl=False, port=h["http_port"])
        if auth == "basic":
            opts["encryption"] = "never"
    opts.update(kw)
    return WSMan("127.0.0.1", **opts)


@contextlib.contextmanager
def pool(lab: Lab, host: str = "EX01", configuration: str = "Microsoft.Exchange", **kw: Any) -> Iterator[RunspacePool]:
    with RunspacePool(wsman(lab, host, **kw), configuration_name=configuration) as rp:
        yield rp


class Result:
    def __init__(self, ps: PowerShell, output: list[Any]) -> None:
        self.ps = ps
        self.output = output
        self.errors = list(ps.streams.error)
        self.warnings = [w.message for w in ps.streams.warning]
        self.failed = bool(ps.had_errors)

    @property
    def error(self) -> Any:
        assert self.errors, "expected an error record"
        return self.errors[0]


def run(rp: RunspacePool, cmdlet: str, *, select: list[str] | None = None, **params: Any) -> Result:
    """Invoke one cmdlet with typed parameters (a value of None means a bare switch)."""
    ps = PowerShell(rp)
    ps.add_cmdlet(cmdlet)
    for name, value in params.items():
        if value is None:
            ps.add_parameter(name)
        else:
            ps.add_parameter(name, value)
    if select:
        ps.add_cmdlet("Select-Object").add_parameter("Property", select)
    out = ps.invoke()
    res = Result(ps, out)
    ps.close()
    return res


def props(obj: Any) -> dict[str, Any]:
    """All properties of a deserialised object (adapted and extended)."""
    d: dict[str, Any] = {}
    d.update(getattr(obj, "adapted_properties", {}) or {})
    d.update(getattr(obj, "extended_properties", {}) or {})
    return d
