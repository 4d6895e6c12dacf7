"""The therapist's calendar list (calendarList.list), as plain values."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import retry


@dataclass(frozen=True)
class CalendarInfo:
    """One entry of the therapist's calendar list."""

    calendar_id: str
    summary: str
    time_zone: str
    primary: bool
    access_role: str


def list_calendars(
    calendar_service: Any, *, sleep: Callable[[float], None] = time.sleep
) -> list[CalendarInfo]:
    """Every calendar on the therapist's list, all pages.

    :raises GoogleApiError: as :func:`retry.execute` (403 when the list scope was not granted).
    """
    found: list[CalendarInfo] = []
    page_token: str | None = None
    while True:
        query: dict[str, Any] = {"maxResults": 250}
        if page_token:
            query["pageToken"] = page_token
        page = retry.execute(calendar_service.calendarList().list(**query), sleep=sleep)
        for item in page.get("items") or []:
            found.append(
                CalendarInfo(
                    calendar_id=str(item["id"]),
                    summary=str(item.get("summaryOverride") or item.get("summary") or ""),
                    time_zone=str(item.get("timeZone") or "UTC"),
                    primary=bool(item.get("primary", False)),
                    access_role=str(item.get("accessRole") or "reader"),
                )
            )
        page_token = page.get("nextPageToken")
        if not page_token:
            return found
