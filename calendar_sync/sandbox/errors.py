"""Errors in the shape Google's JSON APIs answer them."""

from __future__ import annotations

from http import HTTPStatus

from flask import Response, jsonify


class GoogleError(Exception):
    """An API error the sandbox answers the way Google does.

    ``reason`` is Google's short code (``notFound``, ``rateLimitExceeded``, ``fullSyncRequired``...).
    """

    def __init__(self, status: int, reason: str, message: str, domain: str = "global") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain

    def to_response(self) -> Response:
        body = {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
                "status": _STATUS_NAMES.get(self.status, HTTPStatus(self.status).name),
            }
        }
        response = jsonify(body)
        response.status_code = self.status
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
