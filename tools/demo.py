"""make demo: start the lab, talk to it with plain pypsrp, print the DAG, stop the lab.

This is what a user's script against a real Exchange org looks like: a WSMan
connection to https://<server>/PowerShell, the Microsoft.Exchange configuration,
cmdlets with typed parameters, and Select-Object to fetch only what is needed.
(A later issue replaces this with the switchover playbook run.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

USER = "CONTOSO\\administrator"
PASSWORD = "Passw0rd!"  # the lab's documented demo credential


def lab_cli(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "exchange_lab", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def invoke(pool: RunspacePool, cmdlet: str, params: dict, select: list[str]) -> list[dict]:
    ps = PowerShell(pool)
    ps.add_cmdlet(cmdlet)
    for name, value in params.items():
        if value is None:
            ps.add_parameter(name)
        else:
            ps.add_parameter(name, value)
    ps.add_cmdlet("Select-Object").add_parameter("Property", select)
    output = ps.invoke()
    if ps.had_errors or ps.streams.error:
        raise RuntimeError(f"{cmdlet} failed: {ps.streams.error[0]}")
    ps.close()
    rows = []
    for obj in output:
        row = dict(obj.adapted_properties or {})
        row.update(obj.extended_properties or {})
        rows.append(row)
    return rows


def names(value) -> str:
    """A property value as text.  Exchange sends MultiValuedProperty collections under
    their own type name; pypsrp keeps their items as a raw <LST> fragment."""
    if value is None:
        return "-"
    for raw in getattr(value, "property_sets", None) or []:
        if isinstance(raw, str) and raw.startswith("<LST"):
            value = [item.text or "" for item in ET.fromstring(raw)]
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def main() -> int:
    state_dir = Path(tempfile.mkdtemp(prefix="exchange-dr-demo-"))
    print("Starting the lab (topology two-datacenters) ...")
    t0 = time.monotonic()
    info = lab_cli("start", "--topology", "two-datacenters", "--state-dir", str(state_dir), "--speed", "100")
    try:
        ex01 = next(h for h in info["hosts"] if h["name"] == "EX01")
        print(f"  {len(info['hosts'])} hosts up in {time.monotonic() - t0:.1f} s; "
              f"connecting to https://{ex01['fqdn']}/PowerShell (127.0.0.1:{ex01['https_port']}) as {USER}\n")
        wsman = WSMan("127.0.0.1", port=ex01["https_port"], path="PowerShell", ssl=True, auth="basic",
                      username=USER, password=PASSWORD, cert_validation=info["ca_file"], no_proxy=True)
        with RunspacePool(wsman, configuration_name="Microsoft.Exchange") as pool:
            dags = invoke(pool, "Get-DatabaseAvailabilityGroup", {"Status": None},
                          ["Name", "Servers", "OperationalServers", "PrimaryActiveManager", "WitnessServer",
                           "AlternateWitnessServer", "WitnessShareInUse", "DatacenterActivationMode",
                           "StartedMailboxServers", "StoppedMailboxServers"])
            servers = invoke(pool, "Get-ExchangeServer", {}, ["Name", "Site", "AdminDisplayVersion"])
            copies = invoke(pool, "Get-MailboxDatabaseCopyStatus", {},
                            ["DatabaseName", "MailboxServer", "Status", "ActiveCopy", "CopyQueueLength",
                             "ReplayQueueLength", "ContentIndexState"])
        for dag in dags:
            print(f"DAG {dag['Name']}  (DatacenterActivationMode {dag['DatacenterActivationMode']})")
            for key in ("Servers", "OperationalServers", "PrimaryActiveManager", "WitnessServer",
                        "AlternateWitnessServer", "WitnessShareInUse", "StartedMailboxServers", "StoppedMailboxServers"):
                print(f"  {key:<24}{names(dag.get(key))}")
        print()
        order = [s["Name"] for s in servers]
        site = {s["Name"]: str(s["Site"]).rsplit("/", 1)[-1] for s in servers}
        by_db: dict[str, dict[str, dict]] = {}
        for c in copies:
            by_db.setdefault(c["DatabaseName"], {})[c["MailboxServer"].upper()] = c
        width = 22
        print("Database  " + "".join(f"{s} ({site[s]})".ljust(width) for s in order))
        for db in sorted(by_db):
            cells = []
            for s in order:
                c = by_db[db].get(s.upper())
                if c is None:
                    cells.append("".ljust(width))
                    continue
                role = "ACTIVE" if c["ActiveCopy"] else "passive"
                cells.append(f"{role} {c['Status']} {c['CopyQueueLength']}/{c['ReplayQueueLength']}".ljust(width))
            print(f"{db:<10}" + "".join(cells))
        print("\n(cell: role, copy status, copy queue/replay queue)")
    finally:
        lab_cli("stop", "--state-dir", str(state_dir))
        print("Lab stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
