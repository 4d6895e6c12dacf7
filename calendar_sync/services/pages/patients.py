"""Patients as the dashboard shows them: attendance in the window, ladder step, fees.

Every figure is computed from the same assessment the cycle uses (``domain.decide.assess``),
so the dashboard and the follow-ups can never disagree about what a session was.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.decide import assess
from ...domain.marks import Mark
from ...domain.meet import Evidence, evidence_words
from ...domain.money import Money
from ...domain.outcomes import Outcome
from ...domain.policy import counts_toward_ladder
from ...storage.models import Patient
from ..attendance.meet import evidence_rows
from ..followup.fees import ledger_for
from ..followup.inputs import Inputs, load_inputs
from ..patients.directory import patient_key


@dataclass(frozen=True)
class SessionPoint:
    """One past session of a patient, for the history and the chart."""

    start: datetime
    outcome: Outcome
    assumed: bool
    calendar_id: str
    event_id: str
    #: What the session's Google Meet call showed, in words, when it was read.
    video: str | None = None


@dataclass(frozen=True)
class PatientSummary:
    id: int
    key: str
    name: str
    email: str | None
    do_not_email: bool
    fee_exempt: bool
    fee_exempt_reason: str
    sessions: int
    attended: int
    misses: int
    late_cancels: int
    step: int
    balance: Money | None
    history: tuple[SessionPoint, ...]

    @property
    def attendance_rate(self) -> float | None:
        """Attended over sessions that were held or missed (cancellations in time excluded)."""
        counted = self.attended + self.misses + self.late_cancels
        return None if counted == 0 else self.attended / counted

    @property
    def label(self) -> str:
        return self.name or self.email or self.key


def _points(
    inputs: Inputs, now: datetime, calls: dict[tuple[str, str], Evidence] | None = None
) -> dict[str, list[SessionPoint]]:
    calls = calls or {}
    marks: dict[tuple[str, str], list[Mark]] = defaultdict(list)
    for mark in inputs.marks:
        marks[mark.ref].append(mark)
    points: dict[str, list[SessionPoint]] = defaultdict(list)
    for session in inputs.sessions:
        if session.patient_key is None or session.end > now:
            continue
        verdict = assess(
            session,
            marks[session.ref],
            inputs.settings.policy,
            inputs.connected_at,
            now,
            inputs.evidence.get(session.ref),
        )
        points[session.patient_key].append(
            SessionPoint(
                session.start,
                verdict.outcome,
                verdict.assumed,
                session.calendar_id,
                session.event_id,
                evidence_words(calls[session.ref], inputs.zone) if session.ref in calls else None,
            )
        )
    return points


def summaries(db: DbSession, therapist_id: int, now: datetime) -> list[PatientSummary]:
    """Every patient of the therapist with their figures over the rolling window."""
    inputs = load_inputs(db, therapist_id, now)
    if inputs is None:
        return []
    policy = inputs.settings.policy
    points = _points(inputs, now, evidence_rows(db, therapist_id))
    window_start = now - policy.rolling_window
    result = []
    for row in db.scalars(select(Patient).where(Patient.therapist_id == therapist_id)):
        key = patient_key(row.id)
        history = sorted(points.get(key, []), key=lambda p: p.start)
        recent = [p for p in history if p.start >= window_start]
        ledger = ledger_for(db, therapist_id, key)
        result.append(
            PatientSummary(
                id=row.id,
                key=key,
                name=row.name,
                email=row.email,
                do_not_email=row.do_not_email,
                fee_exempt=row.fee_exempt,
                fee_exempt_reason=row.fee_exempt_reason,
                sessions=len(recent),
                attended=sum(p.outcome is Outcome.ATTENDED for p in recent),
                misses=sum(p.outcome is Outcome.NO_SHOW for p in recent),
                late_cancels=sum(p.outcome is Outcome.LATE_CANCEL for p in recent),
                step=sum(counts_toward_ladder(p.outcome, policy) for p in recent),
                balance=ledger.balance() if ledger else None,
                history=tuple(history),
            )
        )
    return sorted(result, key=lambda s: s.label.lower())
