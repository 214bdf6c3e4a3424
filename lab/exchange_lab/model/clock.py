"""The lab's simulated clock.

Lab time starts at the wall-clock time of :meth:`LabState.load` and advances in real time
multiplied by ``speed``.  Operations that take time in Exchange (mounting a database, a
switchover, pausing a cluster node) call :meth:`Clock.sleep` with a *modelled* duration
(see ``model.durations``); the real sleep is ``modelled / speed``.

:meth:`Clock.stop` wakes every sleeper at once (server shutdown); a sleeper can also pass
a ``stopping`` callable (e.g. ``inv.stopping``) that is polled while it waits, so a
pipeline stop interrupts a long operation.
"""

from __future__ import annotations

import datetime
import threading
import time
from typing import Callable

# Longest real wait between two polls of a ``stopping`` callable.
_POLL_S = 0.05


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        speed = float(speed)
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        self.speed = speed
        self._start = datetime.datetime.now(datetime.timezone.utc)
        self._mono0 = time.monotonic()
        self._stop = threading.Event()

    def now(self) -> datetime.datetime:
        """Lab time: an aware UTC datetime."""
        return self._start + datetime.timedelta(seconds=(time.monotonic() - self._mono0) * self.speed)

    def elapsed(self) -> float:
        """Modelled seconds since the clock started."""
        return (time.monotonic() - self._mono0) * self.speed

    def real_seconds(self, modelled_s: float) -> float:
        return max(0.0, float(modelled_s)) / self.speed

    def sleep(self, modelled_s: float, stopping: Callable[[], bool] | None = None) -> bool:
        """Wait ``modelled_s`` lab seconds.  Returns ``True`` when the full time passed,
        ``False`` when :meth:`stop` was called or ``stopping()`` became true."""
        deadline = time.monotonic() + self.real_seconds(modelled_s)
        while True:
            if stopping is not None and stopping():
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            step = remaining if stopping is None else min(remaining, _POLL_S)
            if self._stop.wait(step):
                return False

    def stop(self) -> None:
        """Interrupt every current and future sleep (server shutdown)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def restart(self) -> None:
        """Allow sleeping again after :meth:`stop` (used by ``LabState.reset``)."""
        self._stop.clear()
