"""Google Calendar events as plain values: the only place that reads Google's event JSON.

Also the one pagination loop of ``events.list``: every page is fetched through the retry
policy, and the ``nextSyncToken`` of the last page (absent on some servers) is returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import retry
from .client import GoogleApis
from .errors import GoogleApiError
from .retry import Sleep

CANCELLED = "cancelled"
# Google's maximum page size: fewer pages, fewer calls against the quota.
PAGE_SIZE = 2500


@dataclass(frozen=True)
class Attendee:
    """One person (or room) invited to an event; ``response`` is Google's responseStatus."""

    email: str
    response: str = "needsAction"
    is_self: bool = False
    organizer: bool = False
    resource: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "responseStatus": self.response,
            "self": self.is_self,
            "organizer": self.organizer,
            "resource": self.resource,
        }


@dataclass(frozen=True)
class CalendarEvent:
    """An event (or one instance of a series) with aware UTC times.

    A cancelled event may come with nothing but its ids: ``start`` and ``end`` are then None.
    """

    event_id: str
    status: str
    recurring_event_id: str | None = None
    original_start: datetime | None = None
    title: str = ""
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str = "UTC"
    all_day: bool = False
    transparency: str = "opaque"
    color_id: str | None = None
    attendees: tuple[Attendee, ...] = ()
    organizer_is_self: bool = True
    #: Who organised and who created the event (lower case; None when Google does not say).
    #: An event made on a shared calendar is organised by the calendar itself.
    organizer_email: str | None = None
    creator_email: str | None = None
    updated: datetime | None = None
    etag: str | None = None

    @property
    def cancelled(self) -> bool:
        return self.status == CANCELLED

    @property
    def my_response(self) -> str | None:
        """The calendar owner's own answer, when they are on the attendee list."""
        for attendee in self.attendees:
            if attendee.is_self:
                return attendee.response
        return None

    @property
    def others(self) -> tuple[Attendee, ...]:
        """Invited people other than the calendar owner; rooms and resources left out."""
        return tuple(a for a in self.attendees if not a.is_self and not a.resource)


@dataclass
class Listing:
    """Everything one ``events.list`` run returned, over all its pages."""

    events: list[CalendarEvent] = field(default_factory=list)
    next_sync_token: str | None = None
    time_zone: str | None = None
    summary: str | None = None
    pages: int = 0


def _zone(name: str | None, fallback: str) -> str:
    if name:
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return fallback


def parse_moment(value: dict[str, Any] | None, zone: str) -> tuple[datetime | None, bool]:
    """An ``EventDateTime`` as (aware UTC instant, all-day?).

    ``dateTime`` carries its offset, so the instant is exact whatever DST does; an all-day
    ``date`` starts at midnight in ``zone``.
    """
    if not value:
        return None, False
    if value.get("dateTime"):
        moment = datetime.fromisoformat(str(value["dateTime"]))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(_zone(value.get("timeZone"), zone)))
        return moment.astimezone(UTC), False
    if value.get("date"):
        day = date.fromisoformat(str(value["date"]))
        return datetime.combine(day, clock_time(), ZoneInfo(zone)).astimezone(UTC), True
    return None, False


def _stamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _address(person: Any) -> str | None:
    email = person.get("email") if isinstance(person, dict) else None
    return email.strip().lower() or None if isinstance(email, str) else None


def parse_event(item: dict[str, Any], calendar_zone: str) -> CalendarEvent:
    """Translate one item of ``events.list`` (``calendar_zone``: the listing's time zone)."""
    start_json = item.get("start") or {}
    zone = _zone(start_json.get("timeZone"), calendar_zone)
    start, all_day = parse_moment(start_json, zone)
    end, _ = parse_moment(item.get("end"), zone)
    original, _ = parse_moment(item.get("originalStartTime"), zone)
    attendees = tuple(
        Attendee(
            email=str(a.get("email") or ""),
            response=str(a.get("responseStatus") or "needsAction"),
            is_self=bool(a.get("self", False)),
            organizer=bool(a.get("organizer", False)),
            resource=bool(a.get("resource", False)),
        )
        for a in item.get("attendees") or []
        if isinstance(a, dict)
    )
    organizer = item.get("organizer") or {}
    creator = item.get("creator") or {}
    return CalendarEvent(
        event_id=str(item["id"]),
        status=str(item.get("status") or "confirmed"),
        recurring_event_id=item.get("recurringEventId"),
        original_start=original,
        title=str(item.get("summary") or ""),
        start=start,
        end=end,
        time_zone=zone,
        all_day=all_day,
        transparency=str(item.get("transparency") or "opaque"),
        color_id=item.get("colorId"),
        attendees=attendees,
        # Without an organizer the owner created it; a stranger's invitation names its sender.
        organizer_is_self=bool(organizer.get("self", not organizer)),
        organizer_email=_address(organizer),
        creator_email=_address(creator),
        updated=_stamp(item.get("updated")),
        etag=item.get("etag"),
    )


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC, as Google's timeMin / timeMax want it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def list_events(
    calendar_service: Any,
    calendar_id: str,
    *,
    sync_token: str | None = None,
    time_min: datetime | None = None,
    time_max: datetime | None = None,
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    page_size: int = PAGE_SIZE,
) -> Listing:
    """Every event of a calendar (with ``sync_token``: every change since it), all pages.

    Series come expanded into instances (``singleEvents``); a sync token excludes the time
    window, which the token already fixes.

    :raises SyncTokenExpired: the token is no longer valid (410).
    :raises GoogleApiError: as :func:`retry.execute`.
    """
    query: dict[str, Any] = {
        "calendarId": calendar_id,
        "singleEvents": True,
        "maxResults": page_size,
    }
    if sync_token is not None:
        query["syncToken"] = sync_token
    else:
        if time_min is not None:
            query["timeMin"] = format_time(time_min)
        if time_max is not None:
            query["timeMax"] = format_time(time_max)
    listing = Listing()
    page_token: str | None = None
    while True:
        page_query = dict(query, pageToken=page_token) if page_token else query
        page = retry.execute(
            calendar_service.events().list(**page_query), policy=policy, sleep=sleep
        )
        listing.pages += 1
        zone = _zone(page.get("timeZone"), listing.time_zone or "UTC")
        listing.time_zone = listing.time_zone or page.get("timeZone")
        listing.summary = listing.summary or page.get("summary")
        listing.events.extend(parse_event(item, zone) for item in page.get("items") or [])
        page_token = page.get("nextPageToken")
        if not page_token:
            listing.next_sync_token = page.get("nextSyncToken")
            return listing


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
