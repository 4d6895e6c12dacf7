"""Listings page by page: each page stored as it comes, an interrupted listing resumed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.google import GoogleApiError
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.followup.run import READING_PATIENCE, follow_up_therapist
from calendar_sync.services.outbox.dispatch import MessageStatus
from calendar_sync.services.outbox.review import messages
from calendar_sync.services.patients.directory import add_patient
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.sync import calendar_list as calendar_service
from calendar_sync.services.sync import event_sync
from calendar_sync.services.sync.event_sync import sync_all, sync_calendar
from calendar_sync.storage.models import CalendarEventRow, CalendarRow

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
THERAPIST = "dr.rivera@example.test"
LIST = "calendar.events.list"
PAGE = 7
# What a sync writes whatever it found: when it ran, and which listing returned the row.
_WHEN = {"id", "first_seen_at", "synced_at", "listed_at"}


@pytest.fixture
def database_url(any_database_url: str) -> str:
    """Sync runs on SQLite and on Postgres."""
    return any_database_url


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    # Events are changed an hour before the syncs: when a change happened is Google's word
    # for it, whichever sync sees it.
    sandboxed_app.sandbox.control("POST", "clock", {"now": (NOW - timedelta(hours=1)).isoformat()})
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    return sandboxed_app


def no_wait(_seconds: float) -> None:
    return None


def seed(env: Any, body: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = env.sandbox.control("POST", f"calendar/{THERAPIST}/events", body)
    return event


def calls(env: Any) -> int:
    return int(env.sandbox.control("GET", "calls")["calls"].get(LIST, 0))


def setup(env: Any, connect: Callable[..., int]) -> tuple[int, int, GoogleApis]:
    therapist_id = connect(THERAPIST, NOW)
    runtime = runtime_of(env.app)
    apis = runtime.connections.apis(therapist_id, NOW)
    calendar_service.refresh_calendar_list(
        runtime.database, apis, therapist_id, runtime.connections.granted_scopes(therapist_id), NOW
    )
    with runtime.database.transaction() as db:
        calendar_id = db.scalars(
            select(CalendarRow.id).where(CalendarRow.therapist_id == therapist_id)
        ).one()
        add_patient(db, therapist_id, "KT", "kt.patient@example.test", NOW)
    return therapist_id, calendar_id, apis


def practice(env: Any) -> list[str]:
    """A weekly series of 30 (one instance moved, one cancelled), and titled sessions.

    Returns the ids of the single events.
    """
    series = seed(
        env,
        {
            "summary": "SP weekly",
            "start": {"dateTime": "2026-01-05T09:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-01-05T09:50:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=30"],
            "attendees": [{"email": "sam.patient@example.test"}],
        },
    )
    api = env.sandbox.service("calendar", "v3", THERAPIST, [CALENDAR_EVENTS])
    instances = (
        api.events().instances(calendarId=THERAPIST, eventId=series["id"]).execute()["items"]
    )
    moved = instances[3]
    moved["start"] = {"dateTime": "2026-01-27T15:00:00Z"}
    moved["end"] = {"dateTime": "2026-01-27T15:50:00Z"}
    moved["colorId"] = "11"
    api.events().update(calendarId=THERAPIST, eventId=moved["id"], body=moved).execute()
    api.events().delete(calendarId=THERAPIST, eventId=instances[5]["id"]).execute()
    singles = []
    for day in range(1, 13):
        singles.append(
            seed(
                env,
                {
                    "summary": "KT [no-show]" if day % 4 == 0 else f"KT {day}",
                    "start": {"dateTime": f"2026-03-{day:02d}T14:00:00Z"},
                    "end": {"dateTime": f"2026-03-{day:02d}T14:50:00Z"},
                },
            )["id"]
        )
    return singles


def store(env: Any, calendar_id: int) -> dict[str, dict[str, Any]]:
    """The calendar's stored events by id, without what only says when a sync ran."""
    with runtime_of(env.app).database.transaction() as db:
        found = db.scalars(
            select(CalendarEventRow).where(CalendarEventRow.calendar_row_id == calendar_id)
        ).all()
        return {
            row.event_id: {
                column.key: getattr(row, column.key)
                for column in CalendarEventRow.__mapper__.column_attrs
                if column.key not in _WHEN
            }
            for row in found
        }


def calendar_row(env: Any, calendar_id: int) -> CalendarRow:
    with runtime_of(env.app).database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None
        db.expunge(calendar)
        return calendar


def fail_after(env: Any, pages: int) -> None:
    """The listing's calls fail (every retry) once ``pages`` pages were served."""
    env.sandbox.control(
        "POST", "faults", {"method": LIST, "status": 503, "count": 5, "skip": pages}
    )


