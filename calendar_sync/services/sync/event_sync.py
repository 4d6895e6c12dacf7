"""Keeping the stored events of every selected calendar in step with Google.

The first sync of a calendar lists a bounded window (:data:`PAST_WINDOW` back,
:data:`FUTURE_WINDOW` ahead) with series expanded into instances, and keeps the
``nextSyncToken``; later syncs ask only for changes since that token. A 410 drops the token
and lists the window again: events are upserted by (calendar, event id), so nothing is
duplicated, and stored events the window no longer holds are marked cancelled. A server
that gives no sync token gets the window listed at every sync.

:func:`sync_all` is what the cycle runs: calendars whose last sync is older than
``POLL_INTERVAL_SECONDS``, or that a push notification asked for, are synced, and push
channels are kept open. A failing therapist or calendar never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...google import GoogleApiError, ReauthorizationNeeded, SyncTokenExpired
from ...google.client import GoogleApis
from ...google.events import Listing, list_events
from ...storage import Database, hold_therapist
from ...storage.models import CalendarRow, GoogleConnection
from ..accounts.connections import ConnectionStatus
from ..accounts.settings import session_rules
from ..runtime import Runtime
from ..schedule import mark_changed, peek, set_calendar_list_read
from .calendar_list import refresh_calendar_list
from .channels import maintain_channels, next_channel_moment, plan_channels, poll_interval
from .event_store import apply_events, load_context, mark_missing

log = logging.getLogger(__name__)

# Sessions older than this no longer need following up (the policy's longest step is weeks,
# a fee dispute months); newer ones and a year ahead cover reschedules and series.
PAST_WINDOW = timedelta(days=120)
FUTURE_WINDOW = timedelta(days=365)
# The calendar list changes when a calendar is added, shared or removed: rare, and never
# urgent (a new calendar shows on the dashboard within this long, to be selected there).
CALENDAR_LIST_INTERVAL = timedelta(hours=6)

# One sync at a time per calendar in this process (the push worker and a cycle may meet).
_calendar_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class SyncResult:
    """What one calendar's sync did."""

    calendar_row_id: int
    full: bool
    upserted: int
    cancelled: int
    token_expired: bool = False
    error: str | None = None
    #: Events Google sent that could not be read or stored, each skipped on its own.
    skipped: int = 0

    def line(self) -> str:
        if self.error:
            return f"calendar {self.calendar_row_id}: not synced ({self.error})"
        kind = "full sync" if self.full else "incremental sync"
        if self.token_expired:
            kind = "full sync (sync token expired)"
        line = (
            f"calendar {self.calendar_row_id}: {kind}, "
            f"{self.upserted} event(s) updated, {self.cancelled} cancelled"
        )
        return line + (f", {self.skipped} skipped (unreadable)" if self.skipped else "")


def sync_window(now: datetime) -> tuple[datetime, datetime]:
    return now - PAST_WINDOW, now + FUTURE_WINDOW


def _lock_for(calendar_row_id: int) -> threading.Lock:
    with _locks_guard:
        return _calendar_locks.setdefault(calendar_row_id, threading.Lock())


