"""Event writes and free/busy against the sandbox, through the real client and the retry policy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calendar_sync.google import GoogleApiError
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.event_writes import cancel_event, insert_event, move_event
from calendar_sync.google.events import find_event, get_event
from calendar_sync.google.freebusy import free_busy, merge
from calendar_sync.google.oauth import CALENDAR_EVENTS, FREEBUSY
from calendar_sync.sandbox.testing import RunningSandbox

THERAPIST = "dr.okafor@example.test"
PATIENT = "sam.patient@example.test"
EVENT_ID = "csrp0123456789abcdefghijklmnopqrstuv"
START = datetime(2031, 6, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    running = RunningSandbox()
    running.add_account(THERAPIST, "Dr Okafor", "Europe/London")
    running.control("POST", "clock", {"now": "2031-06-01T08:00:00+00:00"})
    yield running
    running.stop()


@pytest.fixture
def apis(sandbox: RunningSandbox) -> GoogleApis:
    credentials = sandbox.credentials(THERAPIST, [CALENDAR_EVENTS, FREEBUSY])
    return GoogleApis(credentials, sandbox.url, timeout=0.5)


def no_sleep(_seconds: float) -> None:
    pass


def invitations(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    answer = sandbox.control("GET", f"calendar/invitations?email={PATIENT}")
    return list(answer["messages"])


def insert(apis: GoogleApis, start: datetime = START) -> Any:
    return insert_event(
        apis,
        THERAPIST,
        EVENT_ID,
        start,
        start + timedelta(minutes=50),
        "Europe/London",
        "Proposed new time",
        "Accept or decline.",
        PATIENT,
        sleep=no_sleep,
    )


def test_insert_invites_the_patient_at_local_time_and_a_retry_creates_nothing(
    sandbox: RunningSandbox, apis: GoogleApis
) -> None:
    event, created = insert(apis)
    assert created
    assert event.event_id == EVENT_ID and event.start == START
    assert [a.email for a in event.others] == [PATIENT]
    raw = sandbox.state.calendar.find(THERAPIST).events[EVENT_ID]
    assert raw["start"]["dateTime"].startswith("2031-06-03T10:00:00")  # BST on the clock
    assert len(invitations(sandbox)) == 1

    again, created = insert(apis)
    assert not created and again.event_id == EVENT_ID and again.start == START
    assert len(invitations(sandbox)) == 1


def test_insert_through_server_errors_lands_once(sandbox: RunningSandbox, apis: GoogleApis) -> None:
    sandbox.control("POST", "faults", {"method": "calendar.events.insert", "status": 503})
    sandbox.control(
        "POST", "faults", {"method": "calendar.events.insert", "status": 500, "count": 1}
    )
    event, _ = insert(apis)
    assert event.event_id == EVENT_ID
    calls = sandbox.control("GET", "calls")["calls"]
    assert calls["calendar.events.insert"] == 3
    assert list(sandbox.state.calendar.find(THERAPIST).events) == [EVENT_ID]


def test_lost_answer_then_retry_adopts_the_event_that_landed(
    sandbox: RunningSandbox, apis: GoogleApis
) -> None:
    sandbox.control(
        "POST",
        "faults",
        {"method": "calendar.events.insert", "timeout": 1, "after_processing": True, "count": 2},
    )
    event, created = insert(apis)
    assert not created  # our first attempt landed; the retry saw 409 and fetched it
    assert event.event_id == EVENT_ID and event.start == START
    assert len(invitations(sandbox)) == 1


def test_move_and_cancel_tell_the_patient(sandbox: RunningSandbox, apis: GoogleApis) -> None:
    insert(apis)
    later = START + timedelta(days=1)
    moved = move_event(
        apis,
        THERAPIST,
        EVENT_ID,
        later,
        later + timedelta(minutes=50),
        "Europe/London",
        sleep=no_sleep,
    )
    assert moved.start == later
    assert get_event(apis, THERAPIST, EVENT_ID, sleep=no_sleep).start == later
    assert cancel_event(apis, THERAPIST, EVENT_ID, sleep=no_sleep)
    assert not cancel_event(apis, THERAPIST, EVENT_ID, sleep=no_sleep)  # already gone
    kinds = [message["kind"] for message in invitations(sandbox)]
    assert kinds == ["invitation", "update", "cancellation"]
    assert get_event(apis, THERAPIST, EVENT_ID, sleep=no_sleep).cancelled
    assert find_event(apis, THERAPIST, "csrp00000000000000", sleep=no_sleep) is None


def test_free_busy_splits_long_ranges_and_merges(sandbox: RunningSandbox, apis: GoogleApis) -> None:
    insert(apis)
    far = START + timedelta(days=120)
    insert_event(
        apis,
        THERAPIST,
        "csrpfar00000",
        far,
        far + timedelta(hours=1),
        "UTC",
        "x",
        "y",
        PATIENT,
        send_updates="none",
        sleep=no_sleep,
    )
    busy = free_busy(
        apis, [THERAPIST], START - timedelta(days=1), START + timedelta(days=200), sleep=no_sleep
    )
    assert busy == [
        (START, START + timedelta(minutes=50)),
        (far, far + timedelta(hours=1)),
    ]
    assert sandbox.control("GET", "calls")["calls"]["calendar.freebusy.query"] == 3


def test_free_busy_refuses_to_guess_about_an_unknown_calendar(apis: GoogleApis) -> None:
    with pytest.raises(GoogleApiError) as caught:
        free_busy(apis, ["nobody@example.test"], START, START + timedelta(days=1), sleep=no_sleep)
    assert caught.value.reason == "notFound"


def test_merge_joins_touching_and_overlapping() -> None:
    a = START
    spans = [
        (a + timedelta(hours=2), a + timedelta(hours=3)),
        (a, a + timedelta(hours=1)),
        (a + timedelta(hours=1), a + timedelta(hours=2, minutes=30)),
    ]
    assert merge(spans) == [(a, a + timedelta(hours=3))]
