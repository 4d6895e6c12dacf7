"""The add-on in chromium, through the sandbox's Calendar: open a session, mark it in the
side panel, see the card change and the dashboard agree, then hold the email it brings."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.google.deployments import deployment
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import OutboxMessage, SessionMark

from .conftest import Practice
from .test_addon import linked
from .test_dashboard_browser import shot, sign_in

pytestmark = pytest.mark.browser

THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"


def install_addon(practice: Practice) -> None:
    secrets = json.loads(Path(practice.app.config["GOOGLE_CLIENT_SECRETS"]).read_text())
    practice.env.sandbox.control(
        "POST",
        "addon",
        {"deployment": deployment(practice.url), "client_id": secrets["web"]["client_id"]},
    )


def test_mark_and_hold_from_the_calendar_panel(page: Any, practice: Practice) -> None:
    therapist_id = linked(practice, THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(hours=3), color=None)
    practice.tick()
    install_addon(practice)
    page.goto(practice.env.sandbox.url + f"calendar?account={THERAPIST}")
    page.get_by_role("button", name="Sam R").click()
    panel = page.get_by_role("complementary", name="Add-on side panel")
    panel.get_by_text("Not marked yet").wait_for()
    assert "If it stays unmarked, it counts as a no-show from" in panel.inner_text()
    assert "a check-in email to the patient" in panel.inner_text()
    shot(page, "addon-panel-unmarked")

    panel.get_by_role("button", name="No-show", exact=True).click()
    panel.get_by_text("No-show (marked from the calendar)").wait_for()
    assert "Nothing reaches the patient before your hold ends" in panel.inner_text()
    with runtime_of(practice.app).database.transaction() as db:
        assert [m.source for m in db.scalars(select(SessionMark))] == ["calendar_panel"]

    # The dashboard agrees: nothing waits for a mark any more.
    dashboard = page.context.new_page()
    sign_in(dashboard, practice, therapist_id)
    dashboard.goto(practice.url + "/dashboard")
    assert dashboard.locator(".waiting-session").count() == 0
    assert dashboard.locator("#nothing-waiting").is_visible()
    dashboard.close()

    # The next cycle queues the check-in; the panel shows it word for word, and holds it.
    practice.tick(practice.now + timedelta(minutes=1))
    page.get_by_role("button", name="Sam R").click()
    panel.get_by_role("button", name="Hold").wait_for()
    assert "Checking in" in panel.inner_text()
    panel.get_by_role("button", name="Hold").click()
    panel.get_by_text("Held: it waits until you release it").first.wait_for()
    assert panel.get_by_role("button", name="Release").is_visible()
    with runtime_of(practice.app).database.transaction() as db:
        held = db.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient_role == "patient")
        ).one()
        assert held.status == "held"
    shot(page, "addon-panel-held")


def test_the_homepage_marks_in_one_click(page: Any, practice: Practice) -> None:
    linked(practice, THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(hours=3), color=None)
    practice.tick()
    install_addon(practice)
    page.goto(practice.env.sandbox.url + f"calendar?account={THERAPIST}")
    panel = page.get_by_role("complementary", name="Add-on side panel")
    panel.get_by_role("button", name="Home").click()
    panel.get_by_role("heading", name="Waiting for a mark").wait_for()
    panel.get_by_role("button", name="Attended").click()
    panel.get_by_text("No session is waiting for a mark.").wait_for()


def test_connect_from_the_panel_then_it_reloads(page: Any, practice: Practice) -> None:
    practice.env.sandbox.add_account("dr.new@example.test", "Dr Sam New", "Europe/London")
    install_addon(practice)
    page.goto(practice.env.sandbox.url + "calendar?account=dr.new@example.test")
    panel = page.get_by_role("complementary", name="Add-on side panel")
    panel.get_by_role("button", name="Home").click()
    connect = panel.get_by_role("button", name="Connect")
    connect.wait_for()
    with page.context.expect_page() as opened:
        connect.click()
    consent = opened.value
    consent.get_by_label("Dr Sam New").check()
    consent.get_by_role("button", name="Continue").click()
    consent.wait_for_url(practice.url + "/dashboard")
    consent.close()
    # The tab closed: the panel asks again, and the new therapist's day shows.
    panel.get_by_role("heading", name="Waiting for a mark").wait_for()
    assert not panel.get_by_role("button", name="Connect").is_visible()
