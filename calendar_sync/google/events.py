"""Google Calendar events as plain values: the only place that reads Google's event JSON.

Also the one pagination loop of ``events.list``: every page is fetched through the retry
policy, and the ``nextSyncToken`` of the last page (absent on some servers) is returned.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any
from urllib.parse import urlparse
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
    #: The Google Meet code of the event's video link (``abc-mnop-xyz``), if it has one.
    meet_code: str | None = None

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
        """Invited people other than the calendar owner and the organiser; no rooms.

        The organiser is the owner for their own events; for an invitation from someone
        else (a front desk booking for the therapist), the organiser is not a guest.
        """
        return tuple(
            a for a in self.attendees if not a.is_self and not a.organizer and not a.resource
        )


@dataclass
class Listing:
    """Everything one ``events.list`` run returned, over all its pages."""

    events: list[CalendarEvent] = field(default_factory=list)
    next_sync_token: str | None = None
    time_zone: str | None = None
    summary: str | None = None
    pages: int = 0
    #: Why each item that could not be read was skipped (field names, never values).
    skipped: list[str] = field(default_factory=list)


class MalformedEvent(ValueError):
    """An item of ``events.list`` (or ``events.get``) that cannot be read as an event.

    The message names the field and the problem, never a value: it is logged and counted,
    and the one event is skipped rather than failing its calendar's sync.
    """


# The widest values the event store keeps (see ``storage.models.CalendarEventRow``).
_ID_LENGTH = 1024
_SHORT = 32
_RESPONSES = frozenset({"needsAction", "accepted", "declined", "tentative"})


def _zone(name: object, fallback: str) -> str:
    """``name`` if this machine knows that time zone, else ``fallback`` if it does, else UTC."""
    for candidate in (name, fallback):
        if isinstance(candidate, str) and candidate and len(candidate) <= 64:
            try:
                ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
            return candidate
    return "UTC"


def _object(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent(f"{key} is not an object")
    return value


def _text(item: dict[str, Any], key: str, limit: int, default: str | None = None) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise MalformedEvent(f"{key} is not text")
    if len(value) > limit:
        raise MalformedEvent(f"{key} is too long")
    return value


def parse_moment(value: object, zone: str) -> tuple[datetime | None, bool]:
    """An ``EventDateTime`` as (aware UTC instant, all-day?).

    ``dateTime`` carries its offset, so the instant is exact whatever DST does; an all-day
    ``date`` starts at midnight in ``zone``.

    :raises MalformedEvent: on a value that is not a date or time, or lies outside the
        instants Python can hold in UTC (year 1 or 9999 with an offset); a leap second
        (``23:59:60``) is one of those, as Python has no such second.
    """
    if not value:
        return None, False
    if not isinstance(value, dict):
        raise MalformedEvent("a start or end is not an object")
    try:
        if value.get("dateTime"):
            text = value["dateTime"]
            if not isinstance(text, str):
                raise MalformedEvent("a dateTime is not text")
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo(_zone(value.get("timeZone"), zone)))
            return moment.astimezone(UTC), False
        if value.get("date"):
            text = value["date"]
            if not isinstance(text, str):
                raise MalformedEvent("a date is not text")
            day = date.fromisoformat(text)
            return datetime.combine(day, clock_time(), ZoneInfo(_zone(zone, "UTC"))).astimezone(
                UTC
            ), True
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, MalformedEvent):
            raise
        raise MalformedEvent("a start or end is not a date and time Python can hold") from None
    return None, False


def _stamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None  # only a hint of when a change happened; the sync time stands in


def _address(person: dict[str, Any]) -> str | None:
    email = person.get("email")
    if not isinstance(email, str) or not email.strip() or len(email) > 320:
        return None
    return email.strip().lower()


def _attendee(raw: object) -> Attendee | None:
    if not isinstance(raw, dict):
        return None
    email = raw.get("email")
    response = raw.get("responseStatus")
    return Attendee(
        email=email if isinstance(email, str) and len(email) <= 320 else "",
        response=response if response in _RESPONSES else "needsAction",
        is_self=raw.get("self") is True,
        organizer=raw.get("organizer") is True,
        resource=raw.get("resource") is True,
    )


_MEET_CODE = re.compile(r"[a-z]{3}-[a-z]{4}-[a-z]{3}")


def meeting_code(item: dict[str, Any]) -> str | None:
    """The Meet code of a calendar event (``hangoutLink`` or its ``conferenceData``), if any.

    Only Google Meet links count: a Zoom or Teams link in ``conferenceData`` has no
    conference records here.
    """
    links: list[object] = [item.get("hangoutLink")]
    conference = item.get("conferenceData")
    if isinstance(conference, dict):
        for entry in conference.get("entryPoints") or []:
            if isinstance(entry, dict) and entry.get("entryPointType") == "video":
                links.append(entry.get("uri"))
    for link in links:
        if not isinstance(link, str):
            continue
        parsed = urlparse(link)
        code = parsed.path.strip("/").lower()
        if parsed.hostname == "meet.google.com" and _MEET_CODE.fullmatch(code):
            return code
    return None


def parse_event(item: object, calendar_zone: str) -> CalendarEvent:
    """Translate one item of ``events.list`` (``calendar_zone``: the listing's time zone).

    :raises MalformedEvent: when the item is not an event the store can keep (no id, a
        field of the wrong type, a time out of range); nothing else, whatever the input.
    """
    if not isinstance(item, dict):
        raise MalformedEvent("the item is not an object")
    event_id = _text(item, "id", _ID_LENGTH)
    if event_id is None:
        raise MalformedEvent("id is missing")
    start_json = _object(item, "start")
    zone = _zone(start_json.get("timeZone"), calendar_zone)
    start, all_day = parse_moment(start_json, zone)
    end, _ = parse_moment(item.get("end"), zone)
    original, _ = parse_moment(item.get("originalStartTime"), zone)
    attendees_json = item.get("attendees")
    if attendees_json is not None and not isinstance(attendees_json, list):
        raise MalformedEvent("attendees is not a list")
    attendees = tuple(found for found in map(_attendee, attendees_json or []) if found is not None)
    organizer = _object(item, "organizer")
    creator = _object(item, "creator")
    summary = item.get("summary")
    return CalendarEvent(
        event_id=event_id,
        status=_text(item, "status", _SHORT, "confirmed") or "confirmed",
        recurring_event_id=_text(item, "recurringEventId", _ID_LENGTH),
        original_start=original,
        title=summary if isinstance(summary, str) else "",
        start=start,
        end=end,
        time_zone=zone,
        all_day=all_day,
        transparency=_text(item, "transparency", _SHORT, "opaque") or "opaque",
        color_id=_text(item, "colorId", 16),
        attendees=attendees,
        # Without an organizer the owner created it; a stranger's invitation names its sender.
        organizer_is_self=organizer.get("self") is True if organizer else True,
        organizer_email=_address(organizer),
        creator_email=_address(creator),
        updated=_stamp(item.get("updated")),
        etag=_text(item, "etag", 255),
        meet_code=meeting_code(item),
    )


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC, as Google's timeMin / timeMax want it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class EventPage:
    """One page of an ``events.list`` run: its events, and where the listing goes next.

    ``next_page_token`` is set on every page but the last; ``next_sync_token`` only on the
    last (and not even there on servers that keep no tokens).
    """

    events: list[CalendarEvent]
    skipped: list[str]
    next_page_token: str | None
    next_sync_token: str | None
    #: The listing's time zone, when this machine knows it.
    time_zone: str | None
    summary: str | None


def list_event_pages(
    calendar_service: Any,
    calendar_id: str,
    *,
    sync_token: str | None = None,
    time_min: datetime | None = None,
    time_max: datetime | None = None,
    page_token: str | None = None,
    time_zone: str | None = None,
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    page_size: int = PAGE_SIZE,
) -> Iterator[EventPage]:
    """The pages of a calendar's events (with ``sync_token``: of the changes since it).

    Each page is fetched when the previous one has been taken, so a caller that stores each
    page before taking the next holds one page in memory. ``page_token`` resumes a listing
    at that page (with the same query it started with); ``time_zone`` is the zone to read
    all-day events in when a page does not name a known one.

    Series come expanded into instances (``singleEvents``); a sync token excludes the time
    window, which the token already fixes. An item that is not a readable event is left
    out, and why is kept in ``EventPage.skipped``.

    :raises SyncTokenExpired: the token is no longer valid (410).
    :raises GoogleApiError: as :func:`retry.execute` (400 for a page token Google no longer
        knows).
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
    known_zone = time_zone
    while True:
        page_query = dict(query, pageToken=page_token) if page_token else query
        page = retry.execute(
            calendar_service.events().list(**page_query), policy=policy, sleep=sleep
        )
        zone = _zone(page.get("timeZone"), known_zone or "UTC")
        # A zone this machine does not know is not kept: UTC (or the first page's) stands in.
        if known_zone is None and zone == page.get("timeZone"):
            known_zone = zone
        events: list[CalendarEvent] = []
        skipped: list[str] = []
        for item in page.get("items") or []:
            # One event Google sends that we cannot read must not fail the whole calendar.
            try:
                events.append(parse_event(item, zone))
            except MalformedEvent as exc:
                skipped.append(str(exc))
        page_token = page.get("nextPageToken") or None
        yield EventPage(
            events=events,
            skipped=skipped,
            next_page_token=page_token,
            next_sync_token=None if page_token else page.get("nextSyncToken"),
            time_zone=known_zone,
            summary=page.get("summary"),
        )
        if not page_token:
            return


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
    """Every page of :func:`list_event_pages` gathered in one :class:`Listing`.

    For bounded listings (a window of days, proposals' free time); a calendar's own sync
    goes page by page.

    :raises SyncTokenExpired: the token is no longer valid (410).
    :raises GoogleApiError: as :func:`retry.execute`.
    """
    listing = Listing()
    for page in list_event_pages(
        calendar_service,
        calendar_id,
        sync_token=sync_token,
        time_min=time_min,
        time_max=time_max,
        policy=policy,
        sleep=sleep,
        page_size=page_size,
    ):
        listing.pages += 1
        listing.time_zone = listing.time_zone or page.time_zone
        listing.summary = listing.summary or page.summary
        listing.events.extend(page.events)
        listing.skipped.extend(page.skipped)
        listing.next_sync_token = page.next_sync_token
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
