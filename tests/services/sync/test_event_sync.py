"""Sync against the Google sandbox over real HTTP, with the real client library."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from calendar_sync.domain.sessions import SessionRules
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.oauth import CALENDAR_EVENTS, EMAIL, OPENID
from calendar_sync.services.accounts.settings import save_session_rules
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.patients.directory import add_patient
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.sync import calendar_list as calendar_service
from calendar_sync.services.sync.event_store import as_session, record_created_event
from calendar_sync.services.sync.event_sync import sync_all, sync_calendar
from calendar_sync.storage.models import CalendarEventRow, CalendarRow, GoogleConnection

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"


@pytest.fixture
def database_url(any_database_url: str) -> str:
    """Sync runs on SQLite and on Postgres."""
    return any_database_url


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.control("POST", "clock", {"now": NOW.isoformat()})
    # These tests count Google calls: no channels, so no notification-driven syncs.
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    return sandboxed_app


def seed(env: Any, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = env.sandbox.control("POST", f"calendar/{calendar_id}/events", body)
    return event


def therapist_api(env: Any, email: str = THERAPIST) -> Any:
    return env.sandbox.service("calendar", "v3", email, [CALENDAR_EVENTS])


def setup_calendar(
    env: Any, connect: Callable[..., int], email: str = THERAPIST
) -> tuple[int, int]:
    therapist_id = connect(email, NOW)
    database = runtime_of(env.app).database
    apis = runtime_of(env.app).connections.apis(therapist_id, NOW)
    calendar_service.refresh_calendar_list(
        database,
        apis,
        therapist_id,
        runtime_of(env.app).connections.granted_scopes(therapist_id),
        NOW,
    )
    with database.transaction() as db:
        calendar_id = db.scalars(
            select(CalendarRow.id).where(CalendarRow.therapist_id == therapist_id)
        ).one()
    return therapist_id, calendar_id


def weekly_series(env: Any) -> dict[str, Any]:
    return seed(
        env,
        THERAPIST,
        {
            "summary": "SP weekly",
            "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-16T09:50:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
            "attendees": [{"email": PATIENT}],
        },
    )


def rows(env: Any, calendar_id: int) -> list[CalendarEventRow]:
    with runtime_of(env.app).database.transaction() as db:
        return list(
            db.scalars(
                select(CalendarEventRow)
                .where(CalendarEventRow.calendar_row_id == calendar_id)
                .order_by(CalendarEventRow.original_start, CalendarEventRow.event_id)
            )
        )


def calls(env: Any, method: str = "calendar.events.list") -> int:
    return int(env.sandbox.control("GET", "calls")["calls"].get(method, 0))


def apis_for(env: Any, therapist_id: int) -> GoogleApis:
    apis: GoogleApis = runtime_of(env.app).connections.apis(therapist_id, NOW)
    return apis


def test_weekly_series_with_moved_and_cancelled_instances_across_dst(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id, calendar_id = setup_calendar(env, connect)
    weekly_series(env)
    database = runtime_of(env.app).database
    apis = apis_for(env, therapist_id)

    first = sync_calendar(database, apis, calendar_id, NOW)

    assert first.full and first.upserted == 4
    stored = rows(env, calendar_id)
    # 16 and 23 March are GMT, 30 March and 6 April BST: 09:00 in London every week.
    assert [r.start.astimezone(LONDON).strftime("%d %H:%M") for r in stored if r.start] == [
        "16 09:00",
        "23 09:00",
        "30 09:00",
        "06 09:00",
    ]
    assert [r.start.utcoffset() for r in stored if r.start] == [timedelta(0)] * 4
    assert stored[2].start == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert all(r.is_session and r.patient_email == PATIENT for r in stored)

    api = therapist_api(env)
    moved, cancelled = stored[1], stored[3]
    api.events().patch(
        calendarId=THERAPIST,
        eventId=moved.event_id,
        body={
            "start": {"dateTime": "2026-03-23T11:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-23T11:50:00", "timeZone": "Europe/London"},
        },
    ).execute()
    api.events().delete(calendarId=THERAPIST, eventId=cancelled.event_id).execute()
    later = NOW + timedelta(minutes=20)

    second = sync_calendar(database, apis, calendar_id, later)

    assert not second.full
    assert second.cancelled == 1
    after = {r.event_id: r for r in rows(env, calendar_id)}
    assert len(after) == 4
    assert after[moved.event_id].start is not None
    assert after[moved.event_id].start.astimezone(LONDON).hour == 11
    assert after[moved.event_id].recurring_event_id == moved.recurring_event_id
    assert after[cancelled.event_id].cancelled_at == later
    assert after[cancelled.event_id].status == "cancelled"
    untouched = [
        r for r in after.values() if r.event_id not in (moved.event_id, cancelled.event_id)
    ]
    assert all(r.cancelled_at is None for r in untouched)


def test_expired_sync_token_resyncs_in_full_without_duplicates(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id, calendar_id = setup_calendar(env, connect)
    weekly_series(env)
    single = seed(
        env,
        THERAPIST,
        {
            "summary": "JD",
            "start": {"dateTime": "2026-03-25T14:00:00Z"},
            "end": {"dateTime": "2026-03-25T14:50:00Z"},
            "attendees": [{"email": "jo.patient@example.test"}],
        },
    )
    database = runtime_of(env.app).database
    apis = apis_for(env, therapist_id)
    sync_calendar(database, apis, calendar_id, NOW)
    therapist_api(env).events().delete(calendarId=THERAPIST, eventId=single["id"]).execute()
    env.sandbox.control("POST", f"calendar/{THERAPIST}/invalidate-sync-tokens", {})
    env.sandbox.control("DELETE", "calls")

    result = sync_calendar(database, apis, calendar_id, NOW + timedelta(hours=1))

    assert result.token_expired and result.full
    # One refused incremental call, one full listing.
    assert calls(env) == 2
    stored = rows(env, calendar_id)
    assert len(stored) == 5
    with database.transaction() as db:
        duplicates = db.scalar(
            select(func.count()).select_from(
                select(CalendarEventRow.event_id)
                .group_by(CalendarEventRow.calendar_row_id, CalendarEventRow.event_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None
        assert calendar.sync_token is not None
        assert calendar.last_full_sync_at == NOW + timedelta(hours=1)
    assert duplicates == 0
    gone = [r for r in stored if r.event_id == single["id"]]
    assert gone[0].cancelled_at == NOW + timedelta(hours=1)


def test_without_a_sync_token_every_sync_lists_the_window(
    env: Any, connect: Callable[..., int]
) -> None:
    """A server that sends no nextSyncToken leaves none stored: the window is listed again."""
    therapist_id, calendar_id = setup_calendar(env, connect)
    weekly_series(env)
    database = runtime_of(env.app).database
    apis = apis_for(env, therapist_id)
    sync_calendar(database, apis, calendar_id, NOW)
    with database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None
        calendar.sync_token = None

    again = sync_calendar(database, apis, calendar_id, NOW + timedelta(minutes=15))

    assert again.full and again.upserted == 4 and again.error is None
    assert len(rows(env, calendar_id)) == 4


def test_injected_unavailability_is_waited_out(
    env: Any, connect: Callable[..., int], sleeps: Any
) -> None:
    therapist_id, calendar_id = setup_calendar(env, connect)
    weekly_series(env)
    env.sandbox.control(
        "POST", "faults", {"method": "calendar.events.list", "status": 503, "count": 2}
    )
    env.sandbox.control("DELETE", "calls")

    result = sync_calendar(
        runtime_of(env.app).database, apis_for(env, therapist_id), calendar_id, NOW, sleep=sleeps
    )

    assert result.upserted == 4
    assert calls(env) == 3
    assert len(sleeps) == 2


def test_one_therapists_failure_does_not_stop_another(
    env: Any, connect: Callable[..., int], sleeps: Any
) -> None:
    lost_id, _ = setup_calendar(env, connect, "dr.gone@example.test")
    kept_id, kept_calendar = setup_calendar(env, connect)
    weekly_series(env)
    env.sandbox.control("POST", "grants/revoke", {"email": "dr.gone@example.test"})

    lines = sync_all(runtime_of(env.app), now=NOW, sleep=sleeps)

    assert f"therapist {lost_id}: paused until Google access is renewed" in lines
    assert len(rows(env, kept_calendar)) == 4
    with runtime_of(env.app).database.transaction() as db:
        statuses = dict(
            db.execute(select(GoogleConnection.therapist_id, GoogleConnection.status)).all()
        )
    assert statuses == {lost_id: "needs_reauth", kept_id: "active"}


def test_a_failing_calendar_records_plain_words_and_the_next_cycle_recovers(
    env: Any, connect: Callable[..., int], sleeps: Any
) -> None:
    _, calendar_id = setup_calendar(env, connect)
    env.sandbox.control(
        "POST", "faults", {"method": "calendar.events.list", "status": 403, "reason": "forbidden"}
    )

    lines = sync_all(runtime_of(env.app), now=NOW, sleep=sleeps)

    assert any("not synced" in line for line in lines)
    with runtime_of(env.app).database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None
        assert calendar.last_error == "Google refused access to this calendar."
        assert THERAPIST not in calendar.last_error
    sync_all(runtime_of(env.app), now=NOW + timedelta(minutes=16), sleep=sleeps)
    with runtime_of(env.app).database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None
        assert calendar.last_error is None and calendar.last_sync_at == NOW + timedelta(minutes=16)


def test_polling_syncs_only_what_is_due(env: Any, connect: Callable[..., int]) -> None:
    setup_calendar(env, connect)
    sync_all(runtime_of(env.app), now=NOW)
    env.sandbox.control("DELETE", "calls")

    sync_all(runtime_of(env.app), now=NOW + timedelta(minutes=5))
    assert calls(env) == 0
    sync_all(runtime_of(env.app), now=NOW + timedelta(minutes=15))
    assert calls(env) == 1


def test_dry_run_says_what_it_would_do_and_calls_nothing(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id, calendar_id = setup_calendar(env, connect)
    env.sandbox.control("DELETE", "calls")

    report = run_cycle(runtime_of(env.app), now=NOW, dry_run=True)

    assert f"therapist {therapist_id}: would sync calendar {calendar_id} (poll)" in report.lines()
    assert env.sandbox.control("GET", "calls")["calls"] == {}
    assert rows(env, calendar_id) == []


def test_calendar_list_selects_only_the_primary(env: Any, connect: Callable[..., int]) -> None:
    therapist_id = connect(THERAPIST, NOW)
    env.sandbox.control("POST", f"calendar/accounts/{THERAPIST}/calendars", {"summary": "Personal"})

    sync_all(runtime_of(env.app), now=NOW)

    statuses = calendar_service.calendar_statuses(runtime_of(env.app).database, therapist_id)
    assert [(s.summary, s.primary, s.selected) for s in statuses] == [
        (THERAPIST, True, True),
        ("Personal", False, False),
    ]
    assert statuses[0].last_sync_at == NOW and statuses[1].last_sync_at is None


def test_without_the_calendar_list_scope_only_the_primary_is_used(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connect(THERAPIST, NOW, scopes=[OPENID, EMAIL, CALENDAR_EVENTS])
    env.sandbox.control("POST", f"calendar/accounts/{THERAPIST}/calendars", {"summary": "Personal"})

    sync_all(runtime_of(env.app), now=NOW)

    statuses = calendar_service.calendar_statuses(runtime_of(env.app).database, therapist_id)
    assert [(s.primary, s.selected) for s in statuses] == [(True, True)]
    assert calls(env, "calendar.calendarList.list") == 0
    assert statuses[0].last_sync_at == NOW


def test_own_events_and_directory_patients_are_recognised(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id, calendar_id = setup_calendar(env, connect)
    database = runtime_of(env.app).database
    with database.transaction() as db:
        add_patient(db, therapist_id, "KT", "kt.patient@example.test", NOW)
        save_session_rules(
            db,
            therapist_id,
            SessionRules(title_pattern=r"\(T\)"),
        )
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None
        record_created_event(db, calendar, "proposal00001", "reschedule_proposal", NOW)
    seed(
        env,
        THERAPIST,
        {
            "summary": "KT (T) [no-show]",
            "start": {"dateTime": "2026-03-18T10:00:00Z"},
            "end": {"dateTime": "2026-03-18T10:50:00Z"},
            "colorId": "11",
        },
    )
    seed(
        env,
        THERAPIST,
        {
            "id": "proposal00001",
            "summary": "KT (T)",
            "start": {"dateTime": "2026-03-27T10:00:00Z"},
            "end": {"dateTime": "2026-03-27T10:50:00Z"},
        },
    )

    sync_calendar(database, apis_for(env, therapist_id), calendar_id, NOW)

    by_id = {r.event_id: r for r in rows(env, calendar_id)}
    own = by_id.pop("proposal00001")
    assert own.created_by_service and not own.is_session
    (session_row,) = by_id.values()
    assert session_row.is_session and not session_row.created_by_service
    assert session_row.patient_email == "kt.patient@example.test"
    with database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None
        domain = as_session(session_row, calendar, LONDON)
    assert domain.title_tags == frozenset({"no-show"})
    assert domain.color_id == "11" and domain.color_changed_at is not None


def test_unreadable_events_are_skipped_and_counted_never_failing_the_calendar(
    env: Any, connect: Callable[..., int], caplog: pytest.LogCaptureFixture
) -> None:
    therapist_id = connect(THERAPIST, NOW, with_calendars=True)
    seed(
        env,
        THERAPIST,
        {
            "summary": "Sam R",
            "start": {"dateTime": "2026-03-25T10:00:00Z"},
            "end": {"dateTime": "2026-03-25T10:50:00Z"},
            "attendees": [{"email": PATIENT}],
        },
    )
    bad = [
        {"summary": "Sam R, no id", "start": {"dateTime": "2026-03-26T10:00:00Z"}},
        {"id": "year1", "start": {"dateTime": "0001-01-01T00:00:00+01:00"}},
        {"id": "year9999", "end": {"dateTime": "9999-12-31T23:59:59-01:00"}},
        {"id": "leap", "start": {"dateTime": "2016-12-31T23:59:60Z"}},
        {"id": "org", "organizer": "Sam R <sam.patient@example.test>"},
        {"id": "allday", "start": {"date": "2026-03-27"}, "end": {"date": "2026-03-28"}},
    ]
    env.sandbox.control("POST", f"calendar/{THERAPIST}/raw-items", {"items": bad})

    lines = sync_all(runtime_of(env.app), now=NOW)
    # Every incremental sync gets them again, and goes through again.
    seed(
        env,
        THERAPIST,
        {
            "summary": "Sam R",
            "start": {"dateTime": "2026-03-30T10:00:00Z"},
            "end": {"dateTime": "2026-03-30T10:50:00Z"},
            "attendees": [{"email": PATIENT}],
        },
    )
    lines += sync_all(runtime_of(env.app), now=NOW + timedelta(minutes=20))

    full, incremental = [line for line in lines if "sync" in line]
    assert "full sync, 2 event(s) updated" in full and "5 skipped (unreadable)" in full
    assert "incremental sync" in incremental and "5 skipped" in incremental
    with runtime_of(env.app).database.transaction() as db:
        stored = db.scalars(select(CalendarEventRow.event_id)).all()
        (calendar,) = db.scalars(
            select(CalendarRow).where(CalendarRow.therapist_id == therapist_id)
        ).all()
    assert len(stored) == 3 and "allday" in stored
    assert calendar.last_error is None and calendar.sync_token is not None
    assert "id is missing" in caplog.text
    assert PATIENT not in caplog.text and "Sam R" not in caplog.text
