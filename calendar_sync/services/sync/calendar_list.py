"""The therapist's calendars: which exist, which hold sessions, and how each is doing.

The dashboard calls :func:`calendar_statuses` to show calendars, sync and push health, and
:func:`select_calendar` when the therapist ticks or unticks a calendar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ...google import GoogleApiError
from ...google.calendar_list import CalendarInfo, list_calendars
from ...google.client import GoogleApis
from ...google.oauth import CALENDAR_LIST
from ...storage import Database, hold_therapist
from ...storage.models import CalendarRow, Therapist
from ..schedule import mark_changed

# Shown when the calendar-list scope was not granted and only the main calendar is known.
PRIMARY_SUMMARY = "Main calendar"


@dataclass(frozen=True)
class CalendarStatus:
    """One calendar as the dashboard shows it; ``push`` is "on", "off" or "failed"."""

    id: int
    summary: str
    primary: bool
    selected: bool
    gone: bool
    last_sync_at: datetime | None
    last_error: str | None
    push: str
    channel_expires_at: datetime | None
    watch_problem: str | None


def refresh_calendar_list(
    database: Database,
    apis: GoogleApis,
    therapist_id: int,
    granted_scopes: frozenset[str],
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Bring the stored calendars in line with Google's calendar list; returns how many.

    New calendars start unselected except the primary one; calendars that left the list
    are kept (their events too) but marked gone and no longer synced. Without the
    calendar-list scope only the primary calendar is used.

    :raises GoogleApiError: when Google fails for another reason than a missing scope.
    """
    infos: list[CalendarInfo] | None = None
    if CALENDAR_LIST in granted_scopes:
        try:
            infos = list_calendars(apis.calendar, sleep=sleep)
        except GoogleApiError as exc:
            if exc.status != 403 or exc.retryable:
                raise
    with database.transaction() as db:
        # Another cycle may be adding the same calendars: wait for it, then see its rows.
        hold_therapist(db, therapist_id)
        if infos is None:
            therapist = db.get(Therapist, therapist_id)
            assert therapist is not None
            # The primary calendar's id is the account's address.
            infos = [
                CalendarInfo(therapist.email, PRIMARY_SUMMARY, therapist.time_zone, True, "owner")
            ]
            keep_others = True
        else:
            keep_others = False
        rows = {
            row.google_calendar_id: row
            for row in db.scalars(
                select(CalendarRow).where(CalendarRow.therapist_id == therapist_id)
            )
        }
        for info in infos:
            row = rows.pop(info.calendar_id, None)
            if row is None:
                row = CalendarRow(
                    therapist_id=therapist_id,
                    google_calendar_id=info.calendar_id,
                    selected=info.primary,
                )
                db.add(row)
            if info.summary != PRIMARY_SUMMARY or not row.summary:
                row.summary = info.summary
            row.time_zone = info.time_zone
            row.is_primary = info.primary
            row.gone_at = None
        for row in rows.values():
            if not keep_others and row.gone_at is None:
                row.gone_at = now
        return len(infos)


def select_calendar(
    database: Database, therapist_id: int, calendar_row_id: int, selected: bool, now: datetime
) -> None:
    """Mark a calendar as holding sessions (synced and watched) or not.

    A newly selected calendar is synced at the next cycle; its channel is opened (or, when
    unselected, stopped) then too. :raises LookupError: the calendar is not the therapist's.
    """
    with database.transaction() as db:
        row = db.get(CalendarRow, calendar_row_id)
        if row is None or row.therapist_id != therapist_id:
            raise LookupError("no such calendar")
        if selected and not row.selected:
            row.sync_requested_at = now
        row.selected = selected
        mark_changed(db, therapist_id)


def calendar_statuses(database: Database, therapist_id: int) -> list[CalendarStatus]:
    """Every calendar of the therapist, primary first, for the dashboard."""
    with database.transaction() as db:
        rows = db.scalars(
            select(CalendarRow)
            .where(CalendarRow.therapist_id == therapist_id)
            .order_by(CalendarRow.is_primary.desc(), CalendarRow.summary, CalendarRow.id)
        ).all()
        return [
            CalendarStatus(
                id=row.id,
                summary=row.summary,
                primary=row.is_primary,
                selected=row.selected,
                gone=row.gone_at is not None,
                last_sync_at=row.last_sync_at,
                last_error=row.last_error,
                push="on" if row.channel_id else ("failed" if row.watch_problem else "off"),
                channel_expires_at=row.channel_expires_at,
                watch_problem=row.watch_problem,
            )
            for row in rows
        ]
