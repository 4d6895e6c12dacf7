"""The hold: what reaches a patient about one miss waits, visible, and then goes together.

A decision's email, its invitation and its fee are recorded at once but held for the
policy's ``patient_hold``. The email is the conversation's gate: the invitation is placed
and the fee recorded only once the email may go (its hold is over, or the therapist pressed
Send now); a cancelled email stops them too. Where a miss has no email to the patient (an
opted-out patient's fee, a new time offered after a decline), each waits for its own hold.

A decision withdrawn before it went (the therapist changed the mark within the hold) frees
its keys, so the decision for the new mark can be recorded in its place.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from enum import Enum

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session as DbSession

from ...domain.decide import assess
from ...domain.decisions import idempotency_key
from ...domain.marks import Mark
from ...domain.outcomes import Outcome
from ...domain.policy import ActionKind
from ...domain.sessions import Session
from ...domain.times import when_words
from ...storage.models import FeeEntry, FollowUpAction, OutboxMessage, RescheduleProposal
from .. import notices
from ..outbox.dispatch import MessageStatus
from ..proposals.context import ProposalState
from .inputs import EMAIL_KINDS, Inputs

PATIENT_EMAIL_KINDS = EMAIL_KINDS
WITHDRAWN = "withdrawn"
# What a changed mark takes back while it is held: what would reach the patient, the fee.
_TAKEN_BACK = PATIENT_EMAIL_KINDS | {ActionKind.PROPOSE_RESCHEDULE, ActionKind.RECORD_FEE}
# An email in these states has gone, or is going, to the patient.
_GONE = (
    MessageStatus.CLAIMED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.UNKNOWN,
)


class Gate(Enum):
    """Whether what waits on a miss's conversation may go now."""

    WAITING = "waiting"
    RELEASED = "released"
    STOPPED = "stopped"


def _email_keys(therapist_id: int, calendar_id: str, event_id: str) -> object:
    return select(FollowUpAction.key).where(
        FollowUpAction.therapist_id == therapist_id,
        FollowUpAction.calendar_id == calendar_id,
        FollowUpAction.event_id == event_id,
        FollowUpAction.kind.in_([kind.value for kind in PATIENT_EMAIL_KINDS]),
        FollowUpAction.status != WITHDRAWN,
    )


def conversation_email(
    db: DbSession, therapist_id: int, calendar_id: str, event_id: str
) -> OutboxMessage | None:
    """The patient's email about this miss, if one was queued (and not withdrawn)."""
    return db.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.therapist_id == therapist_id,
            OutboxMessage.recipient_role == "patient",
            OutboxMessage.key.in_(_email_keys(therapist_id, calendar_id, event_id)),  # type: ignore[arg-type]
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )


def gate(
    db: DbSession,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    own_release: datetime | None,
    now: datetime,
) -> Gate:
    """May the invitation or fee waiting on this miss go at ``now``?

    ``own_release`` is the item's own end of hold, used when the miss has no email; None
    means the therapist holds it.
    """
    email = conversation_email(db, therapist_id, calendar_id, event_id)
    if email is None:
        if own_release is None or own_release > now:
            return Gate.WAITING
        return Gate.RELEASED
    if email.status == MessageStatus.CANCELLED:
        return Gate.STOPPED
    if email.status in _GONE:
        return Gate.RELEASED
    if email.status == MessageStatus.PENDING and email.not_before <= now:
        return Gate.RELEASED
    return Gate.WAITING


def not_gone(email: OutboxMessage | None) -> bool:
    """Whether ``email`` can still be stopped: waiting, held, or failed (nothing went)."""
    return email is not None and email.status in (
        MessageStatus.PENDING,
        MessageStatus.HELD,
        MessageStatus.FAILED,
    )


