# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads, writes and the run context of the database activation modules.

Internal to exchange.dr: no stable API, for the collection's own modules only.

Used by ``database_switchover``, ``dag_rebalance`` and ``database_copy``.  The reads reuse
``exchange.py``'s property tables (one round trip per kind of object; a database's copies in
one ``Get-MailboxDatabaseCopyStatus -Identity <DB>`` call); the decisions are
``switchover.py``'s; the waits are ``waiter.py``'s.  :class:`Run` carries what one module run
shares: the client, the check mode, the ordered ``actions`` sent (or planned), the progress
lines and the waits, and turns every failure into one ``fail_json`` with the partial result.
"""

from __future__ import annotations

import traceback

from ansible_collections.exchange.dr.plugins.module_utils import convert as c
from ansible_collections.exchange.dr.plugins.module_utils import exchange
from ansible_collections.exchange.dr.plugins.module_utils.errors import ExchangeCommandError, ExchangeError
from ansible_collections.exchange.dr.plugins.module_utils.psrp import Client, connection_argument_spec
from ansible_collections.exchange.dr.plugins.module_utils.switchover import SwitchoverError, same
from ansible_collections.exchange.dr.plugins.module_utils.waiter import WAIT_ARGSPEC, Progress, Waiter, WaitTimeout

NOT_FOUND = "ManagementObjectNotFoundException"

# Move-ActiveMailboxDatabase's result object, one per database (object-properties §9).
MOVE_RESULT = (
    ("Identity", "database", c.name),
    ("ActiveServerAtStart", "active_server_at_start", c.server_name),
    ("ActiveServerAtEnd", "active_server_at_end", c.server_name),
    ("Status", "status", c.enum),
    ("ErrorMessage", "error_message", c.text),
    ("MountStatusAtMoveStart", "mount_status_at_move_start", c.enum),
    ("MountStatusAtMoveEnd", "mount_status_at_move_end", c.enum),
    ("NumberOfLogsLost", "number_of_logs_lost", c.integer),
    ("RecoveryPointObjective", "recovery_point_objective", c.iso_datetime),
)


class TaskFailed(Exception):
    """The task ran and must be reported failed with its full result (for example a rebalance
    where some databases could not be moved while others were)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------- reads
def _spell(copies: list) -> list:
    """``active_server`` spelled like the copies' ``server`` (Exchange reports it lower case)."""
    spelling = {row["server"].lower(): row["server"] for row in copies if row.get("server")}
    for row in copies:
        if row.get("active_server"):
            row["active_server"] = spelling.get(row["active_server"].lower(), row["active_server"])
    return copies


def _one_or_none(client, kind: str, cmdlet: str, parameters: dict):
    """Rows of a Get-* call whose not-found error means "none" (other errors raise)."""
    rows, errors = client.invoke(cmdlet, parameters, select=exchange.select(kind), errors="return")
    for error in errors:
        if error.error_id != NOT_FOUND:
            raise error
    return [exchange.normalise(kind, row) for row in rows]


def read_database(client, name: str):
    """``Get-MailboxDatabase -Identity <name>`` (no ``-Status``: settings only), or None."""
    rows = _one_or_none(client, "databases", "Get-MailboxDatabase", {"Identity": name})
    return rows[0] if rows else None


def read_databases(client) -> list:
    return [exchange.normalise("databases", row)
            for row in client.invoke("Get-MailboxDatabase", None, select=exchange.select("databases"))]


def read_copies(client, database: str | None = None) -> list:
    """Every copy of ``database`` (``-Identity <DB>``), or of the organization."""
    if database is None:
        rows = client.invoke("Get-MailboxDatabaseCopyStatus", None, select=exchange.select("copies"))
        return _spell([exchange.normalise("copies", row) for row in rows])
    return _spell(_one_or_none(client, "copies", "Get-MailboxDatabaseCopyStatus", {"Identity": database}))


def read_active_copies(client) -> list:
    """The active copies of the organization (``-Active``), to count databases per server."""
    rows = client.invoke("Get-MailboxDatabaseCopyStatus", {"Active": None}, select=exchange.select("copies"))
    return _spell([exchange.normalise("copies", row) for row in rows])


def read_dags(client, name: str | None = None) -> list:
    if name is None:
        return exchange.read_dags(client)
    return _one_or_none(client, "dags", "Get-DatabaseAvailabilityGroup", {"Identity": name, "Status": None})


def read_servers(client) -> list:
    return exchange.read_servers(client)


def read_components(client, servers: list) -> tuple:
    """Component states of ``servers`` (rows of ``read_servers``) that have them (2013+)."""
    return exchange.read_components(client, servers)


def move_results(rows: list) -> list:
    return [{key: conv(row.get(prop)) for prop, key, conv in MOVE_RESULT} for row in rows]


