"""One full cycle of the service: what ``tick`` runs, and what the scheduler repeats.

The steps run in this order so that each sees the previous one's results: read the
calendars, decide and record what is due, place reschedule proposals, then send the
messages whose time has come. Every step is idempotent, so a cycle cut short anywhere is
finished by the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import select

from ..google import GoogleApiError, ReauthorizationNeeded
from ..storage import Database
from ..storage.models import GoogleConnection, Therapist
from .accounts.connections import ConnectionStatus
from .attendance.meet import read_meet_one
from .followup.run import follow_up_one, release_fees_one
from .outbox.dispatch import dispatch_due
from .proposals.workflow import advance_proposals
from .runtime import Runtime
from .sync.event_sync import sync_one

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    """What one cycle did (or, in a dry run, would do), in plain words."""

    now: datetime
    dry_run: bool
    therapists: int = 0
    entries: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        mode = "dry run" if self.dry_run else "cycle"
        head = f"{mode} at {self.now.isoformat()}: {self.therapists} therapist(s) connected"
        return [head, *self.entries]


def run_cycle(runtime: Runtime, *, now: datetime, dry_run: bool) -> CycleReport:
    """Run (or, with ``dry_run``, describe) the work due at ``now`` for every therapist.

    Each step runs for each therapist inside its own error boundary: whatever fails is
    logged by kind, reported in a line, and done by the next cycle; nothing escapes, so one
    therapist's failure (or a race lost to another cycle running at the same moment) never
    stops another's work, nor the rest of this cycle.
    """
    database: Database = runtime.database
    with database.transaction() as db:
        everyone = list(db.scalars(select(Therapist.id).order_by(Therapist.id)))
        active = list(
            db.scalars(
                select(GoogleConnection.therapist_id)
                .where(GoogleConnection.status == ConnectionStatus.ACTIVE)
                .order_by(GoogleConnection.therapist_id)
            )
        )
    entries: list[str] = []
    for therapist_id in active:
        entries += run_therapist(runtime, therapist_id, now=now, dry_run=dry_run)
    # The messages of therapists whose connection is paused: they are told why.
    for therapist_id in sorted(set(everyone) - set(active)):
        entries += _dispatch(runtime, now, therapist_id, dry_run=dry_run)
    return CycleReport(now=now, dry_run=dry_run, therapists=len(everyone), entries=entries)


Step = Callable[[int], list[str]]


def run_therapist(
    runtime: Runtime, therapist_id: int, *, now: datetime, dry_run: bool
) -> list[str]:
    """One therapist's share of a cycle: sync, follow-up, proposals, sending, fees.

    Each step has its own error boundary, so a failed step is reported and done again by
    the next cycle while the later steps still run; nothing here touches another therapist.
    """
    steps: list[tuple[str, Step]] = [
        ("sync", partial(sync_one, runtime, now=now, dry_run=dry_run)),
        # Who joined the video sessions that ended, before deciding what they need.
        ("meet", partial(read_meet_one, runtime, now=now, dry_run=dry_run)),
        ("follow-up", partial(follow_up_one, runtime, now=now, dry_run=dry_run)),
        ("proposals", partial(_proposals, runtime, now=now, dry_run=dry_run)),
    ]
    if not dry_run:
        # Emails that waited for their new time to be chosen can now name it.
        steps.append(("follow-up", partial(follow_up_one, runtime, now=now, dry_run=False)))
    entries: list[str] = []
    for name, step in steps:
        entries += _guarded(name, therapist_id, step)
    entries += _dispatch(runtime, now, therapist_id, dry_run=dry_run)
    # A fee is recorded when its follow-up goes, so after the emails.
    if not dry_run:
        entries += _guarded("fees", therapist_id, partial(release_fees_one, runtime, now=now))
    return entries


def _dispatch(
    runtime: Runtime, now: datetime, therapist_id: int | None, *, dry_run: bool
) -> list[str]:
    try:
        return dispatch_due(runtime, now, therapist_id, dry_run=dry_run)
    except Exception as exc:
        log.error("sending failed (%s); the next cycle sends what is due", type(exc).__name__)
        return ["sending failed; the next cycle sends what is due"]


def _guarded(name: str, therapist_id: int, step: Step) -> list[str]:
    try:
        return step(therapist_id)
    except Exception as exc:
        log.error("therapist %s: %s failed (%s)", therapist_id, name, type(exc).__name__)
        return [f"therapist {therapist_id}: {name} failed; the next cycle does it"]


def _proposals(runtime: Runtime, therapist_id: int, *, now: datetime, dry_run: bool) -> list[str]:
    try:
        return advance_proposals(runtime, therapist_id, now, dry_run)
    except (GoogleApiError, ReauthorizationNeeded) as exc:
        log.warning(
            "therapist %s: proposals wait for the next cycle (%s)",
            therapist_id,
            type(exc).__name__,
        )
        return [f"therapist {therapist_id}: proposals wait for the next cycle"]
