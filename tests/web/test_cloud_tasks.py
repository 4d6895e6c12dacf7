"""Cron -> dispatcher -> Cloud Tasks (the sandbox's) -> task handlers -> work done, over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import (
    CalendarEventRow,
    CalendarRow,
    OutboxMessage,
    TherapistLease,
)

CLOUD = "https://www.googleapis.com/auth/cloud-platform"
QUEUE = "projects/practice/locations/europe-west2/queues/therapists"
ROBOT = "tasks@practice.iam.example.test"
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]
THERAPISTS = ("dr.ana@example.test", "dr.ben@example.test", "dr.cy@example.test")


@pytest.fixture
def target() -> str:
    return "appengine"


@pytest.fixture
def app_config(
    app_config: dict[str, Any], google_sandbox: Any, target: str, monkeypatch: Any
) -> dict[str, Any]:
    """The app with a Cloud Tasks queue (on App Engine, unless the target is ``http``)."""
    if target == "appengine":
        monkeypatch.setenv("GAE_ENV", "standard")
        monkeypatch.setenv("GAE_APPLICATION", "s~practice")
    return {
        **app_config,
        "CLOUD_TASKS_QUEUE": QUEUE,
        "CLOUD_TASKS_TARGET": target,
        "CLOUD_TASKS_SERVICE_ACCOUNT": ROBOT,
    }


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandbox = sandboxed_app.sandbox
    # The service's own identity (application default credentials on App Engine), injected:
    # google-auth sends authorized-user files' refreshes to Google whatever they say.
    robot = sandbox.credentials("robot@example.test", [CLOUD])
    tasks = runtime_of(sandboxed_app.app).tasks
    assert tasks is not None
    tasks.credentials = robot
    service = sandbox.build("cloudtasks", "v2", robot)
    service.projects().locations().queues().create(
        parent=QUEUE.rsplit("/queues/", 1)[0],
        body={"name": QUEUE, "retryConfig": {"minBackoff": "0.1s", "maxBackoff": "0.5s"}},
    ).execute()
    # App Engine routes the queue's calls to this app.
    sandbox.control("POST", "tasks/target", {"url": sandboxed_app.url})
    return sandboxed_app


def practice(env: Any, connect: Callable[..., int]) -> list[int]:
    """Three therapists, each with a session that ended yesterday and was never marked."""
    env.app.config["PUSH_NOTIFICATIONS"] = "off"
    now = datetime.now(UTC)
    connected = now - timedelta(days=2)
    env.sandbox.control("POST", "clock", {"now": connected.isoformat()})
    ids = []
    for n, email in enumerate(THERAPISTS):
        ids.append(connect(email, connected, scopes=SCOPES, with_calendars=True))
        start = now - timedelta(hours=30)
        env.sandbox.control(
            "POST",
            f"calendar/{email}/events",
            {
                "summary": "Session",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
                "attendees": [{"email": f"pat.{n}@example.test"}],
            },
        )
    env.sandbox.control("POST", "clock", {"now": datetime.now(UTC).isoformat()})
    return ids


CRON = {"X-Appengine-Cron": "true"}


def attempts(env: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = env.sandbox.control("GET", "tasks")["attempts"]
    return found


def test_cron_dispatches_one_task_per_therapist_and_each_does_its_work(
    env: Any, connect: Callable[..., int]
) -> None:
    ids = practice(env, connect)
    client = env.app.test_client()

    first = client.get("/tasks/dispatch", headers=CRON)
    assert first.status_code == 200 and first.json == {"enqueued": 3, "in_hand": 0, "failed": 0}
    assert env.sandbox.control("POST", "tasks/flush", {"timeout": 30})["drained"]

    done = attempts(env)
    assert sorted(a["task"].rsplit("-", 2)[-2] for a in done) == sorted(str(i) for i in ids)
    assert [a["status"] for a in done] == [200, 200, 200]
    database = runtime_of(env.app).database
    with database.transaction() as db:
        leases = db.scalars(select(TherapistLease)).all()
        assert sorted(lease.therapist_id for lease in leases) == sorted(ids)
        assert all(lease.last_run_at is not None and lease.holder is None for lease in leases)
        # Each therapist's calendar was synced and the miss decided: a check-in waits.
        assert all(c.last_sync_at is not None for c in db.scalars(select(CalendarRow)))
        waiting = db.scalars(select(OutboxMessage.recipient)).all()
        assert sorted(w for w in waiting if w.startswith("pat.")) == [
            "pat.0@example.test",
            "pat.1@example.test",
            "pat.2@example.test",
        ]

    # Cron again in the same minute (retried, or two instances): nothing more is enqueued.
    again = client.get("/tasks/dispatch", headers=CRON)
    assert again.json == {"enqueued": 0, "in_hand": 3, "failed": 0}
    assert env.sandbox.control("GET", "tasks")["tasks"] == []
    assert len(attempts(env)) == 3


def test_forged_calls_are_refused_and_change_nothing(
    env: Any, connect: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    (first, *_rest) = practice(env, connect)
    client = env.app.test_client()
    env.sandbox.control("DELETE", "calls")
    path = f"/tasks/therapist/{first}"

    assert client.post(path).status_code == 403
    assert client.post(path, headers={"X-AppEngine-QueueName": "other"}).status_code == 403
    assert client.post(path, headers={"X-AppEngine-QueueName": "therapists"}).status_code == 403
    assert client.post("/tasks/calendar/1").status_code == 403
    assert client.get("/tasks/dispatch").status_code == 404
    # Off App Engine the headers prove nothing: the door is not there.
    monkeypatch.delenv("GAE_ENV")
    forged = {"X-AppEngine-QueueName": "therapists", "X-AppEngine-TaskName": "x"}
    assert client.post(path, headers=forged).status_code == 404
    assert client.get("/tasks/dispatch", headers=CRON).status_code == 404

    assert env.sandbox.control("GET", "calls")["calls"] == {}
    assert env.sandbox.control("GET", "tasks")["tasks"] == []
    with runtime_of(env.app).database.transaction() as db:
        assert db.scalars(select(TherapistLease)).all() == []
        assert all(c.last_sync_at is None for c in db.scalars(select(CalendarRow)))


def test_a_therapist_another_worker_holds_is_a_quiet_no_op(
    env: Any, connect: Callable[..., int]
) -> None:
    from calendar_sync.storage.leases import claim_therapist

    (first, *_rest) = practice(env, connect)
    database = runtime_of(env.app).database
    assert claim_therapist(database, first, "worker-next-door", datetime.now(UTC), timedelta(1))
    headers = {"X-AppEngine-QueueName": "therapists", "X-AppEngine-TaskName": "t"}

    answer = env.app.test_client().post(f"/tasks/therapist/{first}", headers=headers)

    assert answer.status_code == 200 and answer.json == {"ran": False, "steps": 0}
    with database.transaction() as db:
        lease = db.get(TherapistLease, first)
        assert lease is not None and lease.holder == "worker-next-door"


def _wait(predicate: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_push_notifications_become_one_calendar_task_per_window(
    env: Any, connect: Callable[..., int]
) -> None:
    now = datetime.now(UTC)
    env.sandbox.control("POST", "clock", {"now": now.isoformat()})
    email = THERAPISTS[0]
    connect(email, now, scopes=SCOPES, with_calendars=True)
    client = env.app.test_client()
    # The first run opens the push channel (push is on against a loopback API root).
    headers = {"X-AppEngine-QueueName": "therapists", "X-AppEngine-TaskName": "first"}
    assert client.post("/tasks/therapist/1", headers=headers).json["ran"] is True
    assert env.sandbox.control("POST", "push/flush", {"timeout": 10})["drained"]

    for n in range(5):
        start = now + timedelta(days=n + 1)
        env.sandbox.control(
            "POST",
            f"calendar/{email}/events",
            {
                "summary": "Session",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
                "attendees": [{"email": f"pat.{n}@example.test"}],
            },
        )
    assert env.sandbox.control("POST", "push/flush", {"timeout": 10})["drained"]

    def stored() -> int:
        with runtime_of(env.app).database.transaction() as db:
            return len(db.scalars(select(CalendarEventRow)).all())

    def calendar_calls() -> list[dict[str, Any]]:
        return [a for a in attempts(env) if "-calendar-" in a["task"]]

    # The sandbox notes an attempt once the app has answered, just after the sync committed.
    assert _wait(lambda: stored() == 5 and bool(calendar_calls()))
    # A slow run may spread the changes over two windows: the second task runs at its end.
    assert _wait(lambda: env.sandbox.control("GET", "tasks")["tasks"] == [])
    assert env.sandbox.control("POST", "tasks/flush", {"timeout": 10})["drained"]
    # Five notifications within one or two 5-second windows: one or two syncs, not five.
    assert 1 <= len(calendar_calls()) <= 2
    assert all(a["status"] == 200 for a in calendar_calls())
    # Nothing went through the in-process queue.
    assert runtime_of(env.app).sync_queue.pending() == []
    with runtime_of(env.app).database.transaction() as db:
        calendar = db.scalars(select(CalendarRow)).one()
        assert calendar.sync_requested_at is None


@pytest.mark.parametrize("target", ["http"])
def test_http_targets_carry_an_oidc_token_that_the_handler_checks(
    env: Any, connect: Callable[..., int]
) -> None:
    ids = practice(env, connect)
    client = env.app.test_client()
    # Cron is App Engine's; here the dispatcher is called the way cron would be.
    from calendar_sync.services.fanout import dispatch_therapists

    done = dispatch_therapists(runtime_of(env.app), datetime.now(UTC))
    assert done.enqueued == 3
    assert env.sandbox.control("POST", "tasks/flush", {"timeout": 30})["drained"]
    assert [a["status"] for a in attempts(env)] == [200, 200, 200]

    path = f"/tasks/therapist/{ids[0]}"
    assert client.post(path).status_code == 403
    assert client.post(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 403
    # App Engine's headers mean nothing to an HTTP target.
    forged = {"X-AppEngine-QueueName": "therapists", "X-AppEngine-TaskName": "x"}
    assert client.post(path, headers=forged).status_code == 403


def test_a_calendar_synced_elsewhere_is_asked_again_later(
    env: Any, connect: Callable[..., int]
) -> None:
    from calendar_sync.storage.leases import claim_calendar, release_calendar

    practice(env, connect)
    database = runtime_of(env.app).database
    with database.transaction() as db:
        calendar_id = db.scalars(select(CalendarRow.id).order_by(CalendarRow.id)).first()
    assert calendar_id is not None
    headers = {"X-AppEngine-QueueName": "therapists", "X-AppEngine-TaskName": "c"}
    client = env.app.test_client()
    assert claim_calendar(database, calendar_id, "next-door", datetime.now(UTC), timedelta(1))

    busy = client.post(f"/tasks/calendar/{calendar_id}", headers=headers)
    # Not 2xx, so Cloud Tasks calls again; not 503, which would throttle the whole queue.
    assert busy.status_code == 409 and busy.json == {"sync": "busy"}

    release_calendar(database, calendar_id, "next-door")
    done = client.post(f"/tasks/calendar/{calendar_id}", headers=headers)
    assert done.status_code == 200 and done.json == {"sync": "synced"}
    with database.transaction() as db:
        calendar = db.get(CalendarRow, calendar_id)
        assert calendar is not None and calendar.last_sync_at is not None


def test_with_a_queue_cron_fans_out_instead_of_running_the_cycle(
    env: Any, connect: Callable[..., int]
) -> None:
    practice(env, connect)
    env.app.config["APP_ENGINE_CRON"] = True
    env.sandbox.control("DELETE", "calls")

    assert env.app.test_client().get("/tasks/tick", headers=CRON).status_code == 404
    assert env.sandbox.control("GET", "calls")["calls"] == {}
