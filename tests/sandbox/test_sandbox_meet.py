"""Meet v2 in the sandbox through the real googleapiclient: records, participants, sessions."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

THERAPIST = "therapist@example.test"
CALENDAR = "https://www.googleapis.com/auth/calendar"
MEET = "https://www.googleapis.com/auth/meetings.space.readonly"
CODE_FILTER = 'space.meeting_code = "{code}"'


@pytest.fixture
def code(sandbox: Any) -> str:
    """The meeting code of a session with a Meet link on the therapist's calendar."""
    sandbox.add_account(THERAPIST, name="Dr Example")
    calendar = sandbox.service("calendar", "v3", THERAPIST, [CALENDAR])
    event = (
        calendar.events()
        .insert(
            calendarId="primary",
            body={
                "summary": "Session",
                "start": {"dateTime": "2026-12-01T10:00:00Z"},
                "end": {"dateTime": "2026-12-01T10:50:00Z"},
            },
        )
        .execute()
    )
    meeting_code: str = sandbox.add_meet_link(THERAPIST, event["id"])
    got = calendar.events().get(calendarId="primary", eventId=event["id"]).execute()
    assert got["hangoutLink"] == f"https://meet.google.com/{meeting_code}"
    assert got["conferenceData"]["entryPoints"][0]["uri"] == got["hangoutLink"]
    return meeting_code


def call(sandbox: Any, code: str, **extra: Any) -> str:
    participants = [
        {
            "kind": "signedin",
            "email": THERAPIST,
            "stays": [["2026-12-01T09:58:00Z", "2026-12-01T10:51:00Z"]],
        },
        {
            "kind": "anonymous",
            "name": "A. Patient",
            "stays": [
                ["2026-12-01T10:02:00Z", "2026-12-01T10:20:00Z"],
                ["2026-12-01T10:22:00Z", "2026-12-01T10:49:00Z"],
            ],
        },
        {"kind": "phone", "name": "+44 20 **** **12", "stays": [["2026-12-01T10:05:00Z", None]]},
    ]
    return str(
        sandbox.add_conference(
            code,
            extra.get("start", "2026-12-01T09:58:00Z"),
            extra.get("end", "2026-12-01T10:51:00Z"),
            participants,
            publish_at=extra.get("publish_at"),
        )
    )


def test_records_participants_and_sessions_read_with_the_real_client(
    sandbox: Any, code: str
) -> None:
    name = call(sandbox, code)
    meet = sandbox.service("meet", "v2", THERAPIST, [MEET])
    records = meet.conferenceRecords().list(filter=CODE_FILTER.format(code=code)).execute()
    [record] = records["conferenceRecords"]
    assert record["name"] == name
    assert (record["startTime"], record["endTime"]) == (
        "2026-12-01T09:58:00.000Z",
        "2026-12-01T10:51:00.000Z",
    )
    people = meet.conferenceRecords().participants().list(parent=name).execute()["participants"]
    kinds = [
        next(k for k in ("signedinUser", "anonymousUser", "phoneUser") if k in p) for p in people
    ]
    # Latest joiner first, as Meet lists them.
    assert kinds == ["phoneUser", "anonymousUser", "signedinUser"]
    therapist = sandbox.state.accounts[THERAPIST]
    assert people[2]["signedinUser"]["user"] == f"users/{therapist.id}"
    assert "latestEndTime" not in people[0]  # still connected
    assert people[1]["earliestStartTime"] == "2026-12-01T10:02:00.000Z"
    assert people[1]["latestEndTime"] == "2026-12-01T10:49:00.000Z"
    sessions = (
        meet.conferenceRecords()
        .participants()
        .participantSessions()
        .list(parent=people[1]["name"])
        .execute()["participantSessions"]
    )
    assert [(s["startTime"], s["endTime"]) for s in sessions] == [
        ("2026-12-01T10:22:00.000Z", "2026-12-01T10:49:00.000Z"),
        ("2026-12-01T10:02:00.000Z", "2026-12-01T10:20:00.000Z"),
    ]


def test_the_time_filter_and_other_spaces(sandbox: Any, code: str) -> None:
    call(sandbox, code)
    meet = sandbox.service("meet", "v2", THERAPIST, [MEET])
    within = (
        f'{CODE_FILTER.format(code=code)} AND start_time >= "2026-12-01T09:00:00Z" '
        'AND start_time <= "2026-12-01T10:50:00Z"'
    )
    assert len(meet.conferenceRecords().list(filter=within).execute()["conferenceRecords"]) == 1
    after = f'{CODE_FILTER.format(code=code)} AND start_time >= "2026-12-01T10:00:00Z"'
    assert meet.conferenceRecords().list(filter=after).execute() == {}
    other = CODE_FILTER.format(code="abc-defg-hij")
    assert meet.conferenceRecords().list(filter=other).execute() == {}


def test_a_record_shows_only_once_published(sandbox: Any, code: str) -> None:
    sandbox.control("POST", "clock", {"now": "2026-12-01T10:55:00+00:00"})
    call(sandbox, code, publish_at="2026-12-01T11:05:00Z")
    meet = sandbox.service("meet", "v2", THERAPIST, [MEET])
    assert meet.conferenceRecords().list(filter=CODE_FILTER.format(code=code)).execute() == {}
    sandbox.control("POST", "clock", {"advance_seconds": 600})
    found = meet.conferenceRecords().list(filter=CODE_FILTER.format(code=code)).execute()
    assert len(found["conferenceRecords"]) == 1


def test_without_the_meet_scope_google_refuses(sandbox: Any, code: str) -> None:
    meet = sandbox.service("meet", "v2", THERAPIST, [CALENDAR])
    with pytest.raises(HttpError) as caught:
        meet.conferenceRecords().list(filter=CODE_FILTER.format(code=code)).execute()
    assert caught.value.resp.status == 403


def test_someone_elses_records_and_unknown_ones_are_not_found(sandbox: Any, code: str) -> None:
    name = call(sandbox, code)
    stranger = sandbox.service("meet", "v2", "other@example.test", [MEET])
    assert stranger.conferenceRecords().list(filter=CODE_FILTER.format(code=code)).execute() == {}
    with pytest.raises(HttpError) as caught:
        stranger.conferenceRecords().participants().list(parent=name).execute()
    assert caught.value.resp.status == 404


@pytest.mark.parametrize(
    "text",
    ['space.meeting_code = "not a code"', "start_time >= yesterday", "space.meeting_code IS NULL"],
)
def test_a_filter_meet_would_refuse_is_refused(sandbox: Any, code: str, text: str) -> None:
    meet = sandbox.service("meet", "v2", THERAPIST, [MEET])
    with pytest.raises(HttpError) as caught:
        meet.conferenceRecords().list(filter=text).execute()
    assert caught.value.resp.status == 400


def test_unknown_query_parameters_are_refused_by_the_discovery_check(
    sandbox: Any, code: str
) -> None:
    meet = sandbox.service("meet", "v2", THERAPIST, [MEET])
    request = meet.conferenceRecords().list(filter=CODE_FILTER.format(code=code))
    request.uri += "&orderBy=start_time"
    with pytest.raises(HttpError) as caught:
        request.execute()
    assert caught.value.resp.status == 400


def test_a_conference_needs_an_events_meet_link(sandbox: Any, code: str) -> None:
    with pytest.raises(Exception, match="400"):
        sandbox.add_conference("abc-defg-hij", "2026-12-01T10:00:00Z", None, [])
