"""Two cycles at once on Postgres (cron and a worker overlap): no crash, nothing twice or lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import CalendarRow, Patient

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=2)
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]
THERAPISTS = ("dr.ana@example.test", "dr.ben@example.test", "dr.cy@example.test")
PER_THERAPIST = 4


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    return sandboxed_app


def patient(therapist: int, n: int) -> str:
    return f"pat.{therapist}.{n}@example.test"


def practice(env: Any, connect: Callable[..., int]) -> None:
    for t, email in enumerate(THERAPISTS):
        connect(email, CONNECTED, scopes=SCOPES, with_calendars=True)
        for n in range(PER_THERAPIST):
            env.sandbox.control(
                "POST",
                f"calendar/{email}/events",
                {
                    "summary": "Session",
                    "start": {"dateTime": f"2026-03-19T{9 + n:02d}:00:00", "timeZone": "UTC"},
                    "end": {"dateTime": f"2026-03-19T{9 + n:02d}:50:00", "timeZone": "UTC"},
                    "colorId": "11",
                    "attendees": [{"email": patient(t, n)}],
                },
            )


def together(env: Any, now: datetime, workers: int = 2) -> list[list[str]]:
    """Run ``workers`` cycles at ``now`` at the same moment; any escaping error fails."""
    env.sandbox.control("POST", "clock", {"now": now.isoformat()})
    runtime = runtime_of(env.app)
    start = threading.Barrier(workers)
    reports: list[list[str]] = []
    errors: list[BaseException] = []

    def cycle() -> None:
        start.wait()
        try:
            reports.append(run_cycle(runtime, now=now, dry_run=False).lines())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=cycle) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return reports


def test_overlapping_cycles_send_each_follow_up_once_and_drop_none(
    env: Any, connect: Callable[..., int]
) -> None:
    practice(env, connect)
    reports = []
    # before, at and after the end of the hold everything waits out first
    hold = int(DEFAULT_PATIENT_HOLD.total_seconds() // 60)
    for minutes in (0, 20, hold, hold + 20):
        reports += together(env, NOW + timedelta(minutes=minutes))

    mail = env.sandbox.control("GET", "mail")["messages"]
    for t in range(len(THERAPISTS)):
        for n in range(PER_THERAPIST):
            to = patient(t, n)
            assert len([m for m in mail if m["to"] == [to]]) == 1, (to, reports)
            invited = env.sandbox.control("GET", f"calendar/invitations?email={to}")["messages"]
            assert len(invited) == 1, (to, reports)
    flat = "\n".join(line for report in reports for line in report)
    assert "failed" not in flat and "unexpectedly" not in flat, flat
    with runtime_of(env.app).database.transaction() as db:
        emails = db.scalars(select(Patient.email)).all()
        calendars = db.scalars(select(CalendarRow.google_calendar_id)).all()
    # Each invited patient got one directory entry, each calendar one row.
    assert sorted(emails) == sorted(set(emails)) and len(emails) == 12
    assert sorted(calendars) == sorted(THERAPISTS)
