"""The slot finder: working hours on the local clock, buffers, notice, horizon, preference."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_sync.domain.slots import (
    RescheduleRules,
    Slot,
    answer_deadline,
    find_slots,
    has_session_soon,
    preference,
)

LONDON = ZoneInfo("Europe/London")
ZONES = [LONDON, ZoneInfo("America/New_York"), ZoneInfo("Australia/Sydney")]
RULES = RescheduleRules()
HOUR = timedelta(hours=1)


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


def test_first_slot_is_after_the_notice_inside_hours_at_the_usual_time() -> None:
    now = at(LONDON, 2025, 6, 2, 12, 0)  # a Monday
    missed = at(LONDON, 2025, 6, 2, 10, 0)
    slots = find_slots(50 * timedelta(minutes=1), RULES, LONDON, [], now, missed, 3)
    assert [s.start.astimezone(LONDON) for s in slots] == [
        at(LONDON, 2025, 6, 9, 10, 0),  # next Monday, the usual weekday and time
        at(LONDON, 2025, 6, 16, 10, 0),  # the one after, still inside the horizon
        # then the same time on other days, earliest first: Tuesday and Wednesday 10:00 would
        # leave the patient less than a day to answer before the notice begins
        at(LONDON, 2025, 6, 5, 10, 0),
    ]
    assert all(s.end - s.start == timedelta(minutes=50) for s in slots)


def test_busy_time_and_its_buffer_are_avoided() -> None:
    now = at(LONDON, 2025, 6, 1, 8, 0)
    missed = at(LONDON, 2025, 6, 2, 10, 0)
    busy = [(at(LONDON, 2025, 6, 3, 9, 0), at(LONDON, 2025, 6, 3, 10, 50))]
    slots = find_slots(HOUR, RULES, LONDON, busy, now, missed, 20)
    starts = {s.start.astimezone(LONDON) for s in slots}
    assert at(LONDON, 2025, 6, 3, 10, 0) not in starts
    # 10:50 + 15 min buffer: 11:00 is too close, 11:30 is the first free start that day.
    assert at(LONDON, 2025, 6, 3, 11, 0) not in starts
    day = [s for s in find_slots(HOUR, RULES, LONDON, busy, now, None, 100) if s.start.day == 3]
    assert day[0].start.astimezone(LONDON) == at(LONDON, 2025, 6, 3, 11, 30)


def test_a_09_00_slot_stays_09_00_across_the_clock_change() -> None:
    # London clocks go forward on Sunday 30 March 2025.
    now = at(LONDON, 2025, 3, 26, 9, 0)
    missed = at(LONDON, 2025, 3, 20, 9, 0)  # a Thursday in winter time
    slots = find_slots(HOUR, RULES, LONDON, [], now, missed, 8)
    local = [s.start.astimezone(LONDON) for s in slots]
    assert local[0] == at(LONDON, 2025, 4, 3, 9, 0)  # the usual Thursday, now summer time
    assert local[0].utcoffset() == HOUR
    assert at(LONDON, 2025, 3, 28, 9, 0) in local  # Friday, still winter time: 09:00 UTC
    assert datetime(2025, 3, 31, 8, 0, tzinfo=UTC) in [s.start for s in slots]  # Monday
    assert all(t.time() == time(9, 0) for t in local)


def test_nothing_when_everything_is_busy_or_weekend_only() -> None:
    now = at(LONDON, 2025, 6, 2, 8, 0)
    busy = [(now, now + timedelta(days=30))]
    assert find_slots(HOUR, RULES, LONDON, busy, now, None, 3) == []
    weekends = RescheduleRules(working_hours=((),) * 5 + (((time(10), time(12)),),) * 2)
    slots = find_slots(HOUR, weekends, LONDON, [], now, None, 10)
    assert slots and all(s.start.astimezone(LONDON).weekday() >= 5 for s in slots)


def test_rules_round_trip_through_json_and_refuse_nonsense() -> None:
    rules = RescheduleRules(
        working_hours=(((time(8), time(12)), (time(13), time(18))),) + ((),) * 6,
        buffer=timedelta(minutes=10),
        grid_minutes=15,
        max_proposals=2,
    )
    assert RescheduleRules.from_json(rules.to_json()) == rules
    assert RescheduleRules.from_json({}) == RescheduleRules()
    with pytest.raises(ValueError):
        RescheduleRules(grid_minutes=20)
    with pytest.raises(ValueError):
        RescheduleRules(minimum_answer_time=timedelta(hours=49))
    with pytest.raises(ValueError):
        RescheduleRules(working_hours=(((time(17), time(9)),),) * 7)
    with pytest.raises(ValueError):
        find_slots(HOUR, RULES, LONDON, [], datetime(2025, 6, 2), None, 1)  # noqa: DTZ001  # naive on purpose


def test_deadline_is_48_hours_but_never_inside_the_notice() -> None:
    offered = datetime(2025, 6, 2, 12, tzinfo=UTC)
    far = Slot(offered + timedelta(days=6), offered + timedelta(days=6, hours=1))
    near = Slot(offered + timedelta(hours=30), offered + timedelta(hours=31))
    assert answer_deadline(RULES, far, offered) == offered + timedelta(hours=48)
    assert answer_deadline(RULES, near, offered) == offered + timedelta(hours=6)


def test_session_soon() -> None:
    now = datetime(2025, 6, 2, 12, tzinfo=UTC)
    assert has_session_soon([now + timedelta(days=6)], RULES, now)
    assert not has_session_soon([now + timedelta(days=8), now - HOUR], RULES, now)


# -- properties ---------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001  # hypothesis wants naive bounds
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
busy_lists = st.lists(st.tuples(st.integers(0, 20 * 24 * 4), st.integers(1, 16)), max_size=25)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Any, ...]:
    zone = draw(st.sampled_from(ZONES))
    now = draw(moments)
    length = timedelta(minutes=draw(st.sampled_from([30, 45, 50, 60, 90])))
    grid = draw(st.sampled_from([15, 30]))
    rules = RescheduleRules(
        grid_minutes=grid, buffer=timedelta(minutes=draw(st.sampled_from([0, 10, 15])))
    )
    busy = [
        (now + timedelta(minutes=15 * q), now + timedelta(minutes=15 * (q + n)))
        for q, n in draw(busy_lists)
    ]
    preferred = draw(st.one_of(st.none(), moments))
    return zone, now, length, rules, busy, preferred


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_slots_obey_every_rule(scenario: tuple[Any, ...]) -> None:
    zone, now, length, rules, busy, preferred = scenario
    slots = find_slots(length, rules, zone, busy, now, preferred, 5)
    assert slots == find_slots(length, rules, zone, list(busy), now, preferred, 5)
    keys = [preference(s, zone, preferred) for s in slots]
    assert keys == sorted(keys)
    for slot in slots:
        assert slot.end - slot.start == length
        assert now + rules.minimum_notice <= slot.start < now + rules.horizon
        # offered now, the patient always has at least the least time to answer
        assert answer_deadline(rules, slot, now) - now >= rules.minimum_answer_time
        for a, b in busy:
            assert not slot.overlaps(a - rules.buffer, b + rules.buffer)
        start, end = slot.start.astimezone(zone), slot.end.astimezone(zone)
        assert start.date() == end.date()
        windows = rules.working_hours[start.weekday()]
        assert any(w0 <= start.time() and end.time() <= w1 for w0, w1 in windows)
        assert (start.hour * 60 + start.minute) % rules.grid_minutes == 0
    for i, slot in enumerate(slots):
        assert not any(slot.overlaps(o.start, o.end) for o in slots[i + 1 :])


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ZONES), moments)
def test_without_busy_time_the_fortnight_offers_every_working_day(
    zone: ZoneInfo, now: datetime
) -> None:
    slots = find_slots(HOUR, RULES, zone, [], now, None, 100)
    days = {s.start.astimezone(zone).date() for s in slots}
    # Fourteen days from now + 48 h (notice and least time to answer) holds at least seven
    # weekdays with a full 9-to-5.
    assert len(days) >= 7
    assert all(s.start.astimezone(zone).time() >= time(9) for s in slots)
