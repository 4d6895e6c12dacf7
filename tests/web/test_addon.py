"""The Calendar add-on's endpoints: every request verified, cards that parse, marks that count.

Google Calendar's side is played by the sandbox, which signs ID tokens with a key it
publishes under the configured API root; the service checks them as it would Google's.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.services.pages.today import waiting_for_mark
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import (
    CalendarEventRow,
    OutboxMessage,
    SessionMark,
    SessionOverride,
    Therapist,
)

from ..addon_calls import Calendar, button, cards_in, forged_token, texts
from .conftest import Practice

THERAPIST = "dr.rivera@example.test"
OTHER = "dr.okafor@example.test"
# The first therapist of each test's fresh database.
THERAPIST_ID = 1
PATIENT = "sam.patient@example.test"


def linked(practice: Practice, email: str) -> int:
    """A connected therapist whose stored Google identity is the sandbox account's."""
    therapist_id = practice.therapist(email)
    with runtime_of(practice.app).database.transaction() as db:
        therapist = db.get(Therapist, therapist_id)
        assert therapist is not None
        therapist.google_subject = practice.env.sandbox.state.accounts[email].id
    return therapist_id


def calendar(practice: Practice) -> Calendar:
    return Calendar(
        practice.url, practice.env.sandbox, Path(practice.app.config["GOOGLE_CLIENT_SECRETS"])
    )


def session_ref(practice: Practice, therapist_id: int) -> tuple[str, str]:
    with runtime_of(practice.app).database.transaction() as db:
        row = db.scalars(select(CalendarEventRow).where(CalendarEventRow.is_session)).first()
        assert row is not None
        return THERAPIST if therapist_id else "", row.event_id


def stored_marks(practice: Practice) -> list[str]:
    with runtime_of(practice.app).database.transaction() as db:
        return [f"{m.source}:{m.outcome}" for m in db.scalars(select(SessionMark))]


@pytest.fixture
def panel(practice: Practice) -> tuple[Practice, Calendar, tuple[str, str]]:
    """A therapist with a session that ended three hours ago, unmarked, and Calendar."""
    therapist_id = linked(practice, THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(hours=3), color=None)
    practice.tick()
    return practice, calendar(practice), session_ref(practice, therapist_id)


def test_event_open_shows_the_session_and_a_mark_updates_it(panel: Any) -> None:
    practice, google, ref = panel
    answer = google.post("/addon/event", THERAPIST, event=ref)
    assert answer.status_code == 200, answer.text
    (card,) = cards_in(answer.json())
    shown = texts(card)
    assert "sam.patient@example.test" in shown  # the patient as the therapist knows them
    assert "Not marked yet" in shown
    assert "If it stays unmarked, it counts as a no-show from" in shown
    assert "a check-in email to the patient" in shown
    assert "ladder step 1" in shown
    assert "1 session, 0 attended, 0 missed, 1 not marked" in shown
    for label in ("Attended", "No-show", "Late cancel", "Cancelled in time", "Cancelled by me"):
        assert f"[{label}]" in shown

    marked = google.press(THERAPIST, button(card, "No-show"))
    assert marked.status_code == 200, marked.text
    (after,) = cards_in(marked.json())
    assert "No-show (marked from the calendar)" in texts(after)
    assert button(after, "No-show")["type"] == "FILLED"
    assert "[Clear mark]" in texts(after)
    assert "Nothing reaches the patient before your hold ends" in str(marked.json())
    assert stored_marks(practice) == ["calendar_panel:no_show"]
    # The dashboard agrees: the session no longer waits for a mark, Activity says where from.
    assert waiting_for_mark(runtime_of(practice.app), THERAPIST_ID, practice.now) == []
    activity = practice.browser(THERAPIST_ID).get(practice.url + "/activity", timeout=10)
    assert "from the calendar" in activity.text


