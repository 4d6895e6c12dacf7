"""Late follow-ups offered to the therapist: send them now, or drop them.

A patient follow-up that comes due long after the session (``Policy.late_bound``) is not
sent on its own; the decision records its actions with status ``offered``. The therapist
sees them on the dashboard. Sending recomputes the decision at ``now`` first, so a session
marked attended meanwhile is never followed up; the action rows change from ``offered`` to
``queued`` in the same transaction as the messages they cause, under the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from ...domain.addresses import is_plain_address
from ...domain.decisions import Delivery
from ...domain.policy import ActionKind
from ...storage import Database
from ...storage.models import FollowUpAction
from ..proposals.workflow import plan_proposal
from ..runtime import Runtime
from ..schedule import mark_changed
from .effects import Effects
from .hold import PATIENT_EMAIL_KINDS
from .inputs import decisions_for, load_inputs

OFFERED = "offered"
QUEUED = "queued"
DISMISSED = "dismissed"


@dataclass(frozen=True)
class Offer:
    """The offered actions of one session, as the dashboard shows them."""

    action_id: int
    calendar_id: str
    event_id: str
    outcome: str
    kinds: tuple[str, ...]
    explanation: str
    due_at: datetime


def offers(db: DbSession, therapist_id: int) -> list[Offer]:
    """The therapist's offered follow-ups, one per session, oldest due first."""
    rows = db.scalars(
        select(FollowUpAction)
        .where(FollowUpAction.therapist_id == therapist_id, FollowUpAction.status == OFFERED)
        .order_by(FollowUpAction.due_at, FollowUpAction.id)
    ).all()
    grouped: dict[tuple[str, str], list[FollowUpAction]] = {}
    for row in rows:
        grouped.setdefault((row.calendar_id, row.event_id), []).append(row)
    return [
        Offer(
            action_id=group[0].id,
            calendar_id=group[0].calendar_id,
            event_id=group[0].event_id,
            outcome=group[0].outcome,
            kinds=tuple(ActionKind(row.kind).description for row in group),
            explanation=group[0].explanation,
            due_at=group[0].due_at,
        )
        for group in grouped.values()
    ]


def owns(db: DbSession, therapist_id: int, action_id: int) -> bool:
    """Whether the follow-up action is this therapist's."""
    found = db.scalar(
        select(FollowUpAction.id).where(
            FollowUpAction.id == action_id, FollowUpAction.therapist_id == therapist_id
        )
    )
    return found is not None


def _offered_rows(db: DbSession, therapist_id: int, action_id: int) -> list[FollowUpAction]:
    """Every offered action of the session ``action_id`` belongs to (the therapist's only)."""
    first = db.scalar(
        select(FollowUpAction).where(
            FollowUpAction.id == action_id, FollowUpAction.therapist_id == therapist_id
        )
    )
    if first is None:
        return []
    return list(
        db.scalars(
            select(FollowUpAction).where(
                FollowUpAction.therapist_id == therapist_id,
                FollowUpAction.calendar_id == first.calendar_id,
                FollowUpAction.event_id == first.event_id,
                FollowUpAction.status == OFFERED,
            )
        )
    )


class NotSent(Exception):
    """Nothing was queued; the message says why, in plain words for the therapist."""


_GONE = "This follow-up was already sent or dropped."


def _move(db: DbSession, ids: list[int], to: str, **values: Any) -> None:
    """Move every row of ``ids`` from offered to ``to``.

    :raises NotSent: when one of them was moved meanwhile (the caller's transaction must
        then be rolled back, which leaving the ``with`` by this exception does).
    """
    result: Any = db.execute(
        update(FollowUpAction)
        .where(FollowUpAction.id.in_(ids), FollowUpAction.status == OFFERED)
        .values(status=to, **values)
    )
    if result.rowcount != len(ids):
        raise NotSent(_GONE)


def drop(runtime: Runtime, therapist_id: int, action_id: int) -> None:
    """Drop the session's offered follow-up.

    :raises NotSent: when there is none (or it is not this therapist's).
    """
    database: Database = runtime.database
    with database.transaction() as db:
        rows = _offered_rows(db, therapist_id, action_id)
        if not rows:
            raise NotSent(_GONE)
        _move(db, [row.id for row in rows], DISMISSED)
        mark_changed(db, therapist_id)


def send(runtime: Runtime, therapist_id: int, action_id: int, now: datetime) -> None:
    """Queue the session's offered follow-up to go out at the next dispatch.

    :raises NotSent: the offer is gone (sent or dropped already, or not this therapist's),
        the session no longer counts as missed, or there is no address to write to.
    """
    database: Database = runtime.database
    with database.transaction() as db:
        rows = _offered_rows(db, therapist_id, action_id)
        if not rows:
            raise NotSent(_GONE)
        mark_changed(db, therapist_id)
        inputs = load_inputs(db, therapist_id, now)
        ref = (rows[0].calendar_id, rows[0].event_id)
        decision = None
        if inputs is not None and ref in inputs.event_rows:
            decision = next((d for d in decisions_for(inputs, now) if d.session.ref == ref), None)
        keys = {row.key for row in rows}
        planned = [a for a in decision.actions if a.idempotency_key in keys] if decision else []
        if inputs is None or decision is None or len(planned) != len(rows):
            raise NotSent("The session no longer counts as missed, so nothing was sent.")
        _move(
            db,
            [row.id for row in rows],
            QUEUED,
            delivery=Delivery.SEND.value,
            explanation=FollowUpAction.explanation + " You chose to send it.",
        )
        sending = {a.kind: replace(a, delivery=Delivery.SEND, due_at=now) for a in planned}
        event_row = inputs.event_rows[ref]
        patient = inputs.patient_rows.get(decision.session.patient_key or "")
        to = event_row.patient_email or (patient.email if patient else None)
        if not to:
            raise NotSent("There is no email address for this patient, so nothing was sent.")
        if not is_plain_address(to):
            raise NotSent(
                "The patient's email address cannot be written to (several addresses, or "
                "characters an address cannot have), so nothing was sent. Correct it on the "
                "patient's page first."
            )
        if ActionKind.PROPOSE_RESCHEDULE in sending:
            plan_proposal(
                db,
                therapist_id=therapist_id,
                session=decision.session,
                patient_email=to,
                key=sending[ActionKind.PROPOSE_RESCHEDULE].idempotency_key,
                now=now,
                release_at=now,
            )
        if PATIENT_EMAIL_KINDS & sending.keys():
            # The same message the cycle would have sent on time, rendered the same way; the
            # therapist chose to send it, so it does not wait out the hold again.
            effects = Effects(runtime, inputs, now)
            effects.release_at = now
            effects.patient_email(db, decision, sending, to, patient)
