"""Turning Meet evidence on asks Google for one more scope, incrementally, and says the outcome."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from sqlalchemy import select

from calendar_sync.google.oauth import CALENDAR_EVENTS, MEET_READ
from calendar_sync.services.accounts.settings import load_settings
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import GoogleConnection

THERAPIST = "dr.rivera@example.test"


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.add_account(THERAPIST, "Dr Alex Rivera", "Europe/London")
    return sandboxed_app


def answer(
    env: Any, browser: requests.Session, authorize: str, untick: tuple[str, ...] = ()
) -> requests.Response:
    """Answer the sandbox's consent page at ``authorize``; follow the callback in ``browser``."""
    page = requests.get(authorize, timeout=10)
    assert page.status_code == 200, page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert request_id is not None and action is not None
    scopes = [s for s in re.findall(r'name="scope" value="([^"]+)"', page.text) if s not in untick]
    reply = requests.post(
        urljoin(env.sandbox.url, action.group(1)),
        data={
            "request_id": request_id.group(1),
            "account": THERAPIST,
            "scope": scopes,
            "decision": "allow",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert reply.status_code in (302, 303), reply.text
    location = reply.headers["Location"]
    if location.startswith("/"):
        location = env.sandbox.url.rstrip("/") + location
    return browser.get(location, timeout=10)


def signed_in(env: Any) -> requests.Session:
    browser = requests.Session()
    start = browser.get(env.url + "/connect", allow_redirects=False)
    assert answer(env, browser, start.headers["Location"]).status_code == 200
    return browser


def token(browser: requests.Session, env: Any) -> str:
    found = re.search(
        r'name="csrf_token" value="([^"]+)"', browser.get(env.url + "/settings/").text
    )
    assert found is not None
    return found.group(1)


def granted(env: Any) -> list[str]:
    with runtime_of(env.app).database.transaction() as db:
        return db.scalars(select(GoogleConnection)).one().granted_scopes.split()


def turn_on(env: Any, browser: requests.Session) -> str:
    reply = browser.post(
        env.url + "/settings/meet",
        data={"csrf_token": token(browser, env), "meet_evidence": "on"},
        allow_redirects=False,
    )
    assert reply.status_code == 302
    return str(reply.headers["Location"])


def test_meet_is_not_asked_for_at_sign_in(env: Any) -> None:
    browser = signed_in(env)
    assert MEET_READ not in granted(env)
    page = browser.get(env.url + "/settings/").text
    assert "Turn Meet evidence on" in page
    assert "meet-on" not in browser.get(env.url + "/dashboard").text


def test_turning_it_on_asks_for_the_scope_incrementally(env: Any) -> None:
    browser = signed_in(env)
    authorize = turn_on(env, browser)
    query = parse_qs(urlsplit(authorize).query)
    assert MEET_READ in query["scope"][0].split()
    assert query["include_granted_scopes"] == ["true"]
    done = answer(env, browser, authorize)
    assert done.status_code == 200
    assert "Meet evidence is on" in done.text
    # The new grant holds what was granted before, and the new scope.
    assert {MEET_READ, CALENDAR_EVENTS} <= set(granted(env))
    assert 'id="meet-on"' in browser.get(env.url + "/dashboard").text
    assert "Turn Meet evidence off" in browser.get(env.url + "/settings/").text


def test_not_granted_leaves_it_off_and_the_dashboard_says_so(env: Any) -> None:
    browser = signed_in(env)
    done = answer(env, browser, turn_on(env, browser), untick=(MEET_READ,))
    assert "Google did not grant reading who joined your Meet calls" in done.text
    assert MEET_READ not in granted(env)
    dashboard = browser.get(env.url + "/dashboard").text
    assert "Meet evidence is off: Google did not grant" in dashboard
    with runtime_of(env.app).database.transaction() as db:
        from calendar_sync.services.attendance.meet import meet_enabled

        assert not meet_enabled(db, 1)


def test_turning_it_off_and_on_again_needs_no_new_consent(env: Any) -> None:
    browser = signed_in(env)
    answer(env, browser, turn_on(env, browser))
    off = browser.post(
        env.url + "/settings/meet",
        data={"csrf_token": token(browser, env), "meet_evidence": "off"},
    )
    assert "Meet evidence is off" in off.text
    with runtime_of(env.app).database.transaction() as db:
        assert not load_settings(db, 1).policy.meet_evidence
    assert turn_on(env, browser).endswith("/settings/")


def test_saving_settings_keeps_meet_evidence_and_its_minimum(env: Any) -> None:
    browser = signed_in(env)
    answer(env, browser, turn_on(env, browser))
    page = browser.get(env.url + "/settings/").text
    form = re.search(
        r'<form method="post" action="/settings/" class="settings">(.*?)</form>', page, re.S
    )
    assert form is not None
    fields: dict[str, Any] = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(1)):
        fields[name] = value
    for name in re.findall(
        r'<input[^>]*type="checkbox"[^>]*name="([^"]+)"[^>]*checked', form.group(1)
    ):
        fields[name] = "on"
    for name, value in re.findall(
        r'<select[^>]*name="([^"]+)".*?<option[^>]*value="([^"]*)"[^>]*selected',
        form.group(1),
        re.S,
    ):
        fields[name] = value
    fields["meet_minimum_minutes"] = "8"
    saved = browser.post(env.url + "/settings/", data=fields)
    assert "Settings saved." in saved.text, saved.text[:2000]
    with runtime_of(env.app).database.transaction() as db:
        policy = load_settings(db, 1).policy
    assert policy.meet_evidence and policy.meet.minimum.total_seconds() == 480
