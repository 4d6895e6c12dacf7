"""Meet v2 through the adapter: two calls in the usual case, names dropped, faults as elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calendar_sync.domain.meet import Attendance, MeetRules, Stay, assess_call, needs_sessions
from calendar_sync.google import GoogleApiError
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.events import meeting_code
from calendar_sync.google.meet import MeetReader
from calendar_sync.google.retry import RetryPolicy
from calendar_sync.sandbox.testing import RunningSandbox

THERAPIST = "dr.haddad@example.test"
CALENDAR = "https://www.googleapis.com/auth/calendar"
MEET = "https://www.googleapis.com/auth/meetings.space.readonly"
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=50)
RULES = MeetRules()
NOW = END + timedelta(minutes=20)


def iso(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    running = RunningSandbox()
    running.add_account(THERAPIST, name="Dr Haddad")
    yield running
    running.stop()


def video_session(sandbox: RunningSandbox) -> str:
    calendar = sandbox.service("calendar", "v3", THERAPIST, [CALENDAR])
    event = (
        calendar.events()
        .insert(
            calendarId="primary",
            body={"summary": "S", "start": {"dateTime": iso(0)}, "end": {"dateTime": iso(50)}},
        )
        .execute()
    )
    return sandbox.add_meet_link(THERAPIST, event["id"])


def reader(sandbox: RunningSandbox, scopes: list[str] | None = None, **kw: Any) -> MeetReader:
    apis = GoogleApis(sandbox.credentials(THERAPIST, scopes or [MEET]), sandbox.url)
    account = sandbox.state.accounts[THERAPIST]
    return MeetReader(apis.meet, account.id, **kw)


def read(meet: MeetReader, code: str) -> Any:
    def doubtful(span: Stay) -> bool:
        return needs_sessions(span, START, END, RULES, NOW)

    records = meet.records(code, START - timedelta(hours=12), END)
    return [meet.participants(r, doubtful) for r in records]


def therapist_stay(a: float = -2, b: float = 51) -> dict[str, Any]:
    return {"kind": "signedin", "email": THERAPIST, "stays": [[iso(a), iso(b)]]}


def test_the_usual_case_is_two_calls_and_keeps_no_names(sandbox: RunningSandbox) -> None:
    code = video_session(sandbox)
    patient = {"kind": "anonymous", "name": "Sam Patient", "stays": [[iso(2), iso(49)]]}
    sandbox.add_conference(code, iso(-2), iso(51), [therapist_stay(), patient])
    meet = reader(sandbox)
    [record] = read(meet, code)
    assert meet.calls == 2
    assert sorted(p.is_therapist for p in record.participants) == [False, True]
    assert "Sam" not in repr(record) and "Haddad" not in repr(record)
    evidence = assess_call([record], START, END, RULES, NOW)
    assert (evidence.attendance, evidence.minutes) == (Attendance.PRESENT, 47)


def test_a_span_reaching_outside_the_session_has_its_sessions_read(
    sandbox: RunningSandbox,
) -> None:
    code = video_session(sandbox)
    # The room was reused: someone in it an hour before, and back for two minutes at the end.
    earlier = {"kind": "anonymous", "name": "X", "stays": [[iso(-60), iso(-5)], [iso(45), iso(47)]]}
    sandbox.add_conference(code, iso(-60), iso(51), [therapist_stay(-60, 51), earlier])
    meet = reader(sandbox)
    records = read(meet, code)
    assert meet.calls == 3
    evidence = assess_call(records, START, END, RULES, NOW)
    assert (evidence.attendance, evidence.minutes) == (Attendance.BRIEF, 2)


def test_a_phone_dial_in_is_someone_other_than_the_therapist(sandbox: RunningSandbox) -> None:
    code = video_session(sandbox)
    phone = {"kind": "phone", "name": "+44 20 **** **12", "stays": [[iso(1), iso(50)]]}
    sandbox.add_conference(code, iso(-2), iso(51), [therapist_stay(), phone])
    evidence = assess_call(read(reader(sandbox), code), START, END, RULES, NOW)
    assert evidence.attendance is Attendance.PRESENT


def test_no_record_is_one_call(sandbox: RunningSandbox) -> None:
    code = video_session(sandbox)
    meet = reader(sandbox)
    assert read(meet, code) == []
    assert meet.calls == 1


def test_without_the_scope_the_reader_gets_403(sandbox: RunningSandbox) -> None:
    code = video_session(sandbox)
    with pytest.raises(GoogleApiError) as caught:
        read(reader(sandbox, [CALENDAR]), code)
    assert caught.value.status == 403


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retried(
    sandbox: RunningSandbox, status: int, sleeps: list[float]
) -> None:
    code = video_session(sandbox)
    sandbox.add_conference(code, iso(-2), iso(51), [therapist_stay()])
    sandbox.control(
        "POST", "faults", {"method": "meet.conferenceRecords.participants.list", "status": status}
    )
    meet = reader(sandbox, sleep=sleeps)
    evidence = assess_call(read(meet, code), START, END, RULES, NOW)
    assert evidence.attendance is Attendance.ABSENT
    assert len(sleeps) == 1 and meet.calls == 2


def test_server_errors_that_last_give_up(sandbox: RunningSandbox, sleeps: list[float]) -> None:
    code = video_session(sandbox)
    sandbox.control(
        "POST", "faults", {"method": "meet.conferenceRecords.list", "status": 503, "count": 9}
    )
    with pytest.raises(GoogleApiError) as caught:
        read(reader(sandbox, sleep=sleeps, policy=RetryPolicy(attempts=3)), code)
    assert caught.value.status == 503 and len(sleeps) == 2


def test_meeting_codes_come_from_meet_links_only() -> None:
    assert meeting_code({"hangoutLink": "https://meet.google.com/abc-defg-hij"}) == "abc-defg-hij"
    video = {"entryPointType": "video", "uri": "https://meet.google.com/xyz-abcd-efg"}
    assert meeting_code({"conferenceData": {"entryPoints": [video]}}) == "xyz-abcd-efg"
    zoom = {"entryPointType": "video", "uri": "https://zoom.us/j/123"}
    assert meeting_code({"conferenceData": {"entryPoints": [zoom]}}) is None
    assert meeting_code({"hangoutLink": "https://meet.google.com.evil.test/abc-defg-hij"}) is None
    assert meeting_code({}) is None


def test_meet_has_its_own_host_on_google_and_shares_the_sandboxs() -> None:
    from calendar_sync.google.client import GOOGLE_ROOT, api_endpoint

    assert api_endpoint("meet", GOOGLE_ROOT) == "https://meet.googleapis.com/"
    assert api_endpoint("calendar", GOOGLE_ROOT) == GOOGLE_ROOT + "calendar/v3/"
    assert api_endpoint("meet", "http://127.0.0.1:5001/") == "http://127.0.0.1:5001/"
