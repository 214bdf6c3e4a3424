"""The lab's control API: JSON over HTTP on its own 127.0.0.1 port (outside PSRP).

Routes
  GET  /health          {"ok": true}
  GET  /hosts           the hosts with their ports
  GET  /state           the whole model state (LabState.to_json())
  GET  /audit           the audit log, a list of entries
  POST /fault/inject    body: a fault spec (see the lab README) -> {"faults": [...]}
  POST /fault/clear     body: a fault spec, or {} for all -> {"faults": [...]}
  POST /reset           reload the topology, clear faults and the audit log
  POST /shutdown        stop the lab
Errors answer 400 (bad request) or 404 (unknown route) with {"error": "..."}.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any


class AdminServer:
    def __init__(self, labserver: Any, port: int = 0) -> None:
        self.labserver = labserver
        handler = type("AdminHandler", (_AdminHandler,), {"labserver": labserver})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="lab-admin")
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _AdminHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    labserver: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, indent=1, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw.strip() else {}

    def do_GET(self) -> None:  # noqa: N802
        ls = self.labserver
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._json(200, {"ok": True})
        elif path == "/hosts":
            self._json(200, ls.info()["hosts"])
        elif path == "/state":
            with ls.lab.lock:
                self._json(200, ls.lab.to_json())
        elif path == "/audit":
            self._json(200, ls.lab.audit.entries())
        else:
            self._json(404, {"error": f"unknown route GET {path}"})

    def do_POST(self) -> None:  # noqa: N802
        ls = self.labserver
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            body = self._body()
        except ValueError as exc:
            self._json(400, {"error": f"body is not JSON: {exc}"})
            return
        try:
            if path == "/fault/inject":
                with ls.lab.lock:
                    ls.lab.inject_fault(body)
                    self._json(200, {"faults": ls.lab.to_json().get("faults", [])})
            elif path == "/fault/clear":
                with ls.lab.lock:
                    ls.lab.clear_fault(body or None)
                    self._json(200, {"faults": ls.lab.to_json().get("faults", [])})
            elif path == "/reset":
                with ls.lab.lock:
                    ls.lab.reset()
                ls.lab.audit.clear()
                self._json(200, {"ok": True})
            elif path == "/shutdown":
                self._json(200, {"ok": True})
                threading.Thread(target=ls.stop, daemon=True).start()
            else:
                self._json(404, {"error": f"unknown route POST {path}"})
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, {"error": str(exc)})
