"""A coalescing in-process queue: a burst of push notifications becomes one sync.

Google may send many notifications for one change (and one per change in a busy calendar),
and anyone who captured one can replay it. A job already waiting absorbs new requests for
the same key, so at most one run is waiting and one running per calendar; and runs of one
key start at least :data:`SPACING` apart, so requests that come just after a run (while it
runs, or a replay after it) wait together for one more run at the end of the window. A
request is never dropped, only joined to the next run. The queue lives in memory: what it
holds is also written to the database (``calendars.sync_requested_at``), so the polling
cycle picks requests up if the process dies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)

Handler = Callable[[Hashable], None]

#: Seconds between the starts of two runs of one key: short enough that a change is in the
#: store within seconds, long enough that a flood of notifications costs one call per window.
SPACING = 5.0


def _unset(key: Hashable) -> None:
    raise RuntimeError("the sync queue has no handler yet (create_app sets it)")


class CoalescingQueue:
    """Pending keys in arrival order, worked off by one daemon thread started on first use."""

    def __init__(self, handler: Handler = _unset, spacing: float = SPACING) -> None:
        #: What runs each key; ``create_app`` sets it once the runtime it needs exists.
        self.handler = handler
        self.spacing = spacing
        self._lock = threading.Condition()
        self._pending: dict[Hashable, None] = {}
        # When each key's latest run started (time.monotonic()), within the last window.
        self._started: dict[Hashable, float] = {}
        self._running: Hashable | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def request(self, key: Hashable) -> bool:
        """Ask for a run for ``key``; False (and nothing queued) when one is already waiting."""
        with self._lock:
            if self._closed or key in self._pending:
                return False
            self._pending[key] = None
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="calendar-sync-queue", daemon=True
                )
                self._thread.start()
            self._lock.notify_all()
            return True

    def pending(self) -> list[Hashable]:
        with self._lock:
            return list(self._pending)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is waiting or running; False on timeout."""
        with self._lock:
            return self._lock.wait_for(
                lambda: not self._pending and self._running is None, timeout=timeout
            )

    def close(self) -> None:
        """Finish the job in hand, drop the rest, and let the worker end."""
        with self._lock:
            self._closed = True
            self._pending.clear()
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    def _next(self) -> Hashable | None:
        """The first waiting key whose window is over; waits (lock held) until there is one.

        None once the queue is closed.
        """
        while not self._closed:
            now = time.monotonic()
            self._started = {k: t for k, t in self._started.items() if now < t + self.spacing}
            ready = next((k for k in self._pending if k not in self._started), None)
            if ready is not None:
                return ready
            if not self._pending:
                self._lock.wait()
            else:
                opens = min(self._started[k] for k in self._pending) + self.spacing
                self._lock.wait(timeout=max(0.0, opens - now))
        return None

    def _work(self) -> None:
        while True:
            with self._lock:
                key = self._next()
                if key is None:
                    return
                del self._pending[key]
                self._running = key
                self._started[key] = time.monotonic()
            try:
                self.handler(key)
            except Exception as exc:  # the worker must outlive any one job
                log.error("queued job failed: %s", type(exc).__name__)
            finally:
                with self._lock:
                    self._running = None
                    self._lock.notify_all()
