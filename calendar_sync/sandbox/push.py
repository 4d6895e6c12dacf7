"""Push notification channels (``events.watch``) and their delivery from a background thread.

Like Google, delivery is asynchronous and never holds up the API call that caused it; a
notification carries no body, only ``X-Goog-*`` headers. ``flush`` lets tests wait until
everything queued so far has been attempted.
"""

from __future__ import annotations

import http.client
import logging
import queue
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

from .errors import GoogleError

log = logging.getLogger(__name__)

_CHANNEL_ID = re.compile(r"[A-Za-z0-9\-_+/=]{1,64}")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_TTL = timedelta(days=7)
# Google caps channel lifetimes without publishing the calendar figure; the sandbox uses 30 days.
MAX_TTL = timedelta(days=30)
DELIVERY_TIMEOUT_SECONDS = 5.0


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    account: str
    address: str
    token: str | None
    expiration: datetime
    message_number: int = 0
    stopped: bool = False

    def describe(self) -> dict:
        """The channel for the control API; the token is a secret and stays out."""
        return {
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            "calendarId": self.calendar_id,
            "address": self.address,
            "hasToken": self.token is not None,
            "expiration": str(_millis(self.expiration)),
            "stopped": self.stopped,
            "messageNumber": self.message_number,
        }


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _check_address(address: object) -> str:
    if not isinstance(address, str) or not address:
        raise GoogleError(400, "required", "Required: address.")
    parts = urlsplit(address)
    if parts.scheme == "https" and parts.hostname:
        return address
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        # Google insists on HTTPS; the sandbox also accepts plain HTTP to this machine.
        return address
    raise GoogleError(
        400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS: " + parts.scheme
    )


class PushHub:
    """Channels of all calendars and the queue of notifications still to deliver."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Condition()
        self._channels: dict[str, Channel] = {}
        self._queue: queue.Queue[tuple[Channel, str, int, datetime] | None] = queue.Queue()
        self._pending = 0
        self._deliveries: list[dict] = []
        self._thread: threading.Thread | None = None

    def watch(self, account: str, calendar_id: str, body: dict, resource_uri: str) -> dict:
        """Open a channel and queue its ``sync`` message; returns Google's channel resource."""
        channel_id = body.get("id")
        if not isinstance(channel_id, str) or not _CHANNEL_ID.fullmatch(channel_id):
            raise GoogleError(400, "invalid", "Channel id must match [A-Za-z0-9\\-_\\+/=]{1,64}.")
        if body.get("type") not in ("web_hook", "webhook"):
            raise GoogleError(400, "invalid", "Unknown channel type.")
        address = _check_address(body.get("address"))
        now = self._clock()
        expiration = self._expiration(body, now)
        token = body.get("token")
        with self._lock:
            existing = self._channels.get(channel_id)
            if existing and not existing.stopped and existing.expiration > now:
                raise GoogleError(400, "channelIdNotUnique", "Channel id not unique.")
            channel = Channel(
                id=channel_id,
                resource_id=secrets.token_urlsafe(20),
                resource_uri=resource_uri,
                calendar_id=calendar_id,
                account=account,
                address=address,
                token=token if isinstance(token, str) else None,
                expiration=expiration,
            )
            self._channels[channel_id] = channel
            self._enqueue(channel, "sync")
        answer = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": channel.resource_uri,
            "expiration": str(_millis(expiration)),
        }
        if channel.token is not None:
            answer["token"] = channel.token
        return answer

    def _expiration(self, body: dict, now: datetime) -> datetime:
        ttl = DEFAULT_TTL
        params = body.get("params") or {}
        try:
            if "ttl" in params:
                ttl = timedelta(seconds=int(params["ttl"]))
            if body.get("expiration"):
                ttl = datetime.fromtimestamp(int(body["expiration"]) / 1000, UTC) - now
        except (TypeError, ValueError) as exc:
            raise GoogleError(400, "invalid", "Invalid channel expiration.") from exc
        if ttl <= timedelta(0):
            raise GoogleError(400, "invalid", "Channel expiration is in the past.")
        return now + min(ttl, MAX_TTL)

    def stop(self, account: str, body: dict) -> None:
        """Stop a channel. :raises GoogleError: 404 ``notFound`` for unknown id/resourceId."""
        with self._lock:
            channel = self._channels.get(str(body.get("id")))
            if (
                channel is None
                or channel.stopped
                or channel.account != account
                or channel.resource_id != body.get("resourceId")
            ):
                raise GoogleError(404, "notFound", f"Channel '{body.get('id')}' not found.")
            channel.stopped = True

    def notify(self, calendar_id: str, state: str = "exists") -> None:
        """Queue ``state`` for every live channel watching the calendar."""
        now = self._clock()
        with self._lock:
            for channel in self._channels.values():
                if channel.calendar_id == calendar_id and self._live(channel, now):
                    self._enqueue(channel, state)

    @staticmethod
    def _live(channel: Channel, now: datetime) -> bool:
        return not channel.stopped and channel.expiration > now

    def _enqueue(self, channel: Channel, state: str) -> None:
        channel.message_number += 1
        self._pending += 1
        self._queue.put((channel, state, channel.message_number, channel.expiration))
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="sandbox-calendar-push", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._deliver(*job)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._lock.notify_all()

    def _deliver(self, channel: Channel, state: str, number: int, expiration: datetime) -> None:
        record: dict = {
            "channelId": channel.id,
            "resourceId": channel.resource_id,
            "resourceState": state,
            "messageNumber": number,
            "status": None,
        }
        with self._lock:
            live = self._live(channel, self._clock())
        if not live:
            # Stopped or expired between the change and delivery: nothing goes out.
            record["skipped"] = "stopped" if channel.stopped else "expired"
        else:
            headers = {
                "X-Goog-Channel-ID": channel.id,
                "X-Goog-Channel-Expiration": format_datetime(expiration, usegmt=True),
                "X-Goog-Resource-ID": channel.resource_id,
                "X-Goog-Resource-URI": channel.resource_uri,
                "X-Goog-Resource-State": state,
                "X-Goog-Message-Number": str(number),
                "Content-Length": "0",
            }
            if channel.token is not None:
                headers["X-Goog-Channel-Token"] = channel.token
            try:
                record["status"] = _post(channel.address, headers)
            except (OSError, http.client.HTTPException) as exc:
                # The receiver is down or slow; Google retries for a while, the sandbox notes it.
                record["error"] = type(exc).__name__
                log.info("push delivery failed for a channel: %s", type(exc).__name__)
        with self._lock:
            self._deliveries.append(record)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued notification was attempted; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout=timeout)

    def channels(self) -> list[dict]:
        with self._lock:
            return [c.describe() for c in self._channels.values()]

    def deliveries(self) -> list[dict]:
        with self._lock:
            return [dict(d) for d in self._deliveries]

    def close(self) -> None:
        """Stop the delivery thread after what is already queued."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=DELIVERY_TIMEOUT_SECONDS * 2)


def _post(address: str, headers: dict[str, str]) -> int:
    parts = urlsplit(address)
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parts.hostname or "", parts.port, timeout=DELIVERY_TIMEOUT_SECONDS)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection.request("POST", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
