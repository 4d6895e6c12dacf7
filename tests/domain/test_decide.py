"""The decision: which sessions need something now, what, with which key and fee."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_sync.domain.decide import assess, decide
from calendar_sync.domain.decisions import Decision, Delivery, NoContactReason, idempotency_key
from calendar_sync.domain.marks import Mark, MarkSource
from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.patients import Patient
from calendar_sync.domain.policy import ActionKind, Policy
from calendar_sync.domain.sessions import Cancellation, CancelledBy, PatientResponse, Session
from calendar_sync.domain.unmarked import UnmarkedConvention, UnmarkedRules

A = ActionKind
LONDON = ZoneInfo("Europe/London")
CAL = "therapist@example.test"
THERAPIST_ID = 7
CONNECTED = datetime(2025, 5, 1, 8, 0, tzinfo=LONDON)
START = datetime(2025, 5, 12, 9, 0, tzinfo=LONDON)
HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)
PATIENTS = {"P-1": Patient("P-1")}
FEE = Money(5000, "GBP")


def session(event_id: str = "evt1", start: datetime = START, **changes: Any) -> Session:
    made = Session(event_id, CAL, "P-1", start, start + timedelta(minutes=50), LONDON)
    return replace(made, **changes)


def mark(target: Session, outcome: Outcome, at: datetime) -> Mark:
    return Mark(target.calendar_id, target.event_id, outcome, MarkSource.DASHBOARD, at)


def run(
    sessions: list[Session],
    now: datetime,
    marks: list[Mark] | None = None,
    policy: Policy | None = None,
    patients: dict[str, Patient] | None = None,
) -> list[Decision]:
    return decide(
        sessions,
        marks or [],
        PATIENTS if patients is None else patients,
        policy or Policy(),
        CONNECTED,
        now,
        therapist_id=THERAPIST_ID,
    )


def only(decisions: list[Decision]) -> Decision:
    assert len(decisions) == 1
    return decisions[0]


def test_nothing_before_the_session_ends() -> None:
    assert run([session()], START + timedelta(minutes=30)) == []


def test_reminder_to_mark_then_assumed_no_show() -> None:
    end = session().end
    assert run([session()], end + HOUR) == []
    reminder = only(run([session()], end + 2 * HOUR))
    assert reminder.kinds == {A.REMIND_THERAPIST_TO_MARK}
    assert reminder.outcome is Outcome.UNMARKED
    assert "not marked yet" in reminder.explanation
    follow_up = only(run([session()], end + 20 * HOUR, policy=Policy(no_show_fee=FEE)))
    assert follow_up.outcome is Outcome.NO_SHOW
    assert follow_up.assumed
    assert follow_up.step == 1
    assert follow_up.kinds == {A.EMAIL_CHECKIN, A.PROPOSE_RESCHEDULE}
    assert follow_up.fee is None  # assumed no-shows are not charged by default
    assert all(a.due_at == end + 20 * HOUR for a in follow_up.actions)


def test_marked_no_show_goes_out_at_the_end_not_before() -> None:
    made = session()
    marks = [mark(made, Outcome.NO_SHOW, START + 15 * timedelta(minutes=1))]
    assert run([made], made.end - timedelta(minutes=1), marks) == []
    decision = only(run([made], made.end, marks, policy=Policy(no_show_fee=FEE)))
    assert decision.outcome is Outcome.NO_SHOW
    assert not decision.assumed
    assert decision.decided_by is MarkSource.DASHBOARD
    assert decision.fee == FEE
    assert A.RECORD_FEE in decision.kinds
    assert all(a.due_at == made.end for a in decision.actions)


def test_colour_mark_during_the_hold_skips_the_wait() -> None:
    made = session(color_id="11", color_changed_at=START + 3 * HOUR)
    decision = only(run([made], START + 3 * HOUR))
    assert decision.decided_by is MarkSource.COLOR
    assert decision.kinds == {A.EMAIL_CHECKIN, A.PROPOSE_RESCHEDULE}


@pytest.mark.parametrize(
    "changes",
    [
        {"color_id": "10", "color_changed_at": START + 2 * HOUR},
        {
            "patient_response": PatientResponse.DECLINED,
            "patient_response_at": START - 3 * timedelta(days=1),
        },
        {"cancelled": Cancellation(CancelledBy.THERAPIST, START - HOUR)},
    ],
    ids=["attended", "cancelled in time", "clinician cancelled"],
)
def test_sessions_that_need_nothing(changes: dict[str, Any]) -> None:
    assert run([session(**changes)], START + 5 * timedelta(days=1)) == []


def test_undo_hands_the_session_back_to_the_convention() -> None:
    made = session()
    marks = [
        mark(made, Outcome.ATTENDED, made.end),
        mark(made, Outcome.UNMARKED, made.end + HOUR),
    ]
    reminder = only(run([made], made.end + 3 * HOUR, marks))
    assert reminder.kinds == {A.REMIND_THERAPIST_TO_MARK}
    assumed = only(run([made], made.end + 20 * HOUR, marks))
    assert assumed.outcome is Outcome.NO_SHOW
    assert assumed.assumed


def test_first_connect_rule() -> None:
    before = session("old", CONNECTED - 2 * HOUR, color_id="11", color_changed_at=CONNECTED)
    ending_at_connect = session("edge", CONNECTED - timedelta(minutes=50))
    straddling = session("new", CONNECTED - timedelta(minutes=30))
    decisions = run([before, ending_at_connect, straddling], CONNECTED + 21 * HOUR)
    assert [d.session.event_id for d in decisions] == ["new"]


def test_history_is_assessed_but_never_assumed() -> None:
    old = session("old", CONNECTED - 48 * HOUR)
    assessed = assess(old, [], Policy(), CONNECTED, CONNECTED + 48 * HOUR)
    assert assessed.history
    assert assessed.outcome is Outcome.UNMARKED
    assert not assessed.assumed


def test_late_bound_offers_instead_of_sending_with_the_same_keys() -> None:
    made = session()
    on_time = only(run([made], made.end + 20 * HOUR))
    late = only(run([made], made.end + timedelta(days=3, seconds=1)))
    assert {a.delivery for a in on_time.actions} == {Delivery.SEND}
    assert {a.delivery for a in late.actions} == {Delivery.OFFER_TO_THERAPIST}
    assert [a.idempotency_key for a in late.actions] == [a.idempotency_key for a in on_time.actions]
    assert "wait for your approval" in late.explanation


def test_late_bound_still_sends_therapist_alerts() -> None:
    misses = [session(f"e{i}", START + i * WEEK) for i in range(3)]
    marks = [mark(s, Outcome.NO_SHOW, s.end) for s in misses]
    decisions = run(misses, START + 30 * timedelta(days=1), marks)
    third = decisions[2]
    assert third.kinds == {A.ALERT_THERAPIST_PATTERN}
    assert third.actions[0].delivery is Delivery.SEND


def weekly(outcomes: list[Outcome]) -> tuple[list[Session], list[Mark]]:
    sessions = [session(f"e{i}", START + i * WEEK) for i in range(len(outcomes))]
    marks = [mark(s, o, s.end) for s, o in zip(sessions, outcomes, strict=True)]
    return sessions, marks


def test_ladder_counts_late_cancels_by_default() -> None:
    sessions, marks = weekly(
        [Outcome.NO_SHOW, Outcome.LATE_CANCEL, Outcome.NO_SHOW, Outcome.NO_SHOW]
    )
    decisions = run(sessions, START + 4 * WEEK, marks)
    assert [d.step for d in decisions] == [1, 2, 3, 4]
    assert decisions[1].kinds == {
        A.EMAIL_CHECKIN,
        A.EMAIL_POLICY_REMINDER,
        A.BARRIER_SURVEY,
        A.PROPOSE_RESCHEDULE,
    }
    assert decisions[2].kinds == {A.ALERT_THERAPIST_PATTERN}
    assert decisions[3].kinds == {A.ALERT_THERAPIST_TERMINATION_DRAFT}
    assert "4th miss in the last 90 days" in decisions[3].explanation


def test_ladder_without_late_cancels() -> None:
    sessions, marks = weekly([Outcome.NO_SHOW, Outcome.LATE_CANCEL, Outcome.NO_SHOW])
    decisions = run(sessions, START + 3 * WEEK, marks, Policy(late_cancels_count=False))
    assert [d.step for d in decisions] == [1, None, 2]
    assert decisions[1].kinds == {A.PROPOSE_RESCHEDULE}


def test_rolling_window_forgets_old_misses() -> None:
    first = session("e0")
    second = session("e1", START + timedelta(days=91))
    marks = [mark(first, Outcome.NO_SHOW, first.end), mark(second, Outcome.NO_SHOW, second.end)]
    decisions = run([first, second], second.end + HOUR, marks)
    assert [d.step for d in decisions] == [1, 1]
    narrower = run([first, second], second.end + HOUR, marks, Policy(rolling_window=WEEK))
    wider = run([first, second], second.end + HOUR, marks, Policy(rolling_window=100 * WEEK))
    assert [d.step for d in narrower] == [1, 1]
    assert [d.step for d in wider] == [1, 2]


def test_opted_out_patient_only_alerts_the_therapist() -> None:
    made = session()
    patients = {"P-1": Patient("P-1", do_not_email=True)}
    decision = only(run([made], made.end + 20 * HOUR, patients=patients))
    assert decision.kinds == {A.ALERT_THERAPIST_MISS}
    assert decision.no_contact is NoContactReason.OPTED_OUT
    assert "asked not to be emailed" in decision.explanation


@pytest.mark.parametrize(
    ("patient_key", "reason"),
    [(None, NoContactReason.NO_PATIENT_LINKED), ("P-404", NoContactReason.NO_PATIENT_RECORD)],
)
def test_no_patient_to_write_to(patient_key: str | None, reason: NoContactReason) -> None:
    made = session(patient_key=patient_key)
    decision = only(run([made], made.end + 20 * HOUR, policy=Policy(no_show_fee=FEE)))
    assert decision.kinds == {A.ALERT_THERAPIST_MISS}
    assert decision.no_contact is reason
    assert decision.fee is None


def test_exempt_patient_is_not_charged() -> None:
    made = session()
    patients = {"P-1": Patient("P-1", fee_exempt=True)}
    marks = [mark(made, Outcome.NO_SHOW, made.end)]
    decision = only(run([made], made.end, marks, Policy(no_show_fee=FEE), patients))
    assert decision.fee is None
    assert A.RECORD_FEE not in decision.kinds


def test_late_decline_is_followed_up_after_the_session_with_a_fee() -> None:
    made = session(patient_response=PatientResponse.DECLINED, patient_response_at=START - 2 * HOUR)
    policy = Policy(late_cancel_fee=Money(2500, "GBP"))
    assert run([made], START, policy=policy) == []
    decision = only(run([made], made.end, policy=policy))
    assert decision.outcome is Outcome.LATE_CANCEL
    assert decision.fee == Money(2500, "GBP")
    assert "2 hours before the start" in decision.explanation


def test_always_ask_waits_for_a_mark() -> None:
    made = session()
    policy = Policy(unmarked=UnmarkedRules(convention=UnmarkedConvention.ALWAYS_ASK))
    days_later = only(run([made], made.end + timedelta(days=2), policy=policy))
    assert days_later.kinds == {A.REMIND_THERAPIST_TO_MARK}
    marks = [mark(made, Outcome.NO_SHOW, made.end + timedelta(days=2))]
    marked = only(run([made], made.end + timedelta(days=2), marks, policy))
    assert marked.kinds == {A.EMAIL_CHECKIN, A.PROPOSE_RESCHEDULE}


def test_unmarked_is_attended_sends_nothing() -> None:
    policy = Policy(unmarked=UnmarkedRules(convention=UnmarkedConvention.UNMARKED_IS_ATTENDED))
    assert run([session()], START + timedelta(days=2), policy=policy) == []


def test_keys_are_stable_and_distinct() -> None:
    made = session()
    decision = only(run([made], made.end + 20 * HOUR))
    keys = [a.idempotency_key for a in decision.actions]
    assert len(set(keys)) == len(keys)
    assert keys[0] == idempotency_key(THERAPIST_ID, CAL, "evt1", decision.actions[0].kind)
    assert CAL not in keys[0]
    assert idempotency_key(THERAPIST_ID, CAL, "evt2", A.EMAIL_CHECKIN) != idempotency_key(
        THERAPIST_ID, CAL, "evt1", A.EMAIL_CHECKIN
    )


def test_two_therapists_sharing_a_calendar_get_keys_of_their_own() -> None:
    # A practice's shared calendar: the same event seen by two therapists.
    mine = idempotency_key(1, CAL, "evt1", A.EMAIL_CHECKIN)
    theirs = idempotency_key(2, CAL, "evt1", A.EMAIL_CHECKIN)
    assert mine != theirs
    # The session part is the digest keys had before the therapist was in them, so
    # migration 0007 can rewrite a stored key without knowing the calendar's id.
    old_digest = hashlib.sha256(f"{CAL}\x00evt1".encode()).hexdigest()[:32]
    assert mine == f"email_checkin:1:{old_digest}"


def test_rejects_duplicates_and_naive_now() -> None:
    with pytest.raises(ValueError, match="share"):
        run([session(), session()], START)
    with pytest.raises(ValueError, match="now must be an aware"):
        run([session()], START.replace(tzinfo=None))


# Property-based tests over small random practices.

BASE = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
ZONES = [ZoneInfo("Europe/London"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
KEYS = ["P-1", "P-2", "P-3", None]


@st.composite
def practices(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 8))
    sessions = []
    marks = []
    for index in range(count):
        start = BASE + timedelta(hours=draw(st.integers(0, 24 * 60)))
        colour = draw(st.sampled_from([None, "11", "10", "8", "3"]))
        made = Session(
            f"e{index}",
            CAL,
            draw(st.sampled_from(KEYS)),
            start,
            start + timedelta(minutes=draw(st.sampled_from([45, 50, 90]))),
            draw(st.sampled_from(ZONES)),
            color_id=colour,
            color_changed_at=None if colour is None else start + HOUR,
        )
        sessions.append(made)
        for outcome in draw(st.lists(st.sampled_from(list(Outcome)), max_size=2)):
            at = start + timedelta(hours=draw(st.integers(-30, 200)))
            marks.append(Mark(CAL, made.event_id, outcome, MarkSource.DASHBOARD, at))
    patients = {
        key: Patient(key, do_not_email=draw(st.booleans()), fee_exempt=draw(st.booleans()))
        for key in draw(st.sets(st.sampled_from(KEYS[:3])))
    }
    policy = Policy(
        late_cancels_count=draw(st.booleans()),
        no_show_fee=draw(st.sampled_from([None, FEE])),
        charge_assumed_no_shows=draw(st.booleans()),
        unmarked=UnmarkedRules(convention=draw(st.sampled_from(list(UnmarkedConvention)))),
    )
    return {
        "sessions": sessions,
        "marks": marks,
        "patients": patients,
        "policy": policy,
        "connected_at": BASE + timedelta(hours=draw(st.integers(0, 24 * 30))),
        "now": BASE + timedelta(hours=draw(st.integers(0, 24 * 70))),
        "therapist_id": THERAPIST_ID,
    }


@settings(max_examples=150, deadline=None)
@given(practices(), st.randoms(use_true_random=False))
def test_decide_is_deterministic_idempotent_and_order_free(
    practice: dict[str, Any], rng: Any
) -> None:
    first = decide(**practice)
    assert decide(**practice) == first
    shuffled = dict(practice)
    shuffled["sessions"] = rng.sample(practice["sessions"], len(practice["sessions"]))
    shuffled["marks"] = rng.sample(practice["marks"], len(practice["marks"]))
    assert decide(**shuffled) == first


@settings(max_examples=150, deadline=None)
@given(practices())
def test_decisions_respect_the_rules_that_protect_patients(practice: dict[str, Any]) -> None:
    decisions = decide(**practice)
    now = practice["now"]
    patients = practice["patients"]
    keys = [a.idempotency_key for d in decisions for a in d.actions]
    assert len(keys) == len(set(keys))
    for decision in decisions:
        session_ = decision.session
        assert decision.actions
        assert session_.end > practice["connected_at"]
        patient = patients.get(session_.patient_key) if session_.patient_key else None
        reachable = patient is not None and not patient.do_not_email
        for action in decision.actions:
            assert action.due_at <= now
            if action.kind.patient_facing:
                assert reachable
                assert action.due_at >= session_.end
            if action.kind is A.RECORD_FEE:
                assert patient is not None and not patient.fee_exempt
        if decision.step is not None:
            assert decision.step >= 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([Outcome.ATTENDED, Outcome.NO_SHOW]), min_size=1, max_size=8))
def test_one_more_miss_never_lowers_a_step(outcomes: list[Outcome]) -> None:
    sessions, marks = weekly(outcomes)
    now = START + len(outcomes) * WEEK
    before = {d.session.event_id: d.step for d in run(sessions, now, marks)}
    attended = [i for i, outcome in enumerate(outcomes) if outcome is Outcome.ATTENDED]
    if not attended:
        return
    changed = list(outcomes)
    changed[attended[0]] = Outcome.NO_SHOW
    sessions, marks = weekly(changed)
    after = {d.session.event_id: d.step for d in run(sessions, now, marks)}
    assert set(before) < set(after)
    for event_id, step in before.items():
        assert step is not None
        assert after[event_id] is not None
        assert after[event_id] >= step
