"""Calendar calls behind reschedule proposals: free/busy, and our own invitation events.

Every call goes through :func:`retry.execute`. Insertions use an id the service chose, so a
retry after a lost answer can never create a second event: Google's 409 ``duplicate`` means
an earlier attempt landed, and that event is fetched and used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import retry
from .client import GoogleApis
from .errors import GoogleApiError
from .events import CalendarEvent, format_time, list_events, parse_event

# Google's documented limits for one freebusy.query.
FREEBUSY_MAX_CALENDARS = 50
FREEBUSY_MAX_RANGE = timedelta(days=90)
# Tags our events for this service only (attendees never see private properties).
PRIVATE_TAG = "calendarSyncPurpose"

Sleep = Callable[[float], None]


def free_busy(
    apis: GoogleApis,
    calendar_ids: Sequence[str],
    time_min: datetime,
    time_max: datetime,
    *,
    sleep: Sleep = time.sleep,
) -> list[tuple[datetime, datetime]]:
    """Busy intervals (aware UTC, merged, sorted) of ``calendar_ids`` within the range.

    Queries are split to stay inside Google's limits (50 calendars, about 90 days each).

    :raises GoogleApiError: when a call fails, or Google cannot tell for a calendar
        (``reason`` is Google's, e.g. ``notFound``): a slot must never be guessed free.
    """
    spans: list[tuple[datetime, datetime]] = []
    ids = list(dict.fromkeys(calendar_ids))
    start = time_min
    while start < time_max and ids:
        end = min(start + FREEBUSY_MAX_RANGE, time_max)
        for offset in range(0, len(ids), FREEBUSY_MAX_CALENDARS):
            chunk = ids[offset : offset + FREEBUSY_MAX_CALENDARS]
            body = {
                "timeMin": format_time(start),
                "timeMax": format_time(end),
                "timeZone": "UTC",
                "items": [{"id": calendar_id} for calendar_id in chunk],
            }
            answer = retry.execute(apis.calendar.freebusy().query(body=body), sleep=sleep)
            for calendar in (answer.get("calendars") or {}).values():
                errors = calendar.get("errors") or []
                if errors:
                    reason = str(errors[0].get("reason") or "unknown")
                    raise GoogleApiError(
                        404, reason, "freebusy: a calendar's busy times are unknown"
                    )
                for item in calendar.get("busy") or []:
                    spans.append((_instant(item["start"]), _instant(item["end"])))
        start = end
    return merge(spans)


def merge(spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching intervals joined, in order."""
    merged: list[tuple[datetime, datetime]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(value: datetime, time_zone: str) -> dict[str, str]:
    # Local wall time with the zone: Google shows it on the therapist's clock.
    return {"dateTime": value.astimezone(ZoneInfo(time_zone)).isoformat(), "timeZone": time_zone}


def insert_event(
    apis: GoogleApis,
    calendar_id: str,
    event_id: str,
    start: datetime,
    end: datetime,
    time_zone: str,
    summary: str,
    description: str,
    attendee_email: str,
    send_updates: str = "all",
    *,
    purpose: str = "reschedule_proposal",
    sleep: Sleep = time.sleep,
) -> tuple[CalendarEvent, bool]:
    """Create our event with the id we chose; returns (event, created now?).

    A 409 ``duplicate`` means the id is taken, by our own earlier attempt: that event is
    fetched and returned with ``False`` (it may be cancelled if it was deleted since).

    :raises GoogleApiError: as :func:`retry.execute`.
    """
    body: dict[str, Any] = {
        "id": event_id,
        "summary": summary,
        "description": description,
        "start": _moment(start, time_zone),
        "end": _moment(end, time_zone),
        "attendees": [{"email": attendee_email}],
        "extendedProperties": {"private": {PRIVATE_TAG: purpose}},
        "guestsCanModify": False,
        "guestsCanInviteOthers": False,
    }
    request = apis.calendar.events().insert(
        calendarId=calendar_id, body=body, sendUpdates=send_updates
    )
    try:
        item = retry.execute(request, sleep=sleep)
    except GoogleApiError as exc:
        if exc.status != 409:
            raise
        return get_event(apis, calendar_id, event_id, time_zone, sleep=sleep), False
    return parse_event(item, time_zone), True


def get_event(
    apis: GoogleApis,
    calendar_id: str,
    event_id: str,
    time_zone: str = "UTC",
    *,
    sleep: Sleep = time.sleep,
) -> CalendarEvent:
    """One event (a deleted one comes back with ``status == "cancelled"``).

    :raises GoogleApiError: 404 when there is no such event.
    """
    item = retry.execute(
        apis.calendar.events().get(calendarId=calendar_id, eventId=event_id), sleep=sleep
    )
    return parse_event(item, time_zone)


def find_event(
    apis: GoogleApis,
    calendar_id: str,
    event_id: str,
    time_zone: str = "UTC",
    *,
    sleep: Sleep = time.sleep,
) -> CalendarEvent | None:
    """:func:`get_event`, with None when Google has no such event (404)."""
    try:
        return get_event(apis, calendar_id, event_id, time_zone, sleep=sleep)
    except GoogleApiError as exc:
        if exc.status == 404:
            return None
        raise


def move_event(
    apis: GoogleApis,
    calendar_id: str,
    event_id: str,
    start: datetime,
    end: datetime,
    time_zone: str,
    send_updates: str = "all",
    *,
    sleep: Sleep = time.sleep,
) -> CalendarEvent:
    """Give an event a new time; with ``all`` Google sends the guests the update.

    Patching the same time twice is harmless, so a retry after a lost answer is safe.

    :raises GoogleApiError: as :func:`retry.execute`.
    """
    body = {"start": _moment(start, time_zone), "end": _moment(end, time_zone)}
    request = apis.calendar.events().patch(
        calendarId=calendar_id, eventId=event_id, body=body, sendUpdates=send_updates
    )
    return parse_event(retry.execute(request, sleep=sleep), time_zone)


def cancel_event(
    apis: GoogleApis,
    calendar_id: str,
    event_id: str,
    send_updates: str = "all",
    *,
    sleep: Sleep = time.sleep,
) -> bool:
    """Delete an event; with ``all`` Google tells the guests. Returns False if already gone.

    A 410 ``deleted`` or a 404 means an earlier attempt (or a person) removed it already.

    :raises GoogleApiError: as :func:`retry.execute`.
    """
    request = apis.calendar.events().delete(
        calendarId=calendar_id, eventId=event_id, sendUpdates=send_updates
    )
    try:
        retry.execute(request, sleep=sleep)
    except GoogleApiError as exc:
        if exc.status in (404, 410):
            return False
        raise
    return True


def events_between(
    apis: GoogleApis,
    calendar_id: str,
    time_min: datetime,
    time_max: datetime,
    *,
    sleep: Sleep = time.sleep,
) -> list[CalendarEvent]:
    """The events of one calendar overlapping the range (series expanded)."""
    return list_events(
        apis.calendar, calendar_id, time_min=time_min, time_max=time_max, sleep=sleep
    ).events
