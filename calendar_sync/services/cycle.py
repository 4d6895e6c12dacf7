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

from sqlalchemy import func, select

from ..google import GoogleApiError, ReauthorizationNeeded
from ..storage import Database
from ..storage.models import GoogleConnection, Therapist
from . import schedule
from .accounts.connections import ConnectionStatus
from .attendance.meet import next_meet_moment, read_meet_one
from .followup.hold import next_fee_release
from .followup.run import follow_up_one, release_fees_one
from .outbox.dispatch import dispatch_due
from .outbox.dispatch import next_moment as next_message_moment
from .proposals.workflow import advance_proposals
from .proposals.workflow import next_moment as next_proposal_moment
from .runtime import Runtime
from .schedule import due_therapists
from .sync.event_sync import next_moment as next_sync_moment
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

    Only the therapists with something due or changed are touched (``schedule``); a dry
    run describes everyone. Each step runs for each therapist inside its own error
    boundary: whatever fails is logged by kind, reported in a line, and done by the next
    cycle; nothing escapes, so one therapist's failure (or a race lost to another cycle
    running at the same moment) never stops another's work, nor the rest of this cycle.
    """
    database: Database = runtime.database
    with database.transaction() as db:
        everyone = db.scalar(select(func.count(Therapist.id))) or 0
        active = set(
            db.scalars(
                select(GoogleConnection.therapist_id).where(
                    GoogleConnection.status == ConnectionStatus.ACTIVE
                )
            )
        )
        if dry_run:
            chosen = list(db.scalars(select(Therapist.id).order_by(Therapist.id)))
    if not dry_run:
        chosen = due_therapists(runtime, now)
    entries: list[str] = []
    for therapist_id in chosen:
        if therapist_id in active:
            entries += run_therapist(runtime, therapist_id, now=now, dry_run=dry_run)
    # The messages of therapists whose connection is paused: they are told why.
    for therapist_id in chosen:
        if therapist_id not in active:
            entries += run_paused(runtime, therapist_id, now=now, dry_run=dry_run)
    return CycleReport(now=now, dry_run=dry_run, therapists=everyone, entries=entries)


Step = Callable[[int], list[str]]


def run_therapist(
    runtime: Runtime, therapist_id: int, *, now: datetime, dry_run: bool
) -> list[str]:
    """One therapist's share of a cycle: sync, Meet evidence, follow-up, proposals, sending, fees.

    Each step has its own error boundary, so a failed step is reported and done again by
    the next cycle while the later steps still run; nothing here touches another therapist.
    The follow-up runs when something changed or its moment came (again only when the
    proposals step chose or gave up a time in this run, so that the email waiting on it is
    written at once); open offers are looked at when something changed or their moment
    came. The run ends by writing the therapist's next moment (``schedule``).
    """
    entries = _guarded("sync", therapist_id, partial(sync_one, runtime, now=now, dry_run=dry_run))
    # Who joined the video sessions that ended, before deciding what they need (an answer
    # that settles flags the therapist changed, so the follow-up below looks at it).
    entries += _guarded(
        "meet", therapist_id, partial(read_meet_one, runtime, now=now, dry_run=dry_run)
    )
    if dry_run:
        entries += _guarded(
            "follow-up", therapist_id, partial(follow_up_one, runtime, now=now, dry_run=True)
        )
        entries += _guarded(
            "proposals", therapist_id, partial(_proposals, runtime, now=now, dry_run=True)
        )
        return entries + _dispatch(runtime, now, therapist_id, dry_run=True)
    with runtime.database.transaction() as db:
        seen = schedule.begin(db, therapist_id)
    if seen.follow_up_due(now):
        entries += _guarded(
            "follow-up", therapist_id, partial(follow_up_one, runtime, now=now, dry_run=False)
        )
    proposals = partial(_proposals, runtime, now=now, dry_run=False, changed=seen.changed)
    entries += _guarded("proposals", therapist_id, proposals)
    handled = seen.changes
    with runtime.database.transaction() as db:
        after = schedule.peek(db, therapist_id)
    if after.changes != seen.changes:
        # A proposal chose its time, or gave it up, in this run: its email is written now
        # (naming the time, or without it) rather than a cycle later.
        entries += _guarded(
            "follow-up", therapist_id, partial(follow_up_one, runtime, now=now, dry_run=False)
        )
        handled = after.changes
    entries += _dispatch(runtime, now, therapist_id, dry_run=False)
    # A fee is recorded when its follow-up goes, so after the emails.
    entries += _guarded("fees", therapist_id, partial(release_fees_one, runtime, now=now))
    entries += _guarded(
        "schedule", therapist_id, partial(_reschedule, runtime, now=now, handled=handled)
    )
    return entries


def _reschedule(runtime: Runtime, therapist_id: int, *, now: datetime, handled: int) -> list[str]:
    """Write the therapist's next moment: the earliest of what each capability waits for."""
    with runtime.database.transaction() as db:
        moments = [
            next_sync_moment(db, runtime.config, therapist_id, now),
            schedule.peek(db, therapist_id).follow_up_due_at,
            next_proposal_moment(db, therapist_id, now),
            next_message_moment(db, therapist_id, now),
            next_fee_release(db, therapist_id, now),
            next_meet_moment(db, therapist_id, now),
        ]
        schedule.finish(db, therapist_id, handled=handled, moments=moments, now=now)
    return []


def run_paused(runtime: Runtime, therapist_id: int, *, now: datetime, dry_run: bool) -> list[str]:
    """A paused therapist's messages (they are told why); nothing else runs for them."""
    if dry_run:
        return _dispatch(runtime, now, therapist_id, dry_run=True)
    with runtime.database.transaction() as db:
        seen = schedule.begin(db, therapist_id)
    entries = _dispatch(runtime, now, therapist_id, dry_run=False)
    with runtime.database.transaction() as db:
        moment = next_message_moment(db, therapist_id, now)
        schedule.finish(db, therapist_id, handled=seen.changes, moments=[moment], now=now)
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


def _proposals(
    runtime: Runtime, therapist_id: int, *, now: datetime, dry_run: bool, changed: bool = True
) -> list[str]:
    try:
        return advance_proposals(runtime, therapist_id, now, dry_run, calendars_changed=changed)
    except (GoogleApiError, ReauthorizationNeeded) as exc:
        log.warning(
            "therapist %s: proposals wait for the next cycle (%s)",
            therapist_id,
            type(exc).__name__,
        )
        return [f"therapist {therapist_id}: proposals wait for the next cycle"]
