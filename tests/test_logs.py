"""No secret, token or personal data in any log, even with everything at DEBUG."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import select

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.logs import RedactingFilter, redact
from calendar_sync.services.accounts.settings import switch_follow_ups_on
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import Therapist

ROOT = Path(__file__).resolve().parent.parent
THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.rivers@example.test"
PATIENT_NAME = "Samantha Rivers"


def test_request_lines_lose_query_strings_and_addresses() -> None:
    line = '"GET /oauth2/callback?state=abc&code=4/0secret HTTP/1.1" 302 -'
    assert redact(line) == '"GET /oauth2/callback?<redacted> HTTP/1.1" 302 -'
    assert "ana@example.test" not in redact("/patients/ana@example.test/history")
    assert "ana%40example.test" not in redact("GET /calendars/ana%40example.test/events")


def test_links_tokens_secrets_and_refused_keys_are_redacted() -> None:
    assert redact('"GET /p/Ab1.Cd2-x HTTP/1.1" 200') == '"GET /p/<redacted> HTTP/1.1" 200'
    assert redact("POST /m/tok.en/ 302") == "POST /m/<redacted>/ 302"
    body = "grant_type=refresh_token&client_id=c1&client_secret=s3cr3t&refresh_token=r3fr3sh"
    assert "s3cr3t" not in redact(body) and "r3fr3sh" not in redact(body)
    answer = '{"access_token": "acc3ss", "id_token": "eyJa.eyJb.c", "expires_in": 3599}'
    assert "acc3ss" not in redact(answer) and "eyJa" not in redact(answer)
    assert '"expires_in": 3599' in redact(answer)
    token = "{'access_token': 'acc3ss', 'refresh_token': '1//r3f'}"
    assert "acc3ss" not in redact(token) and "r3f" not in redact(token)
    assert "abc" not in redact("{'Authorization': 'Bearer abc'}")
    assert "ya29.a0Af" not in redact("token ya29.a0Af_x")
    detail = "DETAIL:  Key (google_subject)=(1049588) already exists."
    assert redact(detail) == "DETAIL:  Key (google_subject)=(<redacted>) already exists."


def test_request_lines_lose_the_tokens_of_links() -> None:
    for path, shown in (
        ("/p/ImFiYyI.Zx1.sig", "/p/<redacted>"),
        ("/m/Ik1rIg.Zx2.sig", "/m/<redacted>"),
        ("/p/ImFiYyI.Zx1.sig/answer", "/p/<redacted>/answer"),
    ):
        line = f'"POST {path} HTTP/1.1" 200 -'
        assert redact(line) == f'"POST {shown} HTTP/1.1" 200 -'
    # other paths keep their words
    assert redact('"GET /patients/7 HTTP/1.1"') == '"GET /patients/7 HTTP/1.1"'


def test_werkzeug_log_records_are_redacted(app: object, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info("%s - - [%s] %s", "127.0.0.1", "now", '"GET /x?code=4/0secret HTTP/1.1" 200 -')
        logger.info("%s - - [%s] %s", "127.0.0.1", "now", '"GET /p/s3cr3t.link HTTP/1.1" 200 -')
    assert "4/0secret" not in caplog.text and "s3cr3t" not in caplog.text
    assert "?<redacted>" in caplog.text and "/p/<redacted>" in caplog.text
    # The filter form, for a handler that must not depend on the record factory.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /m/%s", ("t0k",), None)
    assert RedactingFilter().filter(record) and record.getMessage() == "GET /m/<redacted>"


# -- a whole story at DEBUG against the sandbox ---------------------------------------------


def sign_in(env: Any) -> requests.Session:
    """The real connect flow: Connect, the sandbox's consent page, the callback."""
    browser = requests.Session()
    start = browser.get(env.url + "/connect", allow_redirects=False, timeout=10)
    page = requests.get(start.headers["Location"], timeout=10)
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert request_id is not None and action is not None
    answer = requests.post(
        urljoin(env.sandbox.url, action.group(1)),
        data={
            "request_id": request_id.group(1),
            "account": THERAPIST,
            "scope": re.findall(r'name="scope" value="([^"]+)"', page.text),
            "decision": "allow",
        },
        allow_redirects=False,
        timeout=10,
    )
    location = answer.headers["Location"]
    if location.startswith("/"):
        location = env.sandbox.url.rstrip("/") + location
    assert browser.get(location, timeout=10).status_code == 200
    return browser


def event(env: Any, start: datetime, title: str, **extra: Any) -> None:
    body = {
        "summary": title,
        "start": {"dateTime": start.isoformat(), "timeZone": "Europe/London"},
        "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
        "attendees": [{"email": PATIENT}],
        **extra,
    }
    env.sandbox.control("POST", f"calendar/{THERAPIST}/events", body)


def secrets_of(env: Any) -> list[str]:
    """Every token and secret the story handled, and the personal data in it."""
    state = env.sandbox.state
    with state.lock:
        tokens = [*state.access_tokens, *state.refresh_tokens]
    client = json.loads(Path(env.app.config["GOOGLE_CLIENT_SECRETS"]).read_text())["web"]
    return [*tokens, client["client_secret"], PATIENT, PATIENT_NAME, "sub-secret-4711"]


