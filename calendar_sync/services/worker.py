"""Running the cycle again and again: the ``worker`` command and the demo's ticker.

One failing cycle never stops the loop: it is logged (by kind only, never with personal
data) and the next one runs at its time. Every step of a cycle is idempotent, so a cycle
cut short is simply finished by the next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from .cycle import run_cycle
from .runtime import Runtime

log = logging.getLogger(__name__)


def run_once(runtime: Runtime, *, now: Callable[[], datetime] | None = None) -> bool:
    """One cycle at the current time; False (logged) when it failed."""
    started = time.monotonic()
    try:
        report = run_cycle(runtime, now=(now or runtime.now)(), dry_run=False)
    except Exception as exc:  # the loop outlives any one cycle's failure
        log.error("cycle failed (%s); the next one runs on schedule", type(exc).__name__)
        return False
    # Entries name calendars and therapists by number only; their count is enough here.
    log.info(
        "cycle done: %d therapist(s), %d step(s) in %.1fs",
        report.therapists,
        len(report.entries),
        time.monotonic() - started,
    )
    return True


def run_forever(
    runtime: Runtime,
    interval: float,
    stop: threading.Event,
    *,
    now: Callable[[], datetime] | None = None,
) -> int:
    """Run a cycle every ``interval`` seconds until ``stop`` is set; returns cycles run.

    The interval is counted from the start of one cycle to the start of the next, so a
    slow cycle does not push the schedule back; a cycle longer than the interval is
    followed at once by the next.
    """
    cycles = 0
    while not stop.is_set():
        started = time.monotonic()
        run_once(runtime, now=now)
        cycles += 1
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
    return cycles


class Ticker:
    """:func:`run_forever` in a daemon thread, stopped with :meth:`stop`."""

    def __init__(self, runtime: Runtime, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_forever,
            args=(runtime, interval, self._stop),
            name="cycle-ticker",
            daemon=True,
        )

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout)