def start_over(env: Any, calendar_id: int) -> None:
    """Forget everything synced, as if the calendar had just been selected."""
    with runtime_of(env.app).database.transaction() as db:
        db.execute(delete(CalendarEventRow).where(CalendarEventRow.calendar_row_id == calendar_id))
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None
        calendar.sync_token = None
        calendar.last_sync_at = None
        calendar.last_full_sync_at = None


def test_an_interrupted_first_sync_resumes_and_stores_what_one_uninterrupted_sync_stores(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id, calendar_id, apis = setup(env, connect)
    practice(env)
    database = runtime_of(env.app).database
    fail_after(env, 3)

    with pytest.raises(GoogleApiError):
        sync_calendar(database, apis, calendar_id, NOW, sleep=no_wait, page_size=PAGE)

    # Three pages are stored, and where the listing stands; the calendar is not synced yet.
    assert len(store(env, calendar_id)) == 3 * PAGE
    halfway = calendar_row(env, calendar_id)
    assert halfway.listing_page_token and halfway.listing_started_at == NOW
    assert halfway.last_sync_at is None and halfway.sync_token is None
    waits = [f"therapist {therapist_id}: follow-up waits until the calendar is read"]
    assert follow_up_therapist(runtime_of(env.app), therapist_id, now=NOW, dry_run=True) == waits
    # A calendar that keeps failing does not hold the therapist's follow-ups for ever.
    much_later = NOW + READING_PATIENCE + timedelta(minutes=1)
    assert (
        follow_up_therapist(runtime_of(env.app), therapist_id, now=much_later, dry_run=True)
        != waits
    )
    env.sandbox.control("DELETE", "faults")
    env.sandbox.control("DELETE", "calls")

    later = NOW + timedelta(minutes=1)
    resumed = sync_calendar(database, apis, calendar_id, later, page_size=PAGE)

    resumed_store = store(env, calendar_id)
    total = len(resumed_store)
    assert total == 29 + 12  # 30 instances less the cancelled one, and the singles
    # Only the pages not yet stored were asked for.
    assert calls(env) == -(-total // PAGE) - 3
    assert resumed.full and resumed.error is None and resumed.upserted == total - 3 * PAGE
    done = calendar_row(env, calendar_id)
    assert done.listing_page_token is None and done.listing_started_at is None
    assert done.sync_token is not None and done.last_full_sync_at == later

    start_over(env, calendar_id)
    sync_calendar(database, apis, calendar_id, later, page_size=PAGE)

    assert store(env, calendar_id) == resumed_store
    by_title = [row for row in resumed_store.values() if row["title"] == "KT 1"]
    assert by_title[0]["patient_email"] == "kt.patient@example.test"


def test_events_gone_meanwhile_are_cancelled_only_once_the_full_listing_is_in(
    env: Any, connect: Callable[..., int]
) -> None:
    _therapist_id, calendar_id, apis = setup(env, connect)
    singles = practice(env)
    database = runtime_of(env.app).database
    sync_calendar(database, apis, calendar_id, NOW, page_size=PAGE)
    api = env.sandbox.service("calendar", "v3", THERAPIST, [CALENDAR_EVENTS])
    for event_id in singles[:2]:
        api.events().delete(calendarId=THERAPIST, eventId=event_id).execute()
    env.sandbox.control("POST", f"calendar/{THERAPIST}/invalidate-sync-tokens", {})
    fail_after(env, 2)  # the refused token, then one page of the full listing
    later = NOW + timedelta(hours=1)

    with pytest.raises(GoogleApiError):
        sync_calendar(database, apis, calendar_id, later, sleep=no_wait, page_size=PAGE)

    assert not [row for row in store(env, calendar_id).values() if row["cancelled_at"]]
    env.sandbox.control("DELETE", "faults")

    result = sync_calendar(database, apis, calendar_id, later + timedelta(minutes=1))

    cancelled = {k for k, row in store(env, calendar_id).items() if row["cancelled_at"]}
    assert cancelled == set(singles[:2]) and result.cancelled == 2
    with database.transaction() as db:
        rows = db.scalar(
            select(func.count()).where(CalendarEventRow.calendar_row_id == calendar_id)
        )
    assert rows == 29 + 12


def test_a_page_token_google_no_longer_knows_starts_the_listing_again(
    env: Any, connect: Callable[..., int]
) -> None:
    _therapist_id, calendar_id, apis = setup(env, connect)
    practice(env)
    database = runtime_of(env.app).database
    fail_after(env, 1)
    with pytest.raises(GoogleApiError):
        sync_calendar(database, apis, calendar_id, NOW, sleep=no_wait, page_size=PAGE)
    env.sandbox.control("DELETE", "faults")
    with database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None
        calendar.listing_page_token = "expired-page-token"
    env.sandbox.control("DELETE", "calls")

    result = sync_calendar(database, apis, calendar_id, NOW + timedelta(minutes=1))

    assert result.error is None and result.full
    assert calls(env) == 2  # the refused page, then the whole listing in one page
    assert len(store(env, calendar_id)) == 29 + 12
    assert calendar_row(env, calendar_id).listing_page_token is None


def test_a_cycle_goes_on_with_a_listing_cut_short_whatever_the_poll_interval(
    env: Any, connect: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _therapist_id, calendar_id, apis = setup(env, connect)
    database = runtime_of(env.app).database
    sync_calendar(database, apis, calendar_id, NOW)
    practice(env)  # 41 changes since the token: six pages of changes
    monkeypatch.setattr(event_sync, "LISTING_PAGE_SIZE", PAGE)
    fail_after(env, 1)
    cut = NOW + timedelta(minutes=1)
    with pytest.raises(GoogleApiError):
        sync_calendar(database, apis, calendar_id, cut, sleep=no_wait, page_size=PAGE)
    assert calendar_row(env, calendar_id).listing_window_start is None  # changes, not a window
    env.sandbox.control("DELETE", "faults")

    # Well inside the poll interval: only the listing under way makes it due.
    lines = sync_all(runtime_of(env.app), now=cut + timedelta(minutes=1))

    assert any("incremental sync" in line for line in lines), lines
    assert len(store(env, calendar_id)) == 29 + 12
    assert calendar_row(env, calendar_id).listing_started_at is None


@pytest.mark.parametrize("interrupted", [False, True])
def test_what_a_patient_receives_does_not_depend_on_an_interrupted_first_sync(
    sandboxed_app: Any,
    connect: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
    interrupted: bool,
) -> None:
    """A miss on page one, other sessions after it: one check-in and one new time, either way.

    Cut short after its first page, the first sync is finished by the next cycle, and the
    follow-up decides only then: the same email, one cycle later.
    """
    env = sandboxed_app
    connected = NOW - timedelta(days=2)
    env.sandbox.control("POST", "clock", {"now": connected.isoformat()})
    env.app.config["PUSH_NOTIFICATIONS"] = "off"
    monkeypatch.setattr(event_sync, "LISTING_PAGE_SIZE", 3)
    patient = "sam.patient@example.test"
    therapist_id = connect(
        THERAPIST,
        connected,
        scopes=[OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND],
        with_calendars=True,
    )
    seed(
        env,
        {
            "summary": "Sam R",
            "start": {"dateTime": "2026-03-19T10:00:00Z"},
            "end": {"dateTime": "2026-03-19T10:50:00Z"},
            "colorId": "11",
            "attendees": [{"email": patient}],
        },
    )
    for day in range(21, 31):
        seed(
            env,
            {
                "summary": "Sam R",
                "start": {"dateTime": f"2026-04-{day:02d}T10:00:00Z"},
                "end": {"dateTime": f"2026-04-{day:02d}T10:50:00Z"},
                "attendees": [{"email": patient}],
            },
        )
    runtime = runtime_of(env.app)

    def tick(now: datetime) -> list[str]:
        env.sandbox.control("POST", "clock", {"now": now.isoformat()})
        return run_cycle(runtime, now=now, dry_run=False).lines()

    if interrupted:
        # Refused outright (no retries) once the first page was served.
        env.sandbox.control(
            "POST", "faults", {"method": LIST, "status": 403, "reason": "forbidden", "skip": 1}
        )
        lines = tick(NOW)
        assert f"therapist {therapist_id}: follow-up waits until the calendar is read" in lines
        with runtime.database.transaction() as db:
            assert messages(db, therapist_id, (MessageStatus.PENDING,)) == []
    decided = NOW + timedelta(minutes=1) if interrupted else NOW
    tick(decided)
    with runtime.database.transaction() as db:
        (held,) = messages(db, therapist_id, (MessageStatus.PENDING,))
    assert held.recipient == patient and held.not_before == decided + DEFAULT_PATIENT_HOLD

    tick(decided + DEFAULT_PATIENT_HOLD)
    tick(decided + DEFAULT_PATIENT_HOLD + timedelta(minutes=20))

    sent = [m for m in env.sandbox.control("GET", "mail")["messages"] if patient in m["to"]]
    assert [m["text"].replace("\r\n", "\n") for m in sent] == [held.text]
    invited = env.sandbox.control("GET", f"calendar/invitations?email={patient}")["messages"]
    assert len(invited) == 1
