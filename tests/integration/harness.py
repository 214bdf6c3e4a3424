"""What the integration tests share: the collection reached through a temporary
``ansible_collections/exchange/dr`` symlink, a lab with the inventory ``exchange-lab inventory`` prints,
ansible-playbook runs that return the lab's audit slice, and a plain pypsrp client for read-backs.

A test file starts its lab(s) once (``with lab_env(tmp, "two-datacenters") as env:`` in a module fixture),
then runs plays with ``run_play(env, tasks, ...)`` (tasks only: each registers ``r<i>``) or whole playbooks
with ``run_playbook(env, path_or_plays, ...)``, and asserts on the results, on ``writes(run, ...)`` (the
audit entries that are not reads) and on the lab's state.  ``env`` is a dict: ``lab``, ``tmp`` (the work
directory, cwd of every run), ``inventory`` (path) and ``env`` (the process environment of ansible).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from exchange_lab import Lab

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "Passw0rd!"  # the lab's documented demo credential
ADMIN = "CONTOSO\\administrator"
SNAPIN = "Microsoft.Exchange.Management.PowerShell.Admin"  # the Exchange 2007 management snap-in
READS = ("Get-", "Select-Object", "Add-PSSnapin")
SPEED = 200  # the lab's clock: a 30 s switchover takes 0.15 s


# ------------------------------------------------------------------------------------ set-up
def collection_env(tmp: Path, home: str = "ansible-home", **extra: str) -> dict:
    """The environment of an ansible process that finds this repository as the collection exchange.dr
    (``tmp/collections/ansible_collections/exchange/dr`` -> the repository, made once)."""
    collections = tmp / "collections"
    link = collections / "ansible_collections" / "exchange" / "dr"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO)
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_HOME=str(tmp / home),
                ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0", **extra)


def lab_inventory(lab: Lab, path: Path) -> Path:
    """Write the inventory ``exchange-lab inventory`` prints for ``lab`` to ``path``."""
    text = subprocess.run([sys.executable, "-m", "exchange_lab", "inventory", "--state-dir", str(lab.state_dir)],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    path.write_text(text)
    return path


def harness_env(tmp: Path, lab: Lab, home: str = "ansible-home", inventory: str | None = "inventory.yml",
                **extra: str) -> dict:
    """The ``env`` of a started lab: the collection symlink, the process environment and (unless
    ``inventory`` is None) the lab's inventory in ``tmp``."""
    return {"lab": lab, "tmp": tmp, "env": collection_env(tmp, home, **extra),
            "inventory": lab_inventory(lab, tmp / inventory) if inventory else None}


@contextlib.contextmanager
def lab_env(tmp: Path, topology: str, speed: float = SPEED, **options) -> Iterator[dict]:
    """Start a lab of ``topology`` for the ``with`` block and yield its ``env`` (see harness_env;
    the keyword options ``home``, ``inventory`` and ANSIBLE_* variables go there)."""
    with Lab(topology, speed=speed) as lab:
        yield harness_env(tmp, lab, **options)


def lab_fixture(topology: str, **options):
    """A module-scoped fixture: one lab of ``topology`` for the test file, its ``env`` (see lab_env) in a
    work directory named after the file.  Use as ``env = lab_fixture("two-datacenters")``."""
    @pytest.fixture(scope="module")
    def fixture(request, tmp_path_factory):
        with lab_env(tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]), topology,
                     **options) as env:
            yield env
    return fixture