def sync_calendar(
    database: Database,
    apis: GoogleApis,
    calendar_row_id: int,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """Sync one calendar (row id) as of ``now``.

    :raises GoogleApiError: when Google fails (after retries); nothing is written then.
    :raises ReauthorizationNeeded: the grant is gone.
    """
    with _lock_for(calendar_row_id):
        with database.transaction() as db:
            calendar = db.get(CalendarRow, calendar_row_id)
            if calendar is None:
                raise LookupError("no such calendar")
            google_id, token = calendar.google_calendar_id, calendar.sync_token
        window = sync_window(now)
        listing: Listing | None = None
        expired = False
        if token is not None:
            try:
                listing = list_events(apis.calendar, google_id, sync_token=token, sleep=sleep)
            except SyncTokenExpired:
                expired = True
        if listing is None:
            listing = list_events(
                apis.calendar, google_id, time_min=window[0], time_max=window[1], sleep=sleep
            )
        full = token is None or expired
        with database.transaction() as db:
            calendar = db.get(CalendarRow, calendar_row_id)
            if calendar is None:
                raise LookupError("no such calendar")
            # Another process may be applying the same changes: wait for it, then update the
            # rows it added instead of adding them again (the lock in this process does not
            # reach a worker next door).
            hold_therapist(db, calendar.therapist_id)
            db.refresh(calendar)
            context = load_context(db, calendar, session_rules(db, calendar.therapist_id))
            applied = apply_events(db, calendar, listing.events, context, now, window)
            cancelled = applied.cancelled
            if full:
                listed = {e.event_id for e in listing.events if not e.cancelled}
                cancelled += mark_missing(db, calendar, listed, window, now)
                calendar.last_full_sync_at = now
            # None when the server keeps no tokens: the next sync lists the window again.
            calendar.sync_token = listing.next_sync_token
            calendar.last_sync_at = now
            calendar.last_error = None
            calendar.last_error_at = None
            if listing.time_zone:
                calendar.time_zone = listing.time_zone
            if calendar.sync_requested_at is not None and calendar.sync_requested_at <= now:
                calendar.sync_requested_at = None
            if applied.upserted or cancelled:
                # The follow-up and the open proposals look again at the next run.
                mark_changed(db, calendar.therapist_id)
        for reason in listing.skipped:
            # The field and the problem only: values may be titles or addresses.
            log.warning("calendar %s: an event was skipped: %s", calendar_row_id, reason)
        skipped = len(listing.skipped) + applied.failed
        return SyncResult(
            calendar_row_id, full, applied.upserted, cancelled, expired, skipped=skipped
        )


def error_words(exc: Exception) -> str:
    """What went wrong, in plain words for the dashboard; never personal data."""
    if isinstance(exc, GoogleApiError):
        if exc.status == 0:
            return "Google could not be reached; the next cycle tries again."
        if exc.retryable:
            return "Google asked us to slow down; the next cycle tries again."
        if exc.status == 404:
            return "This calendar is no longer available to the service."
        if exc.status in (401, 403):
            return "Google refused access to this calendar."
        return f"Google answered with an error ({exc.status} {exc.reason}); will try again."
    return "The sync failed unexpectedly; the next cycle tries again."


def record_error(database: Database, calendar_row_id: int, exc: Exception, now: datetime) -> str:
    words = error_words(exc)
    with database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_row_id)
        if calendar is not None:
            calendar.last_error = words
            calendar.last_error_at = now
    status = getattr(exc, "status", "-")
    reason = getattr(exc, "reason", "-")
    # Only the class and Google's codes: messages may quote addresses or titles.
    log.warning(
        "calendar %s: sync failed: %s %s %s", calendar_row_id, type(exc).__name__, status, reason
    )
    return words


