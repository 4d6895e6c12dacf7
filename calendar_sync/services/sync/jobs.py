"""The work a push notification queues: sync one calendar, or stop one old channel."""

from __future__ import annotations

import logging
from typing import Any

from ...google import GoogleApiError, ReauthorizationNeeded
from ...google.channels import stop_channel
from ...storage import Database
from ...storage.models import CalendarRow, PushChannel
from ..runtime import Runtime
from .channels import mark_stopped
from .event_sync import sync_calendar_safely

log = logging.getLogger(__name__)


def run_queued_job(runtime: Runtime, job: tuple[Any, ...]) -> None:
    """The queue's worker: sync a calendar, or stop an old channel, as of the wall clock."""
    # The worker is an edge of the service, like the command line: it reads the clock.
    now = runtime.now()
    database: Database = runtime.database
    kind, key = job[0], job[1]
    with database.transaction() as db:
        if kind == "sync":
            calendar = db.get(CalendarRow, key)
        else:
            record = db.get(PushChannel, key)
            calendar = db.get(CalendarRow, record.calendar_row_id) if record else None
        if calendar is None:
            return
        therapist_id = calendar.therapist_id
    try:
        apis = runtime.connections.apis(therapist_id, now)
        if kind == "sync":
            sync_calendar_safely(database, apis, key, now)
        else:
            stop_channel(apis.calendar, key, job[2])
            mark_stopped(database, key, now)
    except ReauthorizationNeeded:
        log.info("therapist %s: queued work skipped, access must be renewed", therapist_id)
    except GoogleApiError as exc:
        log.warning("queued %s failed: %s %s", kind, exc.status, exc.reason)


def sync_requested(runtime: Runtime, calendar_row_id: int) -> str:
    """A push-requested sync of one calendar (a Cloud Tasks call), as of the wall clock.

    :returns: ``synced``, ``busy`` (another process is syncing it: ask again later) or
        ``skipped`` (the calendar is gone, unselected, or its therapist must reconnect).
    """
    now = runtime.now()
    with runtime.database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_row_id)
        if calendar is None or not calendar.selected or calendar.gone_at is not None:
            return "skipped"
        therapist_id = calendar.therapist_id
    try:
        apis = runtime.connections.apis(therapist_id, now)
        result = sync_calendar_safely(runtime.database, apis, calendar_row_id, now)
    except ReauthorizationNeeded:
        log.info("therapist %s: sync task skipped, access must be renewed", therapist_id)
        return "skipped"
    return "busy" if result.busy else "synced"
