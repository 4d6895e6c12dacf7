"""The retry policy, with the real client against the sandbox and faults it injects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from calendar_sync.google import GoogleApiError, ReauthorizationNeeded, SyncTokenExpired
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.oauth import CALENDAR_EVENTS
from calendar_sync.google.retry import NO_RETRY, RetryPolicy, error_reason, execute
from calendar_sync.sandbox.testing import RunningSandbox

THERAPIST = "dr.okafor@example.test"
LIST = "calendar.events.list"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    running = RunningSandbox()
    yield running
    running.stop()


@pytest.fixture
def apis(sandbox: RunningSandbox) -> GoogleApis:
    return GoogleApis(sandbox.credentials(THERAPIST, [CALENDAR_EVENTS]), sandbox.url, timeout=0.5)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def listing(apis: GoogleApis, **query: Any) -> Any:
    return apis.calendar.events().list(calendarId="primary", **query)


def fault(sandbox: RunningSandbox, **body: Any) -> None:
    sandbox.control("POST", "faults", {"method": LIST, **body})


def counted(sandbox: RunningSandbox) -> int:
    return int(sandbox.control("GET", "calls")["calls"].get(LIST, 0))


def half() -> float:
    return 0.5


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (429, None),
        (503, None),
        (500, None),
        (403, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
    ],
)
def test_rate_limits_and_server_errors_are_retried_with_backoff(
    sandbox: RunningSandbox, apis: GoogleApis, status: int, reason: str | None
) -> None:
    fault(sandbox, status=status, count=2, **({"reason": reason} if reason else {}))
    sleeps = Sleeps()

    answer = execute(listing(apis), sleep=sleeps, rng=half)

    assert answer["kind"] == "calendar#events"
    assert counted(sandbox) == 3
    # Full jitter at half the range: 0.5 * 1 s, then 0.5 * 2 s.
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize(("status", "reason"), [(403, "forbidden"), (403, "quotaExceeded")])
def test_plain_refusals_are_not_retried(
    sandbox: RunningSandbox, apis: GoogleApis, status: int, reason: str
) -> None:
    fault(sandbox, status=status, reason=reason)
    sleeps = Sleeps()

    with pytest.raises(GoogleApiError) as caught:
        execute(listing(apis), sleep=sleeps)

    assert (caught.value.status, caught.value.reason) == (status, reason)
    assert counted(sandbox) == 1
    assert sleeps == []


def test_a_bad_request_is_not_retried(sandbox: RunningSandbox, apis: GoogleApis) -> None:
    sleeps = Sleeps()
    bad = listing(apis, timeMin="2026-03-02T00:00:00Z", timeMax="2026-03-01T00:00:00Z")

    with pytest.raises(GoogleApiError) as caught:
        execute(bad, sleep=sleeps)

    assert caught.value.status == 400
    assert caught.value.reason == "timeRangeEmpty"
    assert counted(sandbox) == 1 and sleeps == []


def test_not_found_is_not_retried_and_names_no_calendar(
    sandbox: RunningSandbox, apis: GoogleApis
) -> None:
    missing = apis.calendar.events().list(calendarId="someone.else@example.test")

    with pytest.raises(GoogleApiError) as caught:
        execute(missing, sleep=Sleeps())

    assert caught.value.status == 404
    assert "example.test" not in str(caught.value)


def test_attempts_are_bounded(sandbox: RunningSandbox, apis: GoogleApis) -> None:
    fault(sandbox, status=503, count=10)
    sleeps = Sleeps()

    with pytest.raises(GoogleApiError) as caught:
        execute(listing(apis), sleep=sleeps, rng=lambda: 1.0)

    assert caught.value.status == 503 and caught.value.retryable
    assert counted(sandbox) == 5
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_waits_are_capped() -> None:
    policy = RetryPolicy(attempts=10, base_seconds=1, cap_seconds=32)
    assert [policy.wait(n, lambda: 1.0) for n in range(8)] == [1, 2, 4, 8, 16, 32, 32, 32]


def test_a_timeout_is_retried(sandbox: RunningSandbox, apis: GoogleApis) -> None:
    fault(sandbox, timeout=1.5)
    sleeps = Sleeps()

    answer = execute(listing(apis), sleep=sleeps, rng=half)

    assert answer["kind"] == "calendar#events"
    assert counted(sandbox) == 2
    assert sleeps == [0.5]


def test_no_retry_policy_tries_once(sandbox: RunningSandbox, apis: GoogleApis) -> None:
    fault(sandbox, status=503)

    with pytest.raises(GoogleApiError):
        execute(listing(apis), policy=NO_RETRY, sleep=Sleeps())

    assert counted(sandbox) == 1


def test_gone_sync_token_is_its_own_error(sandbox: RunningSandbox, apis: GoogleApis) -> None:
    fault(sandbox, status=410)

    with pytest.raises(SyncTokenExpired):
        execute(listing(apis), sleep=Sleeps())

    assert counted(sandbox) == 1


def test_revoked_access_asks_for_reauthorisation(sandbox: RunningSandbox, apis: GoogleApis) -> None:
    sandbox.control("POST", "grants/revoke", {"email": THERAPIST})

    with pytest.raises(ReauthorizationNeeded):
        execute(listing(apis), sleep=Sleeps())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"error": {"errors": [{"reason": "rateLimitExceeded"}]}}', "rateLimitExceeded"),
        (b'{"error": {"details": [{"reason": "RATE_LIMIT_EXCEEDED"}]}}', "RATE_LIMIT_EXCEEDED"),
        (b'{"error": {"status": "UNAVAILABLE"}}', "UNAVAILABLE"),
        (b"<html>Bad Gateway</html>", None),
        (b"", None),
    ],
)
def test_error_reason_is_read_from_any_shape_google_uses(body: bytes, reason: str | None) -> None:
    assert error_reason(body) == reason
