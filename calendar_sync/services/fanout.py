"""Fanning the cycle out through Cloud Tasks: one task per due therapist per time bucket.

App Engine's cron calls the dispatcher once a minute; it enqueues one task per therapist who
is due, named after the therapist and the minute (:func:`~..google.tasks.task_id`), so a
second dispatch in the same minute (cron retried, two instances) is refused by Cloud Tasks
and enqueues nothing. Each task calls the service back; the handler takes the therapist's
lease and runs their share (:func:`.claims.run_claimed`). Cloud Tasks spreads the calls out
at the queue's rate (``queue.yaml``), and retries a call that fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..google import GoogleApiError
from ..google.tasks import bucket, task_id
from .claims import due_therapist_ids
from .runtime import Runtime

log = logging.getLogger(__name__)

#: Cron's period: one task per therapist per bucket at most.
BUCKET = timedelta(minutes=1)


@dataclass(frozen=True)
class Dispatched:
    """What one dispatch did, in counts (the answer to cron is logged)."""

    enqueued: int = 0
    in_hand: int = 0
    failed: int = 0


def therapist_path(therapist_id: int) -> str:
    return f"/tasks/therapist/{therapist_id}"


def dispatch_therapists(runtime: Runtime, now: datetime) -> Dispatched:
    """Enqueue a task for every therapist due at ``now``; a name already taken is skipped.

    A failed enqueue is counted and left to the next minute's dispatch; it never stops the
    others.
    """
    tasks = runtime.tasks
    if tasks is None:
        raise RuntimeError("Cloud Tasks is not configured (CLOUD_TASKS_QUEUE)")
    start = bucket(now, BUCKET)
    enqueued = in_hand = failed = 0
    for therapist_id in due_therapist_ids(runtime, now):
        try:
            created = tasks.create(
                task_id("therapist", therapist_id, start), therapist_path(therapist_id)
            )
        except GoogleApiError as exc:
            failed += 1
            log.warning("therapist %s: task not enqueued (%s)", therapist_id, exc.status)
            continue
        if created:
            enqueued += 1
        else:
            in_hand += 1
    log.info("dispatch: %d enqueued, %d already in hand, %d failed", enqueued, in_hand, failed)
    return Dispatched(enqueued, in_hand, failed)
