"""Turning decisions into what patients and therapists receive, each exactly once.

For every therapist the cycle loads the sessions, marks, patients and policy, asks the
domain what is due (``decide``), and for each action whose idempotency key is new records
the action together with its effects (outbox messages, a reschedule proposal, a fee) in one
transaction: a crash leaves either all of them or none, and the next cycle redoes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from ...domain.decisions import Decision, PlannedAction
from ...domain.policy import ActionKind
from ...storage import Database
from ...storage.models import GoogleConnection
from ..accounts.connections import ConnectionStatus
from ..patients.directory import link_patients
from ..runtime import Runtime
from .effects import Effects
from .inputs import decisions_for, load_inputs, pending

log = logging.getLogger(__name__)


def follow_up_therapist(
    runtime: Runtime, therapist_id: int, *, now: datetime, dry_run: bool
) -> list[str]:
    """Decide and record what is due for one therapist; lines in plain words for the report."""
    database: Database = runtime.database
    with database.transaction() as db:
        if not dry_run:
            link_patients(db, therapist_id, now)
        inputs = load_inputs(db, therapist_id, now)
        if inputs is None:
            return []
        due = pending(db, therapist_id, decisions_for(inputs, now))
    if dry_run:
        return [f"therapist {therapist_id}: would act: {d.explanation}" for d, _ in due]
    effects = Effects(runtime, inputs, now)
    lines: list[str] = []
    reminders: list[tuple[Decision, PlannedAction]] = []
    for decision, actions in due:
        if decision.session.ref in inputs.contested:
            lines.append(effects.set_aside_contested(decision, actions))
            continue
        reminders += [
            (decision, a) for a in actions if a.kind is ActionKind.REMIND_THERAPIST_TO_MARK
        ]
        rest = [a for a in actions if a.kind is not ActionKind.REMIND_THERAPIST_TO_MARK]
        if rest:
            lines.append(effects.apply(decision, rest))
    if reminders:
        lines.append(effects.remind_to_mark(reminders))
    return [f"therapist {therapist_id}: {line}" for line in lines if line]


def follow_up_all(runtime: Runtime, *, now: datetime, dry_run: bool) -> list[str]:
    """Follow up for every connected therapist; one failure never stops the others."""
    database: Database = runtime.database
    with database.transaction() as db:
        ids = list(
            db.scalars(
                select(GoogleConnection.therapist_id).where(
                    GoogleConnection.status == ConnectionStatus.ACTIVE
                )
            )
        )
    lines: list[str] = []
    for therapist_id in ids:
        try:
            lines += follow_up_therapist(runtime, therapist_id, now=now, dry_run=dry_run)
        except Exception:
            log.exception("therapist %s: follow-up failed; will retry next cycle", therapist_id)
            lines.append(f"therapist {therapist_id}: follow-up failed, retried next cycle")
    return lines
