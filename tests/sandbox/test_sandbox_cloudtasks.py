"""The sandbox's Cloud Tasks v2, driven by the real client library and dispatching over HTTP."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import google_auth_httplib2  # type: ignore[import-untyped]
import httplib2
import pytest
from flask import Flask, request
from google.oauth2 import id_token
from googleapiclient.errors import HttpError

from calendar_sync.sandbox.server import serve_in_thread
from calendar_sync.sandbox.testing import RunningSandbox

CLOUD = "https://www.googleapis.com/auth/cloud-platform"
PARENT = "projects/practice/locations/europe-west2"
QUEUE = f"{PARENT}/queues/therapists"
ROBOT = "tasks@practice.iam.example.test"


class Receiver:
    """A tiny app that records each call and answers the next queued status (200 after)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        app = Flask(__name__)

        @app.route("/<path:path>", methods=["GET", "POST"])
        def receive(path: str) -> tuple[str, int]:
            with self.lock:
                self.calls.append(
                    {"path": "/" + path, "headers": dict(request.headers), "body": request.data}
                )
                status = self.statuses.pop(0) if self.statuses else 200
            return "", status

        self.server = serve_in_thread(app)
        self.url = self.server.url.rstrip("/")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.stop()


@pytest.fixture
def tasks(sandbox: RunningSandbox, receiver: Receiver) -> Any:
    sandbox.control("POST", "tasks/target", {"url": receiver.url})
    service = sandbox.service("cloudtasks", "v2", "robot@example.test", [CLOUD])
    service.projects().locations().queues().create(
        parent=PARENT,
        body={"name": QUEUE, "retryConfig": {"minBackoff": "0.05s", "maxBackoff": "0.2s"}},
    ).execute()
    return service.projects().locations().queues().tasks()


def app_engine_task(name: str | None, uri: str, **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"appEngineHttpRequest": {"relativeUri": uri}, **extra}
    if name:
        task["name"] = f"{QUEUE}/tasks/{name}"
    return {"task": task}


def test_a_named_task_runs_once_and_its_name_stays_taken(
    sandbox: RunningSandbox, tasks: Any, receiver: Receiver
) -> None:
    body = {"relativeUri": "/tasks/therapist/7", "body": base64.b64encode(b"{}").decode()}
    created = tasks.create(
        parent=QUEUE, body={"task": {"name": f"{QUEUE}/tasks/t-7-a", "appEngineHttpRequest": body}}
    ).execute()
    assert (
        created["name"] == f"{QUEUE}/tasks/t-7-a" and "body" not in created["appEngineHttpRequest"]
    )
    with pytest.raises(HttpError) as refused:
        tasks.create(parent=QUEUE, body=app_engine_task("t-7-a", "/x")).execute()
    assert refused.value.resp.status == 409
    assert b"ALREADY_EXISTS" in refused.value.content

    assert sandbox.control("POST", "tasks/flush", {"timeout": 10})["drained"]
    (call,) = receiver.calls
    assert call["path"] == "/tasks/therapist/7" and call["body"] == b"{}"
    assert call["headers"]["X-Appengine-Queuename"] == "therapists"
    assert call["headers"]["X-Appengine-Taskname"] == "t-7-a"
    assert call["headers"]["X-Appengine-Taskretrycount"] == "0"
    # After it ran, the name is still refused (for an hour), so work is never doubled.
    with pytest.raises(HttpError) as again:
        tasks.create(parent=QUEUE, body=app_engine_task("t-7-a", "/x")).execute()
    assert again.value.resp.status == 409
    sandbox.state.advance(3601)
    tasks.create(parent=QUEUE, body=app_engine_task("t-7-a", "/x")).execute()


def test_a_failed_dispatch_is_retried_with_the_count_in_its_headers(
    sandbox: RunningSandbox, tasks: Any, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    tasks.create(parent=QUEUE, body=app_engine_task(None, "/tasks/calendar/3")).execute()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while len(receiver.calls) < 3 and datetime.now(UTC) < deadline:
        sandbox.control("POST", "tasks/flush", {"timeout": 1})
    assert [c["headers"]["X-Appengine-Taskretrycount"] for c in receiver.calls] == ["0", "1", "2"]
    assert receiver.calls[2]["headers"]["X-Appengine-Taskpreviousresponse"] == "503"
    assert sandbox.control("GET", "tasks")["tasks"] == []


def test_a_task_waits_for_its_schedule_time(
    sandbox: RunningSandbox, tasks: Any, receiver: Receiver
) -> None:
    later = sandbox.state.now() + timedelta(minutes=5)
    tasks.create(
        parent=QUEUE,
        body=app_engine_task("later", "/tasks/x", scheduleTime=later.isoformat()),
    ).execute()
    assert sandbox.control("POST", "tasks/flush", {"timeout": 2})["drained"]
    assert receiver.calls == []
    sandbox.state.advance(301)
    assert sandbox.control("POST", "tasks/flush", {"timeout": 10})["drained"]
    assert len(receiver.calls) == 1


def test_an_http_task_carries_a_google_signed_oidc_token(
    sandbox: RunningSandbox, tasks: Any, receiver: Receiver
) -> None:
    audience = "https://calendar-sync.example.test"
    tasks.create(
        parent=QUEUE,
        body={
            "task": {
                "httpRequest": {
                    "url": receiver.url + "/tasks/therapist/4",
                    "oidcToken": {"serviceAccountEmail": ROBOT, "audience": audience},
                }
            }
        },
    ).execute()
    assert sandbox.control("POST", "tasks/flush", {"timeout": 10})["drained"]
    (call,) = receiver.calls
    assert call["headers"]["X-Cloudtasks-Queuename"] == "therapists"
    token = call["headers"]["Authorization"].removeprefix("Bearer ")
    transport = google_auth_httplib2.Request(httplib2.Http())
    claims = id_token.verify_token(
        token, transport, audience=audience, certs_url=sandbox.url + "oauth2/v1/certs"
    )
    assert claims["email"] == ROBOT and claims["iss"] == "https://accounts.google.com"
    with pytest.raises(ValueError):
        id_token.verify_token(
            token,
            transport,
            audience="https://other.example.test",
            certs_url=sandbox.url + "oauth2/v1/certs",
        )


def test_bodies_are_checked_against_the_discovery_document(tasks: Any) -> None:
    with pytest.raises(HttpError) as bad:
        tasks.create(
            parent=QUEUE, body={"task": {"appEngineHttpRequest": {}, "dispatchDeadline": "soon"}}
        ).execute()
    assert bad.value.resp.status == 400
    with pytest.raises(HttpError) as unknown:
        tasks.create(
            parent=QUEUE, body={"task": {"appEngineHttpRequest": {}, "colour": 1}}
        ).execute()
    assert unknown.value.resp.status == 400
    with pytest.raises(HttpError) as missing:
        tasks.create(parent=f"{PARENT}/queues/nowhere", body=app_engine_task(None, "/x")).execute()
    assert missing.value.resp.status == 404
