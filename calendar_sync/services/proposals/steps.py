"""One step of one reschedule proposal: offer, follow the answer, expire, or move.

Each step does its Google call first and then moves the row on with a conditional update
(``WHERE state = <the state we read>``): a crash between the two leaves the row where it
was, and repeating the call is harmless (our own id on insert, 410 on a second delete, the
same time on a second patch). Two workers advancing together cannot both move a row on.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ...domain.slots import Slot, answer_deadline, find_slots
from ...google.event_writes import cancel_event, insert_event, move_event
from ...google.events import find_event
from ...storage import Database
from ...storage.models import CalendarRow, CreatedEvent, RescheduleProposal
from .. import notices
from ..followup.hold import Gate, gate, withdraw
from ..patients.links import CHOOSE_TIME, issue_link
from ..schedule import mark_changed
from ..sync.event_store import record_created_event
from .context import (
    Context,
    ProposalState,
    busy,
    conflicts,
    description,
    proposal_event_id,
    summary,
)

PURPOSE = "reschedule_proposal"
#: How many other times are kept for the patient's page.
ALTERNATIVES = 3

Result = tuple[list[str], int | None]


def _move_on(database: Database, row: RescheduleProposal, now: datetime, **values: Any) -> bool:
    """Set ``values`` if the row is still in the state we read; False if another got there."""
    with database.transaction() as db:
        result = db.execute(
            update(RescheduleProposal)
            .where(RescheduleProposal.id == row.id, RescheduleProposal.state == row.state)
            .values(updated_at=now, last_error=None, **values)
        )
        return bool(getattr(result, "rowcount", 0))


def _tell(database: Database, context: Context, kind: str, text: str, now: datetime) -> None:
    with database.transaction() as db:
        notices.notify(db, context.row.therapist_id, kind, text, now, about=_missed(context.row))


def _missed(row: RescheduleProposal) -> tuple[str, str]:
    """The missed session a proposal is for: what its notices are about."""
    return (row.missed_calendar_id, row.missed_event_id)


def step(database: Database, context: Context, now: datetime) -> Result:
    """Advance one proposal; returns report lines and the id of a follow-up proposal.

    An accepted proposal is stepped only when the patient has since declined it.
    """
    if context.row.state == ProposalState.PLANNED:
        lines = []
        if context.row.slot_start is None or context.row.slot_end is None:
            lines = choose(database, context, now)
        if context.row.slot_start is not None and context.row.state == ProposalState.PLANNED:
            # Chosen now or before: placed at once when nothing holds it any more.
            lines += place(database, context, now)
        return lines, None
    if context.row.state == ProposalState.ACCEPTED:
        if context.response == "declined":
            return declined(database, context, now)
        return [], None
    return follow(database, context, now)


def _no_slot(database: Database, context: Context, now: datetime) -> list[str]:
    row, head = context.row, f"proposal {context.row.id}"
    missed = context.local(row.missed_start)
    if _move_on(database, row, now, state=ProposalState.NO_SLOT):
        row.state = ProposalState.NO_SLOT
        _tell(
            database,
            context,
            notices.PROPOSAL_NO_SLOT,
            f"No free time was found to offer for the session of {missed}; "
            "you may want to get in touch yourself.",
            now,
        )
    return [f"{head}: no free time to offer for the session of {missed}"]


def choose(database: Database, context: Context, now: datetime) -> list[str]:
    """Choose the time to offer, so the email can name it while both wait out the hold.

    ``planned`` without a time -> ``planned`` with one (nothing is written to Google).
    """
    row, head = context.row, f"proposal {context.row.id}"
    slots = free_slots(context, now)
    if not slots:
        return _no_slot(database, context, now)
    first, others = slots[0], slots[1:]
    chosen = _move_on(
        database,
        row,
        now,
        slot_start=first.start,
        slot_end=first.end,
        alternatives_json=json.dumps([s.to_json() for s in others]),
    )
    if not chosen:
        return []
    row.slot_start, row.slot_end = first.start, first.end
    row.alternatives_json = json.dumps([s.to_json() for s in others])
    return [
        f"{head}: {context.local(first.start)} chosen for the session of "
        f"{context.local(row.missed_start)}; it is offered when the follow-up goes"
    ]


def place(database: Database, context: Context, now: datetime) -> list[str]:
    """Invite the patient to the chosen time once the follow-up's hold is over.

    A follow-up the therapist cancelled withdraws the offer unplaced. A time taken while it
    waited is chosen anew, and an email naming the old one is written again, so both wait a
    new hold rather than tell the patient a time they cannot have.
    """
    row, head = context.row, f"proposal {context.row.id}"
    assert row.slot_start is not None and row.slot_end is not None
    with database.transaction() as db:
        state = gate(
            db, row.therapist_id, row.missed_calendar_id, row.missed_event_id, row.release_at, now
        )
    if state is Gate.WAITING:
        return []
    if state is Gate.STOPPED:
        _move_on(database, row, now, state=ProposalState.WITHDRAWN)
        return [f"{head}: the follow-up was cancelled, so no new time is offered"]
    slot = Slot(row.slot_start, row.slot_end)
    if conflicts(context, slot):
        with database.transaction() as db:
            withdraw(
                db,
                row.therapist_id,
                row.missed_calendar_id,
                row.missed_event_id,
                now,
                "The time it named was taken meanwhile; a new email names another.",
                emails_only=True,
            )
            mark_changed(db, row.therapist_id)
        _move_on(
            database,
            row,
            now,
            slot_start=None,
            slot_end=None,
            release_at=now + context.hold,
        )
        return [f"{head}: the chosen time was taken while it waited; choosing another"]
    others = [Slot.from_json(item) for item in json.loads(row.alternatives_json or "[]")]
    return offer(database, context, now, chosen=slot, others=others)


def free_slots(context: Context, now: datetime) -> list[Slot]:
    rules = context.rules
    spans = busy(context, now, now + rules.horizon + context.length + rules.buffer)
    return find_slots(
        context.length,
        rules,
        context.zone,
        spans,
        now,
        context.row.missed_start,
        1 + ALTERNATIVES,
    )


def _remember_ours(db: DbSession, calendar_row_id: int, event_id: str, now: datetime) -> None:
    """Record our event once; another worker offering the same attempt may have done it."""
    if db.scalar(
        select(CreatedEvent.id).where(
            CreatedEvent.calendar_row_id == calendar_row_id, CreatedEvent.event_id == event_id
        )
    ):
        return
    calendar = db.get_one(CalendarRow, calendar_row_id)
    try:
        with db.begin_nested():
            record_created_event(db, calendar, event_id, PURPOSE, now)
    except IntegrityError:
        pass  # recorded a moment ago by another worker: the same event, ours either way


def offer(
    database: Database,
    context: Context,
    now: datetime,
    *,
    chosen: Slot | None = None,
    others: list[Slot] | None = None,
) -> list[str]:
    """Invite the patient to ``chosen`` (or the first free time), ``others`` for their page.

    ``planned`` -> ``proposed``.
    """
    row, head = context.row, f"proposal {context.row.id}"
    missed = context.local(row.missed_start)
    slots = [chosen, *(others or [])] if chosen is not None else free_slots(context, now)
    if not slots:
        return _no_slot(database, context, now)
    first, others = slots[0], slots[1:]
    deadline = answer_deadline(context.rules, first, now)
    with database.transaction() as db:
        if context.calendar_row_id is not None:
            # Before the calendar hears of it, so a sync never takes it for someone else's.
            _remember_ours(db, context.calendar_row_id, row.event_id, now)
        link = None
        if others:
            link = issue_link(
                db,
                therapist_id=row.therapist_id,
                calendar_id=row.missed_calendar_id,
                event_id=row.missed_event_id,
                purpose=CHOOSE_TIME,
                now=now,
                config=context.runtime.config,
            )
    event, _created = insert_event(
        context.apis,
        row.calendar_id,
        row.event_id,
        first.start,
        first.end,
        context.zone.key,
        summary(context),
        description(context, deadline, link),
        row.patient_email,
        sleep=context.sleep,
    )
    if event.cancelled or event.start is None or event.end is None:
        # Our event for this attempt exists but was deleted: someone removed the offer.
        _move_on(database, row, now, state=ProposalState.WITHDRAWN)
        return [f"{head}: the offer was removed from the calendar; nothing more is done"]
    slot = Slot(event.start, event.end)
    moved = _move_on(
        database,
        row,
        now,
        state=ProposalState.PROPOSED,
        slot_start=slot.start,
        slot_end=slot.end,
        alternatives_json=json.dumps([s.to_json() for s in others if s != slot]),
        answer_deadline=answer_deadline(context.rules, slot, now),
    )
    if not moved:
        return []
    return [f"{head}: offered {context.local(slot.start)} for the session of {missed}"]


def follow(database: Database, context: Context, now: datetime) -> Result:
    """Follow the patient's answer, the deadline, and conflicts (``proposed`` -> ...)."""
    row, head = context.row, f"proposal {context.row.id}"
    missed = context.local(row.missed_start)
    assert row.slot_start is not None and row.slot_end is not None
    offered = context.local(row.slot_start)
    if context.response == "accepted":
        if _move_on(database, row, now, state=ProposalState.ACCEPTED):
            _tell(
                database,
                context,
                notices.PROPOSAL_ACCEPTED,
                f"The new time {offered} offered for the session of {missed} was accepted.",
                now,
            )
            return [f"{head}: {offered} was accepted"], None
        return [], None
    if context.response == "declined":
        return declined(database, context, now)
    if context.synced_cancelled:
        _move_on(database, row, now, state=ProposalState.WITHDRAWN)
        return [f"{head}: the offer was removed from the calendar; nothing more is done"], None
    if row.answer_deadline is not None and row.answer_deadline <= now:
        cancel_event(context.apis, row.calendar_id, row.event_id, sleep=context.sleep)
        if _move_on(database, row, now, state=ProposalState.EXPIRED):
            _tell(
                database,
                context,
                notices.PROPOSAL_EXPIRED,
                f"The new time {offered} offered for the session of {missed} got no answer in "
                "time; the invitation was withdrawn. You may want to get in touch yourself.",
                now,
            )
        return [
            f"{head}: no answer by the deadline; the invitation to {offered} was withdrawn"
        ], None
    return still_free(database, context, now), None


