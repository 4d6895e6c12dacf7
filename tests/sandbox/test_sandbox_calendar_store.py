"""The sandbox calendar store on its own: Google's rules without HTTP in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calendar_sync.sandbox.calendar_listing import ListQuery
from calendar_sync.sandbox.calendar_store import CalendarStore
from calendar_sync.sandbox.errors import GoogleError

THERAPIST = "therapist@example.test"
PATIENT = "patient@example.test"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock):
    store = CalendarStore(clock=clock)
    store.create_primary(THERAPIST, "Europe/London")
    yield store
    store.close()


def session(**extra: object) -> dict:
    body: dict = {
        "summary": "Session",
        "start": {"dateTime": "2024-03-04T09:00:00Z"},
        "end": {"dateTime": "2024-03-04T09:50:00Z"},
    }
    body.update(extra)
    return body


def test_primary_calendar_is_listed_and_reachable_as_primary(store: CalendarStore) -> None:
    [entry] = store.calendar_list(THERAPIST)
    assert entry["id"] == THERAPIST
    assert entry["primary"] is True
    assert entry["accessRole"] == "owner"
    assert store.calendar(THERAPIST, "primary").id == THERAPIST


def test_other_accounts_cannot_see_the_calendar(store: CalendarStore) -> None:
    store.create_primary("other@example.test", "UTC")
    with pytest.raises(GoogleError) as caught:
        store.insert_event("other@example.test", THERAPIST, session())
    assert caught.value.status == 404


@pytest.mark.parametrize("bad_id", ["abc", "UPPERCASE123", "has_underscore", "wxyz12345"])
def test_client_ids_outside_base32hex_are_refused(store: CalendarStore, bad_id: str) -> None:
    with pytest.raises(GoogleError) as caught:
        store.insert_event(THERAPIST, "primary", session(id=bad_id))
    assert (caught.value.status, caught.value.reason) == (400, "invalid")


def test_duplicate_client_id_conflicts_even_after_deletion(store: CalendarStore) -> None:
    store.insert_event(THERAPIST, "primary", session(id="abcde12345"))
    store.delete_event(THERAPIST, "primary", "abcde12345")
    with pytest.raises(GoogleError) as caught:
        store.insert_event(THERAPIST, "primary", session(id="abcde12345"))
    assert (caught.value.status, caught.value.reason) == (409, "duplicate")


def test_end_before_start_is_an_empty_range(store: CalendarStore) -> None:
    body = session(end={"dateTime": "2024-03-04T08:00:00Z"})
    with pytest.raises(GoogleError) as caught:
        store.insert_event(THERAPIST, "primary", body)
    assert caught.value.reason == "timeRangeEmpty"


def test_missing_end_is_required(store: CalendarStore) -> None:
    body = session()
    del body["end"]
    with pytest.raises(GoogleError) as caught:
        store.insert_event(THERAPIST, "primary", body)
    assert (caught.value.status, caught.value.reason) == (400, "required")


def test_every_change_moves_updated_and_etag(store: CalendarStore, clock: Clock) -> None:
    first = store.insert_event(THERAPIST, "primary", session(attendees=[{"email": PATIENT}]))
    assert first["attendees"][0]["responseStatus"] == "needsAction"
    clock.now += timedelta(minutes=5)
    answered = store.respond(THERAPIST, first["id"], PATIENT, "accepted")
    assert answered["attendees"][0]["responseStatus"] == "accepted"
    assert answered["etag"] != first["etag"]
    assert answered["updated"] > first["updated"]


def test_update_without_response_status_keeps_the_patients_answer(store: CalendarStore) -> None:
    event = store.insert_event(THERAPIST, "primary", session(attendees=[{"email": PATIENT}]))
    store.respond(THERAPIST, event["id"], PATIENT, "declined")
    body = session(summary="Session (moved room)", attendees=[{"email": PATIENT}])
    updated = store.change_event(THERAPIST, "primary", event["id"], body, replace=True)
    assert updated["attendees"][0]["responseStatus"] == "declined"


def test_stale_if_match_is_a_failed_precondition(store: CalendarStore) -> None:
    event = store.insert_event(THERAPIST, "primary", session())
    store.change_event(THERAPIST, "primary", event["id"], {"summary": "x"}, replace=False)
    with pytest.raises(GoogleError) as caught:
        store.delete_event(THERAPIST, "primary", event["id"], if_match=event["etag"])
    assert (caught.value.status, caught.value.reason) == (412, "conditionNotMet")


def test_send_updates_decides_who_is_emailed(store: CalendarStore) -> None:
    body = session(attendees=[{"email": PATIENT}])
    store.insert_event(THERAPIST, "primary", body)
    assert store.invitations.messages(PATIENT) == []
    store.insert_event(THERAPIST, "primary", body, send_updates="all")
    [message] = store.invitations.messages(PATIENT)
    assert message["kind"] == "invitation"


def test_incremental_sync_returns_changes_and_deletions_only(store: CalendarStore) -> None:
    kept = store.insert_event(THERAPIST, "primary", session())
    gone = store.insert_event(THERAPIST, "primary", session())
    full = store.list_events(THERAPIST, "primary", ListQuery())
    assert {e["id"] for e in full["items"]} == {kept["id"], gone["id"]}
    store.delete_event(THERAPIST, "primary", gone["id"])
    changes = store.list_events(THERAPIST, "primary", ListQuery(), sync_token=full["nextSyncToken"])
    assert changes["items"] == [
        {
            "kind": "calendar#event",
            "etag": changes["items"][0]["etag"],
            "id": gone["id"],
            "status": "cancelled",
            "updated": changes["items"][0]["updated"],
        }
    ]


def test_sync_tokens_expire_on_the_sandbox_clock(store: CalendarStore, clock: Clock) -> None:
    token = store.list_events(THERAPIST, "primary", ListQuery())["nextSyncToken"]
    clock.now += timedelta(days=31)
    with pytest.raises(GoogleError) as caught:
        store.list_events(THERAPIST, "primary", ListQuery(), sync_token=token)
    assert (caught.value.status, caught.value.reason) == (410, "fullSyncRequired")


def test_weekly_series_keeps_wall_clock_time_across_dst(store: CalendarStore) -> None:
    series = store.insert_event(
        THERAPIST,
        "primary",
        {
            "summary": "Weekly",
            "start": {"dateTime": "2024-03-18T09:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2024-03-18T09:50:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        },
    )
    listed = store.list_events(
        THERAPIST, "primary", ListQuery(single_events=True, order_by="startTime")
    )
    starts = [i["start"]["dateTime"] for i in listed["items"]]
    # British Summer Time starts on 31 March 2024: same 09:00, offset moves to +01:00.
    assert starts == ["2024-03-18T09:00:00Z", "2024-03-25T09:00:00Z", "2024-04-01T09:00:00+01:00"]
    assert listed["items"][2]["id"] == series["id"] + "_20240401T080000Z"


def test_cancelled_instance_reaches_incremental_sync_with_its_series(store: CalendarStore) -> None:
    series = store.insert_event(
        THERAPIST,
        "primary",
        {
            "start": {"dateTime": "2024-03-04T09:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2024-03-04T09:50:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        },
    )
    token = store.list_events(THERAPIST, "primary", ListQuery())["nextSyncToken"]
    store.delete_event(THERAPIST, "primary", series["id"] + "_20240311T090000Z")
    [change] = store.list_events(THERAPIST, "primary", ListQuery(), sync_token=token)["items"]
    assert change["status"] == "cancelled"
    assert change["recurringEventId"] == series["id"]
    assert change["originalStartTime"] == {
        "dateTime": "2024-03-11T09:00:00Z",
        "timeZone": "Europe/London",
    }
    expanded = store.list_events(THERAPIST, "primary", ListQuery(single_events=True))["items"]
    assert len(expanded) == 3
