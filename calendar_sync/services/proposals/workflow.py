"""Offering a new time in the calendar after a missed session, and following the answer.

The orchestration calls :func:`plan_proposal` inside its own transaction (the intent is
recorded, nothing is sent) and :func:`advance_proposals` once a cycle. Each row is one
attempt; its event id is derived from the action's idempotency key and the attempt number,
so after a crash anywhere the next cycle repeats the step harmlessly and never creates a
second event (see ``proposal_steps``). The patient's page uses :func:`times_to_choose` and
:func:`choose_time`. States and the reasoning are in ``docs/reschedule.md``.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ...domain.decisions import idempotency_key
from ...domain.policy import ActionKind
from ...domain.sessions import Session
from ...domain.slots import Slot, answer_deadline, has_session_soon
from ...google import GoogleApiError, ReauthorizationNeeded
from ...google.event_writes import move_event
from ...storage import Database
from ...storage.models import CalendarEventRow, CalendarRow, RescheduleProposal
from .. import notices
from ..followup.hold import conversation_email, withdraw
from ..outbox.dispatch import MessageStatus
from ..runtime import Runtime
from ..schedule import mark_changed
from .context import (
    OPEN_STATES,
    Context,
    ProposalState,
    Sleep,
    conflicts,
    load_context,
    proposal_event_id,
    rules_for,
    words_for_error,
)
from .steps import PURPOSE, choose, free_slots, offer, replace_declined, step

log = logging.getLogger(__name__)

# How long an email naming a chosen time waits for Google to take the invitation, once the
# hold is over, before it is written again without the time.
PLACEMENT_WAIT = timedelta(minutes=30)
# How far it is pushed back at each failed try in between.
RETRY_PLACEMENT = timedelta(minutes=5)

__all__ = [
    "PURPOSE",
    "ProposalState",
    "advance_proposals",
    "choose_time",
    "choose_times",
    "next_moment",
    "plan_proposal",
    "proposal_event_id",
    "times_to_choose",
]


def plan_proposal(
    db: DbSession,
    *,
    therapist_id: int,
    session: Session,
    patient_email: str,
    key: str,
    now: datetime,
    release_at: datetime,
) -> int | None:
    """Record the intent to offer a new time for a missed session; returns the proposal id.

    The time is chosen at the next step; the invitation is placed no sooner than
    ``release_at``, and only with the patient's email (see ``followup.hold``).

    Runs inside the caller's transaction and calls nothing outside. None (nothing recorded)
    when a proposal for this miss exists already, or the patient has a session (or an
    accepted new time) starting within the rules' skip window.
    """
    exists = db.scalar(
        select(RescheduleProposal.id).where(
            RescheduleProposal.therapist_id == therapist_id, RescheduleProposal.key == key
        )
    )
    if exists is not None:
        return None
    rules = rules_for(db, therapist_id)
    if has_session_soon(_upcoming(db, therapist_id, patient_email, now), rules, now):
        return None
    row = _new_row(therapist_id, key, session.calendar_id, session.event_id, 1, now)
    row.release_at = release_at
    row.missed_start, row.missed_end, row.patient_email = session.start, session.end, patient_email
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        return None  # planned at the same moment by another worker
    return int(row.id)


def _new_row(
    therapist_id: int, key: str, calendar_id: str, event_id: str, attempt: int, now: datetime
) -> RescheduleProposal:
    return RescheduleProposal(
        therapist_id=therapist_id,
        key=key,
        missed_calendar_id=calendar_id,
        missed_event_id=event_id,
        calendar_id=calendar_id,
        event_id=proposal_event_id(key, attempt),
        attempt=attempt,
        state=ProposalState.PLANNED,
        alternatives_json="[]",
        created_at=now,
        updated_at=now,
    )


def _upcoming(db: DbSession, therapist_id: int, email: str, now: datetime) -> list[datetime]:
    sessions = db.scalars(
        select(CalendarEventRow.start)
        .join(CalendarRow, CalendarRow.id == CalendarEventRow.calendar_row_id)
        .where(
            CalendarRow.therapist_id == therapist_id,
            func.lower(CalendarEventRow.patient_email) == email.lower(),
            CalendarEventRow.is_session.is_(True),
            CalendarEventRow.cancelled_at.is_(None),
            CalendarEventRow.start >= now,
        )
    )
    accepted = db.scalars(
        select(RescheduleProposal.slot_start).where(
            RescheduleProposal.therapist_id == therapist_id,
            func.lower(RescheduleProposal.patient_email) == email.lower(),
            RescheduleProposal.state == ProposalState.ACCEPTED,
        )
    )
    return [s for s in [*sessions, *accepted] if s is not None]


def advance_proposals(
    runtime: Runtime,
    therapist_id: int,
    now: datetime,
    dry_run: bool = False,
    *,
    sleep: Sleep = time.sleep,
    calendars_changed: bool = True,
) -> list[str]:
    """Move every open proposal of the therapist on by what happened; report lines.

    With ``dry_run`` nothing is called or written. A Google failure on one proposal is
    recorded on it (``last_error``) and does not stop the others. Without
    ``calendars_changed`` (no sync brought anything, nothing was marked or answered) an
    offer waiting for its answer is left alone until its deadline: Google is not asked
    whether its time is still free when nothing could have taken it.

    :raises ReauthorizationNeeded: the therapist's Google access is gone.
    """
    database: Database = runtime.database
    with database.transaction() as db:
        query = select(RescheduleProposal).where(
            RescheduleProposal.therapist_id == therapist_id,
            RescheduleProposal.state.in_(OPEN_STATES),
        )
        if not calendars_changed:
            # Nothing was heard from the calendars: an offer is looked at again only when
            # its deadline came or its last step failed; one still planned, always.
            query = query.where(
                (RescheduleProposal.state == ProposalState.PLANNED)
                | (RescheduleProposal.answer_deadline <= now)
                | RescheduleProposal.last_error.is_not(None)
            )
        rows = list(db.scalars(query.order_by(RescheduleProposal.id)))
        if calendars_changed:
            rows += _declined_after_accepting(db, therapist_id, now)
    if dry_run:
        return [_describe(row, now) for row in rows]
    if not rows:
        return []
    apis = runtime.connections.apis(therapist_id, now)
    lines: list[str] = []
    queue = [row.id for row in rows]
    while queue:
        proposal_id = queue.pop(0)
        try:
            with database.transaction() as db:
                context = load_context(db, runtime, apis, proposal_id, now, sleep)
            unchosen = context.row.state == ProposalState.PLANNED and context.row.slot_start is None
            found, follow_up = step(database, context, now)
            if unchosen and context.row.slot_start is not None:
                # Its email waited for this time: the follow-up writes it at the next run.
                with database.transaction() as db:
                    mark_changed(db, therapist_id)
        except GoogleApiError as exc:
            log.warning("proposal %s: Google failed: %s %s", proposal_id, exc.status, exc.reason)
            found, follow_up = [_failed(database, proposal_id, exc, now)], None
        lines.extend(found)
        if follow_up is not None:
            queue.append(follow_up)
    return lines


def choose_times(
    runtime: Runtime, therapist_id: int, now: datetime, *, sleep: Sleep = time.sleep
) -> list[str]:
    """Choose the time of each planned proposal that has none yet (nothing is placed).

    The follow-up calls it right after planning, so the patient's email can name the
    time. A failure is recorded on the proposal and tried again by the proposals step.
    """
    database: Database = runtime.database
    with database.transaction() as db:
        ids = list(
            db.scalars(
                select(RescheduleProposal.id)
                .where(
                    RescheduleProposal.therapist_id == therapist_id,
                    RescheduleProposal.state == ProposalState.PLANNED,
                    RescheduleProposal.slot_start.is_(None),
                )
                .order_by(RescheduleProposal.id)
            )
        )
    if not ids:
        return []
    lines: list[str] = []
    try:
        apis = runtime.connections.apis(therapist_id, now)
    except ReauthorizationNeeded:
        return [f"therapist {therapist_id}: new times wait for Google access"]
    for proposal_id in ids:
        try:
            with database.transaction() as db:
                context = load_context(db, runtime, apis, proposal_id, now, sleep)
            lines += choose(database, context, now)
        except GoogleApiError as exc:
            log.warning("proposal %s: Google failed: %s %s", proposal_id, exc.status, exc.reason)
            lines.append(_failed(database, proposal_id, exc, now))
    return lines


def next_moment(db: DbSession, therapist_id: int, now: datetime) -> datetime | None:
    """When the therapist's open proposals next need a step without any change: a time to
    choose or a failed step (at once), a hold ending, an answer's deadline."""
    moments: list[datetime] = []
    for state, slot_start, release_at, deadline, error in db.execute(
        select(
            RescheduleProposal.state,
            RescheduleProposal.slot_start,
            RescheduleProposal.release_at,
            RescheduleProposal.answer_deadline,
            RescheduleProposal.last_error,
        ).where(
            RescheduleProposal.therapist_id == therapist_id,
            RescheduleProposal.state.in_(OPEN_STATES),
        )
    ):
        if error is not None or (state == ProposalState.PLANNED and slot_start is None):
            moments.append(now)
        elif state == ProposalState.PLANNED and release_at is not None and release_at > now:
            moments.append(release_at)
        elif state == ProposalState.PROPOSED and deadline is not None:
            moments.append(deadline)
    return min(moments, default=None)