def test_a_whole_cycle_at_debug_logs_no_secret_token_or_personal_data(
    sandboxed_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env = sandboxed_app
    env.app.config["PUSH_NOTIFICATIONS"] = "off"
    env.sandbox.add_account(THERAPIST, "Dr Alex Rivera", "Europe/London")
    caplog.set_level(logging.DEBUG)
    browser = sign_in(env)

    now = datetime.now(UTC).replace(microsecond=0)
    later = now + timedelta(days=1)
    with runtime_of(env.app).database.transaction() as db:
        # through the first-run checklist, as the therapist would
        switch_follow_ups_on(db, db.scalars(select(Therapist.id)).one(), now)
    # A no-show (Tomato) and a session nobody marked, both ended by ``later``.
    event(env, now + timedelta(hours=1), f"{PATIENT_NAME} (therapy)", colorId="11")
    event(env, later - timedelta(hours=4), f"{PATIENT_NAME} follow-up")
    env.sandbox.control("POST", "clock", {"now": later.isoformat()})
    # One error from Google on the way: the sync is retried within the cycle.
    env.sandbox.control("POST", "faults", {"method": "calendar.events.list", "status": 500})
    lines = run_cycle(runtime_of(env.app), now=later, dry_run=False).lines()
    run_cycle(runtime_of(env.app), now=later + timedelta(minutes=20), dry_run=False)
    released = later + DEFAULT_PATIENT_HOLD  # the patient's email waits out the hold
    env.sandbox.control("POST", "clock", {"now": released.isoformat()})
    lines += run_cycle(runtime_of(env.app), now=released, dry_run=False).lines()

    mail = env.sandbox.control("GET", "mail")["messages"]
    links = {
        kind: re.findall(
            rf"{re.escape(env.url)}/{kind}/[^\s\"<]+", " ".join(m["text"] for m in mail)
        )
        for kind in ("p", "m")
    }
    assert links["p"] and links["m"], lines
    for link in links["p"][:2] + links["m"][:2]:
        assert browser.get(link, timeout=10).status_code < 500
    # An error with a database statement in it: the values must not be printed.
    database = runtime_of(env.app).database
    with database.transaction() as db:
        subject = db.scalars(select(Therapist.google_subject)).one()
    try:
        with database.transaction() as db:
            db.add(
                Therapist(
                    google_subject=subject,
                    email=PATIENT,
                    display_name=PATIENT_NAME,
                    time_zone="UTC",
                    created_at=now,
                )
            )
    except Exception:
        logging.getLogger("calendar_sync.test").exception("the insert failed")

    written = caplog.text + "\n".join(
        (r.exc_text or "") + (r.stack_info or "") for r in caplog.records
    )
    assert "the insert failed" in written and "IntegrityError" in written
    assert any("/p/<redacted>" in r.getMessage() for r in caplog.records)
    tokens = [link.rsplit("/", 1)[-1] for link in links["p"] + links["m"]]
    for secret in [*secrets_of(env), subject, *tokens]:
        assert secret not in written, secret


# -- gunicorn, as app.yaml runs it ------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gunicorns_access_log_keeps_no_link_token(tmp_path: Path, sqlite_url: str) -> None:
    from cryptography.fernet import Fernet

    port = free_port()
    access = tmp_path / "access.log"
    errors = tmp_path / "error.log"
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "SECRET_KEY": "test-secret-key",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CALENDAR_SYNC_INSTANCE": str(tmp_path / "instance"),
        "PYTHONPATH": str(ROOT),
    }
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, on loopback
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(access),
            "--error-logfile",
            str(errors),
            "--log-level",
            "debug",
            "calendar_sync:create_app()",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        for path in ("/p/pat1ent.l1nk.t0ken", "/m/th3rap1st.l1nk"):
            requests.get(
                f"http://127.0.0.1:{port}{path}?x=q5ery",
                headers={"Referer": f"http://127.0.0.1:{port}/p/r3ferer.t0ken"},
                timeout=5,
            )
    finally:
        server.terminate()
        server.wait(timeout=20)
    log = access.read_text() + errors.read_text()
    assert "/p/<redacted>" in access.read_text() and "/m/<redacted>" in access.read_text()
    for secret in ("pat1ent", "th3rap1st", "r3ferer", "q5ery"):
        assert secret not in log


def test_database_errors_never_quote_the_values(any_database_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from calendar_sync.storage import Database

    database = Database(any_database_url)
    database.upgrade()
    now = datetime.now(UTC)
    try:
        for _ in range(2):
            with database.transaction() as db:
                db.add(
                    Therapist(
                        google_subject="sub-secret-4711",
                        email=PATIENT,
                        display_name=PATIENT_NAME,
                        time_zone="UTC",
                        created_at=now,
                    )
                )
    except IntegrityError as exc:
        text = str(exc)
    else:
        pytest.fail("the second insert should have been refused")
    finally:
        database.dispose()
    assert "INSERT INTO therapists" in text
    assert PATIENT not in text and PATIENT_NAME not in text
    # Postgres quotes the refused key itself; the log's redaction takes it out.
    assert "sub-secret-4711" not in redact(text)
