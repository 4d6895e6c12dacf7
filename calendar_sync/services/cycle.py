"""One full cycle of the service: what ``tick`` runs, and what the scheduler repeats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy import func, select

from ..storage.models import Therapist


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


def run_cycle(app: Flask, *, now: datetime, dry_run: bool) -> CycleReport:
    """Run (or, with ``dry_run``, describe) the work due at ``now`` for every therapist."""
    database = app.extensions["database"]
    with database.transaction() as session:
        count = session.scalar(select(func.count()).select_from(Therapist)) or 0
    from .sync import sync_all

    entries = sync_all(app, now=now, dry_run=dry_run)
    return CycleReport(now=now, dry_run=dry_run, therapists=count, entries=entries)
