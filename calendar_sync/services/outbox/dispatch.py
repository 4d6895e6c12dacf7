"""The outbox: every email the service sends, each exactly once, and each visible.

A message is enqueued in the same transaction as the decision that caused it, keyed by that
decision's idempotency key (a second enqueue with the key changes nothing). Dispatch then
moves it through committed states::

    pending -> claimed -> sending -> sent | unknown | failed
    (pending, failed) -> held -> pending      by the therapist
    (pending, held, failed, unknown) -> cancelled

``claimed`` is a lease (worker id, ``claimed_at``); an expired ``claimed`` row was never sent
and is claimed again. ``sending`` is committed before the provider is called, so a worker
that dies mid-call leaves a ``sending`` row; once its lease expires the next dispatch marks
it ``unknown``. ``unknown`` is never sent again automatically: the therapist checks their
Sent folder and calls :func:`resolve_unknown`. Nothing is logged but ids and states.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as DbSession

from ...domain.addresses import InvalidAddress, plain_address
from ...mail.message import build_message
from ...mail.samples import MESSAGES, THERAPIST_MESSAGES
from ...mail.templates import RenderedEmail
from ...mail.transports import Sender, SendOutcome, SendResult, Transport, transport_for
from ...storage import Database
from ...storage.models import OutboxMessage, Therapist
from ..runtime import Runtime

log = logging.getLogger(__name__)


class MessageStatus(StrEnum):
    """Where an outbox message stands; the transitions are in docs/email.md."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    UNKNOWN = "unknown"
    FAILED = "failed"
    HELD = "held"
    CANCELLED = "cancelled"


#: Each state in the therapist's words, for the pages and exports.
STATUS_WORDS: dict[str, str] = {
    MessageStatus.PENDING: "waiting to go out",
    MessageStatus.CLAIMED: "being sent",
    MessageStatus.SENDING: "being sent",
    MessageStatus.SENT: "sent",
    MessageStatus.UNKNOWN: "outcome unknown",
    MessageStatus.FAILED: "not sent",
    MessageStatus.HELD: "held by you",
    MessageStatus.CANCELLED: "cancelled",
}
STATUSES = tuple(MessageStatus)
ROLES = ("patient", "therapist")

# Longer than any one send can take (Gmail's timeout is 30 s), so a live worker's lease
# never expires under it; short enough that a dead worker's messages are seen within minutes.
LEASE = timedelta(minutes=10)

#: The most messages one therapist's Gmail sends in any 24 hours. Gmail's own daily limit is
#: 500 messages for a personal account or a Workspace trial (2,000 for paid Workspace), and
#: an account over it cannot send anything, its owner's own mail included, for up to a day:
#: a fifth of the smallest limit is left to the therapist. See docs/email.md.
GMAIL_DAILY_LIMIT = 400
DAY = timedelta(hours=24)
#: Outcomes after which a therapist's other messages wait for the next dispatch: Gmail asked
#: to slow down (or could not be reached), or the grant is gone; the next would meet the same.
_STOPS = frozenset({SendOutcome.NOT_SENT, SendOutcome.PAUSED})

DIED_WHILE_SENDING = (
    "The service stopped while sending this message: it may have been sent. "
    "Check your Sent folder, then mark it as sent or not sent."
)

SET_ASIDE = (
    "An unexpected problem stopped this message before it was sent: nothing went out. "
    "Press Send again once the cause is fixed, or cancel it."
)

_WORDS = {
    "checkin": "check-in email",
    # Kinds of messages queued before the check-in followed the ticked parts.
    "first_checkin": "check-in email",
    "repeat_checkin": "check-in with the cancellation policy",
    "reschedule_note": "note offering a new time",
    "unmarked_reminder": "reminder to mark sessions",
    "pattern_alert": "alert about a pattern of misses",
    "termination_draft": "draft about ending the work together",
}


def describe(kind: str, recipient_role: str) -> str:
    """The message in the therapist's words, without personal data."""
    whom = "the patient" if recipient_role == "patient" else "you"
    return f"{_WORDS.get(kind, kind)} to {whom}"


