"""Gmail ``users.messages.send``: one attempt, never repeated.

Gmail has no idempotency key: a send repeated after a lost answer delivers the message
twice. So the call goes through the retry policy with :data:`~.retry.NO_RETRY`, and over an
:class:`httplib2.Http` that refuses to put a request on the wire a second time. Plain
httplib2 repeats a request on its own when the connection drops (``httplib2.RETRIES``, and
once more "regardless" after a ``BadStatusLine`` on the first try, which is how a dropped
connection shows); both happen inside ``Http._conn_request``, which is where this guards.
"""

from __future__ import annotations

import base64
from typing import Any

import google_auth_httplib2  # type: ignore[import-untyped]  # the package ships no types
import httplib2

from . import retry
from .client import GoogleApis
from .errors import GoogleApiError

# Seconds to wait for Gmail's answer. A send that hangs this long ends as "unknown".
SEND_TIMEOUT_SECONDS = 30.0


class RequestNotRepeated(httplib2.HttpLib2Error):
    """The connection failed after the request was written; it was deliberately not resent."""


class _OneRequest:
    """A connection that lets ``request()`` be called once (attributes pass through)."""

    def __init__(self, connection: Any) -> None:
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_sent", False)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        if self._sent:
            self._connection.close()
            raise RequestNotRepeated("connection lost after the request was sent; not repeated")
        object.__setattr__(self, "_sent", True)
        return self._connection.request(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._connection, name, value)


class SingleAttemptHttp(httplib2.Http):
    """An ``httplib2.Http`` that writes each request at most once, on a fresh connection.

    A fresh connection per request means a failure can never be a stale kept-alive
    connection (the one case where a silent retry would be harmless): any drop after the
    request was written is reported, not repeated.
    """

    def request(self, *args: Any, **kwargs: Any) -> Any:
        for connection in list(self.connections.values()):
            connection.close()
        self.connections.clear()
        return super().request(*args, **kwargs)

    def _conn_request(
        self, conn: Any, request_uri: str, method: str, body: Any, headers: Any
    ) -> Any:
        return super()._conn_request(_OneRequest(conn), request_uri, method, body, headers)


def send_raw(apis: GoogleApis, raw: bytes, timeout: float = SEND_TIMEOUT_SECONDS) -> str:
    """Send the RFC 5322 message ``raw`` as the authorised user; return Gmail's message id.

    Exactly one attempt. A ``GoogleApiError`` with ``status`` 0 (timeout, connection lost)
    or 5xx means the message may or may not have gone out.

    :raises ReauthorizationNeeded: the grant is gone (nothing was sent).
    :raises GoogleApiError: Gmail refused, or its answer was lost.
    """
    encoded = base64.urlsafe_b64encode(raw).decode("ascii")
    request = apis.gmail.users().messages().send(userId="me", body={"raw": encoded})
    # The built service's own Http may repeat a request; this one never does.
    request.http = google_auth_httplib2.AuthorizedHttp(
        apis.valid_credentials(), http=SingleAttemptHttp(timeout=timeout)
    )
    answer = retry.execute(request, policy=retry.NO_RETRY)
    message_id = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(message_id, str):
        raise GoogleApiError(200, "noMessageId", "gmail.users.messages.send: no id in answer")
    return message_id
