"""One message that cannot be handled is set aside in plain words; the others still go."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from calendar_sync.google.oauth import CALENDAR_EVENTS, EMAIL, GMAIL_SEND, OPENID
from calendar_sync.mail.samples import SAMPLE_CONTEXTS
from calendar_sync.mail.templates import render
from calendar_sync.services.outbox import review
from calendar_sync.services.outbox.dispatch import (
    SET_ASIDE,
    MessageStatus,
    dispatch_due,
    enqueue,
)
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import GoogleConnection, OutboxMessage

NOW = datetime.now(UTC).replace(microsecond=0)
SCOPES = [OPENID, EMAIL, CALENDAR_EVENTS, GMAIL_SEND]


def queue(app: Any, therapist_id: int, key: str, to: str) -> None:
    with runtime_of(app).database.transaction() as db:
        enqueue(
            db,
            therapist_id=therapist_id,
            key=key,
            kind="checkin",
            recipient_role="patient",
            to=to,
            rendered=render("checkin", SAMPLE_CONTEXTS["checkin"]),
            not_before=NOW - timedelta(minutes=1),
            now=NOW - timedelta(minutes=1),
        )


def test_a_message_that_fails_before_sending_never_holds_up_the_others(
    sandboxed_app: Any, connect: Callable[..., int]
) -> None:
    app = sandboxed_app.app
    broken = connect("dr.first@example.test", NOW, scopes=SCOPES)
    fine = connect("dr.second@example.test", NOW, scopes=SCOPES)
    queue(app, broken, "email_checkin:1:aa", "pat.one@example.test")
    queue(app, fine, "email_checkin:2:bb", "pat.two@example.test")
    # The first therapist's tokens were sealed with a key no longer configured: reading
    # them raises, for their messages only.
    with runtime_of(app).database.transaction() as db:
        db.execute(
            update(GoogleConnection)
            .where(GoogleConnection.therapist_id == broken)
            .values(access_token_encrypted="not-a-fernet-token", refresh_token_encrypted="x")
        )

    lines = dispatch_due(runtime_of(app), NOW)

    sent = sandboxed_app.sandbox.control("GET", "mail")["messages"]
    assert [m["to"] for m in sent] == [["pat.two@example.test"]], lines
    with runtime_of(app).database.transaction() as db:
        rows = {r.therapist_id: r for r in db.scalars(select(OutboxMessage))}
        attention = review.needing_attention(db, broken)
    assert rows[fine].status == MessageStatus.SENT
    assert rows[broken].status == MessageStatus.FAILED
    assert rows[broken].last_error == SET_ASIDE
    assert [m.id for m in attention] == [rows[broken].id]
    assert any("set aside" in line for line in lines)
