"""Injected faults reach the real client as Google's errors; calls are counted."""

from __future__ import annotations

import http.client
import socket
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import google_auth_httplib2
import httplib2
import pytest
from googleapiclient.errors import HttpError

from calendar_sync.sandbox.testing import RunningSandbox

USER = "dr.ng@example.test"
SIGN_IN = ["openid", "email", "profile"]


def _userinfo(sandbox: RunningSandbox) -> Any:
    return sandbox.service("oauth2", "v2", USER, SIGN_IN).userinfo().get()


@pytest.mark.parametrize(
    ("status", "reason", "expected_reason", "expected_message"),
    [
        (429, None, "rateLimitExceeded", "Rate Limit Exceeded"),
        (403, None, "rateLimitExceeded", "Rate Limit Exceeded"),
        (403, "userRateLimitExceeded", "userRateLimitExceeded", "User Rate Limit Exceeded"),
        (403, "forbidden", "forbidden", "Forbidden"),
        (
            410,
            "fullSyncRequired",
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
        ),
        (500, None, "backendError", "Backend Error"),
        (503, "backendError", "backendError", "The service is currently unavailable."),
    ],
)
def test_status_fault_is_seen_as_google_error(
    sandbox: RunningSandbox,
    status: int,
    reason: str | None,
    expected_reason: str,
    expected_message: str,
) -> None:
    call = _userinfo(sandbox)
    fault: dict[str, Any] = {"method": "oauth2.userinfo.get", "status": status}
    if reason is not None:
        fault["reason"] = reason
    sandbox.control("POST", "faults", fault)

    with pytest.raises(HttpError) as caught:
        call.execute()

    assert caught.value.status_code == status
    assert caught.value.error_details[0]["reason"] == expected_reason
    assert caught.value.reason == expected_message
    # The fault was played once; the next call succeeds.
    assert call.execute()["email"] == USER


def test_429_carries_resource_exhausted_status(sandbox: RunningSandbox) -> None:
    call = _userinfo(sandbox)
    sandbox.control("POST", "faults", {"method": "oauth2.userinfo.get", "status": 429})

    with pytest.raises(HttpError) as caught:
        call.execute()

    assert b'"RESOURCE_EXHAUSTED"' in caught.value.content


def test_count_plays_fault_that_many_times_and_client_retries_through(
    sandbox: RunningSandbox,
) -> None:
    call = _userinfo(sandbox)
    sandbox.control("POST", "faults", {"method": "oauth2.userinfo.get", "status": 503, "count": 2})

    # googleapiclient's own retry (num_retries) backs off over the two failures.
    answer = call.execute(num_retries=3)

    assert answer["email"] == USER
    assert sandbox.control("GET", "calls")["calls"]["oauth2.userinfo.get"] == 3


def test_skip_lets_calls_through_before_the_fault_plays(sandbox: RunningSandbox) -> None:
    call = _userinfo(sandbox)
    sandbox.control("POST", "faults", {"method": "oauth2.userinfo.get", "status": 500, "skip": 2})

    assert call.execute()["email"] == USER
    assert call.execute()["email"] == USER
    with pytest.raises(HttpError) as caught:
        call.execute()

    assert caught.value.status_code == 500
    assert call.execute()["email"] == USER


def test_unknown_status_is_refused_by_control(sandbox: RunningSandbox) -> None:
    with pytest.raises(Exception, match="400"):
        sandbox.control("POST", "faults", {"method": "oauth2.userinfo.get", "status": 418})


def test_timeout_fault_hangs_then_drops_without_answer(sandbox: RunningSandbox) -> None:
    credentials = sandbox.credentials(USER, SIGN_IN)
    slow = sandbox.build(
        "oauth2",
        "v2",
        http=google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=0.3)),
    )
    sandbox.control("POST", "faults", {"method": "oauth2.userinfo.get", "timeout": 1})

    with pytest.raises((TimeoutError, socket.timeout)):
        slow.userinfo().get().execute()


def test_dropped_connection_without_client_timeout(sandbox: RunningSandbox) -> None:
    call = _userinfo(sandbox)
    # httplib2 silently retries a dropped connection once, so drop two in a row.
    sandbox.control("POST", "faults", {"method": "oauth2.userinfo.get", "timeout": 0.1, "count": 2})

    with pytest.raises(http.client.RemoteDisconnected):
        call.execute()

    assert sandbox.control("GET", "calls")["calls"]["oauth2.userinfo.get"] == 2


def test_lost_answer_after_processing_sends_twice_on_retry(sandbox: RunningSandbox) -> None:
    """Gmail send has no idempotency key: a retried lost answer delivers the mail twice."""
    import base64
    from email.message import EmailMessage

    gmail = sandbox.service("gmail", "v1", USER, ["https://www.googleapis.com/auth/gmail.send"])
    mail = EmailMessage()
    mail["To"] = "pat@example.test"
    mail["Subject"] = "Hello"
    mail.set_content("text")
    raw = base64.urlsafe_b64encode(mail.as_bytes()).decode()
    sandbox.control(
        "POST",
        "faults",
        {"method": "gmail.users.messages.send", "timeout": 0, "after_processing": True},
    )

    # httplib2 retries the dropped request by itself; the first copy was already sent.
    answer = gmail.users().messages().send(userId="me", body={"raw": raw}).execute()

    assert answer["labelIds"] == ["SENT"]
    assert len(sandbox.control("GET", "mail")["messages"]) == 2


def test_token_endpoint_fault_fails_refresh(sandbox: RunningSandbox) -> None:
    credentials = sandbox.credentials(USER, SIGN_IN)
    sandbox.control("POST", "faults", {"method": "oauth.token", "status": 403})

    with pytest.raises(google.auth.exceptions.RefreshError, match="access_denied"):
        credentials.refresh(google.auth.transport.requests.Request())

    assert sandbox.control("GET", "calls")["calls"]["oauth.token"] == 1


def test_token_endpoint_unavailable_is_retried_by_google_auth(sandbox: RunningSandbox) -> None:
    credentials = sandbox.credentials(USER, SIGN_IN)
    old_token = credentials.token
    sandbox.control("POST", "faults", {"method": "oauth.token", "status": 503})

    credentials.refresh(google.auth.transport.requests.Request())

    assert credentials.token != old_token
    assert sandbox.control("GET", "calls")["calls"]["oauth.token"] == 2


def test_calls_are_counted_and_reset(sandbox: RunningSandbox) -> None:
    call = _userinfo(sandbox)
    call.execute()
    call.execute()
    assert sandbox.control("GET", "calls")["calls"] == {"oauth2.userinfo.get": 2}

    sandbox.control("DELETE", "calls")
    assert sandbox.control("GET", "calls")["calls"] == {}


def test_clearing_faults_cancels_them(sandbox: RunningSandbox) -> None:
    call = _userinfo(sandbox)
    sandbox.control("POST", "faults", {"method": "oauth2.userinfo.get", "status": 500})
    sandbox.control("DELETE", "faults")

    assert call.execute()["email"] == USER
