"""The patients pages after real cycles: figures, the chart, fees, waivers, isolation."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from calendar_sync.domain.money import Money
from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.accounts.settings import load_settings, save_settings, with_policy
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import FeeEntry

from .conftest import signed_in_session

# The story happens in the days before NOW; the pages' clock is pinned to it.
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=10)
THERAPIST = "dr.rivera@example.test"
OTHER = "dr.okafor@example.test"
PATIENT = "sam.patient@example.test"
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    runtime_of(sandboxed_app.app).clock = lambda: NOW + DEFAULT_PATIENT_HOLD
    return sandboxed_app


def connected(env: Any, connect: Callable[..., int], email: str) -> int:
    return connect(email, CONNECTED, scopes=SCOPES, with_calendars=True)


def browser_for(env: Any, therapist_id: int) -> requests.Session:
    """A signed-in browser: the session cookie made by the app's own signer."""
    browser = requests.Session()
    serializer = env.app.session_interface.get_signing_serializer(env.app)
    cookie = serializer.dumps(signed_in_session(env.app, therapist_id))
    browser.cookies.set(env.app.config.get("SESSION_COOKIE_NAME", "session"), cookie)
    return browser


def test_fees_are_charged_shown_waived_and_exported(env: Any, connect: Callable[..., int]) -> None:
    therapist_id = connected(env, connect, THERAPIST)
    database = runtime_of(env.app).database
    with database.transaction() as db:
        settings = load_settings(db, therapist_id)
        policy = settings.policy.__class__(
            **{**settings.policy.__dict__, "no_show_fee": Money(4000, "GBP")}
        )
        save_settings(db, therapist_id, with_policy(settings, policy), CONNECTED)
    calendar = env.sandbox.service("calendar", "v3", THERAPIST, [CALENDAR_EVENTS]).events()
    for days_ago, colour in ((8, "10"), (1, "11")):
        start = NOW - timedelta(days=days_ago)
        event = env.sandbox.control(
            "POST",
            f"calendar/{THERAPIST}/events",
            {
                "summary": "Sam R",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
                "attendees": [{"email": PATIENT}],
            },
        )
        # the therapist colours the session after it happened: Basil attended, Tomato no-show
        after = start + timedelta(hours=1)
        env.sandbox.control("POST", "clock", {"now": after.isoformat()})
        calendar.patch(
            calendarId=THERAPIST, eventId=event["id"], body={"colorId": colour}
        ).execute()
    env.sandbox.control("POST", "clock", {"now": NOW.isoformat()})
    run_cycle(runtime_of(env.app), now=NOW, dry_run=False)
    with database.transaction() as db:
        (held,) = db.scalars(select(FeeEntry)).all()
        assert held.held_until == NOW + DEFAULT_PATIENT_HOLD  # waits with its email
    later = NOW + DEFAULT_PATIENT_HOLD
    env.sandbox.control("POST", "clock", {"now": later.isoformat()})
    run_cycle(runtime_of(env.app), now=later, dry_run=False)
    with database.transaction() as db:
        (charged,) = db.scalars(select(FeeEntry)).all()
        # recorded when its email went out, not when the session was marked
        assert charged.held_until is None and charged.created_at == later

    browser = browser_for(env, therapist_id)
    listing = browser.get(env.url + "/patients/", timeout=10).text
    assert PATIENT in listing
    assert "GBP 40.00" in listing
    assert "50%" in listing  # one attended, one missed
    patient_url = re.search(r'href="(/patients/\d+)"', listing)
    assert patient_url is not None
    page = browser.get(env.url + patient_url.group(1), timeout=10).text
    assert "<svg" in page and "1 attended, 1 no-show" in page
    # waive with a reason
    waive = re.search(r'name="event_id" value="([^"]+)"', page)
    assert waive is not None
    answer = browser.post(
        env.url + patient_url.group(1) + "/waive",
        data={
            "csrf_token": "token-for-tests",
            "calendar_id": THERAPIST,
            "event_id": waive.group(1),
            "reason": "Flat tyre, told me the day before",
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert 'id="balance">GBP 0.00' in answer.text
    rows = list(
        csv.reader(io.StringIO(browser.get(env.url + "/patients/fees.csv", timeout=10).text))
    )
    assert len(rows) == 3  # header, charge, waiver
    assert any("Flat tyre" in cell for cell in rows[2])

    # another therapist sees none of it
    other = browser_for(env, connected(env, connect, OTHER))
    assert other.get(env.url + patient_url.group(1), timeout=10).status_code == 404
    assert PATIENT not in other.get(env.url + "/patients/", timeout=10).text
    assert (
        len(
            list(
                csv.reader(io.StringIO(other.get(env.url + "/patients/fees.csv", timeout=10).text))
            )
        )
        <= 1
    )


def test_opting_out_is_saved_and_needs_the_form_token(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connected(env, connect, THERAPIST)
    browser = browser_for(env, therapist_id)
    added = browser.post(
        env.url + "/patients/",
        data={"csrf_token": "token-for-tests", "name": "AB", "email": PATIENT},
        timeout=10,
    )
    assert added.status_code == 200 and "AB" in added.text
    link = re.search(r'href="(/patients/\d+)"', added.text)
    assert link is not None
    assert (
        browser.post(env.url + link.group(1), data={"do_not_email": "on"}, timeout=10).status_code
        == 400
    )
    saved = browser.post(
        env.url + link.group(1),
        data={
            "csrf_token": "token-for-tests",
            "name": "AB",
            "email": PATIENT,
            "do_not_email": "on",
        },
        timeout=10,
    )
    assert "do not email" not in saved.text.lower() or 'name="do_not_email" checked' in saved.text
    assert 'name="do_not_email" checked' in saved.text
