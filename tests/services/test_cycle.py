"""A whole cycle against the sandbox: sync, decide, propose, send; then nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from calendar_sync.domain.money import Money
from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.domain.sessions import SessionRules
from calendar_sync.domain.times import when_words
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.accounts.settings import (
    load_settings,
    save_session_rules,
    save_settings,
    with_policy,
)
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.outbox.dispatch import MessageStatus
from calendar_sync.services.outbox.review import messages
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import (
    CalendarEventRow,
    FeeEntry,
    FollowUpAction,
    Patient,
    RescheduleProposal,
    Therapist,
    TherapistNotice,
)

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
HOLD = DEFAULT_PATIENT_HOLD
CONNECTED = NOW - timedelta(days=2)
THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"
ALL_SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    return sandboxed_app


def connected(env: Any, connect: Callable[..., int]) -> int:
    return connect(THERAPIST, CONNECTED, scopes=ALL_SCOPES, with_calendars=True)


def missed_session(
    env: Any, *, title: str = "Sam R", zone: str = "Europe/London", invite: bool = True
) -> None:
    """Thursday 19 March 10:00-10:50 on the therapist's calendar, coloured Tomato (no-show)."""
    body: dict[str, Any] = {
        "summary": title,
        "start": {"dateTime": "2026-03-19T10:00:00", "timeZone": zone},
        "end": {"dateTime": "2026-03-19T10:50:00", "timeZone": zone},
        "colorId": "11",
    }
    if invite:
        body["attendees"] = [{"email": PATIENT}]
    env.sandbox.control("POST", f"calendar/{THERAPIST}/events", body)


def tick(env: Any, now: datetime) -> list[str]:
    env.sandbox.control("POST", "clock", {"now": now.isoformat()})
    return run_cycle(runtime_of(env.app), now=now, dry_run=False).lines()


