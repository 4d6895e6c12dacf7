"""Writes to Google Calendar: our own invitation events inserted, moved and cancelled.

Every call goes through :func:`retry.execute`. Insertions use an id the service chose, so a
retry after a lost answer can never create a second event: Google's 409 ``duplicate`` means
an earlier attempt landed, and that event is fetched and used.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import retry
from .client import GoogleApis
from .errors import GoogleApiError
from .events import CalendarEvent, get_event, parse_event
from .retry import Sleep

# Tags our events for this service only (attendees never see private properties).
PRIVATE_TAG = "calendarSyncPurpose"


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
