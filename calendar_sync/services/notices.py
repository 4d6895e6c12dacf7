"""Notes to the therapist: what the service wants them to know, shown on the dashboard.

Any service may leave one with :func:`notify`. The text is plain words and never names a
patient: a session is referred to by its date and time (``domain.times.format_local``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from ..storage.models import TherapistNotice

#: Kinds of notice written by the reschedule proposals (others may add their own).
PROPOSAL_EXHAUSTED = "proposal_exhausted"
PROPOSAL_EXPIRED = "proposal_expired"
PROPOSAL_ACCEPTED = "proposal_accepted"
PROPOSAL_NO_SLOT = "proposal_no_slot"
PATIENT_WILL_GET_IN_TOUCH = "patient_will_get_in_touch"
PATIENT_CHOSE_TIME = "patient_chose_time"
PATIENT_ANSWERED_SURVEY = "patient_answered_survey"


@dataclass(frozen=True)
class Notice:
    """A notice as the dashboard shows it."""

    id: int
    kind: str
    text: str
    created_at: datetime
    read_at: datetime | None


def notify(db: DbSession, therapist_id: int, kind: str, text: str, now: datetime) -> int:
    """Leave a notice for the therapist (inside the caller's transaction); returns its id."""
    notice = TherapistNotice(therapist_id=therapist_id, kind=kind, text=text, created_at=now)
    db.add(notice)
    db.flush()
    return int(notice.id)


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
    """Mark one of the therapist's notices read; False when it is not theirs or already read."""
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
