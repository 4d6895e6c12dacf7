"""What the decision step hands to the adapters: decisions and the actions they plan.

These types are the contract with the outbox: each :class:`PlannedAction` carries an
idempotency key that is the same for a given (session, action kind) on every run, so the
outbox can do each thing exactly once however often the decision is recomputed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from calendar_sync.domain.marks import MarkSource
from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import ActionKind
from calendar_sync.domain.sessions import Session


class Delivery(Enum):
    """How an action is carried out."""

    #: Carry it out now.
    SEND = "send"
    #: Too late to send on our own (see ``Policy.late_bound``): show it to the therapist,
    #: who may send it or drop it. It shares the key of the send it replaces, so it can
    #: never happen in addition to it.
    OFFER_TO_THERAPIST = "offer_to_therapist"


class NoContactReason(Enum):
    """Why patient-facing actions were replaced by a note to the therapist."""

    OPTED_OUT = "opted_out"
    NO_PATIENT_RECORD = "no_patient_record"
    NO_PATIENT_LINKED = "no_patient_linked"


def idempotency_key(therapist_id: int, calendar_id: str, event_id: str, kind: ActionKind) -> str:
    """The outbox key for one therapist doing ``kind`` once for one session.

    ``<kind>:<therapist id>:<digest of calendar and event>``. The therapist is part of the
    key because two therapists may select one shared calendar, and each must keep their own
    record. The calendar id may be an email address, so the session part is hashed: keys can
    be stored and logged without exposing anyone. Keys stored before the therapist was part
    of them (``<kind>:<digest>``) were rewritten by migration 0007, which the digest allows.
    """
    digest = hashlib.sha256(f"{calendar_id}\x00{event_id}".encode()).hexdigest()[:32]
    return f"{kind.value}:{therapist_id}:{digest}"


@dataclass(frozen=True)
class PlannedAction:
    """One thing to do for a session, due since ``due_at``."""

    kind: ActionKind
    idempotency_key: str
    delivery: Delivery
    due_at: datetime


@dataclass(frozen=True)
class Decision:
    """What a session needs now, and why.

    ``outcome`` is the effective outcome; ``assumed`` is true when it comes from the
    unmarked convention, in which case ``decided_by`` is ``None``; ``known_at`` is when the
    outcome became known. ``step`` is the ladder step (``None`` when the outcome does not
    count, or no patient is linked). ``fee`` is the fee to record, if any.
    """

    session: Session
    outcome: Outcome
    assumed: bool
    decided_by: MarkSource | None
    known_at: datetime | None
    step: int | None
    actions: tuple[PlannedAction, ...]
    fee: Money | None
    no_contact: NoContactReason | None
    explanation: str

    @property
    def kinds(self) -> frozenset[ActionKind]:
        """The kinds of the planned actions."""
        return frozenset(action.kind for action in self.actions)
