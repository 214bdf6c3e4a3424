"""The lab server: the model, one WSMan endpoint per virtual host and the admin API.

:class:`LabServer` runs everything in the current process (threads).  The CLI's
``serve`` runs one in the foreground; ``start`` runs ``serve`` as a background
process and waits for it (see cli.py); the :class:`exchange_lab.Lab` API does
either.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .admin import AdminServer
from .audit import AuditLog
from .certs import LabPKI
from .wsman import HostEndpoint, serve

log = logging.getLogger(__name__)

MARKER = "lab.json"  # written into the state dir; its presence makes the dir "the lab's"


class _NtlmUsers:
    """The NTLM user file shared by every lab of this process (NTLM_USER_FILE is per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._labs: dict[int, list[str]] = {}
        self._path: Path | None = None

    def _write(self) -> None:
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix="exchange-lab-ntlm-")) / "ntlm-users"
        lines = [ln for labs in self._labs.values() for ln in labs]
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.chmod(0o600)
        tmp.replace(self._path)
        os.environ["NTLM_USER_FILE"] = str(self._path)

    def add(self, key: int, lines: list[str]) -> None:
        with self._lock:
            self._labs[key] = lines
            self._write()

    def remove(self, key: int) -> None:
        with self._lock:
            if self._labs.pop(key, None) is not None and self._labs:
                self._write()


_NTLM_USERS = _NtlmUsers()


class LabError(Exception):
    """A one-line error for the operator (bad topology, port in use, bad state dir)."""


def _check_state_dir(state_dir: Path) -> None:
    if state_dir.exists():
        if not state_dir.is_dir():
            raise LabError(f"state dir {state_dir} exists and is not a directory")
        entries = [p for p in state_dir.iterdir() if p.name not in ("lab.log",)]
        if entries and not (state_dir / MARKER).exists():
            raise LabError(f"state dir {state_dir} is not empty and is not a lab state dir (no {MARKER}); choose another")
        marker = state_dir / MARKER
        if marker.exists():
            info = json.loads(marker.read_text() or "{}")
            pid = info.get("pid")
            if pid and _alive(pid) and pid != os.getpid():
                raise LabError(f"a lab is already running from {state_dir} (pid {pid}); stop it first")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LabServer:
    def __init__(
        self,
        topology: str,
        state_dir: str | os.PathLike[str],
        *,
        speed: float = 1.0,
        latency_ms: int = 0,
        base_port: int | None = None,
    ) -> None:
        from .model import LabState, TopologyError  # the model package

        self.state_dir = Path(state_dir).resolve()
        _check_state_dir(self.state_dir)
        try:
            self.lab = LabState.load(topology, speed=speed)
        except TopologyError as exc:
            raise LabError(str(exc)) from None
        self.topology = topology
        self.speed = speed
        self.latency_ms = latency_ms
        self.base_port = base_port
        self.endpoints: list[HostEndpoint] = []
        self.admin: AdminServer | None = None
        self._stopped = threading.Event()

    # ------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / MARKER).unlink(missing_ok=True)
        self._write_ntlm_users()
        self.lab.audit = AuditLog(self.state_dir / "audit.jsonl")
        pki = LabPKI(self.state_dir / "tls", org=getattr(self.lab, "domain", "lab"))
        self.ca_file = pki.ca_file
        port = self.base_port
        try:
            for host in self.lab.hosts:
                ep = HostEndpoint(host, self.lab, latency_ms=self.latency_ms)
                ctx = pki.host_context(host.name, host.fqdn)
                http_srv = self._bind(ep, port, None)
                port = None if port is None else port + 1
                https_srv = self._bind(ep, port, ctx)
                port = None if port is None else port + 1
                ep.ports = {"http": http_srv.server_address[1], "https": https_srv.server_address[1]}
                self.endpoints.append(ep)
            self.admin = AdminServer(self, port or 0)
        except LabError:
            self.stop()
            raise
        except OSError as exc:
            self.stop()
            raise LabError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        info = self.info()
        (self.state_dir / MARKER).write_text(json.dumps(info, indent=2))
        return info

    def _bind(self, ep: HostEndpoint, port: int | None, ctx: Any) -> Any:
        try:
            return serve(ep, port or 0, ctx)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LabError(f"port 127.0.0.1:{port} is in use (choose another --base-port)") from None
            raise

    def _write_ntlm_users(self) -> None:
        """pyspnego's NTLM acceptor reads DOMAIN:USER:PASSWORD lines from the file named by
        the process-wide NTLM_USER_FILE, so every lab running in this process shares one
        file holding the users of all of them (see ``_NtlmUsers``)."""
        lines = []
        for user in self.lab.users.values():
            domain, _, sam = user.name.partition("\\")
            password = self.lab.password_of(user)
            lines.append(f"{domain}:{sam}:{password}")
            lines.append(f":{user.upn}:{password}")
        _NTLM_USERS.add(id(self), lines)

    def info(self) -> dict[str, Any]:
        hosts = []
        for ep in self.endpoints:
            h = ep.host
            hosts.append(
                {
                    "name": h.name,
                    "fqdn": h.fqdn,
                    "site": h.site,
                    "roles": list(h.roles),
                    "version": h.version,
                    "kind": h.kind,
                    "http_port": ep.ports["http"],
                    "https_port": ep.ports["https"],
                }
            )
        return {
            "hosts": hosts,
            "admin_url": self.admin.url if self.admin else None,
            "ca_file": str(self.ca_file),
            "state_dir": str(self.state_dir),
            "topology": self.topology,
            "speed": self.speed,
            "latency_ms": self.latency_ms,
            "pid": os.getpid(),
        }

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until every listener accepts a TCP connection."""
        ports = [p for ep in self.endpoints for p in ep.ports.values()]
        if self.admin:
            ports.append(self.admin.port)
        deadline = time.monotonic() + timeout
        for p in ports:
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", p), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise LabError(f"listener 127.0.0.1:{p} did not come up") from None
                    time.sleep(0.02)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        clock = getattr(self.lab, "clock", None)
        if clock is not None and hasattr(clock, "stop"):
            clock.stop()
        for ep in self.endpoints:
            ep.close_all()
            for srv in ep.servers:
                srv.shutdown()
                srv.server_close()
        if self.admin:
            self.admin.close()
        _NTLM_USERS.remove(id(self))
        marker = self.state_dir / MARKER
        if marker.exists():
            try:
                info = json.loads(marker.read_text() or "{}")
            except ValueError:
                info = {}
            if info.get("pid") == os.getpid():
                info["pid"] = None
                info["stopped"] = True
                marker.write_text(json.dumps(info, indent=2))

    def wait(self) -> None:
        self._stopped.wait()

    def __enter__(self) -> "LabServer":
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