def withdraw(
    db: DbSession,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    now: datetime,
    reason: str,
    *,
    emails_only: bool = False,
) -> int:
    """Withdraw what was decided about a miss and has not gone; returns how many actions.

    Each withdrawn action keeps its row (history), marked ``withdrawn`` with its key freed,
    so the same kind can be decided again. Emails not yet sent are cancelled; with
    ``emails_only`` the invitation and the fee stay. ``reason`` is plain words, no
    personal data.
    """
    actions = list(
        db.scalars(
            select(FollowUpAction).where(
                FollowUpAction.therapist_id == therapist_id,
                FollowUpAction.calendar_id == calendar_id,
                FollowUpAction.event_id == event_id,
                FollowUpAction.status != WITHDRAWN,
                FollowUpAction.kind != ActionKind.REMIND_THERAPIST_TO_MARK.value,
            )
        )
    )
    if emails_only:
        actions = [a for a in actions if ActionKind(a.kind) in PATIENT_EMAIL_KINDS]
    email = conversation_email(db, therapist_id, calendar_id, event_id)
    if email is not None:
        if not not_gone(email) and email.status != MessageStatus.CANCELLED:
            return 0  # it went: the conversation is under way and stays as it is
        email.status = MessageStatus.CANCELLED
        email.last_error = reason
        email.updated_at = now
        email.key = f"{email.key}:withdrawn:{email.id}"
    if not emails_only:
        proposals = db.scalars(
            select(RescheduleProposal).where(
                RescheduleProposal.therapist_id == therapist_id,
                RescheduleProposal.missed_calendar_id == calendar_id,
                RescheduleProposal.missed_event_id == event_id,
                RescheduleProposal.state == ProposalState.PLANNED,
            )
        )
        for proposal in proposals:
            # Never placed, so nothing exists in Google: the row goes, and its key with it.
            db.delete(proposal)
        db.execute(
            delete(FeeEntry).where(
                FeeEntry.therapist_id == therapist_id,
                FeeEntry.calendar_id == calendar_id,
                FeeEntry.event_id == event_id,
                FeeEntry.held_until.is_not(None),
            )
        )
    for action in actions:
        action.status = WITHDRAWN
        action.key = f"{action.key}:withdrawn:{action.id}"
    db.flush()
    return len(actions)


def release_fees(db: DbSession, therapist_id: int, now: datetime) -> int:
    """Put on the ledger each held charge whose conversation went; drop stopped ones."""
    released = 0
    for fee in list(
        db.scalars(
            select(FeeEntry).where(
                FeeEntry.therapist_id == therapist_id, FeeEntry.held_until.is_not(None)
            )
        )
    ):
        state = gate(db, therapist_id, fee.calendar_id, fee.event_id, fee.held_until, now)
        if state is Gate.RELEASED:
            # Recorded when its email goes out, not when the mark was made.
            db.execute(
                update(FeeEntry)
                .where(FeeEntry.id == fee.id)
                .values(held_until=None, created_at=now)
            )
            released += 1
        elif state is Gate.STOPPED:
            db.delete(fee)
    db.flush()
    return released


def next_fee_release(db: DbSession, therapist_id: int, now: datetime) -> datetime | None:
    """The end of the earliest hold of a fee still held (one past its hold waits on its email,
    whose own moment brings the release)."""
    return db.scalar(
        select(func.min(FeeEntry.held_until)).where(
            FeeEntry.therapist_id == therapist_id, FeeEntry.held_until > now
        )
    )


def withdraw_superseded(db: DbSession, inputs: Inputs, now: datetime) -> list[str]:
    """Withdraw follow-ups still held whose session's outcome changed since they were decided.

    A mark changed within the hold (a misclick, an Undo, a correction in the calendar)
    takes back what the first one queued; the cycle then decides for the new mark.
    """
    marks_by_ref: dict[tuple[str, str], list[Mark]] = defaultdict(list)
    for mark in inputs.marks:
        marks_by_ref[mark.ref].append(mark)
    sessions = {session.ref: session for session in inputs.sessions}
    recorded = db.execute(
        select(FollowUpAction.calendar_id, FollowUpAction.event_id, FollowUpAction.outcome)
        .where(
            FollowUpAction.therapist_id == inputs.therapist.id,
            FollowUpAction.status != WITHDRAWN,
            FollowUpAction.kind.in_([kind.value for kind in _TAKEN_BACK]),
        )
        .distinct()
    ).all()
    lines = []
    policy = inputs.settings.policy
    for calendar_id, event_id, outcome in recorded:
        session = sessions.get((calendar_id, event_id))
        if session is None:
            continue
        now_outcome = assess(
            session,
            marks_by_ref[session.ref],
            policy,
            inputs.connected_at,
            now,
            inputs.evidence.get(session.ref),
        ).outcome
        if now_outcome.value == outcome:
            continue
        taken = withdraw(
            db,
            inputs.therapist.id,
            calendar_id,
            event_id,
            now,
            "Withdrawn: the session's mark changed before it went.",
        )
        if taken:
            lines.append(f"withdrew {taken} action(s): the mark changed within the hold")
        elif _note_correction(db, inputs, session, now_outcome, now):
            lines.append("the mark changed after the follow-up went: you were told")
    return lines


