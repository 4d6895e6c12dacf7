"""Each miss the service acted on, with everything that followed, for the Follow-ups page.

A miss is a session with recorded follow-up actions (a reminder to mark alone is not one).
Its timeline gathers, from the existing tables, the decision and its explanation, the emails
with their exact text and status, the new times offered, the patient's answers, the fee and
any waiver, and whether a later mark contradicts what the service acted on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session as DbSession

from ...domain.marks import ChangedAfterFollowUp, FollowUpSent, calendar_marks
from ...domain.marks import changed_after_follow_up as changed_after
from ...domain.meet import evidence_words
from ...domain.money import Money
from ...domain.outcomes import Outcome
from ...domain.policy import ActionKind
from ...storage.models import (
    CalendarEventRow,
    CalendarRow,
    FeeEntry,
    FollowUpAction,
    OutboxMessage,
    Patient,
    RescheduleProposal,
    Therapist,
)
from ..accounts.settings import load_settings, therapist_zone
from ..attendance.meet import evidence_rows
from ..followup.compose import OUTCOME_WORDS, name_in_explanation
from ..followup.marks import stored_marks
from ..patients.links import PatientAnswer, answers_for
from ..sync.event_store import as_session

PAGE_SIZE = 20
_NOT_A_MISS = ActionKind.REMIND_THERAPIST_TO_MARK.value


@dataclass(frozen=True)
class ActionLine:
    description: str
    status: str
    delivery: str
    due_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class FeeLine:
    kind: str
    amount: Money
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class Miss:
    """One missed session and what followed it."""

    calendar_id: str
    event_id: str
    label: str
    start: datetime | None
    patient_id: int | None
    patient_name: str
    outcome: str
    step: int | None
    explanation: str
    decided_at: datetime
    actions: tuple[ActionLine, ...]
    emails: tuple[OutboxMessage, ...]
    proposals: tuple[RescheduleProposal, ...]
    answers: tuple[PatientAnswer, ...]
    fees: tuple[FeeLine, ...]
    changed: ChangedAfterFollowUp | None
    #: What the session's Google Meet call showed, in words, when it was read.
    video: str | None = None

    @property
    def changed_words(self) -> str | None:
        if self.changed is None:
            return None
        return OUTCOME_WORDS[self.changed.now_marked]

    @property
    def unsent_emails(self) -> bool:
        return any(m.status in ("pending", "held", "failed") for m in self.emails)


def count(db: DbSession, therapist_id: int) -> int:
    """How many misses the therapist has (for pagination)."""
    refs = (
        select(FollowUpAction.calendar_id, FollowUpAction.event_id)
        .where(FollowUpAction.therapist_id == therapist_id, FollowUpAction.kind != _NOT_A_MISS)
        .group_by(FollowUpAction.calendar_id, FollowUpAction.event_id)
        .subquery()
    )
    return int(db.scalar(select(func.count()).select_from(refs)) or 0)


def misses(
    db: DbSession, therapist_id: int, now: datetime, *, page: int = 1, per_page: int = PAGE_SIZE
) -> list[Miss]:
    """One page of the therapist's misses, the most recently acted on first."""
    last = func.max(FollowUpAction.created_at)
    refs = [
        (row[0], row[1])
        for row in db.execute(
            select(FollowUpAction.calendar_id, FollowUpAction.event_id)
            .where(FollowUpAction.therapist_id == therapist_id, FollowUpAction.kind != _NOT_A_MISS)
            .group_by(FollowUpAction.calendar_id, FollowUpAction.event_id)
            .order_by(last.desc(), FollowUpAction.event_id)
            .offset(max(page - 1, 0) * per_page)
            .limit(per_page)
        )
    ]
    return _misses(db, therapist_id, refs, now)


def miss(db: DbSession, therapist_id: int, ref: tuple[str, str], now: datetime) -> Miss | None:
    """The miss of one session (``ref``: Google calendar id, event id); None if not one."""
    found = _misses(db, therapist_id, [ref], now)
    return found[0] if found else None


