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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...google import GoogleApiError, ReauthorizationNeeded, SyncTokenExpired
from ...google.client import GoogleApis
from ...google.events import PAGE_SIZE, list_event_pages
from ...storage import Database, hold_therapist
from ...storage.leases import claim_calendar, release_calendar, worker_name
from ...storage.models import CalendarRow, GoogleConnection
from ..accounts.connections import ConnectionStatus
from ..accounts.settings import session_rules
from ..runtime import Runtime, wall_clock
from .calendar_list import refresh_calendar_list
from .channels import maintain_channels, plan_channels
from .event_store import apply_events, load_context, mark_missing

log = logging.getLogger(__name__)

# Sessions older than this no longer need following up (the policy's longest step is weeks,
# a fee dispute months); newer ones and a year ahead cover reschedules and series.
PAST_WINDOW = timedelta(days=120)
FUTURE_WINDOW = timedelta(days=365)

# Events per page of a cycle's listings: Google's maximum, so the fewest calls (tests make
# it small to see many pages).
LISTING_PAGE_SIZE = PAGE_SIZE

# One sync at a time per calendar in this process (the push worker and a cycle may meet):
# the second waits. Across processes a lease does it: the second leaves the work to the first.
_calendar_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()
# Longer than a first sync of a big calendar takes; a dead worker's claim is gone after it.
SYNC_LEASE = timedelta(minutes=5)


class SyncInProgress(Exception):
    """Another process is syncing this calendar now; its sync stands for ours."""


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
    #: Another process was syncing the calendar: nothing was done here.
    busy: bool = False

    def line(self) -> str:
        if self.busy:
            return f"calendar {self.calendar_row_id}: being synced by another worker"
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


@dataclass
class _Listing:
    """Where one calendar's listing stands: what it asks Google, and what it has done."""

    started_at: datetime
    #: The window of a full listing; None for the changes since ``sync_token``.
    window: tuple[datetime, datetime] | None
    sync_token: str | None
    page_token: str | None = None
    expired: bool = False
    resumed: bool = False
    upserted: int = 0
    cancelled: int = 0
    skipped: int = 0


def _begin(calendar: CalendarRow, now: datetime) -> _Listing:
    """The listing under way (stored), or a new one: changes since the token, else in full."""
    if calendar.listing_started_at is not None and calendar.listing_page_token is not None:
        window = None
        if calendar.listing_window_start is not None and calendar.listing_window_end is not None:
            window = (calendar.listing_window_start, calendar.listing_window_end)
        return _Listing(
            calendar.listing_started_at,
            window,
            None if window else calendar.sync_token,
            calendar.listing_page_token,
            resumed=True,
        )
    if calendar.sync_token is not None:
        return _Listing(now, None, calendar.sync_token)
    return _Listing(now, sync_window(now), None)


def _stands(calendar: CalendarRow, listing: _Listing, page_token: str | None) -> bool:
    """Whether the stored state is still the one this page was asked for.

    Another process may have taken the same listing further (or finished it) meanwhile:
    its work stands, and this page is not applied a second time.
    """
    if page_token is None:
        return calendar.listing_started_at is None and calendar.sync_token == listing.sync_token
    return (
        calendar.listing_started_at == listing.started_at
        and calendar.listing_page_token == page_token
    )


@contextmanager
def _one_sync_anywhere(
    database: Database, calendar_row_id: int, clock: Callable[[], datetime]
) -> Iterator[None]:
    with _lock_for(calendar_row_id):
        holder = worker_name()
        if not claim_calendar(database, calendar_row_id, holder, clock(), SYNC_LEASE):
            raise SyncInProgress
        try:
            yield
        finally:
            release_calendar(database, calendar_row_id, holder)


def sync_calendar(
    database: Database,
    apis: GoogleApis,
    calendar_row_id: int,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
    page_size: int = PAGE_SIZE,
    clock: Callable[[], datetime] = wall_clock,
) -> SyncResult:
    """Sync one calendar (row id) as of ``now``, page by page (``page_size`` events each);
    ``clock`` (the wall clock) times the calendar's lease.

    Each page is parsed, applied and committed with where the listing stands, so memory
    holds one page and a listing cut short (a failure, a stopped process) resumes at its
    next page in the next sync. A full listing marks what it did not return as cancelled
    only once its last page is in. A sync token Google no longer accepts (410) starts a full
    listing; a stored page token it no longer knows (400) starts the listing again.

    :raises GoogleApiError: when Google fails (after retries); the pages already stored stay.
    :raises ReauthorizationNeeded: the grant is gone.
    :raises SyncInProgress: another process is syncing the calendar.
    """
    with _one_sync_anywhere(database, calendar_row_id, clock):
        with database.transaction() as db:
            calendar = db.get(CalendarRow, calendar_row_id)
            if calendar is None:
                raise LookupError("no such calendar")
            google_id, zone = calendar.google_calendar_id, calendar.time_zone
            listing = _begin(calendar, now)
        restarted = False
        while True:
            try:
                outcome = _run_listing(
                    database, apis, calendar_row_id, google_id, zone, listing, now, sleep, page_size
                )
                break
            except SyncTokenExpired:
                # Only a listing of changes has a token to lose: list the window in full.
                with database.transaction() as db:
                    calendar = db.get(CalendarRow, calendar_row_id)
                    if calendar is None:
                        raise LookupError("no such calendar") from None
                    if calendar.sync_token == listing.sync_token:
                        calendar.sync_token = None
                        _forget_listing(calendar)
                listing = _Listing(now, sync_window(now), None, expired=True)
            except GoogleApiError as exc:
                if not (listing.resumed and exc.status == 400 and not restarted):
                    raise
                # The page token of an interrupted listing is no longer known: start again.
                restarted = True
                with database.transaction() as db:
                    calendar = db.get(CalendarRow, calendar_row_id)
                    if calendar is None:
                        raise LookupError("no such calendar") from None
                    _forget_listing(calendar)
                    listing = _begin(calendar, now)
        return outcome


