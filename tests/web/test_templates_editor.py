"""The email editor: one text in plain words, previews as patients read it, errors that say
where; in a client, and in chromium at a phone's and a laptop's width."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from calendar_sync.domain.money import Money
from calendar_sync.domain.policy import Policy
from calendar_sync.mail import template_store
from calendar_sync.mail.templates import default_source
from calendar_sync.services.accounts.settings import (
    PracticeProfile,
    TherapistSettings,
    save_settings,
)
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import EmailTemplateOverride, Patient, Therapist

from .conftest import signed_in_session

THERAPIST = "dr.okafor@example.test"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CSRF = "test-csrf-token"


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient) -> int:
    with runtime_of(app).database.transaction() as db:
        therapist = Therapist(
            google_subject="sub-editor",
            email=THERAPIST,
            display_name="Dr Ada Okafor",
            created_at=NOW,
        )
        db.add(therapist)
        db.flush()
        therapist_id = therapist.id
        # a patient named like the editor's first sample: the preview must not use the name
        db.add(
            Patient(
                therapist_id=therapist_id,
                name="Sam Rivers",
                email="sam@example.test",
                do_not_email=False,
                fee_exempt=False,
                fee_exempt_reason="",
                created_at=NOW,
            )
        )
        save_settings(
            db,
            therapist_id,
            TherapistSettings(
                Policy(no_show_fee=Money(6000, "GBP"), late_cancel_fee=Money(4000, "GBP")),
                PracticeProfile(practice_name="Harbour Rooms", signature="Ada Okafor"),
            ),
            NOW,
        )
    with client.session_transaction() as browser_session:
        browser_session.update(signed_in_session(app, therapist_id), csrf=CSRF)
    return therapist_id


def _form(name: str = "checkin", **parts: str) -> dict[str, str]:
    form = {part: default_source(name, part) for part in ("subject", "text")}
    return {**form, "csrf_token": CSRF, **parts}


def test_signed_out_is_sent_home(client: FlaskClient) -> None:
    response = client.get("/settings/templates")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_list_shows_every_message_and_who_gets_it(client: FlaskClient, signed_in: int) -> None:
    page = client.get("/settings/templates").get_data(as_text=True)
    for title in ("Check-in after a missed", "Reminder to mark sessions", "Draft about ending"):
        assert title in page
    assert page.count("the patient") == 2 and page.count("you only") == 3


def test_one_text_is_edited_and_the_html_preview_is_made_from_it(
    client: FlaskClient, signed_in: int
) -> None:
    response = client.get("/settings/templates/checkin")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    # two fields: the subject and one text, in plain words; no HTML to keep in step
    assert page.count("<textarea") == 1 and 'name="html"' not in page
    assert "Hi {first name}," in page and "{{" not in page
    # the HTML part, shown in a sandboxed frame, says what the text says
    assert 'sandbox=""' in page and 'srcdoc="&lt;!doctype html&gt;' in page
    assert html.escape("<p>Hi Robin,</p>") in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_preview_is_signed_by_the_therapist_to_a_sample_patient(
    client: FlaskClient, signed_in: int
) -> None:
    page = client.get("/settings/templates/checkin").get_data(as_text=True)
    # the therapist's own signature and practice, and never a patient's name
    assert "Ada Okafor" in page and "Harbour Rooms" in page
    assert "Robin, a\n    sample patient" in page or "Robin, a sample patient" in page
    assert "Sam" not in page and "Lindqvist" not in page


def test_the_checkin_is_previewed_for_each_step_with_the_fee_of_its_case(
    client: FlaskClient, signed_in: int
) -> None:
    page = client.get("/settings/templates/checkin").get_data(as_text=True)
    assert "Miss number 1: check-in, new time" in page
    assert "Miss number 2: check-in, new time, cancellation policy, what got in the way" in page
    assert "£60.00" in page and "£40.00" not in page
    late = client.get("/settings/templates/checkin?outcome=late_cancel").get_data(as_text=True)
    assert "£40.00" in late and "£60.00" not in late


def test_preview_renders_the_edit_without_saving(
    app: Flask, client: FlaskClient, signed_in: int
) -> None:
    form = _form(subject="Thinking of you, {first name}", action="preview")
    page = client.post("/settings/templates/checkin", data=form).get_data(as_text=True)
    assert '<span class="preview-subject">Thinking of you, Robin</span>' in page
    with runtime_of(app).database.transaction() as db:
        assert template_store.load_overrides(db, signed_in, "checkin") == {}


@pytest.mark.parametrize(
    ("part", "source", "said"),
    [
        ("text", "Hi {frist name},", "Line 1: {frist name} is not a field of this email."),
        ("text", "Hi,\n\n[if check-in]\nHow are you?", "Line 3: this [if …] has no [end]"),
        (
            "text",
            "Hi,\nYour new time: {new time}",
            "Line 2: {new time} has no value in some of these emails. "
            "Write it between [if time found] and [end].",
        ),
        ("text", "{{ ''.__class__.__mro__ }}", "cannot use"),
        ("subject", "", "The subject is empty."),
        ("subject", "Your therapy", "clinical word"),
        # these two crashed the request before templates had limits
        ("text", "{{ 'a' * 10**9 }}", "far too long"),
        ("subject", "{{ 10 ** (10 ** 7) }}", "far too large"),
        (
            "text",
            "{% for a in range(999) %}{% for b in range(999) %}{% endfor %}{% endfor %}",
            "repeats",
        ),
    ],
)
def test_save_refuses_a_broken_text_and_says_why_and_where(
    app: Flask, client: FlaskClient, signed_in: int, part: str, source: str, said: str
) -> None:
    response = client.post(
        "/settings/templates/checkin", data=_form(**{part: source, "action": "save"})
    )
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert said in page and "Nothing was saved" in page
    assert "Traceback" not in page and "jinja" not in page.lower()
    with runtime_of(app).database.transaction() as db:
        assert template_store.load_overrides(db, signed_in, "checkin") == {}


def test_save_then_reset(app: Flask, client: FlaskClient, signed_in: int) -> None:
    form = _form(subject="Thinking of you, {first name}", action="save")
    response = client.post("/settings/templates/checkin", data=form)
    assert response.status_code == 302
    with runtime_of(app).database.transaction() as db:
        assert template_store.load_overrides(db, signed_in, "checkin") == {
            "subject": "Thinking of you, {first name}"
        }
    assert "edited by you" in client.get("/settings/templates").get_data(as_text=True)
    client.post("/settings/templates/checkin/reset", data={"csrf_token": CSRF})
    with runtime_of(app).database.transaction() as db:
        assert template_store.load_overrides(db, signed_in, "checkin") == {}


def test_the_earlier_wording_of_the_two_checkins_is_shown_until_forgotten(
    app: Flask, client: FlaskClient, signed_in: int
) -> None:
    with runtime_of(app).database.transaction() as db:
        db.add(
            EmailTemplateOverride(
                therapist_id=signed_in,
                name="repeat_checkin",
                part="text",
                source="Dear {first name}, my own words.",
                updated_at=NOW,
            )
        )
    page = client.get("/settings/templates/checkin").get_data(as_text=True)
    assert "Your earlier wording" in page and "my own words." in page
    assert "my own words" not in client.get("/settings/templates/pattern_alert").get_data(
        as_text=True
    )
    client.post("/settings/templates/checkin/forget-earlier", data={"csrf_token": CSRF})
    assert "my own words" not in client.get("/settings/templates/checkin").get_data(as_text=True)


def test_forms_need_the_csrf_token_and_unknown_messages_are_404(
    client: FlaskClient, signed_in: int
) -> None:
    form = {**_form(action="save"), "csrf_token": "forged"}
    assert client.post("/settings/templates/checkin", data=form).status_code == 400
    assert client.get("/settings/templates/goodbye").status_code == 404


def _sign_in(page: Any, env: Any) -> None:
    env.sandbox.add_account(THERAPIST, "Dr Ada Okafor", "Europe/London")
    page.goto(env.url + "/")
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.get_by_label("Dr Ada Okafor").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(env.url + "/dashboard")


@pytest.mark.browser
def test_editing_an_email_in_the_browser(page: Any, sandboxed_app: Any) -> None:
    env = sandboxed_app
    _sign_in(page, env)
    page.goto(env.url + "/settings/templates")
    page.get_by_role("link", name="Check-in after a missed appointment").click()

    # a field pressed in the list goes where the cursor is
    subject = page.get_by_label("Subject")
    subject.fill("Thinking of you, ")
    subject.press("End")
    page.get_by_role("button", name="{first name}").click()
    assert subject.input_value() == "Thinking of you, {first name}"
    page.get_by_role("button", name="Preview").click()
    assert page.locator(".preview-subject").first.inner_text() == "Thinking of you, Sam"
    frame = page.frame_locator(".preview-html").first
    assert "How are you doing?" in frame.locator("body").inner_text()

    # broken: refused with the reason and the line, nothing saved
    page.get_by_label("Message").fill("Hi {first name},\n\nSee you {new time}.")
    page.get_by_role("button", name="Save").click()
    assert "Line 3: {new time} has no value" in page.locator("#problems-text").inner_text()
    page.goto(env.url + "/settings/templates")
    assert "edited by you" not in page.content()

    # a good edit is saved, and reset brings the default back
    page.get_by_role("link", name="Check-in after a missed appointment").click()
    message = page.get_by_label("Message")
    message.fill(message.input_value().replace("How are you doing?", "I hope you are well."))
    page.get_by_role("button", name="Save").click()
    assert "Saved." in page.locator(".flash").first.inner_text()
    assert (
        "I hope you are well."
        in page.frame_locator(".preview-html").first.locator("body").inner_text()
    )
    page.get_by_role("button", name="Reset to default").click()
    assert "How are you doing?" in page.get_by_label("Message").input_value()


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1280])
def test_the_editor_fits_the_window(browser: Any, sandboxed_app: Any, width: int) -> None:
    env = sandboxed_app
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        _sign_in(page, env)
        for path in (
            "/settings/templates",
            "/settings/templates/checkin",
            "/settings/templates/unmarked_reminder",
        ):
            page.goto(env.url + path)
            fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert fits, (path, page.evaluate("document.documentElement.scrollWidth"))
        # and the text is given the room: most of the page's width, not a sliver
        page.goto(env.url + "/settings/templates/checkin")
        box = page.get_by_label("Message").bounding_box()
        assert box is not None and box["width"] >= min(width, 1280) * 0.5
        # a refused save, with its notes, fits too
        page.get_by_label("Message").fill("Hi {" + "x" * 300 + "}")
        page.get_by_role("button", name="Save").click()
        page.locator("#problems-text").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
