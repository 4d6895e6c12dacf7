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
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
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
from ...storage.models import (
    CalendarEventRow,
    CalendarRow,
    CreatedEvent,
    Patient,
    SessionOverride,
)

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
    #: Events and series the therapist treats as sessions whatever the rules say.
    treated_as_sessions: frozenset[str] = frozenset()


def load_context(db: DbSession, calendar: CalendarRow, rules: SessionRules) -> Context:
    patients = tuple(
        db.scalars(select(Patient).where(Patient.therapist_id == calendar.therapist_id))
    )
    created = frozenset(
        db.scalars(select(CreatedEvent.event_id).where(CreatedEvent.calendar_row_id == calendar.id))
    )
    treated = frozenset(
        db.scalars(
            select(SessionOverride.event_id).where(
                SessionOverride.therapist_id == calendar.therapist_id,
                SessionOverride.calendar_id == calendar.google_calendar_id,
            )
        )
    )
    return Context(rules, PatientDirectory(patients), created, treated)


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


_EVENTS = cast(Table, CalendarEventRow.__table__)
# What an upsert must not overwrite: the row's identity and when it was first seen.
_KEPT = frozenset({"id", "calendar_id", "event_id", "first_seen_at"})
# What applying an event needs to know of the stored row.
_STORED = (
    _EVENTS.c.event_id,
    _EVENTS.c.color_id,
    _EVENTS.c.color_changed_at,
    _EVENTS.c.title,
    _EVENTS.c.tags_changed_at,
    _EVENTS.c.patient_response,
    _EVENTS.c.patient_response_at,
)


