"""Which new times to offer after a missed session: the pure slot finder.

A slot is as long as the missed session, lies inside the therapist's working hours in their
own time zone (a 09:00 slot stays 09:00 on the clock across daylight-saving changes), keeps
a buffer around every busy interval, starts no sooner than the minimum notice and before the
horizon, and sits on a 15- or 30-minute grid of the local clock. Slots are ranked by how
close they are to the patient's usual time of day, then whether they fall on the usual
weekday, then earliest first. Everything is a function of its arguments: ``now`` included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calendar_sync.domain.times import to_utc

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NINE_TO_FIVE = (time(9), time(17))


def _default_hours() -> tuple[tuple[tuple[time, time], ...], ...]:
    # Monday to Friday 09:00-17:00, nothing at weekends.
    return tuple(((_NINE_TO_FIVE,) if day < 5 else ()) for day in range(7))


@dataclass(frozen=True)
class RescheduleRules:
    """How a therapist wants new times offered; every default is in ``docs/reschedule.md``.

    ``working_hours[d]`` holds the (start, end) windows of weekday ``d`` (0 = Monday) on the
    therapist's local clock; a window never crosses midnight.

    :raises ValueError: on an empty or overnight window, a grid other than 15 or 30
        minutes, or a non-positive duration or count.
    """

    working_hours: tuple[tuple[tuple[time, time], ...], ...] = field(default_factory=_default_hours)
    #: Kept free before and after every other event.
    buffer: timedelta = timedelta(minutes=15)
    #: The earliest offer starts this long after now.
    minimum_notice: timedelta = timedelta(hours=24)
    #: No offer starts this long after now, or later.
    horizon: timedelta = timedelta(days=14)
    #: How many times are offered in turn for one miss (each decline moves to the next).
    max_proposals: int = 3
    #: How long the patient has to answer (never past the slot's start minus the notice).
    answer_deadline: timedelta = timedelta(hours=48)
    #: The least time a patient is given to answer: no time is offered that would leave
    #: less (its start minus the notice must come at least this long after the offer).
    minimum_answer_time: timedelta = timedelta(hours=24)
    #: No offer when the patient already has a session within this time from now.
    skip_if_session_within: timedelta = timedelta(days=7)
    #: Minutes between possible start times on the local clock.
    grid_minutes: int = 30

    def __post_init__(self) -> None:
        if len(self.working_hours) != 7:
            raise ValueError("working_hours needs one entry per weekday, Monday first")
        for windows in self.working_hours:
            for start, end in windows:
                if not start < end:
                    raise ValueError("a working-hours window must end after it starts")
        if self.grid_minutes not in (15, 30):
            raise ValueError("grid_minutes must be 15 or 30")
        for name in ("minimum_notice", "horizon", "answer_deadline", "minimum_answer_time"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.minimum_answer_time > self.answer_deadline:
            raise ValueError("minimum_answer_time cannot exceed answer_deadline")
        if self.buffer < timedelta(0) or self.skip_if_session_within < timedelta(0):
            raise ValueError("buffer and skip_if_session_within cannot be negative")
        if self.max_proposals < 1:
            raise ValueError("max_proposals must be at least 1")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (minutes and ``HH:MM``), read back by :meth:`from_json`."""
        return {
            "working_hours": {
                _WEEKDAYS[day]: [[f"{a:%H:%M}", f"{b:%H:%M}"] for a, b in windows]
                for day, windows in enumerate(self.working_hours)
            },
            "buffer_minutes": _minutes(self.buffer),
            "minimum_notice_minutes": _minutes(self.minimum_notice),
            "horizon_minutes": _minutes(self.horizon),
            "max_proposals": self.max_proposals,
            "answer_deadline_minutes": _minutes(self.answer_deadline),
            "minimum_answer_minutes": _minutes(self.minimum_answer_time),
            "skip_if_session_within_minutes": _minutes(self.skip_if_session_within),
            "grid_minutes": self.grid_minutes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RescheduleRules:
        """Rules from :meth:`to_json`'s shape; missing keys take the defaults.

        :raises ValueError: on a malformed value.
        """
        default = cls()
        hours = default.working_hours
        if "working_hours" in data:
            given = data["working_hours"]
            hours = tuple(
                tuple(
                    (time.fromisoformat(a), time.fromisoformat(b)) for a, b in given.get(name, [])
                )
                for name in _WEEKDAYS
            )

        def span(key: str, fallback: timedelta) -> timedelta:
            return timedelta(minutes=int(data[key])) if key in data else fallback

        return cls(
            working_hours=hours,
            buffer=span("buffer_minutes", default.buffer),
            minimum_notice=span("minimum_notice_minutes", default.minimum_notice),
            horizon=span("horizon_minutes", default.horizon),
            max_proposals=int(data.get("max_proposals", default.max_proposals)),
            answer_deadline=span("answer_deadline_minutes", default.answer_deadline),
            minimum_answer_time=span("minimum_answer_minutes", default.minimum_answer_time),
            skip_if_session_within=span(
                "skip_if_session_within_minutes", default.skip_if_session_within
            ),
            grid_minutes=int(data.get("grid_minutes", default.grid_minutes)),
        )


def _minutes(value: timedelta) -> int:
    return int(value.total_seconds() // 60)


@dataclass(frozen=True, order=True)
class Slot:
    """A time that could be offered: aware UTC ``start`` and ``end``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start, "Slot.start"))
        object.__setattr__(self, "end", to_utc(self.end, "Slot.end"))
        if self.end <= self.start:
            raise ValueError("Slot.end must be after Slot.start")

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Slot:
        return cls(datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]))


def answer_deadline(rules: RescheduleRules, slot: Slot, offered_at: datetime) -> datetime:
    """When an offer of ``slot`` made at ``offered_at`` expires without an answer.

    The patient gets ``rules.answer_deadline``, but never past the slot's start minus the
    minimum notice: an answer after that would leave no time to prepare. Slots from
    :func:`find_slots` start late enough to leave at least ``rules.minimum_answer_time``.
    """
    return min(
        to_utc(offered_at, "offered_at") + rules.answer_deadline, slot.start - rules.minimum_notice
    )


def has_session_soon(
    session_starts: Iterable[datetime], rules: RescheduleRules, now: datetime
) -> bool:
    """Whether one of the patient's sessions starts between ``now`` and the skip window."""
    now = to_utc(now, "now")
    limit = now + rules.skip_if_session_within
    return any(now <= to_utc(start, "session start") < limit for start in session_starts)


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime | None:
    """The instant ``clock`` shows on ``day`` in ``zone``; None when the clock skips it."""
    moment = datetime.combine(day, clock, zone)
    back = moment.astimezone(UTC).astimezone(zone)
    if (back.date(), back.time()) != (day, clock):
        return None  # inside a spring-forward gap
    return moment.astimezone(UTC)


def _candidates(
    length: timedelta, rules: RescheduleRules, zone: ZoneInfo, first: datetime, last: datetime
) -> Iterable[Slot]:
    """Every grid slot inside working hours whose start is in [first, last)."""
    day = first.astimezone(zone).date() - timedelta(days=1)
    final_day = last.astimezone(zone).date()
    step = rules.grid_minutes
    while day <= final_day:
        for window_start, window_end in rules.working_hours[day.weekday()]:
            window_close = _local(day, window_end, zone)
            if window_close is None:
                continue
            minute = window_start.hour * 60 + window_start.minute
            minute = -(-minute // step) * step  # up to the grid
            end_minute = window_end.hour * 60 + window_end.minute
            while minute < end_minute:
                start = _local(day, time(minute // 60, minute % 60), zone)
                minute += step
                if start is None or not first <= start < last:
                    continue
                if start + length <= window_close:
                    yield Slot(start, start + length)
        day += timedelta(days=1)


def find_slots(
    length: timedelta,
    rules: RescheduleRules,
    time_zone: ZoneInfo,
    busy_intervals: Iterable[tuple[datetime, datetime]],
    now: datetime,
    preferred_start: datetime | None,
    count: int,
) -> list[Slot]:
    """Up to ``count`` non-overlapping slots of ``length``, best first.

    ``busy_intervals`` are (start, end) instants the therapist is not free; each is widened
    by ``rules.buffer`` on both sides. The earliest start leaves the patient
    ``rules.minimum_answer_time`` to answer before the notice begins. ``preferred_start`` is
    the missed session's start: the patient's usual weekday and time of day, read on the
    therapist's clock.

    :raises ValueError: on a non-positive length or a naive datetime.
    """
    if length <= timedelta(0):
        raise ValueError("a slot needs a positive length")
    now = to_utc(now, "now")
    blocked = sorted(
        (to_utc(a, "busy start") - rules.buffer, to_utc(b, "busy end") + rules.buffer)
        for a, b in busy_intervals
    )
    free = [
        slot
        for slot in _candidates(
            length,
            rules,
            time_zone,
            now + rules.minimum_notice + rules.minimum_answer_time,
            now + rules.horizon,
        )
        if not any(slot.overlaps(a, b) for a, b in blocked)
    ]
    free.sort(key=lambda slot: preference(slot, time_zone, preferred_start))
    chosen: list[Slot] = []
    for slot in free:
        if len(chosen) >= count:
            break
        if not any(slot.overlaps(other.start, other.end) for other in chosen):
            chosen.append(slot)
    return chosen


def preference(
    slot: Slot, time_zone: ZoneInfo, preferred_start: datetime | None
) -> tuple[int, int, datetime]:
    """The sort key of a slot (smaller is better).

    (minutes between its local time of day and the usual one, 0 on the usual weekday
    else 1, start): a patient's daily routine (work, school runs) usually matters more
    than the day, and among equals the earliest time brings them back soonest.
    """
    if preferred_start is None:
        return (0, 0, slot.start)
    usual = to_utc(preferred_start, "preferred_start").astimezone(time_zone)
    local = slot.start.astimezone(time_zone)
    distance = abs((local.hour * 60 + local.minute) - (usual.hour * 60 + usual.minute))
    return (distance, 0 if local.weekday() == usual.weekday() else 1, slot.start)
