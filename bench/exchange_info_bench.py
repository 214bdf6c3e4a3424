"""Benchmark: exchange.dr.exchange_info on the `large` lab against plain, unprojected pypsrp.

The lab runs as its own process (16 Exchange 2019 servers, 400 databases, 1,600 copies).  In
this process:

* the module itself (``exchange_info.main()`` with its arguments patched in, as Ansible runs
  it, minus the process start): ``gather_subset: all``, then each subset alone;
* the same data fetched by plain pypsrp the way a script usually does it: the same cmdlets,
  whole objects, no ``Select-Object`` projection.

Each variant is run ``--rounds`` times (``all`` and the unprojected fetch alternately, so a
change in the machine's load hits both alike; the speed-up is the median of the per-round
ratios); the table shows the median wall time, the cmdlet round trips (pipelines sent, as the
module reports them), the cmdlet executions in the lab's audit log (a pipeline with input
objects runs its cmdlet once per object), the HTTP requests counted on the client side, the
bytes received, the module's own ``elapsed``, and the CPU seconds spent by this process (the
controller: pypsrp, deserialisation, conversion) and by the lab process (the server side:
building and serialising the objects).  On a busy machine the wall times move with the
load; the two CPU columns show where the time goes.

Goals: at most 3 round trips per subset - except ``queues``, which Exchange answers per server
(``Get-Queue -Server``, 2 + one per transport server) - under 1.5 s module time for ``all``,
at least 3x faster than unprojected.  Not part of `make test`:

    .venv/bin/python bench/exchange_info_bench.py [--rounds 3] [--latency-ms 0] [--topology large]

Figures (``--rounds 5``, 0 ms, a shared 2-core machine; the median of three runs of the whole
benchmark, each run's own figures the median of its 5 rounds; the lab before and after it
wrote its output as CLIXML text directly instead of through psrpcore's serializer):

=================================  ===============  ==============
                                   before           after
=================================  ===============  ==============
exchange_info all, module time     2.40 s           0.94 s
exchange_info all, wall            2.61 s           1.11 s
lab CPU for it                     1.54 s           0.47 s
plain pypsrp unprojected, wall     8.30 s           5.57 s
lab CPU for that                   3.66 s           0.57 s
speed-up (median of round pairs)   3.1x             5.0x
=================================  ===============  ==============

The unprojected fetch now spends almost all of its time in pypsrp's own deserialisation (the
controller CPU column, about 3.7 s).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from exchange_lab import Lab

REPO = Path(__file__).resolve().parents[1]
SUBSETS = ("servers", "dags", "databases", "copies", "components", "networks", "queues")
USER, PASSWORD = "CONTOSO\\administrator", "Passw0rd!"  # the lab's documented demo credential


def collection_on_path() -> None:
    """Import the collection as ansible_collections.exchange.dr (a symlink to the repository)."""
    root = Path(tempfile.mkdtemp(prefix="exchange-dr-bench-"))
    (root / "ansible_collections" / "exchange").mkdir(parents=True)
    (root / "ansible_collections" / "exchange" / "dr").symlink_to(REPO)
    sys.path.insert(0, str(root))


class HttpCounter:
    """Counts HTTP requests and response bytes of every requests.Session in this process."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        original = requests.Session.send
        counter = self

        def send(session, request, **kwargs):  # type: ignore[no-untyped-def]
            response = original(session, request, **kwargs)
            counter.requests += 1
            counter.bytes += len(response.content or b"")
            return response

        requests.Session.send = send  # type: ignore[method-assign]

    def snapshot(self) -> tuple[int, int]:
        return self.requests, self.bytes


def run_module(args: dict) -> dict:
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.exchange.dr.plugins.modules import exchange_info

    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            exchange_info.main()
        except SystemExit:
            pass
    result = json.loads(out.getvalue())
    if result.get("failed"):
        raise RuntimeError(result["msg"])
    return result


def plain_pypsrp(lab: Lab, subsets: tuple[str, ...]) -> int:
    """The same reads with pypsrp, whole objects (no Select-Object); returns the pipelines sent."""
    ex01 = lab.host("EX01")
    wsman = WSMan("127.0.0.1", port=ex01["https_port"], path="PowerShell", ssl=True, auth="basic", username=USER,
                  password=PASSWORD, cert_validation=lab.ca_file, no_proxy=True)
    sent = 0
    with RunspacePool(wsman, configuration_name="Microsoft.Exchange") as pool:

        def invoke(cmdlet: str, **params: object) -> list:
            nonlocal sent
            ps = PowerShell(pool)
            ps.add_cmdlet(cmdlet)
            for name, value in params.items():
                ps.add_parameter(name, value)
            output = ps.invoke()
            ps.close()
            sent += 1
            if ps.had_errors:
                raise RuntimeError(str(ps.streams.error[0]))
            return output

        servers = []
        if set(subsets) & {"servers", "components", "queues"}:
            servers = [s.adapted_properties["Name"] for s in invoke("Get-ExchangeServer")]
            if "servers" in subsets:
                invoke("Get-MailboxServer")
        if "dags" in subsets:
            invoke("Get-DatabaseAvailabilityGroup", Status=True)
        if "databases" in subsets:
            invoke("Get-MailboxDatabase", Status=True)
        if "copies" in subsets:
            invoke("Get-MailboxDatabaseCopyStatus")
        if "networks" in subsets:
            invoke("Get-DatabaseAvailabilityGroupNetwork")
        if "components" in subsets:
            for name in servers:
                invoke("Get-ServerComponentState", Identity=name)
        if "queues" in subsets:
            for name in servers:
                invoke("Get-Queue", Server=name)
    return sent


