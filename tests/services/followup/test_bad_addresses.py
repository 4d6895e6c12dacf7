"""A patient address that cannot be written to is set aside; everyone else is followed up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.domain.sessions import SessionRules
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.accounts.settings import save_session_rules
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import CalendarEventRow, FollowUpAction, Patient, TherapistNotice

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=2)
THERAPIST = "dr.rivera@example.test"
GOOD = "pat.good@example.test"
ODD = "sam;o@example.test"
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    return sandboxed_app


def no_show(env: Any, hour: int, title: str, attendee: str | None) -> None:
    body: dict[str, Any] = {
        "summary": title,
        "start": {"dateTime": f"2026-03-19T{hour:02d}:00:00", "timeZone": "Europe/London"},
        "end": {"dateTime": f"2026-03-19T{hour:02d}:50:00", "timeZone": "Europe/London"},
        "colorId": "11",
    }
    if attendee:
        body["attendees"] = [{"email": attendee}]
    env.sandbox.control("POST", f"calendar/{THERAPIST}/events", body)


def test_bad_addresses_never_stop_the_other_patients_follow_ups(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connect(THERAPIST, CONNECTED, scopes=SCOPES, with_calendars=True)
    database = runtime_of(env.app).database
    with database.transaction() as db:
        save_session_rules(db, therapist_id, SessionRules(title_pattern=r"^session\b"))
        # Stored before the form checked addresses: two addresses in one field.
        db.add(
            Patient(
                therapist_id=therapist_id,
                name="KT",
                email="kt@example.test, mum@example.test",
                do_not_email=False,
                fee_exempt=False,
                fee_exempt_reason="",
                created_at=CONNECTED,
            )
        )
    # Sessions sorted by time: the two bad ones come first.
    no_show(env, 9, "Session KT", None)
    no_show(env, 10, "Session", ODD)  # Google accepts this attendee address
    no_show(env, 11, "Session", GOOD)

    env.sandbox.control("POST", "clock", {"now": NOW.isoformat()})
    lines = run_cycle(runtime_of(env.app), now=NOW, dry_run=False).lines()
    released = NOW + DEFAULT_PATIENT_HOLD  # the check-in waits out the hold first
    env.sandbox.control("POST", "clock", {"now": released.isoformat()})
    lines += run_cycle(runtime_of(env.app), now=released, dry_run=False).lines()

    sent = env.sandbox.control("GET", "mail")["messages"]
    assert [m["to"] for m in sent if m["to"] != [THERAPIST]] == [[GOOD]], lines
    assert not any("mum@" in str(m["to"]) or ODD in str(m["to"]) for m in sent)
    with database.transaction() as db:
        rows = db.scalars(select(CalendarEventRow).order_by(CalendarEventRow.start)).all()
        notices = db.scalars(select(TherapistNotice.text)).all()
        checkins = db.scalars(
            select(FollowUpAction.status).where(FollowUpAction.kind == "email_checkin")
        ).all()
    # The odd attendee address was not kept: that session has no patient to write to.
    assert [r.patient_email for r in rows][1:] == [None, GOOD]
    assert any("cannot be written to" in text for text in notices), notices
    assert all("mum@" not in text and "KT" not in text for text in notices)
    assert sorted(checkins) == ["not_possible", "queued"]

    # The next cycle does nothing more: each bad session was set aside once.
    again = released + timedelta(minutes=20)
    env.sandbox.control("POST", "clock", {"now": again.isoformat()})
    run_cycle(runtime_of(env.app), now=again, dry_run=False)
    assert len(env.sandbox.control("GET", "mail")["messages"]) == len(sent)
    with database.transaction() as db:
        assert len(db.scalars(select(TherapistNotice.text)).all()) == len(notices)