def declined(database: Database, context: Context, now: datetime) -> Result:
    """The patient said no: free the time quietly and offer the next one, up to the maximum.

    Also when they said no after accepting (in their calendar, or by picking the time on
    their page): the therapist, told of the acceptance, is told of the change too.
    """
    row, head = context.row, f"proposal {context.row.id}"
    missed = context.local(row.missed_start)
    after_accepting = row.state == ProposalState.ACCEPTED
    # They declined already; Google need not write to them about removing it.
    cancel_event(
        context.apis, row.calendar_id, row.event_id, send_updates="none", sleep=context.sleep
    )
    last = row.attempt >= context.rules.max_proposals
    with database.transaction() as db:
        result = db.execute(
            update(RescheduleProposal)
            .where(RescheduleProposal.id == row.id, RescheduleProposal.state == row.state)
            .values(
                state=ProposalState.EXHAUSTED if last else ProposalState.DECLINED,
                updated_at=now,
                last_error=None,
            )
        )
        if not getattr(result, "rowcount", 0):
            return [], None
        if after_accepting:
            assert row.slot_start is not None
            offered = context.local(row.slot_start)
            notices.notify(
                db,
                row.therapist_id,
                notices.PROPOSAL_DECLINED_AFTER_ACCEPTING,
                f"The new time {offered} for the session of {missed} was accepted, then "
                "declined; the time is free again. "
                + (
                    "It was the last time offered, so no more are. You may want to get in "
                    "touch yourself."
                    if last
                    else "Another time is being offered."
                ),
                now,
                about=_missed(row),
            )
        elif last:
            notices.notify(
                db,
                row.therapist_id,
                notices.PROPOSAL_EXHAUSTED,
                f"The {row.attempt} new times offered for the session of {missed} were all "
                "declined; no more are offered. You may want to get in touch yourself.",
                now,
                about=_missed(row),
            )
        what = "declined after being accepted" if after_accepting else "declined"
        if last:
            return [f"{head}: {what}; that was the last time offered"], None
        # Another invitation: it too waits, visible, before it goes.
        follow_up = next_attempt(db, row, now, now + context.hold)
    return [f"{head}: {what}; offering another time"], follow_up


