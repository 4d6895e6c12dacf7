"""The calendar list and push channels of Google Calendar, as plain values."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import retry
from .errors import GoogleApiError


@dataclass(frozen=True)
class CalendarInfo:
    """One entry of the therapist's calendar list."""

    calendar_id: str
    summary: str
    time_zone: str
    primary: bool
    access_role: str


@dataclass(frozen=True)
class Channel:
    """A push channel Google opened: its ``resource_id`` is needed to stop it."""

    channel_id: str
    resource_id: str
    expires_at: datetime | None


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


def watch_events(
    calendar_service: Any,
    calendar_id: str,
    *,
    channel_id: str,
    token: str,
    address: str,
    expires_at: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> Channel:
    """Open a push channel on the calendar's events (``events.watch``).

    :raises GoogleApiError: as :func:`retry.execute` (400 for an address Google refuses).
    """
    body = {
        "id": channel_id,
        "type": "web_hook",
        "address": address,
        "token": token,
        "expiration": str(int(expires_at.timestamp() * 1000)),
    }
    answer = retry.execute(
        calendar_service.events().watch(calendarId=calendar_id, body=body), sleep=sleep
    )
    expiration = answer.get("expiration")
    return Channel(
        channel_id=str(answer.get("id") or channel_id),
        resource_id=str(answer["resourceId"]),
        expires_at=(datetime.fromtimestamp(int(expiration) / 1000, UTC) if expiration else None),
    )


def stop_channel(
    calendar_service: Any,
    channel_id: str,
    resource_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Stop a push channel. False when Google no longer knows it (already stopped, expired).

    :raises GoogleApiError: on any other refusal.
    """
    try:
        retry.execute(
            calendar_service.channels().stop(body={"id": channel_id, "resourceId": resource_id}),
            sleep=sleep,
        )
    except GoogleApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True