def _declined_after_accepting(
    db: DbSession, therapist_id: int, now: datetime
) -> list[RescheduleProposal]:
    """Accepted times the patient has since declined in their calendar, still ahead.

    Once the time has started, the answer no longer reschedules anything: the therapist
    marks what happened, as for any appointment.
    """
    return list(
        db.scalars(
            select(RescheduleProposal)
            .join(
                CalendarRow,
                (CalendarRow.therapist_id == RescheduleProposal.therapist_id)
                & (CalendarRow.google_calendar_id == RescheduleProposal.calendar_id),
            )
            .join(
                CalendarEventRow,
                (CalendarEventRow.calendar_row_id == CalendarRow.id)
                & (CalendarEventRow.event_id == RescheduleProposal.event_id),
            )
            .where(
                RescheduleProposal.therapist_id == therapist_id,
                RescheduleProposal.state == ProposalState.ACCEPTED,
                RescheduleProposal.slot_start > now,
                CalendarEventRow.patient_response == "declined",
            )
            .order_by(RescheduleProposal.id)
        )
    )


def _failed(database: Database, proposal_id: int, exc: GoogleApiError, now: datetime) -> str:
    words = words_for_error(exc)
    with database.transaction() as db:
        row = db.get_one(RescheduleProposal, proposal_id)
        row.last_error, row.updated_at = words, now
        if row.state == ProposalState.PLANNED and row.slot_start is not None:
            _hold_back_email(db, row, now)
    return f"proposal {proposal_id}: not advanced ({words})"


