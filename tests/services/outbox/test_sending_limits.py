"""No cap per dispatch: everything due goes, within Gmail's own daily sending limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from calendar_sync.google.oauth import CALENDAR_EVENTS, EMAIL, GMAIL_SEND, OPENID
from calendar_sync.mail.samples import SAMPLE_CONTEXTS
from calendar_sync.mail.templates import render
from calendar_sync.services.outbox.dispatch import (
    GMAIL_DAILY_LIMIT,
    MessageStatus,
    dispatch_due,
    enqueue,
)
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import OutboxMessage

NOW = datetime.now(UTC).replace(microsecond=0)
THERAPIST = "dr.lindqvist@example.test"
SEND = "gmail.users.messages.send"
SCOPES = [OPENID, EMAIL, CALENDAR_EVENTS, GMAIL_SEND]


@pytest.fixture
def therapist(connect: Callable[..., int]) -> int:
    return connect(THERAPIST, NOW, scopes=SCOPES)


def _add(app: Any, therapist_id: int, count: int, first: int = 0) -> None:
    rendered = render("checkin", SAMPLE_CONTEXTS["checkin"])
    with runtime_of(app).database.transaction() as db:
        for number in range(first, first + count):
            enqueue(
                db,
                therapist_id=therapist_id,
                key=f"email_checkin:{number}",
                kind="checkin",
                recipient_role="patient",
                to=f"patient{number}@example.test",
                rendered=rendered,
                not_before=NOW - timedelta(minutes=1),
                now=NOW - timedelta(minutes=1),
            )


def _statuses(app: Any) -> list[str]:
    with runtime_of(app).database.transaction() as db:
        return list(db.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


def _sends(sandbox: Any) -> int:
    return int(sandbox.control("GET", "calls")["calls"].get(SEND, 0))


def test_one_dispatch_sends_everything_due_however_many(sandboxed_app: Any, therapist: int) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    _add(app, therapist, 120)  # more than the 50 a dispatch used to take

    lines = dispatch_due(runtime_of(app), NOW)

    assert sum(line.endswith("was sent.") for line in lines) == 120
    assert _sends(sandbox) == 120
    assert set(_statuses(app)) == {MessageStatus.SENT}


def test_past_gmails_daily_limit_messages_wait_and_go_as_the_day_moves_on(
    sandboxed_app: Any, therapist: int
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    already = GMAIL_DAILY_LIMIT - 2
    _add(app, therapist, already)
    with runtime_of(app).database.transaction() as db:
        # Sent over the last hours (one "unknown": it may have left, so it counts).
        db.execute(
            update(OutboxMessage).values(
                status=MessageStatus.SENT, sent_at=NOW - timedelta(hours=3)
            )
        )
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == 1)
            .values(status=MessageStatus.UNKNOWN, sent_at=None, updated_at=NOW - timedelta(hours=2))
        )
    _add(app, therapist, 5, first=already)

    lines = dispatch_due(runtime_of(app), NOW)

    assert _sends(sandbox) == 2
    assert lines[-1].startswith("3 message(s) wait: Gmail's daily sending limit is near")
    assert _statuses(app)[already:] == [MessageStatus.SENT] * 2 + [MessageStatus.PENDING] * 3
    # Nothing more while the day's count stands...
    dispatch_due(runtime_of(app), NOW + timedelta(hours=20))
    assert _sends(sandbox) == 2
    # ...and the rest once the earlier sends are more than a day old.
    dispatch_due(runtime_of(app), NOW + timedelta(hours=22))
    assert _sends(sandbox) == 5
    assert _statuses(app)[already:] == [MessageStatus.SENT] * 5


def test_dry_run_says_what_waits_for_the_daily_limit(sandboxed_app: Any, therapist: int) -> None:
    app = sandboxed_app.app
    _add(app, therapist, GMAIL_DAILY_LIMIT + 1)

    lines = dispatch_due(runtime_of(app), NOW, dry_run=True)

    assert len(lines) == GMAIL_DAILY_LIMIT + 1
    assert lines[-1].startswith("1 message(s) wait")
    assert set(_statuses(app)) == {MessageStatus.PENDING}


def test_when_gmail_asks_to_slow_down_the_therapists_other_messages_wait(
    sandboxed_app: Any, therapist: int, connect: Callable[..., int]
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    other = connect("dr.other@example.test", NOW, scopes=SCOPES)
    _add(app, therapist, 3)
    _add(app, other, 1, first=3)
    sandbox.control("POST", "faults", {"method": SEND, "status": 429})

    dispatch_due(runtime_of(app), NOW)

    # One refused call for the first therapist; the other therapist's message still went.
    assert _sends(sandbox) == 2
    assert _statuses(app) == [MessageStatus.PENDING] * 3 + [MessageStatus.SENT]
    dispatch_due(runtime_of(app), NOW + timedelta(minutes=1))
    assert set(_statuses(app)) == {MessageStatus.SENT}


def test_the_dev_backend_has_no_daily_limit(sandboxed_app: Any, therapist: int) -> None:
    app = sandboxed_app.app
    app.config["MAIL_BACKEND"] = "dev"
    _add(app, therapist, GMAIL_DAILY_LIMIT + 3)

    dispatch_due(runtime_of(app), NOW)

    assert set(_statuses(app)) == {MessageStatus.SENT}
