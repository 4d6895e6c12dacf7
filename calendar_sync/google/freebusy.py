"""Free/busy of Google Calendar (freebusy.query), split to stay inside Google's limits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from . import retry
from .client import GoogleApis
from .errors import GoogleApiError
from .events import format_time
from .retry import Sleep

# Google's documented limits for one freebusy.query.
FREEBUSY_MAX_CALENDARS = 50


FREEBUSY_MAX_RANGE = timedelta(days=90)


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
