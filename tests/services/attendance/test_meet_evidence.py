"""Meet evidence end to end: the cycle reads the sandbox's Meet API, and what each case brings.

Each test drives the real cycle against the sandbox (Calendar, Meet and Gmail over HTTP)
and shows what the therapist sees (Today, in words) and what reaches the patient.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from calendar_sync.domain.marks import MarkSource
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.accounts.settings import (
    load_settings,
    save_settings,
    set_meet_evidence,
    with_policy,
)
from calendar_sync.services.attendance.meet import MEET_SCOPE, meet_status
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.followup.marks import record_mark
from calendar_sync.services.pages.calendar_panel import SessionView, event_view
from calendar_sync.services.pages.today import waiting_for_mark
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import (
    FollowUpAction,
    MeetEvidence,
    OutboxMessage,
    Patient,
    Therapist,
    TherapistNotice,
)
from calendar_sync.web.addon_cards import pushed, session_card

from ...addon_calls import cards_in, texts

THERAPIST = "dr.okafor@example.test"
PATIENT = "sam.patient@example.test"
START = datetime(2026, 3, 19, 10, 0, tzinfo=UTC)  # London is on UTC until 29 March
END = START + timedelta(minutes=50)
CONNECTED = START - timedelta(days=2)
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND, MEET_SCOPE]
HOLD = DEFAULT_PATIENT_HOLD


def iso(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def after_end(minutes: float) -> datetime:
    return END + timedelta(minutes=minutes)


@pytest.fixture
def env(sandboxed_app: Any, connect: Callable[..., int]) -> Any:
    """A therapist with Meet evidence on, and today's video session with Sam, unmarked."""
    sandbox = sandboxed_app.sandbox
    sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    therapist_id = connect(THERAPIST, CONNECTED, scopes=SCOPES, with_calendars=True)
    with runtime_of(sandboxed_app.app).database.transaction() as db:
        # Sign-in records the Google account id; Meet names the therapist by it.
        therapist = db.get(Therapist, therapist_id)
        assert therapist is not None
        therapist.google_subject = sandbox.state.accounts[THERAPIST].id
        settings = load_settings(db, therapist_id)
        policy = replace(settings.policy, meet_evidence=True)
        save_settings(db, therapist_id, with_policy(settings, policy), CONNECTED)
    event = sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Sam R",
            "start": {"dateTime": "2026-03-19T10:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-19T10:50:00", "timeZone": "Europe/London"},
            "attendees": [{"email": PATIENT}],
        },
    )
    sandboxed_app.therapist_id = therapist_id
    sandboxed_app.event_id = event["id"]
    sandboxed_app.code = sandbox.add_meet_link(THERAPIST, event["id"])
    return sandboxed_app


def therapist(a: float = -2, b: float = 51) -> dict[str, Any]:
    return {"kind": "signedin", "email": THERAPIST, "stays": [[iso(a), iso(b)]]}


def patient(a: float, b: float, kind: str = "anonymous") -> dict[str, Any]:
    return {"kind": kind, "name": "Sam R", "stays": [[iso(a), iso(b)]]}


def conference(env: Any, people: list[dict[str, Any]], *, published: float = 5) -> None:
    ends = [b for p in people for _, b in p["stays"]]
    env.sandbox.add_conference(
        env.code,
        min(a for p in people for a, _ in p["stays"]) if people else iso(0),
        max(ends) if ends else iso(50),
        people,
        publish_at=after_end(published).isoformat(),
    )


def tick(env: Any, when: datetime) -> list[str]:
    env.sandbox.control("POST", "clock", {"now": when.isoformat()})
    return run_cycle(runtime_of(env.app), now=when, dry_run=False).lines()


def to_patient(env: Any) -> list[str]:
    """The statuses of everything for the patient: held, sent..."""
    with runtime_of(env.app).database.transaction() as db:
        return [
            m.status
            for m in db.scalars(
                select(OutboxMessage).where(OutboxMessage.recipient_role == "patient")
            )
        ]


