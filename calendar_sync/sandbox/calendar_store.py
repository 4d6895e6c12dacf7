"""In-memory Google Calendar data for the sandbox: calendars, events, sync and push state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Calendar:
    """One calendar and the events it holds (including cancelled ones, kept for sync)."""

    id: str
    owner: str
    summary: str
    time_zone: str
    primary: bool
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


class CalendarStore:
    """All calendars of all sandbox accounts; safe to share between request threads."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._calendars: dict[str, Calendar] = {}
        self._by_account: dict[str, list[str]] = {}

    def create_primary(self, email: str, time_zone: str) -> None:
        """Give ``email`` its primary calendar, whose id is the address itself."""
        with self._lock:
            if email in self._calendars:
                return
            self._calendars[email] = Calendar(
                id=email, owner=email, summary=email, time_zone=time_zone, primary=True
            )
            self._by_account.setdefault(email, []).insert(0, email)

    def close(self) -> None:
        """Stop background work (push delivery)."""
