"""Meet attendance evidence: present, absent, brief, no record, and looking again for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendar_sync.domain.meet import (
    Attendance,
    CallRecord,
    MeetRules,
    Participant,
    Stay,
    assess_call,
    evidence_words,
    needs_sessions,
)

from ..instants import spread

START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=50)
RULES = MeetRules()
SOON = END + timedelta(minutes=10)
LATER = END + timedelta(hours=2)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def person(*spans: tuple[float, float | None], therapist: bool = False) -> Participant:
    stays = tuple(Stay(at(a), None if b is None else at(b)) for a, b in spans)
    return Participant(therapist, stays)


def call(start: float, end: float | None, *people: Participant) -> CallRecord:
    return CallRecord(at(start), None if end is None else at(end), tuple(people))


THERAPIST = person((-2, 51), therapist=True)


def test_a_patient_who_joined_is_present_with_their_times() -> None:
    evidence = assess_call([call(-2, 51, THERAPIST, person((2, 49)))], START, END, RULES, SOON)
    assert evidence.attendance is Attendance.PRESENT
    assert (evidence.minutes, evidence.joined, evidence.left) == (47, at(2), at(49))
    assert evidence.therapist_minutes == 50
    assert evidence_words(evidence, ZoneInfo("UTC")) == "joined by video 10:02 to 10:49"


def test_times_are_shown_in_the_therapists_zone() -> None:
    evidence = assess_call([call(-2, 51, THERAPIST, person((2, 49)))], START, END, RULES, SOON)
    assert evidence_words(evidence, ZoneInfo("America/New_York")) == (
        "joined by video 05:02 to 05:49"
    )


def test_only_the_therapist_is_absent_as_soon_as_the_call_covered_the_session() -> None:
    evidence = assess_call([call(-2, 51, THERAPIST)], START, END, RULES, SOON)
    assert evidence.attendance is Attendance.ABSENT
    assert evidence_words(evidence, ZoneInfo("UTC")) == "only you joined the video call"


def test_a_therapist_who_left_early_waits_out_the_look_out_before_absent() -> None:
    # Another call later in the session could still be unpublished.
    records = [call(0, 15, person((0, 15), therapist=True))]
    assert assess_call(records, START, END, RULES, SOON).attendance is Attendance.PENDING
    after = END + RULES.look_for
    assert assess_call(records, START, END, RULES, after).attendance is Attendance.ABSENT


def test_a_record_with_nobody_is_absent_too() -> None:
    evidence = assess_call([call(0, 50)], START, END, RULES, LATER)
    assert evidence.attendance is Attendance.ABSENT
    assert evidence_words(evidence, ZoneInfo("UTC")) == "nobody joined the video call"


def test_no_record_is_pending_then_no_evidence() -> None:
    assert assess_call([], START, END, RULES, SOON).attendance is Attendance.PENDING
    final = assess_call([], START, END, RULES, END + RULES.look_for)
    assert final.attendance is Attendance.NO_EVIDENCE
    assert not final.minutes


def test_a_late_record_is_read_when_it_comes() -> None:
    assert assess_call([], START, END, RULES, SOON).attendance is Attendance.PENDING
    late = [call(-2, 51, THERAPIST, person((0, 50)))]
    found = assess_call(late, START, END, RULES, END + timedelta(minutes=40))
    assert found.attendance is Attendance.PRESENT


def test_nothing_is_said_before_the_end() -> None:
    records = [call(-2, None, THERAPIST, person((0, None)))]
    assert assess_call(records, START, END, RULES, at(30)).attendance is Attendance.PENDING


@pytest.mark.parametrize(
    ("spans", "expected", "minutes"),
    [
        (((35, 49),), Attendance.PRESENT, 14),  # came 35 minutes late
        (((0, 6),), Attendance.PRESENT, 6),  # left after six minutes
        (((46, 49),), Attendance.BRIEF, 3),  # joined at the very end
        (((0, 1), (30, 32)), Attendance.BRIEF, 3),  # two short tries
        (((-10, -5),), Attendance.BRIEF, 0),  # came early and gave up
    ],
)
def test_partial_attendance(
    spans: tuple[tuple[float, float], ...], expected: Attendance, minutes: int
) -> None:
    evidence = assess_call([call(-12, 51, THERAPIST, person(*spans))], START, END, RULES, LATER)
    assert (evidence.attendance, evidence.minutes) == (expected, minutes)


def test_brief_is_said_with_its_minutes() -> None:
    evidence = assess_call([call(-2, 51, THERAPIST, person((46, 49)))], START, END, RULES, LATER)
    assert evidence_words(evidence, ZoneInfo("UTC")) == (
        "joined by video 10:46 to 10:49, 3 minutes in the session: too short to count as there"
    )


def test_a_phone_dial_in_counts_like_anyone_else() -> None:
    # The adapter keeps nothing of the caller but "not the therapist" and the times.
    phone = person((3, 50))
    evidence = assess_call([call(-2, 51, THERAPIST, phone)], START, END, RULES, SOON)
    assert evidence.attendance is Attendance.PRESENT


def test_a_patient_who_rejoined_from_another_device_adds_up_once() -> None:
    first, second = person((0, 3)), person((2, 5))
    evidence = assess_call([call(-2, 51, THERAPIST, first, second)], START, END, RULES, LATER)
    assert (evidence.attendance, evidence.minutes) == (Attendance.PRESENT, 5)


def test_the_therapist_joining_twice_is_still_only_the_therapist() -> None:
    twice = person((0, 20), (22, 50), therapist=True)
    records = [call(0, 20, twice), call(22, 50, twice)]
    evidence = assess_call(records, START, END, RULES, LATER)
    assert evidence.attendance is Attendance.ABSENT
    assert evidence.therapist_minutes == 48


def test_an_open_call_is_not_absent_while_the_patient_could_still_join() -> None:
    records = [call(-2, None, person((-2, None), therapist=True))]
    assert assess_call(records, START, END, RULES, SOON).attendance is Attendance.PENDING


def test_records_outside_the_session_do_not_count() -> None:
    yesterday = call(-24 * 60, -23 * 60, THERAPIST, person((-24 * 60, -23 * 60)))
    evidence = assess_call([yesterday], START, END, RULES, END + RULES.look_for)
    assert evidence.attendance is Attendance.NO_EVIDENCE


def test_spans_inside_the_session_settle_it_and_those_reaching_out_do_not() -> None:
    inside = Stay(at(2), at(49))
    assert not needs_sessions(inside, START, END, RULES, LATER)
    reused_room = Stay(at(-60), at(45))
    assert needs_sessions(reused_room, START, END, RULES, LATER)
    short_anyway = Stay(at(-60), at(2))
    assert not needs_sessions(short_anyway, START, END, RULES, LATER)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"minimum": timedelta(0)},
        {"minimum": timedelta(minutes=31)},
        {"look_for": timedelta(minutes=5)},
        {"look_for": timedelta(hours=7)},
        {"early": timedelta(hours=2)},
    ],
)
def test_rules_out_of_range_are_refused(kwargs: dict[str, timedelta]) -> None:
    with pytest.raises(ValueError):
        MeetRules(**kwargs)


minutes = st.integers(min_value=-90, max_value=140)


@st.composite
def stays(draw: st.DrawFn) -> tuple[float, float]:
    a = draw(minutes)
    return (a, a + draw(st.integers(min_value=0, max_value=90)))


people = st.lists(st.tuples(st.booleans(), st.lists(stays(), min_size=1, max_size=3)), max_size=4)
later = st.integers(min_value=50, max_value=400).map(lambda m: at(m))


@given(people, later)
def test_present_needs_someone_else_and_absent_needs_nobody_else(
    found: list[tuple[bool, list[tuple[float, float]]]], now: datetime
) -> None:
    participants = [person(*spans, therapist=t) for t, spans in found]
    evidence = assess_call([call(-100, 200, *participants)], START, END, RULES, now)
    others = [p for p in participants if not p.is_therapist]
    if evidence.attendance is Attendance.PRESENT:
        assert others and evidence.minutes >= 5
    if evidence.attendance is Attendance.ABSENT:
        for p in others:
            assert all(s.clipped(at(-15), END, now) == timedelta(0) for s in p.stays)
    assert evidence.attendance is not Attendance.NO_EVIDENCE


@given(people, later, st.integers(min_value=1, max_value=60))
def test_staying_longer_never_takes_presence_away(
    found: list[tuple[bool, list[tuple[float, float]]]], now: datetime, extra: int
) -> None:
    participants = [person(*spans, therapist=t) for t, spans in found]
    before = assess_call([call(-100, 200, *participants)], START, END, RULES, now)
    longer = [
        Participant(
            p.is_therapist,
            tuple(Stay(s.start, s.end + timedelta(minutes=extra)) for s in p.stays if s.end),
        )
        for p in participants
    ]
    after = assess_call([call(-100, 200, *longer)], START, END, RULES, now)
    if before.attendance is Attendance.PRESENT:
        assert after.attendance is Attendance.PRESENT


@given(people, later)
def test_the_therapist_alone_is_never_present(
    found: list[tuple[bool, list[tuple[float, float]]]], now: datetime
) -> None:
    alone = [person(*spans, therapist=True) for _, spans in found]
    evidence = assess_call([call(-100, 200, *alone)], START, END, RULES, now)
    assert evidence.attendance in (Attendance.ABSENT, Attendance.PENDING)


@pytest.mark.parametrize("start", spread())
@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
def test_times_are_local_whatever_the_instant(start: datetime, zone: str) -> None:
    end = start + timedelta(minutes=50)
    joined, left = start + timedelta(minutes=2), end - timedelta(minutes=1)
    records = [
        CallRecord(start, end, (Participant(True, (Stay(start, end),)),)),
        CallRecord(start, end, (Participant(False, (Stay(joined, left),)),)),
    ]
    evidence = assess_call(records, start, end, RULES, end + timedelta(minutes=10))
    assert evidence.attendance is Attendance.PRESENT and evidence.minutes == 47
    local = ZoneInfo(zone)
    expected = f"{joined.astimezone(local):%H:%M} to {left.astimezone(local):%H:%M}"
    assert evidence_words(evidence, local) == f"joined by video {expected}"
