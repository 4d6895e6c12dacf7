"""Leases: a piece of work is done by one worker at a time, and a dead worker's claim expires.

Two kinds: a therapist's share of a cycle (``therapist_leases``) and the sync of one calendar
(``calendar_sync_leases``). A claim is a conditional UPDATE ("free or expired -> mine") whose
row count says who won, which both databases serialise: a row lock on Postgres (READ
COMMITTED re-checks the condition after waiting), the one write lock on SQLite. Picking
*any* due therapist adds ``FOR UPDATE SKIP LOCKED`` on Postgres, so workers racing for work
step past each other's rows instead of queueing behind them; SQLite has one writer at a time
and no such clause. Every time here is the wall clock the caller passes (``runtime.now()``):
a lease measures how long a live worker has been at it, never the cycle's ``now``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as DbSession

from .database import Database
from .models import CalendarSyncLease, TherapistLease


def worker_name() -> str:
    """A name no other live worker has: host, process and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _insert(db: DbSession, table: type[TherapistLease] | type[CalendarSyncLease]) -> Any:
    """INSERT with ON CONFLICT, which each dialect spells with its own construct."""
    dialect = db.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def ensure_therapist_rows(database: Database, therapist_ids: Sequence[int]) -> None:
    """Give each therapist a lease row (free), so claims only ever UPDATE."""
    if not therapist_ids:
        return
    with database.transaction() as db:
        statement = _insert(db, TherapistLease)
        db.execute(
            statement.values([{"therapist_id": t} for t in therapist_ids]).on_conflict_do_nothing(
                index_elements=["therapist_id"]
            )
        )


def _free(
    table: type[TherapistLease] | type[CalendarSyncLease], wall: datetime
) -> ColumnElement[bool]:
    return or_(table.holder.is_(None), table.expires_at <= wall)


def claim_therapist(
    database: Database, therapist_id: int, holder: str, wall: datetime, lease: timedelta
) -> bool:
    """Claim one therapist's work until ``wall + lease``; False when another holds it."""
    ensure_therapist_rows(database, [therapist_id])
    with database.transaction() as db:
        result = db.execute(
            update(TherapistLease)
            .where(TherapistLease.therapist_id == therapist_id, _free(TherapistLease, wall))
            .values(holder=holder, expires_at=wall + lease)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_next(
    database: Database,
    candidates: Sequence[int],
    holder: str,
    wall: datetime,
    lease: timedelta,
    every: timedelta,
) -> int | None:
    """Claim one of ``candidates`` that is free and has not run within ``every``; its id.

    Those never run come first, then the longest waiting. None when every candidate is
    held by another worker or ran recently.
    """
    if not candidates:
        return None
    claimable = (
        _free(TherapistLease, wall),
        or_(TherapistLease.last_run_at.is_(None), TherapistLease.last_run_at <= wall - every),
    )
    for _attempt in range(5):
        with database.transaction() as db:
            found: int | None = db.scalar(
                select(TherapistLease.therapist_id)
                .where(TherapistLease.therapist_id.in_(candidates), *claimable)
                .order_by(TherapistLease.last_run_at.nulls_first(), TherapistLease.therapist_id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if found is None:
                return None
            won = db.execute(
                update(TherapistLease)
                # Again in full: between the read and this write (SQLite) another worker may
                # have claimed it, or even run it and let it go.
                .where(TherapistLease.therapist_id == found, *claimable)
                .values(holder=holder, expires_at=wall + lease)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
        if won:
            return int(found)
        # SQLite: another worker claimed the same row between our read and our write.
    return None


def renew_therapist(
    database: Database, therapist_id: int, holder: str, wall: datetime, lease: timedelta
) -> bool:
    """Push our lease to ``wall + lease``; False when it is no longer ours."""
    with database.transaction() as db:
        result = db.execute(
            update(TherapistLease)
            .where(TherapistLease.therapist_id == therapist_id, TherapistLease.holder == holder)
            .values(expires_at=wall + lease)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def release_therapist(
    database: Database, therapist_id: int, holder: str, ran_at: datetime | None
) -> None:
    """Give the therapist back; ``ran_at`` (when the finished run started) marks it done."""
    values: dict[str, object] = {"holder": None, "expires_at": None}
    if ran_at is not None:
        values["last_run_at"] = ran_at
    with database.transaction() as db:
        db.execute(
            update(TherapistLease)
            .where(TherapistLease.therapist_id == therapist_id, TherapistLease.holder == holder)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def claim_calendar(
    database: Database, calendar_row_id: int, holder: str, wall: datetime, lease: timedelta
) -> bool:
    """Claim the sync of one calendar; False when another process is syncing it."""
    with database.transaction() as db:
        db.execute(
            _insert(db, CalendarSyncLease)
            .values(calendar_row_id=calendar_row_id)
            .on_conflict_do_nothing(index_elements=["calendar_id"])
        )
    with database.transaction() as db:
        result = db.execute(
            update(CalendarSyncLease)
            .where(
                and_(
                    CalendarSyncLease.calendar_row_id == calendar_row_id,
                    _free(CalendarSyncLease, wall),
                )
            )
            .values(holder=holder, expires_at=wall + lease)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def release_calendar(database: Database, calendar_row_id: int, holder: str) -> None:
    with database.transaction() as db:
        db.execute(
            update(CalendarSyncLease)
            .where(
                CalendarSyncLease.calendar_row_id == calendar_row_id,
                CalendarSyncLease.holder == holder,
            )
            .values(holder=None, expires_at=None)
            .execution_options(synchronize_session=False)
        )


__all__ = [
    "claim_calendar",
    "claim_next",
    "claim_therapist",
    "ensure_therapist_rows",
    "release_calendar",
    "release_therapist",
    "renew_therapist",
    "worker_name",
]
