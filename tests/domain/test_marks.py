"""Marks: every source, precedence (latest wins), notice windows across DST, late changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendar_sync.domain.marks import (
    FollowUpSent,
    Mark,
    MarkRules,
    MarkSource,
    calendar_marks,
    changed_after_follow_up,
    patient_cancel_outcome,
    resolve_outcome,
    winning_mark,
)
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.sessions import Cancellation, CancelledBy, PatientResponse, Session

LONDON = ZoneInfo("Europe/London")
DAY = timedelta(hours=24)
START = datetime(2025, 5, 12, 9, 0, tzinfo=LONDON)
END = START + timedelta(minutes=50)
LATER = START + timedelta(days=2)
CAL = "therapist@example.test"
BASE = Session("evt1", CAL, "P-1", START, END, LONDON)


def session(**changes: Any) -> Session:
    return replace(BASE, **changes)


def mark(outcome: Outcome, at: datetime, source: MarkSource = MarkSource.DASHBOARD) -> Mark:
    return Mark(CAL, "evt1", outcome, source, at)


def outcome_of(made: Session, marks: list[Mark] | None = None, now: datetime = LATER) -> Outcome:
    return resolve_outcome(made, marks or [], MarkRules(), DAY, now)[0]


def test_nothing_said_is_unmarked() -> None:
    assert resolve_outcome(BASE, [], MarkRules(), DAY, LATER) == (Outcome.UNMARKED, None)


@pytest.mark.parametrize(
    ("color", "expected"),
    [("11", Outcome.NO_SHOW), ("10", Outcome.ATTENDED), ("8", Outcome.LATE_CANCEL)],
)
def test_default_colours(color: str, expected: Outcome) -> None:
    made = session(color_id=color, color_changed_at=END)
    assert outcome_of(made) is expected


def test_other_colours_mean_nothing() -> None:
    assert outcome_of(session(color_id="7", color_changed_at=END)) is Outcome.UNMARKED


def test_colour_mapping_is_configurable() -> None:
    rules = MarkRules(colors={"3": Outcome.NO_SHOW})
    made = session(color_id="3", color_changed_at=END)
    assert resolve_outcome(made, [], rules, DAY, LATER)[0] is Outcome.NO_SHOW
    tomato = session(color_id="11", color_changed_at=END)
    assert resolve_outcome(tomato, [], rules, DAY, LATER)[0] is Outcome.UNMARKED


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("no-show", Outcome.NO_SHOW),
        ("ATTENDED", Outcome.ATTENDED),
        ("late", Outcome.LATE_CANCEL),
        ("Cancelled", Outcome.CANCELLED_IN_TIME),
    ],
)
def test_default_title_tags(tag: str, expected: Outcome) -> None:
    made = session(title_tags=frozenset({tag}), tags_changed_at=END)
    assert outcome_of(made) is expected


def test_tag_mapping_is_configurable_and_case_insensitive() -> None:
    rules = MarkRules(tags={"DNA": Outcome.NO_SHOW})
    made = session(title_tags=frozenset({"dna"}), tags_changed_at=END)
    assert resolve_outcome(made, [], rules, DAY, LATER)[0] is Outcome.NO_SHOW


def test_contradicting_tags_are_ignored() -> None:
    made = session(title_tags=frozenset({"attended", "no-show"}), tags_changed_at=END)
    assert outcome_of(made) is Outcome.UNMARKED


@pytest.mark.parametrize("source", [MarkSource.DASHBOARD, MarkSource.LINK])
def test_explicit_marks(source: MarkSource) -> None:
    assert outcome_of(BASE, [mark(Outcome.ATTENDED, END, source)]) is Outcome.ATTENDED


def test_decline_well_before_is_cancelled_in_time() -> None:
    made = session(patient_response=PatientResponse.DECLINED, patient_response_at=START - 2 * DAY)
    assert outcome_of(made) is Outcome.CANCELLED_IN_TIME


def test_decline_inside_the_window_is_a_late_cancel() -> None:
    made = session(
        patient_response=PatientResponse.DECLINED,
        patient_response_at=START - timedelta(hours=3),
    )
    assert outcome_of(made) is Outcome.LATE_CANCEL


def test_decline_after_the_start_is_a_late_cancel() -> None:
    made = session(patient_response=PatientResponse.DECLINED, patient_response_at=END)
    assert outcome_of(made) is Outcome.LATE_CANCEL


def test_exactly_the_notice_window_ahead_is_in_time() -> None:
    assert patient_cancel_outcome(START, START - DAY, DAY) is Outcome.CANCELLED_IN_TIME
    assert patient_cancel_outcome(START, START - DAY + timedelta(seconds=1), DAY) is (
        Outcome.LATE_CANCEL
    )


def test_accepting_again_leaves_no_cancellation() -> None:
    made = session(patient_response=PatientResponse.ACCEPTED, patient_response_at=END)
    assert outcome_of(made) is Outcome.UNMARKED


def test_therapist_deleting_the_event_is_clinician_cancelled() -> None:
    made = session(cancelled=Cancellation(CancelledBy.THERAPIST, START - timedelta(hours=1)))
    assert outcome_of(made) is Outcome.CLINICIAN_CANCELLED


def test_event_cancelled_by_the_patient_follows_the_notice_window() -> None:
    late = session(cancelled=Cancellation(CancelledBy.PATIENT, START - timedelta(hours=1)))
    early = session(cancelled=Cancellation(CancelledBy.PATIENT, START - 3 * DAY))
    assert outcome_of(late) is Outcome.LATE_CANCEL
    assert outcome_of(early) is Outcome.CANCELLED_IN_TIME


def test_spec_example_monday_after_clocks_go_forward() -> None:
    # Clocks went forward on Sunday 30 March 2025 at 01:00 GMT. Monday 09:00 BST is 08:00
    # UTC; Sunday 09:30 BST is 08:30 UTC: 23.5 real hours ahead, so inside 24 hours.
    start = datetime(2025, 3, 31, 9, 0, tzinfo=LONDON)
    cancelled = datetime(2025, 3, 30, 9, 30, tzinfo=LONDON)
    assert patient_cancel_outcome(start, cancelled, DAY) is Outcome.LATE_CANCEL


def test_window_across_spring_change_uses_real_hours() -> None:
    # Saturday 08:30 GMT to Sunday 09:00 BST: 24.5 hours on the wall clock, 23.5 real hours.
    start = datetime(2025, 3, 30, 9, 0, tzinfo=LONDON)
    cancelled = datetime(2025, 3, 29, 8, 30, tzinfo=LONDON)
    assert patient_cancel_outcome(start, cancelled, DAY) is Outcome.LATE_CANCEL


def test_window_across_autumn_change_uses_real_hours() -> None:
    # Saturday 09:30 BST to Sunday 09:00 GMT: 23.5 hours on the wall clock, 24.5 real hours.
    start = datetime(2025, 10, 26, 9, 0, tzinfo=LONDON)
    cancelled = datetime(2025, 10, 25, 9, 30, tzinfo=LONDON)
    assert patient_cancel_outcome(start, cancelled, DAY) is Outcome.CANCELLED_IN_TIME


def test_latest_mark_wins_whatever_the_source() -> None:
    colour = session(color_id="11", color_changed_at=END + timedelta(hours=3))
    assert outcome_of(colour, [mark(Outcome.ATTENDED, END + timedelta(hours=1))]) is (
        Outcome.NO_SHOW
    )
    assert outcome_of(colour, [mark(Outcome.ATTENDED, END + timedelta(hours=5))]) is (
        Outcome.ATTENDED
    )


def test_a_later_mark_overrides_the_patients_decline() -> None:
    declined = session(
        patient_response=PatientResponse.DECLINED,
        patient_response_at=START - timedelta(hours=2),
    )
    assert outcome_of(declined, [mark(Outcome.ATTENDED, END)]) is Outcome.ATTENDED


def test_same_instant_prefers_the_therapist_then_the_milder_outcome() -> None:
    made = session(color_id="11", color_changed_at=END)
    assert outcome_of(made, [mark(Outcome.ATTENDED, END)]) is Outcome.ATTENDED
    both = [mark(Outcome.NO_SHOW, END), mark(Outcome.ATTENDED, END)]
    assert outcome_of(BASE, both) is Outcome.ATTENDED


def test_undo_clears_earlier_marks() -> None:
    marks = [mark(Outcome.NO_SHOW, END), mark(Outcome.UNMARKED, END + timedelta(minutes=5))]
    assert outcome_of(BASE, marks) is Outcome.UNMARKED


def test_only_explicit_sources_can_undo() -> None:
    with pytest.raises(ValueError, match="clear"):
        mark(Outcome.UNMARKED, END, MarkSource.COLOR)


def test_attendance_marks_before_the_start_are_ignored() -> None:
    series_colour = session(color_id="11", color_changed_at=START - 7 * DAY)
    assert outcome_of(series_colour) is Outcome.UNMARKED
    early_cancel_tag = session(title_tags=frozenset({"late"}), tags_changed_at=START - DAY / 2)
    assert outcome_of(early_cancel_tag) is Outcome.LATE_CANCEL


def test_marks_after_now_do_not_count_yet() -> None:
    marks = [mark(Outcome.NO_SHOW, END + timedelta(hours=1))]
    assert outcome_of(BASE, marks, now=END) is Outcome.UNMARKED
    assert outcome_of(BASE, marks, now=END + timedelta(hours=1)) is Outcome.NO_SHOW


def test_marks_for_other_sessions_are_ignored() -> None:
    other = Mark(CAL, "evt2", Outcome.NO_SHOW, MarkSource.DASHBOARD, END)
    assert winning_mark([other], BASE, LATER) is None


def test_calendar_marks_lists_every_calendar_source() -> None:
    made = session(
        color_id="11",
        color_changed_at=END,
        title_tags=frozenset({"attended"}),
        tags_changed_at=END,
        patient_response=PatientResponse.DECLINED,
        patient_response_at=START - DAY / 2,
        cancelled=Cancellation(CancelledBy.THERAPIST, START),
    )
    sources = {m.source for m in calendar_marks(made, MarkRules(), DAY)}
    assert sources == {
        MarkSource.COLOR,
        MarkSource.TITLE_TAG,
        MarkSource.PATIENT_ANSWER,
        MarkSource.CALENDAR,
    }


def test_change_after_the_follow_up_is_reported() -> None:
    sent = FollowUpSent(CAL, "evt1", Outcome.NO_SHOW, END + timedelta(hours=20))
    attended = mark(Outcome.ATTENDED, END + timedelta(hours=30))
    change = changed_after_follow_up(sent, BASE, [attended], LATER)
    assert change is not None
    assert (change.acted_on, change.now_marked) == (Outcome.NO_SHOW, Outcome.ATTENDED)
    assert change.changed_at == attended.at
    assert change.source is MarkSource.DASHBOARD


def test_no_change_reported_when_the_mark_agrees_or_came_before() -> None:
    sent = FollowUpSent(CAL, "evt1", Outcome.NO_SHOW, END + timedelta(hours=20))
    agreeing = [mark(Outcome.NO_SHOW, END + timedelta(hours=30))]
    earlier = [mark(Outcome.LATE_CANCEL, END + timedelta(hours=1))]
    assert changed_after_follow_up(sent, BASE, agreeing, LATER) is None
    assert changed_after_follow_up(sent, BASE, earlier, LATER) is None
    assert changed_after_follow_up(sent, BASE, [], LATER) is None


OUTCOMES = st.sampled_from([o for o in Outcome if o is not Outcome.UNMARKED])
EXPLICIT = st.sampled_from([MarkSource.DASHBOARD, MarkSource.LINK])


@given(
    st.lists(
        st.tuples(OUTCOMES, EXPLICIT, st.integers(0, 10_000)),
        min_size=1,
        max_size=8,
        unique_by=lambda item: item[2],
    ),
    st.randoms(use_true_random=False),
)
def test_latest_mark_wins_in_any_arrival_order(
    specs: list[tuple[Outcome, MarkSource, int]], rng: Any
) -> None:
    marks = [mark(outcome, START + timedelta(minutes=m), src) for outcome, src, m in specs]
    latest = max(marks, key=lambda m: m.at)
    shuffled = list(marks)
    rng.shuffle(shuffled)
    now = START + timedelta(minutes=10_001)
    assert outcome_of(BASE, shuffled, now=now) is latest.outcome
    assert winning_mark(shuffled, BASE, now) == winning_mark(marks, BASE, now)


ZONES = st.sampled_from(
    ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
)


@given(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1)),  # noqa: DTZ001 - hypothesis bounds are naive by design
    st.integers(-72 * 60, 72 * 60),
    ZONES,
    ZONES,
)
def test_notice_classification_ignores_the_display_zone(
    start_utc: datetime, minutes_ahead: int, zone_a: str, zone_b: str
) -> None:
    start = start_utc.replace(tzinfo=UTC)
    cancelled = start - timedelta(minutes=minutes_ahead)
    a, b = ZoneInfo(zone_a), ZoneInfo(zone_b)
    first = patient_cancel_outcome(start.astimezone(a), cancelled.astimezone(a), DAY)
    second = patient_cancel_outcome(start.astimezone(b), cancelled.astimezone(a), DAY)
    third = patient_cancel_outcome(start.astimezone(b), cancelled.astimezone(b), DAY)
    assert first is second is third
    assert (first is Outcome.CANCELLED_IN_TIME) == (minutes_ahead >= 24 * 60)
