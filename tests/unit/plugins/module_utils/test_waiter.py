"""waiter.py: bounded polling with a fake clock (no real sleeping)."""

from __future__ import annotations

import pytest

from ansible_collections.exchange.dr.plugins.module_utils.errors import ConnectionFailure
from ansible_collections.exchange.dr.plugins.module_utils.waiter import (
    Progress, Waiter, WaitTimeout, check_bounds, wait_until)


class Clock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def sequence(*answers):
    """A predicate answering ``answers`` in turn (an exception instance is raised)."""
    items = list(answers)

    def predicate():
        answer = items.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    return predicate


def test_done_at_once_costs_one_poll_and_no_sleep():
    clock, lines = Clock(), []
    result = wait_until(sequence((True, "Mounted", 42)), 60, 5, lines.append, "DB01 mounted", clock, clock.sleep)
    assert (result.value, result.polls, result.elapsed, result.detail) == (42, 1, 0.0, "Mounted")
    assert clock.sleeps == [] and lines == ["DB01 mounted: Mounted (poll 1, 0.0 s)"]


def test_polls_every_interval_until_done():
    clock = Clock()
    result = wait_until(sequence((False, "Mounting", None), (False, "Mounting", None), (True, "Mounted", 1)),
                        60, 5, None, "x", clock, clock.sleep)
    assert result.polls == 3 and clock.sleeps == [5, 5] and result.elapsed == 10.0


def test_timeout_is_bounded_and_reports_the_last_state():
    clock = Clock()
    with pytest.raises(WaitTimeout) as err:
        wait_until(sequence(*[(False, "Initializing", None)] * 10), 12, 5, None, "DB04\\EX03 Healthy", clock, clock.sleep)
    assert clock.sleeps == [5, 5, 2]  # never sleeps past the timeout
    assert err.value.polls == 4 and err.value.elapsed == 12.0
    assert err.value.message == ("timed out after 12.0 s (timeout 12 s, 4 polls) waiting for DB04\\EX03 Healthy; last "
                                 "seen: Initializing - raise timeout, or check the state and run again (the module "
                                 "resumes from it)")


def test_timeout_zero_polls_once():
    clock = Clock()
    with pytest.raises(WaitTimeout) as err:
        wait_until(sequence((False, "Mounting", None)), 0, 5, None, "x", clock, clock.sleep)
    assert err.value.polls == 1 and clock.sleeps == []


def test_one_connection_drop_is_survived():
    clock, lines = Clock(), []
    drop = ConnectionFailure("nothing listens on 127.0.0.1:1", server="127.0.0.1", port=1)
    result = wait_until(sequence(drop, (True, "Mounted", 7)), 60, 1, lines.append, "x", clock, clock.sleep)
    assert result.value == 7 and result.polls == 2
    assert "connection lost (nothing listens on 127.0.0.1:1), retrying" in lines[0]


def test_two_connection_drops_in_a_row_fail():
    clock = Clock()
    drop = ConnectionFailure("gone")
    with pytest.raises(ConnectionFailure):
        wait_until(sequence(drop, drop, (True, "x", None)), 60, 1, None, "x", clock, clock.sleep)
    drops = sequence(drop, (False, "a", None), drop, (True, "b", 3))
    assert wait_until(drops, 60, 1, None, "x", clock, clock.sleep).value == 3  # not in a row


@pytest.mark.parametrize("timeout, interval, fragment", [(-1, 5, "timeout"), (None, 5, "timeout"), (10, 0, "poll_interval"),
                                                         (10, -2, "poll_interval"), (10, None, "poll_interval")])
def test_bounds(timeout, interval, fragment):
    with pytest.raises(ValueError) as err:
        check_bounds(timeout, interval)
    assert str(err.value).startswith(fragment)


def test_progress_lines_and_module_log():
    clock = Clock()
    logged = []

    class Module:
        def log(self, text):
            logged.append(text)

    progress = Progress(Module(), clock)
    clock.now += 1.25
    progress("Move-ActiveMailboxDatabase DB01")
    assert progress.lines == ["[1.2s] Move-ActiveMailboxDatabase DB01"]
    assert logged == ["exchange.dr: [1.2s] Move-ActiveMailboxDatabase DB01"]
    assert progress.elapsed == 1.25


def test_waiter_shares_the_timeout_and_counts_polls():
    clock = Clock()
    waiter = Waiter(10, 4, Progress(clock=clock), clock=clock, sleep=clock.sleep)
    assert waiter.until(sequence((False, "a", None), (True, "b", 1)), "first").polls == 2
    assert waiter.remaining() == 6
    with pytest.raises(WaitTimeout) as err:
        waiter.until(sequence(*[(False, "c", None)] * 5), "second")
    assert err.value.timeout == 10 and err.value.elapsed == 10.0
    assert "timeout 10 s" in err.value.message and waiter.polls == 5


def test_waiter_in_check_mode_does_not_poll():
    clock = Clock()
    waiter = Waiter(10, 4, Progress(clock=clock), check_mode=True, clock=clock, sleep=clock.sleep)

    def never():
        raise AssertionError("polled in check mode")
    result = waiter.until(never, "DB01 mounted")
    assert result.polls == 0 and waiter.polls == 0
    assert waiter.progress.lines == ["[0.0s] check mode: would wait for DB01 mounted"]
