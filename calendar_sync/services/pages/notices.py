"""The therapist's notices as their own pages show them: who each is about, and where to look.

Stored notices never name a patient (they may be printed or exported); here, for the
therapist alone, each notice about a session gets its patient's name back and whether that
session has a follow-up to link to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session as DbSession

from ...domain.policy import ActionKind
from ...storage.models import FollowUpAction, Patient, TherapistNotice

#: How many notices Today shows before "and K more".
ON_TODAY = 10


@dataclass(frozen=True)
class NoticeLine:
    """One uncleared notice; ``ref`` is the session it is about, when it is about one."""

    id: int
    text: str
    created_at: datetime
    patient_id: int | None
    patient_name: str
    ref: tuple[str, str] | None
    has_follow_up: bool


@dataclass(frozen=True)
class Notices:
    """The newest uncleared notices, and how many there are in all."""

    shown: tuple[NoticeLine, ...]
    total: int

    @property
    def more(self) -> int:
        """Uncleared notices not among ``shown``."""
        return self.total - len(self.shown)

    @property
    def newest_id(self) -> int:
        """The newest notice shown: clearing "all" stops there, never at one not yet seen."""
        return max((line.id for line in self.shown), default=0)


def uncleared(db: DbSession, therapist_id: int, *, limit: int | None = None) -> Notices:
    """The therapist's uncleared notices, newest first (at most ``limit`` of them)."""
    mine = (TherapistNotice.therapist_id == therapist_id, TherapistNotice.read_at.is_(None))
    total = int(db.scalar(select(func.count()).select_from(TherapistNotice).where(*mine)) or 0)
    query = (
        select(TherapistNotice)
        .where(*mine)
        .order_by(TherapistNotice.created_at.desc(), TherapistNotice.id.desc())
    )
    rows = list(db.scalars(query.limit(limit) if limit is not None else query))
    patient_ids = {row.patient_id for row in rows if row.patient_id is not None}
    names = {
        patient.id: patient.name or patient.email or ""
        for patient in db.scalars(select(Patient).where(Patient.id.in_(patient_ids)))
        if patient.therapist_id == therapist_id
    }
    refs = {
        (row.calendar_id, row.event_id)
        for row in rows
        if row.calendar_id is not None and row.event_id is not None
    }
    followed = _followed_up(db, therapist_id, refs)
    shown = []
    for row in rows:
        ref = (
            (row.calendar_id, row.event_id)
            if row.calendar_id is not None and row.event_id is not None
            else None
        )
        shown.append(
            NoticeLine(
                id=row.id,
                text=row.text,
                created_at=row.created_at,
                patient_id=row.patient_id if row.patient_id in names else None,
                patient_name=names.get(row.patient_id or 0, ""),
                ref=ref,
                has_follow_up=ref in followed,
            )
        )
    return Notices(tuple(shown), total)


def _followed_up(
    db: DbSession, therapist_id: int, refs: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of ``refs`` the Follow-ups page has (a reminder to mark alone is not a miss)."""
    if not refs:
        return set()
    found = db.execute(
        select(FollowUpAction.calendar_id, FollowUpAction.event_id)
        .where(
            FollowUpAction.therapist_id == therapist_id,
            FollowUpAction.kind != ActionKind.REMIND_THERAPIST_TO_MARK.value,
            tuple_(FollowUpAction.calendar_id, FollowUpAction.event_id).in_(list(refs)),
        )
        .distinct()
    )
    return {(calendar_id, event_id) for calendar_id, event_id in found}