def test_the_panel_holds_what_is_about_to_go_out(panel: Any) -> None:
    practice, google, ref = panel
    google.press(
        THERAPIST,
        button(cards_in(google.post("/addon/event", THERAPIST, event=ref).json())[0], "No-show"),
    )
    practice.tick(practice.now + timedelta(minutes=5))
    home = google.post("/addon/homepage", THERAPIST)
    assert home.status_code == 200, home.text
    (card,) = cards_in(home.json())
    assert "About to go out" in texts(card)
    held = google.press(THERAPIST, button(card, "Hold"))
    (after,) = cards_in(held.json())
    assert "Held: it waits until you release it" in texts(after)
    assert "[Release]" in texts(after)
    with runtime_of(practice.app).database.transaction() as db:
        statuses = [m.status for m in db.scalars(select(OutboxMessage))]
    assert "held" in statuses
    # The event's own card shows the held email with its text.
    (event_card,) = cards_in(google.post("/addon/event", THERAPIST, event=ref).json())
    assert "Held: it waits until you release it" in texts(event_card)


def test_homepage_marks_in_one_click(panel: Any) -> None:
    practice, google, _ref = panel
    (card,) = cards_in(google.post("/addon/homepage", THERAPIST).json())
    assert "Waiting for a mark" in texts(card) and "Sam R" in texts(card)
    (after,) = cards_in(google.press(THERAPIST, button(card, "Attended")).json())
    assert "No session is waiting for a mark." in texts(after)
    assert stored_marks(practice) == ["calendar_panel:attended"]


def test_not_a_session_says_why_and_can_be_treated_as_one(practice: Practice) -> None:
    linked(practice, THERAPIST)
    practice.env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Supervision",
            "start": {"dateTime": (practice.now - timedelta(hours=2)).isoformat()},
            "end": {"dateTime": (practice.now - timedelta(hours=1)).isoformat()},
            "attendees": [{"email": "a@example.test"}, {"email": "b@example.test"}],
        },
    )
    practice.tick()
    with runtime_of(practice.app).database.transaction() as db:
        row = db.scalars(select(CalendarEventRow)).one()
        assert not row.is_session
        ref = (THERAPIST, row.event_id)
    google = calendar(practice)
    (card,) = cards_in(google.post("/addon/event", THERAPIST, event=ref).json())
    assert "Not a session: it has more than one guest." in texts(card)
    treated = google.press(THERAPIST, button(card, "Treat as a session"))
    (after,) = cards_in(treated.json())
    assert "Not marked yet" in texts(after)
    # The next sync keeps it a session.
    practice.tick(practice.now + timedelta(minutes=1))
    with runtime_of(practice.app).database.transaction() as db:
        assert db.scalars(select(CalendarEventRow)).one().is_session
        assert len(list(db.scalars(select(SessionOverride)))) == 1


def test_someone_not_connected_gets_the_connect_card(practice: Practice) -> None:
    practice.env.sandbox.add_account("new.therapist@example.test")
    google = calendar(practice)
    for path in ("/addon/homepage", "/addon/event"):
        answer = google.post(path, "new.therapist@example.test", event=("x@example.test", "e1"))
        assert answer.status_code == 200, answer.text
        (card,) = cards_in(answer.json())
        link = button(card, "Connect")["onClick"]["openLink"]
        assert link == {
            "url": practice.url + "/connect",
            "openAs": "FULL_SIZE",
            "onClose": "RELOAD",
        }
    # ... and can do nothing else.
    refused = google.post(
        "/addon/action",
        "new.therapist@example.test",
        parameters={"do": "mark", "calendar_id": "x", "event_id": "e1", "outcome": "no_show"},
    )
    assert refused.status_code == 401


