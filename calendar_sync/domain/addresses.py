"""What counts as an email address the service may write to.

One plain address, ``local@domain``, in the common dot-atom form: no display name, no list,
no quoted local part, no comments, nothing a header could be split on. Anything else is
refused where it enters (the patient form, events from Google), so the outbox never holds a
message it cannot send. Unusual but valid forms (quoted local parts, address literals) are
refused too: they are rare for patients, and refusing them costs one plain-words message.
"""

from __future__ import annotations

import re

# RFC 5322 atext, in dot-separated atoms; the domain: letters, digits and inner hyphens.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class InvalidAddress(ValueError):
    """Not one plain email address; the message says why, in plain words."""


def plain_address(text: str) -> str:
    """``text`` without surrounding spaces, if it is one plain email address.

    :raises InvalidAddress: for several addresses, a name with an address, spaces or odd
        characters, or a domain without a dot.
    """
    address = text.strip()
    if not address:
        raise InvalidAddress("the email address is empty")
    if any(mark in address for mark in ",;") or len(address.split()) > 1:
        raise InvalidAddress("give one email address only")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress("an email address looks like name@example.org")
    if len(address) > 254 or len(local) > 64:
        raise InvalidAddress("the email address is too long")
    if not _LOCAL.fullmatch(local):
        raise InvalidAddress("the part before the @ has characters an email address cannot use")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidAddress("the part after the @ is not a domain such as example.org")
    return address


def is_plain_address(text: str | None) -> bool:
    """Whether ``text`` is one plain email address (see :func:`plain_address`)."""
    if text is None:
        return False
    try:
        plain_address(text)
    except InvalidAddress:
        return False
    return True
