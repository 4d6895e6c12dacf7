"""Validation and shaping of Google Calendar event bodies, independent of storage."""

from __future__ import annotations

import base64
import copy
import re
import secrets
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import GoogleError

# Google lets clients choose event ids from the base32hex alphabet (RFC 2938 section 3.1.2).
_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
_EVENT_ID = re.compile(r"[0-9a-v]{5,1024}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# Fields a client may write; anything else in a body is read-only and Google ignores it.
WRITABLE_FIELDS = (
    "summary",
    "description",
    "location",
    "colorId",
    "start",
    "end",
    "endTimeUnspecified",
    "recurrence",
    "attendees",
    "extendedProperties",
    "transparency",
    "visibility",
    "reminders",
    "status",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "anyoneCanAddSelf",
    "source",
)
# A change to one of these is "significant" for attendees: Google bumps ``sequence``.
SIGNIFICANT_FIELDS = ("start", "end", "recurrence", "location", "status")

RESPONSE_STATUSES = ("needsAction", "declined", "tentative", "accepted")


def new_event_id() -> str:
    """An id in the shape Google generates: 26 base32hex characters."""
    return "".join(secrets.choice(_BASE32HEX) for _ in range(26))


def check_client_event_id(event_id: str) -> None:
    """:raises GoogleError: 400 ``invalid`` unless the id is 5-1024 base32hex characters."""
    if not _EVENT_ID.fullmatch(event_id):
        raise GoogleError(400, "invalid", "Invalid resource id value.")


def zone(name: str, what: str = "time zone") -> ZoneInfo:
    """The IANA zone ``name``; :raises GoogleError: 400 ``invalid`` for unknown names."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise GoogleError(400, "invalid", f"Invalid {what} definition.") from exc


def parse_timestamp(value: str, what: str) -> datetime:
    """An RFC 3339 timestamp that must carry an offset, as Google's query parameters do."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise GoogleError(400, "invalid", f"Bad Request: invalid {what}.") from exc
    if parsed.tzinfo is None:
        raise GoogleError(400, "invalid", f"Bad Request: {what} needs a time zone offset.")
    return parsed


def format_datetime(value: datetime) -> str:
    """RFC 3339 with seconds, ``Z`` for UTC, as Google renders event times."""
    text = value.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_stamp(value: datetime) -> str:
    """``created``/``updated`` stamps: UTC with milliseconds."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_event_time(
    raw: Any, which: str, calendar_zone: str
) -> tuple[datetime | date, str | None]:
    """Validate an ``EventDateTime`` and return (aware datetime or date, its time zone name).

    :raises GoogleError: 400 when it is missing, mixes ``date`` and ``dateTime``, has no
        offset and no ``timeZone``, or names an unknown zone.
    """
    if not isinstance(raw, dict) or not (raw.get("date") or raw.get("dateTime")):
        raise GoogleError(400, "required", f"Missing {which} time.")
    if raw.get("date") and raw.get("dateTime"):
        raise GoogleError(400, "invalid", f"Invalid {which} time: both date and dateTime.")
    tz_name = raw.get("timeZone")
    if tz_name is not None:
        zone(tz_name, f"time zone for {which} time")
    if raw.get("date"):
        try:
            return date.fromisoformat(raw["date"]), tz_name
        except (TypeError, ValueError) as exc:
            raise GoogleError(400, "invalid", f"Invalid {which} time.") from exc
    try:
        parsed = datetime.fromisoformat(raw["dateTime"])
    except (TypeError, ValueError) as exc:
        raise GoogleError(400, "invalid", f"Invalid {which} time.") from exc
    if parsed.tzinfo is None:
        if tz_name is None:
            raise GoogleError(400, "required", f"Missing time zone definition for {which} time.")
        parsed = parsed.replace(tzinfo=ZoneInfo(tz_name))
    return parsed, tz_name


def render_event_time(value: datetime | date, tz_name: str | None, calendar_zone: str) -> dict:
    """An ``EventDateTime`` as Google returns it: wall clock in the event's (or calendar's) zone."""
    if not isinstance(value, datetime):
        return {"date": value.isoformat()}
    shown = value.astimezone(ZoneInfo(tz_name or calendar_zone))
    out: dict[str, Any] = {"dateTime": format_datetime(shown)}
    if tz_name:
        out["timeZone"] = tz_name
    return out


def instant(value: datetime | date, calendar_zone: str) -> datetime:
    """The UTC instant of an event boundary; all-day dates begin at midnight in the calendar."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, time(), ZoneInfo(calendar_zone)).astimezone(UTC)


def event_bounds(event: dict, calendar_zone: str) -> tuple[datetime, datetime]:
    """(start, end) instants of a stored, already validated event."""
    start, _ = parse_event_time(event["start"], "start", calendar_zone)
    end, _ = parse_event_time(event["end"], "end", calendar_zone)
    return instant(start, calendar_zone), instant(end, calendar_zone)