def _hold_back_email(db: DbSession, row: RescheduleProposal, now: datetime) -> None:
    """An email naming a time that could not be placed must not go as it is.

    It waits a few minutes for the next try; past ``PLACEMENT_WAIT`` it is withdrawn, and
    the follow-up writes it again without the time (``unplaceable``), after a new hold.
    """
    email = conversation_email(db, row.therapist_id, row.missed_calendar_id, row.missed_event_id)
    if email is None or not (
        email.status == MessageStatus.PENDING and email.not_before <= now + RETRY_PLACEMENT
    ):
        return
    if row.release_at is not None and email.created_at >= row.release_at + PLACEMENT_WAIT:
        return  # written once the time was given up on: it does not name it
    if unplaceable(row, now):
        withdraw(
            db,
            row.therapist_id,
            row.missed_calendar_id,
            row.missed_event_id,
            now,
            "The new time it named could not be offered; it is written again without it.",
            emails_only=True,
        )
        mark_changed(db, row.therapist_id)
    else:
        email.not_before, email.updated_at = now + RETRY_PLACEMENT, now


def unplaceable(row: RescheduleProposal, now: datetime) -> bool:
    """A chosen time Google would not take for this long after its hold: not worth naming."""
    return (
        row.state == ProposalState.PLANNED
        and row.last_error is not None
        and row.release_at is not None
        and now - row.release_at >= PLACEMENT_WAIT
    )


def _describe(row: RescheduleProposal, now: datetime) -> str:
    head = f"proposal {row.id}"
    if row.state == ProposalState.PLANNED:
        return f"{head}: would offer a new time in the calendar (attempt {row.attempt})"
    if row.state == ProposalState.ACCEPTED:
        return f"{head}: would follow the patient's decline of the time they had accepted"
    if row.answer_deadline is not None and row.answer_deadline <= now:
        return f"{head}: would withdraw the offer, unanswered by the deadline"
    return f"{head}: would follow the patient's answer and check the time is still free"


def _latest(
    db: DbSession, therapist_id: int, calendar_id: str, event_id: str
) -> RescheduleProposal | None:
    return db.scalar(
        select(RescheduleProposal)
        .where(
            RescheduleProposal.therapist_id == therapist_id,
            RescheduleProposal.missed_calendar_id == calendar_id,
            RescheduleProposal.missed_event_id == event_id,
        )
        .order_by(RescheduleProposal.attempt.desc())
        .limit(1)
    )