def enqueue(
    db: DbSession,
    *,
    therapist_id: int,
    key: str,
    kind: str,
    recipient_role: str,
    to: str,
    rendered: RenderedEmail,
    not_before: datetime,
    now: datetime,
) -> bool:
    """Add a message to the outbox inside the caller's transaction; False if ``key`` exists.

    With an existing key nothing changes, whatever the other values.

    :raises ValueError: on an unknown kind or role, a draft addressed to a patient, or a
        recipient that is not one address.
    """
    if kind not in MESSAGES:
        raise ValueError(f"unknown message kind {kind!r}")
    if recipient_role not in ROLES:
        raise ValueError(f"unknown recipient role {recipient_role!r}")
    if kind in THERAPIST_MESSAGES and recipient_role != "therapist":
        raise ValueError(f"{kind} goes to the therapist only")
    try:
        to = plain_address(to)
    except InvalidAddress as exc:
        raise ValueError(f"the recipient must be one plain email address: {exc}") from None
    values: dict[str, Any] = {
        "therapist_id": therapist_id,
        "key": key,
        "kind": kind,
        "recipient_role": recipient_role,
        "recipient": to,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "not_before": not_before,
        "status": MessageStatus.PENDING,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    # ON CONFLICT DO NOTHING: a concurrent enqueue of the same key waits for the other
    # transaction and then inserts nothing, instead of failing the caller's transaction.
    dialect = db.get_bind().dialect.name
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert_into(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMessage.id)
    )
    return db.execute(statement).first() is not None


def dispatch_due(
    runtime: Runtime,
    now: datetime,
    therapist_id: int | None = None,
    dry_run: bool = False,
    worker_id: str | None = None,
) -> list[str]:
    """Send what is due at ``now``; return one plain-words line per message touched.

    Safe to run in several processes at once: each message is claimed by one of them.
    ``now`` says what is due (the cycle's instant, which may be in the past); leases are
    stamped and judged by the runtime's wall clock (``runtime.now()``), read at each step,
    because they measure how long a live worker has been at it: a slow cycle's ``now`` would
    make its own lease look expired to the next worker, which would then call a send still
    in progress "unknown".
    """
    database: Database = runtime.database
    clock = runtime.now
    due = _due(database, now, clock(), therapist_id)
    waiting: dict[int, int] = {}
    if runtime.config.get("MAIL_BACKEND", "gmail") == "gmail":
        due, waiting = _within_gmail_limit(database, due, now)
    held_back = [
        f"{count} message(s) wait: Gmail's daily sending limit is near "
        f"({GMAIL_DAILY_LIMIT} in 24 hours); they go out as the day's count falls."
        for count in waiting.values()
    ]
    if dry_run:
        return [
            f"Would send the {describe(d.kind, d.recipient_role)} (message {d.id})." for d in due
        ] + held_back
    worker = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lines = _recover(database, now, clock(), therapist_id)
    transport: Transport | None = None
    stopped: set[int] = set()
    for message in due:
        # No cap per dispatch: everything due goes, one therapist's account at a time
        # stopping where Gmail says so.
        if message.therapist_id in stopped:
            continue
        if not _claim(database, message.id, worker, now, clock()):
            continue
        if transport is None:
            transport = transport_for(runtime.config, runtime.database, runtime.connections, now)
        line, outcome = _send_guarded(database, transport, message.id, worker, now, clock)
        lines.append(line)
        if outcome in _STOPS:
            stopped.add(message.therapist_id)
    return lines + held_back


def _send_guarded(
    database: Database,
    transport: Transport,
    message_id: int,
    worker: str,
    now: datetime,
    clock: Callable[[], datetime],
) -> tuple[str, SendOutcome | None]:
    """:func:`_send_one` with an error boundary: one message never stops the others.

    Whatever fails before the provider is called (``_send_one`` handles the call itself)
    leaves a ``claimed`` row that was never sent: it is set aside as ``failed`` in plain
    words, on the therapist's list of what needs them, to be released or cancelled there.
    """
    try:
        return _send_one(database, transport, message_id, worker, now, clock)
    except Exception as exc:
        log.error("outbox %s: %s before sending; set aside", message_id, type(exc).__name__)
        _move(
            database,
            message_id,
            worker,
            (MessageStatus.CLAIMED,),
            now,
            status=MessageStatus.FAILED,
            last_error=SET_ASIDE,
        )
        return f"Message {message_id} was not sent: set aside after an unexpected problem.", None