def _note_correction(
    db: DbSession, inputs: Inputs, session: Session, outcome: Outcome, now: datetime
) -> bool:
    """Record, once per new outcome, that the mark changed after the patient was written to,
    and tell the therapist; nothing more goes to the patient about this miss."""
    kind = ActionKind.NOTE_CORRECTION
    key = idempotency_key(inputs.therapist.id, session.calendar_id, session.event_id, kind)
    key += f":{outcome.value}"
    if db.scalar(select(FollowUpAction.id).where(FollowUpAction.key == key)) is not None:
        return False
    row = inputs.event_rows[session.ref]
    db.add(
        FollowUpAction(
            therapist_id=inputs.therapist.id,
            key=key,
            kind=ActionKind.NOTE_CORRECTION.value,
            calendar_id=session.calendar_id,
            event_id=session.event_id,
            patient_id=row.patient_id,
            outcome=outcome.value,
            step=None,
            delivery="send",
            status="queued",
            explanation=(
                f"The session is now marked {outcome.label}, after the follow-up about it "
                "went out; nothing more was sent to the patient about it."
            ),
            due_at=now,
            created_at=now,
        )
    )
    notices.notify(
        db,
        inputs.therapist.id,
        "mark_changed_after_follow_up",
        f"The session on {when_words(session.start, inputs.zone)} is now marked "
        f"{outcome.label}, but the follow-up about it already went to the patient. Nothing "
        "more is sent about it; you may want to get in touch yourself.",
        now,
    )
    db.flush()
    return True


# -- the therapist's hand on what waits on its own -----------------------------------------


def _own_proposal(db: DbSession, therapist_id: int, proposal_id: int) -> RescheduleProposal | None:
    proposal = db.get(RescheduleProposal, proposal_id)
    if proposal is None or proposal.therapist_id != therapist_id:
        return None
    return proposal if proposal.state == ProposalState.PLANNED else None


def invitation_now(db: DbSession, therapist_id: int, proposal_id: int, now: datetime) -> bool:
    """Let a held invitation go at the next run. False if it is not waiting."""
    proposal = _own_proposal(db, therapist_id, proposal_id)
    if proposal is None:
        return False
    proposal.release_at, proposal.updated_at = now, now
    return True


def hold_invitation(db: DbSession, therapist_id: int, proposal_id: int, now: datetime) -> bool:
    """Keep a waiting invitation back until Send now. False if it is not waiting."""
    proposal = _own_proposal(db, therapist_id, proposal_id)
    if proposal is None:
        return False
    proposal.release_at, proposal.updated_at = None, now
    return True


def cancel_invitation(db: DbSession, therapist_id: int, proposal_id: int, now: datetime) -> bool:
    """Never place this invitation. False if it is not waiting any more."""
    proposal = _own_proposal(db, therapist_id, proposal_id)
    if proposal is None:
        return False
    proposal.state, proposal.updated_at = ProposalState.WITHDRAWN, now
    proposal.last_error = "Cancelled by you before it went."
    return True


def _own_fee(db: DbSession, therapist_id: int, fee_id: int) -> FeeEntry | None:
    fee = db.get(FeeEntry, fee_id)
    if fee is None or fee.therapist_id != therapist_id or fee.held_until is None:
        return None
    return fee


def fee_now(db: DbSession, therapist_id: int, fee_id: int, now: datetime) -> bool:
    """Record a held fee at the next run. False if it is not held."""
    fee = _own_fee(db, therapist_id, fee_id)
    if fee is None:
        return False
    fee.held_until = now
    return True


def cancel_fee(db: DbSession, therapist_id: int, fee_id: int, now: datetime) -> bool:
    """Do not charge this fee. False if it is not held any more (waive it instead)."""
    fee = _own_fee(db, therapist_id, fee_id)
    if fee is None:
        return False
    db.delete(fee)
    return True
