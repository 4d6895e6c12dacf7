"""Errors in the shape Google's JSON APIs answer them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Response, jsonify


class GoogleError(Exception):
    """An API error the sandbox answers the way Google does.

    ``reason`` is Google's short code (``notFound``, ``rateLimitExceeded``,
    ``fullSyncRequired``...).
    ``location`` / ``location_type`` name the offending parameter or header, as Google's
    ``errors[]`` entries do; ``headers`` are added to the response (``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        domain: str = "global",
        *,
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
        detail_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}
        # Google sometimes words the top-level message and the errors[] entry differently
        # ("Request had invalid authentication credentials..." / "Invalid Credentials").
        self.detail_message = detail_message or message

    def to_response(self) -> Response:
        item: dict[str, Any] = {
            "domain": self.domain,
            "reason": self.reason,
            "message": self.detail_message,
        }
        if self.location is not None:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        body = {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [item],
                "status": _STATUS_NAMES.get(self.status, HTTPStatus(self.status).name),
            }
        }
        response = jsonify(body)
        response.status_code = self.status
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


# Google's canonical status names, as they appear in the "status" field of an error body.
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "ABORTED",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
