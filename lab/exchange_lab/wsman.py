"""WSMan over HTTP(S) for one virtual host: authentication, SOAP, dispatch.

A :class:`HostEndpoint` serves one virtual Windows/Exchange host on an HTTP and an
HTTPS port of 127.0.0.1.  It accepts POSTs on ``/wsman`` and ``/PowerShell`` with
Basic or Negotiate/NTLM authentication (NTLM with WinRM message encryption over
plain HTTP, as Windows does), and implements the WS-Transfer / WinRS operations
that PowerShell remoting uses: Create, Command, Send, Receive, Signal, Delete, Get.
See ``../shared/reference/wsman-psrp-server.md`` for the protocol notes.
"""

from __future__ import annotations

import base64
import binascii
import http.server
import logging
import re
import socket
import socketserver
import ssl
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from .psrp_host import Shell, ShellError, invalid_selectors
from .registry import EXCHANGE, POWERSHELL, Session, User

log = logging.getLogger(__name__)

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
    "ps": "http://schemas.microsoft.com/powershell",
}
T_ = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
S_ = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
PS_URI = "http://schemas.microsoft.com/powershell/"
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CONFIG_URI = "http://schemas.microsoft.com/wbem/wsman/1/config"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

# Largest request body the endpoint accepts (WinRM's MaxEnvelopeSizekb default: 500).
MAX_ENVELOPE_KB = 500
TIMED_OUT = 2150858793
DONE = S_ + "CommandState/Done"

ENC_BOUNDARY = "Encrypted Boundary"
SPNEGO_TYPE = "application/HTTP-SPNEGO-session-encrypted"


def _q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


for _p, _u in NS.items():
    ET.register_namespace(_p, _u)


class Fault(Exception):
    def __init__(self, subcode: str, reason: str, code: int | None = None, sender: bool = True, status: int = 500):
        super().__init__(reason)
        self.subcode = subcode
        self.reason = reason
        self.code = code
        self.sender = sender
        self.status = status


def _iso_seconds(value: str | None, default: float) -> float:
    if not value:
        return default
    m = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", value.strip())
    if not m:
        raise Fault(
            "w:SchemaValidationError",
            f"The WS-Management service cannot process the request because the value '{value}' of "
            "OperationTimeout is not valid.",
        )
    return float(m.group(1))


class Request:
    """A parsed SOAP request."""

    def __init__(self, body: bytes) -> None:
        try:
            self.root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise Fault(
                "w:SchemaValidationError",
                f"The WS-Management service cannot process the request because the XML is not well formed: {exc}.",
            ) from None
        if self.root.tag != _q("s", "Envelope"):
            raise Fault("w:SchemaValidationError", "The WS-Management service cannot process the request: the body is not a SOAP 1.2 envelope.")
        header = self.root.find("s:Header", NS)
        self.body = self.root.find("s:Body", NS)
        if header is None or self.body is None:
            raise Fault("w:SchemaValidationError", "The WS-Management service cannot process the request: the SOAP envelope has no Header or Body.")
        self.action = (header.findtext("a:Action", "", NS) or "").strip()
        self.message_id = (header.findtext("a:MessageID", "", NS) or "").strip()
        self.resource_uri = (header.findtext("w:ResourceURI", "", NS) or "").strip()
        self.shell_id = None
        for sel in header.findall("w:SelectorSet/w:Selector", NS):
            if sel.get("Name") == "ShellId":
                self.shell_id = (sel.text or "").strip()
        self.max_envelope = int(header.findtext("w:MaxEnvelopeSize", "153600", NS) or 153600)
        self.timeout = _iso_seconds(header.findtext("w:OperationTimeout", None, NS), 60.0)
        if not self.action:
            raise Fault("a:MessageInformationHeaderRequired", "The WS-Addressing Action header is missing.")


def _envelope(action: str, relates_to: str, body: ET.Element | None) -> bytes:
    env = ET.Element(_q("s", "Envelope"), {"{http://www.w3.org/XML/1998/namespace}lang": "en-US"})
    hdr = ET.SubElement(env, _q("s", "Header"))
    ET.SubElement(hdr, _q("a", "Action")).text = action
    ET.SubElement(hdr, _q("a", "MessageID")).text = f"uuid:{str(uuid.uuid4()).upper()}"
    ET.SubElement(hdr, _q("a", "To")).text = ANONYMOUS
    if relates_to:
        ET.SubElement(hdr, _q("a", "RelatesTo")).text = relates_to
    b = ET.SubElement(env, _q("s", "Body"))
    if body is not None:
        b.append(body)
    return ET.tostring(env, encoding="utf-8", xml_declaration=False)