@dataclass(frozen=True)
class _Due:
    id: int
    therapist_id: int
    kind: str
    recipient_role: str


def _due(database: Database, now: datetime, wall: datetime, therapist_id: int | None) -> list[_Due]:
    """Every message due at ``now``, oldest first (ids and kinds only: no text is loaded)."""
    query = (
        select(
            OutboxMessage.id,
            OutboxMessage.therapist_id,
            OutboxMessage.kind,
            OutboxMessage.recipient_role,
        )
        .where(
            OutboxMessage.not_before <= now,
            or_(
                OutboxMessage.status == MessageStatus.PENDING,
                (OutboxMessage.status == MessageStatus.CLAIMED)
                & (OutboxMessage.claimed_at <= wall - LEASE),
            ),
        )
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
    )
    if therapist_id is not None:
        query = query.where(OutboxMessage.therapist_id == therapist_id)
    with database.transaction() as db:
        return [_Due(*row) for row in db.execute(query)]


def sent_in_a_day(database: Database, therapist_ids: set[int], now: datetime) -> dict[int, int]:
    """Messages that left (or may have left) each therapist's account in the 24 hours to ``now``."""
    if not therapist_ids:
        return {}
    left = func.coalesce(OutboxMessage.sent_at, OutboxMessage.updated_at)
    query = (
        select(OutboxMessage.therapist_id, func.count())
        .where(
            OutboxMessage.therapist_id.in_(therapist_ids),
            OutboxMessage.status.in_(
                (MessageStatus.SENT, MessageStatus.SENDING, MessageStatus.UNKNOWN)
            ),
            left > now - DAY,
        )
        .group_by(OutboxMessage.therapist_id)
    )
    with database.transaction() as db:
        return {row[0]: int(row[1]) for row in db.execute(query)}


def _within_gmail_limit(
    database: Database, due: list[_Due], now: datetime
) -> tuple[list[_Due], dict[int, int]]:
    """What may go now under :data:`GMAIL_DAILY_LIMIT`, and how many wait, by therapist."""
    sent = sent_in_a_day(database, {message.therapist_id for message in due}, now)
    allowed: list[_Due] = []
    waiting: dict[int, int] = {}
    for message in due:
        if sent.get(message.therapist_id, 0) < GMAIL_DAILY_LIMIT:
            sent[message.therapist_id] = sent.get(message.therapist_id, 0) + 1
            allowed.append(message)
        else:
            waiting[message.therapist_id] = waiting.get(message.therapist_id, 0) + 1
    return allowed, waiting


def _recover(
    database: Database, now: datetime, wall: datetime, therapist_id: int | None
) -> list[str]:
    """Mark as unknown what a dead worker left in ``sending`` (its lease, by ``wall``, ran out)."""
    query = select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.recipient_role).where(
        OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.claimed_at <= wall - LEASE
    )
    if therapist_id is not None:
        query = query.where(OutboxMessage.therapist_id == therapist_id)
    with database.transaction() as db:
        stale = list(db.execute(query))
    lines = []
    for row in stale:
        # A single conditional write: only one dispatcher records each recovery.
        with database.transaction() as db:
            done: Any = db.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row.id,
                    OutboxMessage.status == MessageStatus.SENDING,
                    OutboxMessage.claimed_at <= wall - LEASE,
                )
                .values(status=MessageStatus.UNKNOWN, last_error=DIED_WHILE_SENDING, updated_at=now)
            )
        if done.rowcount == 1:
            log.warning("outbox %s: worker died while sending; marked unknown", row.id)
            lines.append(
                f"The {describe(row.kind, row.recipient_role)} (message {row.id}) may or may "
                "not have gone out: please check and mark it."
            )
    return lines


def _claim(database: Database, message_id: int, worker: str, now: datetime, wall: datetime) -> bool:
    # The UPDATE is the transaction's first statement, so SQLite takes the write lock
    # (waiting its busy timeout) instead of failing to upgrade a stale read.
    with database.transaction() as db:
        result: Any = db.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.not_before <= now,
                or_(
                    OutboxMessage.status == MessageStatus.PENDING,
                    (OutboxMessage.status == MessageStatus.CLAIMED)
                    & (OutboxMessage.claimed_at <= wall - LEASE),
                ),
            )
            .values(
                status=MessageStatus.CLAIMED, claimed_by=worker, claimed_at=wall, updated_at=now
            )
        )
    return bool(result.rowcount == 1)


