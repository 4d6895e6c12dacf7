"""The template editor: preview, save (refused when broken), reset; in a client and in chromium."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from calendar_sync.mail import template_store
from calendar_sync.mail.templates import default_source
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import Therapist

from .conftest import signed_in_session

THERAPIST = "dr.lindqvist@example.test"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CSRF = "test-csrf-token"


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient) -> int:
    with runtime_of(app).database.transaction() as db:
        therapist = Therapist(
            google_subject="sub-editor", email=THERAPIST, display_name="Dr Maya", created_at=NOW
        )
        db.add(therapist)
        db.flush()
        therapist_id = therapist.id
    with client.session_transaction() as browser_session:
        browser_session.update(signed_in_session(app, therapist_id), csrf=CSRF)
    return therapist_id


def _form(**parts: str) -> dict[str, str]:
    form = {part: default_source("first_checkin", part) for part in ("subject", "text", "html")}
    return {**form, "csrf_token": CSRF, **parts}


def test_signed_out_is_sent_home(client: FlaskClient) -> None:
    response = client.get("/settings/templates")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_list_shows_every_message_and_who_gets_it(client: FlaskClient, signed_in: int) -> None:
    page = client.get("/settings/templates").get_data(as_text=True)
    for title in ("First check-in", "Reminder to mark sessions", "Draft about ending"):
        assert title in page
    assert page.count("the patient") == 3 and page.count("you only") == 3


def test_the_edit_page_previews_with_sample_values(client: FlaskClient, signed_in: int) -> None:
    response = client.get("/settings/templates/first_checkin")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Checking in after our appointment on Tuesday 10 March at 10:00" in page
    # the HTML part is shown in a sandboxed frame, its markup escaped into srcdoc
    assert 'sandbox=""' in page and 'srcdoc="&lt;!doctype html&gt;' in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_preview_renders_the_edit_without_saving(
    app: Flask, client: FlaskClient, signed_in: int
) -> None:
    form = _form(subject="Thinking of you, {{ patient.first_name }}", action="preview")
    page = client.post("/settings/templates/first_checkin", data=form).get_data(as_text=True)
    assert '<span id="preview-subject">Thinking of you, Sam</span>' in page
    with runtime_of(app).database.transaction() as db:
        assert template_store.load_overrides(db, signed_in, "first_checkin") == {}


@pytest.mark.parametrize(
    ("part", "source", "said"),
    [
        ("text", "{{ ''.__class__.__mro__ }}", "not allowed"),
        ("text", "Hi {{ patient.first_name }", "syntax error"),
        ("subject", "", "The subject is empty."),
        ("subject", "Your therapy", "clinical word"),
    ],
)
def test_save_refuses_a_broken_template_and_says_why(
    app: Flask, client: FlaskClient, signed_in: int, part: str, source: str, said: str
) -> None:
    response = client.post(
        "/settings/templates/first_checkin", data=_form(**{part: source, "action": "save"})
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert said in page and "Nothing was saved" in page
    with runtime_of(app).database.transaction() as db:
        assert template_store.load_overrides(db, signed_in, "first_checkin") == {}


def test_save_then_reset(app: Flask, client: FlaskClient, signed_in: int) -> None:
    form = _form(subject="Thinking of you, {{ patient.first_name }}", action="save")
    response = client.post("/settings/templates/first_checkin", data=form)
    assert response.status_code == 302
    with runtime_of(app).database.transaction() as db:
        assert template_store.load_overrides(db, signed_in, "first_checkin") == {
            "subject": "Thinking of you, {{ patient.first_name }}"
        }
    assert "edited by you" in client.get("/settings/templates").get_data(as_text=True)
    client.post("/settings/templates/first_checkin/reset", data={"csrf_token": CSRF})
    with runtime_of(app).database.transaction() as db:
        assert template_store.load_overrides(db, signed_in, "first_checkin") == {}


def test_forms_need_the_csrf_token_and_unknown_messages_are_404(
    client: FlaskClient, signed_in: int
) -> None:
    form = {**_form(action="save"), "csrf_token": "forged"}
    assert client.post("/settings/templates/first_checkin", data=form).status_code == 400
    assert client.get("/settings/templates/goodbye").status_code == 404


@pytest.mark.browser
def test_editing_a_template_in_the_browser(page: Any, sandboxed_app: Any) -> None:
    env = sandboxed_app
    env.sandbox.add_account(THERAPIST, "Dr Maya Lindqvist", "Europe/London")
    page.goto(env.url + "/")
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.get_by_label("Dr Maya Lindqvist").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(env.url + "/dashboard")

    page.goto(env.url + "/settings/templates")
    page.get_by_role("link", name="First check-in").click()
    subject = page.get_by_label("Subject")
    subject.fill("Thinking of you, {{ patient.first_name }}")
    page.get_by_role("button", name="Preview").click()
    assert page.locator("#preview-subject").inner_text() == "Thinking of you, Sam"
    frame = page.frame_locator("#preview-html")
    assert "How are you doing?" in frame.locator("body").inner_text()

    # broken: refused with the reason, nothing saved
    page.get_by_label("Plain text").fill("Hi {{ ''.__class__.__mro__ }}")
    page.get_by_role("button", name="Save").click()
    assert "not allowed" in page.locator("#problems-text").inner_text()
    page.goto(env.url + "/settings/templates")
    assert "edited by you" not in page.content()

    # a good edit is saved, and reset brings the default back
    page.get_by_role("link", name="First check-in").click()
    page.get_by_label("Subject").fill("Thinking of you, {{ patient.first_name }}")
    page.get_by_role("button", name="Save").click()
    assert "Saved." in page.locator(".flash").first.inner_text()
    assert page.locator("#preview-subject").inner_text() == "Thinking of you, Sam"
    page.get_by_role("button", name="Reset to default").click()
    assert page.get_by_label("Subject").input_value().startswith("Checking in after")