# ------------------------------------------------------------------------------------- runs
def ansible(env: dict, tool: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``tool`` (ansible-playbook, ansible-inventory, ...) of the venv, in ``env["tmp"]``; not checked."""
    return subprocess.run([str(BIN / tool), *args], cwd=env["tmp"], env=env["env"], capture_output=True, text=True,
                          timeout=timeout, check=False)


def recap_changed(stdout: str, host: str = "localhost") -> int:
    """The ``changed=`` count of ``host`` in the play recap (-1 without a recap line)."""
    recap = next((line for line in reversed(stdout.splitlines()) if line.startswith(host + " ")), "")
    counts = dict(item.split("=") for item in recap.split()[2:]) if recap else {}
    return int(counts.get("changed", -1))


def run_playbook(env: dict, playbook, *args: str, inventory=None, name: str = "play",
                 timeout: int = 300) -> dict:
    """ansible-playbook on ``playbook`` (a path, or plays written to ``tmp/<name>.yml``) with the lab's
    inventory.  Returns ``rc``, ``output`` (stdout + stderr), ``stdout``, ``changed`` (recap count of
    localhost), ``audit`` (the lab's audit entries the run caused) and ``state`` (the lab's state after)."""
    lab, tmp = env["lab"], env["tmp"]
    if not isinstance(playbook, (str, Path)):
        path = tmp / ("%s.yml" % name)
        path.write_text(yaml.safe_dump(playbook, sort_keys=False))
        playbook = path
    start = len(lab.audit())
    proc = ansible(env, "ansible-playbook", "-i", str(inventory or env["inventory"]), str(playbook), *args,
                   timeout=timeout)
    return {"rc": proc.returncode, "output": proc.stdout + proc.stderr, "stdout": proc.stdout,
            "changed": recap_changed(proc.stdout), "audit": lab.audit()[start:], "state": lab.state()}


def run_play(env: dict, tasks: list, *args: str, module_defaults=None, hosts: str = "localhost",
             name: str = "play", ignore_errors: bool = True, require_success: bool = False,
             inventory=None, timeout: int = 300) -> dict:
    """Run ``tasks`` as one play on ``hosts``: each task registers ``r<i>`` unless it names its own
    ``register`` (and is named ``t<i>`` unless named), failures are ignored unless ``ignore_errors`` is
    false; the registered values are written to ``tmp/<name>.json`` by a last task.  ``module_defaults``
    is the connection of the group exchange.dr.exchange (a string or dict) or a whole module_defaults
    mapping (when its keys are action or group names).  ``require_success``: the run must exit 0.
    ``inventory``: another inventory than the lab's (a path or an inventory string like ``localhost,``).

    Returns what run_playbook returns plus ``results`` (the registered values, in task order) and
    ``registered`` (the same by register name)."""
    body, names = [], []
    for index, task in enumerate(tasks):
        item = dict(task)
        item.setdefault("name", "t%d" % index)
        item.setdefault("register", "r%d" % index)
        if ignore_errors:
            item["ignore_errors"] = True
        names.append(item["register"])
        body.append(item)
    out = env["tmp"] / ("%s.json" % name)
    with contextlib.suppress(FileNotFoundError):
        out.unlink()
    body.append({"name": "write the registered results", "check_mode": False, "ansible.builtin.copy": {
        "dest": str(out), "mode": "0600",
        "content": "{{ {%s} | to_json }}" % ", ".join("'%s': %s | default(None)" % (n, n) for n in names)}})
    play = {"name": name, "hosts": hosts, "gather_facts": False}
    if module_defaults is not None:
        if not isinstance(module_defaults, dict) or not all("." in key for key in module_defaults):
            module_defaults = {"group/exchange.dr.exchange": module_defaults}
        play["module_defaults"] = module_defaults
    run = run_playbook(env, [dict(play, tasks=body)], *args, inventory=inventory, name=name, timeout=timeout)
    if require_success:
        assert run["rc"] == 0, run["output"]
    assert out.exists(), run["output"]
    registered = json.loads(out.read_text())
    out.unlink()
    run.update(registered=registered, results=[registered[n] for n in names])
    return run


# ------------------------------------------------------------------------------ audit log
def is_read(entry: dict, reads: tuple = READS) -> bool:
    """An audit entry that changes nothing: a cmdlet starting with one of ``reads`` or ``dnscmd /EnumRecords``."""
    if entry["cmdlet"].startswith(reads):
        return True
    args = entry["parameters"].get("Arguments") or [""]
    return entry["cmdlet"] == "dnscmd.exe" and str(args[0]).lower() == "/enumrecords"


def writes(run, *fields: str, reads: tuple = READS) -> list:
    """The audit entries of ``run`` (a run_play/run_playbook result, or an audit list) that are not reads.
    With ``fields``, each entry as the tuple of those fields (one field: the value itself); the field
    ``status`` is "ok" or "failed" from the entry's outcome."""
    audit = run["audit"] if isinstance(run, dict) else run
    entries = [e for e in audit if not is_read(e, reads)]
    if not fields:
        return entries

    def field(entry, key):
        if key == "status":
            return "ok" if entry["outcome"] == "ok" else "failed"
        return entry[key]
    if len(fields) == 1:
        return [field(e, fields[0]) for e in entries]
    return [tuple(field(e, key) for key in fields) for e in entries]


# ------------------------------------------------------------------------------ collection files
def role_defaults_and_spec(role: str) -> tuple:
    """A role's defaults/main.yml and the options of meta/argument_specs.yml (entry point main)."""
    root = REPO / "roles" / role
    defaults = yaml.safe_load((root / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((root / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    return defaults, spec


# ------------------------------------------------------------------------ plain pypsrp client
@contextlib.contextmanager
def session(lab: Lab, host: str, configuration: str = "Microsoft.PowerShell", snapin: bool = False,
            **wsman_options) -> Iterator[RunspacePool]:
    """A runspace pool on ``host``'s ``configuration`` endpoint as the lab's administrator, through an
    unmodified pypsrp client (with the Exchange 2007 snap-in loaded if asked)."""
    wsman = WSMan("127.0.0.1", port=lab.host(host)["https_port"], ssl=True, cert_validation=lab.ca_file,
                  auth="basic", username=ADMIN, password=PASSWORD, no_proxy=True, **wsman_options)
    with RunspacePool(wsman, configuration_name=configuration) as pool:
        if snapin:
            PowerShell(pool).add_cmdlet("Add-PSSnapin").add_parameter("Name", SNAPIN).invoke()
        yield pool


def invoke(pool: RunspacePool, cmdlet: str, params: dict | None = None) -> list:
    """One cmdlet with ``params`` in ``pool``; it must not write an error.  Returns the output objects."""
    shell = PowerShell(pool).add_cmdlet(cmdlet)
    for key, value in (params or {}).items():
        shell.add_parameter(key, value)
    output = shell.invoke()
    assert not shell.had_errors, [str(e) for e in shell.streams.error]
    return output


def ps(lab: Lab, host: str, cmdlet: str, params: dict | None = None, **options) -> list:
    """One cmdlet in a new session (see ``session`` for the options); returns the output objects."""
    with session(lab, host, **options) as pool:
        return invoke(pool, cmdlet, params)


def properties(obj) -> dict:
    """A deserialized object's properties, adapted and extended, as one dict."""
    return {**obj.adapted_properties, **obj.extended_properties}


def wait_for(predicate, seconds: float = 10.0) -> None:
    """Poll ``predicate`` every 0.1 s until it holds; fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the lab did not reach the expected state"
        time.sleep(0.1)
