"""What every page and form of the app must do: CSRF, headers, cookies, one therapist's data."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from calendar_sync import create_app
from calendar_sync.services.patients import links
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import (
    FollowUpAction,
    OutboxMessage,
    Patient,
    RescheduleProposal,
    SessionMark,
    Therapist,
)

from .conftest import CSRF, Practice, signed_in_session

# Views that take unsafe requests without the form token, and why that is safe.
CSRF_EXEMPT = {
    "webhooks.google_calendar": "Google's push calls carry no cookie; the channel token is checked",
    "marks.mark_from_link": "the signed link is the credential and names exactly one mark",
    "patient.answer": "patients have no session; the single-use signed token is the credential",
    "addon.homepage": "Google Calendar calls the add-on; its signed ID tokens are the credential",
    "addon.event_open": "as above",
    "addon.action": "as above",
    "tasks.therapist": "Cloud Tasks sends no cookie; its headers or OIDC token are checked",
    "tasks.calendar": "Cloud Tasks sends no cookie; its headers or OIDC token are checked",
}
REFUSED = "did not come from this site"
PAGES = (
    "/",
    "/dashboard",
    "/followups/",
    "/activity",
    "/activity.csv",
    "/patients/",
    "/patients/fees.csv",
    "/settings/",
    "/settings/templates",
    "/settings/disconnect",
    "/no-such-page",
)


def signed_in(client: Any, therapist_id: int) -> None:
    with client.session_transaction() as browser_session:
        browser_session.update(signed_in_session(client.application, therapist_id))


def new_therapist(app: Flask) -> int:
    with runtime_of(app).database.transaction() as db:
        therapist = Therapist(
            google_subject=f"sub-{uuid.uuid4().hex}",
            email="dr.rivera@example.test",
            display_name="",
            time_zone="UTC",
            created_at=datetime.now(UTC),
        )
        db.add(therapist)
        db.flush()
        return int(therapist.id)


def sign_in(app: Flask) -> Any:
    client = app.test_client()
    signed_in(client, new_therapist(app))
    return client


def signed_in_again(client: Any) -> None:
    """Signing out ends the sign-in, and disconnecting deletes the therapist too."""
    with runtime_of(client.application).database.transaction() as db:
        therapist_id = db.scalar(select(Therapist.id))
    signed_in(client, therapist_id or new_therapist(client.application))


def unsafe_rules(app: Flask) -> list[Any]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if (rule.methods or set()) - {"GET", "HEAD", "OPTIONS"} and rule.endpoint != "static"
    ]


def example_url(rule: Any) -> str:
    values = {
        arg: 1 if "int" in type(rule._converters[arg]).__name__.lower() else "x"
        for arg in rule.arguments
    }
    return str(rule.build(values, append_unknown=False)[1])


def test_every_form_needs_the_token(app: Flask) -> None:
    client = sign_in(app)
    seen = set()
    for rule in unsafe_rules(app):
        seen.add(rule.endpoint)
        view = app.view_functions[rule.endpoint]
        url = example_url(rule)
        for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            # signing out and disconnecting clear the session: sign in again every time
            signed_in_again(client)
            answer = client.open(url, method=method, data={"x": "1"})
            if rule.endpoint in CSRF_EXEMPT:
                assert getattr(view, "_csrf_exempt", False), rule.endpoint
                assert REFUSED not in answer.get_data(as_text=True), rule.endpoint
            else:
                assert answer.status_code == 400, (rule.endpoint, answer.status_code)
                assert REFUSED in answer.get_data(as_text=True), rule.endpoint
                forged = client.open(url, method=method, data={"csrf_token": "forged"})
                assert forged.status_code == 400, rule.endpoint
            signed_in_again(client)
            with_token = client.open(url, method=method, data={"csrf_token": CSRF})
            assert REFUSED not in with_token.get_data(as_text=True), rule.endpoint
    assert set(CSRF_EXEMPT) <= seen, "an exempt view listed here no longer exists"
    assert {"outbox.act", "followups.send", "followups.drop", "marks.mark_from_dashboard"} <= seen


def security_headers(answer: Any) -> None:
    headers = answer.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_every_page_carries_the_security_headers(app: Flask) -> None:
    client = sign_in(app)
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code in (200, 404), path
        security_headers(answer)
        assert "Strict-Transport-Security" not in answer.headers  # plain HTTP on loopback
        body = answer.get_data(as_text=True)
        # every asset comes from the app itself
        assert not re.search(r'(src|href)="(https?:)?//', body), path
    with client.get("/static/style.css") as stylesheet:
        security_headers(stylesheet)


def test_no_page_with_patient_data_is_kept_by_a_cache(app: Flask) -> None:
    client = sign_in(app)
    with runtime_of(app).database.transaction() as db:
        therapist_id = db.scalars(select(Therapist.id)).one()
        patient_link = links.issue_link(
            db,
            therapist_id=therapist_id,
            calendar_id="dr.rivera@example.test",
            event_id="missed0001",
            purpose=links.BARRIER_SURVEY,
            now=datetime.now(UTC),
            config=app.config,
        )
    patient_page = patient_link.removeprefix(app.config["PUBLIC_URL"])
    answers = {path: client.get(path) for path in (*PAGES, patient_page, "/p/x.y", "/m/x.y")}
    assert answers[patient_page].status_code == 200
    assert answers["/patients/fees.csv"].mimetype == "text/csv"
    for path, answer in answers.items():
        assert answer.headers["Cache-Control"] == "no-store", path
    # An answer to a form too, and to a stranger with no cookie.
    assert client.post("/signout", data={"csrf_token": CSRF}).headers["Cache-Control"] == (
        "no-store"
    )
    assert app.test_client().get("/").headers["Cache-Control"] == "no-store"
    # The stylesheet holds nothing personal and may be cached.
    with client.get("/static/style.css") as stylesheet:
        assert "no-store" not in stylesheet.headers.get("Cache-Control", "")


def cookie_flags(client: Any) -> str:
    answer = client.get("/dashboard")  # renders forms, so the session gets its token
    cookies = [value for key, value in answer.headers.items() if key == "Set-Cookie"]
    assert cookies, "the dashboard should set the session cookie"
    return str(cookies[0])


def test_session_cookie_flags(
    app: Flask, app_config: dict[str, Any], monkeypatch: Any, tmp_path: Any
) -> None:
    plain = sign_in(app)
    with plain.session_transaction() as browser_session:
        browser_session.pop("csrf")
    flags = cookie_flags(plain)
    assert "HttpOnly" in flags and "SameSite=Lax" in flags and "Secure" not in flags

    monkeypatch.setenv("CALENDAR_SYNC_INSTANCE", str(tmp_path / "https-instance"))
    https = create_app({**app_config, "PUBLIC_URL": "https://practice.example.test"})
    try:
        secure = sign_in(https)
        with secure.session_transaction() as browser_session:
            browser_session.pop("csrf")
        flags = cookie_flags(secure)
        assert "Secure" in flags and "HttpOnly" in flags and "SameSite=Lax" in flags
        answer = secure.get("/dashboard")
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
        security_headers(answer)
    finally:
        runtime_of(https).database.dispose()


def test_another_therapist_gets_nothing_of_a_therapists_data(practice: Practice) -> None:
    owner_email, patient = "dr.rivera@example.test", "sam.patient@example.test"
    owner = practice.therapist(owner_email)
    practice.session(owner_email, patient, practice.now - timedelta(days=1))
    practice.tick()
    practice.after_hold()
    database = runtime_of(practice.app).database
    browser = practice.browser(owner)
    with database.transaction() as db:
        action = db.scalars(select(FollowUpAction)).first()
        message = db.scalars(select(OutboxMessage)).first()
        patient_row = db.scalars(select(Patient)).first()
        assert action and message and patient_row
        assert db.scalars(select(RescheduleProposal)).first() is not None
        ref = {"calendar_id": action.calendar_id, "event_id": action.event_id}
        ids = (action.id, message.id, patient_row.id)
        subject = message.subject
    # the owner marks the session, so there is a mark to protect too
    assert browser.post(
        practice.url + "/sessions/mark",
        data={"csrf_token": CSRF, "outcome": "no_show", **ref},
        timeout=10,
    ).ok
    action_id, message_id, patient_id = ids
    intruder = practice.browser(practice.therapist("dr.okafor@example.test"))

    def post(path: str, **data: str) -> int:
        answer = intruder.post(
            practice.url + path,
            data={"csrf_token": CSRF, **data},
            timeout=10,
            allow_redirects=False,
        )
        return int(answer.status_code)

    assert intruder.get(f"{practice.url}/patients/{patient_id}", timeout=10).status_code == 404
    assert post(f"/patients/{patient_id}", name="Taken", email="x@example.test") == 404
    assert post(f"/patients/{patient_id}/waive", reason="no", **ref) == 404
    for verb in ("hold", "release", "cancel", "sent", "not-sent"):
        assert post(f"/outbox/{message_id}/{verb}") == 404, verb
    # the owner's own forms never send the browser to another site
    away = browser.post(
        practice.url + "/sessions/mark",
        data={"csrf_token": CSRF, "outcome": "no_show", "next": "//evil.example.test/", **ref},
        timeout=10,
        allow_redirects=False,
    )
    assert away.headers["Location"] == "/dashboard"
    assert post(f"/followups/{action_id}/send") == 404
    assert post(f"/followups/{action_id}/drop") == 404
    for outcome in ("attended", "unmarked"):
        assert post("/sessions/mark", outcome=outcome, **ref) == 404

    secrets = (patient, subject, "Sam R", ref["event_id"])
    for path in PAGES:
        body = intruder.get(practice.url + path, timeout=10).text
        for secret in secrets:
            assert secret not in body, (path, secret)
    for path in ("/activity.csv", "/patients/fees.csv"):
        rows = list(csv.reader(io.StringIO(intruder.get(practice.url + path, timeout=10).text)))
        assert len(rows) <= 1, path
    with database.transaction() as db:
        kept = db.get(Patient, patient_id)
        assert kept is not None and kept.name != "Taken"
        assert db.get(OutboxMessage, message_id).status == "sent"  # type: ignore[union-attr]
        marks = db.scalars(select(SessionMark.outcome)).all()
        assert set(marks) == {"no_show"}
