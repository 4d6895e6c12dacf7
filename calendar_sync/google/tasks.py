"""Cloud Tasks v2: enqueue named tasks that call the service back, and check who calls.

Tasks are created with a name the caller chooses, so a second create of the same work is
refused with 409 ``ALREADY_EXISTS`` (while the task waits and for about an hour after it
ran): :meth:`CloudTasks.create` answers False then, which callers treat as "already in
hand". The service authenticates as itself (application default credentials: the App
Engine service account on App Engine), never as a therapist.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth
import google.auth.exceptions

from .client import build_cloud_tasks
from .errors import GoogleApiError
from .id_tokens import IdTokenVerifier, InvalidIdToken
from .retry import execute

log = logging.getLogger(__name__)

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def bucket(moment: datetime, size: timedelta) -> datetime:
    """The start of the ``size``-long time bucket holding ``moment`` (buckets from the epoch)."""
    seconds = int(size.total_seconds())
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


def task_id(kind: str, key: int, bucket_start: datetime) -> str:
    """A task id naming one piece of work in one time bucket: ``<hash>-therapist-12-<time>``.

    A second enqueue of the same work in the same bucket carries the same id and is refused.
    The short hash in front spreads the ids: Cloud Tasks serves ids with sequential
    prefixes (timestamps, counters) with more latency.
    """
    readable = f"{kind}-{key}-{bucket_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{hashlib.sha256(readable.encode()).hexdigest()[:8]}-{readable}"


@dataclass
class CloudTasks:
    """One queue, and how its tasks reach the service.

    ``target`` is ``appengine`` (a relative URI on this App Engine app) or ``http``
    (``public_url`` + path, with an OIDC token for ``service_account``, audience
    ``public_url``).
    """

    queue: str
    api_root: str
    target: str = "appengine"
    public_url: str = ""
    service_account: str = ""
    credentials: Any = None
    _service: Any = None
    # httplib2 connections are not thread-safe, and web threads may enqueue at once.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def queue_id(self) -> str:
        return self.queue.rsplit("/", 1)[-1]

    def _client(self) -> Any:
        if self._service is None:
            credentials = self.credentials
            if credentials is None:
                credentials, _project = google.auth.default(scopes=[CLOUD_PLATFORM])
            self._service = build_cloud_tasks(credentials, self.api_root)
        return self._service

    def task(
        self, task_id: str, path: str, *, schedule: datetime | None = None, body: bytes = b""
    ) -> dict[str, Any]:
        """The Task resource for a POST to ``path`` (``/tasks/...``) of the service."""
        request: dict[str, Any] = {"httpMethod": "POST"}
        if body:
            request["body"] = base64.b64encode(body).decode()
            request["headers"] = {"Content-Type": "application/json"}
        if self.target == "http":
            request["url"] = self.public_url + path
            request["oidcToken"] = {
                "serviceAccountEmail": self.service_account,
                "audience": self.public_url,
            }
            resource: dict[str, Any] = {"httpRequest": request}
        else:
            request["relativeUri"] = path
            resource = {"appEngineHttpRequest": request}
        resource["name"] = f"{self.queue}/tasks/{task_id}"
        if schedule is not None:
            resource["scheduleTime"] = schedule.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return resource

    def create(
        self, task_id: str, path: str, *, schedule: datetime | None = None, body: bytes = b""
    ) -> bool:
        """Enqueue a task named ``task_id``; False when that name is taken (work in hand).

        :raises GoogleApiError: when Cloud Tasks refuses otherwise or cannot be reached.
        """
        resource = self.task(task_id, path, schedule=schedule, body=body)
        with self._lock:
            tasks = self._client().projects().locations().queues().tasks()
            try:
                execute(tasks.create(parent=self.queue, body={"task": resource}))
            except GoogleApiError as exc:
                # Also what a retried create whose first answer was lost gets: still done.
                if exc.status == 409:
                    return False
                raise
        return True


def verify_oidc(
    verifier: IdTokenVerifier, token: str, *, audience: str, service_account: str
) -> bool:
    """Whether ``token`` is a Google-signed ID token for ``service_account`` and ``audience``."""
    if not token or not service_account:
        return False
    try:
        claims = verifier.verify(token, audience)
    except InvalidIdToken as exc:
        log.warning("task call refused: token not valid (%s)", exc)
        return False
    return claims.get("email") == service_account and claims.get("email_verified") is True
