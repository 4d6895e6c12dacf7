"""Push channels against the sandbox: opened, renewed, refused, and bursts collapsed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from calendar_sync.services.accounts.disconnect import disconnect_therapist
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.sync import event_sync as sync_module
from calendar_sync.services.sync.calendar_list import calendar_statuses
from calendar_sync.services.sync.channels import push_enabled
from calendar_sync.services.sync.event_sync import sync_all
from calendar_sync.storage.models import CalendarEventRow, CalendarRow, PushChannel

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
THERAPIST = "dr.rivera@example.test"


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.control("POST", "clock", {"now": NOW.isoformat()})
    return sandboxed_app


def channels(env: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = env.sandbox.control("GET", "calendar/channels")["channels"]
    return found


def calls(env: Any, method: str) -> int:
    return int(env.sandbox.control("GET", "calls")["calls"].get(method, 0))


def settle(env: Any) -> None:
    """Wait until the sandbox delivered its notifications and the queue worked them off."""
    for _ in range(3):
        assert env.sandbox.control("POST", "push/flush", {"timeout": 10})["drained"]
        assert runtime_of(env.app).sync_queue.drain(10)


def calendar_row(env: Any) -> CalendarRow:
    with runtime_of(env.app).database.transaction() as db:
        return db.scalars(select(CalendarRow).where(CalendarRow.is_primary)).one()


def test_push_is_on_for_https_or_a_loopback_google(env: Any) -> None:
    assert push_enabled(env.app.config)
    assert push_enabled({"PUBLIC_URL": "https://p.example.test", "GOOGLE_API_ROOT": "https://g/"})
    assert not push_enabled(
        {"PUBLIC_URL": "http://127.0.0.1:5000", "GOOGLE_API_ROOT": "https://www.googleapis.com/"}
    )
    assert not push_enabled({**env.app.config, "PUSH_NOTIFICATIONS": "off"})


def test_the_cycle_opens_a_channel_for_each_selected_calendar(
    env: Any, connect: Callable[..., int]
) -> None:
    connect(THERAPIST, NOW)
    env.sandbox.control("POST", f"calendar/accounts/{THERAPIST}/calendars", {"summary": "Home"})

    lines = sync_all(runtime_of(env.app), now=NOW)
    settle(env)

    row = calendar_row(env)
    (channel,) = channels(env)
    assert channel["id"] == row.channel_id
    assert channel["id"].startswith(f"cs-{row.id}-") and len(channel["id"]) <= 64
    assert channel["address"] == env.url + "/webhooks/google/calendar"
    assert channel["hasToken"] and channel["calendarId"] == THERAPIST
    assert row.channel_token_hash is not None and len(row.channel_token_hash) == 64
    assert row.channel_resource_id == channel["resourceId"]
    assert row.channel_expires_at == NOW + timedelta(days=7)
    assert f"therapist 1: calendar {row.id}: channel opened" in lines
    deliveries = env.sandbox.control("GET", "calendar/deliveries")["deliveries"]
    assert [(d["resourceState"], d["status"]) for d in deliveries] == [("sync", 200)]


def test_a_channel_near_expiry_is_replaced_and_the_old_one_stopped(
    env: Any, connect: Callable[..., int]
) -> None:
    connect(THERAPIST, NOW)
    sync_all(runtime_of(env.app), now=NOW)
    old = calendar_row(env).channel_id
    later = NOW + timedelta(days=6, hours=12)
    env.sandbox.control("POST", "clock", {"now": later.isoformat()})

    sync_all(runtime_of(env.app), now=later)

    new = calendar_row(env).channel_id
    assert new is not None and new != old
    states = {c["id"]: c["stopped"] for c in channels(env)}
    assert states == {old: True, new: False}
    with runtime_of(env.app).database.transaction() as db:
        record = db.get(PushChannel, old)
        assert record is not None and record.stopped_at == later


def test_a_refused_channel_leaves_the_calendar_polled(
    env: Any, connect: Callable[..., int]
) -> None:
    therapist_id = connect(THERAPIST, NOW)
    env.sandbox.control(
        "POST",
        "faults",
        {"method": "calendar.events.watch", "status": 403, "reason": "forbidden"},
    )

    sync_all(runtime_of(env.app), now=NOW)

    (status,) = calendar_statuses(runtime_of(env.app).database, therapist_id)
    assert status.push == "failed" and status.last_sync_at == NOW
    assert status.watch_problem and "checked regularly" in status.watch_problem
    sync_all(runtime_of(env.app), now=NOW + timedelta(minutes=5))
    assert calls(env, "calendar.events.watch") == 1
    sync_all(runtime_of(env.app), now=NOW + timedelta(minutes=15))
    (status,) = calendar_statuses(runtime_of(env.app).database, therapist_id)
    assert status.push == "on" and status.watch_problem is None


def test_a_burst_of_changes_during_a_sync_collapses_into_one_more(
    env: Any, connect: Callable[..., int]
) -> None:
    # The queue's worker syncs as of the wall clock, so the sandbox follows it here.
    now = datetime.now(UTC)
    env.sandbox.control("POST", "clock", {"now": now.isoformat()})
    connect(THERAPIST, now)
    sync_all(runtime_of(env.app), now=now)
    settle(env)
    calendar_id = calendar_row(env).id
    env.sandbox.control("DELETE", "calls")

    # A sync is running (the lock is held) while twenty changes each send a notification.
    with sync_module._lock_for(calendar_id):
        for n in range(20):
            start = now + timedelta(days=n + 1)
            env.sandbox.control(
                "POST",
                f"calendar/{THERAPIST}/events",
                {
                    "summary": f"Session {n}",
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
                    "attendees": [{"email": f"patient{n}@example.test"}],
                },
            )
        assert env.sandbox.control("POST", "push/flush", {"timeout": 10})["drained"]
    settle(env)

    deliveries = env.sandbox.control("GET", "calendar/deliveries")["deliveries"]
    exists = [d for d in deliveries if d["resourceState"] == "exists"]
    assert [d["status"] for d in exists] == [200] * 20, deliveries[:3]
    assert 1 <= calls(env, "calendar.events.list") <= 2
    with runtime_of(env.app).database.transaction() as db:
        stored = db.scalars(select(CalendarEventRow)).all()
        assert len(stored) == 20 and all(r.is_session for r in stored)
        row = db.get(CalendarRow, calendar_id)
        assert row is not None and row.sync_requested_at is None


def test_a_notification_on_an_old_channel_stops_it(
    env: Any, connect: Callable[..., int], sleeps: Any
) -> None:
    connect(THERAPIST, NOW)
    sync_all(runtime_of(env.app), now=NOW)
    old = calendar_row(env).channel_id
    later = NOW + timedelta(days=6, hours=12)
    env.sandbox.control("POST", "clock", {"now": later.isoformat()})
    # Stopping the old channel fails during renewal: it stays live at Google.
    env.sandbox.control(
        "POST", "faults", {"method": "calendar.channels.stop", "status": 503, "count": 5}
    )
    sync_all(runtime_of(env.app), now=later, sleep=sleeps)
    assert {c["id"]: c["stopped"] for c in channels(env)}[old] is False

    env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Admin",
            "start": {"dateTime": "2026-03-27T10:00:00Z"},
            "end": {"dateTime": "2026-03-27T10:50:00Z"},
        },
    )
    settle(env)

    assert {c["id"]: c["stopped"] for c in channels(env)}[old] is True
    with runtime_of(env.app).database.transaction() as db:
        record = db.get(PushChannel, old)
        assert record is not None and record.stopped_at is not None


def test_an_unselected_calendar_loses_its_channel(env: Any, connect: Callable[..., int]) -> None:
    from calendar_sync.services.sync.calendar_list import select_calendar

    therapist_id = connect(THERAPIST, NOW)
    sync_all(runtime_of(env.app), now=NOW)
    row = calendar_row(env)
    select_calendar(runtime_of(env.app).database, therapist_id, row.id, False, NOW)

    sync_all(runtime_of(env.app), now=NOW + timedelta(minutes=1))

    assert [c["stopped"] for c in channels(env)] == [True]
    assert calendar_row(env).channel_id is None


def test_disconnect_stops_the_channels(env: Any, connect: Callable[..., int]) -> None:
    therapist_id = connect(THERAPIST, NOW)
    sync_all(runtime_of(env.app), now=NOW)
    settle(env)
    assert len(channels(env)) == 1
    assert disconnect_therapist(runtime_of(env.app), therapist_id, now=NOW)
    assert [channel["stopped"] for channel in channels(env)] == [True]
    assert calls(env, "calendar.channels.stop") == 1


def test_a_replayed_notification_costs_one_more_listing_not_one_each(
    env: Any, connect: Callable[..., int]
) -> None:
    # The queue's worker syncs as of the wall clock, so the sandbox follows it here.
    now = datetime.now(UTC)
    env.sandbox.control("POST", "clock", {"now": now.isoformat()})
    connect(THERAPIST, now)
    sync_all(runtime_of(env.app), now=now)
    settle(env)
    (channel,) = [c for c in env.sandbox.state.calendar.push._channels.values()]
    # One genuine notification, captured with its secret token, replayed 200 times.
    headers = {
        "X-Goog-Channel-ID": channel.id,
        "X-Goog-Channel-Token": channel.token,
        "X-Goog-Resource-ID": channel.resource_id,
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "2",
    }
    env.sandbox.control("DELETE", "calls")
    with requests.Session() as replayer:
        answers = {
            replayer.post(
                env.url + "/webhooks/google/calendar", headers=headers, timeout=10
            ).status_code
            for _ in range(200)
        }
    # A real change right after the flood still reaches the store.
    start = now + timedelta(days=2)
    env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Session",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
            "attendees": [{"email": "patient@example.test"}],
        },
    )
    settle(env)

    assert answers == {200}
    assert 1 <= calls(env, "calendar.events.list") <= 3
    with runtime_of(env.app).database.transaction() as db:
        assert len(db.scalars(select(CalendarEventRow)).all()) == 1
