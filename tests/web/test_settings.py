"""The settings page: policy, marks, sessions and practice details, saved and refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import ActionKind
from calendar_sync.domain.unmarked import UnmarkedConvention
from calendar_sync.services.accounts.settings import load_settings
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import CalendarRow, Therapist

from .conftest import signed_in_session


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient) -> int:
    with runtime_of(app).database.transaction() as db:
        therapist = Therapist(
            google_subject="sub-1",
            email="dr.rivera@example.test",
            display_name="Dr Rivera",
            time_zone="Europe/London",
            created_at=datetime.now(UTC),
        )
        db.add(therapist)
        db.flush()
        therapist_id = int(therapist.id)
    with client.session_transaction() as browser_session:
        browser_session["sign_in"] = signed_in_session(app, therapist_id)["sign_in"]
    return therapist_id


def form_of(page: str) -> dict[str, Any]:
    """The form's current values, as a browser would submit them unchanged."""
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if kind and kind.group(1) in ("checkbox", "radio"):
            if " checked" in tag:
                data[name.group(1)] = value.group(1) if value and kind.group(1) == "radio" else "on"
            continue
        data[name.group(1)] = value.group(1) if value else ""
    for menu in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', menu.group(2))
        data[menu.group(1)] = chosen.group(1) if chosen else ""
    return data


def test_defaults_round_trip_unchanged(app: Flask, client: FlaskClient, signed_in: int) -> None:
    page = client.get("/settings/").get_data(as_text=True)
    with runtime_of(app).database.transaction() as db:
        before = load_settings(db, signed_in)
    response = client.post("/settings/", data=form_of(page))
    assert response.status_code == 302
    with runtime_of(app).database.transaction() as db:
        after = load_settings(db, signed_in)
    assert after.policy == before.policy


def test_changes_are_saved(app: Flask, client: FlaskClient, signed_in: int) -> None:
    data = form_of(client.get("/settings/").get_data(as_text=True))
    data.update(
        notice_window_hours="48",
        no_show_fee="40",
        currency="GBP",
        convention=UnmarkedConvention.ALWAYS_ASK.value,
        color_no_show="4",
        tag_late_cancel="[late-cancel]",
        practice_name="Riverside Rooms",
        time_zone="America/New_York",
        hours_5="10:00-13:00",
        hours_0="",
        max_proposals="2",
        co_organizers="FrontDesk@example.test, bookings@example.test",
    )
    del data["step3_alert_therapist_pattern"]
    data["step3_email_checkin"] = "on"
    assert client.post("/settings/", data=data).status_code == 302
    with runtime_of(app).database.transaction() as db:
        saved = load_settings(db, signed_in)
        zone = db.get(Therapist, signed_in).time_zone  # type: ignore[union-attr]
    policy = saved.policy
    assert policy.notice_window.total_seconds() == 48 * 3600
    assert policy.no_show_fee == Money(4000, "GBP")
    assert policy.unmarked.convention is UnmarkedConvention.ALWAYS_ASK
    assert policy.marks.colors["4"] is Outcome.NO_SHOW
    assert policy.marks.tags["late-cancel"] is Outcome.LATE_CANCEL
    assert policy.actions_for_step(3) == frozenset({ActionKind.EMAIL_CHECKIN})
    assert saved.practice.practice_name == "Riverside Rooms"
    assert zone == "America/New_York"
    assert saved.reschedule.working_hours[5] == ((time(10), time(13)),)
    assert saved.reschedule.working_hours[0] == ()
    assert saved.reschedule.max_proposals == 2
    assert saved.reschedule.working_hours[1] == ((time(9), time(17)),)
    assert policy.sessions.co_organizers == {"frontdesk@example.test", "bookings@example.test"}
    page = client.get("/settings/").get_data(as_text=True)
    assert 'value="bookings@example.test, frontdesk@example.test"' in page


def test_changed_session_rules_read_the_calendars_again(
    app: Flask, client: FlaskClient, signed_in: int
) -> None:
    with runtime_of(app).database.transaction() as db:
        db.add(
            CalendarRow(
                therapist_id=signed_in,
                google_calendar_id="dr.rivera@example.test",
                sync_token="token-1",
            )
        )
    data = form_of(client.get("/settings/").get_data(as_text=True))
    client.post("/settings/", data=data)
    with runtime_of(app).database.transaction() as db:
        assert db.scalars(select(CalendarRow.sync_token)).one() == "token-1"
    # Events are judged when Google lists them: without the token, all are listed again.
    data["co_organizers"] = "frontdesk@example.test"
    client.post("/settings/", data=data)
    with runtime_of(app).database.transaction() as db:
        assert db.scalars(select(CalendarRow.sync_token)).one() is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hold_hours", "30", "from 1 to 24"),
        ("no_show_fee", "forty", "Enter an amount"),
        ("time_zone", "Mars/Olympus", "time zone"),
        ("title_pattern", "([", "regular expression"),
        ("co_organizers", "the front desk", "not an email address"),
        ("hours_2", "17:00-09:00", "must come after"),
    ],
)
def test_bad_values_are_refused_and_nothing_saved(
    app: Flask, client: FlaskClient, signed_in: int, field: str, value: str, message: str
) -> None:
    data = form_of(client.get("/settings/").get_data(as_text=True))
    data[field] = value
    response = client.post("/settings/", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with runtime_of(app).database.transaction() as db:
        assert load_settings(db, signed_in).policy.no_show_fee is None


def test_a_step_without_actions_is_refused(client: FlaskClient, signed_in: int) -> None:
    data = form_of(client.get("/settings/").get_data(as_text=True))
    for key in [k for k in data if k.startswith("step2_")]:
        del data[key]
    response = client.post("/settings/", data=data)
    assert response.status_code == 400
    assert 'id="error-step2"' in response.get_data(as_text=True)


def test_settings_need_sign_in_and_csrf(client: FlaskClient, signed_in: int) -> None:
    data = form_of(client.get("/settings/").get_data(as_text=True))
    del data["csrf_token"]
    assert client.post("/settings/", data=data).status_code == 400
    with client.session_transaction() as browser_session:
        browser_session.clear()
    assert client.get("/settings/").status_code == 302
