"""Reschedule proposals end to end: the real client, the sandbox, the app's database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from calendar_sync.domain.decisions import idempotency_key
from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD, ActionKind
from calendar_sync.domain.sessions import Session as DomainSession
from calendar_sync.google.event_writes import insert_event
from calendar_sync.google.events import parse_event
from calendar_sync.services.notices import notices_for
from calendar_sync.services.proposals import workflow as proposals
from calendar_sync.services.proposals.context import ProposalState
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.sync.event_sync import sync_calendar
from calendar_sync.storage.models import CalendarRow, CreatedEvent, RescheduleProposal

from ..conftest import Sleeps

THERAPIST = "dr.lee@example.test"
PATIENT = "sam.river@example.test"
LONDON = ZoneInfo("Europe/London")
MISSED_START = datetime(2031, 6, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in London
NOW = datetime(2031, 6, 2, 12, 0, tzinfo=UTC)
# The first therapist connected in each test has id 1.
KEY = idempotency_key(1, THERAPIST, "missed0001", ActionKind.PROPOSE_RESCHEDULE)


def control(env: Any, method: str, path: str, body: Any = None) -> Any:
    return env.sandbox.control(method, path, body)


def seed(env: Any, event_id: str, start: datetime, minutes: int = 50, **extra: Any) -> None:
    body = {
        "id": event_id,
        "summary": extra.pop("summary", "Sam"),
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat()},
        **extra,
    }
    control(env, "POST", f"calendar/{THERAPIST}/events", body)


def sync(env: Any, therapist_id: int, now: datetime) -> None:
    app = env.app
    database = runtime_of(app).database
    from calendar_sync.services.sync.calendar_list import refresh_calendar_list

    keeper = runtime_of(app).connections
    apis = keeper.apis(therapist_id, now)
    refresh_calendar_list(database, apis, therapist_id, keeper.granted_scopes(therapist_id), now)
    with database.transaction() as db:
        ids = list(db.scalars(select(CalendarRow.id).where(CalendarRow.selected.is_(True))))
    for calendar_id in ids:
        sync_calendar(database, apis, calendar_id, now)


def rows(env: Any) -> list[RescheduleProposal]:
    with runtime_of(env.app).database.transaction() as db:
        return list(db.scalars(select(RescheduleProposal).order_by(RescheduleProposal.id)))


def our_events(env: Any) -> list[dict[str, Any]]:
    calendar = env.sandbox.state.calendar.find(THERAPIST)
    return [
        e
        for e in calendar.events.values()
        if (e.get("extendedProperties") or {}).get("private", {}).get("calendarSyncPurpose")
    ]


def invitations(env: Any) -> list[dict[str, Any]]:
    return list(control(env, "GET", f"calendar/invitations?email={PATIENT}")["messages"])


@pytest.fixture
def planned(sandboxed_app: Any, connect: Any) -> tuple[Any, int, int]:
    control(sandboxed_app, "POST", "clock", {"now": NOW.isoformat()})
    therapist_id = connect(THERAPIST, NOW)
    seed(sandboxed_app, "missed0001", MISSED_START, attendees=[{"email": PATIENT}])
    sync(sandboxed_app, therapist_id, NOW)
    missed = DomainSession(
        event_id="missed0001",
        calendar_id=THERAPIST,
        patient_key=PATIENT,
        start=MISSED_START,
        end=MISSED_START + timedelta(minutes=50),
        time_zone=LONDON,
    )
    with runtime_of(sandboxed_app.app).database.transaction() as db:
        proposal_id = proposals.plan_proposal(
            db,
            therapist_id=therapist_id,
            session=missed,
            patient_email=PATIENT,
            key=KEY,
            now=NOW,
            release_at=NOW,
        )
        again = proposals.plan_proposal(
            db,
            therapist_id=therapist_id,
            session=missed,
            patient_email=PATIENT,
            key=KEY,
            now=NOW,
            release_at=NOW,
        )
    assert proposal_id is not None and again is None
    return sandboxed_app, therapist_id, proposal_id


def advance(env: Any, therapist_id: int, now: datetime, sleeps: Sleeps | None = None) -> list[str]:
    return proposals.advance_proposals(
        runtime_of(env.app), therapist_id, now, sleep=sleeps if sleeps is not None else Sleeps()
    )


def test_a_miss_gets_one_invitation_at_a_free_time_in_working_hours(
    planned: tuple[Any, int, int],
) -> None:
    env, therapist_id, _ = planned
    seed(env, "b00000001", datetime(2031, 6, 9, 9, 0, tzinfo=UTC))  # next Monday 10:00 taken
    lines = advance(env, therapist_id, NOW)
    # the time is chosen, then placed at once: nothing holds this one
    assert len(lines) == 2 and "chosen" in lines[0] and "offered" in lines[1]
    assert not [line for line in lines if PATIENT in line or "Sam" in line]
    (row,) = rows(env)
    assert row.state == ProposalState.PROPOSED
    assert row.slot_start is not None and row.slot_end is not None
    local = row.slot_start.astimezone(LONDON)
    assert local.weekday() < 5 and local.hour >= 9 and row.slot_end.astimezone(LONDON).hour < 17
    assert row.slot_start >= NOW + timedelta(hours=24)
    assert row.slot_end - row.slot_start == timedelta(minutes=50)
    # The taken Monday 10:00 (and its buffer) is avoided; 10:00 on another day is preferred.
    assert local.time().hour == 10 and local.date() != date(2031, 6, 9)
    (event,) = our_events(env)
    assert event["id"] == row.event_id
    assert [a["email"] for a in event["attendees"]] == [PATIENT]
    assert "Proposed new time" in event["summary"]
    assert "accept" in event["description"] and "decline" in event["description"]
    for word in ("therapy", "treatment", "missed", "session"):
        assert word not in (event["summary"] + event["description"]).lower()
    assert [m["kind"] for m in invitations(env)] == ["invitation"]
    with runtime_of(env.app).database.transaction() as db:
        created = db.scalars(select(CreatedEvent.event_id)).all()
    assert created == [row.event_id]
    # Nothing changes on a second and a third run.
    assert advance(env, therapist_id, NOW) == []
    assert advance(env, therapist_id, NOW + timedelta(minutes=5)) == []
    assert len(our_events(env)) == 1 and len(invitations(env)) == 1
    assert rows(env)[0].state == ProposalState.PROPOSED


def test_accepting_makes_it_accepted(planned: tuple[Any, int, int]) -> None:
    env, therapist_id, _ = planned
    advance(env, therapist_id, NOW)
    (row,) = rows(env)
    control(
        env,
        "POST",
        f"calendar/{THERAPIST}/events/{row.event_id}/respond",
        {"email": PATIENT, "response": "accepted"},
    )
    later = NOW + timedelta(hours=1)
    sync(env, therapist_id, later)
    lines = advance(env, therapist_id, later)
    assert lines and "accepted" in lines[0]
    assert rows(env)[0].state == ProposalState.ACCEPTED
    assert advance(env, therapist_id, later) == []
    with runtime_of(env.app).database.transaction() as db:
        kinds = [n.kind for n in notices_for(db, therapist_id)]
    assert kinds == ["proposal_accepted"]


def test_declines_move_to_the_next_time_up_to_the_maximum(planned: tuple[Any, int, int]) -> None:
    env, therapist_id, _ = planned
    now = NOW
    advance(env, therapist_id, now)
    seen: list[datetime] = []
    for attempt in (1, 2, 3):
        current = rows(env)[-1]
        assert current.attempt == attempt and current.state == ProposalState.PROPOSED
        assert current.slot_start is not None and current.slot_start not in seen
        seen.append(current.slot_start)
        control(
            env,
            "POST",
            f"calendar/{THERAPIST}/events/{current.event_id}/respond",
            {"email": PATIENT, "response": "declined"},
        )
        now += timedelta(hours=1)
        sync(env, therapist_id, now)
        advance(env, therapist_id, now)
        if attempt < 3:
            # the next time offered is another invitation: it waits out the hold, visible
            assert rows(env)[-1].state == ProposalState.PLANNED
            now += DEFAULT_PATIENT_HOLD
            advance(env, therapist_id, now)
    states = [r.state for r in rows(env)]
    assert states == [ProposalState.DECLINED, ProposalState.DECLINED, ProposalState.EXHAUSTED]
    assert len({r.event_id for r in rows(env)}) == 3
    live = [e for e in our_events(env) if e.get("status") != "cancelled"]
    assert live == []  # declined offers are removed, freeing the time
    assert [m["kind"] for m in invitations(env)] == ["invitation"] * 3
    with runtime_of(env.app).database.transaction() as db:
        texts = [n.text for n in notices_for(db, therapist_id)]
    assert len(texts) == 1 and "declined" in texts[0] and PATIENT not in texts[0]
    assert advance(env, therapist_id, now + timedelta(hours=1)) == []


def test_silence_past_the_deadline_cancels_and_tells_the_therapist(
    planned: tuple[Any, int, int],
) -> None:
    env, therapist_id, _ = planned
    advance(env, therapist_id, NOW)
    (row,) = rows(env)
    assert row.answer_deadline is not None
    assert row.answer_deadline <= NOW + timedelta(hours=48)
    late = row.answer_deadline + timedelta(minutes=1)
    control(env, "POST", "clock", {"now": late.isoformat()})
    sync(env, therapist_id, late)
    lines = advance(env, therapist_id, late)
    assert lines and "withdrawn" in lines[0]
    assert rows(env)[0].state == ProposalState.EXPIRED
    assert [m["kind"] for m in invitations(env)] == ["invitation", "cancellation"]
    with runtime_of(env.app).database.transaction() as db:
        (notice,) = notices_for(db, therapist_id)
    assert notice.kind == "proposal_expired" and "Sam" not in notice.text
    assert advance(env, therapist_id, late + timedelta(hours=1)) == []
    assert [m["kind"] for m in invitations(env)] == ["invitation", "cancellation"]


def test_a_time_taken_meanwhile_is_moved_never_double_booked(
    planned: tuple[Any, int, int],
) -> None:
    env, therapist_id, _ = planned
    advance(env, therapist_id, NOW)
    (row,) = rows(env)
    assert row.slot_start is not None
    seed(env, "intruder01", row.slot_start, minutes=30, summary="Dentist")
    later = NOW + timedelta(minutes=30)
    lines = advance(env, therapist_id, later)
    assert lines and "moved" in lines[0]
    (moved,) = rows(env)
    assert moved.state == ProposalState.PROPOSED and moved.slot_start != row.slot_start
    assert moved.slot_start is not None and moved.slot_end is not None
    intruder_end = row.slot_start + timedelta(minutes=30)
    assert not (
        moved.slot_start < intruder_end + timedelta(minutes=15)
        and row.slot_start - timedelta(minutes=15) < moved.slot_end
    )
    (event,) = our_events(env)
    assert parse_event(event, "Europe/London").start == moved.slot_start
    assert [m["kind"] for m in invitations(env)] == ["invitation", "update"]
    assert advance(env, therapist_id, later) == []


def test_calendar_errors_on_insert_are_retried_and_still_one_event(
    planned: tuple[Any, int, int],
) -> None:
    env, therapist_id, _ = planned
    control(env, "POST", "faults", {"method": "calendar.events.insert", "status": 500})
    control(env, "POST", "faults", {"method": "calendar.events.insert", "status": 503})
    sleeps = Sleeps()
    advance(env, therapist_id, NOW, sleeps)
    assert len(sleeps) == 2
    assert rows(env)[0].state == ProposalState.PROPOSED
    assert len(our_events(env)) == 1 and len(invitations(env)) == 1


def test_a_lost_answer_and_a_crash_never_make_a_second_event(
    planned: tuple[Any, int, int],
) -> None:
    env, therapist_id, _ = planned
    (row,) = rows(env)
    # An earlier run's insert landed, then the process died before recording it.
    apis = runtime_of(env.app).connections.apis(therapist_id, NOW)
    landed = datetime(2031, 6, 4, 12, 0, tzinfo=UTC)
    insert_event(
        apis,
        THERAPIST,
        row.event_id,
        landed,
        landed + timedelta(minutes=50),
        "Europe/London",
        "Proposed new time",
        "Accept or decline.",
        PATIENT,
    )
    # This run's answer is lost once too: the retry meets our own event (409) and adopts it.
    control(
        env,
        "POST",
        "faults",
        {"method": "calendar.events.insert", "timeout": 0, "after_processing": True},
    )
    advance(env, therapist_id, NOW)
    (row,) = rows(env)
    assert row.state == ProposalState.PROPOSED and row.slot_start == landed
    assert len(our_events(env)) == 1 and len(invitations(env)) == 1
    assert advance(env, therapist_id, NOW) == []
    assert len(our_events(env)) == 1 and len(invitations(env)) == 1


def test_no_offer_when_the_patient_already_has_a_session_soon(
    sandboxed_app: Any, connect: Any
) -> None:
    control(sandboxed_app, "POST", "clock", {"now": NOW.isoformat()})
    therapist_id = connect(THERAPIST, NOW)
    seed(sandboxed_app, "missed0002", MISSED_START, attendees=[{"email": PATIENT}])
    seed(sandboxed_app, "n00000001", NOW + timedelta(days=3), attendees=[{"email": PATIENT}])
    sync(sandboxed_app, therapist_id, NOW)
    missed = DomainSession(
        event_id="missed0002",
        calendar_id=THERAPIST,
        patient_key=PATIENT,
        start=MISSED_START,
        end=MISSED_START + timedelta(minutes=50),
        time_zone=LONDON,
    )
    with runtime_of(sandboxed_app.app).database.transaction() as db:
        assert (
            proposals.plan_proposal(
                db,
                therapist_id=therapist_id,
                session=missed,
                patient_email=PATIENT,
                key="k",
                now=NOW,
                release_at=NOW,
            )
            is None
        )
    assert rows(sandboxed_app) == []


def respond(env: Any, event_id: str, response: str) -> None:
    control(
        env,
        "POST",
        f"calendar/{THERAPIST}/events/{event_id}/respond",
        {"email": PATIENT, "response": response},
    )


def live(env: Any) -> list[str]:
    return [e["id"] for e in our_events(env) if e.get("status") != "cancelled"]


@pytest.mark.parametrize("accepted_on", ["calendar", "page"])
def test_a_time_declined_after_accepting_is_followed_like_any_decline(
    planned: tuple[Any, int, int], accepted_on: str
) -> None:
    env, therapist_id, _ = planned
    runtime = runtime_of(env.app)
    advance(env, therapist_id, NOW)
    (first,) = rows(env)
    now = NOW + timedelta(hours=1)
    if accepted_on == "calendar":
        respond(env, first.event_id, "accepted")
        sync(env, therapist_id, now)
        advance(env, therapist_id, now)
    else:
        choices = proposals.times_to_choose(runtime, therapist_id, THERAPIST, "missed0001", now)
        assert proposals.choose_time(
            runtime, therapist_id, THERAPIST, "missed0001", choices[0], now, sleep=Sleeps()
        )
    (accepted,) = rows(env)
    assert accepted.state == ProposalState.ACCEPTED
    # Days later, the patient says No to it in their calendar.
    now += timedelta(days=1)
    respond(env, accepted.event_id, "declined")
    sync(env, therapist_id, now)
    lines = advance(env, therapist_id, now)
    assert "declined after being accepted; offering another time" in lines[0], lines
    declined, second = rows(env)
    assert declined.state == ProposalState.DECLINED
    # the next time is another invitation: it waits out the hold like any other
    assert second.attempt == 2 and second.state == ProposalState.PLANNED
    now += DEFAULT_PATIENT_HOLD
    advance(env, therapist_id, now)
    declined, second = rows(env)
    assert second.state == ProposalState.PROPOSED
    assert second.slot_start not in (None, accepted.slot_start)
    assert live(env) == [second.event_id]  # the declined time is free again
    # the removal is quiet (they said no); the next time is a new invitation
    assert [m["kind"] for m in invitations(env)][-1] == "invitation"
    assert "cancellation" not in [m["kind"] for m in invitations(env)]
    with runtime_of(env.app).database.transaction() as db:
        notice = notices_for(db, therapist_id)[0]
    assert notice.kind == "proposal_declined_after_accepting"
    assert "accepted, then declined" in notice.text and PATIENT not in notice.text
    assert advance(env, therapist_id, now + timedelta(minutes=5)) == []


def test_a_no_in_the_calendar_then_a_time_picked_on_the_page_keeps_the_pick(
    planned: tuple[Any, int, int],
) -> None:
    env, therapist_id, _ = planned
    runtime = runtime_of(env.app)
    advance(env, therapist_id, NOW)
    (first,) = rows(env)
    # The patient presses No, then follows the link in the invitation before the next cycle.
    respond(env, first.event_id, "declined")
    now = NOW + timedelta(minutes=10)
    sync(env, therapist_id, now)
    choices = proposals.times_to_choose(runtime, therapist_id, THERAPIST, "missed0001", now)
    picked = choices[0]
    assert proposals.choose_time(
        runtime, therapist_id, THERAPIST, "missed0001", picked, now, sleep=Sleeps()
    )
    declined, chosen = rows(env)
    assert declined.state == ProposalState.DECLINED
    assert chosen.state == ProposalState.ACCEPTED and chosen.slot_start == picked.start
    # The picked time has an invitation of its own: the earlier No does not stick to it.
    assert live(env) == [chosen.event_id]
    assert [m["kind"] for m in invitations(env)] == ["invitation", "invitation"]
    later = now + timedelta(minutes=20)
    sync(env, therapist_id, later)
    assert advance(env, therapist_id, later) == []
    assert rows(env)[-1].state == ProposalState.ACCEPTED and live(env) == [chosen.event_id]
