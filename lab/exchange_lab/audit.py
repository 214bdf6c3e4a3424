"""The lab's audit log: one JSON line per cmdlet invocation.

Secrets never reach the log: SecureString and PSCredential values, and any
parameter whose name contains "Password", are written as ``"***"``.
"""

from __future__ import annotations

import datetime
import json
import threading
from pathlib import Path
from typing import Any

MASK = "***"


def _plain(value: Any, depth: int = 0) -> Any:
    """A JSON-friendly rendering of a bound parameter value."""
    tname = type(value).__name__
    if tname in ("PSSecureString", "PSCredential") or "SecureString" in tname:
        return MASK
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()} if depth < 4 else str(value)
    if isinstance(value, (list, tuple, set)):
        return [_plain(v, depth + 1) for v in value] if depth < 4 else str(value)
    return str(value)


def sanitize(parameters: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        out[name] = MASK if "password" in name.lower() else _plain(value)
    return out


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.path.touch()

    def record(self, *, session: Any, cmdlet: str, parameters: dict[str, Any], outcome: str, duration_s: float) -> None:
        lab = session.lab
        entry = {
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "lab_time": lab.clock.now().isoformat(timespec="milliseconds") if getattr(lab, "clock", None) else None,
            "host": session.host.name,
            "configuration": session.configuration,
            "user": session.user.name,
            "cmdlet": cmdlet,
            "parameters": sanitize(parameters),
            "outcome": outcome,
            "duration_ms": round(duration_s * 1000, 3),
        }
        line = json.dumps(entry, sort_keys=False)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            text = self.path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def clear(self) -> None:
        with self._lock:
            self.path.write_text("", encoding="utf-8")
