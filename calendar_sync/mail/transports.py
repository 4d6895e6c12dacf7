"""The ways a message leaves, chosen by ``MAIL_BACKEND``: Gmail, SMTP, or kept for development.

A transport makes one attempt and says, in a :class:`SendResult`, what is known afterwards:
sent, not sent (nothing left the machine: try again later), refused (a definite no), paused
(the therapist must reconnect Google), or unknown (it may have gone out). It never retries;
the outbox decides what happens next. Reasons are plain words without personal data.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from enum import Enum
from typing import Any, Protocol

import httplib2
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..google import gmail
from ..google.client import GoogleApis
from ..google.errors import GoogleApiError, ReauthorizationNeeded
from ..google.oauth import GMAIL_SEND
from ..google.retry import RATE_LIMIT_REASONS
from ..storage import Database
from ..storage.models import DevMail

CHECK_SENT = "Check your Sent folder, then mark it as sent or not sent."
NO_GMAIL_SCOPE = "Gmail access was not granted"
RECONNECT = "Waiting for you to connect Google again; it goes out once you do."


class SendOutcome(Enum):
    """What became of one attempt to send (a session's outcome is ``domain.outcomes``)."""

    SENT = "sent"
    #: Nothing left: the message can be tried again at the next dispatch.
    NOT_SENT = "not_sent"
    #: A definite refusal before delivery.
    REFUSED = "refused"
    #: The Google grant is gone; the message waits for the therapist to reconnect.
    PAUSED = "paused"
    #: It may or may not have gone out; never sent again without a person deciding.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    reason: str | None = None
    provider_id: str | None = None


@dataclass(frozen=True)
class Sender:
    """The therapist a message is from."""

    therapist_id: int
    name: str
    email: str


class Transport:
    """One way out. ``ready`` is asked before a message is marked as sending."""

    name = "transport"

    def ready(self, sender: Sender, now: datetime) -> SendResult | None:
        """Why nothing can be sent for ``sender`` now (never a partial send), or None."""
        return None

    def envelope(self, sender: Sender) -> tuple[tuple[str, str], tuple[str, str] | None]:
        """(From, Reply-To) as (display name, address) pairs."""
        return (sender.name, sender.email), None

    def deliver(self, sender: Sender, message: EmailMessage, key: str) -> SendResult:
        raise NotImplementedError


class GoogleAccess(Protocol):
    """What the Gmail transport needs of ``services.accounts.connections.ConnectionKeeper``."""

    def granted_scopes(self, therapist_id: int) -> frozenset[str]: ...

    def apis(self, therapist_id: int, now: datetime) -> GoogleApis: ...


@dataclass
class GmailTransport(Transport):
    """From the therapist's own Gmail (``users.messages.send``): replies reach them."""

    keeper: GoogleAccess
    name = "gmail"
    _apis: dict[int, GoogleApis] = field(default_factory=dict)

    def ready(self, sender: Sender, now: datetime) -> SendResult | None:
        if GMAIL_SEND not in self.keeper.granted_scopes(sender.therapist_id):
            return SendResult(SendOutcome.REFUSED, NO_GMAIL_SCOPE)
        if sender.therapist_id not in self._apis:
            try:
                apis = self.keeper.apis(sender.therapist_id, now)
                # The send needs a valid token: get it now, before the message is marked
                # as being sent, so a refresh that fails or hangs leaves nothing in doubt.
                apis.valid_credentials()
                self._apis[sender.therapist_id] = apis
            except ReauthorizationNeeded:
                return SendResult(SendOutcome.PAUSED, RECONNECT)
            except GoogleApiError:
                return SendResult(
                    SendOutcome.NOT_SENT, "Google could not be reached; trying again."
                )
        return None

    def deliver(self, sender: Sender, message: EmailMessage, key: str) -> SendResult:
        apis = self._apis[sender.therapist_id]
        try:
            provider_id = gmail.send_raw(apis, message.as_bytes(policy=SMTP))
        except ReauthorizationNeeded:
            return SendResult(SendOutcome.PAUSED, RECONNECT)
        except GoogleApiError as exc:
            return gmail_result(exc)
        return SendResult(SendOutcome.SENT, provider_id=provider_id)


def gmail_result(exc: GoogleApiError) -> SendResult:
    """What a Gmail error means for the message."""
    status, reason = exc.status, exc.reason
    if status == 0:
        cause = exc.__cause__
        if isinstance(cause, ConnectionRefusedError | httplib2.ServerNotFoundError):
            # Refused at connect time: not a byte of the message left.
            return SendResult(SendOutcome.NOT_SENT, "Gmail could not be reached; trying again.")
        what = "did not answer in time" if reason == "timeout" else "dropped the connection"
        return SendResult(
            SendOutcome.UNKNOWN, f"Gmail {what}: the message may have been sent. {CHECK_SENT}"
        )
    if status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
        return SendResult(SendOutcome.NOT_SENT, "Gmail asked us to slow down; trying again later.")
    if 400 <= status < 500:
        return SendResult(SendOutcome.REFUSED, f"Gmail refused the message ({status} {reason}).")
    return SendResult(
        SendOutcome.UNKNOWN,
        f"Gmail answered with an error ({status}) after receiving the message: it may have "
        f"been sent. {CHECK_SENT}",
    )


@dataclass
class SmtpTransport(Transport):
    """Through the practice's mail server: From the practice address, Reply-To the therapist."""

    host: str
    port: int
    from_address: str
    username: str = ""
    password: str = ""
    starttls: bool = True
    timeout: float = 30.0
    name = "smtp"

    def envelope(self, sender: Sender) -> tuple[tuple[str, str], tuple[str, str] | None]:
        return (sender.name, self.from_address), (sender.name, sender.email)

    def deliver(self, sender: Sender, message: EmailMessage, key: str) -> SendResult:
        try:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except OSError:
            return SendResult(SendOutcome.NOT_SENT, "The mail server could not be reached.")
        try:
            try:
                if self.starttls:
                    connection.starttls(context=ssl.create_default_context())
                if self.username:
                    connection.login(self.username, self.password)
            except smtplib.SMTPAuthenticationError:
                return SendResult(SendOutcome.REFUSED, "The mail server refused the login.")
            except (smtplib.SMTPException, OSError):
                return SendResult(SendOutcome.NOT_SENT, "The mail server could not be reached.")
            return self._send(connection, message)
        finally:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def _send(self, connection: smtplib.SMTP, message: EmailMessage) -> SendResult:
        try:
            connection.send_message(message, from_addr=self.from_address)
        except smtplib.SMTPRecipientsRefused:
            return SendResult(SendOutcome.REFUSED, "The mail server refused the recipient.")
        except smtplib.SMTPSenderRefused:
            return SendResult(SendOutcome.REFUSED, "The mail server refused the sender address.")
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                return SendResult(SendOutcome.NOT_SENT, "The mail server asked to try again later.")
            return SendResult(SendOutcome.REFUSED, f"The mail server refused it ({exc.smtp_code}).")
        except (smtplib.SMTPException, OSError):
            return SendResult(
                SendOutcome.UNKNOWN,
                f"The mail server connection was lost while sending: it may have been sent. "
                f"{CHECK_SENT}",
            )
        return SendResult(SendOutcome.SENT, provider_id=str(message["Message-ID"]))


@dataclass
class DevTransport(Transport):
    """Keeps each message in the ``dev_mail`` table; nothing leaves the machine."""

    database: Database
    now: datetime
    name = "dev"

    def deliver(self, sender: Sender, message: EmailMessage, key: str) -> SendResult:
        try:
            with self.database.transaction() as db:
                row = DevMail(
                    therapist_id=sender.therapist_id,
                    outbox_key=key,
                    recipient=str(message["To"]),
                    subject=str(message["Subject"]),
                    raw=message.as_string(policy=SMTP),
                    created_at=self.now,
                )
                db.add(row)
                db.flush()
                return SendResult(SendOutcome.SENT, provider_id=f"dev-{row.id}")
        except IntegrityError:
            # Already kept once (the unique key): the same message is not kept twice.
            with self.database.transaction() as db:
                existing = db.scalar(select(DevMail.id).where(DevMail.outbox_key == key))
            return SendResult(SendOutcome.SENT, provider_id=f"dev-{existing}")


def transport_for(
    config: Mapping[str, Any], database: Database, google: GoogleAccess, now: datetime
) -> Transport:
    """The transport ``MAIL_BACKEND`` chooses, for one dispatch."""
    backend = config.get("MAIL_BACKEND", "gmail")
    if backend == "smtp":
        return SmtpTransport(
            host=config["SMTP_HOST"],
            port=int(config["SMTP_PORT"]),
            from_address=config["SMTP_FROM"],
            username=config.get("SMTP_USERNAME", ""),
            password=config.get("SMTP_PASSWORD", ""),
            starttls=bool(config.get("SMTP_STARTTLS", True)),
        )
    if backend == "dev":
        return DevTransport(database, now)
    return GmailTransport(google)
