"""Who has something to do at a cycle: the therapists that are due or changed.

Each therapist's share of a cycle ends by writing the earliest moment anything of theirs
can fall due (``due_at``). Everything that changes their data calls :func:`mark_changed`
in its own transaction: a sync that brought events, a mark, a setting, a patient's
answer, a message sent now, held or cancelled. A cycle then runs only the therapists whose
moment came or whose data changed (:func:`due_therapists`); the others cost nothing.

A therapist without a schedule row has never been run (or was just connected): they are
due. The counter ``changes`` is compared with ``handled``, the value the last run saw
before it decided anything, so a change made while a run is under way is never lost:
the next cycle runs the therapist again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ..storage import Database
from ..storage.models import Therapist, TherapistSchedule


class _WithDatabase(Protocol):
    """What :func:`due_therapists` needs of the ``Runtime`` (kept apart: no import cycle)."""

    database: Database


#: However quiet a therapist is, their share of the cycle runs at least this often: a
#: safety net under the moments computed from their data.
LONGEST_QUIET = timedelta(hours=24)


@dataclass(frozen=True)
class Snapshot:
    """A therapist's schedule row as read at one moment (defaults when there is none)."""

    changes: int = 0
    handled: int = -1
    follow_up_due_at: datetime | None = None
    calendar_list_read_at: datetime | None = None

    @property
    def changed(self) -> bool:
        """Whether anything changed since the last run saw the counter."""
        return self.changes != self.handled

    def follow_up_due(self, now: datetime) -> bool:
        """Whether the follow-up must run: a change, or its moment came (or is unknown)."""
        return self.changed or self.follow_up_due_at is None or self.follow_up_due_at <= now


def mark_changed(db: DbSession, therapist_id: int) -> None:
    """Flag the therapist's data as changed, inside the caller's transaction.

    Without a row the therapist is due anyway, so there is nothing to write then.
    """
    db.execute(
        update(TherapistSchedule)
        .where(TherapistSchedule.therapist_id == therapist_id)
        .values(changes=TherapistSchedule.changes + 1)
    )


def due_therapists(runtime: _WithDatabase, now: datetime) -> list[int]:
    """The therapists (all, connected or paused) with something due at ``now``, by id."""
    database: Database = runtime.database
    with database.transaction() as db:
        return list(
            db.scalars(
                select(Therapist.id)
                .outerjoin(TherapistSchedule, TherapistSchedule.therapist_id == Therapist.id)
                .where(
                    or_(
                        TherapistSchedule.therapist_id.is_(None),
                        TherapistSchedule.due_at.is_(None),
                        TherapistSchedule.due_at <= now,
                        TherapistSchedule.changes != TherapistSchedule.handled,
                    )
                )
                .order_by(Therapist.id)
            )
        )


def begin(db: DbSession, therapist_id: int) -> Snapshot:
    """The therapist's row as a run reads it before deciding anything (made when missing).

    Made here, so that a change flagged from now on bumps a counter the run has seen.
    """
    row = _row(db, therapist_id)
    return Snapshot(row.changes, row.handled, row.follow_up_due_at, row.calendar_list_read_at)


def peek(db: DbSession, therapist_id: int) -> Snapshot:
    """The therapist's row without writing anything (defaults when there is none)."""
    row = db.get(TherapistSchedule, therapist_id)
    if row is None:
        return Snapshot()
    return Snapshot(row.changes, row.handled, row.follow_up_due_at, row.calendar_list_read_at)


def _row(db: DbSession, therapist_id: int) -> TherapistSchedule:
    """The therapist's row, made when missing (another worker may make it at once)."""
    row = db.get(TherapistSchedule, therapist_id)
    if row is not None:
        return row
    try:
        with db.begin_nested():
            row = TherapistSchedule(therapist_id=therapist_id, changes=0, handled=-1)
            db.add(row)
    except IntegrityError:
        row = db.get_one(TherapistSchedule, therapist_id, populate_existing=True)
    return row


def set_follow_up_due(db: DbSession, therapist_id: int, when: datetime | None) -> None:
    """When the follow-up's decisions can next change by time alone (None: at once)."""
    _row(db, therapist_id).follow_up_due_at = when


def set_calendar_list_read(db: DbSession, therapist_id: int, when: datetime) -> None:
    _row(db, therapist_id).calendar_list_read_at = when


def finish(
    db: DbSession, therapist_id: int, *, handled: int, moments: list[datetime | None], now: datetime
) -> datetime:
    """Record a run: the changes it saw, and the next moment something is due; returns it.

    ``moments`` are each capability's next moment (None: nothing coming); the run also
    comes back after :data:`LONGEST_QUIET` whatever they say.
    """
    due = min([m for m in moments if m is not None] + [now + LONGEST_QUIET])
    row = _row(db, therapist_id)
    row.handled, row.due_at = handled, due
    return due
