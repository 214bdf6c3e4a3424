"""Python API of the lab, for scripts and pytest fixtures.

    with Lab("two-datacenters", speed=50) as lab:
        url = lab.host("EX01")["http_port"]
        ...
        lab.audit()

``process=False`` (default) runs the lab in this process (threads);
``process=True`` runs it as a background process exactly as ``exchange-lab start`` does.
Either way clients reach it only through WSMan/PSRP and the admin API.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from . import cli
from .server import LabServer


class Lab:
    def __init__(
        self,
        topology: str = "two-datacenters",
        state_dir: str | Path | None = None,
        *,
        speed: float = 1.0,
        latency_ms: int = 0,
        base_port: int | None = None,
        process: bool = False,
    ) -> None:
        self._tmp = None
        if state_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="exchange-lab-")
            state_dir = self._tmp
        self.state_dir = Path(state_dir).resolve()
        self.topology = topology
        self.speed = speed
        self.latency_ms = latency_ms
        self.base_port = base_port
        self.process = process
        self.server: LabServer | None = None
        self.info: dict[str, Any] = {}

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> "Lab":
        if self.process:
            args = argparse.Namespace(topology=self.topology, state_dir=self.state_dir, speed=self.speed,
                                      latency_ms=self.latency_ms, base_port=self.base_port)
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                cli.cmd_start(args)
            self.info = json.loads(buf.getvalue())
        else:
            self.server = LabServer(self.topology, self.state_dir, speed=self.speed,
                                    latency_ms=self.latency_ms, base_port=self.base_port)
            self.info = self.server.start()
            self.server.wait_ready()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        elif self.process and (self.state_dir / "lab.json").exists():
            with contextlib.redirect_stdout(io.StringIO()):
                cli.cmd_stop(argparse.Namespace(state_dir=self.state_dir))
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- what clients need --------------------------------------------------------------
    @property
    def hosts(self) -> list[dict[str, Any]]:
        return self.info["hosts"]

    def host(self, name: str) -> dict[str, Any]:
        for h in self.hosts:
            if h["name"].lower() == name.lower():
                return h
        raise KeyError(name)

    @property
    def ca_file(self) -> str:
        return self.info["ca_file"]

    @property
    def admin_url(self) -> str:
        return self.info["admin_url"]

    # -- admin API ----------------------------------------------------------------------
    def _admin(self, method: str, route: str, body: Any = None) -> Any:
        return cli.admin_call(self.state_dir, method, route, body)

    def state(self) -> dict[str, Any]:
        return self._admin("GET", "/state")

    def audit(self) -> list[dict[str, Any]]:
        return self._admin("GET", "/audit")

    def inject_fault(self, spec: dict[str, Any]) -> Any:
        return self._admin("POST", "/fault/inject", spec)

    def clear_faults(self, spec: dict[str, Any] | None = None) -> Any:
        return self._admin("POST", "/fault/clear", spec or {})

    def reset(self) -> Any:
        return self._admin("POST", "/reset", {})
