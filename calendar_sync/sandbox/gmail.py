"""Gmail v1, the part the app uses: send a message, read the profile."""

from __future__ import annotations

import base64
import binascii
import secrets
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, formataddr, getaddresses, make_msgid, parseaddr
from typing import Any

from flask import Blueprint, Response, g, jsonify

from .api import google_method
from .errors import GoogleError
from .state import SandboxState, SentMessage, current_state

bp = Blueprint("sandbox_gmail", __name__, url_prefix="/gmail/v1/users/<userId>")


def _check_user(state: SandboxState, user_id: str, account: str) -> None:
    """``userId`` must be ``me`` or the authenticated account: no delegation here."""
    if user_id == "me" or user_id.lower() == account.lower():
        return
    raise GoogleError(403, "forbidden", f"Delegation denied for {user_id}")


def _invalid(message: str) -> GoogleError:
    return GoogleError(400, "invalidArgument", message)


def _decode_raw(raw: str) -> bytes:
    padded = raw + "=" * (-len(raw) % 4)
    try:
        return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        raise GoogleError(400, "invalid", "Invalid value for ByteString: raw") from None


def _recipients(message: EmailMessage, header: str) -> list[str]:
    values = message.get_all(header, [])
    if not values:
        return []
    addresses = [address for _, address in getaddresses([str(v) for v in values])]
    # An address without a domain (or an unparsable header) is what Gmail calls invalid.
    if not addresses or any(
        "@" not in a or a.startswith("@") or a.endswith("@") for a in addresses
    ):
        raise _invalid(f"Invalid {header} header")
    return addresses


def _body_part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


@bp.post("/messages/send")
@google_method("gmail.users.messages.send")
def send(account: str, userId: str) -> Response:
    """Send ``raw`` as the authenticated account; the copy is kept with the SENT label."""
    state = current_state()
    _check_user(state, userId, account)
    body: dict[str, Any] = g.body
    parsed = BytesParser(policy=policy.default).parsebytes(_decode_raw(body["raw"]))
    assert isinstance(parsed, EmailMessage)  # guaranteed by policy.default
    if not parsed.keys():
        raise _invalid("Invalid raw message: no headers")
    to = _recipients(parsed, "To")
    cc = _recipients(parsed, "Cc")
    bcc = _recipients(parsed, "Bcc")
    if not (to or cc or bcc):
        raise _invalid("Recipient address required")
    person = state.accounts[account]
    # Gmail sends as the authenticated user whatever From says (no send-as aliases here),
    # keeping a display name the app chose.
    name, _ = parseaddr(str(parsed.get("From", "")))
    del parsed["From"]
    parsed["From"] = formataddr((name or person.name, person.email))
    now = state.now()
    if "Date" not in parsed:
        parsed["Date"] = format_datetime(now)
    if "Message-ID" not in parsed:
        parsed["Message-ID"] = make_msgid(domain="mail.sandbox.example.test")
    final = parsed.as_bytes()
    with state.lock:
        message_id = secrets.token_hex(8)
        own_threads = {m.thread_id for m in state.sent if m.account == account}
        wanted_thread = body.get("threadId")
        thread_id = wanted_thread if wanted_thread in own_threads else message_id
        state.sent.append(
            SentMessage(
                id=message_id,
                thread_id=thread_id,
                account=account,
                label_ids=["SENT"],
                raw=base64.urlsafe_b64encode(final).decode("ascii"),
                sender=str(parsed["From"]),
                to=to,
                cc=cc,
                bcc=bcc,
                subject=str(parsed.get("Subject", "")),
                text=_body_part(parsed, "plain"),
                html=_body_part(parsed, "html"),
                headers=[(k, str(v)) for k, v in parsed.items()],
                sent_at=now,
            )
        )
        state.next_history_id()
    return jsonify({"id": message_id, "threadId": thread_id, "labelIds": ["SENT"]})


@bp.get("/profile")
@google_method("gmail.users.getProfile")
def get_profile(account: str, userId: str) -> Response:
    state = current_state()
    _check_user(state, userId, account)
    with state.lock:
        mine = [m for m in state.sent if m.account == account]
        return jsonify(
            {
                "emailAddress": account,
                "messagesTotal": len(mine),
                "threadsTotal": len({m.thread_id for m in mine}),
                "historyId": str(state.history_id),
            }
        )
