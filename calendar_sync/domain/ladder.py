"""The escalation ladder: which miss in the rolling window this is, per patient."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import Policy
from calendar_sync.domain.times import to_utc


def counts_toward_ladder(outcome: Outcome, policy: Policy) -> bool:
    """Whether a session with ``outcome`` is a miss on the ladder under ``policy``."""
    if outcome is Outcome.NO_SHOW:
        return True
    return outcome is Outcome.LATE_CANCEL and policy.late_cancels_count


def ladder_step(start: datetime, miss_starts: Iterable[datetime], window: timedelta) -> int:
    """The step of a miss starting at ``start``: how many misses fall in the window ending then.

    ``miss_starts`` are the start times of the same patient's misses, including this one.
    A miss counts when it started after ``start - window`` and not after ``start``, so later
    misses never change an earlier session's step, and a miss exactly ``window`` before no
    longer counts.
    """
    end = to_utc(start, "start")
    begin = end - window
    return sum(1 for miss in miss_starts if begin < to_utc(miss, "miss start") <= end)
