"""The patient's page in a real browser: choose a time, the barrier survey, bad links."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from calendar_sync.domain.times import when_words
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    OPENID,
    Grant,
)
from calendar_sync.mail.samples import SAMPLE_CONTEXTS
from calendar_sync.mail.templates import render
from calendar_sync.services.accounts.disconnect import disconnect_therapist
from calendar_sync.services.accounts.settings import load_settings, save_settings
from calendar_sync.services.notices import notices_for
from calendar_sync.services.patients import links
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.sync.calendar_list import refresh_calendar_list
from calendar_sync.services.sync.event_sync import sync_calendar
from calendar_sync.storage.models import BarrierAnswer, CalendarRow, RescheduleProposal, Therapist

THERAPIST = "dr.lee@example.test"
PATIENT = "sam.river@example.test"
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY]


@pytest.fixture
def practice(sandboxed_app: Any) -> tuple[Any, int]:
    """A connected therapist with one past session of the patient, synced."""
    now = datetime.now(UTC)
    start = (now - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    return set_up(sandboxed_app, now, start)


#: A Wednesday noon; the missed appointment was on Tuesday at 15:00 in London.
PINNED = datetime(2031, 6, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def pinned(sandboxed_app: Any) -> tuple[Any, int]:
    """:func:`practice` at a fixed instant, on the app's and the sandbox's clocks."""
    sandboxed_app.sandbox.control("POST", "clock", {"now": PINNED.isoformat()})
    runtime_of(sandboxed_app.app).clock = lambda: PINNED
    return set_up(sandboxed_app, PINNED, datetime(2031, 6, 3, 14, 0, tzinfo=UTC))


def set_up(env: Any, now: datetime, start: datetime) -> tuple[Any, int]:
    env.sandbox.add_account(THERAPIST, "Dr Lee", "Europe/London")
    secrets = json.loads(Path(env.app.config["GOOGLE_CLIENT_SECRETS"]).read_text())
    tokens = env.sandbox.issue_tokens(THERAPIST, SCOPES, secrets["web"]["client_id"])
    database = runtime_of(env.app).database
    keeper = runtime_of(env.app).connections
    with database.transaction() as db:
        therapist = Therapist(
            google_subject="sub-lee",
            email=THERAPIST,
            display_name="Dr Lee",
            time_zone="Europe/London",
            created_at=now,
        )
        db.add(therapist)
        db.flush()
        grant = Grant(
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_at=now + timedelta(seconds=int(tokens["expires_in"])),
            scopes=frozenset(SCOPES),
        )
        keeper.save_grant(db, therapist.id, grant, now)
        therapist_id = int(therapist.id)
    env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "id": "missed0001",
            "summary": "Sam",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
            "attendees": [{"email": PATIENT}],
        },
    )
    apis = keeper.apis(therapist_id, now)
    refresh_calendar_list(database, apis, therapist_id, frozenset(SCOPES), now)
    with database.transaction() as db:
        calendar_id = db.scalars(select(CalendarRow.id)).one()
    sync_calendar(database, apis, calendar_id, now)
    return env, therapist_id


def link(env: Any, therapist_id: int, purpose: str, now: datetime | None = None) -> str:
    with runtime_of(env.app).database.transaction() as db:
        return links.issue_link(
            db,
            therapist_id=therapist_id,
            calendar_id=THERAPIST,
            event_id="missed0001",
            purpose=purpose,
            now=now or datetime.now(UTC),
            config=env.app.config,
        )


def test_choose_a_time_moves_it_into_the_calendar_once(practice: Any, page: Any) -> None:
    env, therapist_id = practice
    url = link(env, therapist_id, links.CHOOSE_TIME)
    page.set_viewport_size({"width": 375, "height": 740})  # a phone
    page.goto(url)
    assert page.locator("h1").inner_text() == "Pick a new time"
    assert "Dr Lee" in page.content()
    body = page.locator("body").inner_text().lower()
    for word in ("therapy", "treatment", "sam", PATIENT):
        assert word not in body
    options = page.locator("input[name=start]")
    assert options.count() >= 2
    chosen = options.nth(1).get_attribute("value")
    options.nth(1).check()
    page.get_by_role("button", name="Choose this time").click()
    assert page.locator("h1").inner_text() == "See you then"
    with runtime_of(env.app).database.transaction() as db:
        (row,) = db.scalars(select(RescheduleProposal)).all()
        assert row.state == "accepted"
        assert row.slot_start == datetime.fromisoformat(str(chosen))
        kinds = [n.kind for n in notices_for(db, therapist_id)]
    assert kinds == ["patient_chose_time"]
    calendar = env.sandbox.state.calendar.find(THERAPIST)
    assert row.event_id in calendar.events
    invites = env.sandbox.control("GET", f"calendar/invitations?email={PATIENT}")["messages"]
    assert [m["kind"] for m in invites] == ["invitation"]
    # The same link again: already answered, nothing else happens.
    page.goto(url)
    assert page.locator("h1").inner_text() == "Already answered"
    assert len(env.sandbox.state.calendar.find(THERAPIST).events) == 2


def test_barrier_survey_is_stored_and_the_link_used_up(practice: Any, page: Any) -> None:
    env, therapist_id = practice
    url = link(env, therapist_id, links.BARRIER_SURVEY)
    page.goto(url)
    page.get_by_label("The cost").check()
    page.get_by_label("Work or childcare").check()
    page.get_by_label("Anything you would like to add (optional)").fill("Shifts changed.")
    page.get_by_role("button", name="Send").click()
    assert page.locator("h1").inner_text() == "Thank you"
    with runtime_of(env.app).database.transaction() as db:
        (answer,) = db.scalars(select(BarrierAnswer)).all()
        assert answer.reasons == "cost,work_or_childcare"
        assert answer.other_text == "Shifts changed."
        (notice,) = notices_for(db, therapist_id)
        assert "Sam" not in notice.text
    # Posting the old form again changes nothing.
    request = urllib.request.Request(url, data=b"reason=health", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert "Already answered" in response.read().decode()
    with runtime_of(env.app).database.transaction() as db:
        assert len(db.scalars(select(BarrierAnswer)).all()) == 1


def test_tampered_and_expired_links(practice: Any, page: Any) -> None:
    env, therapist_id = practice
    url = link(env, therapist_id, links.WILL_GET_IN_TOUCH)
    response = page.goto(url[:-3] + "xyz")
    assert response.status == 400
    assert page.locator("h1").inner_text() == "This link does not work"
    old = link(env, therapist_id, links.WILL_GET_IN_TOUCH, datetime.now(UTC) - timedelta(days=15))
    response = page.goto(old)
    assert response.status == 410
    assert "please reply to the email" in page.locator("body").inner_text()


def test_asking_to_be_contacted_means_one_thing_from_the_email_to_the_notice(
    practice: Any, page: Any
) -> None:
    env, therapist_id = practice
    url = link(env, therapist_id, links.WILL_GET_IN_TOUCH)
    # The email: the link asks the therapist to get in touch; clicking alone does not.
    for name in ("checkin", "reschedule_note"):
        email = render(name, {**SAMPLE_CONTEXTS[name], "get_in_touch_url": url})
        assert f"ask me to get in touch here:\n{url}" in email.text, name
        assert f'ask me to get in touch here:<br>\n<a href="{url}">' in email.html, name
    # The page asks first, and thanks only once the patient has asked.
    page.goto(url)
    assert page.locator("h1").inner_text() == "Would you like Dr Lee to get in touch?"
    assert "thank" not in page.locator("body").inner_text().lower()
    page.get_by_role("button", name="Please get in touch with me").click()
    assert page.locator("h1").inner_text() == "Thank you"
    assert "Dr Lee knows you would like them to get in touch" in page.content()
    with runtime_of(env.app).database.transaction() as db:
        (notice,) = notices_for(db, therapist_id)
    assert notice.kind == "patient_asks_for_contact"
    assert "asks you to get in touch with them" in notice.text


def name_the_practice(env: Any, therapist_id: int, name: str) -> None:
    with runtime_of(env.app).database.transaction() as db:
        settings = load_settings(db, therapist_id)
        practice = replace(settings.practice, practice_name=name)
        save_settings(db, therapist_id, replace(settings, practice=practice), PINNED)


def test_times_in_date_order_the_zone_once_and_none_of_these_works(pinned: Any, page: Any) -> None:
    env, therapist_id = pinned
    name_the_practice(env, therapist_id, "Riverside Rooms")
    url = link(env, therapist_id, links.CHOOSE_TIME, PINNED)
    page.goto(url)
    assert page.locator("#practice-name").inner_text() == "Riverside Rooms"
    starts = [
        datetime.fromisoformat(str(value))
        for value in page.locator("input[name=start]").evaluate_all("els => els.map(e => e.value)")
    ]
    assert len(starts) >= 3 and starts == sorted(starts)
    labels = page.locator("fieldset label").all_inner_texts()
    assert labels[0].strip() == when_words(starts[0], ZoneInfo("Europe/London"))
    body = page.locator("body").inner_text()
    assert body.count("Europe/London") == 1
    assert "In place of our appointment on Tuesday 3 June at 15:00" in body

    page.get_by_role("button", name="None of these work, please contact me").click()
    assert page.locator("h1").inner_text() == "Thank you"
    assert "Dr Lee knows you would like them to get in touch" in page.content()
    assert page.locator("#practice-name").inner_text() == "Riverside Rooms"
    with runtime_of(env.app).database.transaction() as db:
        (notice,) = notices_for(db, therapist_id)
        (answer,) = links.answers_for(db, therapist_id)
        proposals = db.scalars(select(RescheduleProposal.state)).all()
    assert notice.kind == "patient_none_suit"
    assert "none of the times offered suit" in notice.text and "Sam" not in notice.text
    assert answer.kind == links.NONE_SUIT
    assert "accepted" not in proposals  # nothing was chosen
    page.goto(url)
    assert page.locator("h1").inner_text() == "Already answered"
    assert page.locator("#practice-name").inner_text() == "Riverside Rooms"


def test_every_page_about_a_link_names_the_practice(pinned: Any, page: Any) -> None:
    env, therapist_id = pinned
    for purpose in (links.BARRIER_SURVEY, links.WILL_GET_IN_TOUCH):
        page.goto(link(env, therapist_id, purpose, PINNED))
        # no practice name set: the practitioner's own name stands for it
        assert page.locator("#practice-name").inner_text() == "Dr Lee"
        assert "Tuesday 3 June at 15:00" in page.locator("body").inner_text()
    name_the_practice(env, therapist_id, "Riverside Rooms")
    expired = link(env, therapist_id, links.WILL_GET_IN_TOUCH, PINNED - timedelta(days=15))
    assert page.goto(expired).status == 410
    assert page.locator("#practice-name").inner_text() == "Riverside Rooms"


def test_a_link_from_a_therapist_who_disconnected_says_so_kindly(pinned: Any, page: Any) -> None:
    env, therapist_id = pinned
    url = link(env, therapist_id, links.CHOOSE_TIME, PINNED)
    disconnect_therapist(runtime_of(env.app), therapist_id, now=PINNED)
    response = page.goto(url)
    assert response.status == 410
    assert page.locator("h1").inner_text() == "This link is no longer in use"
    body = page.locator("body").inner_text()
    assert "nothing wrong with the link you used" in body and "reply to the email" in body
    assert "not right" not in body
    request = urllib.request.Request(url, data=b"none_suit=1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 410
