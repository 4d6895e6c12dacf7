"""Sync tokens and page tokens of ``events.list``, kept on the server side.

Tokens are opaque random strings; what they stand for lives here. That makes a garbled or
foreign token indistinguishable from an expired one, and Google answers both with
410 ``fullSyncRequired``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import GoogleError

# How long a sync token stays usable on the sandbox clock. Google does not publish a
# figure; tokens are known to expire after weeks, so clients must always handle 410.
SYNC_TOKEN_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class SyncPoint:
    """What a sync token means: changes in ``calendar_id`` after change number ``seq``."""

    calendar_id: str
    seq: int
    issued_at: datetime


@dataclass(frozen=True)
class PageState:
    """A listing in progress: its items are fixed at the first page, like a snapshot."""

    calendar_id: str
    items: tuple[dict, ...]
    offset: int
    snapshot_seq: int


class TokenBook:
    """Issues and resolves tokens; the caller holds the store's lock."""

    def __init__(self) -> None:
        self._sync: dict[str, SyncPoint] = {}
        self._pages: dict[str, PageState] = {}

    def issue_sync(self, calendar_id: str, seq: int, now: datetime) -> str:
        token = "C" + secrets.token_urlsafe(24)
        self._sync[token] = SyncPoint(calendar_id, seq, now)
        return token

    def resolve_sync(self, token: str, calendar_id: str, now: datetime) -> int:
        """The change number the token stands for.

        :raises GoogleError: 410 ``fullSyncRequired`` for unknown, foreign, invalidated or
            expired tokens.
        """
        point = self._sync.get(token)
        if (
            point is None
            or point.calendar_id != calendar_id
            or now - point.issued_at > SYNC_TOKEN_RETENTION
        ):
            raise GoogleError(
                410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
            )
        return point.seq

    def invalidate(self, calendar_id: str) -> int:
        """Forget every sync token of a calendar; returns how many there were."""
        doomed = [t for t, p in self._sync.items() if p.calendar_id == calendar_id]
        for token in doomed:
            del self._sync[token]
        return len(doomed)

    def save_page(self, state: PageState) -> str:
        token = secrets.token_urlsafe(24)
        self._pages[token] = state
        return token

    def page(self, token: str, calendar_id: str) -> PageState:
        """:raises GoogleError: 400 ``invalid`` for a page token this calendar never issued."""
        state = self._pages.get(token)
        if state is None or state.calendar_id != calendar_id:
            raise GoogleError(400, "invalid", "Invalid page token value.")
        return state