def next_attempt(
    db: DbSession, row: RescheduleProposal, now: datetime, release_at: datetime
) -> int:
    """Plan the attempt after ``row`` (same miss, same patient); returns its id.

    Its invitation is placed no sooner than ``release_at``.
    """
    follow_up = RescheduleProposal(
        therapist_id=row.therapist_id,
        key=row.key,
        missed_calendar_id=row.missed_calendar_id,
        missed_event_id=row.missed_event_id,
        missed_start=row.missed_start,
        missed_end=row.missed_end,
        patient_email=row.patient_email,
        calendar_id=row.calendar_id,
        event_id=proposal_event_id(row.key, row.attempt + 1),
        attempt=row.attempt + 1,
        state=ProposalState.PLANNED,
        alternatives_json="[]",
        release_at=release_at,
        created_at=now,
        updated_at=now,
    )
    db.add(follow_up)
    db.flush()
    return int(follow_up.id)


def replace_declined(database: Database, context: Context, now: datetime) -> int | None:
    """The patient said no to the offered time, then picked another on their page.

    Their no has not been followed yet: the declined event is removed quietly and a new
    attempt is planned for the time they picked, so that its invitation carries their answer
    to that time, never the earlier no. Returns the new attempt's id (None: another worker
    moved the row on first).
    """
    row = context.row
    cancel_event(
        context.apis, row.calendar_id, row.event_id, send_updates="none", sleep=context.sleep
    )
    with database.transaction() as db:
        result = db.execute(
            update(RescheduleProposal)
            .where(RescheduleProposal.id == row.id, RescheduleProposal.state == row.state)
            .values(state=ProposalState.DECLINED, updated_at=now, last_error=None)
        )
        if not getattr(result, "rowcount", 0):
            return None
        # The patient picked this time themselves: it goes at once.
        return next_attempt(db, row, now, now)