def _context_for_choice(
    runtime: Runtime,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    now: datetime,
    sleep: Sleep,
) -> Context | None:
    """The proposal a patient's choice applies to; a new attempt when none is open.

    None when the missed session is unknown (never synced, or without an invited patient).
    """
    database: Database = runtime.database
    apis = runtime.connections.apis(therapist_id, now)
    with database.transaction() as db:
        row = _latest(db, therapist_id, calendar_id, event_id)
        if row is None or row.state not in OPEN_STATES:
            missed = db.scalar(
                select(CalendarEventRow)
                .join(CalendarRow, CalendarRow.id == CalendarEventRow.calendar_row_id)
                .where(
                    CalendarRow.therapist_id == therapist_id,
                    CalendarRow.google_calendar_id == calendar_id,
                    CalendarEventRow.event_id == event_id,
                )
            )
            if missed is None or missed.start is None or missed.end is None:
                return None
            if not missed.patient_email:
                return None
            key = (
                row.key
                if row
                else idempotency_key(
                    therapist_id, calendar_id, event_id, ActionKind.PROPOSE_RESCHEDULE
                )
            )
            attempt = row.attempt + 1 if row else 1
            row = _new_row(therapist_id, key, calendar_id, event_id, attempt, now)
            row.missed_start, row.missed_end = missed.start, missed.end
            row.patient_email = missed.patient_email
            db.add(row)
            db.flush()
        proposal_id = row.id
    with database.transaction() as db:
        return load_context(db, runtime, apis, proposal_id, now, sleep)


def times_to_choose(
    runtime: Runtime,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    now: datetime,
    *,
    sleep: Sleep = time.sleep,
) -> list[Slot]:
    """The times a patient may pick for a missed session, best first.

    The other times of the open offer; when there is none, fresh ones from the slot finder.

    :raises GoogleApiError: when Google cannot tell which times are free.
    """
    database: Database = runtime.database
    with database.transaction() as db:
        row = _latest(db, therapist_id, calendar_id, event_id)
        if row is not None and row.state == ProposalState.PROPOSED:
            return [Slot.from_json(item) for item in json.loads(row.alternatives_json or "[]")]
    context = _context_for_choice(runtime, therapist_id, calendar_id, event_id, now, sleep)
    if context is None:
        return []
    return free_slots(context, now)


def choose_time(
    runtime: Runtime,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    slot: Slot,
    now: datetime,
    *,
    sleep: Sleep = time.sleep,
) -> bool:
    """The patient picked ``slot``: move (or create) our invitation there, as accepted.

    Google tells the patient (sendUpdates=all). False, with nothing changed, when the time
    is no longer among those offered or no longer free.

    :raises GoogleApiError: when Google fails.
    """
    if slot not in times_to_choose(runtime, therapist_id, calendar_id, event_id, now, sleep=sleep):
        return False
    context = _context_for_choice(runtime, therapist_id, calendar_id, event_id, now, sleep)
    if context is None or conflicts(context, slot):
        return False
    database: Database = runtime.database
    if context.row.state == ProposalState.PROPOSED and context.response == "declined":
        replaced = replace_declined(database, context, now)
        if replaced is None:
            return False
        with database.transaction() as db:
            context = load_context(db, runtime, context.apis, replaced, now, sleep)
    row = context.row
    if row.state == ProposalState.PLANNED:
        offer(database, context, now, chosen=slot)
    else:
        move_event(
            context.apis,
            row.calendar_id,
            row.event_id,
            slot.start,
            slot.end,
            context.zone.key,
            sleep=sleep,
        )
    with database.transaction() as db:
        stored = db.get_one(RescheduleProposal, row.id)
        stored.state, stored.slot_start, stored.slot_end = (
            ProposalState.ACCEPTED,
            slot.start,
            slot.end,
        )
        stored.answer_deadline = answer_deadline(context.rules, slot, now)
        stored.updated_at, stored.last_error = now, None
        mark_changed(db, therapist_id)
        notices.notify(
            db,
            therapist_id,
            notices.PATIENT_CHOSE_TIME,
            f"For the session of {context.local(row.missed_start)}, the patient chose "
            f"{context.local(slot.start)} on their page; the invitation was moved there.",
            now,
            about=(row.missed_calendar_id, row.missed_event_id),
        )
    return True
