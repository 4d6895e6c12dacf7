"""Calendar v3 in the sandbox through the real googleapiclient over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

THERAPIST = "therapist@example.test"
PATIENT = "patient@example.test"
SCOPE = "https://www.googleapis.com/auth/calendar"


@pytest.fixture
def calendar(sandbox: Any) -> Any:
    sandbox.add_account(THERAPIST, time_zone="Europe/London")
    return sandbox.service("calendar", "v3", THERAPIST, [SCOPE])


def session(**extra: Any) -> dict:
    body: dict = {
        "summary": "Session",
        "start": {"dateTime": "2024-03-04T09:00:00Z"},
        "end": {"dateTime": "2024-03-04T09:50:00Z"},
    }
    body.update(extra)
    return body


def reason(error: HttpError) -> str:
    return str(error.error_details[0]["reason"])


def test_calendar_list_shows_the_primary_calendar(calendar: Any) -> None:
    [entry] = calendar.calendarList().list().execute()["items"]
    assert (entry["id"], entry["primary"], entry["accessRole"]) == (THERAPIST, True, "owner")
    assert entry["timeZone"] == "Europe/London"


def test_crud_round_trip(calendar: Any) -> None:
    created = calendar.events().insert(calendarId="primary", body=session()).execute()
    assert created["kind"] == "calendar#event"
    assert created["status"] == "confirmed"
    assert created["organizer"] == {"email": THERAPIST, "self": True}
    got = calendar.events().get(calendarId="primary", eventId=created["id"]).execute()
    assert got == created
    patched = (
        calendar.events()
        .patch(calendarId="primary", eventId=created["id"], body={"summary": "Renamed"})
        .execute()
    )
    assert patched["summary"] == "Renamed"
    assert patched["start"] == created["start"]
    assert patched["etag"] != created["etag"]
    calendar.events().delete(calendarId="primary", eventId=created["id"]).execute()
    deleted = calendar.events().get(calendarId="primary", eventId=created["id"]).execute()
    assert deleted["status"] == "cancelled"
    with pytest.raises(HttpError) as caught:
        calendar.events().delete(calendarId="primary", eventId=created["id"]).execute()
    assert caught.value.status_code == 410


def test_client_chosen_ids(calendar: Any) -> None:
    event = calendar.events().insert(calendarId="primary", body=session(id="sess0001abc")).execute()
    assert event["id"] == "sess0001abc"
    with pytest.raises(HttpError) as caught:
        calendar.events().insert(calendarId="primary", body=session(id="sess0001abc")).execute()
    assert (caught.value.status_code, reason(caught.value)) == (409, "duplicate")
    with pytest.raises(HttpError) as caught:
        calendar.events().insert(calendarId="primary", body=session(id="Session-1")).execute()
    assert (caught.value.status_code, reason(caught.value)) == (400, "invalid")


def test_end_before_start_is_refused(calendar: Any) -> None:
    body = session(end={"dateTime": "2024-03-04T08:00:00Z"})
    with pytest.raises(HttpError) as caught:
        calendar.events().insert(calendarId="primary", body=body).execute()
    assert (caught.value.status_code, reason(caught.value)) == (400, "timeRangeEmpty")


def test_if_match_and_if_none_match(calendar: Any) -> None:
    event = calendar.events().insert(calendarId="primary", body=session()).execute()
    calendar.events().patch(
        calendarId="primary", eventId=event["id"], body={"summary": "B"}
    ).execute()
    stale = calendar.events().patch(
        calendarId="primary", eventId=event["id"], body={"summary": "C"}
    )
    stale.headers["If-Match"] = event["etag"]
    with pytest.raises(HttpError) as caught:
        stale.execute()
    assert (caught.value.status_code, reason(caught.value)) == (412, "conditionNotMet")
    current = calendar.events().get(calendarId="primary", eventId=event["id"]).execute()
    again = calendar.events().get(calendarId="primary", eventId=event["id"])
    again.headers["If-None-Match"] = current["etag"]
    with pytest.raises(HttpError) as caught:
        again.execute()
    assert caught.value.status_code == 304


def full_sync(calendar: Any, **params: Any) -> tuple[list[dict], str, int]:
    """Every page of a listing; returns items, the final sync token and the page count."""
    items: list[dict] = []
    page_token = None
    pages = 0
    while True:
        page = (
            calendar.events().list(calendarId="primary", pageToken=page_token, **params).execute()
        )
        pages += 1
        items.extend(page["items"])
        page_token = page.get("nextPageToken")
        if page_token is None:
            return items, page["nextSyncToken"], pages
        assert "nextSyncToken" not in page


def test_paging_then_incremental_sync_with_deletions(calendar: Any) -> None:
    ids = [
        calendar.events().insert(calendarId="primary", body=session()).execute()["id"]
        for _ in range(5)
    ]
    items, token, pages = full_sync(calendar, maxResults=2)
    assert pages == 3
    assert [e["id"] for e in items] == ids

    calendar.events().patch(
        calendarId="primary", eventId=ids[0], body={"summary": "Moved"}
    ).execute()
    calendar.events().delete(calendarId="primary", eventId=ids[1]).execute()
    changes = calendar.events().list(calendarId="primary", syncToken=token).execute()
    by_id = {e["id"]: e for e in changes["items"]}
    assert set(by_id) == {ids[0], ids[1]}
    assert by_id[ids[0]]["summary"] == "Moved"
    assert by_id[ids[1]]["status"] == "cancelled"
    assert "summary" not in by_id[ids[1]]

    quiet = (
        calendar.events().list(calendarId="primary", syncToken=changes["nextSyncToken"]).execute()
    )
    assert quiet["items"] == []


def test_sync_token_rules(sandbox: Any, calendar: Any) -> None:
    calendar.events().insert(calendarId="primary", body=session()).execute()
    token = calendar.events().list(calendarId="primary").execute()["nextSyncToken"]
    with pytest.raises(HttpError) as caught:
        calendar.events().list(
            calendarId="primary", syncToken=token, timeMin="2024-01-01T00:00:00Z"
        ).execute()
    assert caught.value.status_code == 400
    with pytest.raises(HttpError) as caught:
        calendar.events().list(calendarId="primary", syncToken="garbled").execute()
    assert (caught.value.status_code, reason(caught.value)) == (410, "fullSyncRequired")
    sandbox.control("POST", f"calendar/{THERAPIST}/invalidate-sync-tokens")
    with pytest.raises(HttpError) as caught:
        calendar.events().list(calendarId="primary", syncToken=token).execute()
    assert (caught.value.status_code, reason(caught.value)) == (410, "fullSyncRequired")


def test_filters(calendar: Any) -> None:
    tagged = session(
        summary="Session AB",
        extendedProperties={"private": {"app": "calendar-sync", "patient": "p1"}},
    )
    first = calendar.events().insert(calendarId="primary", body=tagged).execute()
    calendar.events().insert(calendarId="primary", body=session(summary="Supervision")).execute()
    found = (
        calendar.events()
        .list(calendarId="primary", privateExtendedProperty=["app=calendar-sync", "patient=p1"])
        .execute()
    )
    assert [e["id"] for e in found["items"]] == [first["id"]]
    assert [
        e["id"] for e in calendar.events().list(calendarId="primary", q="ab").execute()["items"]
    ] == [first["id"]]
    window = (
        calendar.events()
        .list(calendarId="primary", timeMin="2024-03-04T09:49:00Z", timeMax="2024-03-04T10:00:00Z")
        .execute()
    )
    assert len(window["items"]) == 2
    after = calendar.events().list(calendarId="primary", timeMin="2024-03-04T09:50:00Z").execute()
    assert after["items"] == []
    with pytest.raises(HttpError) as caught:
        calendar.events().list(calendarId="primary", orderBy="startTime").execute()
    assert caught.value.status_code == 400


def test_weekly_series_across_dst_with_moved_and_cancelled_instances(calendar: Any) -> None:
    series = (
        calendar.events()
        .insert(
            calendarId="primary",
            body={
                "summary": "Weekly session",
                "start": {"dateTime": "2024-03-11T09:00:00", "timeZone": "Europe/London"},
                "end": {"dateTime": "2024-03-11T09:50:00", "timeZone": "Europe/London"},
                "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"],
            },
        )
        .execute()
    )
    # 18 March moves to 14:00; 25 March is cancelled. Instance ids carry the UTC start.
    moved_id = series["id"] + "_20240318T090000Z"
    moved = (
        calendar.events()
        .patch(
            calendarId="primary",
            eventId=moved_id,
            body={
                "start": {"dateTime": "2024-03-18T14:00:00", "timeZone": "Europe/London"},
                "end": {"dateTime": "2024-03-18T14:50:00", "timeZone": "Europe/London"},
            },
        )
        .execute()
    )
    assert moved["recurringEventId"] == series["id"]
    assert moved["originalStartTime"]["dateTime"] == "2024-03-18T09:00:00Z"
    calendar.events().delete(
        calendarId="primary", eventId=series["id"] + "_20240325T090000Z"
    ).execute()

    listed = (
        calendar.events()
        .list(calendarId="primary", singleEvents=True, orderBy="startTime")
        .execute()["items"]
    )
    starts = [e["start"]["dateTime"] for e in listed]
    # Clocks go forward on 31 March: still 09:00 in London, now at +01:00 (08:00 UTC).
    assert starts == [
        "2024-03-11T09:00:00Z",
        "2024-03-18T14:00:00Z",
        "2024-04-01T09:00:00+01:00",
        "2024-04-08T09:00:00+01:00",
    ]
    assert listed[2]["id"] == series["id"] + "_20240401T080000Z"
    assert all(e["recurringEventId"] == series["id"] for e in listed)

    with_deleted = (
        calendar.events()
        .list(calendarId="primary", singleEvents=True, showDeleted=True)
        .execute()["items"]
    )
    cancelled = [e for e in with_deleted if e["status"] == "cancelled"]
    assert [e["id"] for e in cancelled] == [series["id"] + "_20240325T090000Z"]

    instances = calendar.events().instances(calendarId="primary", eventId=series["id"]).execute()
    assert len(instances["items"]) == 4


def test_freebusy_merges_and_excludes(calendar: Any) -> None:
    insert = calendar.events().insert
    insert(calendarId="primary", body=session()).execute()
    insert(
        calendarId="primary",
        body=session(
            start={"dateTime": "2024-03-04T09:30:00Z"}, end={"dateTime": "2024-03-04T10:30:00Z"}
        ),
    ).execute()
    insert(
        calendarId="primary",
        body=session(
            start={"dateTime": "2024-03-04T12:00:00Z"},
            end={"dateTime": "2024-03-04T13:00:00Z"},
            transparency="transparent",
        ),
    ).execute()
    insert(
        calendarId="primary",
        body={
            "summary": "Weekly",
            "start": {"dateTime": "2024-03-05T15:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2024-03-05T16:00:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY"],
        },
    ).execute()
    answer = (
        calendar.freebusy()
        .query(
            body={
                "timeMin": "2024-03-04T00:00:00Z",
                "timeMax": "2024-03-13T00:00:00Z",
                "items": [{"id": "primary"}, {"id": "nobody@example.test"}],
            }
        )
        .execute()
    )
    assert answer["calendars"]["primary"]["busy"] == [
        {"start": "2024-03-04T09:00:00Z", "end": "2024-03-04T10:30:00Z"},
        {"start": "2024-03-05T15:00:00Z", "end": "2024-03-05T16:00:00Z"},
        {"start": "2024-03-12T15:00:00Z", "end": "2024-03-12T16:00:00Z"},
    ]
    assert answer["calendars"]["nobody@example.test"]["errors"][0]["reason"] == "notFound"


def test_patient_response_and_invitations(sandbox: Any, calendar: Any) -> None:
    quiet = (
        calendar.events()
        .insert(calendarId="primary", body=session(attendees=[{"email": PATIENT}]))
        .execute()
    )
    invited = (
        calendar.events()
        .insert(
            calendarId="primary", body=session(attendees=[{"email": PATIENT}]), sendUpdates="all"
        )
        .execute()
    )
    messages = sandbox.control("GET", f"calendar/invitations?email={PATIENT}")["messages"]
    assert [(m["eventId"], m["kind"]) for m in messages] == [(invited["id"], "invitation")]
    assert quiet["attendees"][0]["responseStatus"] == "needsAction"

    sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events/{invited['id']}/respond",
        {"email": PATIENT, "response": "declined"},
    )
    seen = calendar.events().get(calendarId="primary", eventId=invited["id"]).execute()
    assert seen["attendees"][0]["responseStatus"] == "declined"
    assert seen["etag"] != invited["etag"]


def test_secondary_calendar_from_the_control_api(sandbox: Any, calendar: Any) -> None:
    entry = sandbox.control(
        "POST",
        f"calendar/accounts/{THERAPIST}/calendars",
        {"summary": "Practice", "timeZone": "America/New_York"},
    )
    assert entry["id"].endswith("@group.calendar.google.com")
    listed = calendar.calendarList().list().execute()["items"]
    assert [(c["id"], c.get("primary", False)) for c in listed] == [
        (THERAPIST, True),
        (entry["id"], False),
    ]
    event = calendar.events().insert(calendarId=entry["id"], body=session()).execute()
    assert event["organizer"]["email"] == entry["id"]
    assert event["start"]["dateTime"] == "2024-03-04T04:00:00-05:00"
