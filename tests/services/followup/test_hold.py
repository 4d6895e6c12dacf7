"""The hold: nothing reaches a patient before it, and the therapist can stop or hurry it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.domain.marks import MarkSource
from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.accounts.settings import load_settings, save_settings, with_policy
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.followup.marks import record_mark
from calendar_sync.services.outbox import review
from calendar_sync.services.outbox.dispatch import MessageStatus
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import (
    FeeEntry,
    FollowUpAction,
    OutboxMessage,
    RescheduleProposal,
    TherapistNotice,
)

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=2)
HOLD = DEFAULT_PATIENT_HOLD
THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]


@pytest.fixture
def env(sandboxed_app: Any, connect: Callable[..., int]) -> Any:
    """A therapist with a £60 no-show fee and yesterday's session, still unmarked."""
    sandboxed_app.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    therapist_id = connect(THERAPIST, CONNECTED, scopes=SCOPES, with_calendars=True)
    with runtime_of(sandboxed_app.app).database.transaction() as db:
        settings = load_settings(db, therapist_id)
        policy = settings.policy.__class__(
            **{
                **settings.policy.__dict__,
                "no_show_fee": Money(6000, "GBP"),
                "late_cancel_fee": Money(4000, "GBP"),
            }
        )
        save_settings(db, therapist_id, with_policy(settings, policy), CONNECTED)
    event = sandboxed_app.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Sam R",
            "start": {"dateTime": "2026-03-19T10:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-19T10:50:00", "timeZone": "Europe/London"},
            "attendees": [{"email": PATIENT}],
        },
    )
    sandboxed_app.therapist_id = therapist_id
    sandboxed_app.event_id = event["id"]
    return sandboxed_app


def mark(env: Any, outcome: Outcome, when: datetime) -> None:
    """The therapist's click on the dashboard."""
    with runtime_of(env.app).database.transaction() as db:
        record_mark(
            db,
            therapist_id=env.therapist_id,
            calendar_id=THERAPIST,
            event_id=env.event_id,
            outcome=outcome,
            source=MarkSource.DASHBOARD,
            now=when,
        )


def tick(env: Any, when: datetime) -> None:
    env.sandbox.control("POST", "clock", {"now": when.isoformat()})
    run_cycle(runtime_of(env.app), now=when, dry_run=False)


def sent(env: Any) -> list[dict[str, Any]]:
    return [m for m in env.sandbox.control("GET", "mail")["messages"] if PATIENT in m["to"]]


def invited(env: Any) -> list[Any]:
    found = env.sandbox.control("GET", f"calendar/invitations?email={PATIENT}")["messages"]
    return list(found)


def state(env: Any) -> tuple[list[str], list[str], list[tuple[int, bool]]]:
    """(patient emails' statuses, proposals' states, fees as (pence, still held))."""
    with runtime_of(env.app).database.transaction() as db:
        emails = [
            m.status
            for m in db.scalars(
                select(OutboxMessage).where(OutboxMessage.recipient_role == "patient")
            )
        ]
        proposals = [p.state for p in db.scalars(select(RescheduleProposal))]
        fees = [(f.minor_units, f.held_until is not None) for f in db.scalars(select(FeeEntry))]
    return emails, proposals, fees


def patient_email_id(env: Any) -> int:
    with runtime_of(env.app).database.transaction() as db:
        return int(
            db.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.recipient_role == "patient",
                    OutboxMessage.status != MessageStatus.CANCELLED,
                )
            ).one()
        )


def test_a_no_show_click_goes_nowhere_until_the_hold_is_over(env: Any) -> None:
    mark(env, Outcome.NO_SHOW, NOW)
    tick(env, NOW + timedelta(minutes=1))
    # decided and visible: the email, the invitation (its time chosen) and the fee wait
    assert state(env) == (["pending"], ["planned"], [(6000, True)])
    assert sent(env) == [] and invited(env) == []
    tick(env, NOW + HOLD)  # one minute short of the hold
    assert sent(env) == [] and invited(env) == []
    tick(env, NOW + timedelta(minutes=1) + HOLD)
    assert len(sent(env)) == 1 and len(invited(env)) == 1
    assert state(env) == (["sent"], ["proposed"], [(6000, False)])


def test_a_new_mark_within_the_hold_takes_back_what_the_first_queued(env: Any) -> None:
    mark(env, Outcome.NO_SHOW, NOW)
    tick(env, NOW + timedelta(minutes=1))
    # a misclick: it was a late cancel
    mark(env, Outcome.LATE_CANCEL, NOW + timedelta(minutes=10))
    tick(env, NOW + timedelta(minutes=11))
    emails, proposals, fees = state(env)
    # the no-show's email was withdrawn, its invitation never placed, its fee dropped;
    # the late cancel's follow-up waits in its place, with the late-cancel fee
    assert emails == ["cancelled", "pending"]
    assert proposals == ["planned"] and fees == [(4000, True)]
    # then it attended after all (Undo): everything is taken back, nothing goes
    mark(env, Outcome.ATTENDED, NOW + timedelta(minutes=20))
    tick(env, NOW + timedelta(minutes=21))
    assert state(env) == (["cancelled", "cancelled"], [], [])
    tick(env, NOW + timedelta(hours=5))
    assert sent(env) == [] and invited(env) == []