def lab_cpu_seconds(lab: Lab) -> float | None:
    """User + system CPU seconds of the lab process so far (Linux /proc), or None."""
    try:
        pid = json.loads((Path(lab.state_dir) / "lab.json").read_text())["pid"]
        fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, KeyError, ValueError, IndexError):
        return None


def measure(variants: list, rounds: int, lab: Lab, counter: HttpCounter) -> list:
    """Run each (label, call) ``rounds`` times, the variants in turn within a round (A B A B ...),
    so a change in the machine's load hits them alike; one row of medians per variant, with
    its per-round wall times kept for pairwise ratios."""
    samples = {label: {k: [] for k in ("times", "trips", "executions", "http", "sizes", "module", "cpu", "lab_cpu")}
               for label, _call in variants}
    for _round in range(rounds):
        for label, call in variants:
            got = samples[label]
            audit_start = len(lab.audit())
            requests_start, bytes_start = counter.snapshot()
            lab_start = lab_cpu_seconds(lab)
            cpu_start = time.process_time()
            started = time.perf_counter()
            trips_sent, module_elapsed = call()
            got["times"].append(time.perf_counter() - started)
            got["cpu"].append(time.process_time() - cpu_start)
            lab_end = lab_cpu_seconds(lab)
            if lab_start is not None and lab_end is not None:
                got["lab_cpu"].append(lab_end - lab_start)
            requests_end, bytes_end = counter.snapshot()
            entries = [a for a in lab.audit()[audit_start:] if a["cmdlet"] != "Select-Object"]
            got["trips"].append(trips_sent)
            got["executions"].append(len(entries))
            got["http"].append(requests_end - requests_start)  # the lab's admin API goes through urllib: not counted
            got["sizes"].append(bytes_end - bytes_start)
            if module_elapsed is not None:
                got["module"].append(module_elapsed)
    rows = []
    for label, _call in variants:
        got = samples[label]
        times = got["times"]
        rows.append({"label": label, "seconds": statistics.median(times), "min": min(times), "max": max(times),
                     "times": times, "round_trips": statistics.median(got["trips"]),
                     "executions": statistics.median(got["executions"]), "http": statistics.median(got["http"]),
                     "kib": statistics.median(got["sizes"]) / 1024,
                     "module_elapsed": statistics.median(got["module"]) if got["module"] else None,
                     "cpu": statistics.median(got["cpu"]),
                     "lab_cpu": statistics.median(got["lab_cpu"]) if got["lab_cpu"] else None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--topology", default="large")
    args = parser.parse_args()
    collection_on_path()
    counter = HttpCounter()
    rows = []
    with Lab(args.topology, speed=1000, latency_ms=args.latency_ms, process=True) as lab:
        ex01 = lab.host("EX01")
        connection = {"server": "127.0.0.1", "port": ex01["https_port"], "auth": "basic", "username": USER,
                      "password": PASSWORD, "ca_trust_path": lab.ca_file, "no_proxy": True}
        servers = sum(1 for h in lab.hosts if h["kind"] == "exchange")

        def module(subsets):
            def call():
                result = run_module(dict(connection, gather_subset=list(subsets)))
                return result["round_trips"], result["elapsed"]
            return call

        def unprojected(subsets):
            return lambda: (plain_pypsrp(lab, subsets), None)

        run_module(dict(connection, gather_subset=["servers"]))  # warm imports and the lab's caches
        rows.extend(measure([("exchange_info all", module(("all",))),
                             ("plain pypsrp, unprojected, all", unprojected(SUBSETS))], args.rounds, lab, counter))
        for subset in SUBSETS:
            rows.extend(measure([("exchange_info %s" % subset, module((subset,)))], args.rounds, lab, counter))

    print("\nexchange_info on the %s lab (%d Exchange servers), %d rounds, latency %d ms, median\n"
          % (args.topology, servers, args.rounds, args.latency_ms))
    columns = ("variant", "seconds", "round trips", "executions", "HTTP", "KiB recv", "module s", "ctrl CPU",
               "lab CPU")
    header = "%-34s %9s %11s %11s %9s %10s %10s %9s %9s" % columns
    print(header)
    print("-" * len(header))
    for row in rows:
        print("%-34s %9.3f %11d %11d %9d %10.0f %10s %9.3f %9s" % (
            row["label"], row["seconds"], row["round_trips"], row["executions"], row["http"], row["kib"],
            "%.3f" % row["module_elapsed"] if row["module_elapsed"] is not None else "-", row["cpu"],
            "%.3f" % row["lab_cpu"] if row["lab_cpu"] is not None else "-"))
    module_all, plain = rows[0], rows[1]
    pairs = [p / m for p, m in zip(plain["times"], module_all["times"])]
    print("\nspeed-up of exchange_info all over unprojected pypsrp: %.1fx (median of the %d round pairs; "
          "min %.1fx, max %.1fx; %.0f KiB vs %.0f KiB received)"
          % (statistics.median(pairs), len(pairs), min(pairs), max(pairs), module_all["kib"], plain["kib"]))
    over = [row["label"].split()[-1] for row in rows[2:] if row["round_trips"] > 3]
    print("subsets over 3 round trips: %s (queues: Get-Queue -Server per transport server, by Exchange's design)"
          % (", ".join(over) or "none"))
    print("goals: <= 3 round trips per subset, < 1.5 s module time for all, >= 3x faster than unprojected")


if __name__ == "__main__":
    main()
