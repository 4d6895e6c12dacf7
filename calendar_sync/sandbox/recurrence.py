"""Expansion of recurring events (RRULE, EXRULE, RDATE, EXDATE) into instances.

Occurrences are computed in the series' own time zone with an aware ``dtstart``: dateutil
then steps in wall-clock time, so a weekly 09:00 session stays at 09:00 across a DST change
while its UTC offset moves, which is what Google does.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule

from .calendar_events import instance_suffix, parse_event_time, render_event_time
from .errors import GoogleError

# A guard against unbounded series: Google also pages through at most a few years.
MAX_INSTANCES = 5000


def _series_start(series: dict, calendar_zone: str) -> tuple[datetime, ZoneInfo | None]:
    """The series' first start as dateutil wants it: aware for timed events, naive for all-day."""
    start, tz_name = parse_event_time(series["start"], "start", calendar_zone)
    if isinstance(start, datetime):
        tz = ZoneInfo(tz_name or calendar_zone)
        return start.astimezone(tz), tz
    return datetime.combine(start, time()), None


def _parse_dates(line: str, dtstart: datetime, tz: ZoneInfo | None) -> list[datetime]:
    """Values of an RDATE/EXDATE line, in the same awareness as the series start."""
    head, _, values = line.partition(":")
    params = dict(p.split("=", 1) for p in head.split(";")[1:] if "=" in p)
    line_tz = ZoneInfo(params["TZID"]) if "TZID" in params else tz
    result = []
    for value in values.split(","):
        value = value.strip()
        if len(value) == 8:
            # A date-only value on a timed series means the occurrence on that day.
            day = date.fromisoformat(value)
            result.append(datetime.combine(day, dtstart.timetz()))
        elif value.endswith("Z"):
            moment = datetime.fromisoformat(value)
            result.append(moment.replace(tzinfo=None) if tz is None else moment.astimezone(tz))
        else:
            local = datetime.fromisoformat(value)
            result.append(local if line_tz is None else local.replace(tzinfo=line_tz))
    return result


def _rule_set(series: dict, calendar_zone: str) -> tuple[rrule.rruleset, datetime, ZoneInfo | None]:
    dtstart, tz = _series_start(series, calendar_zone)
    rules = rrule.rruleset()
    try:
        for line in series.get("recurrence") or []:
            key = line.split(":")[0].split(";")[0]
            if key in ("RRULE", "EXRULE"):
                parsed = rrule.rrulestr(line.split(":", 1)[1], dtstart=dtstart)
                (rules.rrule if key == "RRULE" else rules.exrule)(parsed)  # type: ignore[arg-type]
            elif key == "RDATE":
                for moment in _parse_dates(line, dtstart, tz):
                    rules.rdate(moment)
            elif key == "EXDATE":
                for moment in _parse_dates(line, dtstart, tz):
                    rules.exdate(moment)
    except (ValueError, KeyError, TypeError) as exc:
        raise GoogleError(400, "invalid", "Invalid recurrence rule.") from exc
    return rules, dtstart, tz


def check_recurrence(series: dict, calendar_zone: str) -> None:
    """:raises GoogleError: 400 ``invalid`` when the recurrence lines cannot be parsed."""
    rules, dtstart, _ = _rule_set(series, calendar_zone)
    try:
        rules.after(dtstart, inc=True)
    except (ValueError, TypeError) as exc:
        raise GoogleError(400, "invalid", "Invalid recurrence rule.") from exc


def occurrences(
    series: dict, calendar_zone: str, window_start: datetime | None, window_end: datetime
) -> list[datetime | date]:
    """Original start times of the occurrences that overlap [window_start, window_end).

    Timed occurrences are aware datetimes in the series zone, all-day ones are dates.
    """
    rules, dtstart, tz = _rule_set(series, calendar_zone)
    start, _ = parse_event_time(series["start"], "start", calendar_zone)
    end, _ = parse_event_time(series["end"], "end", calendar_zone)
    length: timedelta = end - start  # type: ignore[operator]
    cal_tz = ZoneInfo(calendar_zone)

    def local(moment: datetime) -> datetime:
        shown = moment.astimezone(tz or cal_tz)
        return shown if tz is not None else shown.replace(tzinfo=None)

    after = local(window_start) - length if window_start else dtstart
    before = local(window_end)
    found: list[datetime | date] = []
    for moment in rules.xafter(max(after, dtstart), count=MAX_INSTANCES, inc=True):
        if moment >= before:
            break
        # Google's timeMin bounds the end exclusively: ending exactly at it is no overlap.
        if window_start is not None and moment + length <= local(window_start):
            continue
        found.append(moment if tz is not None else moment.date())
    return found


def build_instance(series: dict, original: datetime | date, calendar_zone: str) -> dict:
    """The instance of ``series`` that starts at ``original``, as Google shows it."""
    start, tz_name = parse_event_time(series["start"], "start", calendar_zone)
    end, end_tz = parse_event_time(series["end"], "end", calendar_zone)
    length = end - start  # type: ignore[operator]
    instance = copy.deepcopy(series)
    instance.pop("recurrence", None)
    instance["id"] = f"{series['id']}_{instance_suffix(original)}"
    instance["recurringEventId"] = series["id"]
    instance["originalStartTime"] = render_event_time(original, tz_name, calendar_zone)
    instance["start"] = render_event_time(original, tz_name, calendar_zone)
    instance["end"] = render_event_time(original + length, end_tz, calendar_zone)
    return instance
