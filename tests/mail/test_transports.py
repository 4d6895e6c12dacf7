"""The message format and the transports, against the Google sandbox and a real SMTP server."""

from __future__ import annotations

import base64
import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from aiosmtpd.controller import Controller

from calendar_sync import config
from calendar_sync.config import ConfigError
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.errors import GoogleApiError
from calendar_sync.google.gmail import send_raw
from calendar_sync.google.oauth import GMAIL_SEND
from calendar_sync.mail.message import build_message, message_id
from calendar_sync.mail.samples import SAMPLE_CONTEXTS
from calendar_sync.mail.templates import RenderedEmail, render
from calendar_sync.mail.transports import (
    NO_GMAIL_SCOPE,
    GmailTransport,
    Sender,
    SendOutcome,
    SmtpTransport,
    gmail_result,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
THERAPIST = "dr.lindqvist@example.test"
PATIENT = "sam.r@example.test"
KEY = "email_checkin:0123456789abcdef0123456789abcdef"
SEND = "gmail.users.messages.send"


def _message(sender: tuple[str, str] = ("Dr Maya Lindqvist", THERAPIST), **kwargs: Any) -> Any:
    rendered = render("checkin", SAMPLE_CONTEXTS["checkin"])
    return build_message(rendered, sender=sender, to=PATIENT, key=KEY, now=NOW, **kwargs)


def test_the_message_has_both_parts_and_every_header() -> None:
    message = _message(reply_to=("Dr Maya Lindqvist", "maya@example.test"))
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["From"] == f"Dr Maya Lindqvist <{THERAPIST}>"
    assert parsed["To"] == PATIENT
    assert parsed["Reply-To"] == "Dr Maya Lindqvist <maya@example.test>"
    assert parsed["Subject"].startswith("Checking in after our appointment")
    assert parsed["Date"] == "Tue, 10 Mar 2026 12:00:00 +0000"
    assert parsed["Message-ID"] == "<email_checkin.0123456789abcdef0123456789abcdef@example.test>"


def test_message_id_is_the_same_for_every_copy_and_holds_the_key() -> None:
    assert message_id(KEY, "example.test") == message_id(KEY, "example.test")
    assert message_id("a b\r\n<c>", "example.test") == "<a.b.c@example.test>"


@pytest.mark.parametrize("to", ["sam@example.test\r\nBcc: x@example.test", "a@b@c", "nobody"])
def test_an_address_that_could_inject_headers_is_refused(to: str) -> None:
    rendered = RenderedEmail("Hi", "text", "<p>html</p>")
    with pytest.raises(ValueError, match="address"):
        build_message(rendered, sender=("Dr", THERAPIST), to=to, key=KEY, now=NOW)


def test_a_subject_with_newlines_stays_one_header() -> None:
    rendered = RenderedEmail("Hello\r\nBcc: x@example.test", "text", "<p>html</p>")
    message = build_message(rendered, sender=("Dr", THERAPIST), to=PATIENT, key=KEY, now=NOW)
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Hello Bcc: x@example.test"


# --- Gmail, through the real client library and the sandbox --------------------------------


@pytest.fixture
def apis(google_sandbox: Any) -> GoogleApis:
    credentials = google_sandbox.credentials(THERAPIST, [GMAIL_SEND])
    return GoogleApis(credentials, google_sandbox.url)


def _mail(google_sandbox: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = google_sandbox.control("GET", "mail")["messages"]
    return messages


def _calls(google_sandbox: Any) -> int:
    return int(google_sandbox.control("GET", "calls")["calls"].get(SEND, 0))


def test_gmail_send_delivers_both_parts(google_sandbox: Any, apis: GoogleApis) -> None:
    provider_id = send_raw(apis, _message().as_bytes())
    [sent] = _mail(google_sandbox)
    assert sent["id"] == provider_id
    assert sent["to"] == [PATIENT]
    assert sent["subject"] == "Checking in after our appointment on Tuesday 10 March at 10:00"
    assert "How are you doing?" in sent["text"] and "<p>Hi Sam,</p>" in sent["html"]
    headers = dict(sent["headers"])
    assert "email_checkin.0123456789abcdef" in headers["Message-ID"]


def test_a_lost_answer_is_never_followed_by_a_second_send(
    google_sandbox: Any, apis: GoogleApis
) -> None:
    google_sandbox.control(
        "POST", "faults", {"method": SEND, "timeout": 0.2, "after_processing": True}
    )
    with pytest.raises(GoogleApiError) as caught:
        send_raw(apis, _message().as_bytes())
    assert caught.value.status == 0
    assert gmail_result(caught.value).outcome is SendOutcome.UNKNOWN
    assert _calls(google_sandbox) == 1
    assert len(_mail(google_sandbox)) == 1


def test_plain_httplib2_would_have_sent_twice(google_sandbox: Any, apis: GoogleApis) -> None:
    """The hazard the single-attempt Http exists for: httplib2 resends on a dropped answer."""
    google_sandbox.control(
        "POST", "faults", {"method": SEND, "timeout": 0.2, "after_processing": True}
    )
    http = google_auth_httplib2.AuthorizedHttp(apis.credentials, http=httplib2.Http(timeout=10))
    gmail = google_sandbox.build("gmail", "v1", http=http)
    raw = base64.urlsafe_b64encode(_message().as_bytes()).decode()
    gmail.users().messages().send(userId="me", body={"raw": raw}).execute(num_retries=0)
    assert _calls(google_sandbox) == 2
    assert len(_mail(google_sandbox)) == 2


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ({"status": 500}, SendOutcome.UNKNOWN),
        ({"status": 503}, SendOutcome.UNKNOWN),
        ({"timeout": 0.2}, SendOutcome.UNKNOWN),
        ({"status": 429}, SendOutcome.NOT_SENT),
        ({"status": 403, "reason": "userRateLimitExceeded"}, SendOutcome.NOT_SENT),
        ({"status": 403, "reason": "forbidden"}, SendOutcome.REFUSED),
    ],
)
def test_gmail_errors_are_classified_without_retrying(
    google_sandbox: Any, apis: GoogleApis, fault: dict[str, Any], outcome: SendOutcome
) -> None:
    google_sandbox.control("POST", "faults", {"method": SEND, **fault})
    with pytest.raises(GoogleApiError) as caught:
        send_raw(apis, _message().as_bytes())
    result = gmail_result(caught.value)
    assert result.outcome is outcome
    assert result.reason and PATIENT not in result.reason
    assert _calls(google_sandbox) == 1


