"""The one way a message is put together, whichever transport carries it."""

from __future__ import annotations

import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from ..domain.addresses import plain_address
from .templates import RenderedEmail

# Characters allowed in a Message-ID's left part besides letters and digits (kept tight).
_NOT_ATOM = re.compile(r"[^A-Za-z0-9_-]+")


def message_id(key: str, domain: str) -> str:
    """The Message-ID for the outbox message ``key``: the same for every copy of it.

    A duplicate delivery, should one ever happen, carries the same id, so a mail client (or
    a person reading headers) can tell it is the same message, and which outbox row sent it.
    Outbox keys hold no personal data (session ids are hashed), so they may appear here.
    """
    left = _NOT_ATOM.sub(".", key).strip(".") or "message"
    return f"<{left}@{domain}>"


def build_message(
    rendered: RenderedEmail,
    *,
    sender: tuple[str, str],
    to: str,
    key: str,
    now: datetime,
    reply_to: tuple[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message (plain text, then HTML) ready to hand to a transport.

    ``sender`` and ``reply_to`` are (display name, address).

    :raises ValueError: on an address that cannot be written in a header.
    """
    message = EmailMessage(policy=SMTP)
    message["From"] = _address(*sender)
    message["To"] = _address("", to)
    if reply_to is not None:
        message["Reply-To"] = _address(*reply_to)
    # The rendered subject is one line already; never let a newline start another header.
    message["Subject"] = " ".join(rendered.subject.split())
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(key, sender[1].rpartition("@")[2] or "localhost")
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message


def _address(name: str, address: str) -> Address:
    # Raises InvalidAddress (a ValueError) on anything but one plain address: a header
    # built from an odd one may fail only when the message is written out, mid-send.
    username, _, domain = plain_address(address).partition("@")
    return Address(display_name=" ".join(name.split()), username=username, domain=domain)