# -------------------------------------------------------------------------- run context
class Run:
    """One module run: client, check mode, actions, progress and waits, and the result."""

    def __init__(self, module, client) -> None:
        self.module = module
        self.client = client
        self.check_mode = module.check_mode
        self.progress = Progress(module)
        try:
            self.waiter = Waiter(module.params["timeout"], module.params["poll_interval"], self.progress,
                                 self.check_mode)
        except ValueError as exc:
            raise SwitchoverError(str(exc), str(exc).split(" ", 1)[0]) from None
        self.actions: list = []
        self.result: dict = {"changed": False}

    def perform(self, action: dict, call, doing: str | None = None) -> tuple:
        """Record the state-changing ``action`` (``cmdlet``, ``target``, what was sent) in ``actions``
        and, outside check mode, do it: ``call()`` returns ``(output, errors)``.  The action's status
        is ``planned`` in check mode, else ``sent``, then ``done``, or ``failed`` when errors came back
        or ``call`` raised (the exception goes on).  ``doing`` is the progress line (default: the
        cmdlet and its target).  Returns ``(output, errors)``; ``([], [])`` in check mode."""
        doing = doing or "%s %s" % (action["cmdlet"], action["target"])
        action["status"] = "planned" if self.check_mode else "sent"
        self.actions.append(action)
        if self.check_mode:
            self.progress("check mode: would run %s" % doing)
            return [], []
        self.progress(doing)
        try:
            output, errors = call()
        except Exception:
            action["status"] = "failed"
            raise
        action["status"] = "failed" if errors else "done"
        return output, errors

    def send(self, cmdlet: str, parameters: dict, target: str, select: list | None = None) -> tuple:
        """Run a state-changing cmdlet (or only record it, in check mode).  Returns the output
        rows and the non-terminating errors; a terminating error raises (recorded as failed)."""
        return self.perform({"cmdlet": cmdlet, "target": target, "parameters": dict(parameters)},
                            lambda: self.client.invoke(cmdlet, parameters, select=select, errors="return"))

    def wait(self, predicate, what: str):
        return self.waiter.until(predicate, what)

    def finish(self, **values) -> dict:
        self.result.update(values)
        self.result.update(actions=self.actions, progress=self.progress.lines, polls=self.waiter.polls,
                           elapsed=self.progress.elapsed, round_trips=len(self.client.calls) if self.client else 0)
        return self.result


def argument_spec(*specs) -> dict:
    """The connection options, the wait options and ``specs`` (module options)."""
    spec = connection_argument_spec()
    spec.update({key: dict(value) for key, value in WAIT_ARGSPEC.items()})
    for extra in specs:
        spec.update({key: dict(value) for key, value in extra.items()})
    return spec


def execute(module, body) -> None:
    """Open the session, run ``body(run)`` (returns the result), and exit or fail the module.

    Failures are one line naming the option or the Exchange error: :class:`SwitchoverError`
    (a refused request), :class:`WaitTimeout`, Exchange errors and connection failures; the
    partial result (before, actions, progress) comes with them.
    """
    run = None
    client = None
    try:
        client = Client.from_module(module)
        run = Run(module, client)
        with client:
            result = body(run)
    except (SwitchoverError, TaskFailed) as exc:
        module.fail_json(msg=exc.message, **_partial(run, client))
    except WaitTimeout as exc:
        module.fail_json(msg=str(exc), **_partial(run, client))
    except ExchangeError as exc:
        extra = _partial(run, client)
        extra.update(exc.result())
        module.fail_json(msg=str(exc), **extra)
    except Exception as exc:  # an unexpected failure: keep the traceback for -vvv
        module.fail_json(msg="unexpected error: %s: %s" % (type(exc).__name__, exc), exception=traceback.format_exc(),
                         **_partial(run, client))
    for warning in client.warnings:
        module.warn(warning)
    module.exit_json(**result)


def _partial(run, client) -> dict:
    if run is None:
        return {"changed": False}
    result = run.finish()
    if client is not None:
        for warning in client.warnings:
            run.module.warn(warning)
    return result


def copy_status_text(row: dict | None, server: str) -> str:
    if row is None:
        return "no copy on %s" % server
    text = "%s %s" % (row.get("name") or server, row.get("status"))
    if row.get("active"):
        text += " (active)"
    return text


def mounted_on(client, database: str, server: str, accept=("Mounted",)):
    """A predicate: the copy of ``database`` on ``server`` is active with a status in ``accept``."""
    def predicate():
        copies = read_copies(client, database)
        row = next((r for r in copies if same(r.get("server"), server)), None)
        done = row is not None and row.get("active") is True and any(same(row.get("status"), s) for s in accept)
        return done, copy_status_text(row, server), copies
    return predicate


def raise_first(errors: list) -> None:
    if errors:
        first = errors[0]
        first.records = errors
        raise first


__all__ = ["ExchangeCommandError", "Run", "TaskFailed", "argument_spec", "execute", "mounted_on", "move_results", "raise_first",
           "read_active_copies", "read_components", "read_copies", "read_dags", "read_database", "read_databases",
           "read_servers"]