def test_gmail_bad_request_is_refused(google_sandbox: Any, apis: GoogleApis) -> None:
    with pytest.raises(GoogleApiError) as caught:
        send_raw(apis, b"Subject: nobody to send to\r\n\r\nhello\r\n")
    assert caught.value.status == 400
    assert gmail_result(caught.value).outcome is SendOutcome.REFUSED
    assert _mail(google_sandbox) == []


def test_gmail_refused_at_connect_is_known_not_sent(google_sandbox: Any) -> None:
    credentials = google_sandbox.credentials(THERAPIST, [GMAIL_SEND])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    with pytest.raises(GoogleApiError) as caught:
        send_raw(GoogleApis(credentials, closed), _message().as_bytes())
    assert gmail_result(caught.value).outcome is SendOutcome.NOT_SENT


class _Keeper:
    """A connection keeper for one therapist: real credentials, a chosen set of scopes."""

    def __init__(self, apis: GoogleApis, scopes: frozenset[str]) -> None:
        self._apis, self._scopes = apis, scopes

    def granted_scopes(self, therapist_id: int) -> frozenset[str]:
        return self._scopes

    def apis(self, therapist_id: int, now: datetime) -> GoogleApis:
        return self._apis


def test_gmail_transport_refuses_without_the_send_scope(
    google_sandbox: Any, apis: GoogleApis
) -> None:
    transport = GmailTransport(_Keeper(apis, frozenset()))
    result = transport.ready(Sender(1, "Dr Maya Lindqvist", THERAPIST), NOW)
    assert result is not None and result.outcome is SendOutcome.REFUSED
    assert result.reason == NO_GMAIL_SCOPE
    assert _calls(google_sandbox) == 0


