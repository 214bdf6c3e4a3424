"""Benchmark: switchovers on the `large` lab (16 servers, 400 databases) through ansible-playbook.

Scenarios (each on a freshly reset lab):

* ``server``: a server switchover (role exchange.dr.server_switchover, state maintenance) of EX01
  with 50 active databases.  The topology makes 25 databases active on each server; the 25 whose
  second-preference copy is on EX01 are first moved onto it with plain pypsrp
  (``Move-ActiveMailboxDatabase -ActivateOnServer EX01``, not measured).
* ``datacenter``: the namespaces' TTL is lowered to 1 s (the role's preflight refuses the
  topology's 3600 s, as in tools/demo.py), site DC1 fails (fault ``site_down``), then
  playbooks/datacenter_switchover.yml activates DC1's databases in DC2.

For each run: the wall time of ansible-playbook; the modelled Exchange time = the sum, over the
state-changing cmdlets of the run in the lab's audit log, of their duration times the lab's
speed (the lab sleeps modelled / speed for each), plus, when the databases were moved by Active
Manager after Set-MailboxServer -DatabaseCopyActivationDisabledAndMoveNow (no Move cmdlet in the
run), 30 modelled s per database (README-model: those switchovers run 30 s apart in the
background); the datacenter's activations happen inside Restore-DatabaseAvailabilityGroup; ``ratio`` = wall / (modelled / speed); round
trips = audit entries of the run (one per cmdlet invocation; ``Select-Object`` stages of a
projected pipeline and the ``Move-ActiveMailboxDatabase`` calls themselves not counted), in
total and per database moved.

Goals (issue "Switchovers", at --speed 1): wall <= 1.10 x modelled + 2 s; <= 8 round trips per
database beyond the move.  At another speed the goal column uses modelled / speed, so Ansible's own
fixed cost weighs ``speed`` times more than at --speed 1.  The module's waits (poll interval,
move retry delay) are the role defaults divided by the speed.  Not part of `make test`:

    .venv/bin/python bench/switchover_bench.py [--speed 1] [--latency-ms 20] [--scenario both]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from exchange_lab import Lab
from exchange_lab.model.durations import SWITCHOVER_PER_DATABASE_S

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
USER, PASSWORD = "CONTOSO\\administrator", "Passw0rd!"  # the lab's documented demo credential
SERVER = "EX01"
READS = ("Get-", "Select-Object", "Test-")
MOVE = "Move-ActiveMailboxDatabase"


def pool_for(lab: Lab, host: str) -> RunspacePool:
    wsman = WSMan("127.0.0.1", port=lab.host(host)["https_port"], path="PowerShell", ssl=True, auth="basic",
                  username=USER, password=PASSWORD, cert_validation=lab.ca_file, no_proxy=True,
                  operation_timeout=600, read_timeout=900)
    return RunspacePool(wsman, configuration_name="Microsoft.Exchange")


def move_onto(lab: Lab, databases: list[str], server: str, workers: int = 25) -> None:
    """Make ``databases`` active on ``server`` with plain pypsrp, several moves at a time."""

    def move(names: list[str]) -> None:
        with pool_for(lab, server) as pool:
            for name in names:
                ps = PowerShell(pool)
                ps.add_cmdlet(MOVE).add_parameter("Identity", name).add_parameter("ActivateOnServer", server)
                ps.add_parameter("Confirm", False)
                ps.invoke()
                if ps.had_errors:
                    raise RuntimeError("%s %s: %s" % (MOVE, name, ps.streams.error[0]))

    chunks = [databases[i::workers] for i in range(workers) if databases[i::workers]]
    with ThreadPoolExecutor(len(chunks)) as ex:
        list(ex.map(move, chunks))


def active_on(state: dict, server: str) -> list[str]:
    return sorted(d["name"] for d in state["databases"] if d["active_server"] == server)


class Runner:
    def __init__(self, lab: Lab, work: Path) -> None:
        self.lab, self.work = lab, work
        collections = work / "collections" / "ansible_collections" / "exchange"
        collections.mkdir(parents=True)
        (collections / "dr").symlink_to(REPO)
        inventory = subprocess.run([sys.executable, "-m", "exchange_lab", "inventory", "--state-dir",
                                    str(lab.state_dir)], capture_output=True, text=True, timeout=120, check=True)
        (work / "inventory.yml").write_text(inventory.stdout)
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(work / "collections"),
                        ANSIBLE_HOME=str(work / "ansible-home"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")

    def playbook(self, path: Path | str, extra: dict | None = None) -> tuple[float, list[dict]]:
        """Run a playbook; returns its wall time and the audit entries it caused."""
        start = len(self.lab.audit())
        args = [str(BIN / "ansible-playbook"), "-i", str(self.work / "inventory.yml"), str(path)]
        if extra:
            args += ["-e", json.dumps(extra)]
        t0 = time.perf_counter()
        proc = subprocess.run(args, cwd=self.work, env=self.env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stdout[-6000:] + proc.stderr[-3000:])
            raise SystemExit("%s failed (exit status %d)" % (path, proc.returncode))
        return wall, self.lab.audit()[start:]

    def write_play(self, name: str, plays: list) -> Path:
        path = self.work / ("%s.yml" % name)
        path.write_text(yaml.safe_dump(plays, sort_keys=False))
        return path


def summarise(name: str, wall: float, audit: list[dict], moved: int, speed: float, background: float = 0.0) -> dict:
    writes = [e for e in audit if not e["cmdlet"].startswith(READS)]
    modelled = sum(e["duration_ms"] for e in writes) * speed / 1000.0 + background
    first = datetime.datetime.fromisoformat(audit[0]["lab_time"]) if audit else None
    last = datetime.datetime.fromisoformat(audit[-1]["lab_time"]) if audit else None
    trips = [e for e in audit if e["cmdlet"] != "Select-Object" and e["cmdlet"] != MOVE]
    moves = sum(1 for e in audit if e["cmdlet"] == MOVE)
    return {"scenario": name, "moved": moved, "wall": wall, "modelled": modelled,
            "span": (last - first).total_seconds() if audit else 0.0, "ratio": wall / (modelled / speed),
            "goal": 1.10 * modelled / speed + 2.0, "entries": len(audit), "moves": moves, "trips": len(trips),
            "per_db": len(trips) / moved if moved else float("nan"),
            "cmdlets": sorted({e["cmdlet"] for e in trips})}


def server_scenario(runner: Runner, speed: float) -> dict:
    lab = runner.lab
    state = lab.state()
    mine = active_on(state, SERVER)
    extra = [d["name"] for d in state["databases"]
             if d["active_server"] != SERVER and any(c["server"] == SERVER for c in d["copies"])]
    move_onto(lab, extra[: 50 - len(mine)], SERVER)
    before = active_on(lab.state(), SERVER)
    records = runner.work / "records"
    play = runner.write_play("server", [{
        "name": "server switchover", "hosts": SERVER, "gather_facts": False,
        "module_defaults": {"group/exchange.dr.exchange": "{{ exchange_dr_connection }}"},
        "tasks": [{"name": "enter maintenance", "ansible.builtin.include_role": {"name": "exchange.dr.server_switchover"},
                   "vars": {"server_switchover_state": "maintenance",
                            "server_switchover_record_dir": str(records),
                            "server_switchover_windows_connection": "{{ exchange_dr_windows_connection }}",
                            "server_switchover_poll_interval": 5.0 / speed,
                            "server_switchover_move_retry_delay": 60.0 / speed,
                            "server_switchover_timeout": int(len(before) * 30 * 3 / speed) + 600}}],
    }])
    wall, audit = runner.playbook(play)
    left = active_on(lab.state(), SERVER)
    if left:
        raise SystemExit("still active on %s: %s" % (SERVER, ", ".join(left)))
    # DatabaseCopyActivationDisabledAndMoveNow: Active Manager's switchovers, 30 s apart, after the cmdlet
    # returned (not in any cmdlet's duration) - unless the module moved them itself with Move-ActiveMailboxDatabase.
    background = 0.0 if any(e["cmdlet"] == MOVE for e in audit) else len(before) * SWITCHOVER_PER_DATABASE_S
    return summarise("server (%s)" % SERVER, wall, audit, len(before), speed, background)


def datacenter_scenario(runner: Runner, speed: float) -> dict:
    lab = runner.lab
    prep = runner.write_play("prepare", [{
        "name": "short TTL on the namespaces", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "TTL 1 s",
                   "module_defaults": {"group/exchange.dr.exchange": "{{ hostvars['DC02'].exchange_dr_windows_connection }}"},
                   "exchange.dr.dns_record": {"zone": "contoso.com", "name": ["mail", "autodiscover"], "ttl": 1}}],
    }])
    runner.playbook(prep)
    state = lab.state()
    dc1 = {h["name"] for h in state["hosts"] if h.get("site") == "DC1"} or {"EX%02d" % i for i in range(1, 9)}
    primary = [d["name"] for d in state["databases"] if d["active_server"] in dc1]
    lab.inject_fault({"id": "site_down", "target": "DC1"})
    extra = {"datacenter_switchover_poll_interval": 2.0 / speed,
             "datacenter_switchover_timeout": int(len(primary) * 30 * 3 / speed) + 600}
    wall, audit = runner.playbook(REPO / "playbooks" / "datacenter_switchover.yml", extra)
    after = lab.state()
    still = [d["name"] for d in after["databases"] if d["name"] in primary and (
        d["active_server"] in dc1 or d["mount_state"] != "Mounted")]
    if still:
        raise SystemExit("not active and mounted in DC2: %s" % ", ".join(still[:10]))
    return summarise("datacenter (DC1->DC2)", wall, audit, len(primary), speed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", type=float, default=1)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--scenario", choices=("server", "datacenter", "both"), default="both")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="exchange-dr-switchover-bench-"))
    rows = []
    with Lab("large", speed=args.speed, latency_ms=args.latency_ms, process=True) as lab:
        runner = Runner(lab, work)
        if args.scenario in ("server", "both"):
            rows.append(server_scenario(runner, args.speed))
        if args.scenario in ("datacenter", "both"):
            if rows:
                lab.reset()
            rows.append(datacenter_scenario(runner, args.speed))
    print("large topology, speed x%g, latency %d ms per request; modelled = modelled Exchange seconds of the writes "
          "(+ 30 s per database for Active Manager's MoveNow switchovers)" % (args.speed, args.latency_ms))
    head = ("scenario", "dbs", "wall s", "modelled s", "modelled/speed", "ratio", "goal wall s", "ok",
            "entries", "moves", "trips", "trips/db")
    print("%-22s %4s %8s %10s %14s %6s %11s %3s %7s %5s %6s %8s" % head)
    for r in rows:
        ok = "yes" if r["wall"] <= r["goal"] and r["per_db"] <= 8 else "no"
        print("%-22s %4d %8.1f %10.1f %14.1f %6.2f %11.1f %3s %7d %5d %6d %8.2f"
              % (r["scenario"], r["moved"], r["wall"], r["modelled"], r["modelled"] / args.speed, r["ratio"],
                 r["goal"], ok, r["entries"], r["moves"], r["trips"], r["per_db"]))
    for r in rows:
        print("%s: lab-clock span first..last cmdlet %.1f s; cmdlets counted as trips: %s"
              % (r["scenario"], r["span"], ", ".join(r["cmdlets"])))


if __name__ == "__main__":
    main()
