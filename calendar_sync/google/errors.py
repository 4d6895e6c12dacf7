"""What can go wrong when talking to Google, in the service's own words."""

from __future__ import annotations


class GoogleApiError(RuntimeError):
    """Google answered with an error that retrying will not fix (or retries ran out).

    ``status`` is the HTTP status (0 when no answer came), ``reason`` Google's short code.
    The message never holds personal data: it is shown on the dashboard and logged.
    """

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"Google answered {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        # Set by the retry policy: whether trying again could succeed (rate limit, 5xx).
        self.retryable = False


class SyncTokenExpired(GoogleApiError):
    """410 Gone: the sync token is no longer valid; drop it and sync in full."""


class ReauthorizationNeeded(RuntimeError):
    """The grant is gone (revoked, expired, password changed): the therapist must reconnect."""
