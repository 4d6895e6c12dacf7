"""Notes to the therapist: what the service wants them to know, shown on the dashboard.

Any service may leave one with :func:`notify`. The text is plain words and never names a
patient: a session is referred to by its date and time (``domain.times.format_local``).
A notice about a session says which (``about``); the therapist's own pages then name the
patient and link to the follow-up (``services.pages.notices``). A notice stays until the
therapist clears it (:func:`mark_read`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession

from ..storage.models import CalendarEventRow, CalendarRow, Patient, TherapistNotice

#: Kinds of notice written by the reschedule proposals (others may add their own).
PROPOSAL_EXHAUSTED = "proposal_exhausted"
PROPOSAL_EXPIRED = "proposal_expired"
PROPOSAL_ACCEPTED = "proposal_accepted"
PROPOSAL_NO_SLOT = "proposal_no_slot"
PROPOSAL_DECLINED_AFTER_ACCEPTING = "proposal_declined_after_accepting"
# The patient pressed "Please get in touch with me": the therapist is to contact them.
PATIENT_ASKS_FOR_CONTACT = "patient_asks_for_contact"
PATIENT_CHOSE_TIME = "patient_chose_time"
# "None of these work, please contact me" on the page of times to choose from.
PATIENT_NONE_SUIT = "patient_none_suit"
PATIENT_ANSWERED_SURVEY = "patient_answered_survey"


@dataclass(frozen=True)
class Notice:
    """A notice as the dashboard shows it."""

    id: int
    kind: str
    text: str
    created_at: datetime
    read_at: datetime | None


def notify(
    db: DbSession,
    therapist_id: int,
    kind: str,
    text: str,
    now: datetime,
    *,
    about: tuple[str, str] | None = None,
) -> int:
    """Leave a notice for the therapist (inside the caller's transaction); returns its id.

    ``about`` is the session it concerns, as (Google calendar id, event id); its patient is
    looked up from the synced calendar.
    """
    notice = TherapistNotice(therapist_id=therapist_id, kind=kind, text=text, created_at=now)
    if about is not None:
        notice.calendar_id, notice.event_id = about
        notice.patient_id = _patient_of(db, therapist_id, about)
    db.add(notice)
    db.flush()
    return int(notice.id)


def _patient_of(db: DbSession, therapist_id: int, ref: tuple[str, str]) -> int | None:
    event = db.execute(
        select(CalendarEventRow.patient_id, CalendarEventRow.patient_email)
        .join(CalendarRow, CalendarRow.id == CalendarEventRow.calendar_row_id)
        .where(
            CalendarRow.therapist_id == therapist_id,
            CalendarRow.google_calendar_id == ref[0],
            CalendarEventRow.event_id == ref[1],
        )
    ).first()
    if event is None:
        return None
    if event.patient_id is not None or not event.patient_email:
        return event.patient_id
    return db.scalar(
        select(Patient.id).where(
            Patient.therapist_id == therapist_id,
            func.lower(Patient.email) == event.patient_email.lower(),
        )
    )


def notify_once(db: DbSession, therapist_id: int, kind: str, text: str, now: datetime) -> bool:
    """:func:`notify`, unless the same notice is still unread; True when one was left.

    For problems retried every cycle: the therapist is told once, not at every cycle.
    """
    unread = db.scalar(
        select(TherapistNotice.id).where(
            TherapistNotice.therapist_id == therapist_id,
            TherapistNotice.kind == kind,
            TherapistNotice.text == text,
            TherapistNotice.read_at.is_(None),
        )
    )
    if unread is not None:
        return False
    notify(db, therapist_id, kind, text, now)
    return True


def notices_for(db: DbSession, therapist_id: int, *, unread_only: bool = False) -> list[Notice]:
    """The therapist's notices, newest first."""
    query = select(TherapistNotice).where(TherapistNotice.therapist_id == therapist_id)
    if unread_only:
        query = query.where(TherapistNotice.read_at.is_(None))
    rows = db.scalars(query.order_by(TherapistNotice.created_at.desc(), TherapistNotice.id.desc()))
    return [Notice(r.id, r.kind, r.text, r.created_at, r.read_at) for r in rows]


def mark_read(db: DbSession, therapist_id: int, notice_id: int, now: datetime) -> bool:
    """Clear one of the therapist's notices; False when it is not theirs or already cleared."""
    result = db.execute(
        update(TherapistNotice)
        .where(
            TherapistNotice.id == notice_id,
            TherapistNotice.therapist_id == therapist_id,
            TherapistNotice.read_at.is_(None),
        )
        .values(read_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def clear_all(db: DbSession, therapist_id: int, up_to: int, now: datetime) -> int:
    """Clear the therapist's notices up to id ``up_to`` (those they were shown); how many."""
    result = db.execute(
        update(TherapistNotice)
        .where(
            TherapistNotice.therapist_id == therapist_id,
            TherapistNotice.id <= up_to,
            TherapistNotice.read_at.is_(None),
        )
        .values(read_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