def fault_envelope(fault: Fault, relates_to: str, machine: str) -> bytes:
    f = ET.Element(_q("s", "Fault"))
    code = ET.SubElement(f, _q("s", "Code"))
    ET.SubElement(code, _q("s", "Value")).text = "s:Sender" if fault.sender else "s:Receiver"
    sub = ET.SubElement(code, _q("s", "Subcode"))
    ET.SubElement(sub, _q("s", "Value")).text = fault.subcode
    reason = ET.SubElement(f, _q("s", "Reason"))
    text = ET.SubElement(reason, _q("s", "Text"))
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    text.text = fault.reason
    if fault.code is not None:
        detail = ET.SubElement(f, _q("s", "Detail"))
        wf = ET.SubElement(detail, _q("f", "WSManFault"), {"Code": str(fault.code), "Machine": machine})
        ET.SubElement(wf, _q("f", "Message")).text = fault.reason
    return _envelope(FAULT_ACTION, relates_to, f)


class HostEndpoint:
    """The WSMan service of one virtual host."""

    def __init__(
        self,
        host: Any,
        lab: Any,
        *,
        latency_ms: int = 0,
    ) -> None:
        self.host = host
        self.lab = lab
        self.latency = latency_ms / 1000.0
        self.shells: dict[str, Shell] = {}
        self.shells_lock = threading.Lock()
        self.servers: list[socketserver.BaseServer] = []
        self.ports: dict[str, int] = {}

    # ---- configuration names -------------------------------------------------------
    def configuration_allowed(self, name: str) -> bool:
        if name == POWERSHELL:
            return True
        if name == EXCHANGE:
            return self.host.kind == "exchange" and str(self.host.version) in ("2010", "2013", "2016", "2019", "SE")
        return False

    # ---- operations -------------------------------------------------------------------
    def dispatch(self, req: Request, user: User) -> bytes:
        action = req.action
        if action == T_ + "Create":
            return self._create(req, user)
        if action == T_ + "Get":
            return self._get(req)
        if action == T_ + "Delete":
            shell = self._shell(req)
            shell.close()
            with self.shells_lock:
                self.shells.pop(shell.id.upper(), None)
            return _envelope(T_ + "DeleteResponse", req.message_id, None)
        if action == S_ + "Command":
            return self._command(req)
        if action == S_ + "Send":
            return self._send(req)
        if action == S_ + "Receive":
            return self._receive(req)
        if action == S_ + "Signal":
            return self._signal(req)
        raise Fault(
            "a:ActionNotSupported",
            f"The action is not supported by the service: {action}",
        )

    def _shell(self, req: Request) -> Shell:
        with self.shells_lock:
            shell = self.shells.get((req.shell_id or "").upper())
        if shell is None or shell.closed:
            e = invalid_selectors()
            raise Fault(e.subcode, e.message, e.code)
        if shell.session.user is not None and getattr(req, "user", None) is not None and shell.session.user.name != req.user.name:
            e = invalid_selectors()
            raise Fault(e.subcode, e.message, e.code)
        return shell

    def _create(self, req: Request, user: User) -> bytes:
        if not req.resource_uri.startswith(PS_URI):
            raise Fault(
                "w:DestinationUnreachable",
                "The WS-Management service cannot process the request. The resource URI "
                f"{req.resource_uri} was not found in the WS-Management catalog.",
                2150858752,
            )
        config = req.resource_uri[len(PS_URI):]
        if not self.configuration_allowed(config):
            raise Fault(
                "w:DestinationUnreachable",
                "The WS-Management service cannot process the request. Cannot find the "
                f"{config} session configuration in the WSMan: drive on the {self.host.name} computer.",
                2150858752,
            )
        shell_el = req.body.find("rsp:Shell", NS)
        if shell_el is None:
            raise Fault("w:SchemaValidationError", "The Create request carries no rsp:Shell element.")
        shell_id = (shell_el.get("ShellId") or str(uuid.uuid4())).upper()
        creation = shell_el.findtext("ps:creationXml", None, NS)
        if creation is None:
            raise Fault("w:SchemaValidationError", "The Create request carries no creationXml.")
        session = Session(host=self.host, configuration=config, user=user, lab=self.lab)
        shell = Shell(shell_id, session, req.resource_uri)
        try:
            shell.feed(base64.b64decode(creation), None)
        except Exception as exc:  # bad PSRP data from the client
            raise Fault("w:SchemaValidationError", f"Invalid PSRP creation data: {exc}") from None
        with self.shells_lock:
            self.shells[shell_id] = shell

        rc = ET.Element(_q("x", "ResourceCreated"))
        ET.SubElement(rc, _q("a", "Address")).text = f"http://{self.host.fqdn}/PowerShell"
        rp = ET.SubElement(rc, _q("a", "ReferenceParameters"))
        ET.SubElement(rp, _q("w", "ResourceURI")).text = req.resource_uri
        ss = ET.SubElement(rp, _q("w", "SelectorSet"))
        ET.SubElement(ss, _q("w", "Selector"), {"Name": "ShellId"}).text = shell_id
        body = _envelope(T_ + "CreateResponse", req.message_id, rc)
        # Append the rsp:Shell description real servers send (pypsrp ignores it).
        root = ET.fromstring(body)
        root.find("s:Body", NS).append(self._shell_element(shell))
        return ET.tostring(root, encoding="utf-8")

    def _shell_element(self, shell: Shell) -> ET.Element:
        el = ET.Element(_q("rsp", "Shell"))
        ET.SubElement(el, _q("rsp", "ShellId")).text = shell.id
        ET.SubElement(el, _q("rsp", "ResourceUri")).text = shell.resource_uri
        ET.SubElement(el, _q("rsp", "Owner")).text = shell.session.user.name
        ET.SubElement(el, _q("rsp", "ClientIP")).text = "127.0.0.1"
        ET.SubElement(el, _q("rsp", "IdleTimeOut")).text = "PT7200.000S"
        ET.SubElement(el, _q("rsp", "InputStreams")).text = "stdin pr"
        ET.SubElement(el, _q("rsp", "OutputStreams")).text = "stdout"
        ET.SubElement(el, _q("rsp", "State")).text = "Connected"
        return el

    def _get(self, req: Request) -> bytes:
        if req.resource_uri.lower() == CONFIG_URI:
            cfg = ET.Element(_q("cfg", "Config"))
            ET.SubElement(cfg, _q("cfg", "MaxEnvelopeSizekb")).text = str(MAX_ENVELOPE_KB)
            ET.SubElement(cfg, _q("cfg", "MaxTimeoutms")).text = "60000"
            return _envelope(T_ + "GetResponse", req.message_id, cfg)
        shell = self._shell(req)
        return _envelope(T_ + "GetResponse", req.message_id, self._shell_element(shell))

    def _command(self, req: Request) -> bytes:
        shell = self._shell(req)
        cl = req.body.find("rsp:CommandLine", NS)
        if cl is None or not cl.get("CommandId"):
            raise Fault("w:SchemaValidationError", "The Command request carries no rsp:CommandLine with a CommandId.")
        command_id = cl.get("CommandId")
        args = cl.findtext("rsp:Arguments", "", NS)
        try:
            pid = uuid.UUID(command_id)
        except ValueError:
            raise Fault("w:SchemaValidationError", f"CommandId '{command_id}' is not a GUID.") from None
        self._feed(shell, base64.b64decode(args), pid, "stdin")
        body = ET.Element(_q("rsp", "CommandResponse"))
        ET.SubElement(body, _q("rsp", "CommandId")).text = command_id
        return _envelope(S_ + "CommandResponse", req.message_id, body)

    def _feed(self, shell: Shell, data: bytes, pid: uuid.UUID | None, stream: str) -> None:
        try:
            shell.feed(data, pid, stream)
        except ShellError as e:
            raise Fault(e.subcode, e.message, e.code) from None
        except Exception as exc:
            log.exception("bad PSRP data")
            raise Fault("w:InternalError", f"The PSRP data could not be processed: {exc}", 2147500037, sender=False) from None

    def _send(self, req: Request) -> bytes:
        shell = self._shell(req)
        for stream in req.body.findall("rsp:Send/rsp:Stream", NS):
            cid = stream.get("CommandId")
            pid = uuid.UUID(cid) if cid else None
            self._feed(shell, base64.b64decode(stream.text or ""), pid, stream.get("Name", "stdin"))
        return _envelope(S_ + "SendResponse", req.message_id, ET.Element(_q("rsp", "SendResponse")))

    def _receive(self, req: Request) -> bytes:
        shell = self._shell(req)
        ds = req.body.find("rsp:Receive/rsp:DesiredStream", NS)
        cid = ds.get("CommandId") if ds is not None else None
        pid = uuid.UUID(cid) if cid else None
        budget = max(1024, (req.max_envelope - 2048) * 3 // 4)
        wait = max(0.05, req.timeout - 0.25)
        try:
            chunks, done = shell.receive(pid, budget, wait)
        except TimeoutError:
            raise Fault(
                "w:TimedOut",
                "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
                TIMED_OUT,
                sender=False,
            ) from None
        except ShellError as e:
            raise Fault(e.subcode, e.message, e.code) from None
        rr = ET.Element(_q("rsp", "ReceiveResponse"))
        attrs = {"Name": "stdout"}
        if cid:
            attrs["CommandId"] = cid
        ET.SubElement(rr, _q("rsp", "Stream"), attrs).text = base64.b64encode(b"".join(chunks)).decode()
        if done and cid:
            cs = ET.SubElement(rr, _q("rsp", "CommandState"), {"CommandId": cid, "State": DONE})
            ET.SubElement(cs, _q("rsp", "ExitCode")).text = "0"
        return _envelope(S_ + "ReceiveResponse", req.message_id, rr)

    def _signal(self, req: Request) -> bytes:
        shell = self._shell(req)
        sig = req.body.find("rsp:Signal", NS)
        cid = sig.get("CommandId") if sig is not None else None
        code = (sig.findtext("rsp:Code", "", NS) if sig is not None else "") or ""
        if cid:
            shell.signal(uuid.UUID(cid), code)
        return _envelope(S_ + "SignalResponse", req.message_id, ET.Element(_q("rsp", "SignalResponse")))

    def close_all(self) -> None:
        with self.shells_lock:
            shells = list(self.shells.values())
            self.shells.clear()
        for s in shells:
            s.close()


# ---------------------------------------------------------------------------------------
# HTTP layer
# ---------------------------------------------------------------------------------------


def find_user(lab: Any, principal: str) -> User | None:
    """The topology user an authenticated principal (``DOMAIN\\user`` or UPN) stands for."""
    p = principal.lower()
    for user in lab.users.values():
        sam = user.name.split("\\", 1)[-1].lower()
        if p in (user.name.lower(), user.upn.lower()) or p.split("\\", 1)[-1] in (sam, user.upn.lower()):
            return user
    return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    endpoint: HostEndpoint  # set on the subclass per listener

    # connection state (one handler instance per TCP connection)
    ntlm_ctx: Any = None
    ntlm_user: User | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def _unauthorized(self, challenge: str | None = None) -> None:
        hdrs = {}
        if challenge:
            hdrs["WWW-Authenticate"] = challenge
        else:
            hdrs["WWW-Authenticate"] = "Negotiate"
        # Windows offers both schemes; http.server can only emit one header per call.
        self.send_response(401)
        if challenge:
            self.send_header("WWW-Authenticate", challenge)
        else:
            self.send_header("WWW-Authenticate", "Negotiate")
            self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.wfile.flush()

    def do_GET(self) -> None:  # noqa: N802
        self._send(405, b"", {"Allow": "POST"})

    def do_POST(self) -> None:  # noqa: N802
        ep = self.endpoint
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        if ep.latency:
            time.sleep(ep.latency)
        path = self.path.split("?", 1)[0].rstrip("/").lower()
        if path not in ("/wsman", "/powershell"):
            self._send(404, b"")
            return

        user, encrypted = self._authenticate(body)
        if user is None:
            return  # a 401 or handshake leg has been sent
        if encrypted:
            try:
                body = self._unwrap(body)
            except Exception:
                self._unauthorized()
                return
        relates = ""
        try:
            if len(body) > MAX_ENVELOPE_KB * 1024:
                raise Fault(
                    "w:EncodingLimit",
                    "The WS-Management service cannot process the request because the envelope size in the request "
                    f"is too large. The maximum envelope size is {MAX_ENVELOPE_KB * 1024} bytes.",
                    2150858817,
                )
            if not body:
                raise Fault("w:SchemaValidationError", "The WS-Management service cannot process the request because the request body is empty.")
            req = Request(body)
            relates = req.message_id
            req.user = user  # type: ignore[attr-defined]
            out = ep.dispatch(req, user)
            status = 200
        except Fault as f:
            out = fault_envelope(f, relates, ep.host.name.lower())
            status = f.status
        except Exception as exc:  # never drop the connection on a lab bug
            log.exception("internal error")
            out = fault_envelope(Fault("w:InternalError", f"Internal error: {exc}", 2147500037, sender=False), relates, ep.host.name.lower())
            status = 500
        if encrypted:
            ctype, out = self._wrap(out)
            self._send(status, out, {"Content-Type": ctype})
        else:
            self._send(status, out, {"Content-Type": "application/soap+xml;charset=UTF-8"})

    # ---- authentication ------------------------------------------------------------
    def _authenticate(self, body: bytes) -> tuple[User | None, bool]:
        ep = self.endpoint
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                raw = base64.b64decode(token).decode("utf-8")
                name, _, password = raw.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                self._unauthorized()
                return None, False
            user = ep.lab.authenticate(name, password)
            if user is None:
                self._unauthorized()
                return None, False
            return user, False
        if scheme in ("negotiate", "ntlm") and token:
            return self._ntlm_step(token), False
        if self.ntlm_user is not None and self.headers.get("Content-Type", "").startswith("multipart/encrypted"):
            return self.ntlm_user, True
        self._unauthorized()
        return None, False

    def _ntlm_step(self, token: str) -> User | None:
        import spnego

        ep = self.endpoint
        if self.ntlm_ctx is None or self.ntlm_ctx.complete:
            self.ntlm_ctx = spnego.server(protocol="negotiate")
            self.ntlm_user = None
        try:
            out = self.ntlm_ctx.step(base64.b64decode(token))
        except Exception:
            self.ntlm_ctx = None
            self._unauthorized()
            return None
        if not self.ntlm_ctx.complete:
            self._unauthorized("Negotiate " + base64.b64encode(out or b"").decode())
            return None
        principal = self.ntlm_ctx.client_principal or ""
        user = find_user(ep.lab, principal)
        if user is None:
            self.ntlm_ctx = None
            self._unauthorized()
            return None
        self.ntlm_user = user
        headers = {}
        if out:
            headers["WWW-Authenticate"] = "Negotiate " + base64.b64encode(out).decode()
        # The handshake's last leg carries the first (encrypted) request body, if any.
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/encrypted"):
            return user
        self._send(200, b"", headers)
        return None

    def _unwrap(self, body: bytes) -> bytes:
        ctx = self.ntlm_ctx
        parts = re.split(rb"--\s*" + re.escape(ENC_BOUNDARY.encode()) + rb"\r\n", body)
        parts = [p for p in parts if p]
        out = b""
        for i in range(0, len(parts), 2):
            header = parts[i].strip()
            expected = int(header.split(b"Length=")[1])
            payload = re.sub(rb"--\s*" + re.escape(ENC_BOUNDARY.encode()) + rb"--\r\n$", b"", parts[i + 1])
            payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"")
            hlen = struct.unpack("<i", payload[:4])[0]
            data = ctx.unwrap_winrm(payload[4 : 4 + hlen], payload[4 + hlen :])
            if len(data) != expected:
                raise ValueError("encrypted length mismatch")
            out += data
        return out

    def _wrap(self, data: bytes) -> tuple[str, bytes]:
        res = self.ntlm_ctx.wrap_winrm(data)
        header, enc, padding = res.header, res.data, res.padding_length
        wrapped = struct.pack("<i", len(header)) + header + enc
        head = "\r\n".join(
            [
                "--" + ENC_BOUNDARY,
                "\tContent-Type: " + SPNEGO_TYPE,
                f"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={len(data) + padding}",
                "--" + ENC_BOUNDARY,
                "\tContent-Type: application/octet-stream",
                "",
            ]
        ).encode()
        ctype = f'multipart/encrypted;protocol="{SPNEGO_TYPE}";boundary="{ENC_BOUNDARY}"'
        return ctype, head + wrapped + f"--{ENC_BOUNDARY}--\r\n".encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 64
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        if self.ssl_context is not None:
            try:
                request.settimeout(10)
                request = self.ssl_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


def serve(endpoint: HostEndpoint, port: int, ssl_context: ssl.SSLContext | None) -> _Server:
    """Bind a listener for ``endpoint`` on 127.0.0.1:port and serve it in a thread."""
    handler = type("Handler", (_Handler,), {"endpoint": endpoint})
    srv = _Server(("127.0.0.1", port), handler)
    srv.ssl_context = ssl_context
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name=f"wsman-{endpoint.host.name}-{port}")
    t.start()
    endpoint.servers.append(srv)
    return srv
