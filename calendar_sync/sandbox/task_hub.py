"""Cloud Tasks v2, the part the service uses: queues, named tasks, schedule times, dispatch.

A task named by its creator is refused with 409 ``ALREADY_EXISTS`` while it exists and for
:data:`NAME_KEPT` after it ran or was deleted, as Google does. A background thread dispatches
tasks whose ``scheduleTime`` has come (on the sandbox's clock) to the app: App Engine tasks
go to the address set with ``POST /_sandbox/tasks/target``, with the ``X-AppEngine-*``
headers App Engine adds; HTTP tasks go to their URL with ``X-CloudTasks-*`` headers and, when
asked, a Google-signed OIDC token. A non-2xx answer is retried after the queue's backoff
(``retryConfig``) until ``maxAttempts``. The queue's rate limits are kept but not enforced.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Response, jsonify

from .errors import GoogleError
from .signing import sandbox_key

NAME_KEPT = timedelta(hours=1)
DISPATCH_TIMEOUT_SECONDS = 30.0
_QUEUE = re.compile(r"projects/[A-Za-z0-9:._-]+/locations/[A-Za-z0-9-]+/queues/[A-Za-z0-9-]{1,100}")
PARENT = re.compile(r"projects/[A-Za-z0-9:._-]+/locations/[A-Za-z0-9-]+")
_TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,500}")
_DEFAULT_RETRY = {"maxAttempts": 100, "minBackoff": "0.100s", "maxBackoff": "3600s"}


class CloudError(GoogleError):
    """An error in the shape of Google's newer (gRPC-transcoded) APIs: no ``errors[]``."""

    def to_response(self) -> Response:
        status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS"}
        response = jsonify(
            {
                "error": {
                    "code": self.status,
                    "message": self.message,
                    "status": status.get(self.status, "UNKNOWN"),
                }
            }
        )
        response.status_code = self.status
        return response


def _seconds(duration: str) -> float:
    return float(duration.rstrip("s"))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Task:
    name: str
    queue: str
    spec: dict[str, Any]
    schedule: datetime
    created: datetime
    dispatches: int = 0
    responses: int = 0
    last_status: int | None = None
    running: bool = False

    def resource(self, full: bool = False) -> dict[str, Any]:
        """The Task resource; the BASIC view leaves the request's body out."""
        answer: dict[str, Any] = {
            "name": self.name,
            "scheduleTime": _stamp(self.schedule),
            "createTime": _stamp(self.created),
            "dispatchCount": self.dispatches,
            "responseCount": self.responses,
            "view": "FULL" if full else "BASIC",
        }
        for kind in ("appEngineHttpRequest", "httpRequest"):
            if kind in self.spec:
                target = dict(self.spec[kind])
                if not full:
                    target.pop("body", None)
                answer[kind] = target
        return answer