def normalise_times(body: dict, calendar_zone: str) -> None:
    """Check ``start``/``end`` of a complete body and rewrite them in Google's rendering.

    :raises GoogleError: 400 ``timeRangeEmpty`` when the end is before the start.
    """
    start, start_zone = parse_event_time(body.get("start"), "start", calendar_zone)
    end, end_zone = parse_event_time(body.get("end"), "end", calendar_zone)
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise GoogleError(
            400, "invalid", "Start and end times must either both be date or both be dateTime."
        )
    if isinstance(start, datetime) and isinstance(end, datetime):
        empty = end < start
    else:
        # All-day ends are exclusive, so an all-day event lasts at least one day.
        empty = end <= start
    if empty:
        raise GoogleError(400, "timeRangeEmpty", "The specified time range is empty.")
    if body.get("recurrence") and isinstance(start, datetime) and not start_zone:
        # Recurrence is expanded in wall-clock time, which needs a named zone.
        raise GoogleError(400, "required", "Missing time zone definition for start time.")
    body["start"] = render_event_time(start, start_zone, calendar_zone)
    body["end"] = render_event_time(end, end_zone, calendar_zone)


def normalise_attendees(
    body: dict, organizer: str, previous: list[dict] | None, calendar_id: str | None = None
) -> None:
    """Default ``responseStatus``, mark the organizer and ``self``; keep answers left out.

    Attendees own their answers, so an update that omits ``responseStatus`` keeps the one
    already recorded instead of resetting it. ``self`` is the attendee whose calendar holds
    this copy (``calendar_id``, the organizer's when not given).
    """
    attendees = body.get("attendees")
    if attendees is None:
        return
    if not isinstance(attendees, list):
        raise GoogleError(400, "invalid", "Invalid attendees.")
    known = {a["email"].lower(): a for a in previous or [] if "email" in a}
    result: dict[str, dict] = {}
    for raw in attendees:
        email = raw.get("email") if isinstance(raw, dict) else None
        if not email or not _EMAIL.fullmatch(email):
            raise GoogleError(400, "invalid", "Invalid attendee email.")
        attendee = {k: v for k, v in raw.items() if k not in ("self", "organizer", "id")}
        status = attendee.get("responseStatus")
        if status is None:
            prior = known.get(email.lower(), {}).get("responseStatus")
            status = prior or ("accepted" if email.lower() == organizer.lower() else "needsAction")
        if status not in RESPONSE_STATUSES:
            raise GoogleError(400, "invalid", "Invalid attendee response status.")
        attendee["responseStatus"] = status
        if email.lower() == organizer.lower():
            attendee["organizer"] = True
        if email.lower() == (calendar_id or organizer).lower():
            attendee["self"] = True
        result[email.lower()] = attendee
    body["attendees"] = list(result.values())


def check_fields(body: dict) -> None:
    """:raises GoogleError: 400 for values Google rejects in otherwise well-typed fields."""
    color = body.get("colorId")
    if color is not None and color not in {str(n) for n in range(1, 12)}:
        raise GoogleError(400, "invalid", "Invalid color ID.")
    if body.get("status", "confirmed") not in ("confirmed", "tentative", "cancelled"):
        raise GoogleError(400, "invalid", "Invalid event status.")
    if body.get("transparency", "opaque") not in ("opaque", "transparent"):
        raise GoogleError(400, "invalid", "Invalid transparency value.")
    recurrence = body.get("recurrence")
    if recurrence is not None and (
        not isinstance(recurrence, list)
        or not all(
            isinstance(line, str) and line.split(":")[0].split(";")[0] in _RECURRENCE_KEYS
            for line in recurrence
        )
    ):
        raise GoogleError(400, "invalid", "Invalid recurrence rule.")


_RECURRENCE_KEYS = ("RRULE", "EXRULE", "RDATE", "EXDATE")


def instance_suffix(original_start: datetime | date) -> str:
    """The part of an instance id after ``<seriesId>_``: UTC basic format, or the date."""
    if isinstance(original_start, datetime):
        return original_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return original_start.strftime("%Y%m%d")


def parse_instance_id(event_id: str) -> tuple[str, datetime | date] | None:
    """Split ``<seriesId>_<suffix>`` into the series id and original start, if it is one."""
    series_id, sep, suffix = event_id.rpartition("_")
    if not sep or not series_id:
        return None
    try:
        if len(suffix) == 16:
            return series_id, datetime.fromisoformat(suffix)
        if len(suffix) == 8:
            return series_id, date.fromisoformat(suffix)
    except ValueError:
        return None
    return None


def html_link(event_id: str, calendar_id: str) -> str:
    """The web link Google gives an event: its id and calendar, base64 in ``eid``."""
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def check_etag(current: dict, if_match: str | None) -> None:
    """:raises GoogleError: 412 ``conditionNotMet`` when ``If-Match`` names another version."""
    if if_match and if_match != "*" and if_match != current.get("etag"):
        raise GoogleError(412, "conditionNotMet", "Precondition Failed")


def merge_patch(current: dict, patch: dict) -> dict:
    """Patch semantics: objects merge field by field, arrays and scalars replace, null clears."""
    merged = copy.deepcopy(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged
