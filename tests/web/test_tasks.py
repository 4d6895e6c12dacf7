"""App Engine's cron door: only the platform's cron, only where it is switched on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from calendar_sync.google.oauth import CALENDAR_EVENTS, CALENDAR_LIST, EMAIL, FREEBUSY, OPENID
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import CalendarEventRow, FollowUpAction

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=2)
THERAPIST = "dr.rivera@example.test"
CRON = {"X-Appengine-Cron": "true"}


def test_cron_runs_a_cycle_for_the_connected_therapists(
    sandboxed_app: Any, connect: Callable[..., int]
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


def test_without_the_cron_header_nothing_runs(app: Flask) -> None:
    app.config["APP_ENGINE_CRON"] = True
    assert app.test_client().get("/tasks/tick").status_code == 404


def test_off_app_engine_the_door_is_closed(app: Flask) -> None:
    headers: dict[str, Any] = dict(CRON)
    assert app.config["APP_ENGINE_CRON"] is False
    assert app.test_client().get("/tasks/tick", headers=headers).status_code == 404
