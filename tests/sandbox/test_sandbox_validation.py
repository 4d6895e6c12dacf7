"""Requests are checked against the discovery documents, as Google's front end does."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from googleapiclient.errors import HttpError

from calendar_sync.sandbox.discovery import BodyValidator, method, validate_query
from calendar_sync.sandbox.errors import GoogleError
from calendar_sync.sandbox.testing import RunningSandbox

SEND = "https://www.googleapis.com/auth/gmail.send"
USER = "dr.kim@example.test"


@pytest.mark.parametrize(
    ("body", "reason", "fragment"),
    [
        ({"raw": "aGk", "surprise": 1}, "invalid", 'Unknown name "surprise"'),
        ({"raw": 42}, "invalid", "message.raw"),
        ({"raw": "not base64 !"}, "invalid", "Base64 decoding failed"),
        ({"raw": "aGk", "labelIds": "SENT"}, "invalid", "message.labelIds"),
        ({"raw": "aGk", "payload": {"headers": [{"name": "X", "wrong": 1}]}}, "invalid", "wrong"),
        ({}, "invalidArgument", "'raw' RFC822 payload"),
    ],
)
def test_bad_bodies_are_refused_through_the_client(
    sandbox: RunningSandbox, body: dict[str, Any], reason: str, fragment: str
) -> None:
    gmail = sandbox.service("gmail", "v1", USER, [SEND])

    with pytest.raises(HttpError) as caught:
        gmail.users().messages().send(userId="me", body=body).execute()

    assert caught.value.status_code == 400
    assert caught.value.error_details[0]["reason"] == reason
    assert fragment in caught.value.reason
    assert sandbox.state.sent == []


def _raw_get(sandbox: RunningSandbox, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(sandbox.url + path, headers=headers, timeout=5)


def test_missing_and_invalid_tokens_get_401_with_www_authenticate(
    sandbox: RunningSandbox,
) -> None:
    missing = _raw_get(sandbox, "oauth2/v2/userinfo", None)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith(
        'Bearer realm="https://accounts.google.com/"'
    )
    assert missing.json()["error"]["errors"][0]["reason"] == "required"

    invalid = _raw_get(sandbox, "oauth2/v2/userinfo", "ya29.made-up")
    assert invalid.status_code == 401
    assert 'error="invalid_token"' in invalid.headers["WWW-Authenticate"]
    assert invalid.json()["error"]["status"] == "UNAUTHENTICATED"


def test_query_parameters_are_checked(sandbox: RunningSandbox) -> None:
    sandbox.add_account(USER)
    token = sandbox.issue_tokens(USER, ["email"])["access_token"]

    assert _raw_get(sandbox, "oauth2/v2/userinfo?prettyPrint=false", token).status_code == 200
    bad_bool = _raw_get(sandbox, "oauth2/v2/userinfo?prettyPrint=maybe", token)
    assert bad_bool.status_code == 400
    assert bad_bool.json()["error"]["errors"][0]["reason"] == "invalid"
    bad_enum = _raw_get(sandbox, "oauth2/v2/userinfo?alt=xml", token)
    assert bad_enum.status_code == 400
    unknown = _raw_get(sandbox, "oauth2/v2/userinfo?colour=blue", token)
    assert unknown.status_code == 400
    assert "Cannot bind query parameter" in unknown.json()["error"]["message"]


def test_unparsable_json_is_a_parse_error(sandbox: RunningSandbox) -> None:
    sandbox.add_account(USER)
    token = sandbox.issue_tokens(USER, [SEND])["access_token"]

    answer = requests.post(
        sandbox.url + "gmail/v1/users/me/messages/send",
        data=b"{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=5,
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["errors"][0]["reason"] == "parseError"


class _Args(dict[str, list[str]]):
    """The part of werkzeug's MultiDict that query validation reads."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def test_calendar_query_formats_and_limits() -> None:
    events_list = method("calendar.events.list")

    converted = validate_query(
        events_list,
        _Args(maxResults=["10"], singleEvents=["true"], timeMin=["2025-03-01T00:00:00Z"]),
        {"calendarId": "primary"},
    )
    assert converted == {
        "maxResults": 10,
        "singleEvents": True,
        "timeMin": "2025-03-01T00:00:00Z",
    }
    for bad in (
        {"maxResults": ["0"]},
        {"maxResults": ["ten"]},
        {"timeMin": ["2025-03-01T00:00:00"]},  # query timestamps need an offset
        {"orderBy": ["title"]},
        {"singleEvents": ["true", "false"]},
    ):
        with pytest.raises(GoogleError) as caught:
            validate_query(events_list, _Args(bad), {"calendarId": "primary"})
        assert caught.value.status == 400
    with pytest.raises(GoogleError) as missing:
        validate_query(events_list, _Args(), {})
    assert missing.value.reason == "required"


def test_calendar_event_body_schema() -> None:
    validator = BodyValidator(method("calendar.events.insert"))
    good = {
        "summary": "Session",
        # Without an offset the separate timeZone says which zone is meant.
        "start": {"dateTime": "2025-03-03T10:00:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2025-03-03T10:50:00+01:00"},
        "extendedProperties": {"private": {"calendarSync": "1"}},
        "attendees": [{"email": "pat@example.test", "responseStatus": "needsAction"}],
        "reminders": {"useDefault": False, "overrides": [{"method": "email", "minutes": 60}]},
        "sequence": 0,
    }
    validator.validate(good)

    for bad in (
        {**good, "start": {"dateTime": "next tuesday"}},
        {**good, "end": {"date": "2025-02-30"}},
        {**good, "extendedProperties": {"private": {"k": 1}}},
        {**good, "attendees": {"email": "pat@example.test"}},
        {**good, "sequence": "one"},
        {**good, "colour": "1"},
        {k: v for k, v in good.items() if k != "end"},
    ):
        with pytest.raises(GoogleError) as caught:
            validator.validate(bad)
        assert caught.value.status == 400
