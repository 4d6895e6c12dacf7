"""Stored events: applying what Google listed, recognising sessions and their patients.

Titles are kept to read tags and match the patient directory; they never reach a log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from ...domain.addresses import is_plain_address
from ...domain.sessions import (
    Cancellation,
    CancelledBy,
    EventFacts,
    PatientResponse,
    Session,
    SessionRules,
    extract_title_tags,
    is_session,
)
from ...domain.title_names import TitleNames
from ...google.events import CANCELLED, CalendarEvent
from ...storage.models import CalendarEventRow, CalendarRow, CreatedEvent, Patient

log = logging.getLogger(__name__)

_CHUNK = 500


@dataclass
class Applied:
    """What applying one listing changed."""

    upserted: int = 0
    cancelled: int = 0
    skipped: int = 0
    #: Events that could not be stored (each set aside on its own, logged without data).
    failed: int = 0


@dataclass(frozen=True)
class Context:
    """What judging an event needs besides the event: rules, patients, our own events."""

    rules: SessionRules
    patients: PatientDirectory
    created_ids: frozenset[str]


def load_context(db: DbSession, calendar: CalendarRow, rules: SessionRules) -> Context:
    patients = tuple(
        db.scalars(select(Patient).where(Patient.therapist_id == calendar.therapist_id))
    )
    created = frozenset(
        db.scalars(select(CreatedEvent.event_id).where(CreatedEvent.calendar_row_id == calendar.id))
    )
    return Context(rules, PatientDirectory(patients), created)


class PatientDirectory:
    """A therapist's patients, ready to match events: addresses in a dict, names in one pattern.

    The names' pattern is compiled once per directory version (the names, in order) and shared
    by every sync that sees the same directory.
    """

    def __init__(self, patients: Iterable[Patient]) -> None:
        self.patients = tuple(patients)
        self.by_email: dict[str, Patient] = {}
        for patient in self.patients:
            if patient.email:
                # The first entry with an address wins, as the directory is read in order.
                self.by_email.setdefault(patient.email.lower(), patient)
        self.names = _title_names(tuple(p.name for p in self.patients))


@lru_cache(maxsize=256)
def _title_names(names: tuple[str, ...]) -> TitleNames:
    return TitleNames(names)


def match_patient(
    event: CalendarEvent, patients: PatientDirectory | Iterable[Patient]
) -> tuple[str | None, Patient | None]:
    """The patient of an event: (email, directory entry), either may be None.

    An invited patient is the one attendee besides the therapist; otherwise the directory
    entry whose name or initials stand as a whole word in the title, when exactly one does.
    An invited address that is not one plain address (``domain.addresses``) is not kept.
    """
    directory = patients if isinstance(patients, PatientDirectory) else PatientDirectory(patients)
    others = event.others
    email = others[0].email if len(others) == 1 else None
    if email is not None and not is_plain_address(email):
        # Invited, but not at an address we could write to: a patient we cannot reach.
        return None, None
    if email is not None:
        return email, directory.by_email.get(email.lower())
    if others:
        return None, None
    # Entries made for invited patients have no name to look for in titles.
    found = directory.names.found(event.title, stop_after=1)
    if len(found) == 1:
        patient = directory.patients[found.pop()]
        return patient.email, patient
    return None, None


def _changed_at(event: CalendarEvent, now: datetime) -> datetime:
    # Google's last-modified time is when the change happened, or later; never after now.
    return min(event.updated, now) if event.updated is not None else now


def _apply_one(
    row: CalendarEventRow, event: CalendarEvent, context: Context, now: datetime, new: bool
) -> None:
    changed_at = _changed_at(event, now)
    if new or row.color_id != event.color_id:
        row.color_changed_at = changed_at if event.color_id is not None else None
    if new or extract_title_tags(row.title or "") != extract_title_tags(event.title):
        row.tags_changed_at = changed_at if extract_title_tags(event.title) else None
    email, patient = match_patient(event, context.patients)
    invited = event.others[0] if len(event.others) == 1 and event.others[0].email else None
    if invited is not None and email is None:
        log.warning(
            "calendar %s: an invited address that cannot be written to was not kept",
            row.calendar_row_id,
        )
    # The answer counts even from an address we cannot write to (a decline is a decline).
    response = invited.response if invited is not None else None
    if new or response != row.patient_response:
        row.patient_response_at = changed_at if response is not None else None
    row.patient_response = response
    row.patient_email = email
    row.patient_id = patient.id if patient is not None else None
    row.recurring_event_id = event.recurring_event_id
    row.original_start = event.original_start
    row.status = event.status
    row.title = event.title
    row.start = event.start
    row.end = event.end
    row.time_zone = event.time_zone
    row.all_day = event.all_day
    row.transparency = event.transparency
    row.color_id = event.color_id
    row.my_response = event.my_response
    row.attendees_json = json.dumps([a.as_json() for a in event.attendees])
    row.organizer_is_self = event.organizer_is_self
    row.organizer_email = event.organizer_email
    row.creator_email = event.creator_email
    row.google_updated = event.updated
    row.etag = event.etag
    row.synced_at = now
    row.cancelled_at = None
    row.created_by_service = (
        event.event_id in context.created_ids or event.recurring_event_id in context.created_ids
    )
    facts = EventFacts(
        title=event.title,
        all_day=event.all_day,
        shows_as_free=event.transparency == "transparent",
        therapist_declined=event.my_response == "declined",
        other_attendees=len(event.others),
        organized_by_therapist=event.organizer_is_self,
        organizer=event.organizer_email or "",
    )
    # Our own events are proposals: one becomes a session once the patient accepts it.
    ours_pending = row.created_by_service and response != "accepted"
    row.is_session = not ours_pending and is_session(facts, context.rules)


def apply_events(
    db: DbSession,
    calendar: CalendarRow,
    events: list[CalendarEvent],
    context: Context,
    now: datetime,
    window: tuple[datetime, datetime],
) -> Applied:
    """Upsert listed events by (calendar, event id); a cancelled one is marked, not removed.

    An event not stored yet is only added when it overlaps ``window``, so the store stays
    the window a full sync covers.
    """
    result = Applied()
    ids = [e.event_id for e in events]
    stored: dict[str, CalendarEventRow] = {}
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        stored.update(
            (row.event_id, row)
            for row in db.scalars(
                select(CalendarEventRow).where(
                    CalendarEventRow.calendar_row_id == calendar.id,
                    CalendarEventRow.event_id.in_(chunk),
                )
            )
        )
    for event in events:
        row = stored.get(event.event_id)
        if event.cancelled:
            if row is not None and row.cancelled_at is None:
                row.status = CANCELLED
                row.cancelled_at = now
                row.synced_at = now
                result.cancelled += 1
            continue
        new = row is None
        if row is None:
            inside = (
                event.start is not None
                and event.start < window[1]
                and (event.end or event.start) > window[0]
            )
            if not inside:
                result.skipped += 1
                continue
            row = CalendarEventRow(
                calendar_row_id=calendar.id, event_id=event.event_id, first_seen_at=now
            )
        try:
            _apply_one(row, event, context, now, new)
        except Exception as exc:  # one event must never fail its calendar's sync
            log.warning(
                "calendar %s: an event could not be stored (%s)", calendar.id, type(exc).__name__
            )
            if not new:
                db.expire(row)  # whatever was half applied is dropped; the stored row stands
            result.failed += 1
            continue
        if new:
            db.add(row)
            stored[event.event_id] = row
        result.upserted += 1
    return result


def mark_missing(
    db: DbSession,
    calendar: CalendarRow,
    listed_ids: set[str],
    window: tuple[datetime, datetime],
    now: datetime,
) -> int:
    """After a full listing: stored events inside the window it no longer returned are gone."""
    candidates = db.scalars(
        select(CalendarEventRow.event_id).where(
            CalendarEventRow.calendar_row_id == calendar.id,
            CalendarEventRow.cancelled_at.is_(None),
            CalendarEventRow.start >= window[0],
            CalendarEventRow.start < window[1],
        )
    ).all()
    gone = [event_id for event_id in candidates if event_id not in listed_ids]
    for offset in range(0, len(gone), _CHUNK):
        db.execute(
            update(CalendarEventRow)
            .where(
                CalendarEventRow.calendar_row_id == calendar.id,
                CalendarEventRow.event_id.in_(gone[offset : offset + _CHUNK]),
            )
            .values(status=CANCELLED, cancelled_at=now, synced_at=now)
        )
    return len(gone)


def as_session(row: CalendarEventRow, calendar: CalendarRow, time_zone: ZoneInfo) -> Session:
    """The domain's view of a stored session (``time_zone``: the therapist's, for display).

    A cancelled event counts as cancelled by the therapist unless the patient had declined:
    the calendar alone cannot tell more. :raises ValueError: when times are missing.
    """
    if row.start is None or row.end is None:
        raise ValueError("a session needs a start and an end")
    response = {
        "accepted": PatientResponse.ACCEPTED,
        "tentative": PatientResponse.TENTATIVE,
        "declined": PatientResponse.DECLINED,
    }.get(row.patient_response or "", PatientResponse.NO_ANSWER)
    cancellation = None
    if row.cancelled_at is not None:
        by = CancelledBy.PATIENT if response is PatientResponse.DECLINED else CancelledBy.THERAPIST
        cancellation = Cancellation(by=by, at=row.cancelled_at)
    tags = extract_title_tags(row.title or "")
    end = row.end if row.end > row.start else row.start + timedelta(minutes=1)
    return Session(
        event_id=row.event_id,
        calendar_id=calendar.google_calendar_id,
        patient_key=row.patient_email or (f"patient-{row.patient_id}" if row.patient_id else None),
        start=row.start,
        end=end,
        time_zone=time_zone,
        cancelled=cancellation,
        patient_response=response,
        patient_response_at=row.patient_response_at
        if response is not PatientResponse.NO_ANSWER
        else None,
        color_id=row.color_id,
        color_changed_at=row.color_changed_at if row.color_id else None,
        title_tags=tags,
        tags_changed_at=(row.tags_changed_at or row.synced_at) if tags else None,
    )


def record_created_event(
    db: DbSession, calendar: CalendarRow, event_id: str, purpose: str, now: datetime
) -> CreatedEvent:
    """Remember an event the service is about to create (call before ``events.insert``)."""
    created = CreatedEvent(
        therapist_id=calendar.therapist_id,
        calendar_row_id=calendar.id,
        event_id=event_id,
        purpose=purpose,
        created_at=now,
    )
    db.add(created)
    db.flush()
    return created