def _move(
    database: Database,
    message_id: int,
    worker: str,
    from_states: tuple[str, ...],
    now: datetime,
    **values: Any,
) -> bool:
    with database.transaction() as db:
        result: Any = db.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.claimed_by == worker,
                OutboxMessage.status.in_(from_states),
            )
            .values(updated_at=now, **values)
        )
    return bool(result.rowcount == 1)


def _send_one(
    database: Database,
    transport: Transport,
    message_id: int,
    worker: str,
    now: datetime,
    clock: Callable[[], datetime],
) -> tuple[str, SendOutcome | None]:
    with database.transaction() as db:
        row = db.get(OutboxMessage, message_id)
        assert row is not None  # claimed by us a moment ago; rows are never deleted here
        therapist = db.get(Therapist, row.therapist_id)
        assert therapist is not None  # the foreign key cascades
        sender = Sender(therapist.id, therapist.display_name, therapist.email)
    what = f"The {describe(row.kind, row.recipient_role)} (message {message_id})"
    blocked = transport.ready(sender, now)
    if blocked is None:
        author, reply_to = transport.envelope(sender)
        rendered = RenderedEmail(row.subject, row.text, row.html)
        try:
            message = build_message(
                rendered, sender=author, to=row.recipient, key=row.key, now=now, reply_to=reply_to
            )
        except ValueError:
            blocked = SendResult(SendOutcome.REFUSED, "The address cannot be written in an email.")
    if blocked is not None:
        _record(database, message_id, worker, (MessageStatus.CLAIMED,), blocked, now)
        return f"{what} was not sent: {blocked.reason}", blocked.outcome
    # Committed before the call: from here on a crash leaves a trace, never a silent resend.
    if not _move(
        database,
        message_id,
        worker,
        (MessageStatus.CLAIMED,),
        now,
        status=MessageStatus.SENDING,
        # The lease starts again, by the wall clock, for the call itself.
        claimed_at=clock(),
        attempts=OutboxMessage.attempts + 1,
    ):
        return f"{what} was taken over by another worker.", None
    try:
        result = transport.deliver(sender, message, row.key)
    except Exception as exc:  # whatever happened, the call may have gone out
        log.error("outbox %s: %s while sending", message_id, type(exc).__name__)
        result = SendResult(
            SendOutcome.UNKNOWN,
            "Something went wrong while sending: the message may have been sent. "
            "Check your Sent folder, then mark it as sent or not sent.",
        )
    _record(database, message_id, worker, (MessageStatus.SENDING,), result, now)
    if result.outcome is SendOutcome.SENT:
        return f"{what} was sent.", result.outcome
    return f"{what} was not confirmed: {result.reason}", result.outcome


def _record(
    database: Database,
    message_id: int,
    worker: str,
    from_states: tuple[str, ...],
    result: SendResult,
    now: datetime,
) -> None:
    outcome = result.outcome
    if outcome is SendOutcome.SENT:
        # The true outcome wins over an "unknown" set meanwhile by a recovering dispatcher.
        _move(
            database,
            message_id,
            worker,
            (*from_states, MessageStatus.UNKNOWN),
            now,
            status=MessageStatus.SENT,
            sent_at=now,
            provider_message_id=result.provider_id,
            last_error=None,
        )
    elif outcome is SendOutcome.UNKNOWN:
        _move(
            database,
            message_id,
            worker,
            from_states,
            now,
            status=MessageStatus.UNKNOWN,
            last_error=result.reason,
        )
    elif outcome is SendOutcome.REFUSED:
        _move(
            database,
            message_id,
            worker,
            from_states,
            now,
            status=MessageStatus.FAILED,
            last_error=result.reason,
        )
    else:
        # Nothing left the machine: it waits for the next dispatch (or the reconnection).
        _move(
            database,
            message_id,
            worker,
            from_states,
            now,
            status=MessageStatus.PENDING,
            claimed_by=None,
            claimed_at=None,
            last_error=result.reason,
        )
    log.info("outbox %s: %s", message_id, outcome.value)
