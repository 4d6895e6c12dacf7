"""Fixtures shared by the whole suite: a fresh database per test, the app, a browser.

Postgres and chromium tests are skipped with the reason when the machine lacks them, except
when ``TEST_REQUIRE_ALL=1`` (set by CI), where a missing part is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from calendar_sync import create_app
from calendar_sync.services.runtime import runtime_of

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
REQUIRE_ALL = os.environ.get("TEST_REQUIRE_ALL") == "1"


def missing(reason: str) -> None:
    """Skip with ``reason``, or fail when the run must not skip anything."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (TEST_REQUIRE_ALL=1 forbids skipping)")
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty Postgres database, dropped after the test."""
    import psycopg

    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"calendar_sync_test_{uuid.uuid4().hex[:12]}"
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        missing(f"no PostgreSQL server at {admin}: {exc.__class__.__name__}")
        raise  # unreachable: missing() always raises
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'calendar_sync.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on Postgres."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLite by default; ``TEST_DATABASE=postgres`` runs the app tests on Postgres."""
    backend = os.environ.get("TEST_DATABASE", "sqlite")
    return str(request.getfixturevalue(f"{backend}_url"))


@pytest.fixture
def app_config(tmp_path: Path, database_url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_URL": "http://127.0.0.1:5000",
        "GOOGLE_CLIENT_SECRETS": str(tmp_path / "client_secret.json"),
        # The tests step the clock by minutes and expect calendars read every quarter hour,
        # push or not (the sandbox's notifications arrive on a thread of their own); the
        # defaults are tested on their own (tests/services/test_schedule.py).
        "POLL_INTERVAL_SECONDS": "900",
        "PUSH_POLL_INTERVAL_SECONDS": "900",
    }


@pytest.fixture
def app(
    app_config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    monkeypatch.setenv("CALENDAR_SYNC_INSTANCE", str(tmp_path / "instance"))
    application = create_app(app_config)
    yield application
    runtime_of(application).database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def live_app(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on a free loopback port; yields its base URL."""
    from calendar_sync.sandbox.server import serve_in_thread

    server = serve_in_thread(app)
    yield server.url.rstrip("/")
    server.stop()


@pytest.fixture
def google_sandbox() -> Iterator[Any]:
    """The Google sandbox, served over HTTP on a free loopback port."""
    from calendar_sync.sandbox.testing import RunningSandbox

    running = RunningSandbox()
    yield running
    running.stop()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SandboxedApp:
    """The app configured against the sandbox, and served at ``url`` (its PUBLIC_URL)."""

    app: Flask
    url: str
    sandbox: Any


@pytest.fixture
def sandboxed_app(
    app_config: dict[str, Any],
    google_sandbox: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SandboxedApp]:
    """The app wired to the sandbox as it would be to Google, served over real HTTP."""
    from calendar_sync.sandbox.server import serve_in_thread

    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    secrets = google_sandbox.register_client([public_url + "/oauth2/callback"])
    secrets_path = tmp_path / "client_secret.json"
    secrets_path.write_text(json.dumps(secrets))
    monkeypatch.setenv("CALENDAR_SYNC_INSTANCE", str(tmp_path / "instance"))
    application = create_app(
        {
            **app_config,
            "PUBLIC_URL": public_url,
            "GOOGLE_API_ROOT": google_sandbox.url,
            "GOOGLE_CLIENT_SECRETS": str(secrets_path),
        }
    )
    server = serve_in_thread(application, port=port)
    yield SandboxedApp(application, public_url, google_sandbox)
    server.stop()
    runtime_of(application).database.dispose()


# -- therapists connected to the Google sandbox without the browser flow -------------------

CONNECT_SCOPES = [
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
]


def connect_therapist(
    env: SandboxedApp,
    email: str,
    now: datetime,
    *,
    time_zone: str = "Europe/London",
    scopes: list[str] | None = None,
    with_calendars: bool = False,
    follow_ups: bool = True,
    account_exists: bool = False,
) -> int:
    """Create the sandbox account and a connected therapist; returns the therapist id.

    ``with_calendars`` also reads the calendar list, as the first cycle would (the main
    calendar chosen), so a sync can follow at once. ``follow_ups`` switches follow-ups on
    from ``now``, as the first-run checklist does (off: the therapist is still rehearsing).
    """
    from calendar_sync.google.oauth import Grant
    from calendar_sync.services.accounts.settings import switch_follow_ups_on
    from calendar_sync.storage.models import Therapist

    granted = scopes or CONNECT_SCOPES
    if not account_exists:
        env.sandbox.add_account(email, None, time_zone)
    secrets = json.loads(Path(env.app.config["GOOGLE_CLIENT_SECRETS"]).read_text())
    tokens = env.sandbox.issue_tokens(email, granted, secrets["web"]["client_id"])
    with runtime_of(env.app).database.transaction() as db:
        therapist = Therapist(
            google_subject="sub-" + email,
            email=email,
            display_name="",
            time_zone=time_zone,
            created_at=now,
        )
        db.add(therapist)
        db.flush()
        grant = Grant(
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_at=now + timedelta(seconds=int(tokens["expires_in"])),
            scopes=frozenset(granted),
        )
        runtime_of(env.app).connections.save_grant(db, therapist.id, grant, now)
        therapist_id = int(therapist.id)
        if follow_ups:
            switch_follow_ups_on(db, therapist_id, now)
    if with_calendars:
        from calendar_sync.services.sync.calendar_list import refresh_calendar_list

        keeper = runtime_of(env.app).connections
        refresh_calendar_list(
            runtime_of(env.app).database,
            keeper.apis(therapist_id, now),
            therapist_id,
            keeper.granted_scopes(therapist_id),
            now,
        )
    return therapist_id


@pytest.fixture
def connect(sandboxed_app: SandboxedApp) -> Callable[..., int]:
    """``connect(email, now, time_zone=..., scopes=...)``: a therapist connected to the sandbox."""

    def _connect(email: str, now: datetime, **kwargs: Any) -> int:
        return connect_therapist(sandboxed_app, email, now, **kwargs)

    return _connect


class Sleeps(list[float]):
    """Records the waits the retry policy asks for, instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
