"""The decision: for each session, what needs doing now.

:func:`decide` is a pure function of its inputs and ``now``: the same inputs give the same
decisions, in the same order, whatever order the inputs came in. It does not know what was
already done; the outbox skips actions whose idempotency key it has seen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from calendar_sync.domain.decisions import (
    Decision,
    Delivery,
    NoContactReason,
    PlannedAction,
    idempotency_key,
)
from calendar_sync.domain.explain import explain
from calendar_sync.domain.fees import fee_due
from calendar_sync.domain.marks import Mark, MarkSource, resolve_outcome
from calendar_sync.domain.meet import Attendance, CallEvidence
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.patients import Patient
from calendar_sync.domain.policy import ActionKind, Policy, counts_toward_ladder, ladder_step
from calendar_sync.domain.sessions import Session
from calendar_sync.domain.times import to_utc
from calendar_sync.domain.unmarked import (
    UnmarkedConvention,
    is_history,
    past_late_bound,
    reminder_due,
    settle_unmarked,
)

_KIND_ORDER = {kind: index for index, kind in enumerate(ActionKind)}


@dataclass(frozen=True)
class Assessment:
    """A session's outcome at a moment, for decisions and for the dashboard.

    History sessions (ended before the calendar was connected) keep their marked outcome
    and are never assumed anything: they can be shown, never acted on.
    """

    session: Session
    outcome: Outcome
    assumed: bool
    decided_by: MarkSource | None
    known_at: datetime | None
    remind_therapist: bool
    history: bool


def assess(
    session: Session,
    marks: Iterable[Mark],
    policy: Policy,
    connected_at: datetime,
    now: datetime,
    evidence: CallEvidence | None = None,
) -> Assessment:
    """The outcome of one session at ``now``: its latest mark, else the video call's
    evidence, else the unmarked convention.

    Evidence never overrides a mark. "Present" counts as attended; "absent" counts as a
    no-show from when it was read, without waiting out the unmarked hold, except under
    ``ALWAYS_ASK``, where nothing counts until the therapist marks. Either is ``assumed``
    (no fee unless assumed no-shows are charged) and ``decided_by`` is ``MarkSource.MEET``.
    """
    history = is_history(session.end, connected_at)
    outcome, winner = resolve_outcome(session, marks, policy.marks, policy.notice_window, now)
    # An "undo" leaves the session unmarked, so the therapist's convention applies again.
    if (winner is not None and outcome is not Outcome.UNMARKED) or history:
        return Assessment(
            session,
            outcome,
            assumed=False,
            decided_by=None if winner is None else winner.source,
            known_at=None if winner is None else winner.at,
            remind_therapist=False,
            history=history,
        )
    from_call = _from_call(session, evidence, policy, now)
    if from_call is not None:
        return from_call
    verdict = settle_unmarked(session.end, policy.unmarked, now)
    return Assessment(
        session,
        verdict.outcome,
        verdict.assumed,
        None,
        verdict.effective_at,
        verdict.remind_therapist,
        history=False,
    )


def _from_call(
    session: Session, evidence: CallEvidence | None, policy: Policy, now: datetime
) -> Assessment | None:
    if evidence is None or evidence.at > to_utc(now, "now") or evidence.at < session.start:
        return None
    if evidence.attendance is Attendance.PRESENT:
        outcome = Outcome.ATTENDED
    elif (
        evidence.attendance is Attendance.ABSENT
        and policy.unmarked.convention is not UnmarkedConvention.ALWAYS_ASK
    ):
        outcome = Outcome.NO_SHOW
    else:
        return None
    known = max(evidence.at, session.end)
    return Assessment(session, outcome, True, MarkSource.MEET, known, False, history=False)


def _contact(
    session: Session, patients: Mapping[str, Patient]
) -> tuple[Patient | None, NoContactReason | None]:
    if session.patient_key is None:
        return None, NoContactReason.NO_PATIENT_LINKED
    patient = patients.get(session.patient_key)
    if patient is None:
        return None, NoContactReason.NO_PATIENT_RECORD
    if patient.do_not_email:
        return patient, NoContactReason.OPTED_OUT
    return patient, None


def _follow_up_kinds(
    assessment: Assessment,
    policy: Policy,
    step: int | None,
    no_contact: NoContactReason | None,
) -> frozenset[ActionKind]:
    if assessment.session.patient_key is None:
        return frozenset({ActionKind.ALERT_THERAPIST_MISS})
    if step is not None:
        kinds = policy.actions_for_step(step)
    else:
        kinds = policy.uncounted_late_cancel_actions
    if no_contact is None:
        return kinds
    kept = frozenset(kind for kind in kinds if not kind.patient_facing)
    if kept != kinds:
        # The patient cannot be reached by us, so the therapist is told instead.
        kept |= {ActionKind.ALERT_THERAPIST_MISS}
    return kept


def decide(
    sessions: Iterable[Session],
    marks: Iterable[Mark],
    patients: Mapping[str, Patient],
    policy: Policy,
    connected_at: datetime,
    now: datetime,
    *,
    therapist_id: int,
    evidence: Mapping[tuple[str, str], CallEvidence] | None = None,
) -> list[Decision]:
    """The decisions for every session of one therapist that needs something at ``now``.

    ``marks`` are the explicit marks (dashboard and link) for any of the sessions; the
    calendar's own marks are read from each session. ``patients`` maps patient keys to
    their settings; a session whose patient has no record gets no patient-facing action.
    Sessions that ended at or before ``connected_at`` are never acted on. ``evidence``
    holds what video calls showed, by session (see :func:`assess`).

    Nothing reaches a patient before the session's scheduled end, and nothing is due before
    the outcome is known. Decisions come sorted by session start, then calendar and event id.
    Their actions' keys are the therapist's own (``therapist_id``, see ``idempotency_key``).

    :raises ValueError: on naive datetimes or two sessions with the same identity.
    """
    now = to_utc(now, "now")
    connected_at = to_utc(connected_at, "connected_at")
    by_ref: dict[tuple[str, str], Session] = {}
    for session in sessions:
        if session.ref in by_ref:
            raise ValueError("two sessions share one calendar id and event id")
        by_ref[session.ref] = session
    marks_by_ref: dict[tuple[str, str], list[Mark]] = defaultdict(list)
    for mark in marks:
        marks_by_ref[mark.ref].append(mark)

    ordered = sorted(by_ref.values(), key=lambda s: (s.start, s.calendar_id, s.event_id))
    calls = evidence or {}
    assessments = [
        assess(s, marks_by_ref[s.ref], policy, connected_at, now, calls.get(s.ref)) for s in ordered
    ]
    miss_starts: dict[str, list[datetime]] = defaultdict(list)
    for a in assessments:
        key = a.session.patient_key
        if not a.history and key is not None and counts_toward_ladder(a.outcome, policy):
            miss_starts[key].append(a.session.start)

    decisions = []
    for assessment in assessments:
        if not assessment.history:
            decision = _decide_one(assessment, patients, policy, miss_starts, now, therapist_id)
            if decision is not None:
                decisions.append(decision)
    return decisions


def _decide_one(
    assessment: Assessment,
    patients: Mapping[str, Patient],
    policy: Policy,
    miss_starts: Mapping[str, list[datetime]],
    now: datetime,
    therapist_id: int,
) -> Decision | None:
    session = assessment.session
    actions: list[PlannedAction] = []

    def plan(kind: ActionKind, due_at: datetime, delivery: Delivery = Delivery.SEND) -> None:
        key = idempotency_key(therapist_id, session.calendar_id, session.event_id, kind)
        actions.append(PlannedAction(kind, key, delivery, due_at))

    if assessment.remind_therapist:
        plan(ActionKind.REMIND_THERAPIST_TO_MARK, reminder_due(session.end, policy.unmarked))

    step: int | None = None
    fee = None
    patient, no_contact = _contact(session, patients)
    reported_no_contact = None
    known_at = assessment.known_at
    due = max(known_at, session.end) if known_at is not None else None
    if assessment.outcome.is_billable_miss and due is not None and due <= now:
        counted = counts_toward_ladder(assessment.outcome, policy)
        if counted and session.patient_key is not None:
            misses = miss_starts[session.patient_key]
            step = ladder_step(session.start, misses, policy.rolling_window)
        reported_no_contact = no_contact
        late = past_late_bound(session.end, policy.late_bound, now)
        for kind in _follow_up_kinds(assessment, policy, step, no_contact):
            offer = late and kind.patient_facing
            plan(kind, due, Delivery.OFFER_TO_THERAPIST if offer else Delivery.SEND)
        fee = fee_due(assessment.outcome, assessment.assumed, patient, policy)
        if fee is not None:
            plan(ActionKind.RECORD_FEE, due)

    if not actions:
        return None
    actions.sort(key=lambda action: _KIND_ORDER[action.kind])
    decision = Decision(
        session=session,
        outcome=assessment.outcome,
        assumed=assessment.assumed,
        decided_by=assessment.decided_by,
        known_at=known_at,
        step=step,
        actions=tuple(actions),
        fee=fee,
        no_contact=reported_no_contact,
        explanation="",
    )
    return replace(decision, explanation=explain(decision, policy))