def test_cancelling_the_email_stops_its_invitation_and_fee(env: Any) -> None:
    mark(env, Outcome.NO_SHOW, NOW)
    tick(env, NOW + timedelta(minutes=1))
    with runtime_of(env.app).database.transaction() as db:
        assert review.cancel(db, env.therapist_id, patient_email_id(env), NOW)
    tick(env, NOW + timedelta(hours=3))
    assert sent(env) == [] and invited(env) == []
    assert state(env) == (["cancelled"], ["withdrawn"], [])


def test_send_now_ends_the_hold_for_all_of_it(env: Any) -> None:
    mark(env, Outcome.NO_SHOW, NOW)
    tick(env, NOW + timedelta(minutes=1))
    with runtime_of(env.app).database.transaction() as db:
        assert review.send_now(db, env.therapist_id, patient_email_id(env), NOW)
    tick(env, NOW + timedelta(minutes=2))
    assert len(sent(env)) == 1 and len(invited(env)) == 1
    assert state(env) == (["sent"], ["proposed"], [(6000, False)])


def test_a_held_email_waits_for_the_therapist(env: Any) -> None:
    mark(env, Outcome.NO_SHOW, NOW)
    tick(env, NOW + timedelta(minutes=1))
    with runtime_of(env.app).database.transaction() as db:
        assert review.hold(db, env.therapist_id, patient_email_id(env), NOW)
    tick(env, NOW + timedelta(hours=6))
    assert sent(env) == [] and invited(env) == []
    assert state(env) == (["held"], ["planned"], [(6000, True)])


# -- one conversation per miss ------------------------------------------------------------


def test_a_mark_changed_after_the_email_went_is_noted_and_sends_nothing_more(env: Any) -> None:
    mark(env, Outcome.NO_SHOW, NOW)
    tick(env, NOW + timedelta(minutes=1))
    tick(env, NOW + timedelta(minutes=1) + HOLD)
    assert len(sent(env)) == 1
    later = NOW + timedelta(hours=4)
    mark(env, Outcome.ATTENDED, later)
    tick(env, later + timedelta(minutes=1))
    tick(env, later + timedelta(minutes=2))  # told once, not at every cycle
    mark(env, Outcome.LATE_CANCEL, later + timedelta(minutes=3))
    tick(env, later + timedelta(minutes=4) + HOLD)
    assert len(sent(env)) == 1  # one check-in about this miss, whatever the marks say
    with runtime_of(env.app).database.transaction() as db:
        notes = db.scalars(
            select(TherapistNotice.kind).where(
                TherapistNotice.kind == "mark_changed_after_follow_up"
            )
        ).all()
        corrections = db.scalars(
            select(FollowUpAction.outcome).where(FollowUpAction.kind == "note_correction")
        ).all()
    assert len(notes) == 2 and sorted(corrections) == ["attended", "late_cancel"]


def test_correcting_an_earlier_session_never_brings_a_second_checkin(
    sandboxed_app: Any, connect: Callable[..., int]
) -> None:
    env = sandboxed_app
    connected_at = NOW - timedelta(days=20)
    env.sandbox.control("POST", "clock", {"now": connected_at.isoformat()})
    env.app.config["PUSH_NOTIFICATIONS"] = "off"
    env.therapist_id = connect(THERAPIST, connected_at, scopes=SCOPES, with_calendars=True)
    events = {}
    for day, colour in ((10, None), (19, "11")):  # 10 March attended, 19th a no-show (Tomato)
        events[day] = env.sandbox.control(
            "POST",
            f"calendar/{THERAPIST}/events",
            {
                "summary": "Sam R",
                "start": {"dateTime": f"2026-03-{day}T10:00:00", "timeZone": "Europe/London"},
                "end": {"dateTime": f"2026-03-{day}T10:50:00", "timeZone": "Europe/London"},
                "attendees": [{"email": PATIENT}],
                **({"colorId": colour} if colour else {}),
            },
        )["id"]
    env.event_id = events[10]
    mark(env, Outcome.ATTENDED, datetime(2026, 3, 10, 11, tzinfo=UTC))
    tick(env, NOW)
    tick(env, NOW + HOLD)
    assert len(sent(env)) == 1  # the 19th's first check-in
    # the therapist corrects 10 March: it was a no-show too, so the 19th is now the 2nd miss
    env.event_id = events[10]
    mark(env, Outcome.NO_SHOW, NOW + timedelta(hours=3))
    tick(env, NOW + timedelta(hours=3, minutes=1))
    tick(env, NOW + timedelta(hours=6))
    # the 19th's conversation stays one email; the 10th is too old to write about by itself
    assert len(sent(env)) == 1