def _misses(
    db: DbSession, therapist_id: int, refs: list[tuple[str, str]], now: datetime
) -> list[Miss]:
    if not refs:
        return []
    actions: dict[tuple[str, str], list[FollowUpAction]] = defaultdict(list)
    for action in db.scalars(
        select(FollowUpAction)
        .where(
            FollowUpAction.therapist_id == therapist_id,
            FollowUpAction.kind != _NOT_A_MISS,
            tuple_(FollowUpAction.calendar_id, FollowUpAction.event_id).in_(refs),
        )
        .order_by(FollowUpAction.created_at, FollowUpAction.id)
    ):
        actions[(action.calendar_id, action.event_id)].append(action)
    keys = [a.key for group in actions.values() for a in group]
    emails = {
        m.key: m
        for m in db.scalars(
            select(OutboxMessage).where(
                OutboxMessage.therapist_id == therapist_id, OutboxMessage.key.in_(keys)
            )
        )
    }
    proposals: dict[str, list[RescheduleProposal]] = defaultdict(list)
    for proposal in db.scalars(
        select(RescheduleProposal)
        .where(RescheduleProposal.therapist_id == therapist_id, RescheduleProposal.key.in_(keys))
        .order_by(RescheduleProposal.attempt)
    ):
        proposals[proposal.key].append(proposal)
    fees: dict[tuple[str, str], list[FeeLine]] = defaultdict(list)
    for fee in db.scalars(
        select(FeeEntry)
        .where(
            FeeEntry.therapist_id == therapist_id,
            tuple_(FeeEntry.calendar_id, FeeEntry.event_id).in_(refs),
            # a charge still held with its follow-up shows on Today, not in the ledger
            FeeEntry.held_until.is_(None),
        )
        .order_by(FeeEntry.created_at, FeeEntry.id)
    ):
        fees[(fee.calendar_id, fee.event_id)].append(
            FeeLine(fee.kind, Money(fee.minor_units, fee.currency), fee.reason, fee.created_at)
        )
    events = {
        (calendar.google_calendar_id, row.event_id): (row, calendar)
        for row, calendar in db.execute(
            select(CalendarEventRow, CalendarRow)
            .join(CalendarRow, CalendarEventRow.calendar_row_id == CalendarRow.id)
            .where(
                CalendarRow.therapist_id == therapist_id,
                tuple_(CalendarRow.google_calendar_id, CalendarEventRow.event_id).in_(refs),
            )
        )
    }
    patients = {
        p.id: p for p in db.scalars(select(Patient).where(Patient.therapist_id == therapist_id))
    }
    answers: dict[tuple[str, str], list[PatientAnswer]] = defaultdict(list)
    for answer in answers_for(db, therapist_id):
        answers[(answer.calendar_id, answer.event_id)].append(answer)
    marks = stored_marks(db, therapist_id)
    policy = load_settings(db, therapist_id).policy
    calls = evidence_rows(db, therapist_id)
    therapist = db.get(Therapist, therapist_id)
    zone = therapist_zone(db, therapist) if therapist is not None else ZoneInfo("UTC")
    result = []
    for ref in refs:
        group = actions[ref]
        if not group:
            continue  # a session the service never acted on is not a miss
        first = group[0]
        found = events.get(ref)
        changed = None
        if found is not None and found[0].start is not None and found[0].end is not None:
            session = as_session(found[0], found[1], ZoneInfo("UTC"))
            history = [m for m in marks if m.ref == ref]
            history += calendar_marks(session, policy.marks, policy.notice_window)
            acted = FollowUpSent(ref[0], ref[1], Outcome(first.outcome), first.created_at)
            changed = changed_after(acted, session, history, now)
        patient = patients.get(first.patient_id) if first.patient_id is not None else None
        result.append(
            Miss(
                calendar_id=ref[0],
                event_id=ref[1],
                label=(found[0].title if found else "") or "Session",
                start=found[0].start if found else None,
                patient_id=patient.id if patient else None,
                patient_name=(patient.name or patient.email or "") if patient else "",
                outcome=OUTCOME_WORDS[Outcome(first.outcome)],
                step=first.step,
                explanation=name_in_explanation(
                    group[-1].explanation,
                    patient.id if patient else None,
                    (patient.name or patient.email or "") if patient else "",
                ),
                decided_at=group[-1].created_at,
                actions=tuple(
                    ActionLine(
                        ActionKind(a.kind).description, a.status, a.delivery, a.due_at, a.created_at
                    )
                    for a in group
                ),
                emails=tuple(emails[a.key] for a in group if a.key in emails),
                proposals=tuple(p for a in group for p in proposals.get(a.key, [])),
                answers=tuple(answers.get(ref, [])),
                fees=tuple(fees.get(ref, [])),
                changed=changed,
                video=evidence_words(calls[ref], zone) if ref in calls else None,
            )
        )
    return result