@dataclass
class TaskHub:
    """Queues, tasks and names recently used; one thread dispatches what is due."""

    clock: Callable[[], datetime]
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    # Names that ran or were deleted, and until when they stay taken.
    used: dict[str, datetime] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    app_engine_url: str | None = None
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _closed: bool = False

    # -- the API ---------------------------------------------------------------------------
    def create_queue(self, parent: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not _QUEUE.fullmatch(name) or not name.startswith(parent):
            raise CloudError(400, "badRequest", "Queue name is invalid.")
        with self._lock:
            if name in self.queues:
                raise CloudError(409, "alreadyExists", "Queue already exists.")
            queue = {
                "name": name,
                "rateLimits": body.get("rateLimits") or {"maxDispatchesPerSecond": 500},
                "retryConfig": {**_DEFAULT_RETRY, **(body.get("retryConfig") or {})},
                "state": "RUNNING",
            }
            self.queues[name] = queue
            return queue

    def get_queue(self, name: str) -> dict[str, Any]:
        with self._lock:
            if name not in self.queues:
                raise CloudError(404, "notFound", "Requested entity was not found.")
            return self.queues[name]

    def create_task(self, parent: str, body: dict[str, Any]) -> dict[str, Any]:
        spec = dict(body.get("task") or {})
        now = self.clock()
        if ("appEngineHttpRequest" in spec) == ("httpRequest" in spec):
            raise CloudError(400, "badRequest", "Exactly one of the task's targets must be set.")
        if "httpRequest" in spec:
            url = spec["httpRequest"].get("url")
            if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
                raise CloudError(400, "badRequest", "HttpRequest.url must be an http(s) URL.")
        with self._lock:
            if parent not in self.queues:
                raise CloudError(404, "notFound", "Requested entity was not found.")
            name = spec.get("name")
            if name:
                if not name.startswith(parent + "/tasks/") or not _TASK_ID.fullmatch(
                    name.rsplit("/", 1)[1]
                ):
                    raise CloudError(400, "badRequest", "Task name is invalid.")
                kept = self.used.get(name)
                if name in self.tasks or (kept is not None and kept > now):
                    raise CloudError(409, "alreadyExists", "Requested entity already exists")
            else:
                name = f"{parent}/tasks/{secrets.randbelow(10**19):019d}"
            schedule = _parse_time(spec["scheduleTime"]) if spec.get("scheduleTime") else now
            task = Task(name=name, queue=parent, spec=spec, schedule=schedule, created=now)
            self.tasks[name] = task
            self._start()
            self._lock.notify_all()
            return task.resource()

    def get_task(self, name: str) -> dict[str, Any]:
        with self._lock:
            task = self.tasks.get(name)
            if task is None:
                raise CloudError(404, "notFound", "Requested entity was not found.")
            return task.resource()

    def delete_task(self, name: str) -> None:
        with self._lock:
            if self.tasks.pop(name, None) is None:
                raise CloudError(404, "notFound", "Requested entity was not found.")
            self.used[name] = self.clock() + NAME_KEPT

    # -- dispatch --------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name="sandbox-cloudtasks", daemon=True
            )
            self._thread.start()

    def _due(self) -> Task | None:
        now = self.clock()
        waiting = [t for t in self.tasks.values() if not t.running and t.schedule <= now]
        return min(waiting, key=lambda t: (t.schedule, t.created)) if waiting else None

    def _work(self) -> None:
        while True:
            with self._lock:
                task = self._due()
                while task is None and not self._closed:
                    # The sandbox's clock can jump forward: look again often.
                    self._lock.wait(0.05)
                    task = self._due()
                if self._closed or task is None:
                    return
                task.running = True
                task.dispatches += 1
                queue = self.queues.get(task.queue, {})
            status = self._dispatch(task, queue)
            with self._lock:
                task.running = False
                task.last_status = status
                if status:
                    task.responses += 1
                self.attempts.append(
                    {"task": task.name, "status": status, "attempt": task.dispatches}
                )
                retry = {**_DEFAULT_RETRY, **queue.get("retryConfig", {})}
                limit = int(retry.get("maxAttempts", 100))
                if 200 <= status < 300 or (limit > 0 and task.dispatches >= limit):
                    self.tasks.pop(task.name, None)
                    self.used[task.name] = self.clock() + NAME_KEPT
                else:
                    backoff = min(
                        _seconds(retry["maxBackoff"]),
                        _seconds(retry["minBackoff"]) * 2 ** (task.dispatches - 1),
                    )
                    task.schedule = self.clock() + timedelta(seconds=backoff)
                self._lock.notify_all()

    def _dispatch(self, task: Task, queue: dict[str, Any]) -> int:
        """Call the app once; its status, or 0 when it could not be reached."""
        short_queue = task.queue.rsplit("/", 1)[1]
        short_task = task.name.rsplit("/", 1)[1]
        retries = str(task.dispatches - 1)
        executions = str(task.responses)
        eta = f"{task.schedule.timestamp():.6f}"
        if "appEngineHttpRequest" in task.spec:
            target = task.spec["appEngineHttpRequest"]
            if self.app_engine_url is None:
                return 0
            url = self.app_engine_url.rstrip("/") + target.get("relativeUri", "/")
            headers = {
                **(target.get("headers") or {}),
                "User-Agent": "AppEngine-Google; (+http://code.google.com/appengine)",
                "X-AppEngine-QueueName": short_queue,
                "X-AppEngine-TaskName": short_task,
                "X-AppEngine-TaskRetryCount": retries,
                "X-AppEngine-TaskExecutionCount": executions,
                "X-AppEngine-TaskETA": eta,
            }
            if task.last_status:
                headers["X-AppEngine-TaskPreviousResponse"] = str(task.last_status)
        else:
            target = task.spec["httpRequest"]
            url = target["url"]
            headers = {
                **(target.get("headers") or {}),
                "User-Agent": "Google-Cloud-Tasks",
                "X-CloudTasks-QueueName": short_queue,
                "X-CloudTasks-TaskName": short_task,
                "X-CloudTasks-TaskRetryCount": retries,
                "X-CloudTasks-TaskExecutionCount": executions,
                "X-CloudTasks-TaskETA": eta,
            }
            oidc = target.get("oidcToken")
            if oidc:
                account = oidc.get("serviceAccountEmail", "")
                # Google's ID tokens live in real time, whatever the sandbox's clock says.
                token = sandbox_key().id_token(
                    subject=str(int(hashlib.sha256(account.encode()).hexdigest(), 16) % 10**21),
                    audience=oidc.get("audience") or url,
                    email=account,
                )
                headers["Authorization"] = f"Bearer {token}"
        body = base64.b64decode(target["body"]) if target.get("body") else b""
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/octet-stream"
        return _call(target.get("httpMethod", "POST"), url, headers, body)

    def flush(self, timeout: float) -> bool:
        """Wait until no task is due now or running; False on timeout."""
        with self._lock:
            return self._lock.wait_for(
                lambda: (
                    not any(t.running or t.schedule <= self.clock() for t in self.tasks.values())
                ),
                timeout=timeout,
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)


def _call(method: str, url: str, headers: dict[str, str], body: bytes) -> int:
    parts = urlsplit(url)
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parts.hostname or "", parts.port, timeout=DISPATCH_TIMEOUT_SECONDS)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        response.read()
        return int(response.status)
    except OSError:
        return 0
    finally:
        connection.close()
