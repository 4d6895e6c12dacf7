"""One full cycle of the service: what ``tick`` runs, and what the scheduler repeats.

The steps run in this order so that each sees the previous one's results: read the
calendars, decide and record what is due, place reschedule proposals, then send the
messages whose time has come. Every step is idempotent, so a cycle cut short anywhere is
finished by the next one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from ..google import GoogleApiError, ReauthorizationNeeded
from ..storage import Database
from ..storage.models import GoogleConnection, Therapist
from .accounts.connections import ConnectionStatus
from .followup.run import follow_up_all, release_fees_all
from .outbox.dispatch import dispatch_due
from .proposals.workflow import advance_proposals
from .runtime import Runtime
from .sync.event_sync import sync_all

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
    """Run (or, with ``dry_run``, describe) the work due at ``now`` for every therapist."""
    database: Database = runtime.database
    with database.transaction() as db:
        count = db.scalar(select(func.count()).select_from(Therapist)) or 0
        active = list(
            db.scalars(
                select(GoogleConnection.therapist_id).where(
                    GoogleConnection.status == ConnectionStatus.ACTIVE
                )
            )
        )
    entries = sync_all(runtime, now=now, dry_run=dry_run)
    entries += follow_up_all(runtime, now=now, dry_run=dry_run)
    for therapist_id in active:
        try:
            entries += advance_proposals(runtime, therapist_id, now, dry_run)
        except (GoogleApiError, ReauthorizationNeeded) as exc:
            log.warning("therapist %s: proposals wait for the next cycle (%s)", therapist_id, exc)
            entries.append(f"therapist {therapist_id}: proposals wait for the next cycle")
    if not dry_run:
        # Emails that waited for their new time to be chosen can now name it.
        entries += follow_up_all(runtime, now=now, dry_run=False)
    entries += dispatch_due(runtime, now, dry_run=dry_run)
    # A fee is recorded when its follow-up goes, so after the emails.
    entries += release_fees_all(runtime, now=now, dry_run=dry_run)
    return CycleReport(now=now, dry_run=dry_run, therapists=count, entries=entries)
