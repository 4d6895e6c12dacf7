"""Follow-up messages are rendered before their transaction: no template holds the database."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD, ActionKind, Policy
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.mail import templates
from calendar_sync.services.accounts.settings import load_settings, save_settings, with_policy
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.runtime import runtime_of

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=2)
THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"


def _session(env: Any, start: str, end: str, **extra: Any) -> None:
    env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Sam R",
            "start": {"dateTime": start, "timeZone": "Europe/London"},
            "end": {"dateTime": end, "timeZone": "Europe/London"},
            "attendees": [{"email": PATIENT}],
            **extra,
        },
    )


def test_every_follow_up_message_renders_with_no_connection_held(
    sandboxed_app: Any, connect: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = sandboxed_app
    env.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    env.app.config["PUSH_NOTIFICATIONS"] = "off"
    scopes = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]
    therapist_id = connect(THERAPIST, CONNECTED, scopes=scopes, with_calendars=True)
    database = runtime_of(env.app).database
    with database.transaction() as db:
        settings = load_settings(db, therapist_id)
        first = frozenset({ActionKind.EMAIL_CHECKIN, ActionKind.ALERT_THERAPIST_PATTERN})
        policy = Policy(ladder=(first, *settings.policy.ladder[1:]))
        save_settings(db, therapist_id, with_policy(settings, policy), CONNECTED)
    # a no-show yesterday (check-in and an alert), and one this morning left unmarked (reminder)
    _session(env, "2026-03-19T10:00:00", "2026-03-19T10:50:00", colorId="11")
    _session(env, "2026-03-20T08:00:00", "2026-03-20T08:50:00")

    held: dict[str, int] = {}
    real = templates._render_part

    def watching(name: str, part: str, context: Mapping[str, Any], source: str | None) -> str:
        held[name] = max(held.get(name, 0), database.engine.pool.checkedout())  # type: ignore[attr-defined]
        return real(name, part, context, source)

    monkeypatch.setattr(templates, "_render_part", watching)
    env.sandbox.control("POST", "clock", {"now": NOW.isoformat()})
    run_cycle(runtime_of(env.app), now=NOW, dry_run=False)

    assert held == {"checkin": 0, "pattern_alert": 0, "unmarked_reminder": 0}
    released = NOW + DEFAULT_PATIENT_HOLD  # the check-in waits out the hold
    env.sandbox.control("POST", "clock", {"now": released.isoformat()})
    run_cycle(runtime_of(env.app), now=released, dry_run=False)
    sent = {m["subject"] for m in env.sandbox.control("GET", "mail")["messages"]}
    assert len(sent) == 3
