"""Two therapists select one shared calendar: each session is followed up by one of them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.sync.calendar_list import select_calendar
from calendar_sync.storage.models import CalendarRow, FollowUpAction, TherapistNotice

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=2)
ANA = "dr.ana@example.test"
BEN = "dr.ben@example.test"
RECEPTION = "reception@example.test"
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    return sandboxed_app


def practice(env: Any, connect: Callable[..., int]) -> tuple[int, int, str]:
    """Ana's practice calendar, shared with Ben and the reception; both select it."""
    env.sandbox.add_account(ANA, "Ana", "Europe/London")
    env.sandbox.add_account(BEN, "Ben", "Europe/London")
    env.sandbox.add_account(RECEPTION, "Reception", "Europe/London")
    shared = env.sandbox.control(
        "POST",
        f"calendar/accounts/{ANA}/calendars",
        {"summary": "Practice", "timeZone": "Europe/London"},
    )["id"]
    for account in (BEN, RECEPTION):
        env.sandbox.control("POST", f"calendar/{shared}/share", {"email": account})
    ids = []
    for email in (ANA, BEN):
        therapist_id = connect(email, CONNECTED, scopes=SCOPES, with_calendars=True)
        with runtime_of(env.app).database.transaction() as db:
            row = db.scalars(
                select(CalendarRow).where(
                    CalendarRow.therapist_id == therapist_id,
                    CalendarRow.google_calendar_id == shared,
                )
            ).one()
        select_calendar(runtime_of(env.app).database, therapist_id, row.id, True, CONNECTED)
        ids.append(therapist_id)
    return ids[0], ids[1], shared


def missed(env: Any, calendar: str, author: str, patient: str, hour: int) -> None:
    """A no-show (Tomato) on Thursday 19 March, made by ``author`` on ``calendar``."""
    env.sandbox.control(
        "POST",
        f"calendar/{calendar}/events?as={author}",
        {
            "summary": "Session",
            "start": {"dateTime": f"2026-03-19T{hour:02d}:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": f"2026-03-19T{hour:02d}:50:00", "timeZone": "Europe/London"},
            "colorId": "11",
            "attendees": [{"email": patient}],
        },
    )


def tick(env: Any, now: datetime) -> list[str]:
    env.sandbox.control("POST", "clock", {"now": now.isoformat()})
    return run_cycle(runtime_of(env.app), now=now, dry_run=False).lines()


def mail_to(env: Any, patient: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = env.sandbox.control("GET", f"mail?to={patient}")["messages"]
    return found


def invitations(env: Any, patient: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = env.sandbox.control(
        "GET", f"calendar/invitations?email={patient}"
    )["messages"]
    return found


def test_each_session_of_a_shared_calendar_is_followed_up_by_its_own_therapist(
    env: Any, connect: Callable[..., int]
) -> None:
    ana, ben, shared = practice(env, connect)
    missed(env, shared, ANA, "pat.one@example.test", 9)
    missed(env, shared, BEN, "pat.two@example.test", 11)

    lines = tick(env, NOW)
    for later in (
        NOW + timedelta(minutes=20),
        NOW + DEFAULT_PATIENT_HOLD,
        NOW + timedelta(hours=3),
    ):
        lines += tick(env, later)

    (to_one,) = mail_to(env, "pat.one@example.test")
    (to_two,) = mail_to(env, "pat.two@example.test")
    assert ANA in to_one["from"], lines
    assert BEN in to_two["from"], lines
    assert len(invitations(env, "pat.one@example.test")) == 1
    assert len(invitations(env, "pat.two@example.test")) == 1
    with runtime_of(env.app).database.transaction() as db:
        actions = db.scalars(select(FollowUpAction)).all()
    assert {a.therapist_id for a in actions if a.event_id} == {ana, ben}
    # Each session's actions are one therapist's, never split between the two.
    owners: dict[str, set[int]] = {}
    for action in actions:
        owners.setdefault(action.event_id, set()).add(action.therapist_id)
    assert all(len(found) == 1 for found in owners.values()), owners


def test_a_session_nobody_owns_is_not_followed_up_and_both_are_told_once(
    env: Any, connect: Callable[..., int]
) -> None:
    ana, ben, shared = practice(env, connect)
    missed(env, shared, RECEPTION, "pat.three@example.test", 14)

    tick(env, NOW)
    tick(env, NOW + timedelta(minutes=20))

    assert mail_to(env, "pat.three@example.test") == []
    assert invitations(env, "pat.three@example.test") == []
    with runtime_of(env.app).database.transaction() as db:
        told = db.scalars(
            select(TherapistNotice.therapist_id).where(TherapistNotice.kind == "shared_session")
        ).all()
        statuses = set(db.scalars(select(FollowUpAction.status)))
    assert sorted(told) == sorted([ana, ben])
    assert statuses == {"not_possible"}


def test_keys_stored_before_the_upgrade_still_stop_a_second_follow_up(
    env: Any, connect: Callable[..., int]
) -> None:
    from alembic import command

    from calendar_sync.storage.database import _alembic_config
    from calendar_sync.storage.models import OutboxMessage, RescheduleProposal

    therapist = "dr.rivera@example.test"
    patient = "sam.patient@example.test"
    connect(therapist, CONNECTED, scopes=SCOPES, with_calendars=True)
    missed(env, therapist, therapist, patient, 10)
    tick(env, NOW)
    tick(env, NOW + DEFAULT_PATIENT_HOLD)
    assert len(mail_to(env, patient)) == 1
    database = runtime_of(env.app).database

    # Back to the schema and keys of before: "<kind>:<sha256(calendar \0 event)[:32]>".
    with database.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0011")
    with database.engine.connect() as connection:
        keys = [row.key for row in connection.execute(select(FollowUpAction.key.label("key")))]
        events = connection.execute(select(FollowUpAction.event_id)).scalars().all()
    digest = hashlib.sha256(f"{therapist}\x00{events[0]}".encode()).hexdigest()[:32]
    assert keys and all(key.endswith(":" + digest) and key.count(":") == 1 for key in keys)

    database.upgrade()
    for later in (NOW + timedelta(hours=2, minutes=20), NOW + timedelta(hours=5)):
        tick(env, later)

    assert len(mail_to(env, patient)) == 1
    assert len(invitations(env, patient)) == 1
    with database.transaction() as db:
        stored = [
            *db.scalars(select(FollowUpAction.key)),
            *db.scalars(select(OutboxMessage.key)),
            *db.scalars(select(RescheduleProposal.key)),
        ]
    assert stored and all(key.split(":")[1] == "1" for key in stored), stored
