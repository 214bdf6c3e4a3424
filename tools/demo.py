"""make demo: a datacenter switchover and failback (runbooks §5) against the lab.

1. Start the lab (topology two-datacenters: DAG1 over AD sites DC1 and DC2, DAC mode) and write its
   Ansible inventory with `exchange-lab inventory`.
2. Pre-stage what runbooks §13 and a typical DR design ask for before any switchover: the client
   namespaces (mail, autodiscover) get a short TTL, and the DR servers EX03 and EX04 are blocked from
   automatic activation (so the switchover activates databases there with explicit targets).
3. Fail site DC1 through the lab's control API (fault site_down: EX01, EX02, DC01 and the witness FS01
   go down; DAG1 loses quorum).
4. Run playbooks/datacenter_switchover.yml, with the inventory and no extra variable.
5. Repair DC1 (clear the faults) and run playbooks/datacenter_failback.yml the same way.
6. Print where each database was active before, during and after, the DNS records, the logs lost and
   the lab-clock time of each phase (from the lab's audit log), then stop the lab.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SPEED = 200
TTL = 3  # seconds: the pre-staged TTL of the namespaces, waited out (real time) at each DNS move
NAMESPACES = ("mail", "autodiscover")
DR_SERVERS = ["EX03", "EX04"]

PREP = [{
    "name": "Pre-stage the switchover (runbooks §13; DR servers blocked by design)",
    "hosts": "localhost",
    "gather_facts": False,
    "tasks": [
        {"name": "Short TTL on the client namespaces",
         "module_defaults": {"group/exchange.dr.exchange": "{{ hostvars['DC02'].exchange_dr_windows_connection }}"},
         "exchange.dr.dns_record": {"zone": "contoso.com", "name": list(NAMESPACES), "ttl": TTL}},
        {"name": "Block automatic activation on the DR servers",
         "module_defaults": {"group/exchange.dr.exchange": "{{ hostvars['EX03'].exchange_dr_connection }}"},
         "exchange.dr.site_activation": {"dag": "DAG1", "active_directory_site": "DC2",
                                         "auto_activation_policy": "Blocked", "mailbox_servers": DR_SERVERS}},
    ],
}]

# Phases of each playbook (runbooks §5), recognised by the state-changing cmdlets they send.
SWITCHOVER_PHASES = (
    ("terminate the primary datacenter (§5.2 steps 1-2)", ("Stop-DatabaseAvailabilityGroup",)),
    ("activate the Mailbox servers of DC2 (§5.2 steps 3-5)", ("Set-MailboxServer", "Stop-Service",
                                                              "Restore-DatabaseAvailabilityGroup",
                                                              "Move-ActiveMailboxDatabase", "Mount-Database")),
    ("activate client access in DC2 (§5.4)", ("Set-DnsServerResourceRecord", "Add-DnsServerResourceRecordA",
                                              "Remove-DnsServerResourceRecord")),
)
FAILBACK_PHASES = (
    ("re-incorporate the DC1 members (§5.5 step 1)",
     ("Start-DatabaseAvailabilityGroup", "Set-DatabaseAvailabilityGroup")),
    ("catch up, reseed where needed (§5.5 step 2)", ("Suspend-MailboxDatabaseCopy", "Update-MailboxDatabaseCopy")),
    ("dismount in DC2 (§5.5 step 3b)", ("Dismount-Database",)),
    ("move client access back (§5.5 step 3c)", ("Set-DnsServerResourceRecord", "Add-DnsServerResourceRecordA",
                                                "Remove-DnsServerResourceRecord")),
    ("activate and mount in DC1 (§5.5 steps 3d-3e)", ("Move-ActiveMailboxDatabase", "Mount-Database")),
    ("re-apply activation blocks (§5.5 step 5)", ("Set-MailboxServer",)),
)


def lab_cli(*args: str, parse: bool = True):
    out = subprocess.run([sys.executable, "-m", "exchange_lab", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout) if parse else out.stdout


def when(entry: dict) -> tuple:
    """(start, end) of an audit entry on the lab clock; ``lab_time`` is written when the cmdlet ends."""
    end = datetime.datetime.fromisoformat(entry["lab_time"])
    return end - datetime.timedelta(seconds=entry["duration_ms"] / 1000 * SPEED), end


def span(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return "%d min %02d s" % (minutes, secs) if minutes else "%d s" % secs


def phases(entries: list, table: tuple) -> list:
    """Each phase with its cmdlets and the lab-clock time from the start of its first write to the end
    of its last one (the reads and real-time waits after it are not counted)."""
    result = []
    for name, cmdlets in table:
        mine = [e for e in entries if e["cmdlet"] in cmdlets]
        if not mine:
            result.append((name, None, "nothing to do"))
            continue
        counts = {}
        for e in mine:
            counts[e["cmdlet"]] = counts.get(e["cmdlet"], 0) + 1
        seconds = (when(mine[-1])[1] - when(mine[0])[0]).total_seconds()
        result.append((name, seconds, ", ".join("%s x%d" % kv for kv in counts.items())))
    return result


def placement(state: dict) -> dict:
    return {d["name"]: d["active_server"] + ("" if d["mount_state"] == "Mounted" else "*") for d in state["databases"]}


def records(state: dict) -> dict:
    zone = state["dns"]["zones"][0]
    return {n: sorted((r["data"], r["ttl"]) for r in zone["records"] if r["name"] == n and r["type"] == "A")
            for n in NAMESPACES}


def run_playbook(env: dict, inventory: Path, playbook: str) -> tuple:
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), playbook], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost ")]
    if proc.returncode != 0:
        print(proc.stdout[-6000:] + proc.stderr[-2000:])
        raise SystemExit("%s failed (exit status %d)" % (playbook, proc.returncode))
    return elapsed, " ".join(recap[-1].split()[2:6]) if recap else ""


def print_phases(title: str, entries: list, table: tuple, wall: float, recap: str) -> None:
    print("\n%s: %s, %.1f s wall clock" % (title, recap, wall))
    total = (when(entries[-1])[1] - when(entries[0])[0]).total_seconds() if entries else 0.0
    for name, seconds, detail in phases(entries, table):
        print("  %-55s %12s   %s" % (name, span(seconds) if seconds is not None else "-", detail))
    print("  %-55s %12s   (also Ansible's own time and the %d s TTL wait: real time, which the lab clock runs x%d)"
          % ("whole run, lab clock", span(total), TTL, SPEED))


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="exchange-dr-demo-"))
    state_dir = work / "lab"
    collections = work / "collections" / "ansible_collections" / "exchange"
    collections.mkdir(parents=True)
    (collections / "dr").symlink_to(REPO)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(work / "collections"), ANSIBLE_HOME=str(work / "ansible-home"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
    print("exchange.dr demo: datacenter switchover and failback of DAG1 (runbooks §5) against the lab\n")
    t0 = time.monotonic()
    info = lab_cli("start", "--topology", "two-datacenters", "--state-dir", str(state_dir), "--speed", str(SPEED))
    try:
        print("Lab started: %d hosts in %.1f s, clock x%d" % (len(info["hosts"]), time.monotonic() - t0, SPEED))
        inventory = work / "inventory.yml"
        inventory.write_text(lab_cli("inventory", "--state-dir", str(state_dir), parse=False))
        print("Inventory: %s (exchange-lab inventory)" % inventory)

        (work / "prepare.yml").write_text(yaml.safe_dump(PREP, sort_keys=False))
        run_playbook(env, inventory, str(work / "prepare.yml"))
        print("Pre-staged: TTL %d s on %s.contoso.com; %s blocked from automatic activation"
              % (TTL, " and ".join(NAMESPACES), ", ".join(DR_SERVERS)))
        snapshots = {"before": lab_cli("state", "--state-dir", str(state_dir))}

        lab_cli("fault", "inject", "site_down", "--target", "DC1", "--state-dir", str(state_dir))
        snapshots["outage"] = lab_cli("state", "--state-dir", str(state_dir))
        down = [h["name"] for h in snapshots["outage"]["hosts"] if not h.get("up", True)]
        print("Site DC1 failed (site_down): %s down; DAG1 operational servers: none" % ", ".join(down))

        mark = len(lab_cli("audit", "--state-dir", str(state_dir)))
        wall, recap = run_playbook(env, inventory, "playbooks/datacenter_switchover.yml")
        audit = lab_cli("audit", "--state-dir", str(state_dir))
        print_phases("playbooks/datacenter_switchover.yml", audit[mark:], SWITCHOVER_PHASES, wall, recap)
        snapshots["switchover"] = lab_cli("state", "--state-dir", str(state_dir))

        lab_cli("fault", "clear", "--state-dir", str(state_dir))
        print("\nSite DC1 repaired (faults cleared): its servers are back, stopped and evicted from the DAG's cluster")

        mark = len(audit)
        wall, recap = run_playbook(env, inventory, "playbooks/datacenter_failback.yml")
        audit = lab_cli("audit", "--state-dir", str(state_dir))
        print_phases("playbooks/datacenter_failback.yml", audit[mark:], FAILBACK_PHASES, wall, recap)
        snapshots["failback"] = lab_cli("state", "--state-dir", str(state_dir))

        columns = ("before", "outage", "switchover", "failback")
        where = {c: placement(snapshots[c]) for c in columns}
        print("\nWhere each database was active (* = not mounted)")
        print("  %-9s" % "database" + "".join("%-12s" % c for c in ("before", "DC1 down", "switchover", "failback")))
        for db in sorted(where["before"]):
            print("  %-9s" % db + "".join("%-12s" % where[c][db] for c in columns))
        print("\nClient namespaces (address, TTL s)")
        for name in NAMESPACES:
            for c in ("before", "switchover", "failback"):
                shown = ", ".join("%s (%d)" % r for r in records(snapshots[c])[name])
                print("  %-26s %-11s %s" % ("%s.contoso.com" % name, c, shown))
        dag = snapshots["switchover"]["dags"][0]
        print("\nAfter the switchover: StoppedMailboxServers %s, witness in use %s"
              % (", ".join(dag["stopped_mailbox_servers"]), dag.get("witness_in_use", "?")))
        final = snapshots["failback"]["dags"][0]
        print("After the failback:   StoppedMailboxServers %s, witness in use %s"
              % (", ".join(final["stopped_mailbox_servers"]) or "none", final.get("witness_in_use", "?")))
        lost = sum(d["logs_lost"] for d in snapshots["failback"]["data_loss"])
        print("Logs lost: %d (%d lossy activation(s) recorded by the lab)" % (lost, len(snapshots["failback"]["data_loss"])))
    finally:
        lab_cli("stop", "--state-dir", str(state_dir))
        print("\nLab stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
