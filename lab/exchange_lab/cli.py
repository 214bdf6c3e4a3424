"""``exchange-lab``: start, stop and inspect the lab.

  exchange-lab start --topology NAME|PATH --state-dir DIR [--speed F] [--latency-ms N] [--base-port P]
  exchange-lab serve (same options)          run in the foreground until Ctrl-C / SIGTERM
  exchange-lab stop  --state-dir DIR
  exchange-lab hosts|state|audit --state-dir DIR
  exchange-lab inventory --state-dir DIR [--user NAME]   an Ansible inventory (YAML) of the running lab
  exchange-lab fault inject --state-dir DIR --spec '{"kind": ...}'
  exchange-lab fault inject ID --target X --state-dir DIR [--spec '{"delay_s": 60}']
  exchange-lab fault clear  --state-dir DIR [--spec '{...}' | ID [--target X]]
  exchange-lab reset --state-dir DIR

Every subcommand except start/serve goes through the admin HTTP API whose URL is
recorded in ``DIR/lab.json``.  Output is JSON on stdout; errors are one line on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from . import inventory
from .model import topology
from .server import MARKER, LabError, LabServer, _alive, _check_state_dir


def _fail(msg: str) -> "None":
    print(f"exchange-lab: {msg}", file=sys.stderr)
    raise SystemExit(1)


def read_info(state_dir: Path) -> dict[str, Any]:
    marker = state_dir / MARKER
    if not marker.exists():
        raise LabError(f"{state_dir} is not a lab state dir (no {MARKER})")
    return json.loads(marker.read_text())


def admin_call(state_dir: Path, method: str, route: str, body: Any = None, timeout: float = 30) -> Any:
    info = read_info(state_dir)
    if not info.get("pid") or not _alive(info["pid"]):
        raise LabError(f"the lab of {state_dir} is not running")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(info["admin_url"] + route, data=data, method=method, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            msg = json.loads(exc.read()).get("error", str(exc))
        except ValueError:
            msg = str(exc)
        raise LabError(msg) from None
    except urllib.error.URLError as exc:
        raise LabError(f"the lab's admin API at {info['admin_url']} does not answer: {exc.reason}") from None


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topology", required=True, help="topology name (two-datacenters, large, ...) or a YAML path")
    p.add_argument("--state-dir", required=True, type=Path)
    p.add_argument("--speed", type=float, default=1.0, help="simulated clock speed factor (default 1.0 = real time)")
    p.add_argument("--latency-ms", type=int, default=0, help="latency added to every HTTP request")
    p.add_argument("--base-port", type=int, default=None, help="first port; hosts get consecutive http/https pairs")


def cmd_serve(args: argparse.Namespace) -> None:
    server = LabServer(args.topology, args.state_dir, speed=args.speed, latency_ms=args.latency_ms, base_port=args.base_port)
    info = server.start()
    server.wait_ready()
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    print(json.dumps(info, indent=2), flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()


def cmd_start(args: argparse.Namespace) -> None:
    if args.speed <= 0:
        raise LabError("--speed must be greater than 0")
    state_dir: Path = args.state_dir.resolve()
    _check_state_dir(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / MARKER).unlink(missing_ok=True)
    log_path = state_dir / "lab.log"
    cmd = [sys.executable, "-m", "exchange_lab.cli", "serve", "--topology", args.topology, "--state-dir", str(state_dir),
           "--speed", str(args.speed), "--latency-ms", str(args.latency_ms)]
    if args.base_port is not None:
        cmd += ["--base-port", str(args.base_port)]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    marker = state_dir / MARKER
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = [ln for ln in log_path.read_text().splitlines() if ln.strip()]
            raise LabError(lines[-1].removeprefix("exchange-lab: ") if lines else f"the lab exited with status {proc.returncode}")
        if marker.exists():
            try:
                info = json.loads(marker.read_text())
            except ValueError:
                info = {}
            if info.get("pid") == proc.pid:
                try:
                    admin_call(state_dir, "GET", "/health", timeout=5)
                except LabError:
                    time.sleep(0.05)
                    continue
                print(json.dumps({k: info[k] for k in ("hosts", "admin_url", "ca_file", "state_dir")}, indent=2))
                return
        time.sleep(0.05)
    proc.kill()
    raise LabError("the lab did not become ready within 60 s (see lab.log in the state dir)")


def cmd_stop(args: argparse.Namespace) -> None:
    state_dir = args.state_dir.resolve()
    info = read_info(state_dir)
    pid = info.get("pid")
    if not pid or not _alive(pid):
        print(json.dumps({"stopped": True, "was_running": False}))
        return
    try:
        admin_call(state_dir, "POST", "/shutdown", {}, timeout=5)
    except LabError:
        pass
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
    print(json.dumps({"stopped": True, "was_running": True}))


def cmd_inventory(args: argparse.Namespace) -> None:
    state_dir = args.state_dir.resolve()
    info = read_info(state_dir)
    state = admin_call(state_dir, "GET", "/state")  # fails clearly when the lab is not running
    try:
        users = topology.load(info["topology"])["users"]
    except topology.TopologyError as exc:
        raise LabError(f"cannot read the lab users from its topology: {exc}") from None
    try:
        text = inventory.render(inventory.build(info, state, users, args.user), str(state_dir))
    except inventory.InventoryError as exc:
        raise LabError(str(exc)) from None
    print(text, end="")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="exchange-lab", description="The exchange.dr lab: a simulated Exchange organization over WSMan/PSRP.")
    sub = parser.add_subparsers(dest="command", required=True)
    _server_args(sub.add_parser("start", help="start the lab in the background and print its hosts as JSON"))
    _server_args(sub.add_parser("serve", help="run the lab in the foreground"))
    for name in ("stop", "hosts", "state", "audit", "reset"):
        sub.add_parser(name).add_argument("--state-dir", required=True, type=Path)
    inv = sub.add_parser("inventory", help="print an Ansible inventory (YAML) of the running lab")
    inv.add_argument("--state-dir", required=True, type=Path)
    inv.add_argument("--user", default="administrator",
                     help="lab user whose credentials the inventory carries: DOMAIN\\user, UPN or user name "
                          "(default administrator)")
    fault = sub.add_parser("fault", help="inject or clear a fault")
    fault.add_argument("action", choices=["inject", "clear"])
    fault.add_argument("id", nargs="?", default=None,
                       help="a failure catalogue id (failure-modes.yml, or site_down, wan_partition, host_unreachable, slow_network)")
    fault.add_argument("--target", default=None, help="with an id: DB01\\EX02, DB01, EX01, DAG1, DC1, 'DC1,DC2' or a host")
    fault.add_argument("--state-dir", required=True, type=Path)
    fault.add_argument("--spec", default=None, help="the fault as JSON, e.g. '{\"kind\": \"server_down\", \"server\": \"EX02\"}'; with an id: extra options")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            cmd_serve(args)
        elif args.command == "start":
            cmd_start(args)
        elif args.command == "stop":
            cmd_stop(args)
        elif args.command in ("hosts", "state", "audit"):
            print(json.dumps(admin_call(args.state_dir.resolve(), "GET", "/" + args.command), indent=2))
        elif args.command == "inventory":
            cmd_inventory(args)
        elif args.command == "reset":
            print(json.dumps(admin_call(args.state_dir.resolve(), "POST", "/reset", {})))
        elif args.command == "fault":
            try:
                spec = json.loads(args.spec) if args.spec else {}
            except ValueError as exc:
                raise LabError(f"--spec is not JSON: {exc}") from None
            if not isinstance(spec, dict):
                raise LabError("--spec must be a JSON object")
            if args.id is not None:
                if "kind" in spec or "id" in spec:
                    raise LabError("give the failure id either as an argument or in --spec, not both")
                if args.target is None and args.action == "inject":
                    raise LabError(f"fault inject {args.id} needs --target")
                spec = {"id": args.id, **({"target": args.target} if args.target is not None else {}), **spec}
            elif args.target is not None:
                raise LabError("--target goes with a failure id (fault inject ID --target X)")
            if args.action == "inject" and not spec:
                raise LabError("fault inject needs --spec or a failure id")
            print(json.dumps(admin_call(args.state_dir.resolve(), "POST", f"/fault/{args.action}", spec), indent=2))
    except LabError as exc:
        _fail(str(exc))


if __name__ == "__main__":
    main()
