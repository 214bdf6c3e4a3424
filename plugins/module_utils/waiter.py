# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded polling for long Exchange operations, with progress lines.

Internal to exchange.dr: no stable API, for the collection's own modules only.

A predicate reads live state through the module's ``Client`` and says whether the wait is
over: ``predicate() -> (done, detail, value)``.  :func:`wait_until` calls it at once, then
every ``interval`` seconds until it is done or ``timeout`` seconds have passed (then
:class:`WaitTimeout`).  A connection that drops while polling is retried ``retries`` times in
a row before the failure is raised.  Each poll writes one progress line; :class:`Progress`
keeps the lines for the module result (``progress``, shown with ``-v``) and sends them to
``module.log``.  In check mode :class:`Waiter` does not poll at all.

``WAIT_ARGSPEC`` mirrors ``plugins/doc_fragments/switchover.py`` (WAIT): change both together.
"""

from __future__ import annotations

import time

from ansible_collections.exchange.dr.plugins.module_utils.errors import ConnectionFailure

# Mirrors plugins/doc_fragments/switchover.py (WAIT): keep in step.
WAIT_ARGSPEC = {
    "timeout": {"type": "int", "default": 300},
    "poll_interval": {"type": "float", "default": 5.0},
}


class WaitTimeout(Exception):
    """The predicate was not satisfied within the timeout."""

    def __init__(self, what: str, timeout: float, elapsed: float, polls: int, detail: str | None) -> None:
        self.what = what
        self.timeout = timeout
        self.elapsed = elapsed
        self.polls = polls
        self.detail = detail
        message = "timed out after %.1f s (timeout %s s, %d polls) waiting for %s" % (elapsed, _number(timeout), polls, what)
        if detail:
            message += "; last seen: %s" % detail
        self.message = message + " - raise timeout, or check the state and run again (the module resumes from it)"
        super().__init__(self.message)


class WaitResult:
    """How a wait ended: ``value`` of the last poll, ``polls``, ``elapsed`` seconds."""

    __slots__ = ("value", "detail", "polls", "elapsed")

    def __init__(self, value, detail, polls: int, elapsed: float) -> None:
        self.value = value
        self.detail = detail
        self.polls = polls
        self.elapsed = elapsed


def _number(value) -> str:
    return ("%d" % value) if float(value).is_integer() else ("%s" % value)


def check_bounds(timeout, interval) -> None:
    """Refuse a negative timeout or an interval that is not positive (names the options)."""
    if timeout is None or timeout < 0:
        raise ValueError("timeout must be 0 or more seconds, got %r" % (timeout,))
    if interval is None or interval <= 0:
        raise ValueError("poll_interval must be more than 0 seconds, got %r" % (interval,))


class Progress:
    """Timestamped progress lines: kept in ``lines`` for the result and sent to ``module.log``."""

    def __init__(self, module=None, clock=time.monotonic) -> None:
        self.module = module
        self.clock = clock
        self.started = clock()
        self.lines: list[str] = []

    @property
    def elapsed(self) -> float:
        return round(self.clock() - self.started, 3)

    def __call__(self, message: str) -> None:
        line = "[%.1fs] %s" % (self.clock() - self.started, message)
        self.lines.append(line)
        if self.module is not None:
            self.module.log("exchange.dr: %s" % line)


def wait_until(predicate, timeout: float, interval: float, on_progress=None, what: str = "the operation",
               clock=time.monotonic, sleep=time.sleep, retries: int = 1) -> WaitResult:
    """Poll ``predicate`` until it reports done; at most ``timeout`` seconds, ``interval`` apart.

    ``predicate()`` returns ``(done, detail, value)``; ``detail`` is a short text of what was
    seen (for progress lines and the timeout message).  ``on_progress(line)`` receives one line
    per poll.  Returns a :class:`WaitResult`; raises :class:`WaitTimeout`.  The first poll is
    immediate, so an operation already finished costs one poll and no sleep.
    """
    check_bounds(timeout, interval)
    started = clock()
    polls = 0
    failures = 0
    detail = None
    while True:
        polls += 1
        try:
            done, detail, value = predicate()
        except ConnectionFailure as exc:
            failures += 1
            if failures > retries:
                raise
            detail = "connection lost (%s), retrying" % exc
            done, value = False, None
        else:
            failures = 0
        elapsed = clock() - started
        if on_progress is not None:
            on_progress("%s: %s (poll %d, %.1f s)" % (what, detail, polls, elapsed))
        if done:
            return WaitResult(value, detail, polls, round(elapsed, 3))
        if elapsed >= timeout:
            raise WaitTimeout(what, timeout, round(elapsed, 3), polls, detail)
        sleep(min(interval, max(timeout - elapsed, 0.0)))


class Waiter:
    """The waits of one module run: bounds from the module options, progress lines shared,
    polls counted; in check mode every wait returns at once without polling."""

    def __init__(self, timeout: float, interval: float, progress: Progress | None = None, check_mode: bool = False,
                 clock=time.monotonic, sleep=time.sleep) -> None:
        check_bounds(timeout, interval)
        self.timeout = timeout
        self.interval = interval
        self.progress = progress or Progress(clock=clock)
        self.check_mode = check_mode
        self.clock = clock
        self.sleep = sleep
        self.polls = 0
        self.started = clock()

    def remaining(self) -> float:
        """Seconds left of the module's timeout (shared by every wait of the run)."""
        return max(self.timeout - (self.clock() - self.started), 0.0)

    def until(self, predicate, what: str) -> WaitResult:
        if self.check_mode:
            self.progress("check mode: would wait for %s" % what)
            return WaitResult(None, "check mode", 0, 0.0)
        try:
            result = wait_until(predicate, self.remaining(), self.interval, self.progress, what, self.clock, self.sleep)
        except WaitTimeout as exc:
            self.polls += exc.polls
            raise WaitTimeout(what, self.timeout, round(self.clock() - self.started, 3), exc.polls, exc.detail) from None
        self.polls += result.polls
        return result
