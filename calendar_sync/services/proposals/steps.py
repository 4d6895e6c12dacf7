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
from ..patients.links import CHOOSE_TIME, issue_link
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
        notices.notify(db, context.row.therapist_id, kind, text, now)


def step(database: Database, context: Context, now: datetime) -> Result:
    """Advance one proposal; returns report lines and the id of a follow-up proposal."""
    if context.row.state == ProposalState.PLANNED:
        return offer(database, context, now), None
    return follow(database, context, now)


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
    database: Database, context: Context, now: datetime, *, chosen: Slot | None = None
) -> list[str]:
    """Find a free time (or use ``chosen``) and invite the patient to it.

    ``planned`` -> ``proposed``.
    """
    row, head = context.row, f"proposal {context.row.id}"
    missed = context.local(row.missed_start)
    slots = [chosen] if chosen is not None else free_slots(context, now)
    if not slots:
        if _move_on(database, row, now, state=ProposalState.NO_SLOT):
            _tell(
                database,
                context,
                notices.PROPOSAL_NO_SLOT,
                f"No free time was found to offer for the session of {missed}; "
                "you may want to get in touch yourself.",
                now,
            )
        return [f"{head}: no free time to offer for the session of {missed}"]
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
    """The patient said no: free the time quietly and offer the next one, up to the maximum."""
    row, head = context.row, f"proposal {context.row.id}"
    missed = context.local(row.missed_start)
    # They declined already; Google need not write to them about removing it.
    cancel_event(
        context.apis, row.calendar_id, row.event_id, send_updates="none", sleep=context.sleep
    )
    last = row.attempt >= context.rules.max_proposals
    with database.transaction() as db:
        result = db.execute(
            update(RescheduleProposal)
            .where(
                RescheduleProposal.id == row.id, RescheduleProposal.state == ProposalState.PROPOSED
            )
            .values(
                state=ProposalState.EXHAUSTED if last else ProposalState.DECLINED,
                updated_at=now,
                last_error=None,
            )
        )
        if not getattr(result, "rowcount", 0):
            return [], None
        if last:
            notices.notify(
                db,
                row.therapist_id,
                notices.PROPOSAL_EXHAUSTED,
                f"The {row.attempt} new times offered for the session of {missed} were all "
                "declined; no more are offered. You may want to get in touch yourself.",
                now,
            )
            return [f"{head}: declined; that was the last time offered"], None
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
            created_at=now,
            updated_at=now,
        )
        db.add(follow_up)
        db.flush()
        follow_up_id = int(follow_up.id)
    return [f"{head}: declined; offering another time"], follow_up_id


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
