"""``freebusy.query``: busy intervals merged from the events that block time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from .calendar_events import event_bounds, format_datetime, parse_timestamp
from .calendar_listing import expanded
from .calendar_record import Calendar
from .errors import GoogleError

MAX_CALENDARS = 50
# Google refuses long ranges; the figure matches the documented "about 90 days".
MAX_RANGE = timedelta(days=90)


def _blocks_time(event: dict, owner: str) -> bool:
    if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
        return False
    for attendee in event.get("attendees") or []:
        # A session the calendar's owner declined does not make them busy.
        if attendee.get("email", "").lower() == owner.lower() or attendee.get("self"):
            return attendee.get("responseStatus") != "declined"
    return True


def busy(calendar: Calendar, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Merged busy intervals of ``calendar`` clipped to [start, end)."""
    tz = calendar.time_zone
    spans: list[tuple[datetime, datetime]] = []
    for event in calendar.events.values():
        if event.get("recurrence"):
            if event.get("status") == "cancelled":
                continue
            candidates = list(expanded(calendar, event, start, end))
        else:
            series = calendar.events.get(event.get("recurringEventId", ""))
            if series is not None and series.get("status") == "cancelled":
                continue
            candidates = [event]
        for candidate in candidates:
            if not _blocks_time(candidate, calendar.owner):
                continue
            first, last = event_bounds(candidate, tz)
            if last > start and first < end:
                spans.append((max(first, start), min(last, end)))
    merged: list[tuple[datetime, datetime]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def answer(body: dict, lookup: Callable[[str], Calendar | None]) -> dict:
    """The ``calendar#freeBusy`` response; ``lookup`` finds a calendar the caller may see.

    :raises GoogleError: 400 for a missing or empty range, a range over 90 days, or more
        than 50 calendars. Unknown calendars get a per-calendar ``notFound`` error instead.
    """
    if not body.get("timeMin") or not body.get("timeMax"):
        raise GoogleError(400, "required", "Missing timeMin or timeMax.")
    start = parse_timestamp(body["timeMin"], "timeMin")
    end = parse_timestamp(body["timeMax"], "timeMax")
    if end <= start:
        raise GoogleError(400, "timeRangeEmpty", "The specified time range is empty.")
    if end - start > MAX_RANGE:
        raise GoogleError(400, "timeRangeTooLong", "The requested time range is too long.")
    items = body.get("items") or []
    if len(items) > MAX_CALENDARS:
        raise GoogleError(
            400, "tooManyCalendarsRequested", "The number of calendars requested is too large."
        )
    calendars: dict[str, dict] = {}
    for item in items:
        requested = item.get("id", "")
        calendar = lookup(requested)
        if calendar is None:
            calendars[requested] = {
                "errors": [{"domain": "global", "reason": "notFound"}],
                "busy": [],
            }
            continue
        calendars[requested] = {
            "busy": [
                {"start": format_datetime(a), "end": format_datetime(b)}
                for a, b in busy(calendar, start, end)
            ]
        }
    return {
        "kind": "calendar#freeBusy",
        "timeMin": format_datetime(start),
        "timeMax": format_datetime(end),
        "calendars": calendars,
    }