def still_free(database: Database, context: Context, now: datetime) -> list[str]:
    """Before an answer: if the offered time was taken meanwhile, move to the next free one."""
    row, head = context.row, f"proposal {context.row.id}"
    current = find_event(
        context.apis, row.calendar_id, row.event_id, context.zone.key, sleep=context.sleep
    )
    if current is None or current.cancelled or current.start is None or current.end is None:
        _move_on(database, row, now, state=ProposalState.WITHDRAWN)
        return [f"{head}: the offer was removed from the calendar; nothing more is done"]
    slot = Slot(current.start, current.end)
    if not conflicts(context, slot):
        if (slot.start, slot.end) != (row.slot_start, row.slot_end):
            _move_on(database, row, now, slot_start=slot.start, slot_end=slot.end)
        return []
    choices = [s for s in free_slots(context, now) if not s.overlaps(slot.start, slot.end)]
    if not choices:
        cancel_event(context.apis, row.calendar_id, row.event_id, sleep=context.sleep)
        if _move_on(database, row, now, state=ProposalState.NO_SLOT):
            _tell(
                database,
                context,
                notices.PROPOSAL_NO_SLOT,
                f"The time offered for the session of {context.local(row.missed_start)} was "
                "taken and no other free time was found; the invitation was withdrawn.",
                now,
            )
        return [f"{head}: the offered time was taken and nothing else is free; withdrawn"]
    new = choices[0]
    move_event(
        context.apis,
        row.calendar_id,
        row.event_id,
        new.start,
        new.end,
        context.zone.key,
        sleep=context.sleep,
    )
    _move_on(
        database,
        row,
        now,
        slot_start=new.start,
        slot_end=new.end,
        alternatives_json=json.dumps([s.to_json() for s in choices[1:]]),
        answer_deadline=answer_deadline(context.rules, new, now),
    )
    return [f"{head}: the offered time was taken; moved to {context.local(new.start)}"]
