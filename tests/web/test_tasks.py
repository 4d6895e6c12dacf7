"""App Engine's cron door: only the platform's cron, only where it is switched on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from calendar_sync import create_app
from calendar_sync.google.oauth import CALENDAR_EVENTS, CALENDAR_LIST, EMAIL, FREEBUSY, OPENID
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import CalendarEventRow, FollowUpAction

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=2)
THERAPIST = "dr.rivera@example.test"
CRON = {"X-Appengine-Cron": "true"}


@pytest.fixture
def on_app_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """What App Engine standard sets in every instance's environment."""
    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("GAE_APPLICATION", "e~practice-example")


@pytest.fixture(autouse=True)
def elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GAE_ENV", "GAE_APPLICATION"):
        monkeypatch.delenv(name, raising=False)


def test_cron_runs_a_cycle_for_the_connected_therapists(
    sandboxed_app: Any, connect: Callable[..., int], on_app_engine: None
) -> None:
    app = sandboxed_app.app
    app.config.update(APP_ENGINE_CRON=True, PUSH_NOTIFICATIONS="off")
    sandboxed_app.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    therapist_id = connect(
        THERAPIST,
        CONNECTED,
        scopes=[OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY],
        with_calendars=True,
    )
    # yesterday's session, marked as a no-show (Tomato) by the therapist
    sandboxed_app.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Sam R",
            "start": {"dateTime": "2026-03-19T10:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-19T10:50:00", "timeZone": "Europe/London"},
            "colorId": "11",
            "attendees": [{"email": "sam.patient@example.test"}],
        },
    )
    sandboxed_app.sandbox.control("POST", "clock", {"now": NOW.isoformat()})
    runtime_of(app).clock = lambda: NOW
    answer = app.test_client().get("/tasks/tick", headers=CRON)
    assert answer.status_code == 200
    report = answer.get_json()
    assert report["therapists"] == 1 and report["steps"] > 0
    with runtime_of(app).database.transaction() as db:
        synced = db.scalars(select(CalendarEventRow)).all()
        kinds = set(
            db.scalars(
                select(FollowUpAction.kind).where(FollowUpAction.therapist_id == therapist_id)
            )
        )
    # the door ran the whole cycle: the calendar was read and the miss followed up
    assert [row.title for row in synced] == ["Sam R"]
    assert "email_checkin" in kinds


def test_without_the_cron_header_nothing_runs(app: Flask, on_app_engine: None) -> None:
    app.config["APP_ENGINE_CRON"] = True
    assert app.test_client().get("/tasks/tick").status_code == 404


def test_switched_off_the_door_is_closed(app: Flask, on_app_engine: None) -> None:
    headers: dict[str, Any] = dict(CRON)
    assert app.config["APP_ENGINE_CRON"] is False
    assert app.test_client().get("/tasks/tick", headers=headers).status_code == 404


@pytest.mark.parametrize(
    "environment",
    [{}, {"GAE_ENV": "standard"}, {"GAE_APPLICATION": "e~x"}, {"GAE_ENV": "localdev"}],
    ids=["nothing", "env-only", "application-only", "local-dev-server"],
)
def test_off_app_engine_the_header_opens_nothing(
    sandboxed_app: Any,
    connect: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
) -> None:
    # Switched on, but served somewhere that lets anyone send the cron header.
    app = sandboxed_app.app
    app.config.update(APP_ENGINE_CRON=True, PUSH_NOTIFICATIONS="off")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    connect(THERAPIST, CONNECTED, with_calendars=True)
    answer = app.test_client().get("/tasks/tick", headers=CRON)
    assert answer.status_code == 404
    with runtime_of(app).database.transaction() as db:
        assert db.scalars(select(CalendarEventRow)).all() == []  # no cycle ran


def test_an_app_switched_on_off_app_engine_says_the_door_is_closed(
    app_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CALENDAR_SYNC_INSTANCE", str(tmp_path / "instance"))
    app = create_app({**app_config, "APP_ENGINE_CRON": True})
    try:
        assert "this is not App Engine" in caplog.text
    finally:
        runtime_of(app).database.dispose()
