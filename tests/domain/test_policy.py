"""Policy defaults and validation, and the escalation ladder over the rolling window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import (
    LADDER_ACTIONS,
    ActionKind,
    Policy,
    counts_toward_ladder,
    ladder_step,
)

A = ActionKind
START = datetime(2025, 9, 1, 10, 0, tzinfo=UTC)
WINDOW = timedelta(days=90)


def test_defaults() -> None:
    policy = Policy()
    assert policy.rolling_window == timedelta(days=90)
    assert policy.notice_window == timedelta(hours=24)
    assert policy.late_cancels_count
    assert policy.no_show_fee is None
    assert policy.late_cancel_fee is None
    assert policy.late_bound == timedelta(days=3)


def test_default_ladder_steps() -> None:
    policy = Policy()
    assert policy.actions_for_step(1) == {A.EMAIL_CHECKIN, A.PROPOSE_RESCHEDULE}
    assert policy.actions_for_step(2) == {
        A.EMAIL_CHECKIN,
        A.EMAIL_POLICY_REMINDER,
        A.BARRIER_SURVEY,
        A.PROPOSE_RESCHEDULE,
    }
    assert policy.actions_for_step(3) == {A.ALERT_THERAPIST_PATTERN}
    assert policy.actions_for_step(4) == {A.ALERT_THERAPIST_TERMINATION_DRAFT}
    assert policy.actions_for_step(9) == {A.ALERT_THERAPIST_TERMINATION_DRAFT}


def test_no_step_ever_sends_termination_to_the_patient() -> None:
    termination = {kind for kind in ActionKind if "TERMINATION" in kind.name}
    assert termination
    assert not any(kind.patient_facing for kind in termination)


def test_step_zero_is_an_error() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        Policy().actions_for_step(0)


def test_fees_per_outcome() -> None:
    policy = Policy(no_show_fee=Money(5000, "EUR"), late_cancel_fee=Money(2500, "EUR"))
    assert policy.fee_for(Outcome.NO_SHOW) == Money(5000, "EUR")
    assert policy.fee_for(Outcome.LATE_CANCEL) == Money(2500, "EUR")
    assert policy.fee_for(Outcome.ATTENDED) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rolling_window": timedelta(0)}, "rolling_window"),
        ({"notice_window": timedelta(hours=-1)}, "notice_window"),
        ({"late_bound": timedelta(0)}, "late_bound"),
        ({"no_show_fee": Money(0, "EUR")}, "positive"),
        (
            {"no_show_fee": Money(100, "EUR"), "late_cancel_fee": Money(100, "USD")},
            "same currency",
        ),
        ({"ladder": ()}, "at least one"),
        ({"ladder": (frozenset(),)}, "step 1 has no action"),
        ({"ladder": (frozenset({A.RECORD_FEE}),)}, "cannot take"),
        ({"uncounted_late_cancel_actions": frozenset({A.REMIND_THERAPIST_TO_MARK})}, "invalid"),
    ],
)
def test_invalid_policies(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy(**changes)


def test_custom_ladder_repeats_its_last_step() -> None:
    policy = Policy(ladder=(frozenset({A.EMAIL_CHECKIN}), frozenset({A.ALERT_THERAPIST_PATTERN})))
    assert policy.actions_for_step(1) == {A.EMAIL_CHECKIN}
    assert policy.actions_for_step(5) == {A.ALERT_THERAPIST_PATTERN}


def test_only_ladder_actions_are_offered_in_steps() -> None:
    assert A.REMIND_THERAPIST_TO_MARK not in LADDER_ACTIONS
    assert A.RECORD_FEE not in LADDER_ACTIONS


def test_late_cancels_count_only_when_the_policy_says_so() -> None:
    assert counts_toward_ladder(Outcome.NO_SHOW, Policy(late_cancels_count=False))
    assert counts_toward_ladder(Outcome.LATE_CANCEL, Policy())
    assert not counts_toward_ladder(Outcome.LATE_CANCEL, Policy(late_cancels_count=False))
    for outcome in (Outcome.ATTENDED, Outcome.CANCELLED_IN_TIME, Outcome.UNMARKED):
        assert not counts_toward_ladder(outcome, Policy())
    assert not counts_toward_ladder(Outcome.CLINICIAN_CANCELLED, Policy())


def test_rolling_window_edges() -> None:
    misses = [START - WINDOW, START - WINDOW + timedelta(minutes=1), START]
    assert ladder_step(START, misses, WINDOW) == 2


def test_later_misses_do_not_change_an_earlier_step() -> None:
    misses = [START, START + timedelta(days=7), START + timedelta(days=14)]
    assert ladder_step(START, misses, WINDOW) == 1
    assert ladder_step(START + timedelta(days=14), misses, WINDOW) == 3


@given(st.lists(st.integers(0, 89 * 24), max_size=12), st.integers(0, 89 * 24))
def test_step_is_monotone_in_the_misses_in_the_window(hours: list[int], extra: int) -> None:
    misses = [START - timedelta(hours=h) for h in hours]
    before = ladder_step(START, misses, WINDOW)
    after = ladder_step(START, [*misses, START - timedelta(hours=extra)], WINDOW)
    assert after == before + 1
    policy = Policy()
    step_actions = policy.actions_for_step(max(after, 1))
    assert step_actions  # every step, however high, has something to do


def test_equal_policies_hash_alike() -> None:
    custom = Policy(no_show_fee=Money(100, "EUR"))
    assert hash(Policy()) == hash(Policy())
    assert {Policy(): "default", custom: "custom"}[Policy(no_show_fee=Money(100, "EUR"))] == (
        "custom"
    )