def test_gmail_transport_sends_from_the_therapist(google_sandbox: Any, apis: GoogleApis) -> None:
    transport = GmailTransport(_Keeper(apis, frozenset({GMAIL_SEND})))
    sender = Sender(1, "Dr Maya Lindqvist", THERAPIST)
    assert transport.ready(sender, NOW) is None
    (author, reply_to) = transport.envelope(sender)
    result = transport.deliver(sender, _message(author, reply_to=reply_to), KEY)
    assert result.outcome is SendOutcome.SENT and result.provider_id
    assert _mail(google_sandbox)[0]["from"] == f"Dr Maya Lindqvist <{THERAPIST}>"


# --- SMTP, against a real SMTP server -------------------------------------------------------


class _Inbox:
    """An aiosmtpd handler keeping what it accepts; refuses recipients at refuse.example.test."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@refuse.example.test"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _smtp(port: int) -> SmtpTransport:
    return SmtpTransport(
        host="127.0.0.1", port=port, from_address="office@practice.example.test", starttls=False
    )


def test_smtp_sends_from_the_practice_with_reply_to_the_therapist(
    smtp_server: tuple[_Inbox, int],
) -> None:
    inbox, port = smtp_server
    transport = _smtp(port)
    sender = Sender(1, "Dr Maya Lindqvist", THERAPIST)
    author, reply_to = transport.envelope(sender)
    result = transport.deliver(sender, _message(author, reply_to=reply_to), KEY)
    assert result.outcome is SendOutcome.SENT
    [(mail_from, recipients, content)] = inbox.received
    assert mail_from == "office@practice.example.test" and recipients == [PATIENT]
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert parsed["From"] == "Dr Maya Lindqvist <office@practice.example.test>"
    assert parsed["Reply-To"] == f"Dr Maya Lindqvist <{THERAPIST}>"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert result.provider_id == parsed["Message-ID"].strip()


def test_smtp_refused_recipient_fails_and_a_closed_port_is_not_sent(
    smtp_server: tuple[_Inbox, int],
) -> None:
    inbox, port = smtp_server
    rendered = RenderedEmail("Hi", "text", "<p>html</p>")
    message = build_message(
        rendered, sender=("Dr", THERAPIST), to="gone@refuse.example.test", key=KEY, now=NOW
    )
    sender = Sender(1, "Dr", THERAPIST)
    assert _smtp(port).deliver(sender, message, KEY).outcome is SendOutcome.REFUSED
    assert inbox.received == []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])
    assert _smtp(closed).deliver(sender, message, KEY).outcome is SendOutcome.NOT_SENT


def test_smtp_backend_needs_a_host_and_a_from_address(tmp_path: Path) -> None:
    values = config.load({"MAIL_BACKEND": "smtp"}, tmp_path)
    with pytest.raises(ConfigError, match="SMTP_HOST"):
        config.finish(values)
    values = config.load({"MAIL_BACKEND": "carrier-pigeon"}, tmp_path)
    with pytest.raises(ConfigError, match="MAIL_BACKEND"):
        config.finish(values)
    values = config.load(
        {"MAIL_BACKEND": "smtp", "SMTP_HOST": "mail.example.test", "SMTP_FROM": "o@example.test"},
        tmp_path,
    )
    config.finish(values)
    assert values["SMTP_PORT"] == 587 and values["SMTP_STARTTLS"] is True
