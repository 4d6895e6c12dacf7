"""What the Calendar add-on's side panel shows: one event, or the therapist's day.

A read-model for the web layer's cards. Everything is computed the way the dashboard
computes it (``assess``, the ladder, the hold), so the panel and Today never disagree.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session as DbSession

from ...domain.decide import assess
from ...domain.explain import consequence, duration_words, marked_by, ordinal
from ...domain.marks import Mark, MarkSource
from ...domain.meet import evidence_words
from ...domain.outcomes import Outcome
from ...domain.policy import counts_toward_ladder, ladder_step
from ...domain.sessions import EventFacts, why_not_session
from ...domain.times import when_words
from ...storage.models import (
    CalendarEventRow,
    CalendarRow,
    FollowUpAction,
    MeetEvidence,
    OutboxMessage,
    Patient,
    RescheduleProposal,
    Therapist,
)
from ..accounts.settings import load_settings, session_rules, therapist_zone
from ..attendance.meet import as_evidence
from ..followup import compose
from ..followup.inputs import Inputs, load_inputs
from ..followup.marks import MARKABLE
from ..outbox.dispatch import MessageStatus
from ..outbox.review import messages
from ..patients.directory import patient_key
from ..runtime import Runtime
from .today import WaitingSession, waiting_for_mark

#: "About to go out" looks this far ahead, as on Today.
SOON = timedelta(hours=24)


@dataclass(frozen=True)
class Outgoing:
    """An email waiting to go out, with its exact text."""

    message_id: int
    subject: str
    text: str
    when: str
    held: bool


@dataclass(frozen=True)
class SessionView:
    """An event that is one of the therapist's sessions."""

    calendar_id: str
    event_id: str
    title: str
    when: str
    patient: str
    outcome: Outcome
    mark_words: str
    started: bool
    if_unmarked: str
    attendance: str
    ladder: str
    outgoing: list[Outgoing]
    offered: str | None
    #: What Google Meet showed, in words ("joined by video 10:02 to 10:49"), when it was read.
    video: str | None = None


@dataclass(frozen=True)
class NotASession:
    """An event calendar-sync does not treat as a session, and why, in one sentence."""

    calendar_id: str
    event_id: str
    title: str
    reason: str
    series_id: str | None
    #: False when the event's calendar is not one of the therapist's (nothing to offer).
    can_treat: bool


@dataclass(frozen=True)
class Day:
    """The panel with no event open: sessions waiting for a mark, what is about to go out."""

    waiting: list[WaitingSession]
    outgoing: list[Outgoing]
    hold_words: str


def event_view(
    runtime: Runtime, therapist_id: int, calendar_id: str, event_id: str, now: datetime
) -> SessionView | NotASession:
    """The panel for the event Calendar has open."""
    with runtime.database.transaction() as db:
        found = db.execute(
            select(CalendarEventRow, CalendarRow)
            .join(CalendarRow, CalendarEventRow.calendar_row_id == CalendarRow.id)
            .where(
                CalendarRow.therapist_id == therapist_id,
                CalendarRow.google_calendar_id == calendar_id,
                CalendarEventRow.event_id == event_id,
            )
        ).first()
        if found is None:
            known = db.scalar(
                select(CalendarRow.id).where(
                    CalendarRow.therapist_id == therapist_id,
                    CalendarRow.google_calendar_id == calendar_id,
                )
            )
            reason = (
                "calendar-sync has not read this event yet (it reads a few months back and ahead)"
                if known is not None
                else "it is not in one of your calendars that calendar-sync reads"
            )
            return NotASession(calendar_id, event_id, "", reason, None, known is not None)
        row, calendar = found
        if not (row.is_session and calendar.selected) or row.cancelled_at is not None:
            return NotASession(
                calendar_id,
                event_id,
                row.title or "",
                _why_not(db, therapist_id, row, calendar),
                row.recurring_event_id,
                calendar.selected and row.cancelled_at is None and not row.created_by_service,
            )
        inputs = load_inputs(db, therapist_id, now)
        assert inputs is not None  # the calendar is the therapist's, so they are connected
        return _session(db, inputs, row, calendar_id, now)


