"""Work where it is due: a cycle runs only therapists whose moment came or whose data changed.

Calls are counted at the sandbox, so "nothing was asked of Google" is observed, not assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from calendar_sync.domain.marks import MarkSource
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.google.client import kept_clients
from calendar_sync.services.followup.marks import record_mark
from calendar_sync.services.outbox.dispatch import MessageStatus
from calendar_sync.services.outbox.review import messages
from calendar_sync.services.proposals.context import ProposalState
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.schedule import due_therapists
from calendar_sync.storage.models import CalendarEventRow, RescheduleProposal, TherapistSchedule

from .test_cycle import HOLD, NOW, PATIENT, THERAPIST, connected, env, missed_session, tick

__all__ = ["env"]  # the fixture, shared with the cycle tests


def calls(env: Any) -> dict[str, int]:
    found: dict[str, int] = env.sandbox.control("GET", "calls")["calls"]
    env.sandbox.control("DELETE", "calls")
    return found


def schedule_of(env: Any, therapist_id: int) -> TherapistSchedule:
    with runtime_of(env.app).database.transaction() as db:
        row = db.get(TherapistSchedule, therapist_id)
        assert row is not None
        db.expunge(row)
        return row


def test_a_quiet_therapist_is_left_alone_until_their_moment(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connected(env, connect)
    runtime = runtime_of(env.app)
    tick(env, NOW)
    # after the first run: the next poll is the earliest moment (push is off in ``env``)
    due_at = schedule_of(env, therapist_id).due_at
    assert due_at == NOW + timedelta(seconds=900)
    calls(env)
    for minutes in range(1, 15):
        assert due_therapists(runtime, NOW + timedelta(minutes=minutes)) == []
        assert tick(env, NOW + timedelta(minutes=minutes))[1:] == []
    assert calls(env) == {}
    # at its moment, it is run (and Google asked for changes once)
    assert due_therapists(runtime, due_at) == [therapist_id]
    tick(env, due_at)
    assert calls(env) == {"calendar.events.list": 1}


def test_a_mark_makes_the_therapist_due_at_once(env: Any, connect: Callable[..., int]) -> None:
    therapist_id = connected(env, connect)
    runtime = runtime_of(env.app)
    missed_session(env)
    tick(env, NOW)
    later = NOW + timedelta(minutes=3)
    assert due_therapists(runtime, later) == []
    with runtime.database.transaction() as db:
        (event_id,) = db.scalars(select(CalendarEventRow.event_id)).all()
        record_mark(
            db,
            therapist_id=therapist_id,
            calendar_id=THERAPIST,
            event_id=event_id,
            outcome=Outcome.ATTENDED,
            source=MarkSource.DASHBOARD,
            now=later,
        )
    assert due_therapists(runtime, later) == [therapist_id]
    lines = tick(env, later)
    # the held check-in is taken back by the run the mark caused
    assert any("the mark changed within the hold" in line for line in lines), lines
    assert due_therapists(runtime, later + timedelta(minutes=1)) == []


def test_an_open_offer_costs_nothing_until_its_calendar_changes(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connected(env, connect)
    missed_session(env)
    tick(env, NOW)
    tick(env, NOW + HOLD)
    with runtime_of(env.app).database.transaction() as db:
        (proposal,) = db.scalars(select(RescheduleProposal)).all()
        assert proposal.state == ProposalState.PROPOSED
    # the next poll reads our own invitation back: a change, so the offer is checked once
    for minutes in range(1, 16):
        tick(env, NOW + HOLD + timedelta(minutes=minutes))
    assert calls(env).get("calendar.events.get") == 1
    # then an hour of cycles, a minute apart: only the polls (and a token) ask Google anything
    for minutes in range(16, 76):
        tick(env, NOW + HOLD + timedelta(minutes=minutes))
    quiet = calls(env)
    assert quiet.pop("calendar.events.list") == 4 and quiet.pop("oauth.token", 0) <= 1, quiet
    assert quiet == {}, "no events.get, no free/busy"
    # a change in the calendar (read by the next poll) has the offer checked again
    env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Lunch",
            "start": {"dateTime": "2026-03-25T12:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-25T13:00:00", "timeZone": "Europe/London"},
        },
    )
    for minutes in range(76, 91):
        tick(env, NOW + HOLD + timedelta(minutes=minutes))
    checked = calls(env)
    assert checked.get("calendar.events.get") == 1, checked
    assert schedule_of(env, therapist_id).changes == schedule_of(env, therapist_id).handled


def test_with_push_healthy_the_calendar_is_read_only_as_a_safety_net(
    env: Any, connect: Callable[..., int]
) -> None:
    env.app.config["PUSH_NOTIFICATIONS"] = "on"
    env.app.config["PUSH_POLL_INTERVAL_SECONDS"] = "21600"
    connected(env, connect)
    tick(env, NOW)
    first = calls(env)
    assert first.get("calendar.events.watch") == 1, first
    built = kept_clients()
    for minutes in range(1, 6 * 60):
        tick(env, NOW + timedelta(minutes=minutes))
    assert calls(env) == {}
    tick(env, NOW + timedelta(hours=6))
    # the safety net: the calendar and the list, with one token refresh for both
    assert calls(env) == {
        "calendar.events.list": 1,
        "calendar.calendarList.list": 1,
        "oauth.token": 1,
    }
    # the clients built at the first run were used again
    assert kept_clients() == built


def test_a_session_still_ahead_is_followed_up_at_its_moments(
    env: Any, connect: Callable[..., int]
) -> None:
    """Unmarked, it counts as missed when the hold ends: the run comes back for it."""
    connected(env, connect)
    start = NOW + timedelta(hours=1)
    env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Sam R",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
            "attendees": [{"email": PATIENT}],
        },
    )
    tick(env, NOW)
    end = start + timedelta(minutes=50)
    # the reminder to mark, two hours after the end
    lines = tick(env, end + timedelta(hours=2, minutes=1))
    assert any("remind" in line for line in lines), lines
    # and the check-in, held, once the unmarked hold (20 hours) is over
    tick(env, end + timedelta(hours=20, minutes=1))
    with runtime_of(env.app).database.transaction() as db:
        held = [m for m in messages(db, 1, (MessageStatus.PENDING,)) if m.recipient == PATIENT]
    assert len(held) == 1