def mail(env: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = env.sandbox.control("GET", "mail")["messages"]
    return messages


def invitations(env: Any, email: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = env.sandbox.control("GET", f"calendar/invitations?email={email}")[
        "messages"
    ]
    return found


def test_a_missed_session_gets_one_checkin_and_one_proposal(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connected(env, connect)
    missed_session(env)
    lines = tick(env, NOW)
    # decided, and held: the email, the invitation and the fee wait out the hold, visible
    assert [m for m in mail(env) if PATIENT in m["to"]] == []
    assert invitations(env, PATIENT) == []
    with runtime_of(env.app).database.transaction() as db:
        (held,) = messages(db, therapist_id, (MessageStatus.PENDING,))
    assert held.recipient == PATIENT and held.not_before == NOW + HOLD
    lines = tick(env, NOW + HOLD - timedelta(minutes=1))
    assert [m for m in mail(env) if PATIENT in m["to"]] == []
    lines = tick(env, NOW + HOLD)
    sent = [m for m in mail(env) if PATIENT in m["to"]]
    assert len(sent) == 1, lines
    assert sent[0]["text"].replace("\r\n", "\n") == held.text
    message = sent[0]
    # the email names the new time already waiting in the patient's calendar
    with runtime_of(env.app).database.transaction() as db:
        (proposal,) = db.scalars(select(RescheduleProposal)).all()
    assert proposal.slot_start is not None
    offered = when_words(proposal.slot_start, ZoneInfo("Europe/London"))
    assert offered in message["text"], message["text"]
    assert message["from"].endswith(f"<{THERAPIST}>") or message["from"] == THERAPIST
    assert message["text"] and message["html"]
    for word in ("therapy", "treatment", "diagnos", "session notes"):
        assert word not in message["subject"].lower()
    # the proposal: an event in the therapist's calendar with the patient invited
    assert len(invitations(env, PATIENT)) == 1, lines

    # a second and a third cycle change nothing
    for later in (NOW + HOLD + timedelta(minutes=20), NOW + HOLD + timedelta(minutes=40)):
        tick(env, later)
    assert len([m for m in mail(env) if PATIENT in m["to"]]) == 1
    assert len(invitations(env, PATIENT)) == 1
    with runtime_of(env.app).database.transaction() as db:
        keys = db.scalar(select(func.count()).select_from(FollowUpAction))
        distinct = db.scalar(select(func.count(func.distinct(FollowUpAction.key))))
    assert keys == distinct and keys


def test_an_accepted_proposal_becomes_a_session(env: Any, connect: Callable[..., int]) -> None:
    connected(env, connect)
    missed_session(env)
    tick(env, NOW)
    tick(env, NOW + HOLD)  # the hold is over: the invitation is placed
    tick(env, NOW + HOLD + timedelta(minutes=20))  # the next sync reads the proposal back
    with runtime_of(env.app).database.transaction() as db:
        ours = db.scalars(
            select(CalendarEventRow).where(CalendarEventRow.created_by_service.is_(True))
        ).all()
    assert len(ours) == 1 and not ours[0].is_session
    env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events/{ours[0].event_id}/respond",
        {"email": PATIENT, "response": "accepted"},
    )
    tick(env, NOW + HOLD + timedelta(minutes=40))
    with runtime_of(env.app).database.transaction() as db:
        accepted = db.scalars(
            select(CalendarEventRow).where(CalendarEventRow.event_id == ours[0].event_id)
        ).one()
    assert accepted.is_session and accepted.patient_response == "accepted"


def test_a_patient_without_an_address_gets_nothing_and_the_therapist_is_told(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connected(env, connect)
    with runtime_of(env.app).database.transaction() as db:
        db.add(
            Patient(
                therapist_id=therapist_id,
                name="KT",
                email=None,
                do_not_email=False,
                fee_exempt=False,
                fee_exempt_reason="",
                created_at=CONNECTED,
            )
        )
    missed_session(env, title="Session KT", invite=False)
    env.app.config["PUSH_NOTIFICATIONS"] = "off"
    with runtime_of(env.app).database.transaction() as db:
        save_session_rules(db, therapist_id, SessionRules(title_pattern=r"^session\b"))
    tick(env, NOW)
    assert mail(env) == []
    with runtime_of(env.app).database.transaction() as db:
        statuses = {a.kind: a.status for a in db.scalars(select(FollowUpAction))}
        notices = db.scalars(select(TherapistNotice.text)).all()
    assert statuses["email_checkin"] == "not_possible"
    assert any("no email address" in text for text in notices)
    assert all("KT" not in text for text in notices)


def test_emails_use_the_calendars_clock_until_the_therapist_chooses_one(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connect(
        THERAPIST, CONNECTED, scopes=ALL_SCOPES, time_zone="America/New_York", with_calendars=True
    )
    with runtime_of(env.app).database.transaction() as db:
        therapist = db.get(Therapist, therapist_id)
        assert therapist is not None
        therapist.time_zone = "UTC"  # what sign-in records before a choice is made
    missed_session(env, zone="America/New_York")
    tick(env, NOW)
    tick(env, NOW + HOLD)
    (message,) = [m for m in mail(env) if PATIENT in m["to"]]
    assert "Thursday 19 March at 10:00" in message["text"]


def test_the_email_waits_a_little_for_its_new_time_and_never_forever(
    env: Any, connect: Callable[..., int]
) -> None:
    connected(env, connect)
    missed_session(env)
    # Google refuses to place the invitation (a plain 403 is not retried)
    env.sandbox.control(
        "POST",
        "faults",
        {"method": "calendar.events.insert", "status": 403, "reason": "forbidden", "count": 50},
    )
    tick(env, NOW)
    # the hold is over but the invitation cannot be placed: the email naming it waits
    tick(env, NOW + HOLD)
    assert [m for m in mail(env) if PATIENT in m["to"]] == []
    # past the wait it is written again without the time, and waits a new hold, visible
    later = NOW + HOLD + timedelta(minutes=40)
    tick(env, later)
    assert [m for m in mail(env) if PATIENT in m["to"]] == []
    tick(env, later + HOLD)
    (message,) = [m for m in mail(env) if PATIENT in m["to"]]
    assert "you can choose a new time here" in message["text"]


def test_someone_elses_invitation_is_left_alone_unless_they_book_for_the_therapist(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connected(env, connect)
    with runtime_of(env.app).database.transaction() as db:
        settings = load_settings(db, therapist_id)
        fee = Money(6000, "GBP")
        policy = replace(settings.policy, no_show_fee=fee, charge_assumed_no_shows=True)
        save_settings(db, therapist_id, with_policy(settings, policy), CONNECTED)
    colleague = "colleague@example.test"

    def invitation(start: str, end: str, guests: list[str]) -> None:
        """An event the colleague organised, as it lands in the therapist's calendar."""
        env.sandbox.control(
            "POST",
            f"calendar/{THERAPIST}/events",
            {
                "summary": "Catch-up",
                "organizer": {"email": colleague},
                "start": {"dateTime": f"2026-03-19T{start}:00", "timeZone": "Europe/London"},
                "end": {"dateTime": f"2026-03-19T{end}:00", "timeZone": "Europe/London"},
                "attendees": [{"email": guest} for guest in guests],
            },
        )

    # Nobody marks them attended: unmarked means missed, so a session would be followed up.
    invitation("10:00", "10:50", [THERAPIST, PATIENT])  # booked for the therapist with a guest
    invitation("14:00", "14:30", [colleague, THERAPIST])  # the colleague's one-to-one
    lines = tick(env, NOW)
    assert [m for m in mail(env) if PATIENT in m["to"]] == [], lines
    assert invitations(env, PATIENT) == []
    assert [m for m in mail(env) if colleague in m["to"]] == []
    with runtime_of(env.app).database.transaction() as db:
        stored = db.scalars(select(CalendarEventRow)).all()
        assert len(stored) == 2
        assert not any(row.organizer_is_self or row.is_session for row in stored)
        assert db.scalars(select(FollowUpAction)).all() == []
        assert db.scalars(select(FeeEntry)).all() == []

    # The colleague is the practice's front desk, booking sessions for the therapist.
    with runtime_of(env.app).database.transaction() as db:
        save_session_rules(db, therapist_id, SessionRules(co_organizers=frozenset({colleague})))
    tick(env, NOW + timedelta(minutes=20))
    lines = tick(env, NOW + timedelta(minutes=20) + HOLD)
    (checkin,) = [m for m in mail(env) if PATIENT in m["to"]]
    assert checkin["from"].endswith(f"<{THERAPIST}>") or checkin["from"] == THERAPIST
    assert [m for m in mail(env) if colleague in m["to"]] == []
    with runtime_of(env.app).database.transaction() as db:
        (row,) = db.scalars(
            select(CalendarEventRow).where(CalendarEventRow.is_session.is_(True))
        ).all()
        assert row.patient_email == PATIENT and not row.created_by_service
        (charge,) = db.scalars(select(FeeEntry)).all()
    assert charge.minor_units == fee.minor_units
