"""Events the therapist treats as sessions though the recognition rules say otherwise.

An override names one event or a whole series of one of the therapist's calendars. It is
kept (so the next sync keeps the event a session) and applied at once to what is stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session as DbSession

from ...storage.models import CalendarEventRow, CalendarRow, SessionOverride
from ..schedule import mark_changed


def treat_as_session(
    db: DbSession,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    *,
    series: bool,
    now: datetime,
) -> int:
    """Treat the event (or, with ``series``, the series ``event_id`` names) as a session.

    Returns how many stored events became sessions now; 0 when the calendar is not the
    therapist's (nothing is kept then), or nothing stored matches yet (the override is kept
    for the next sync).
    """
    calendar = db.scalar(
        select(CalendarRow).where(
            CalendarRow.therapist_id == therapist_id,
            CalendarRow.google_calendar_id == calendar_id,
        )
    )
    if calendar is None:
        return 0
    known = db.scalar(
        select(SessionOverride.id).where(
            SessionOverride.therapist_id == therapist_id,
            SessionOverride.calendar_id == calendar_id,
            SessionOverride.event_id == event_id,
        )
    )
    if known is None:
        db.add(
            SessionOverride(
                therapist_id=therapist_id,
                calendar_id=calendar_id,
                event_id=event_id,
                series=series,
                created_at=now,
            )
        )
    which = CalendarEventRow.event_id == event_id
    if series:
        which = or_(which, CalendarEventRow.recurring_event_id == event_id)
    changed = 0
    for row in db.scalars(
        select(CalendarEventRow).where(CalendarEventRow.calendar_row_id == calendar.id, which)
    ):
        if not row.is_session and not row.created_by_service:
            row.is_session = True
            changed += 1
    if changed:
        # The follow-up looks at the new sessions at the next run.
        mark_changed(db, therapist_id)
    db.flush()
    return changed
