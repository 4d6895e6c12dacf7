"""Built clients are kept across uses, per thread and per therapist; tokens asked lazily."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from calendar_sync.google import client
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.oauth import CALENDAR_EVENTS
from calendar_sync.sandbox.testing import RunningSandbox

THERAPIST = "dr.okafor@example.test"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    running = RunningSandbox()
    yield running
    running.stop()


def _summary(apis: GoogleApis) -> Any:
    """One real call; the listing answers with the calendar's id in ``summary``."""
    answer = apis.calendar.events().list(calendarId="primary", maxResults=1).execute()
    return answer["summary"]


def test_a_kept_client_is_built_once_per_thread_and_gets_the_new_credentials(
    sandbox: RunningSandbox,
) -> None:
    first = GoogleApis(sandbox.credentials(THERAPIST, [CALENDAR_EVENTS]), sandbox.url, keep=7)
    assert _summary(first) == THERAPIST
    # the next cycle: new credentials (a fresh token), the same built client
    again = GoogleApis(sandbox.credentials(THERAPIST, [CALENDAR_EVENTS]), sandbox.url, keep=7)
    assert again.calendar is first.calendar
    assert again.calendar._http.credentials is again.credentials
    assert _summary(again) == THERAPIST
    # another thread builds its own (httplib2.Http is not thread-safe)
    found: list[Any] = []
    thread = threading.Thread(
        target=lambda: found.append(GoogleApis(again.credentials, sandbox.url, keep=7).calendar)
    )
    thread.start()
    thread.join(10)
    assert found and found[0] is not first.calendar


def test_credentials_are_asked_for_only_when_a_client_is_used(sandbox: RunningSandbox) -> None:
    asked: list[int] = []

    def source() -> Any:
        asked.append(1)
        return sandbox.credentials(THERAPIST, [CALENDAR_EVENTS])

    apis = GoogleApis(None, sandbox.url, source=source, keep=8)
    assert asked == []
    assert _summary(apis) == THERAPIST
    assert _summary(apis) == THERAPIST
    assert asked == [1]


def test_kept_clients_are_bounded(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "KEPT_CLIENTS", 2)
    credentials = sandbox.credentials(THERAPIST, [CALENDAR_EVENTS])
    for therapist in range(100, 105):
        GoogleApis(credentials, sandbox.url, keep=therapist).calendar  # noqa: B018
    assert client.kept_clients() <= 2
