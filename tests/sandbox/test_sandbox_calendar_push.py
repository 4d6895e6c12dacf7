"""Push notifications from the sandbox reach a real HTTP receiver, as Google's would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from googleapiclient.errors import HttpError

THERAPIST = "therapist@example.test"
SCOPE = "https://www.googleapis.com/auth/calendar"


class Receiver(ThreadingHTTPServer):
    """Records the headers of every POST it gets."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict[str, str]] = []
        self.bodies: list[bytes] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/notifications"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append(self.rfile.read(length))
        self.server.received.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def calendar(sandbox: Any) -> Any:
    sandbox.add_account(THERAPIST, time_zone="Europe/London")
    return sandbox.service("calendar", "v3", THERAPIST, [SCOPE])


def session() -> dict:
    return {
        "summary": "Session",
        "start": {"dateTime": "2024-03-04T09:00:00Z"},
        "end": {"dateTime": "2024-03-04T09:50:00Z"},
    }


def watch(calendar: Any, receiver: Receiver, **extra: Any) -> dict:
    body = {"id": "channel-1", "type": "web_hook", "address": receiver.url, **extra}
    channel: dict = calendar.events().watch(calendarId="primary", body=body).execute()
    return channel


def test_watch_sends_sync_then_exists_with_google_headers(
    sandbox: Any, calendar: Any, receiver: Receiver
) -> None:
    channel = watch(calendar, receiver, token="shared-secret", params={"ttl": "3600"})
    assert channel["kind"] == "api#channel"
    assert channel["id"] == "channel-1"
    assert channel["resourceUri"].endswith("/calendar/v3/calendars/primary/events?alt=json")
    expected_ms = int((sandbox.state.now() + timedelta(hours=1)).timestamp() * 1000)
    # The sandbox clock runs on between the call and this line: allow a few seconds.
    assert abs(int(channel["expiration"]) - expected_ms) < 5000

    calendar.events().insert(calendarId="primary", body=session()).execute()
    assert sandbox.control("POST", "push/flush")["drained"] is True

    first, second = receiver.received
    assert first["x-goog-resource-state"] == "sync"
    assert second["x-goog-resource-state"] == "exists"
    assert [first["x-goog-message-number"], second["x-goog-message-number"]] == ["1", "2"]
    for headers in (first, second):
        assert headers["x-goog-channel-id"] == "channel-1"
        assert headers["x-goog-channel-token"] == "shared-secret"
        assert headers["x-goog-resource-id"] == channel["resourceId"]
        assert headers["x-goog-resource-uri"] == channel["resourceUri"]
        assert headers["x-goog-channel-expiration"].endswith(" GMT")
    assert receiver.bodies == [b"", b""]
    log = sandbox.control("GET", "calendar/deliveries")["deliveries"]
    assert [d["status"] for d in log] == [200, 200]


def test_no_token_header_without_a_token(sandbox: Any, calendar: Any, receiver: Receiver) -> None:
    watch(calendar, receiver)
    sandbox.control("POST", "push/flush")
    assert "x-goog-channel-token" not in receiver.received[0]


def test_stopped_channel_delivers_nothing(sandbox: Any, calendar: Any, receiver: Receiver) -> None:
    channel = watch(calendar, receiver)
    sandbox.control("POST", "push/flush")
    calendar.channels().stop(
        body={"id": channel["id"], "resourceId": channel["resourceId"]}
    ).execute()
    calendar.events().insert(calendarId="primary", body=session()).execute()
    sandbox.control("POST", "push/flush")
    assert [h["x-goog-resource-state"] for h in receiver.received] == ["sync"]
    with pytest.raises(HttpError) as caught:
        calendar.channels().stop(
            body={"id": channel["id"], "resourceId": channel["resourceId"]}
        ).execute()
    assert caught.value.status_code == 404


def test_expired_channel_delivers_nothing(sandbox: Any, calendar: Any, receiver: Receiver) -> None:
    watch(calendar, receiver, params={"ttl": "60"})
    sandbox.control("POST", "push/flush")
    sandbox.state.advance(120)
    calendar.events().insert(calendarId="primary", body=session()).execute()
    sandbox.control("POST", "push/flush")
    assert len(receiver.received) == 1


def test_patient_answer_notifies_the_channel(
    sandbox: Any, calendar: Any, receiver: Receiver
) -> None:
    body = {**session(), "attendees": [{"email": "patient@example.test"}]}
    event = calendar.events().insert(calendarId="primary", body=body).execute()
    watch(calendar, receiver)
    sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events/{event['id']}/respond",
        {"email": "patient@example.test", "response": "accepted"},
    )
    sandbox.control("POST", "push/flush")
    assert [h["x-goog-resource-state"] for h in receiver.received] == ["sync", "exists"]


def test_watch_validation(calendar: Any, receiver: Receiver) -> None:
    with pytest.raises(HttpError) as caught:
        calendar.events().watch(
            calendarId="primary",
            body={"id": "c1", "type": "web_hook", "address": "http://calendar.example.test/hook"},
        ).execute()
    assert caught.value.status_code == 400
    with pytest.raises(HttpError) as caught:
        calendar.events().watch(
            calendarId="primary",
            body={"id": "bad id!", "type": "web_hook", "address": receiver.url},
        ).execute()
    assert caught.value.status_code == 400
    watch(calendar, receiver)
    with pytest.raises(HttpError) as caught:
        watch(calendar, receiver)
    assert caught.value.status_code == 400
