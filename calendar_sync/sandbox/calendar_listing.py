"""Which events ``events.list`` returns, in which order and shape (no paging, no locking)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .calendar_events import event_bounds, instance_suffix
from .calendar_record import Calendar
from .errors import GoogleError
from .recurrence import build_instance, occurrences

# Filters Google refuses next to a syncToken (the token already fixes the query).
SYNC_FORBIDDEN = (
    "timeMin",
    "timeMax",
    "updatedMin",
    "q",
    "orderBy",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
)


@dataclass
class ListQuery:
    """The parameters of ``events.list`` that shape the result set."""

    single_events: bool = False
    show_deleted: bool = False
    order_by: str | None = None
    time_min: datetime | None = None
    time_max: datetime | None = None
    updated_min: datetime | None = None
    q: str | None = None
    ical_uid: str | None = None
    private_properties: list[str] = field(default_factory=list)
    shared_properties: list[str] = field(default_factory=list)

    def check(self) -> None:
        """:raises GoogleError: 400 for combinations Google rejects."""
        if self.order_by == "startTime" and not self.single_events:
            raise GoogleError(
                400, "invalid", "The requested ordering is not available for the particular query."
            )
        if self.time_min and self.time_max and self.time_max <= self.time_min:
            raise GoogleError(400, "timeRangeEmpty", "The specified time range is empty.")
        for prop in self.private_properties + self.shared_properties:
            if "=" not in prop:
                raise GoogleError(400, "invalid", "Extended property filters must be key=value.")


def minimal(event: dict) -> dict:
    """A deleted event as Google lists it: enough to remove it, nothing more."""
    keep = ("kind", "etag", "id", "status", "updated", "recurringEventId", "originalStartTime")
    return {k: event[k] for k in keep if k in event}


def _text_matches(event: dict, q: str) -> bool:
    people = [event.get("organizer") or {}, *(event.get("attendees") or [])]
    haystack = " ".join(
        [event.get(k) or "" for k in ("summary", "description", "location")]
        + [p.get(k) or "" for p in people for k in ("email", "displayName")]
    ).casefold()
    return all(term in haystack for term in q.casefold().split())


def _properties_match(event: dict, wanted: list[str], scope: str) -> bool:
    props = (event.get("extendedProperties") or {}).get(scope) or {}
    return all(props.get(k) == v for k, v in (p.split("=", 1) for p in wanted))


def _filters_pass(event: dict, query: ListQuery, tz: str) -> bool:
    if query.updated_min and datetime.fromisoformat(event["updated"]) < query.updated_min:
        return False
    if query.ical_uid and event.get("iCalUID") != query.ical_uid:
        return False
    if not _properties_match(event, query.private_properties, "private"):
        return False
    if not _properties_match(event, query.shared_properties, "shared"):
        return False
    return not (query.q and not _text_matches(event, query.q))


def _overlaps(event: dict, query: ListQuery, tz: str) -> bool:
    start, end = event_bounds(event, tz)
    if query.time_min and end <= query.time_min and not (start == end == query.time_min):
        return False
    return not (query.time_max and start >= query.time_max)


@dataclass(frozen=True)
class Listed:
    """One result with the keys it may be sorted by."""

    start: datetime
    updated: str
    order: tuple[int, str]
    item: dict


def expanded(
    calendar: Calendar, series: dict, window_start: datetime | None, window_end: datetime
) -> Iterator[dict]:
    """Instances of ``series`` in the window that no stored exception replaces."""
    tz = calendar.time_zone
    for original in occurrences(series, tz, window_start, window_end):
        instance_id = f"{series['id']}_{instance_suffix(original)}"
        if instance_id not in calendar.events:
            yield build_instance(series, original, tz)


def collect(
    calendar: Calendar,
    query: ListQuery,
    since_seq: int | None,
    horizon: datetime,
) -> list[dict]:
    """Every item of the listing in final order, before paging.

    ``since_seq`` makes it incremental: only events changed after that change number,
    deleted ones included whatever ``showDeleted`` says. ``horizon`` bounds the expansion
    of series that have no end when no ``timeMax`` is given.
    """
    tz = calendar.time_zone
    incremental = since_seq is not None
    # updatedMin also brings back deletions, as Google documents.
    include_deleted = query.show_deleted or incremental or query.updated_min is not None
    window_end = query.time_max or horizon
    found: list[Listed] = []

    def add(event: dict, order: tuple[int, str]) -> None:
        series = calendar.events.get(event.get("recurringEventId", ""))
        cancelled = event.get("status") == "cancelled" or (
            series is not None and series.get("status") == "cancelled"
        )
        if cancelled and not include_deleted:
            return
        if not _filters_pass(event, query, tz):
            return
        start, _ = event_bounds(event, tz)
        shown = minimal({**event, "status": "cancelled"}) if cancelled else event
        found.append(Listed(start, event["updated"], order, shown))

    for event_id, event in calendar.events.items():
        order = calendar.order[event_id]
        changed = not incremental or calendar.seq_of[event_id] > (since_seq or 0)
        is_series = bool(event.get("recurrence"))
        if query.single_events and is_series:
            if not changed:
                continue
            for instance in expanded(calendar, event, query.time_min, window_end):
                add(instance, (order, instance["id"]))
            continue
        if not changed:
            continue
        cancelled_instance = "recurringEventId" in event and event.get("status") == "cancelled"
        if is_series:
            window_start = query.time_min
            if query.time_min or query.time_max:
                inside = occurrences(event, tz, window_start, window_end)
                if not inside:
                    continue
        elif not _overlaps(event, query, tz) and not (cancelled_instance and incremental):
            continue
        if cancelled_instance and not query.single_events and not query.show_deleted:
            # Google lists cancelled instances of a series when showDeleted and
            # singleEvents are both false, so clients can hide those occurrences.
            found.append(
                Listed(
                    event_bounds(event, tz)[0], event["updated"], (order, event_id), minimal(event)
                )
            )
            continue
        add(event, (order, event_id))

    if query.order_by == "startTime":
        found.sort(key=lambda r: (r.start, r.order))
    elif query.order_by == "updated":
        found.sort(key=lambda r: (r.updated, r.order))
    else:
        found.sort(key=lambda r: r.order)
    return [r.item for r in found]
