"""The one way every Google call of the service is made: bounded retries with backoff.

Google asks clients to back off exponentially with jitter on rate limits and server errors
(429, 403 ``rateLimitExceeded`` / ``userRateLimitExceeded``, 5xx) and never to repeat what
cannot succeed (400, 401, a plain 403, 404, 409, 412). Connection errors and timeouts are
retried too, except under :data:`NO_RETRY`, the policy for calls that must not run twice
(Gmail ``messages.send`` has no idempotency key).

Defaults: 5 attempts, waits drawn uniformly from ``[0, min(32 s, 1 s * 2**n))`` ("full
jitter"), so the worst case waits about 15 s in total before giving up.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import google.auth.exceptions
import httplib2
from googleapiclient.errors import HttpError

from .errors import GoogleApiError, ReauthorizationNeeded, SyncTokenExpired

log = logging.getLogger(__name__)

# How a call waits between attempts; tests pass one that records instead of sleeping.
Sleep = Callable[[float], None]

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# 410 with these reasons means "drop the sync token"; 410 ``deleted`` (deleting twice) does not.
SYNC_TOKEN_REASONS = frozenset({"fullSyncRequired", "updatedMinTooLongAgo"})
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException, httplib2.HttpLib2Error)


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how patiently, a call is repeated.

    ``attempts`` counts the first try; a wait before retry ``n`` (from 0) is drawn from
    ``[0, min(cap_seconds, base_seconds * 2**n))``.
    """

    attempts: int = 5
    base_seconds: float = 1.0
    cap_seconds: float = 32.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def wait(self, retry: int, rng: Callable[[], float]) -> float:
        return rng() * min(self.cap_seconds, self.base_seconds * 2**retry)


DEFAULT_POLICY = RetryPolicy()
# For calls whose repetition could do harm (sending an email): one try, never more.
NO_RETRY = RetryPolicy(attempts=1)


def execute(
    request: Any,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> Any:
    """Run a googleapiclient request under ``policy`` and return its decoded answer.

    :raises SyncTokenExpired: on 410 ``fullSyncRequired`` (drop the token, sync in full).
    :raises ReauthorizationNeeded: when refreshing the access token hits ``invalid_grant``.
    :raises GoogleApiError: on an error retrying cannot fix, or when the attempts ran out;
        ``status`` is 0 when no answer came (timeout, connection lost).
    """
    method = str(getattr(request, "methodId", None) or "Google call")
    retry = 0
    while True:
        try:
            # The client library's own retries stay off: this loop is the only one.
            return request.execute(num_retries=0)
        except HttpError as exc:
            error = _classify(exc, method)
            retry_after = _retry_after(exc)
        except google.auth.exceptions.RefreshError as exc:
            if "invalid_grant" in str(exc):
                raise ReauthorizationNeeded(method) from exc
            raise GoogleApiError(0, "refreshFailed", f"{method}: token refresh refused") from exc
        except (google.auth.exceptions.TransportError, *_TRANSPORT_ERRORS) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "connectionError"
            error = GoogleApiError(0, reason, f"{method}: Google did not answer")
            error.retryable = True
            error.__cause__ = exc
            retry_after = None
        if not error.retryable or retry + 1 >= policy.attempts:
            if error.retryable:
                log.warning("%s: giving up after %d attempt(s)", method, retry + 1)
            raise error
        wait = policy.wait(retry, rng)
        if retry_after is not None:
            wait = max(wait, min(retry_after, policy.cap_seconds))
        log.info("%s: %s %s, retrying in %.1f s", method, error.status, error.reason, wait)
        sleep(wait)
        retry += 1


def _classify(exc: HttpError, method: str) -> GoogleApiError:
    """The service's error for Google's answer; ``retryable`` says whether to try again."""
    status = int(exc.resp.status)
    reason = error_reason(exc.content) or str(status)
    words = f"{method}: Google refused the request"
    if status == 410 and reason in SYNC_TOKEN_REASONS:
        error: GoogleApiError = SyncTokenExpired(status, reason, f"{method}: sync token expired")
    else:
        error = GoogleApiError(status, reason, words)
    error.retryable = (
        status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMIT_REASONS)
    )
    error.__cause__ = exc
    return error


def error_reason(content: bytes | str | None) -> str | None:
    """Google's short reason code from an error body (``errors[0].reason``), if any.

    Newer APIs put it in ``details[].reason`` instead; both are read.
    """
    if not content:
        return None
    try:
        body = json.loads(content)
    except (ValueError, TypeError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for key in ("errors", "details"):
        for item in error.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("reason"), str):
                return str(item["reason"])
    status = error.get("status")
    return status if isinstance(status, str) else None


def _retry_after(exc: HttpError) -> float | None:
    value = exc.resp.get("retry-after") if hasattr(exc.resp, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        # An HTTP date instead of seconds: the jittered wait is a fine stand-in.
        return None