def mailed_patient(env: Any) -> list[dict[str, Any]]:
    return [m for m in env.sandbox.control("GET", "mail")["messages"] if PATIENT in m["to"]]


def today(env: Any, when: datetime) -> Any:
    [item] = waiting_for_mark(runtime_of(env.app), env.therapist_id, when)
    return item


def evidence(env: Any) -> MeetEvidence:
    with runtime_of(env.app).database.transaction() as db:
        row = db.scalar(select(MeetEvidence))
        assert row is not None
        db.expunge(row)
        return row


def meet_calls(env: Any) -> int:
    calls = env.sandbox.control("GET", "calls")["calls"]
    return sum(n for method, n in calls.items() if method.startswith("meet."))


def test_present_counts_as_attended_and_nothing_goes_to_the_patient(
    env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    conference(env, [therapist(), patient(2, 49)])
    with caplog.at_level(logging.DEBUG):
        tick(env, after_end(15))
    # Nothing from Meet reaches the logs: no name, address or meeting code.
    assert caplog.records
    for text in ("Sam R", PATIENT, env.code, env.sandbox.state.accounts[THERAPIST].id):
        assert text not in caplog.text
    item = today(env, after_end(15))
    assert item.video == "joined by video 10:02 to 10:49"
    assert item.by_video and item.assumed == "attended"
    assert meet_calls(env) == 2
    for hours in (3, 21, 30):
        tick(env, after_end(60 * hours))
    assert to_patient(env) == [] and mailed_patient(env) == []
    with runtime_of(env.app).database.transaction() as db:
        # Not even a reminder to mark: the call settled it.
        assert db.scalars(select(FollowUpAction)).all() == []
    row = evidence(env)
    assert (row.attendance, row.minutes, row.checks) == ("present", 47, 1)
    assert meet_calls(env) == 2  # settled: never read again


def test_therapist_alone_is_followed_up_without_waiting_out_the_unmarked_hold(env: Any) -> None:
    conference(env, [therapist()])
    tick(env, after_end(15))
    item = today(env, after_end(15))
    assert item.video == "only you joined the video call"
    assert item.by_video and item.assumed == Outcome.NO_SHOW.label
    # The check-in is decided now, and waits only for the patient-facing hold.
    assert to_patient(env) == ["pending"]
    tick(env, after_end(15) + HOLD - timedelta(minutes=1))
    assert mailed_patient(env) == []
    tick(env, after_end(15) + HOLD + timedelta(minutes=1))
    [mail] = mailed_patient(env)
    assert "10:00" in mail["text"]
    assert "Meet" not in mail["text"]  # the patient is not told how we know


def test_the_therapists_mark_wins_over_the_call(env: Any) -> None:
    conference(env, [therapist()])
    with runtime_of(env.app).database.transaction() as db:
        record_mark(
            db,
            therapist_id=env.therapist_id,
            calendar_id=THERAPIST,
            event_id=env.event_id,
            outcome=Outcome.ATTENDED,
            source=MarkSource.DASHBOARD,
            now=after_end(1),
        )
    tick(env, after_end(15))
    tick(env, after_end(60 * 21))
    assert to_patient(env) == []
    assert evidence(env).attendance == "absent"


def test_no_record_waits_an_hour_then_the_convention_applies(env: Any) -> None:
    tick(env, after_end(15))
    assert evidence(env).attendance == "pending"
    assert today(env, after_end(15)).video == "video call: waiting for Google Meet's record"
    tick(env, after_end(75))
    assert evidence(env).attendance == "no_evidence"
    assert today(env, after_end(75)).video == "no Google Meet record for this session"
    assert evidence(env).checks == 2
    tick(env, after_end(80))
    assert evidence(env).checks == 2  # settled: not read again
    tick(env, after_end(60 * 19))
    assert to_patient(env) == []
    tick(env, after_end(60 * 20 + 5))  # the unmarked hold is over
    assert to_patient(env) == ["pending"]


def test_a_late_record_is_read_when_it_comes_out(env: Any) -> None:
    conference(env, [therapist(), patient(0, 50)], published=40)
    tick(env, after_end(15))
    assert evidence(env).attendance == "pending"
    tick(env, after_end(45))
    assert evidence(env).attendance == "present"
    assert today(env, after_end(45)).video == "joined by video 10:00 to 10:50"
    tick(env, after_end(60 * 21))
    assert to_patient(env) == []


@pytest.mark.parametrize(
    ("stay", "words", "attended"),
    [
        ((35, 49), "joined by video 10:35 to 10:49", True),
        (
            (47, 49),
            "joined by video 10:47 to 10:49, 2 minutes in the session: too short to count as there",
            False,
        ),
    ],
)
def test_partial_attendance(
    env: Any, stay: tuple[float, float], words: str, attended: bool
) -> None:
    conference(env, [therapist(), patient(*stay)])
    tick(env, after_end(15))
    assert today(env, after_end(15)).video == words
    tick(env, after_end(60 * 20 + 5))
    # Too short to count: the therapist's setting decides, as without Meet.
    assert to_patient(env) == ([] if attended else ["pending"])


def test_a_phone_dial_in_counts_as_there(env: Any) -> None:
    conference(env, [therapist(), patient(3, 50, kind="phone")])
    tick(env, after_end(15))
    assert today(env, after_end(15)).video == "joined by video 10:03 to 10:50"
    tick(env, after_end(60 * 21))
    assert to_patient(env) == []


def test_a_withdrawn_scope_pauses_meet_and_the_rest_of_the_cycle_goes_on(env: Any) -> None:
    conference(env, [therapist()])
    env.sandbox.control(
        "POST",
        "faults",
        {"method": "meet.conferenceRecords.list", "status": 403, "reason": "forbidden"},
    )
    lines = tick(env, after_end(15))
    assert any("Meet evidence paused" in line for line in lines)
    with runtime_of(env.app).database.transaction() as db:
        [notice] = db.scalars(select(TherapistNotice).where(TherapistNotice.kind == "meet_scope"))
        assert "Turn Meet evidence on again in Settings" in notice.text
        assert db.scalar(select(MeetEvidence)) is None
        # The feature is off, and the dashboard says so, until the scope is granted again.
        assert meet_status(db, env.therapist_id) == "not_granted"
    tick(env, after_end(20))
    assert meet_calls(env) == 1
    # Without evidence the convention runs as before: a reminder, then the hold.
    tick(env, after_end(60 * 20 + 5))
    assert to_patient(env) == ["pending"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retried_within_the_cycle(env: Any, status: int) -> None:
    conference(env, [therapist(), patient(0, 50)])
    fault = {"method": "meet.conferenceRecords.participants.list", "status": status}
    env.sandbox.control("POST", "faults", fault)
    tick(env, after_end(15))
    assert evidence(env).attendance == "present"


def test_a_record_gone_missing_is_read_again_at_the_next_cycle(env: Any) -> None:
    conference(env, [therapist(), patient(0, 50)])
    fault = {"method": "meet.conferenceRecords.participants.list", "status": 404}
    env.sandbox.control("POST", "faults", fault)
    lines = tick(env, after_end(15))
    assert any("1 waiting" in line for line in lines)
    tick(env, after_end(20))
    assert evidence(env).attendance == "present"


def test_with_meet_evidence_off_nothing_is_read(env: Any) -> None:
    with runtime_of(env.app).database.transaction() as db:
        settings = load_settings(db, env.therapist_id)
        policy = replace(settings.policy, meet_evidence=False)
        save_settings(db, env.therapist_id, with_policy(settings, policy), CONNECTED)
    conference(env, [therapist(), patient(0, 50)])
    tick(env, after_end(15))
    assert meet_calls(env) == 0
    assert today(env, after_end(15)).video is None


def page(env: Any, path: str, when: datetime) -> str:
    """The page at ``path`` as the signed-in therapist sees it at ``when``."""
    from calendar_sync.services.accounts.sign_ins import open_sign_in

    runtime = runtime_of(env.app)
    runtime.clock = lambda: when
    with runtime.database.transaction() as db:
        secret = open_sign_in(db, env.therapist_id, when)
    serializer = env.app.session_interface.get_signing_serializer(env.app)
    browser = requests.Session()
    browser.cookies.set(
        env.app.config.get("SESSION_COOKIE_NAME", "session"),
        serializer.dumps({"sign_in": secret, "csrf": "t"}),
        domain="127.0.0.1",
        path="/",
    )
    answer = browser.get(env.url + path, timeout=10)
    assert answer.status_code == 200, answer.text[:500]
    return html.unescape(answer.text)


def patient_id(env: Any) -> int:
    with runtime_of(env.app).database.transaction() as db:
        found = db.scalar(select(Patient.id).where(Patient.email == PATIENT))
        assert found is not None
        return int(found)


def test_the_therapist_reads_the_call_on_today_the_chart_and_the_follow_up(env: Any) -> None:
    conference(env, [therapist()])
    tick(env, after_end(15))
    today_page = page(env, "/dashboard", after_end(16))
    assert "Google Meet: only you joined the video call." in today_page
    assert "Counted as no-show from the video call" in today_page
    assert 'id="meet-on"' in today_page
    follow_up = page(env, "/followups/", after_end(16))
    assert "Google Meet showed nobody but you joined the video call" in follow_up
    assert "Google Meet: only you joined the video call." in follow_up
    chart = page(env, f"/patients/{patient_id(env)}", after_end(16))
    assert "Google Meet: only you joined the video call" in chart


def test_a_patient_who_joined_reads_as_such_on_today_and_the_chart(env: Any) -> None:
    conference(env, [therapist(), patient(2, 49)])
    tick(env, after_end(15))
    today_page = page(env, "/dashboard", after_end(16))
    assert "Google Meet: joined by video 10:02 to 10:49." in today_page
    assert "Counted as attended from the video call: nothing goes to the patient." in today_page
    chart = page(env, f"/patients/{patient_id(env)}", after_end(16))
    assert "Google Meet: joined by video 10:02 to 10:49" in chart


def test_turning_meet_off_takes_back_what_it_decided_and_had_not_gone(env: Any) -> None:
    conference(env, [therapist()])
    tick(env, after_end(15))
    assert to_patient(env) == ["pending"]
    with runtime_of(env.app).database.transaction() as db:
        set_meet_evidence(db, env.therapist_id, False, after_end(20))
    tick(env, after_end(25))
    # Within the unmarked hold again: nothing goes until the therapist's setting says so.
    assert "pending" not in to_patient(env)
    tick(env, after_end(15) + HOLD + timedelta(minutes=5))
    assert mailed_patient(env) == []
    tick(env, after_end(60 * 20 + 5))
    assert to_patient(env).count("pending") == 1


def test_the_calendar_panel_shows_the_call_beside_the_session(env: Any) -> None:
    conference(env, [therapist(), patient(2, 49)])
    tick(env, after_end(15))
    view = event_view(runtime_of(env.app), env.therapist_id, THERAPIST, env.event_id, after_end(16))
    assert isinstance(view, SessionView)
    assert view.video == "joined by video 10:02 to 10:49"
    assert view.mark_words.startswith("Attended")
    (card,) = cards_in(pushed(session_card(view, "https://practice.example.test/addon/action")))
    shown = texts(card)
    assert "Google Meet\njoined by video 10:02 to 10:49" in shown
    assert "If it stays unmarked" not in shown


def test_the_calendar_panel_says_nothing_of_video_before_a_call_is_read(env: Any) -> None:
    tick(env, after_end(-30))  # the session is under way: nothing to read yet
    view = event_view(
        runtime_of(env.app), env.therapist_id, THERAPIST, env.event_id, after_end(-29)
    )
    assert isinstance(view, SessionView)
    assert view.video is None
    assert "Google Meet" not in texts(session_card(view, "https://practice.example.test/a"))
