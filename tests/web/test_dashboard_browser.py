"""The therapist's pages in chromium: signing in, marking, follow-ups, settings, the chart,
forged forms, other therapists' pages, and a phone-width layout."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from calendar_sync.mail.templates import RenderedEmail
from calendar_sync.services.outbox.dispatch import enqueue
from calendar_sync.services.runtime import runtime_of

from .conftest import Practice

pytestmark = pytest.mark.browser

THERAPIST = "dr.rivera@example.test"
OTHER = "dr.okafor@example.test"
PATIENT = "sam.patient@example.test"
# Set SCREENSHOTS to a folder to keep a picture of every page looked at.
SCREENSHOTS = os.environ.get("SCREENSHOTS")


def shot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def sign_in(page: Any, practice: Practice, therapist_id: int) -> None:
    page.context.add_cookies(
        [{"name": "session", "value": practice.cookie(therapist_id), "url": practice.url}]
    )


def test_signing_in_through_google_consent(page: Any, practice: Practice) -> None:
    practice.env.sandbox.add_account(OTHER, "Dr Ada Okafor", "Europe/London")
    page.goto(practice.url + "/")
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.get_by_label("Dr Ada Okafor").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(practice.url + "/dashboard")
    assert page.get_by_role("heading", name="About to go out").is_visible()
    assert page.get_by_role("link", name="Follow-ups", exact=True).is_visible()
    # a new sign-up rehearses first: nothing reaches patients until they switch it on
    assert page.get_by_role("heading", name="Follow-ups are off").is_visible()
    page.get_by_role("link", name="Review and switch follow-ups on").click()
    page.get_by_role("button", name="Switch follow-ups on").click()
    page.wait_for_url(practice.url + "/dashboard")
    assert not page.get_by_role("heading", name="Follow-ups are off").is_visible()


def test_marking_a_session_from_the_dashboard(page: Any, practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(hours=2), color=None)
    practice.tick()
    sign_in(page, practice, therapist_id)
    page.goto(practice.url + "/dashboard")
    waiting = page.locator(".waiting-session")
    assert waiting.count() == 1
    shot(page, "dashboard-waiting")
    waiting.get_by_role("button", name="No-show").click()
    page.wait_for_url(practice.url + "/dashboard")
    assert "marked: No-show" in page.locator(".flash").first.inner_text()
    assert page.locator(".waiting-session").count() == 0
    assert page.locator("#nothing-waiting").is_visible()


def test_a_no_show_click_is_held_visible_and_can_be_undone(page: Any, practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(hours=2), color=None)
    practice.tick()
    sign_in(page, practice, therapist_id)
    page.goto(practice.url + "/dashboard")
    waiting = page.locator(".waiting-session")
    # what a miss would bring, in words, beside the session
    assert "a check-in email to the patient" in waiting.inner_text()
    waiting.get_by_role("button", name="No-show").click()
    page.wait_for_url(practice.url + "/dashboard")
    assert page.locator("#undo").is_visible()
    # the next cycle decides; the email waits with its exact text, and nothing has gone
    practice.tick(practice.now + timedelta(minutes=1))
    today = practice.browser(therapist_id).get(practice.url + "/dashboard", timeout=10).text
    assert "Checking in" in today and "With it: an invitation" in today
    assert [m for m in practice.mail() if PATIENT in m["to"]] == []
    # a misclick: Undo takes it all back
    practice.pin(practice.now + timedelta(minutes=2))
    page.locator("#undo").get_by_role("button", name="Undo").click()
    page.wait_for_url(practice.url + "/dashboard")
    assert "marked: unmarked" in page.locator(".flash").first.inner_text()
    practice.tick(practice.now + timedelta(minutes=3))
    practice.tick(practice.now + timedelta(hours=3))
    assert [m for m in practice.mail() if PATIENT in m["to"]] == []
    assert [
        m
        for m in practice.env.sandbox.control("GET", f"calendar/invitations?email={PATIENT}")[
            "messages"
        ]
    ] == []


def test_a_follow_up_and_its_email_after_a_cycle(page: Any, practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    sign_in(page, practice, therapist_id)
    page.goto(practice.url + "/dashboard")
    page.get_by_role("link", name="Follow-ups").click()
    page.wait_for_url(re.compile(r".*/followups/$"))
    card = page.locator("article.miss").first
    assert "no-show" in card.inner_text()
    card.get_by_text("Read the email").click()
    text = card.locator(".message-text").first
    assert text.is_visible() and "I missed you at our appointment" in text.inner_text()
    assert card.locator("iframe[sandbox]").count() == 1
    shot(page, "followups")


def test_settings_are_saved(page: Any, practice: Practice) -> None:
    sign_in(page, practice, practice.therapist(THERAPIST))
    page.goto(practice.url + "/settings/")
    page.get_by_label("Practice name (shown in emails)").fill("Riverside Counselling")
    page.get_by_role("button", name="Save settings").click()
    assert page.get_by_text("Settings saved.").is_visible()
    assert page.get_by_label("Practice name (shown in emails)").input_value() == (
        "Riverside Counselling"
    )


def test_the_patient_chart_is_drawn(page: Any, practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    sign_in(page, practice, therapist_id)
    page.goto(practice.url + "/patients/")
    page.get_by_role("link", name=PATIENT).click()
    assert page.locator("svg").first.is_visible()
    shot(page, "patient")


def test_a_forged_form_is_refused(page: Any, practice: Practice) -> None:
    sign_in(page, practice, practice.therapist(THERAPIST))
    page.goto(practice.url + "/dashboard")
    status = page.evaluate(
        "fetch('/settings/calendars', {method: 'POST', body: new URLSearchParams("
        "{calendar: '1'})}).then(answer => answer.status)"
    )
    assert status == 400


def test_another_therapists_pages_are_not_found(page: Any, practice: Practice) -> None:
    owner = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    sign_in(page, practice, owner)
    page.goto(practice.url + "/patients/")
    link = page.get_by_role("link", name=PATIENT).get_attribute("href")
    page.context.clear_cookies()
    sign_in(page, practice, practice.therapist(OTHER))
    answer = page.goto(practice.url + str(link))
    assert answer is not None and answer.status == 404
    page.goto(practice.url + "/followups/")
    assert PATIENT not in page.content()


def test_every_page_fits_a_phone(browser: Any, practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.session(THERAPIST, "alex.patient@example.test", practice.now - timedelta(days=5))
    practice.session(
        THERAPIST, "kim.patient@example.test", practice.now - timedelta(hours=2), color=None
    )
    practice.tick()
    with runtime_of(practice.app).database.transaction() as db:
        enqueue(
            db,
            therapist_id=therapist_id,
            key="phone-check",
            kind="checkin",
            recipient_role="patient",
            to="a.very.long.address.for.a.patient@example.test",
            rendered=RenderedEmail(
                "Our appointment on Thursday", "Hello,\nthinking of you.", "<p>Hello</p>"
            ),
            not_before=practice.now + timedelta(hours=3),
            now=practice.now,
        )
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        sign_in(phone, practice, therapist_id)
        for path in ("/dashboard", "/followups/", "/patients/", "/settings/", "/activity"):
            phone.goto(practice.url + path)
            name = path.strip("/") or "home"
            shot(phone, f"phone-{name}")
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (path, width)
        # the skip link is the first thing a keyboard reaches, and it leads to the content
        phone.goto(practice.url + "/dashboard")
        phone.keyboard.press("Tab")
        assert phone.evaluate("document.activeElement.textContent") == "Skip to main content"
        phone.keyboard.press("Enter")
        assert phone.evaluate("location.hash") == "#main"
    finally:
        context.close()
