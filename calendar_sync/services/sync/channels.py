"""Push channels: one per selected calendar, renewed before it expires, stopped when unwanted.

Each channel has its own random secret token; only its SHA-256 is stored, and a
notification is believed only when its token hashes to it (compared in constant time, in
``notifications``). Polling (``POLL_INTERVAL_SECONDS``) stays on as a safety net.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session as DbSession

from ...config import is_loopback
from ...google import GoogleApiError
from ...google.channels import stop_channel, watch_events
from ...google.client import GoogleApis
from ...storage import Database
from ...storage.models import CalendarRow, PushChannel
from ..runtime import Runtime

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/google/calendar"
# Asked for at each watch; Google may grant less, and the answer's expiration is used.
CHANNEL_LIFETIME = timedelta(days=7)
# A channel expiring sooner than this is replaced at the next cycle.
RENEWAL_MARGIN = timedelta(hours=24)
# A channel recorded but never confirmed (the process died during events.watch) is stopped
# by the cycle once this old; younger, its confirmation may still be on its way.
PENDING_GRACE = timedelta(minutes=5)


def push_enabled(config: dict[str, Any] | Any) -> bool:
    """Whether calendars get push channels under ``PUSH_NOTIFICATIONS`` (auto, on, off).

    ``auto`` is on when Google can reach the service (``PUBLIC_URL`` is HTTPS) or when the
    Google API root is itself on this machine (the sandbox reaches a loopback address).
    """
    mode = str(config.get("PUSH_NOTIFICATIONS", "auto")).lower()
    if mode in ("on", "off"):
        return mode == "on"
    if str(config["PUBLIC_URL"]).startswith("https://"):
        return True
    return is_loopback(urlsplit(str(config["GOOGLE_API_ROOT"])).hostname or "")


def webhook_address(config: dict[str, Any] | Any) -> str:
    return str(config["PUBLIC_URL"]).rstrip("/") + WEBHOOK_PATH


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(stored_hash: str | None, given: str | None) -> bool:
    if not stored_hash or not given:
        return False
    return hmac.compare_digest(hash_token(given), stored_hash)


def new_channel_id(calendar_row_id: int) -> str:
    """``cs-<calendar row id>-<random>``: at most 64 characters, as Google requires."""
    return f"cs-{calendar_row_id}-{secrets.token_urlsafe(24)}"[:64]


def _needs_channel(calendar: CalendarRow, now: datetime, interval: timedelta) -> bool:
    if calendar.channel_id is not None:
        expires = calendar.channel_expires_at
        return expires is None or expires - RENEWAL_MARGIN <= now
    if calendar.watch_problem is None or calendar.watch_attempted_at is None:
        return True
    # A refused channel is tried again once per poll interval, not at every cycle.
    return calendar.watch_attempted_at <= now - interval


def push_healthy(calendar: CalendarRow, config: dict[str, Any] | Any, now: datetime) -> bool:
    """Whether Google tells us of this calendar's changes: push on and a live channel."""
    expires = calendar.channel_expires_at
    return (
        push_enabled(config)
        and calendar.channel_id is not None
        and expires is not None
        and expires > now
    )


def poll_interval(calendar: CalendarRow, config: dict[str, Any] | Any, now: datetime) -> timedelta:
    """How long a calendar goes unread: a safety net under push, else the poll interval."""
    key = (
        "PUSH_POLL_INTERVAL_SECONDS"
        if push_healthy(calendar, config, now)
        else ("POLL_INTERVAL_SECONDS")
    )
    return timedelta(seconds=int(config[key]))