def sync_calendar_safely(
    database: Database,
    apis: GoogleApis,
    calendar_row_id: int,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """:func:`sync_calendar`, with any failure but lost access recorded on the calendar.

    :raises ReauthorizationNeeded: the grant is gone (the caller pauses the therapist).
    """
    try:
        return sync_calendar(database, apis, calendar_row_id, now, sleep=sleep)
    except ReauthorizationNeeded:
        raise
    except Exception as exc:  # one calendar's failure must not stop the others
        return SyncResult(
            calendar_row_id, False, 0, 0, error=record_error(database, calendar_row_id, exc, now)
        )


def _due(calendar: CalendarRow, now: datetime, config: Any) -> bool:
    interval = poll_interval(calendar, config, now)
    return calendar.last_sync_at is None or calendar.last_sync_at <= now - interval


def _list_due(known: list[CalendarRow], read_at: datetime | None, now: datetime) -> bool:
    """The calendar list is read when nothing is known yet, else every few hours.

    A calendar Google no longer serves also gets the list read (see ``sync_therapist``).
    """
    return not known or read_at is None or read_at <= now - CALENDAR_LIST_INTERVAL


def next_moment(db: DbSession, config: Any, therapist_id: int, now: datetime) -> datetime | None:
    """When the therapist's sync next has something to do: a poll, the list, a channel."""
    calendars = list(
        db.scalars(select(CalendarRow).where(CalendarRow.therapist_id == therapist_id))
    )
    read_at = peek(db, therapist_id).calendar_list_read_at
    moments = [now if not calendars or read_at is None else read_at + CALENDAR_LIST_INTERVAL]
    for calendar in calendars:
        if not calendar.selected or calendar.gone_at is not None:
            continue
        if calendar.sync_requested_at is not None or calendar.last_sync_at is None:
            moments.append(now)
        else:
            moments.append(calendar.last_sync_at + poll_interval(calendar, config, now))
    channel = next_channel_moment(db, config, therapist_id, now)
    if channel is not None:
        moments.append(channel)
    return min(moments)


def _not_found(calendar: CalendarRow) -> bool:
    """The last sync found the calendar gone: the list says whether it was removed."""
    return calendar.last_error == error_words(GoogleApiError(404, "notFound", ""))


def sync_all(
    runtime: Runtime,
    *,
    now: datetime,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Sync every connected therapist's due calendars and keep their channels; report lines.

    With ``dry_run`` nothing is called or written: the lines say what would be done.
    """
    database: Database = runtime.database
    with database.transaction() as db:
        therapist_ids = list(
            db.scalars(
                select(GoogleConnection.therapist_id)
                .where(GoogleConnection.status == ConnectionStatus.ACTIVE)
                .order_by(GoogleConnection.therapist_id)
            )
        )
    lines: list[str] = []
    for therapist_id in therapist_ids:
        lines.extend(sync_one(runtime, therapist_id, now=now, dry_run=dry_run, sleep=sleep))
    return lines


def sync_one(
    runtime: Runtime,
    therapist_id: int,
    *,
    now: datetime,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """One therapist's sync, whatever fails: a lost grant pauses them, an error is recorded."""
    database: Database = runtime.database
    try:
        return sync_therapist(runtime, therapist_id, now=now, dry_run=dry_run, sleep=sleep)
    except ReauthorizationNeeded:
        runtime.connections.mark_needs_reauth(
            therapist_id,
            "Google no longer accepts this connection. Please connect again; "
            "nothing has been lost.",
        )
        return [f"therapist {therapist_id}: paused until Google access is renewed"]
    except Exception as exc:  # one therapist's failure must not stop the others
        log.error("therapist %s: sync failed: %s", therapist_id, type(exc).__name__)
        with database.transaction() as db:
            for calendar in _selected(db, therapist_id):
                calendar.last_error = error_words(exc)
                calendar.last_error_at = now
        return [f"therapist {therapist_id}: not synced ({error_words(exc)})"]


def _selected(db: DbSession, therapist_id: int) -> list[CalendarRow]:
    return list(
        db.scalars(
            select(CalendarRow)
            .where(
                CalendarRow.therapist_id == therapist_id,
                CalendarRow.selected.is_(True),
                CalendarRow.gone_at.is_(None),
            )
            .order_by(CalendarRow.id)
        )
    )


def sync_therapist(
    runtime: Runtime,
    therapist_id: int,
    *,
    now: datetime,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """One therapist's share of a cycle: calendar list, due calendars, push channels.

    :raises ReauthorizationNeeded: the grant is gone.
    """

    database: Database = runtime.database
    config = runtime.config
    with database.transaction() as db:
        known = list(
            db.scalars(select(CalendarRow).where(CalendarRow.therapist_id == therapist_id))
        )
        gone_missing = any(c.selected and c.gone_at is None and _not_found(c) for c in known)
        read_at = peek(db, therapist_id).calendar_list_read_at
        list_due = gone_missing or _list_due(known, read_at, now)
    prefix = f"therapist {therapist_id}"
    if dry_run:
        lines = [f"{prefix}: would refresh the calendar list"] if list_due else []
        with database.transaction() as db:
            for calendar in _selected(db, therapist_id):
                if calendar.sync_requested_at is not None:
                    lines.append(f"{prefix}: would sync calendar {calendar.id} (push request)")
                elif _due(calendar, now, config):
                    lines.append(f"{prefix}: would sync calendar {calendar.id} (poll)")
        lines.extend(plan_channels(runtime, therapist_id, now))
        return lines
    keeper = runtime.connections
    apis: GoogleApis = keeper.apis(therapist_id, now)
    lines = []
    if list_due:
        try:
            count = refresh_calendar_list(
                database, apis, therapist_id, keeper.granted_scopes(therapist_id), now, sleep=sleep
            )
            lines.append(f"{prefix}: {count} calendar(s) on the list")
            with database.transaction() as db:
                set_calendar_list_read(db, therapist_id, now)
        except GoogleApiError as exc:
            log.warning("therapist %s: calendar list failed: %s", therapist_id, exc.reason)
            lines.append(f"{prefix}: calendar list not refreshed ({error_words(exc)})")
    with database.transaction() as db:
        due = [
            c.id
            for c in _selected(db, therapist_id)
            if c.sync_requested_at is not None or _due(c, now, config)
        ]
    for calendar_id in due:
        result = sync_calendar_safely(database, apis, calendar_id, now, sleep=sleep)
        lines.append(f"{prefix}: {result.line()}")
    lines.extend(maintain_channels(runtime, apis, therapist_id, now, sleep=sleep))
    return lines
