"""From synced sessions to decisions: marks, the unmarked convention, the dry run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.domain.marks import MarkSource
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.services.followup.marks import record_mark
from calendar_sync.services.followup.run import follow_up_therapist
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.sync.event_sync import sync_all
from calendar_sync.storage.models import CalendarEventRow, Patient

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=2)
THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    return sandboxed_app


def session_event(env: Any, start: str, end: str, **extra: Any) -> dict[str, Any]:
    body = {
        "summary": "Sam R",
        "start": {"dateTime": start, "timeZone": "Europe/London"},
        "end": {"dateTime": end, "timeZone": "Europe/London"},
        "attendees": [{"email": PATIENT}],
        **extra,
    }
    event: dict[str, Any] = env.sandbox.control("POST", f"calendar/{THERAPIST}/events", body)
    return event


def connected(env: Any, connect: Callable[..., int]) -> int:
    return connect(THERAPIST, CONNECTED, with_calendars=True)


def sync(env: Any, now: datetime) -> None:
    env.sandbox.control("POST", "clock", {"now": now.isoformat()})
    sync_all(runtime_of(env.app), now=now, dry_run=False)


def test_unmarked_session_is_a_miss_after_the_hold_in_the_dry_run(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connected(env, connect)
    session_event(env, "2026-03-19T10:00:00", "2026-03-19T10:50:00")
    # history from before the connection is never acted on
    session_event(env, "2026-03-17T10:00:00", "2026-03-17T10:50:00", colorId="11")
    sync(env, NOW)

    # two hours after the end: only the reminder to mark is due
    early = datetime(2026, 3, 19, 13, 0, tzinfo=UTC)
    lines = follow_up_therapist(runtime_of(env.app), therapist_id, now=early, dry_run=True)
    assert len(lines) == 1
    assert "Thu 19 Mar 2026 10:00" in lines[0]
    assert "mark" in lines[0].lower()
    assert "check-in" not in lines[0].lower()

    # after the hold, nobody marked it: counted as a no-show, the check-in is due
    lines = follow_up_therapist(runtime_of(env.app), therapist_id, now=NOW, dry_run=True)
    assert len(lines) == 1
    assert "no-show" in lines[0].lower()
    assert "check-in" in lines[0].lower()
    # the dry run names the patient by an opaque key, never by name or address
    assert PATIENT not in lines[0] and "Sam" not in lines[0]


def test_a_mark_changes_the_decision(env: Any, connect: Callable[..., int]) -> None:
    therapist_id = connected(env, connect)
    event = session_event(env, "2026-03-19T10:00:00", "2026-03-19T10:50:00")
    sync(env, NOW)
    database = runtime_of(env.app).database
    with database.transaction() as db:
        record_mark(
            db,
            therapist_id=therapist_id,
            calendar_id=THERAPIST,
            event_id=event["id"],
            outcome=Outcome.ATTENDED,
            source=MarkSource.DASHBOARD,
            now=datetime(2026, 3, 19, 12, 0, tzinfo=UTC),
        )
    assert follow_up_therapist(runtime_of(env.app), therapist_id, now=NOW, dry_run=True) == []

    # a later mark in the calendar (Tomato) overrides the dashboard's
    env.sandbox.service(
        "calendar", "v3", THERAPIST, ["https://www.googleapis.com/auth/calendar.events"]
    ).events().patch(calendarId=THERAPIST, eventId=event["id"], body={"colorId": "11"}).execute()
    later = NOW + timedelta(minutes=30)  # past the polling interval: the next sync reads it
    sync(env, later)
    lines = follow_up_therapist(runtime_of(env.app), therapist_id, now=later, dry_run=True)
    assert len(lines) == 1 and "no-show" in lines[0].lower()


def test_opted_out_patient_gets_nothing_patient_facing(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connected(env, connect)
    session_event(env, "2026-03-19T10:00:00", "2026-03-19T10:50:00", colorId="11")
    sync(env, NOW)
    database = runtime_of(env.app).database
    with database.transaction() as db:
        db.add(
            Patient(
                therapist_id=therapist_id,
                name="Sam",
                email=PATIENT,
                do_not_email=True,
                fee_exempt=False,
                fee_exempt_reason="",
                created_at=NOW,
            )
        )
    # linking happens in a real cycle; the dry run reads what is linked
    with database.transaction() as db:
        from calendar_sync.services.patients.directory import link_patients

        link_patients(db, therapist_id, NOW)
        linked = db.scalars(select(CalendarEventRow.patient_id)).all()
    assert all(linked)
    lines = follow_up_therapist(runtime_of(env.app), therapist_id, now=NOW, dry_run=True)
    assert len(lines) == 1
    assert "check-in" not in lines[0].lower()
    assert "asked not to be emailed" in lines[0].lower() or "not email" in lines[0].lower()


def test_tick_dry_run_prints_decisions(env: Any, connect: Callable[..., int]) -> None:
    connected(env, connect)
    session_event(env, "2026-03-19T10:00:00", "2026-03-19T10:50:00", colorId="11")
    sync(env, NOW)
    result = env.app.test_cli_runner().invoke(args=["tick", "--dry-run", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert "dry run at 2026-03-20T12:00:00+00:00" in result.output
    assert "would act" in result.output and "check-in" in result.output.lower()
    # nothing was recorded or sent
    assert env.sandbox.control("GET", "mail") == {"messages": []}
