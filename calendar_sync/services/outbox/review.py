"""What the therapist does with the outbox from the dashboard: see, hold, release, cancel,
and settle a message whose outcome is unknown.

Every function is scoped by the therapist's id (another therapist's message is never
touched, and is reported as not found) and works in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from ...storage.models import OutboxMessage
from ..schedule import mark_changed
from .dispatch import MessageStatus

#: States shown as needing the therapist: the outcome is unknown, or it could not go out.
ATTENTION = (MessageStatus.UNKNOWN, MessageStatus.FAILED)


def messages(
    db: DbSession, therapist_id: int, statuses: Iterable[str] | None = None, limit: int = 200
) -> list[OutboxMessage]:
    """The therapist's messages, newest first (optionally only in ``statuses``)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.therapist_id == therapist_id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    if statuses is not None:
        query = query.where(OutboxMessage.status.in_(list(statuses)))
    return list(db.scalars(query))


def needing_attention(db: DbSession, therapist_id: int) -> list[OutboxMessage]:
    """Unknown and failed messages, and pending ones held back by a problem."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.therapist_id == therapist_id,
            OutboxMessage.status.in_(ATTENTION)
            | (
                (OutboxMessage.status == MessageStatus.PENDING)
                & OutboxMessage.last_error.is_not(None)
            ),
        )
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
    )
    return list(db.scalars(query))


def _change(
    db: DbSession,
    therapist_id: int,
    message_id: int,
    from_states: tuple[str, ...],
    now: datetime,
    **values: Any,
) -> bool:
    result: Any = db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.therapist_id == therapist_id,
            OutboxMessage.status.in_(from_states),
        )
        .values(updated_at=now, **values)
    )
    if result.rowcount != 1:
        return False
    # What waits on the message (its invitation, its fee) moves with it at the next run.
    mark_changed(db, therapist_id)
    return True


def hold(db: DbSession, therapist_id: int, message_id: int, now: datetime) -> bool:
    """Keep a message from going out until released. False if it is not pending or failed."""
    return _change(
        db,
        therapist_id,
        message_id,
        (MessageStatus.PENDING, MessageStatus.FAILED),
        now,
        status=MessageStatus.HELD,
    )


def send_now(db: DbSession, therapist_id: int, message_id: int, now: datetime) -> bool:
    """End the hold: the message (and what waits with it) goes at the next run."""
    return _change(
        db,
        therapist_id,
        message_id,
        (MessageStatus.PENDING, MessageStatus.HELD),
        now,
        status=MessageStatus.PENDING,
        not_before=now,
    )


def release(db: DbSession, therapist_id: int, message_id: int, now: datetime) -> bool:
    """Let a held (or failed, once the cause is fixed) message go at the next dispatch."""
    return _change(
        db,
        therapist_id,
        message_id,
        (MessageStatus.HELD, MessageStatus.FAILED),
        now,
        status=MessageStatus.PENDING,
        claimed_by=None,
        claimed_at=None,
        last_error=None,
    )


def cancel(db: DbSession, therapist_id: int, message_id: int, now: datetime) -> bool:
    """Never send this message. False once it is being sent or was sent."""
    return _change(
        db,
        therapist_id,
        message_id,
        (MessageStatus.PENDING, MessageStatus.HELD, MessageStatus.FAILED, MessageStatus.UNKNOWN),
        now,
        status=MessageStatus.CANCELLED,
    )


def resolve_unknown(
    db: DbSession, therapist_id: int, message_id: int, sent: bool, now: datetime
) -> bool:
    """Settle a message whose outcome was unknown, after the therapist checked Sent mail.

    ``sent=True`` records it as sent; ``sent=False`` (it is not in the Sent folder) lets it go
    at the next dispatch: a person decided, so this is not an automatic resend.
    """
    if sent:
        return _change(
            db,
            therapist_id,
            message_id,
            (MessageStatus.UNKNOWN,),
            now,
            status=MessageStatus.SENT,
            sent_at=now,
            last_error="Marked as sent by you.",
        )
    return _change(
        db,
        therapist_id,
        message_id,
        (MessageStatus.UNKNOWN,),
        now,
        status=MessageStatus.PENDING,
        claimed_by=None,
        claimed_at=None,
        last_error=None,
    )
