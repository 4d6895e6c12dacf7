"""A therapist's share of a cycle, done under that therapist's lease, by whichever worker.

Worker processes (``calendar-sync worker --processes N``) and Cloud Tasks handlers both come
here: claim the therapist, run :func:`~.cycle.run_therapist`, release. A lease another
worker holds means the work is in hand: losing that race is a quiet no-op, never an error.
While the work runs, a heartbeat renews the lease, so only a dead worker's lease expires
(``THERAPIST_LEASE_SECONDS`` later) and another worker then finishes the share; every step
of it is idempotent and the outbox never sends a message twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from ..storage.leases import (
    claim_next,
    claim_therapist,
    ensure_therapist_rows,
    release_therapist,
    renew_therapist,
    worker_name,
)
from ..storage.models import GoogleConnection, Therapist
from .accounts.connections import ConnectionStatus
from .cycle import run_therapist
from .outbox.dispatch import dispatch_due
from .runtime import Runtime

log = logging.getLogger(__name__)


def lease_length(runtime: Runtime) -> timedelta:
    return timedelta(seconds=int(runtime.config.get("THERAPIST_LEASE_SECONDS", 120)))


def due_therapist_ids(runtime: Runtime, now: datetime) -> list[int]:
    """The therapists with work to look at ``now``: today, every one of them.

    Those with an active connection get their whole share; the others only the sending
    step, which tells them why their messages wait. This is the one place to narrow to the
    therapists actually due (per-therapist next-due times) once they are kept.
    """
    with runtime.database.transaction() as db:
        return list(db.scalars(select(Therapist.id).order_by(Therapist.id)))


def _share(runtime: Runtime, therapist_id: int, now: datetime) -> list[str]:
    with runtime.database.transaction() as db:
        status = db.scalar(
            select(GoogleConnection.status).where(GoogleConnection.therapist_id == therapist_id)
        )
    if status == ConnectionStatus.ACTIVE:
        return run_therapist(runtime, therapist_id, now=now, dry_run=False)
    try:
        return dispatch_due(runtime, now, therapist_id)
    except Exception as exc:  # as in the cycle: the next run sends what is due
        log.error("therapist %s: sending failed (%s)", therapist_id, type(exc).__name__)
        return [f"therapist {therapist_id}: sending failed; the next cycle sends what is due"]


class _Heartbeat:
    """Renews a held lease every third of its length until stopped."""

    def __init__(self, runtime: Runtime, therapist_id: int, holder: str) -> None:
        self._runtime = runtime
        self._therapist_id = therapist_id
        self._holder = holder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        lease = lease_length(self._runtime)
        while not self._stop.wait(lease.total_seconds() / 3):
            try:
                kept = renew_therapist(
                    self._runtime.database,
                    self._therapist_id,
                    self._holder,
                    self._runtime.now(),
                    lease,
                )
            except Exception as exc:  # the work goes on; the next beat tries again
                log.warning("lease renewal failed (%s)", type(exc).__name__)
                continue
            if not kept:
                log.warning("therapist %s: lease lost while working", self._therapist_id)
                return


def run_held(
    runtime: Runtime, therapist_id: int, holder: str, *, now: datetime | None = None
) -> list[str]:
    """Run the share of a therapist whose lease ``holder`` holds, then release it."""
    started = runtime.now()
    finished = False
    try:
        with _Heartbeat(runtime, therapist_id, holder):
            entries = _share(runtime, therapist_id, now or started)
        finished = True
        return entries
    finally:
        release_therapist(
            runtime.database, therapist_id, holder, ran_at=started if finished else None
        )


def run_claimed(
    runtime: Runtime, therapist_id: int, *, now: datetime | None = None
) -> list[str] | None:
    """Claim one therapist and run their share; None (nothing done) when another holds it."""
    holder = worker_name()
    wall = runtime.now()
    if not claim_therapist(runtime.database, therapist_id, holder, wall, lease_length(runtime)):
        log.info("therapist %s: already being worked on; left to that worker", therapist_id)
        return None
    return run_held(runtime, therapist_id, holder, now=now)


def claim_and_run_next(
    runtime: Runtime, candidates: Sequence[int], holder: str, every: timedelta
) -> int | None:
    """Claim the next due, free therapist among ``candidates`` and run their share.

    :returns: the therapist's id, or None when nothing is left to claim this round.
    """
    found = claim_next(
        runtime.database, candidates, holder, runtime.now(), lease_length(runtime), every
    )
    if found is not None:
        run_held(runtime, found, holder)
    return found


def claim_round(
    runtime: Runtime, holder: str, every: timedelta, known: set[int] | None = None
) -> int:
    """Work through every due therapist no worker has run within ``every``; returns how many.

    ``known`` holds the therapists whose lease rows this worker already made sure of (it
    grows), so an idle worker looking again every few seconds does not rewrite them all.
    """
    candidates = due_therapist_ids(runtime, runtime.now())
    new = [t for t in candidates if known is None or t not in known]
    ensure_therapist_rows(runtime.database, new)
    if known is not None:
        known.update(new)
    done = 0
    while claim_and_run_next(runtime, candidates, holder, every) is not None:
        done += 1
    return done