def _why_not(db: DbSession, therapist_id: int, row: CalendarEventRow, calendar: CalendarRow) -> str:
    if row.cancelled_at is not None:
        return "it was cancelled"
    if not calendar.selected:
        return "its calendar is not one you chose for sessions"
    if row.created_by_service:
        return "it is a new time calendar-sync offered, a session once the patient accepts it"
    rules = session_rules(db, therapist_id)
    others = [
        a
        for a in json.loads(row.attendees_json or "[]")
        if not a.get("self") and not a.get("resource") and not a.get("organizer")
    ]
    facts = EventFacts(
        title=row.title or "",
        all_day=row.all_day,
        shows_as_free=row.transparency == "transparent",
        therapist_declined=row.my_response == "declined",
        other_attendees=len(others),
        organized_by_therapist=row.organizer_is_self,
        organizer=row.organizer_email or "",
    )
    return why_not_session(facts, rules) or "your rules have not been applied to it yet"


def _session(
    db: DbSession, inputs: Inputs, row: CalendarEventRow, calendar_id: str, now: datetime
) -> SessionView:
    policy = inputs.settings.policy
    zone = inputs.zone
    ref = (calendar_id, row.event_id)
    by_ref: dict[tuple[str, str], list[Mark]] = defaultdict(list)
    for mark in inputs.marks:
        by_ref[mark.ref].append(mark)
    patient_row = db.get(Patient, row.patient_id) if row.patient_id is not None else None
    # As the therapist knows them: the name they gave, else the address they invited.
    if patient_row is not None:
        patient = patient_row.name or patient_row.email or "Unnamed patient"
    else:
        patient = row.patient_email or "No patient linked"
    key = next((s.patient_key for s in inputs.sessions if s.ref == ref), None)
    if key is None and row.patient_id is not None:
        key = patient_key(row.patient_id)  # a session still to come is not among the inputs
    window = policy.rolling_window
    counts: dict[str, int] = defaultdict(int)
    miss_starts: list[datetime] = []
    outcome, words, unmarked_words = Outcome.UNMARKED, "Not marked yet", ""
    for session in inputs.sessions:
        if key is None or session.patient_key != key or session.start < now - window:
            continue
        verdict = assess(
            session,
            by_ref[session.ref],
            policy,
            inputs.connected_at,
            now,
            inputs.evidence.get(session.ref),
        )
        if session.ref == ref:
            outcome = verdict.outcome
            words = _mark_words(verdict.outcome, verdict.assumed, verdict.decided_by)
        if verdict.history or session.end > now:
            continue
        counts["sessions"] += 1
        if verdict.outcome is Outcome.ATTENDED:
            counts["attended"] += 1
        elif counts_toward_ladder(verdict.outcome, policy):
            counts["missed"] += 1
            if session.ref != ref:
                miss_starts.append(session.start)
        elif verdict.outcome is Outcome.UNMARKED:
            counts["unmarked"] += 1
    start = row.start or now
    started = start <= now
    window_words = duration_words(window)
    if key is None:
        ladder = "No patient is linked, so no ladder step applies."
        if_missed = "a note to you (no patient is linked to this session)"
    else:
        step = ladder_step(start, [*miss_starts, start], window)
        ladder = f"A miss here is the {ordinal(step)} in {window_words} (ladder step {step})."
        if_missed = consequence(policy, step, assumed=True)
    if outcome is Outcome.UNMARKED:
        starts_at = compose.followup_starts(row.end or start, policy, zone)
        ahead = "" if started else "It has not happened yet. "
        if starts_at is None:
            unmarked_words = f"{ahead}If it stays unmarked, nothing goes out until you mark it."
        else:
            unmarked_words = (
                f"{ahead}If it stays unmarked, it counts as a no-show from {starts_at}: "
                f"{if_missed}."
            )
    attendance = (
        f"Last {window_words}: {_sessions(counts['sessions'])}, {counts['attended']} attended, "
        f"{counts['missed']} missed, {counts['unmarked']} not marked."
        if key is not None
        else "No patient is linked to this session."
    )
    return SessionView(
        calendar_id=calendar_id,
        event_id=row.event_id,
        title=row.title or "Session",
        when=when_words(start, zone),
        patient=patient,
        outcome=outcome,
        mark_words=words,
        started=started,
        if_unmarked=unmarked_words,
        attendance=attendance,
        ladder=ladder,
        outgoing=_outgoing_for(db, inputs.therapist.id, row, calendar_id, zone),
        offered=_offered(db, inputs.therapist.id, ref, zone),
        video=_video(db, inputs.therapist.id, ref, zone),
    )


