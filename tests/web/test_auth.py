"""The connect flow, end to end against the Google sandbox over real HTTP."""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from sqlalchemy import delete, event, select, text

from calendar_sync.google import ReauthorizationNeeded
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.oauth import CALENDAR_EVENTS, CALENDAR_LIST, FREEBUSY, GMAIL_SEND
from calendar_sync.services.accounts.sign_ins import SIGN_IN_LIFETIME
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import BrowserSignIn, GoogleConnection, SignInAttempt, Therapist
from calendar_sync.web import auth
from calendar_sync.web.auth import ATTEMPT_LIFETIME

THERAPIST = "dr.rivera@example.test"


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.add_account(THERAPIST, "Dr Alex Rivera", "Europe/London")
    return sandboxed_app


def consent(
    browser: requests.Session,
    env: Any,
    *,
    untick: tuple[str, ...] = (),
    decision: str = "allow",
    account: str = THERAPIST,
) -> str:
    """Click Connect, answer the sandbox's consent page; returns the callback URL."""
    start = browser.get(env.url + "/connect", allow_redirects=False)
    assert start.status_code == 302
    page = requests.get(start.headers["Location"], timeout=10)
    assert page.status_code == 200, page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id is not None
    scopes = [s for s in re.findall(r'name="scope" value="([^"]+)"', page.text) if s not in untick]
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    answer = requests.post(
        urljoin(env.sandbox.url, action.group(1)),
        data={
            "request_id": request_id.group(1),
            "account": account,
            "scope": scopes,
            "decision": decision,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code in (302, 303), answer.text
    location = answer.headers["Location"]
    if location.startswith("/"):
        location = env.sandbox.url.rstrip("/") + location
    return str(location)


def connect(env: Any, **kwargs: Any) -> requests.Session:
    browser = requests.Session()
    callback = consent(browser, env, **kwargs)
    done = browser.get(callback, timeout=10)
    assert done.status_code == 200, done.text
    return browser


def stored_connection(env: Any) -> GoogleConnection:
    with runtime_of(env.app).database.transaction() as db:
        return db.scalars(select(GoogleConnection)).one()


def test_connect_signs_in_and_stores_encrypted_tokens(env: Any) -> None:
    browser = connect(env)
    dashboard = browser.get(env.url + "/dashboard", timeout=10)
    assert f"Connected as <strong>{THERAPIST}</strong>" in dashboard.text
    connection = stored_connection(env)
    assert connection.status == "active"
    assert GMAIL_SEND in connection.granted_scopes.split()
    # At rest the column holds a Fernet token, and no Google token appears in the row.
    database = runtime_of(env.app).database
    with database.engine.connect() as raw:
        row = raw.execute(text("SELECT * FROM google_connections")).mappings().one()
    keeper = runtime_of(env.app).connections
    refresh = keeper.cipher.decrypt(row["refresh_token_encrypted"])
    access = keeper.cipher.decrypt(row["access_token_encrypted"])
    assert row["refresh_token_encrypted"].startswith("gAAAAA")
    assert refresh not in str(dict(row)) and access not in str(dict(row))
    assert refresh in env.sandbox.state.refresh_tokens


def test_unticked_gmail_switches_email_off_and_says_so(env: Any) -> None:
    browser = connect(env, untick=(GMAIL_SEND,))
    dashboard = browser.get(env.url + "/dashboard", timeout=10)
    assert 'id="switched-off"' in dashboard.text
    assert "check-in emails from your Gmail address" in dashboard.text
    assert GMAIL_SEND not in stored_connection(env).granted_scopes.split()


def test_cancelled_consent_connects_nothing(env: Any) -> None:
    browser = requests.Session()
    callback = consent(browser, env, decision="deny")
    answer = browser.get(callback, timeout=10)
    assert answer.status_code == 200
    assert "cancelled" in answer.text
    with runtime_of(env.app).database.transaction() as db:
        assert db.scalars(select(Therapist)).all() == []


def test_forged_state_is_refused(env: Any) -> None:
    browser = requests.Session()
    browser.get(env.url + "/connect", allow_redirects=False)
    answer = browser.get(env.url + "/oauth2/callback?state=forged&code=4/0abc", timeout=10)
    assert answer.status_code == 400
    assert "could not be completed" in answer.text


def test_callback_in_another_browser_is_refused(env: Any) -> None:
    callback = consent(requests.Session(), env)
    other = requests.Session()
    other.get(env.url + "/", timeout=10)
    assert other.get(callback, timeout=10).status_code == 400


def test_missing_verifier_is_refused(env: Any) -> None:
    browser = requests.Session()
    callback = consent(browser, env)
    with runtime_of(env.app).database.transaction() as db:
        db.execute(delete(SignInAttempt))
    assert browser.get(callback, timeout=10).status_code == 400


def test_reused_callback_is_refused(env: Any) -> None:
    browser = requests.Session()
    callback = consent(browser, env)
    assert browser.get(callback, timeout=10).status_code == 200
    assert browser.get(callback, timeout=10).status_code == 400


def test_sign_in_again_without_refresh_token_keeps_the_stored_one(env: Any) -> None:
    connect(env)
    keeper = runtime_of(env.app).connections
    first = keeper.cipher.decrypt(stored_connection(env).refresh_token_encrypted)
    # A returning therapist is not shown consent, so Google sends no refresh token.
    browser = requests.Session()
    callback = consent(browser, env)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert env.sandbox.state.codes[code].consent_shown is False
    assert browser.get(callback, timeout=10).status_code == 200
    assert keeper.cipher.decrypt(stored_connection(env).refresh_token_encrypted) == first
    assert stored_connection(env).status == "active"


def test_revoked_grant_pauses_and_asks_to_reconnect(env: Any) -> None:
    browser = connect(env)
    keeper = runtime_of(env.app).connections
    therapist_id = stored_connection(env).therapist_id
    env.sandbox.control("POST", "grants/revoke", {"email": THERAPIST})
    later = datetime.now(UTC) + timedelta(hours=2)  # the stored access token has expired
    # nothing is refreshed until a call needs the token
    apis = keeper.apis(therapist_id, later)
    with pytest.raises(ReauthorizationNeeded):
        apis.calendar  # noqa: B018 - the first use asks for a valid token
    assert stored_connection(env).status == "needs_reauth"
    calls_before = env.sandbox.control("GET", "calls").get("oauth.token", 0)
    with pytest.raises(ReauthorizationNeeded):
        keeper.apis(therapist_id, later)
    # no retrying a dead grant
    assert env.sandbox.control("GET", "calls").get("oauth.token", 0) == calls_before
    dashboard = browser.get(env.url + "/dashboard", timeout=10)
    assert 'id="reauth"' in dashboard.text
    # connecting again (consent shown) brings the connection back
    connect(env)
    assert stored_connection(env).status == "active"
    assert keeper.apis(therapist_id, later).valid_credentials().valid


def test_two_workers_refreshing_at_once_leave_a_valid_token(env: Any) -> None:
    connect(env)
    keeper = runtime_of(env.app).connections
    therapist_id = stored_connection(env).therapist_id
    later = datetime.now(UTC) + timedelta(hours=2)
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        results.append(GoogleApis(keeper.credentials(therapist_id, later), keeper.api_root))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 2
    for apis in results:
        assert apis.oauth2.userinfo().get().execute()["email"] == THERAPIST
    stored = keeper.credentials(therapist_id, datetime.now(UTC))
    assert (
        GoogleApis(stored, keeper.api_root).oauth2.userinfo().get().execute()["email"] == THERAPIST
    )


def test_disconnect_revokes_and_deletes(env: Any) -> None:
    browser = connect(env)
    page = browser.get(env.url + "/settings/disconnect", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    # without the form's token nothing happens
    assert browser.post(env.url + "/settings/disconnect", timeout=10).status_code == 400
    assert stored_connection(env).status == "active"
    done = browser.post(
        env.url + "/settings/disconnect", data={"csrf_token": token.group(1)}, timeout=10
    )
    assert done.status_code == 200
    assert "Disconnected" in done.text
    with runtime_of(env.app).database.transaction() as db:
        assert db.scalars(select(Therapist)).all() == []
        assert db.scalars(select(GoogleConnection)).all() == []
    assert all(grant.revoked for grant in env.sandbox.state.grants.values())
    assert browser.get(env.url + "/dashboard", allow_redirects=False, timeout=10).status_code == 302


def form_token(browser: requests.Session, env: Any, path: str = "/dashboard") -> str:
    page = browser.get(env.url + path, timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text
    return token.group(1)


def copied(browser: requests.Session) -> requests.Session:
    """Another browser holding a copy of ``browser``'s cookies (a kept or stolen cookie)."""
    thief = requests.Session()
    thief.cookies.update(browser.cookies)
    return thief


def test_a_cookie_kept_from_before_disconnect_opens_nobody_elses_account(env: Any) -> None:
    first = connect(env)
    kept = copied(first)
    with runtime_of(env.app).database.transaction() as db:
        first_id = db.scalars(select(Therapist.id)).one()
    first.post(
        env.url + "/settings/disconnect",
        data={"csrf_token": form_token(first, env, "/settings/disconnect")},
        timeout=10,
    )
    # The next therapist to sign up; SQLite gives them the row id the first one had.
    other = "dr.okafor@example.test"
    env.sandbox.add_account(other, "Dr Ada Okafor", "Europe/London")
    second = requests.Session()
    callback = consent(second, env, account=other)
    assert second.get(callback, timeout=10).status_code == 200
    with runtime_of(env.app).database.transaction() as db:
        second_id = db.scalars(select(Therapist.id)).one()
    if runtime_of(env.app).database.engine.dialect.name == "sqlite":
        assert second_id == first_id
    answer = kept.get(env.url + "/dashboard", allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert other not in kept.get(env.url + "/settings/", timeout=10).text
    assert other in second.get(env.url + "/dashboard", timeout=10).text


def test_a_cookie_copied_before_sign_out_is_refused_after_it(env: Any) -> None:
    browser = connect(env)
    kept = copied(browser)
    assert THERAPIST in kept.get(env.url + "/dashboard", timeout=10).text
    signed_out = browser.post(
        env.url + "/signout", data={"csrf_token": form_token(browser, env)}, timeout=10
    )
    assert signed_out.status_code == 200
    for holder in (browser, kept):
        answer = holder.get(env.url + "/dashboard", allow_redirects=False, timeout=10)
        assert answer.status_code == 302 and answer.headers["Location"] == "/"
    with runtime_of(env.app).database.transaction() as db:
        assert db.scalars(select(BrowserSignIn)).all() == []


def test_a_sign_in_ends_after_its_lifetime(env: Any) -> None:
    browser = connect(env)
    runtime = runtime_of(env.app)
    start = datetime.now(UTC)
    runtime.clock = lambda: start + SIGN_IN_LIFETIME - timedelta(minutes=1)
    assert browser.get(env.url + "/dashboard", allow_redirects=False, timeout=10).status_code == 200
    runtime.clock = lambda: start + SIGN_IN_LIFETIME + timedelta(minutes=1)
    assert browser.get(env.url + "/dashboard", allow_redirects=False, timeout=10).status_code == 302


def test_the_cookie_holds_no_row_id(env: Any) -> None:
    browser = connect(env)
    serializer = env.app.session_interface.get_signing_serializer(env.app)
    held = serializer.loads(browser.cookies["session"])
    assert set(held) == {"sign_in", "csrf"}
    with runtime_of(env.app).database.transaction() as db:
        stored = db.scalars(select(BrowserSignIn)).one()
    # only a hash of the cookie's secret is kept on the server
    assert stored.token_hash != held["sign_in"]


def signed_in_anywhere(env: Any) -> bool:
    with runtime_of(env.app).database.transaction() as db:
        return bool(db.scalars(select(BrowserSignIn)).all())


@pytest.mark.parametrize(
    "untick",
    [
        (CALENDAR_EVENTS,),
        (CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND),
    ],
    ids=["without-events", "sign-in-scopes-only"],
)
def test_a_sign_in_without_the_required_permissions_is_refused(
    env: Any, untick: tuple[str, ...]
) -> None:
    browser = requests.Session()
    callback = consent(browser, env, untick=untick)
    answer = browser.get(callback, timeout=10)
    assert answer.status_code == 403
    assert "needs a permission you did not give" in answer.text
    assert "reading sessions and proposing new times" in answer.text
    assert "Nothing was connected" in answer.text
    with runtime_of(env.app).database.transaction() as db:
        assert db.scalars(select(Therapist)).all() == []
        assert db.scalars(select(GoogleConnection)).all() == []
    assert not signed_in_anywhere(env)
    dashboard = browser.get(env.url + "/dashboard", allow_redirects=False, timeout=10)
    assert dashboard.status_code == 302
    # Starting again shows the consent page with every box, and then connects.
    again = browser.get(env.url + "/connect?consent=1", allow_redirects=False, timeout=10)
    assert "prompt=consent" in again.headers["Location"]


def test_two_first_sign_ins_of_one_account_at_once_end_in_one_therapist(
    env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    browser = requests.Session()
    callback = consent(browser, env)
    engine = runtime_of(env.app).database.engine
    raced: list[str] = []

    def other_request_wins(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The other sign-in inserts the same account between this one's look-up and insert.
        if raced or not statement.lstrip().upper().startswith("INSERT INTO THERAPISTS"):
            return
        raced.append(statement)
        with engine.begin() as other:
            other.execute(
                Therapist.__table__.insert().values(
                    google_subject=env.sandbox.state.accounts[THERAPIST].id,
                    email=THERAPIST,
                    display_name="",
                    time_zone="UTC",
                    created_at=datetime.now(UTC),
                )
            )

    event.listen(engine, "before_cursor_execute", other_request_wins)
    try:
        with caplog.at_level(logging.DEBUG):
            answer = browser.get(callback, timeout=10)
    finally:
        event.remove(engine, "before_cursor_execute", other_request_wins)
    assert raced, "the race was not played"
    assert answer.status_code == 200
    assert THERAPIST in answer.text  # signed in, on the dashboard
    with runtime_of(env.app).database.transaction() as db:
        assert len(db.scalars(select(Therapist)).all()) == 1
        assert stored_connection(env).status == "active"
    assert THERAPIST not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_anonymous_connects_keep_a_bounded_number_of_attempts(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "MAX_PENDING_ATTEMPTS", 3)
    runtime = runtime_of(env.app)
    start = datetime.now(UTC)
    runtime.clock = lambda: start

    def pending() -> int:
        with runtime.database.transaction() as db:
            return len(db.scalars(select(SignInAttempt)).all())

    # One browser pressing Connect again and again keeps one attempt.
    same = env.app.test_client()
    for _ in range(5):
        assert same.get("/connect").status_code == 302
    assert pending() == 1
    # Strangers without cookies each start one, up to the cap.
    for _ in range(2):
        assert env.app.test_client().get("/connect").status_code == 302
    refused = env.app.test_client().get("/connect")
    assert refused.status_code == 503
    assert "try again in a few minutes" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert pending() == 3
    # Attempts expire; the next Connect clears them away and goes through.
    runtime.clock = lambda: start + ATTEMPT_LIFETIME + timedelta(seconds=1)
    assert env.app.test_client().get("/connect").status_code == 302
    assert pending() == 1


def test_an_openid_connect_answer_naming_the_account_sub_signs_in(env: Any) -> None:
    env.sandbox.control("POST", "userinfo", {"style": "oidc"})
    browser = connect(env)
    assert f"Connected as <strong>{THERAPIST}</strong>" in browser.get(env.url + "/dashboard").text
    with runtime_of(env.app).database.transaction() as db:
        therapist = db.scalars(select(Therapist)).one()
    assert therapist.google_subject == env.sandbox.state.accounts[THERAPIST].id
    # The same account answered the v2 way later is the same therapist.
    env.sandbox.control("POST", "userinfo", {"style": "v2"})
    connect(env)
    with runtime_of(env.app).database.transaction() as db:
        assert [t.google_subject for t in db.scalars(select(Therapist))] == [
            therapist.google_subject
        ]
