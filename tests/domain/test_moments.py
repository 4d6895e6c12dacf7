"""The follow-up sleeps until ``next_change``: nothing ``decide`` would do may come sooner."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_sync.domain.decide import decide
from calendar_sync.domain.moments import next_change
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import Policy

from .test_decide import CONNECTED, START, mark, practices, session

FAR = timedelta(days=120)


def _what(practice: dict[str, Any], now: datetime) -> list[tuple[Any, ...]]:
    """What the follow-up would record and how: the keys and deliveries decided at ``now``."""
    return [
        (
            d.session.ref,
            d.outcome,
            d.step,
            tuple((a.idempotency_key, a.delivery) for a in d.actions),
        )
        for d in decide(**{**practice, "now": now})
    ]


def _moment(practice: dict[str, Any]) -> datetime | None:
    return next_change(
        practice["sessions"],
        practice["marks"],
        practice["policy"],
        practice["connected_at"],
        practice["now"],
    )


@settings(max_examples=300, deadline=None)
@given(practices(), st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=6))
def test_nothing_changes_before_the_next_moment(
    practice: dict[str, Any], fractions: list[float]
) -> None:
    now = practice["now"]
    moment = _moment(practice)
    assert moment is None or moment > now
    until = moment or now + FAR
    before = _what(practice, now)
    instants = [now + (until - now) * f for f in fractions] + [until - timedelta(microseconds=1)]
    for instant in instants:
        if now <= instant < until:
            assert _what(practice, instant) == before, (now, instant, moment)


def test_the_moments_of_one_unmarked_session_in_order() -> None:
    one = session()
    policy = Policy()
    moments = []
    now = START - timedelta(hours=1)
    while (found := next_change([one], [], policy, CONNECTED, now)) is not None:
        moments.append(found - one.end)
        now = found
    assert moments == [
        -timedelta(minutes=50),  # the start
        timedelta(0),  # the end
        policy.unmarked.reminder_delay,
        policy.unmarked.hold,
        policy.late_bound + timedelta(microseconds=1),
    ]


def test_a_mark_made_later_is_a_moment_and_history_is_none() -> None:
    one = session()
    later = one.end + timedelta(hours=30)
    found = next_change(
        [one],
        [mark(one, Outcome.NO_SHOW, later)],
        Policy(),
        CONNECTED,
        one.end + timedelta(hours=25),
    )
    assert found == later
    assert next_change([one], [], Policy(), one.end, one.end - timedelta(days=1)) is None
