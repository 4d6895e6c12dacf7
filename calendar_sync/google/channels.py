"""Push channels of Google Calendar (events.watch and channels.stop), as plain values."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import retry
from .errors import GoogleApiError


@dataclass(frozen=True)
class Channel:
    """A push channel Google opened: its ``resource_id`` is needed to stop it."""

    channel_id: str
    resource_id: str
    expires_at: datetime | None


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