def next_channel_moment(
    db: DbSession, config: dict[str, Any] | Any, therapist_id: int, now: datetime
) -> datetime | None:
    """When :func:`maintain_channels` next has something to do for the therapist."""
    enabled = push_enabled(config)
    interval = timedelta(seconds=int(config["POLL_INTERVAL_SECONDS"]))
    moments: list[datetime] = []
    for calendar in db.scalars(select(CalendarRow).where(CalendarRow.therapist_id == therapist_id)):
        wanted = enabled and calendar.selected and calendar.gone_at is None
        if wanted and calendar.channel_id is not None:
            expires = calendar.channel_expires_at
            moments.append(now if expires is None else expires - RENEWAL_MARGIN)
        elif wanted:
            attempted = calendar.watch_attempted_at
            refused = calendar.watch_problem is not None and attempted is not None
            moments.append(attempted + interval if refused and attempted else now)
        elif calendar.channel_id is not None:
            moments.append(now)
    current = select(CalendarRow.channel_id).where(
        CalendarRow.therapist_id == therapist_id, CalendarRow.channel_id.is_not(None)
    )
    for created_at, expires_at in db.execute(
        select(PushChannel.created_at, PushChannel.expires_at)
        .join(CalendarRow, CalendarRow.id == PushChannel.calendar_row_id)
        .where(
            CalendarRow.therapist_id == therapist_id,
            PushChannel.stopped_at.is_(None),
            PushChannel.resource_id.is_not(None),
            PushChannel.id.not_in(current),
        )
    ):
        moments.append(now if expires_at is not None else created_at + PENDING_GRACE)
    return min(moments, default=None)


def _calendars(database: Database, therapist_id: int) -> list[CalendarRow]:
    with database.transaction() as db:
        return list(
            db.scalars(
                select(CalendarRow)
                .where(CalendarRow.therapist_id == therapist_id)
                .order_by(CalendarRow.id)
            )
        )


def plan_channels(runtime: Runtime, therapist_id: int, now: datetime) -> list[str]:
    """What :func:`maintain_channels` would do, for a dry run."""
    enabled = push_enabled(runtime.config)
    interval = timedelta(seconds=int(runtime.config["POLL_INTERVAL_SECONDS"]))
    lines = []
    for calendar in _calendars(runtime.database, therapist_id):
        wanted = enabled and calendar.selected and calendar.gone_at is None
        if wanted and _needs_channel(calendar, now, interval):
            verb = "renew" if calendar.channel_id else "open"
            lines.append(
                f"therapist {therapist_id}: would {verb} the channel of calendar {calendar.id}"
            )
        elif not wanted and calendar.channel_id is not None:
            lines.append(
                f"therapist {therapist_id}: would stop the channel of calendar {calendar.id}"
            )
    return lines


def maintain_channels(
    runtime: Runtime,
    apis: GoogleApis,
    therapist_id: int,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Open, renew and stop the therapist's channels as selection and push settings say.

    Never raises for Google's refusals: a calendar without a channel is polled, and the
    reason is kept in ``watch_problem`` for the dashboard.
    """
    database: Database = runtime.database
    enabled = push_enabled(runtime.config)
    interval = timedelta(seconds=int(runtime.config["POLL_INTERVAL_SECONDS"]))
    prefix = f"therapist {therapist_id}"
    lines = []
    for calendar in _calendars(database, therapist_id):
        wanted = enabled and calendar.selected and calendar.gone_at is None
        if wanted and _needs_channel(calendar, now, interval):
            lines.append(f"{prefix}: {open_channel(runtime, apis, calendar.id, now, sleep=sleep)}")
        elif not wanted and calendar.channel_id is not None:
            _retire_current(database, calendar.id)
            lines.append(f"{prefix}: stopped the channel of calendar {calendar.id}")
    stopped = stop_old_channels(database, apis, therapist_id, now, sleep=sleep)
    if stopped:
        lines.append(f"{prefix}: stopped {stopped} old channel(s)")
    return lines


def open_channel(
    runtime: Runtime,
    apis: GoogleApis,
    calendar_row_id: int,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Open a new channel for the calendar; the one it replaces is stopped afterwards."""
    database: Database = runtime.database
    token = secrets.token_urlsafe(32)
    channel_id = new_channel_id(calendar_row_id)
    with database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_row_id)
        assert calendar is not None
        google_id = calendar.google_calendar_id
        # Recorded first, so its notifications are recognised even if we die mid-call.
        db.add(
            PushChannel(
                id=channel_id,
                calendar_row_id=calendar_row_id,
                token_hash=hash_token(token),
                created_at=now,
            )
        )
    try:
        channel = watch_events(
            apis.calendar,
            google_id,
            channel_id=channel_id,
            token=token,
            address=webhook_address(runtime.config),
            expires_at=now + CHANNEL_LIFETIME,
            sleep=sleep,
        )
    except GoogleApiError as exc:
        words = _watch_words(exc)
        with database.transaction() as db:
            if exc.status != 0:
                # Google refused, so no channel exists; after a timeout one may.
                pending = db.get(PushChannel, channel_id)
                if pending is not None:
                    db.delete(pending)
            calendar = db.get(CalendarRow, calendar_row_id)
            assert calendar is not None
            calendar.watch_problem = words
            calendar.watch_attempted_at = now
        log.warning("calendar %s: watch refused: %s %s", calendar_row_id, exc.status, exc.reason)
        return f"calendar {calendar_row_id}: polled only ({words})"
    with database.transaction() as db:
        record = db.get(PushChannel, channel_id)
        assert record is not None
        # Confirmation is what sets the expiry: a channel without one is still pending.
        expires_at = channel.expires_at or now + CHANNEL_LIFETIME
        record.resource_id = channel.resource_id
        record.expires_at = expires_at
        calendar = db.get(CalendarRow, calendar_row_id)
        assert calendar is not None
        renewed = calendar.channel_id is not None
        calendar.channel_id = channel_id
        calendar.channel_token_hash = hash_token(token)
        calendar.channel_resource_id = channel.resource_id
        calendar.channel_expires_at = expires_at
        calendar.watch_problem = None
        calendar.watch_attempted_at = now
    return f"calendar {calendar_row_id}: channel {'renewed' if renewed else 'opened'}"


