"""Benchmark: the copy status of every copy of the `large` lab (16 servers, 1,600 copies).

Opens one pool on EX01, then runs `Get-MailboxDatabaseCopyStatus -Server EXnn` for
every server, once returning whole objects and once projected server-side with
`Select-Object` of 6 properties.  Reports HTTP round trips, bytes received and
seconds for each variant (median of --rounds).  Not part of `make test`:

    make bench            # or: .venv/bin/python bench/copy_status_bench.py --rounds 5 --latency-ms 0
"""

from __future__ import annotations

import argparse
import statistics
import time

import requests
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from exchange_lab import Lab

SELECT = ["DatabaseName", "MailboxServer", "Status", "CopyQueueLength", "ReplayQueueLength", "ContentIndexState"]


class Counter:
    """Counts HTTP requests and response bytes of every requests.Session in this process."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        self._orig = requests.Session.send

        counter = self

        def send(session, request, **kw):  # type: ignore[no-untyped-def]
            resp = counter._orig(session, request, **kw)
            counter.requests += 1
            counter.bytes += len(resp.content or b"")
            return resp

        requests.Session.send = send  # type: ignore[method-assign]

    def snapshot(self) -> tuple[int, int]:
        return self.requests, self.bytes


def query_all(pool: RunspacePool, servers: list[str], select: list[str] | None) -> int:
    copies = 0
    for server in servers:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-MailboxDatabaseCopyStatus").add_parameter("Server", server)
        if select:
            ps.add_cmdlet("Select-Object").add_parameter("Property", select)
        out = ps.invoke()
        if ps.had_errors or ps.streams.error:
            raise RuntimeError(str(ps.streams.error[0]))
        ps.close()
        copies += len(out)
    return copies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--latency-ms", type=int, default=0)
    args = ap.parse_args()
    counter = Counter()
    with Lab("large", speed=1000, latency_ms=args.latency_ms, process=True) as lab:
        ex01 = lab.host("EX01")
        servers = sorted(h["name"] for h in lab.hosts if h["kind"] == "exchange")
        w = WSMan("127.0.0.1", port=ex01["http_port"], path="PowerShell", ssl=False, auth="basic", encryption="never",
                  username="CONTOSO\\administrator", password="Passw0rd!", no_proxy=True)
        t0 = time.perf_counter()
        with RunspacePool(w, configuration_name="Microsoft.Exchange") as pool:
            open_s = time.perf_counter() - t0
            print(f"pool open: {open_s * 1000:.1f} ms")
            for label, select in (("full objects", None), ("Select-Object 6 properties", SELECT)):
                times, trips, sizes = [], [], []
                for _round in range(args.rounds):
                    r0, b0 = counter.snapshot()
                    t = time.perf_counter()
                    n = query_all(pool, servers, select)
                    times.append(time.perf_counter() - t)
                    r1, b1 = counter.snapshot()
                    trips.append(r1 - r0)
                    sizes.append(b1 - b0)
                print(
                    f"{label:<28} copies={n}  round trips={statistics.median(trips):.0f}  "
                    f"bytes={statistics.median(sizes) / 1024:.0f} KiB  seconds: median {statistics.median(times):.3f} "
                    f"(min {min(times):.3f}, max {max(times):.3f}) over {args.rounds} rounds"
                )


if __name__ == "__main__":
    main()
