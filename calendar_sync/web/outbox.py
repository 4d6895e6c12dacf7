"""The therapist's hand on the outbox: hold, release or cancel a message, and settle one
whose outcome is unknown ("it was sent" / "it was not sent").

Every action is scoped to the signed-in therapist (another therapist's message is not
found), needs the form's CSRF token, and redirects back with a message (POST, redirect, GET).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from werkzeug.wrappers import Response

from ..services.followup import hold
from ..services.outbox import review as outbox_review
from ..storage.models import OutboxMessage
from .auth import login_required, require_therapist
from .extensions import current_time, database

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

Change = Callable[[DbSession, int, int, datetime], bool]

_ACTIONS: dict[str, tuple[Change, str, str]] = {
    "send-now": (
        outbox_review.send_now,
        "It goes out at the next run, with what waits with it.",
        "It could not be sent now: it is already being sent, was sent, or was cancelled.",
    ),
    "hold": (
        outbox_review.hold,
        "Held: it will not go out until you release it.",
        "It could not be held: it is already being sent, was sent, or was cancelled.",
    ),
    "release": (
        outbox_review.release,
        "Released: it goes out at the next run.",
        "It could not be released: it is not held or failed any more.",
    ),
    "cancel": (
        outbox_review.cancel,
        "Cancelled: it will never be sent.",
        "It could not be cancelled: it is being sent or was sent already.",
    ),
    "sent": (
        lambda db, therapist_id, message_id, now: outbox_review.resolve_unknown(
            db, therapist_id, message_id, True, now
        ),
        "Recorded as sent. Nothing more goes out for it.",
        "Nothing changed: its outcome is not unknown any more.",
    ),
    "not-sent": (
        lambda db, therapist_id, message_id, now: outbox_review.resolve_unknown(
            db, therapist_id, message_id, False, now
        ),
        "Recorded as not sent: it goes out at the next run, as you asked.",
        "Nothing changed: its outcome is not unknown any more.",
    ),
}


def back_to(default: str) -> str:
    """Where the form asked to return to, if it is a path on this site; else ``default``."""
    wanted = request.form.get("next", "")
    parts = urlsplit(wanted)
    if wanted.startswith("/") and not wanted.startswith("//") and not parts.netloc:
        return wanted
    return default


@bp.post("/<int:message_id>/<action>")
@login_required
def act(message_id: int, action: str) -> Response:
    therapist = require_therapist()
    if action not in _ACTIONS:
        abort(404)
    change, done, refused = _ACTIONS[action]
    store = database()
    with store.transaction() as db:
        changed = change(db, therapist.id, message_id, current_time())
        if not changed and not _owns(db, therapist.id, message_id):
            abort(404)
    flash(done if changed else refused, "info" if changed else "error")
    return redirect(back_to(url_for("dashboard.index")))


_HELD_ITEMS: dict[tuple[str, str], tuple[Change, str]] = {
    ("invitation", "send-now"): (hold.invitation_now, "The invitation goes at the next run."),
    ("invitation", "hold"): (hold.hold_invitation, "Held: it waits until you send it."),
    ("invitation", "cancel"): (hold.cancel_invitation, "Cancelled: no new time is offered."),
    ("fee", "send-now"): (hold.fee_now, "The fee is recorded at the next run."),
    ("fee", "cancel"): (hold.cancel_fee, "Cancelled: no fee is recorded."),
}


@bp.post("/<kind>/<int:item_id>/<action>")
@login_required
def act_on_held(kind: str, item_id: int, action: str) -> Response:
    """Send now, hold or cancel an invitation or a fee that waits on its own."""
    therapist = require_therapist()
    if (kind, action) not in _HELD_ITEMS:
        abort(404)
    change, done = _HELD_ITEMS[(kind, action)]
    with database().transaction() as db:
        changed = change(db, therapist.id, item_id, current_time())
    if not changed:
        # Not this therapist's, or no longer waiting: the same answer either way.
        abort(404)
    flash(done, "info")
    return redirect(back_to(url_for("dashboard.index")))


def _owns(db: DbSession, therapist_id: int, message_id: int) -> bool:
    found = db.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.id == message_id, OutboxMessage.therapist_id == therapist_id
        )
    )
    return found is not None
