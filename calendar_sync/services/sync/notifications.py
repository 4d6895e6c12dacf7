"""Push notifications from Google: judged by their channel's secret, turned into queued work.

A notification for one of our older channels stops that channel; anything else is refused
without touching Google. Polling stays on as a safety net.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ...google import GoogleApiError
from ...google.tasks import bucket, task_id
from ...storage import Database
from ...storage.models import CalendarRow, PushChannel
from ..runtime import Runtime
from .channels import token_matches
from .queue import SPACING

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    """The headers of one push notification (Google sends no body)."""

    channel_id: str | None
    token: str | None
    resource_id: str | None
    state: str | None


def receive(runtime: Runtime, notification: Notification, now: datetime) -> int:
    """Judge a notification and queue what it asks for; returns the HTTP status to answer.

    403 for a wrong or missing token and 404 for a channel that is not ours, in both cases
    without any write or Google call. ``sync`` messages are only acknowledged.
    """
    database: Database = runtime.database
    if not notification.channel_id:
        return 404
    with database.transaction() as db:
        # The record first, then the calendar: a channel being confirmed meanwhile is then
        # seen as the calendar's current one, never as an old one to stop.
        record = db.get(PushChannel, notification.channel_id)
        calendar = db.scalar(
            select(CalendarRow).where(CalendarRow.channel_id == notification.channel_id)
        )
        if calendar is not None:
            if not token_matches(calendar.channel_token_hash, notification.token):
                return 403
            calendar_id, wanted = calendar.id, calendar.selected and calendar.gone_at is None
        else:
            if record is None:
                return 404
            if not token_matches(record.token_hash, notification.token):
                return 403
            if record.stopped_at is None and record.expires_at is not None:
                # A confirmed channel that was replaced: ours, and no longer wanted.
                runtime.sync_queue.request(("stop", record.id, str(record.resource_id)))
            elif record.stopped_at is None and record.resource_id is None:
                # Not confirmed yet (its watch call may still be answering, or its process
                # died): keep the resource id so the cycle can stop it if it stays orphaned.
                record.resource_id = notification.resource_id
            return 200
    if notification.state == "sync" or not wanted:
        return 200
    if request_sync(runtime, calendar_id, now):
        with database.transaction() as db:
            calendar = db.get(CalendarRow, calendar_id)
            if calendar is not None and calendar.sync_requested_at is None:
                calendar.sync_requested_at = now
    return 200


#: Notifications for one calendar within this window become one task, run at its end.
PUSH_WINDOW = timedelta(seconds=SPACING)


def request_sync(runtime: Runtime, calendar_row_id: int, now: datetime) -> bool:
    """Ask for a sync of the calendar soon; False when one is already waiting.

    With Cloud Tasks configured, a task named after the calendar and the current window
    (scheduled at the window's end, so a burst of changes costs one sync); otherwise the
    in-process queue. If the task cannot be created, the request stays recorded on the
    calendar (``sync_requested_at``) and the next cycle syncs it.
    """
    tasks = runtime.tasks
    if tasks is None:
        return runtime.sync_queue.request(("sync", calendar_row_id))
    window = bucket(now, PUSH_WINDOW)
    try:
        return tasks.create(
            task_id("calendar", calendar_row_id, window),
            f"/tasks/calendar/{calendar_row_id}",
            schedule=window + PUSH_WINDOW,
        )
    except GoogleApiError as exc:
        log.warning("calendar %s: sync task not enqueued (%s)", calendar_row_id, exc.status)
        return True