def _values(
    calendar_id: int,
    event: CalendarEvent,
    stored: Any | None,
    context: Context,
    now: datetime,
) -> dict[str, Any]:
    """The stored row's columns for ``event`` (``stored``: the row as it was, if any)."""
    changed_at = _changed_at(event, now)
    tags = extract_title_tags(event.title)
    if stored is None or stored.color_id != event.color_id:
        color_changed_at = changed_at if event.color_id is not None else None
    else:
        color_changed_at = stored.color_changed_at
    if stored is None or extract_title_tags(stored.title or "") != tags:
        tags_changed_at = changed_at if tags else None
    else:
        tags_changed_at = stored.tags_changed_at
    email, patient = match_patient(event, context.patients)
    invited = event.others[0] if len(event.others) == 1 and event.others[0].email else None
    if invited is not None and email is None:
        log.warning(
            "calendar %s: an invited address that cannot be written to was not kept", calendar_id
        )
    # The answer counts even from an address we cannot write to (a decline is a decline).
    response = invited.response if invited is not None else None
    if stored is None or response != stored.patient_response:
        response_at = changed_at if response is not None else None
    else:
        response_at = stored.patient_response_at
    created_by_service = (
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
    ours_pending = created_by_service and response != "accepted"
    treated = context.treated_as_sessions
    chosen = event.event_id in treated or event.recurring_event_id in treated
    return {
        "calendar_id": calendar_id,
        "event_id": event.event_id,
        "recurring_event_id": event.recurring_event_id,
        "original_start": event.original_start,
        "status": event.status,
        "title": event.title,
        "start": event.start,
        "end": event.end,
        "time_zone": event.time_zone,
        "all_day": event.all_day,
        "transparency": event.transparency,
        "color_id": event.color_id,
        "color_changed_at": color_changed_at,
        "tags_changed_at": tags_changed_at,
        "my_response": event.my_response,
        "attendees_json": json.dumps([a.as_json() for a in event.attendees]),
        "organizer_is_self": event.organizer_is_self,
        "organizer_email": event.organizer_email,
        "creator_email": event.creator_email,
        "patient_email": email,
        "patient_id": patient.id if patient is not None else None,
        "patient_response": response,
        "patient_response_at": response_at,
        "is_session": not ours_pending and (chosen or is_session(facts, context.rules)),
        "created_by_service": created_by_service,
        "google_updated": event.updated,
        "etag": event.etag,
        "meet_code": event.meet_code,
        "first_seen_at": now,
        "synced_at": now,
        "cancelled_at": None,
    }


def _upsert(db: DbSession, rows: list[dict[str, Any]], *, listed: bool) -> None:
    """Insert or update ``rows`` by (calendar, event id) in one statement per batch."""
    dialect = db.get_bind().dialect.name
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_into(_EVENTS)
    kept = _KEPT if listed else _KEPT | {"listed_at"}
    statement = statement.on_conflict_do_update(
        index_elements=[_EVENTS.c.calendar_id, _EVENTS.c.event_id],
        set_={name: statement.excluded[name] for name in rows[0] if name not in kept},
    )
    for offset in range(0, len(rows), _CHUNK):
        db.execute(statement, rows[offset : offset + _CHUNK])


def apply_events(
    db: DbSession,
    calendar: CalendarRow,
    events: list[CalendarEvent],
    context: Context,
    now: datetime,
    window: tuple[datetime, datetime],
    *,
    listed_at: datetime | None = None,
) -> Applied:
    """Upsert listed events by (calendar, event id); a cancelled one is marked, not removed.

    An event not stored yet is only added when it overlaps ``window``, so the store stays
    the window a full sync covers. With ``listed_at`` (a full listing's start), every event
    listed and not cancelled is stamped with it, whether or not it could be stored anew.
    Rows are written with bulk statements (SQLAlchemy Core), never one ORM object each.
    """
    result = Applied()
    # The last word on an event wins, should a listing name it twice.
    latest = {event.event_id: event for event in events}
    ids = list(latest)
    stored: dict[str, Any] = {}
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        stored.update(
            (row.event_id, row)
            for row in db.execute(
                select(*_STORED).where(
                    _EVENTS.c.calendar_id == calendar.id, _EVENTS.c.event_id.in_(chunk)
                )
            )
        )
    cancelled_ids = [i for i, e in latest.items() if e.cancelled and i in stored]
    for offset in range(0, len(cancelled_ids), _CHUNK):
        done: Any = db.execute(
            update(_EVENTS)
            .where(
                _EVENTS.c.calendar_id == calendar.id,
                _EVENTS.c.event_id.in_(cancelled_ids[offset : offset + _CHUNK]),
                _EVENTS.c.cancelled_at.is_(None),
            )
            .values(status=CANCELLED, cancelled_at=now, synced_at=now)
        )
        result.cancelled += done.rowcount
    rows: list[dict[str, Any]] = []
    unwritten: list[str] = []
    for event_id, event in latest.items():
        if event.cancelled:
            continue
        row = stored.get(event_id)
        if row is None:
            inside = (
                event.start is not None
                and event.start < window[1]
                and (event.end or event.start) > window[0]
            )
            if not inside:
                result.skipped += 1
                continue
        try:
            values = _values(calendar.id, event, row, context, now)
        except Exception as exc:  # one event must never fail its calendar's sync
            log.warning(
                "calendar %s: an event could not be stored (%s)", calendar.id, type(exc).__name__
            )
            result.failed += 1
            if row is not None:
                unwritten.append(event_id)  # the stored row stands, and was listed
            continue
        if listed_at is not None:
            values["listed_at"] = listed_at
        rows.append(values)
    if rows:
        _upsert(db, rows, listed=listed_at is not None)
        result.upserted = len(rows)
    if listed_at is not None and unwritten:
        db.execute(
            update(_EVENTS)
            .where(_EVENTS.c.calendar_id == calendar.id, _EVENTS.c.event_id.in_(unwritten))
            .values(listed_at=listed_at)
        )
    return result


def mark_missing(
    db: DbSession,
    calendar: CalendarRow,
    listed_at: datetime,
    window: tuple[datetime, datetime],
    now: datetime,
) -> int:
    """After a full listing begun at ``listed_at``: stored events inside the window it did
    not return are gone."""
    done: Any = db.execute(
        update(_EVENTS)
        .where(
            _EVENTS.c.calendar_id == calendar.id,
            _EVENTS.c.cancelled_at.is_(None),
            _EVENTS.c.start >= window[0],
            _EVENTS.c.start < window[1],
            or_(_EVENTS.c.listed_at.is_(None), _EVENTS.c.listed_at != listed_at),
        )
        .values(status=CANCELLED, cancelled_at=now, synced_at=now)
    )
    return int(done.rowcount)


def own_event(
    db: DbSession, therapist_id: int, calendar_id: str, event_id: str
) -> CalendarEventRow | None:
    """The therapist's stored event of their calendar (both Google's ids), else None: nobody
    reaches another therapist's events through a calendar id they name."""
    return db.scalar(
        select(CalendarEventRow)
        .join(CalendarRow, CalendarEventRow.calendar_row_id == CalendarRow.id)
        .where(
            CalendarRow.therapist_id == therapist_id,
            CalendarRow.google_calendar_id == calendar_id,
            CalendarEventRow.event_id == event_id,
        )
    )


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