def _forget_listing(calendar: CalendarRow) -> None:
    calendar.listing_started_at = None
    calendar.listing_page_token = None
    calendar.listing_window_start = None
    calendar.listing_window_end = None


def _run_listing(
    database: Database,
    apis: GoogleApis,
    calendar_row_id: int,
    google_id: str,
    zone: str,
    listing: _Listing,
    now: datetime,
    sleep: Callable[[float], None],
    page_size: int,
) -> SyncResult:
    full = listing.window is not None
    window = listing.window or sync_window(now)
    pages = list_event_pages(
        apis.calendar,
        google_id,
        sync_token=listing.sync_token,
        time_min=window[0] if full else None,
        time_max=window[1] if full else None,
        page_token=listing.page_token,
        time_zone=zone if listing.resumed else None,
        sleep=sleep,
        page_size=page_size,
    )
    for page in pages:
        asked_with, listing.page_token = listing.page_token, page.next_page_token
        for reason in page.skipped:
            # The field and the problem only: values may be titles or addresses.
            log.warning("calendar %s: an event was skipped: %s", calendar_row_id, reason)
        listing.skipped += len(page.skipped)
        with database.transaction() as db:
            calendar = db.get(CalendarRow, calendar_row_id)
            if calendar is None:
                raise LookupError("no such calendar")
            # Another process may be applying the same listing: wait for it, then see
            # whether it took the listing past this page (the lock in this process does not
            # reach a worker next door).
            hold_therapist(db, calendar.therapist_id)
            db.refresh(calendar)
            if not _stands(calendar, listing, asked_with):
                return SyncResult(calendar_row_id, full, listing.upserted, listing.cancelled)
            context = load_context(db, calendar, session_rules(db, calendar.therapist_id))
            applied = apply_events(
                db,
                calendar,
                page.events,
                context,
                now,
                window,
                listed_at=listing.started_at if full else None,
            )
            listing.upserted += applied.upserted
            listing.cancelled += applied.cancelled
            listing.skipped += applied.failed
            if page.time_zone:
                calendar.time_zone = page.time_zone
            if page.next_page_token is not None:
                calendar.listing_started_at = listing.started_at
                calendar.listing_page_token = page.next_page_token
                calendar.listing_window_start = window[0] if full else None
                calendar.listing_window_end = window[1] if full else None
                if full:
                    calendar.sync_token = None  # whatever it was, a full listing replaces it
                continue
            if full:
                listing.cancelled += mark_missing(db, calendar, listing.started_at, window, now)
                calendar.last_full_sync_at = now
            _forget_listing(calendar)
            # None when the server keeps no tokens: the next sync lists the window again.
            calendar.sync_token = page.next_sync_token
            calendar.last_sync_at = now
            calendar.last_error = None
            calendar.last_error_at = None
            if calendar.sync_requested_at is not None and calendar.sync_requested_at <= now:
                calendar.sync_requested_at = None
    return SyncResult(
        calendar_row_id,
        full,
        listing.upserted,
        listing.cancelled,
        listing.expired,
        skipped=listing.skipped,
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
        return sync_calendar(
            database, apis, calendar_row_id, now, sleep=sleep, page_size=LISTING_PAGE_SIZE
        )
    except ReauthorizationNeeded:
        raise
    except SyncInProgress:
        # A request that came after the other sync began stays set for the next one.
        return SyncResult(calendar_row_id, False, 0, 0, busy=True)
    except Exception as exc:  # one calendar's failure must not stop the others
        return SyncResult(
            calendar_row_id, False, 0, 0, error=record_error(database, calendar_row_id, exc, now)
        )


def _due(calendar: CalendarRow, now: datetime, interval: timedelta) -> bool:
    return calendar.last_sync_at is None or calendar.last_sync_at <= now - interval


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
    interval = timedelta(seconds=int(runtime.config["POLL_INTERVAL_SECONDS"]))
    with database.transaction() as db:
        known = list(
            db.scalars(select(CalendarRow).where(CalendarRow.therapist_id == therapist_id))
        )
        list_due = not known or any(_due(c, now, interval) for c in known if c.selected)
    prefix = f"therapist {therapist_id}"
    if dry_run:
        lines = [f"{prefix}: would refresh the calendar list"] if list_due else []
        with database.transaction() as db:
            for calendar in _selected(db, therapist_id):
                if calendar.listing_started_at is not None:
                    lines.append(f"{prefix}: would go on reading calendar {calendar.id}")
                elif calendar.sync_requested_at is not None:
                    lines.append(f"{prefix}: would sync calendar {calendar.id} (push request)")
                elif _due(calendar, now, interval):
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
        except GoogleApiError as exc:
            log.warning("therapist %s: calendar list failed: %s", therapist_id, exc.reason)
            lines.append(f"{prefix}: calendar list not refreshed ({error_words(exc)})")
    with database.transaction() as db:
        due = [
            c.id
            for c in _selected(db, therapist_id)
            # A listing cut short goes on at once, whatever the poll interval says.
            if c.listing_started_at is not None
            or c.sync_requested_at is not None
            or _due(c, now, interval)
        ]
    for calendar_id in due:
        result = sync_calendar_safely(database, apis, calendar_id, now, sleep=sleep)
        lines.append(f"{prefix}: {result.line()}")
    lines.extend(maintain_channels(runtime, apis, therapist_id, now, sleep=sleep))
    return lines
