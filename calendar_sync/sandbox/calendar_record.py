"""One sandbox calendar as the store keeps it: its attributes and its events.

Apart from the store so that the listing and free/busy code can name it without importing
the store that uses them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_REMINDERS = [{"method": "popup", "minutes": 10}]


@dataclass
class Calendar:
    """One calendar and the events it holds (including cancelled ones, kept for sync)."""

    id: str
    owner: str
    summary: str
    time_zone: str
    primary: bool
    created: datetime
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Change number of each event's last change, and the order events were first stored.
    seq_of: dict[str, int] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    # Other accounts the owner shared the calendar with (a practice's shared calendar).
    shared_with: set[str] = field(default_factory=set)

    def can_use(self, account: str) -> bool:
        return account == self.owner or account in self.shared_with

    def list_entry(self, account: str | None = None) -> dict:
        """The calendar as ``calendarList`` shows it to ``account`` (by default its owner)."""
        shared = account is not None and account != self.owner
        entry = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{int(self.created.timestamp() * 1000)}"',
            "id": self.id,
            "summary": self.summary,
            "timeZone": self.time_zone,
            "accessRole": "writer" if shared else "owner",
            "defaultReminders": copy.deepcopy(DEFAULT_REMINDERS),
            "selected": True,
        }
        if self.primary and not shared:
            entry["primary"] = True
        return entry