def _forgeries(google: Calendar, practice: Practice, url: str) -> dict[str, dict[str, str]]:
    """Each way a request can be wrong, as (bearer, userIdToken) overrides."""
    return {
        "no bearer token": {"bearer": ""},
        "bearer signed by an unpublished key": {"bearer": forged_token(url, "addon")},
        "expired bearer": {"bearer": google.token(url, lifetime=-120)},
        "bearer for another endpoint": {"bearer": google.token(practice.url + "/addon/other")},
        "bearer from another issuer": {
            "bearer": google.token(url, issuer="https://issuer.example.test")
        },
        "user token signed by an unpublished key": {
            "user_token": forged_token(google.client_id, "someone")
        },
        "expired user token": {"user_token": google.user_token(THERAPIST, lifetime=-120)},
        "user token for another client": {
            "user_token": google.token("other-client", email=THERAPIST)
        },
        "no user token": {"user_token": ""},
    }


@pytest.mark.parametrize("path", ["/addon/homepage", "/addon/event", "/addon/action"])
def test_forged_requests_are_refused_and_change_nothing(
    panel: Any, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    practice, google, ref = panel
    parameters = {"do": "mark", "calendar_id": ref[0], "event_id": ref[1], "outcome": "no_show"}
    for why, override in _forgeries(google, practice, practice.url + path).items():
        answer = google.post(path, THERAPIST, event=ref, parameters=parameters, **override)
        assert answer.status_code == 401, why
        assert answer.json() == {"error": "unauthorized"}, why
    assert stored_marks(practice) == []
    # The log says why, for the maintainer, and never holds a token or an address.
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == len(_forgeries(google, practice, practice.url + path))
    assert any("expired" in line for line in refusals)
    assert not any("eyJ" in line or "@" in line for line in refusals)


def test_actions_on_another_therapists_sessions_are_refused(panel: Any) -> None:
    practice, google, ref = panel
    linked(practice, OTHER)
    # Dr Rivera's no-show, and its check-in queued.
    google.press(
        THERAPIST,
        button(cards_in(google.post("/addon/event", THERAPIST, event=ref).json())[0], "No-show"),
    )
    practice.tick(practice.now + timedelta(minutes=5))
    with runtime_of(practice.app).database.transaction() as db:
        message = db.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient_role == "patient")
        ).one()
        message_id, status = message.id, message.status
    attempts = [
        {"do": "mark", "calendar_id": ref[0], "event_id": ref[1], "outcome": "attended"},
        {"do": "outbox", "message_id": str(message_id), "change": "cancel"},
        {"do": "treat", "calendar_id": ref[0], "event_id": ref[1], "series": ""},
    ]
    for parameters in attempts:
        answer = google.post("/addon/action", OTHER, parameters={**parameters, "view": "day"})
        assert answer.status_code == 401, parameters
    assert stored_marks(practice) == ["calendar_panel:no_show"]
    with runtime_of(practice.app).database.transaction() as db:
        assert db.get(OutboxMessage, message_id).status == status  # type: ignore[union-attr]
        assert list(db.scalars(select(SessionOverride))) == []


def test_a_whole_series_can_be_treated_as_sessions(practice: Practice) -> None:
    linked(practice, THERAPIST)
    first = practice.now - timedelta(days=14, hours=2)
    practice.env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Couple: R & T",
            "start": {"dateTime": first.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (first + timedelta(minutes=50)).isoformat(), "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
            "attendees": [{"email": "r@example.test"}, {"email": "t@example.test"}],
        },
    )
    practice.tick()
    with runtime_of(practice.app).database.transaction() as db:
        rows = list(db.scalars(select(CalendarEventRow).order_by(CalendarEventRow.start)))
        assert len(rows) == 4 and not any(r.is_session for r in rows)
        ref = (THERAPIST, rows[0].event_id)
    google = calendar(practice)
    (card,) = cards_in(google.post("/addon/event", THERAPIST, event=ref).json())
    assert "Not a session: it has more than one guest." in texts(card)
    google.press(THERAPIST, button(card, "Treat the whole series as sessions"))
    practice.tick(practice.now + timedelta(minutes=1))
    with runtime_of(practice.app).database.transaction() as db:
        assert all(r.is_session for r in db.scalars(select(CalendarEventRow)))
        (override,) = db.scalars(select(SessionOverride))
        assert override.series and override.event_id == rows[0].recurring_event_id
