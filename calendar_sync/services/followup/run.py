"""Turning decisions into what patients and therapists receive, each exactly once.

For every therapist the cycle loads the sessions, marks, patients and policy, asks the
domain what is due (``decide``), and for each action whose idempotency key is new records
the action together with its effects (outbox messages, a reschedule proposal, a fee) in one
transaction: a crash leaves either all of them or none, and the next cycle redoes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ...domain.decisions import Decision, PlannedAction
from ...domain.policy import ActionKind
from ...domain.times import when_words
from ...storage import Database
from ...storage.models import CalendarRow, FollowUpAction, GoogleConnection
from ..accounts.connections import ConnectionStatus
from ..notices import notify_once
from ..patients.directory import link_patients
from ..runtime import Runtime
from .effects import Effects
from .hold import release_fees, withdraw_superseded
from .inputs import Inputs, decisions_for, load_inputs, pending

log = logging.getLogger(__name__)


# How long the follow-up waits for a calendar's listing to finish: a listing resumes at the
# next cycle, so this is only reached when a calendar keeps failing (its error is on the
# dashboard), and the therapist's other calendars must not wait for it for ever.
READING_PATIENCE = timedelta(hours=6)


def _still_reading(db: DbSession, therapist_id: int, now: datetime) -> bool:
    """Whether a listing of one of the therapist's calendars began lately and is under way."""
    return (
        db.scalar(
            select(CalendarRow.id)
            .where(
                CalendarRow.therapist_id == therapist_id,
                CalendarRow.selected.is_(True),
                CalendarRow.gone_at.is_(None),
                CalendarRow.listing_started_at > now - READING_PATIENCE,
            )
            .limit(1)
        )
        is not None
    )


def follow_up_therapist(
    runtime: Runtime, therapist_id: int, *, now: datetime, dry_run: bool
) -> list[str]:
    """Decide and record what is due for one therapist; lines in plain words for the report."""
    database: Database = runtime.database
    with database.transaction() as db:
        if _still_reading(db, therapist_id, now):
            # Half a calendar could show a miss without the new time booked on a later
            # page: nothing is decided until the listing is in, one cycle or so.
            return [f"therapist {therapist_id}: follow-up waits until the calendar is read"]
        if not dry_run:
            link_patients(db, therapist_id, now)
        inputs = load_inputs(db, therapist_id, now)
        if inputs is None:
            return []
        withdrawn = [] if dry_run else withdraw_superseded(db, inputs, now)
        due = pending(db, therapist_id, decisions_for(inputs, now), inputs.follow_ups_from)
    if dry_run:
        return [f"therapist {therapist_id}: would act: {d.explanation}" for d, _ in due]
    effects = Effects(runtime, inputs, now)
    lines: list[str] = list(withdrawn)
    reminders: list[tuple[Decision, PlannedAction]] = []
    # One error boundary per session: a session that cannot be handled is set aside (and
    # tried again next cycle), never stopping the therapist's other sessions.
    for decision, actions in due:
        if decision.session.ref in inputs.contested:
            work = partial(effects.set_aside_contested, decision, actions)
            lines.append(_guarded(runtime, inputs, [(decision, actions)], work, now))
            continue
        reminders += [
            (decision, a) for a in actions if a.kind is ActionKind.REMIND_THERAPIST_TO_MARK
        ]
        rest = [a for a in actions if a.kind is not ActionKind.REMIND_THERAPIST_TO_MARK]
        if rest:
            work = partial(effects.apply, decision, rest)
            lines.append(_guarded(runtime, inputs, [(decision, rest)], work, now))
    if reminders:
        work = partial(effects.remind_to_mark, reminders)
        lines.append(_guarded(runtime, inputs, [(d, [a]) for d, a in reminders], work, now))
    return [f"therapist {therapist_id}: {line}" for line in lines if line]


def _guarded(
    runtime: Runtime,
    inputs: Inputs,
    items: list[tuple[Decision, list[PlannedAction]]],
    work: Callable[[], str],
    now: datetime,
) -> str:
    """Run ``work`` (one session's effects, or one reminder); a failure is set aside.

    Each piece of work records its actions in one transaction, so a failure leaves nothing
    half done. When another worker recorded the same actions meanwhile (two cycles at once),
    losing the race is a quiet no-op. Any other failure is logged without personal data and
    the therapist is told once, in plain words; the next cycle tries again.
    """
    therapist_id = inputs.therapist.id
    try:
        return work()
    except Exception as exc:
        database: Database = runtime.database
        keys = {a.idempotency_key for _, actions in items for a in actions}
        with database.transaction() as db:
            if isinstance(exc, IntegrityError) and _any_recorded(db, therapist_id, keys):
                log.info("therapist %s: a session was done by another worker", therapist_id)
                return ""
            log.error(
                "therapist %s: a follow-up could not be recorded (%s); tried again next cycle",
                therapist_id,
                type(exc).__name__,
            )
            when = when_words(min(d.session.start for d, _ in items), inputs.zone)
            notify_once(
                db,
                therapist_id,
                "follow_up_failed",
                f"The follow-up for the session on {when} could not be prepared because of an "
                "unexpected problem, so nothing was sent for it yet. It is tried again at every "
                "cycle; if this stays here, please tell us.",
                now,
            )
        return "a session's follow-up failed; set aside and tried again next cycle"


def _any_recorded(db: DbSession, therapist_id: int, keys: set[str]) -> bool:
    """Whether another worker recorded some of these actions (it records the same ones)."""
    found = db.scalar(
        select(FollowUpAction.id)
        .where(FollowUpAction.therapist_id == therapist_id, FollowUpAction.key.in_(keys))
        .limit(1)
    )
    return found is not None


def release_fees_one(runtime: Runtime, therapist_id: int, *, now: datetime) -> list[str]:
    """Put on the ledger the therapist's held fees whose follow-up went (after the emails)."""
    with runtime.database.transaction() as db:
        count = release_fees(db, therapist_id, now)
    if not count:
        return []
    return [f"therapist {therapist_id}: {count} fee(s) recorded with their follow-up"]


def follow_up_all(runtime: Runtime, *, now: datetime, dry_run: bool) -> list[str]:
    """Follow up for every connected therapist; one failure never stops the others."""
    database: Database = runtime.database
    with database.transaction() as db:
        ids = list(
            db.scalars(
                select(GoogleConnection.therapist_id).where(
                    GoogleConnection.status == ConnectionStatus.ACTIVE
                )
            )
        )
    lines: list[str] = []
    for therapist_id in ids:
        lines += follow_up_one(runtime, therapist_id, now=now, dry_run=dry_run)
    return lines


def follow_up_one(
    runtime: Runtime, therapist_id: int, *, now: datetime, dry_run: bool
) -> list[str]:
    """:func:`follow_up_therapist`, with any failure logged (by kind) and retried next cycle."""
    try:
        return follow_up_therapist(runtime, therapist_id, now=now, dry_run=dry_run)
    except Exception as exc:
        log.error(
            "therapist %s: follow-up failed (%s); will retry next cycle",
            therapist_id,
            type(exc).__name__,
        )
        return [f"therapist {therapist_id}: follow-up failed, retried next cycle"]