def _watch_words(exc: GoogleApiError) -> str:
    if exc.status == 400:
        return "Google would not send notifications to this service's address."
    if exc.status in (401, 403):
        return "Google refused notifications for this calendar; it is checked regularly."
    return "Notifications could not be set up yet; the calendar is checked regularly."


def _retire_current(database: Database, calendar_row_id: int) -> None:
    """Forget the calendar's current channel (it is stopped with the other old ones)."""
    with database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_row_id)
        assert calendar is not None
        calendar.channel_id = None
        calendar.channel_token_hash = None
        calendar.channel_resource_id = None
        calendar.channel_expires_at = None


def stop_old_channels(
    database: Database,
    apis: GoogleApis,
    therapist_id: int,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Stop every confirmed channel of the therapist that is no longer a calendar's current one.

    Expired ones are only marked: Google has already let them go.
    """
    # The therapist's own current channels: a channel record belongs to one of their calendars.
    current = select(CalendarRow.channel_id).where(
        CalendarRow.therapist_id == therapist_id, CalendarRow.channel_id.is_not(None)
    )
    return _stop(
        database,
        apis,
        therapist_id,
        now,
        sleep,
        PushChannel.id.not_in(current),
        # Unconfirmed channels get time for their watch call to finish.
        or_(PushChannel.expires_at.is_not(None), PushChannel.created_at <= now - PENDING_GRACE),
    )


def stop_all_channels(
    database: Database,
    apis: GoogleApis,
    therapist_id: int,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Stop every open channel of the therapist, current ones included (on disconnect)."""
    return _stop(database, apis, therapist_id, now, sleep)


def _stop(
    database: Database,
    apis: GoogleApis,
    therapist_id: int,
    now: datetime,
    sleep: Callable[[float], None],
    *conditions: Any,
) -> int:
    """Stop the therapist's open, confirmed channels that also meet ``conditions``."""
    with database.transaction() as db:
        channels = db.execute(
            select(PushChannel.id, PushChannel.resource_id, PushChannel.expires_at)
            .join(CalendarRow, CalendarRow.id == PushChannel.calendar_row_id)
            .where(
                CalendarRow.therapist_id == therapist_id,
                PushChannel.stopped_at.is_(None),
                PushChannel.resource_id.is_not(None),
                *conditions,
            )
        ).all()
    stopped = 0
    for channel_id, resource_id, expires_at in channels:
        if expires_at is None or expires_at > now:
            try:
                stop_channel(apis.calendar, channel_id, str(resource_id), sleep=sleep)
            except GoogleApiError as exc:
                log.warning("a channel could not be stopped yet: %s %s", exc.status, exc.reason)
                continue
            stopped += 1
        mark_stopped(database, channel_id, now)
    return stopped


def mark_stopped(database: Database, channel_id: str, now: datetime) -> None:
    with database.transaction() as db:
        record = db.get(PushChannel, channel_id)
        if record is not None and record.stopped_at is None:
            record.stopped_at = now