def _video(db: DbSession, therapist_id: int, ref: tuple[str, str], zone: ZoneInfo) -> str | None:
    """The Meet evidence of this session in words, as Today shows it; None when none was read."""
    found = db.scalar(
        select(MeetEvidence).where(
            MeetEvidence.therapist_id == therapist_id,
            MeetEvidence.calendar_id == ref[0],
            MeetEvidence.event_id == ref[1],
        )
    )
    if found is None:
        return None
    return evidence_words(as_evidence(found), zone)


def _sessions(count: int) -> str:
    return "1 session" if count == 1 else f"{count} sessions"


def _mark_words(outcome: Outcome, assumed: bool, decided_by: MarkSource | None) -> str:
    if outcome is Outcome.UNMARKED:
        return "Not marked yet"
    label = MARKABLE.get(outcome) or compose.OUTCOME_WORDS[outcome].capitalize()
    if assumed:
        return f"{label}: not marked in time, so counted as missed"
    return f"{label} ({marked_by(decided_by)})"


def _outgoing_for(
    db: DbSession, therapist_id: int, row: CalendarEventRow, calendar_id: str, zone: ZoneInfo
) -> list[Outgoing]:
    """Emails waiting for this patient (or, with no patient, for this session)."""
    which: ColumnElement[bool] = (FollowUpAction.calendar_id == calendar_id) & (
        FollowUpAction.event_id == row.event_id
    )
    if row.patient_id is not None:
        which = or_(which, FollowUpAction.patient_id == row.patient_id)
    found = db.scalars(
        select(OutboxMessage)
        .join(FollowUpAction, FollowUpAction.key == OutboxMessage.key)
        .where(
            OutboxMessage.therapist_id == therapist_id,
            FollowUpAction.therapist_id == therapist_id,
            OutboxMessage.status.in_((MessageStatus.PENDING, MessageStatus.HELD)),
            which,
        )
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
    )
    return [_as_outgoing(m, zone) for m in found]


def _as_outgoing(message: OutboxMessage, zone: ZoneInfo) -> Outgoing:
    return Outgoing(
        message_id=message.id,
        subject=message.subject,
        text=message.text,
        when=when_words(message.not_before, zone),
        held=message.status == MessageStatus.HELD,
    )


def _offered(db: DbSession, therapist_id: int, ref: tuple[str, str], zone: ZoneInfo) -> str | None:
    proposal = db.scalar(
        select(RescheduleProposal)
        .where(
            RescheduleProposal.therapist_id == therapist_id,
            RescheduleProposal.missed_calendar_id == ref[0],
            RescheduleProposal.missed_event_id == ref[1],
        )
        .order_by(RescheduleProposal.id.desc())
    )
    if proposal is None:
        return None
    slot = when_words(proposal.slot_start, zone) if proposal.slot_start else "no time yet"
    return f"{slot}: {_PROPOSAL_WORDS.get(proposal.state, proposal.state)}."


_PROPOSAL_WORDS = {
    "planned": "waiting out the hold before it is offered",
    "proposed": "offered, waiting for the patient's answer",
    "accepted": "accepted by the patient",
    "declined": "declined by the patient",
    "exhausted": "no more times to offer",
    "expired": "not answered in time",
    "withdrawn": "withdrawn",
    "no_slot": "no free time was found",
}


def day_view(runtime: Runtime, therapist_id: int, now: datetime) -> Day:
    """The panel's home: the same lists as Today's, for the narrow panel."""
    waiting = waiting_for_mark(runtime, therapist_id, now)
    with runtime.database.transaction() as db:
        therapist = db.get(Therapist, therapist_id)
        assert therapist is not None
        zone = therapist_zone(db, therapist)
        soon = [
            m
            for m in messages(db, therapist_id, (MessageStatus.PENDING, MessageStatus.HELD))
            if m.status == MessageStatus.HELD or m.not_before <= now + SOON
        ]
        soon.sort(key=lambda m: (m.not_before, m.id))
        hold = duration_words(load_settings(db, therapist_id).policy.patient_hold)
        return Day(waiting, [_as_outgoing(m, zone) for m in soon], hold)
