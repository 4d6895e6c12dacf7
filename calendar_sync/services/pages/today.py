"""What the therapist's "Today" view needs: sessions waiting for a mark, and soon-due work."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.decide import assess
from ...domain.explain import consequence
from ...domain.marks import Mark, MarkSource
from ...domain.meet import evidence_words
from ...domain.money import Money
from ...domain.outcomes import Outcome
from ...domain.policy import Policy, counts_toward_ladder, ladder_step
from ...domain.sessions import Session
from ...domain.times import when_words
from ...storage import Database
from ...storage.models import FeeEntry, FollowUpAction, OutboxMessage, RescheduleProposal
from ..attendance.meet import evidence_rows
from ..followup import compose
from ..followup.inputs import load_inputs
from ..proposals.context import ProposalState
from ..runtime import Runtime

# Older unmarked sessions are on the follow-ups page; "Today" keeps to the last week.
RECENT = timedelta(days=7)


@dataclass(frozen=True)
class WaitingSession:
    calendar_id: str
    event_id: str
    label: str
    when: str
    # What it will count as if left unmarked, and from when (None: nothing goes out).
    assumed: str | None
    follow_up_from: str | None
    #: What a no-show brings for this patient now, in words (``domain.explain.consequence``).
    if_missed: str = ""
    #: The same, for a session that counts as a no-show because nobody marked it.
    if_unmarked: str = ""
    #: What the session's Google Meet call showed, in words (None: not a read video session).
    video: str | None = None
    #: Whether ``assumed`` comes from that call rather than from the hold ending.
    by_video: bool = False


def waiting_for_mark(runtime: Runtime, therapist_id: int, now: datetime) -> list[WaitingSession]:
    """Recent ended sessions nobody has marked, oldest first."""
    database: Database = runtime.database
    with database.transaction() as db:
        inputs = load_inputs(db, therapist_id, now)
        calls = evidence_rows(db, therapist_id) if inputs is not None else {}
    if inputs is None:
        return []
    policy = inputs.settings.policy
    marks_by_ref: dict[tuple[str, str], list[Mark]] = defaultdict(list)
    for mark in inputs.marks:
        marks_by_ref[mark.ref].append(mark)
    verdicts = {
        session.ref: assess(
            session,
            marks_by_ref[session.ref],
            policy,
            inputs.connected_at,
            now,
            inputs.evidence.get(session.ref),
        )
        for session in inputs.sessions
    }
    misses: dict[str, list[datetime]] = defaultdict(list)
    for session in inputs.sessions:
        verdict = verdicts[session.ref]
        if (
            session.patient_key
            and not verdict.history
            and counts_toward_ladder(verdict.outcome, policy)
        ):
            misses[session.patient_key].append(session.start)
    waiting = []
    for session in sorted(inputs.sessions, key=lambda s: s.start):
        if session.end > now or session.end < now - RECENT or session.cancelled:
            continue
        verdict = verdicts[session.ref]
        if verdict.history or not (verdict.outcome is Outcome.UNMARKED or verdict.assumed):
            continue
        row = inputs.event_rows[session.ref]
        waiting.append(
            WaitingSession(
                calendar_id=session.calendar_id,
                event_id=session.event_id,
                label=row.title or "Session",
                when=when_words(session.start, inputs.zone),
                assumed=compose.OUTCOME_WORDS[verdict.outcome] if verdict.assumed else None,
                follow_up_from=compose.followup_starts(session.end, policy, inputs.zone),
                if_missed=_if_missed(session, misses, policy, assumed=False),
                if_unmarked=_if_missed(session, misses, policy, assumed=True),
                video=evidence_words(calls[session.ref], inputs.zone)
                if session.ref in calls
                else None,
                by_video=verdict.decided_by is MarkSource.MEET,
            )
        )
    return waiting


def _if_missed(
    session: Session, misses: dict[str, list[datetime]], policy: Policy, *, assumed: bool
) -> str:
    if session.patient_key is None:
        return "a note to you (no patient is linked to this session)"
    starts = [*misses[session.patient_key], session.start]
    return consequence(
        policy, ladder_step(session.start, starts, policy.rolling_window), assumed=assumed
    )


@dataclass(frozen=True)
class HeldInvitation:
    proposal_id: int
    calendar_id: str
    event_id: str
    start: datetime
    release_at: datetime | None


@dataclass(frozen=True)
class HeldFee:
    fee_id: int
    calendar_id: str
    event_id: str
    amount: Money
    held_until: datetime


@dataclass
class HeldWork:
    """Invitations and fees waiting out the hold: with their email, or on their own."""

    with_email: dict[str, list[HeldInvitation | HeldFee]]
    alone: list[HeldInvitation | HeldFee]


def held_work(db: DbSession, therapist_id: int, emails: list[OutboxMessage]) -> HeldWork:
    """What else waits with each email in ``emails`` (keyed by the email's key), and what
    waits on its own (a new time after a decline, an opted-out patient's fee)."""
    invitations = [
        HeldInvitation(p.id, p.missed_calendar_id, p.missed_event_id, p.slot_start, p.release_at)
        for p in db.scalars(
            select(RescheduleProposal)
            .where(
                RescheduleProposal.therapist_id == therapist_id,
                RescheduleProposal.state == ProposalState.PLANNED,
                RescheduleProposal.slot_start.is_not(None),
            )
            .order_by(RescheduleProposal.id)
        )
        if p.slot_start is not None
    ]
    fees = [
        HeldFee(
            f.id,
            f.calendar_id,
            f.event_id,
            Money(f.minor_units, f.currency),
            f.held_until,
        )
        for f in db.scalars(
            select(FeeEntry)
            .where(FeeEntry.therapist_id == therapist_id, FeeEntry.held_until.is_not(None))
            .order_by(FeeEntry.id)
        )
        if f.held_until is not None
    ]
    refs: dict[tuple[str, str], str] = {}
    for email in emails:
        action = db.scalar(
            select(FollowUpAction).where(
                FollowUpAction.therapist_id == therapist_id, FollowUpAction.key == email.key
            )
        )
        if action is not None:
            refs[(action.calendar_id, action.event_id)] = email.key
    work = HeldWork({}, [])
    items: list[HeldInvitation | HeldFee] = [*invitations, *fees]
    for item in items:
        key = refs.get((item.calendar_id, item.event_id))
        if key is None:
            work.alone.append(item)
        else:
            work.with_email.setdefault(key, []).append(item)
    return work
