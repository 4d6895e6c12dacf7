"""Unmarked sessions: the three conventions, reminders, the hold, history and the late bound."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.unmarked import (
    UnmarkedConvention,
    UnmarkedRules,
    hold_ends,
    is_history,
    past_late_bound,
    reminder_due,
    settle_unmarked,
)

NEW_YORK = ZoneInfo("America/New_York")
END = datetime(2025, 6, 2, 18, 50, tzinfo=NEW_YORK)
HOUR = timedelta(hours=1)
MISSED = UnmarkedRules()
ATTENDED = UnmarkedRules(convention=UnmarkedConvention.UNMARKED_IS_ATTENDED)
ASK = UnmarkedRules(convention=UnmarkedConvention.ALWAYS_ASK)


def test_defaults_are_missed_two_hours_and_twenty() -> None:
    assert MISSED.convention is UnmarkedConvention.UNMARKED_IS_MISSED
    assert reminder_due(END, MISSED) == END + 2 * HOUR
    assert hold_ends(END, MISSED) == END + 20 * HOUR


@pytest.mark.parametrize("rules", [MISSED, ATTENDED, ASK])
def test_nothing_is_assumed_before_the_end(rules: UnmarkedRules) -> None:
    verdict = settle_unmarked(END, rules, END - timedelta(minutes=1))
    assert (verdict.outcome, verdict.assumed, verdict.remind_therapist) == (
        Outcome.UNMARKED,
        False,
        False,
    )


def test_missed_convention_over_time() -> None:
    just_ended = settle_unmarked(END, MISSED, END + HOUR)
    assert just_ended.outcome is Outcome.UNMARKED
    assert not just_ended.remind_therapist
    reminding = settle_unmarked(END, MISSED, END + 2 * HOUR)
    assert reminding.outcome is Outcome.UNMARKED
    assert reminding.remind_therapist
    still_holding = settle_unmarked(END, MISSED, END + 20 * HOUR - timedelta(seconds=1))
    assert still_holding.outcome is Outcome.UNMARKED
    missed = settle_unmarked(END, MISSED, END + 20 * HOUR)
    assert (missed.outcome, missed.assumed, missed.remind_therapist) == (
        Outcome.NO_SHOW,
        True,
        False,
    )
    assert missed.effective_at == END + 20 * HOUR


def test_attended_convention_never_reminds() -> None:
    for hours in (0, 2, 30, 200):
        verdict = settle_unmarked(END, ATTENDED, END + hours * HOUR)
        assert verdict.outcome is Outcome.ATTENDED
        assert verdict.assumed
        assert not verdict.remind_therapist


def test_always_ask_reminds_and_never_assumes() -> None:
    assert not settle_unmarked(END, ASK, END + HOUR).remind_therapist
    for hours in (2, 30, 200):
        verdict = settle_unmarked(END, ASK, END + hours * HOUR)
        assert verdict.outcome is Outcome.UNMARKED
        assert verdict.remind_therapist
        assert not verdict.assumed


def test_hold_crossing_a_clock_change_counts_real_hours() -> None:
    # Ends 20:00 EDT on Saturday 1 Nov 2025; clocks go back that night, so 20 real hours
    # later is 15:00 EST on Sunday, not 16:00.
    end = datetime(2025, 11, 1, 20, 0, tzinfo=NEW_YORK)
    assert hold_ends(end, MISSED).astimezone(NEW_YORK).hour == 15
    before = settle_unmarked(end, MISSED, datetime(2025, 11, 2, 14, 59, tzinfo=NEW_YORK))
    assert before.outcome is Outcome.UNMARKED
    after = settle_unmarked(end, MISSED, datetime(2025, 11, 2, 15, 0, tzinfo=NEW_YORK))
    assert after.outcome is Outcome.NO_SHOW


@pytest.mark.parametrize(
    ("reminder", "hold", "message"),
    [
        (timedelta(hours=-1), timedelta(hours=20), "negative"),
        (timedelta(hours=2), timedelta(hours=25), "at most 24"),
        (timedelta(hours=2), timedelta(0), "at most 24"),
        (timedelta(hours=20), timedelta(hours=20), "shorter"),
    ],
)
def test_invalid_rules(reminder: timedelta, hold: timedelta, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        UnmarkedRules(reminder_delay=reminder, hold=hold)


def test_a_full_day_hold_is_allowed() -> None:
    assert UnmarkedRules(hold=timedelta(hours=24)).hold == timedelta(hours=24)


def test_first_connect_rule() -> None:
    assert is_history(END, END)
    assert is_history(END, END + HOUR)
    assert not is_history(END, END - timedelta(seconds=1))


def test_late_bound_is_strictly_more_than() -> None:
    bound = timedelta(days=3)
    assert not past_late_bound(END, bound, END + bound)
    assert past_late_bound(END, bound, END + bound + timedelta(seconds=1))


def test_naive_now_is_rejected() -> None:
    naive = datetime(2025, 6, 3, 9, 0)  # noqa: DTZ001 - naive on purpose: it must be rejected
    with pytest.raises(ValueError, match="now must be an aware datetime"):
        settle_unmarked(END, MISSED, naive)
