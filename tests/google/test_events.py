"""Google's event JSON becomes plain values; the pagination loop fetches every page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_sync.google.client import GoogleApis
from calendar_sync.google.events import MalformedEvent, list_events, parse_event
from calendar_sync.google.oauth import CALENDAR_EVENTS
from calendar_sync.sandbox.testing import RunningSandbox

THERAPIST = "dr.haddad@example.test"


def test_a_timed_event_is_kept_in_absolute_utc_across_dst() -> None:
    # 30 March 2026 is British Summer Time: 09:00 in London is 08:00 UTC.
    event = parse_event(
        {
            "id": "abc123",
            "status": "confirmed",
            "summary": "SP",
            "start": {"dateTime": "2026-03-30T09:00:00+01:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-30T09:50:00+01:00", "timeZone": "Europe/London"},
            "updated": "2026-03-20T10:00:00.000Z",
            "colorId": "11",
        },
        "UTC",
    )
    assert event.start == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert event.start.astimezone(ZoneInfo("Europe/London")).hour == 9
    assert event.time_zone == "Europe/London"
    assert event.updated == datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
    assert (event.color_id, event.all_day, event.cancelled) == ("11", False, False)


def test_an_all_day_event_starts_at_midnight_in_the_calendar_zone() -> None:
    event = parse_event(
        {"id": "day1", "start": {"date": "2026-07-01"}, "end": {"date": "2026-07-02"}},
        "Europe/London",
    )
    assert event.all_day
    assert event.start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)


def test_a_cancelled_instance_may_carry_only_its_ids() -> None:
    event = parse_event(
        {
            "id": "series_20260406T080000Z",
            "status": "cancelled",
            "recurringEventId": "series",
            "originalStartTime": {"dateTime": "2026-04-06T09:00:00+01:00"},
        },
        "Europe/London",
    )
    assert event.cancelled and event.start is None
    assert event.recurring_event_id == "series"
    assert event.original_start == datetime(2026, 4, 6, 8, 0, tzinfo=UTC)


def test_attendees_tell_the_owner_patients_and_rooms_apart() -> None:
    event = parse_event(
        {
            "id": "e1",
            "start": {"dateTime": "2026-03-30T09:00:00Z"},
            "end": {"dateTime": "2026-03-30T10:00:00Z"},
            "organizer": {"email": "dr.haddad@example.test", "self": True},
            "attendees": [
                {"email": "dr.haddad@example.test", "self": True, "responseStatus": "declined"},
                {"email": "pat@example.test", "responseStatus": "accepted"},
                {"email": "room-2@example.test", "resource": True},
            ],
        },
        "UTC",
    )
    assert event.my_response == "declined"
    assert [a.email for a in event.others] == ["pat@example.test"]
    assert event.others[0].response == "accepted"
    assert event.organizer_is_self


def test_an_invitation_from_someone_else_is_not_organised_by_the_owner() -> None:
    event = parse_event(
        {
            "id": "e2",
            "start": {"dateTime": "2026-03-30T09:00:00Z"},
            "end": {"dateTime": "2026-03-30T10:00:00Z"},
            "organizer": {"email": "frontdesk@example.test"},
            "attendees": [
                {"email": "frontdesk@example.test", "organizer": True},
                {"email": "dr.haddad@example.test", "self": True},
                {"email": "pat@example.test"},
            ],
        },
        "UTC",
    )
    assert not event.organizer_is_self
    assert event.organizer_email == "frontdesk@example.test"
    # The front desk that booked it is not a guest: the patient is the one other person.
    assert [a.email for a in event.others] == ["pat@example.test"]


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    running = RunningSandbox()
    yield running
    running.stop()


def test_every_page_is_fetched_and_the_last_gives_the_sync_token(
    sandbox: RunningSandbox,
) -> None:
    apis = GoogleApis(sandbox.credentials(THERAPIST, [CALENDAR_EVENTS]), sandbox.url)
    for day in range(1, 8):
        sandbox.control(
            "POST",
            f"calendar/{THERAPIST}/events",
            {
                "summary": f"Session {day}",
                "start": {"dateTime": f"2026-05-0{day}T10:00:00Z"},
                "end": {"dateTime": f"2026-05-0{day}T11:00:00Z"},
            },
        )

    listing = list_events(
        apis.calendar,
        THERAPIST,
        time_min=datetime(2026, 4, 1, tzinfo=UTC),
        time_max=datetime(2026, 6, 1, tzinfo=UTC),
        page_size=3,
    )

    assert listing.pages == 3
    assert len({e.event_id for e in listing.events}) == 7
    assert listing.next_sync_token
    changes = list_events(apis.calendar, THERAPIST, sync_token=listing.next_sync_token)
    assert changes.events == [] and changes.next_sync_token


# -- what Google may send that is not an event we can read -----------------------------------

GOOD = {
    "id": "e1",
    "start": {"dateTime": "2026-03-30T09:00:00Z"},
    "end": {"dateTime": "2026-03-30T10:00:00Z"},
}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"start": {"dateTime": "0001-01-01T00:30:00+01:00"}}, "Python can hold"),
        ({"end": {"dateTime": "9999-12-31T23:30:00-05:00"}}, "Python can hold"),
        ({"start": {"dateTime": "2016-12-31T23:59:60Z"}}, "Python can hold"),
        ({"start": {"date": "2026-02-30"}}, "Python can hold"),
        ({"start": "2026-03-30"}, "not an object"),
        ({"start": {"dateTime": 20260330}}, "not text"),
        ({"organizer": "dr.haddad@example.test"}, "organizer is not an object"),
        ({"creator": ["someone"]}, "creator is not an object"),
        ({"attendees": {"email": "pat@example.test"}}, "attendees is not a list"),
        ({"id": None}, "id is missing"),
        ({"id": 42}, "id is not text"),
        ({"colorId": {"id": 11}}, "colorId is not text"),
        ({"status": "x" * 40}, "status is too long"),
    ],
)
def test_an_unreadable_event_raises_one_documented_error_naming_only_the_field(
    change: dict[str, Any], reason: str
) -> None:
    with pytest.raises(MalformedEvent, match=reason) as raised:
        parse_event({**GOOD, **change}, "Europe/London")
    assert "example.test" not in str(raised.value) and "2026" not in str(raised.value)


def test_an_unknown_time_zone_falls_back_instead_of_failing() -> None:
    all_day = {"id": "e3", "start": {"date": "2026-03-30"}, "end": {"date": "2026-03-31"}}
    event = parse_event(all_day, "Mars/Olympus_Mons")
    assert event.time_zone == "UTC" and event.start == datetime(2026, 3, 30, tzinfo=UTC)
    local = {"id": "e4", "start": {"dateTime": "2026-03-30T09:00:00", "timeZone": "Nowhere/X"}}
    assert parse_event(local, "Europe/London").start == datetime(2026, 3, 30, 8, tzinfo=UTC)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "id",
        "status",
        "summary",
        "start",
        "end",
        "originalStartTime",
        "recurringEventId",
        "colorId",
        "attendees",
        "organizer",
        "creator",
        "updated",
        "etag",
        "transparency",
    ]
)
WHEN = st.fixed_dictionaries(
    {},
    optional={
        "dateTime": st.one_of(
            st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
            st.text(max_size=30),
        ),
        "date": st.one_of(st.dates().map(str), st.text(max_size=12)),
        "timeZone": st.one_of(st.timezone_keys(), st.text(max_size=20)),
    },
)
ITEMS = st.one_of(
    JSON,
    st.dictionaries(FIELDS, st.one_of(JSON, WHEN), max_size=10),
    st.builds(lambda extra: {**GOOD, **extra}, st.dictionaries(FIELDS, st.one_of(JSON, WHEN))),
)


@settings(max_examples=400, deadline=None)
@given(ITEMS, st.one_of(st.timezone_keys(), st.text(max_size=20)))
def test_parse_event_raises_nothing_but_malformed_event(item: Any, zone: str) -> None:
    try:
        event = parse_event(item, zone)
    except MalformedEvent:
        return
    assert event.event_id and len(event.event_id) <= 1024
    for moment in (event.start, event.end, event.original_start, event.updated):
        assert moment is None or moment.utcoffset() == timedelta(0)
    ZoneInfo(event.time_zone)
