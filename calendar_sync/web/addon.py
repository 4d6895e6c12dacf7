"""The Google Calendar add-on's endpoints (Workspace add-ons on an HTTP runtime).

Google Calendar POSTs an event object here when the therapist opens the add-on: with no
event open (``/addon/homepage``), with one open (``/addon/event``), or when they press one
of the card's buttons (``/addon/action``). Every request is checked before anything is read:

- ``Authorization: Bearer``: an ID token Google signed for this endpoint (signature against
  the keys under ``GOOGLE_API_ROOT``, audience, issuer, expiry);
- ``authorizationEventObject.userIdToken``: the user's own ID token, whose ``sub`` must be a
  connected therapist's Google account;
- each action's session or message must be that therapist's.

Anything else is refused with 401 and changes nothing. Someone not connected yet who opens
the add-on gets the Connect card instead (their request is Google's, but names nobody here).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from flask import Blueprint, abort, current_app, jsonify, make_response, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..domain.marks import MarkSource
from ..domain.outcomes import Outcome
from ..google.deployments import deployment
from ..google.id_tokens import IdTokenVerifier, InvalidIdToken, verifier_for
from ..services.followup.marks import MARKABLE, record_mark
from ..services.outbox import review as outbox_review
from ..services.pages.calendar_panel import SessionView, day_view, event_view
from ..services.sync.event_store import own_event
from ..services.sync.session_overrides import treat_as_session
from ..storage.models import (
    CalendarEventRow,
    GoogleConnection,
    OutboxMessage,
    Therapist,
)
from . import addon_cards as cards
from . import csrf
from .extensions import current_time, database, runtime

bp = Blueprint("addon", __name__, url_prefix="/addon")
log = logging.getLogger(__name__)

_CHANGES = {
    "send-now": (outbox_review.send_now, "It goes out at the next run."),
    "hold": (outbox_review.hold, "Held: it will not go out until you release it."),
    "release": (outbox_review.release, "Released: it goes out at the next run."),
    "cancel": (outbox_review.cancel, "Cancelled: it will never be sent."),
}


@dataclass(frozen=True)
class Caller:
    """A verified request: the therapist (None when their account is not connected), the
    event object's parameters and the event Calendar has open."""

    therapist_id: int | None
    parameters: Mapping[str, str]
    calendar_id: str
    event_id: str


def _refuse(why: str) -> NoReturn:
    # The reason is logged for the maintainer; the caller learns only that it was refused.
    log.warning("add-on request refused: %s", why)
    abort(make_response(jsonify({"error": "unauthorized"}), 401))


def _verifier() -> IdTokenVerifier:
    return verifier_for(current_app.config["GOOGLE_API_ROOT"])


def _user_audience() -> str:
    configured = current_app.config.get("ADDON_CLIENT_ID") or ""
    if configured:
        return str(configured)
    secrets = json.loads(Path(current_app.config["GOOGLE_CLIENT_SECRETS"]).read_text())
    return str(next(iter(secrets.values()))["client_id"])


def _caller() -> Caller:
    """The verified request, or a 401 (and nothing read or changed)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        _refuse("no Authorization header with Google's signature")
    audience = current_app.config.get("ADDON_AUDIENCE") or (
        current_app.config["PUBLIC_URL"] + request.path
    )
    verifier = _verifier()
    try:
        verifier.verify(token.strip(), audience)
    except InvalidIdToken as exc:
        _refuse(f"Google's signature on the request: {exc}")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        _refuse("no event object")
    authorization = body.get("authorizationEventObject") or {}
    user_token = authorization.get("userIdToken") if isinstance(authorization, dict) else None
    if not isinstance(user_token, str):
        _refuse("no userIdToken")
    try:
        audience = _user_audience()
    except (OSError, ValueError, KeyError, StopIteration, AttributeError):
        _refuse("no OAuth client configured for the userIdToken's audience")
    try:
        claims = verifier.verify(user_token, audience)
    except InvalidIdToken as exc:
        _refuse(f"the userIdToken: {exc}")
    common = body.get("commonEventObject") or {}
    raw = common.get("parameters") if isinstance(common, dict) else None
    parameters = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    event = body.get("calendar") or {}
    if not isinstance(event, dict):
        event = {}
    with database().transaction() as db:
        therapist_id = db.scalar(
            select(Therapist.id)
            .join(GoogleConnection, GoogleConnection.therapist_id == Therapist.id)
            .where(Therapist.google_subject == str(claims["sub"]))
        )
    return Caller(
        therapist_id,
        parameters,
        str(event.get("calendarId") or ""),
        str(event.get("id") or ""),
    )


def _connect() -> Response:
    return jsonify(cards.pushed(cards.connect_card(url_for("auth.connect", _external=True))))


def _action_url() -> str:
    return str(current_app.config["PUBLIC_URL"]) + url_for("addon.action")


@bp.post("/homepage")
@csrf.exempt  # Google's signed ID tokens are the credential; there is no browser session
def homepage() -> Response:
    caller = _caller()
    if caller.therapist_id is None:
        return _connect()
    day = day_view(runtime(), caller.therapist_id, current_time())
    return jsonify(cards.pushed(cards.day_card(day, _action_url())))


@bp.post("/event")
@csrf.exempt  # as above
def event_open() -> Response:
    caller = _caller()
    if caller.therapist_id is None:
        return _connect()
    if not caller.calendar_id or not caller.event_id:
        abort(400, description="No event is open.")
    return jsonify(
        cards.pushed(_event_card(caller.therapist_id, caller.calendar_id, caller.event_id))
    )


def _event_card(therapist_id: int, calendar_id: str, event_id: str) -> cards.Card:
    view = event_view(runtime(), therapist_id, calendar_id, event_id, current_time())
    if isinstance(view, SessionView):
        return cards.session_card(view, _action_url())
    return cards.not_session_card(view, _action_url())


@bp.post("/action")
@csrf.exempt  # as above
def action() -> Response:
    caller = _caller()
    if caller.therapist_id is None:
        _refuse("action from an account that is not connected")
    therapist_id = caller.therapist_id
    wanted = caller.parameters
    do = wanted.get("do", "")
    if do == "mark":
        note = _mark(therapist_id, wanted)
    elif do == "outbox":
        note = _outbox(therapist_id, wanted)
    elif do == "treat":
        note = _treat(therapist_id, wanted)
    else:
        abort(400, description="Unknown action.")
    if wanted.get("view") == "event":
        card = _event_card(therapist_id, wanted.get("calendar_id", ""), wanted.get("event_id", ""))
    else:
        card = cards.day_card(day_view(runtime(), therapist_id, current_time()), _action_url())
    return jsonify(cards.updated(card, note))


def _own_event(therapist_id: int, calendar_id: str, event_id: str) -> CalendarEventRow | None:
    with database().transaction() as db:
        return own_event(db, therapist_id, calendar_id, event_id)


def _mark(therapist_id: int, wanted: Mapping[str, str]) -> str:
    try:
        outcome = Outcome(wanted.get("outcome", ""))
    except ValueError:
        abort(400, description="Unknown mark.")
    if outcome not in MARKABLE and outcome is not Outcome.UNMARKED:
        abort(400, description="Unknown mark.")
    calendar_id, event_id = wanted.get("calendar_id", ""), wanted.get("event_id", "")
    row = _own_event(therapist_id, calendar_id, event_id)
    if row is None:
        _refuse("mark on a session that is not the therapist's")
    if not row.is_session:
        abort(400, description="This event is not a session.")
    with database().transaction() as db:
        # The dashboard's own call: the same hold, the same undo, recorded as from the calendar.
        record_mark(
            db,
            therapist_id=therapist_id,
            calendar_id=calendar_id,
            event_id=event_id,
            outcome=outcome,
            source=MarkSource.CALENDAR_PANEL,
            now=current_time(),
        )
    if outcome is Outcome.UNMARKED:
        return "Mark cleared."
    return f"Marked: {MARKABLE[outcome]}. Nothing reaches the patient before your hold ends."


def _outbox(therapist_id: int, wanted: Mapping[str, str]) -> str:
    change = wanted.get("change", "")
    message = wanted.get("message_id", "")
    if change not in _CHANGES or not message.isdigit():
        abort(400, description="Unknown change.")
    apply, done = _CHANGES[change]
    with database().transaction() as db:
        owner = db.scalar(
            select(OutboxMessage.therapist_id).where(OutboxMessage.id == int(message))
        )
        if owner != therapist_id:
            _refuse("change to a message that is not the therapist's")
        changed = apply(db, therapist_id, int(message), current_time())
    return done if changed else "Nothing changed: it is being sent, was sent or was cancelled."


def _treat(therapist_id: int, wanted: Mapping[str, str]) -> str:
    calendar_id, event_id = wanted.get("calendar_id", ""), wanted.get("event_id", "")
    series = wanted.get("series", "")
    row = _own_event(therapist_id, calendar_id, event_id)
    if row is None or (series and series != row.recurring_event_id):
        _refuse("override on an event that is not the therapist's")
    with database().transaction() as db:
        treat_as_session(
            db,
            therapist_id,
            calendar_id,
            series or event_id,
            series=bool(series),
            now=current_time(),
        )
    return (
        "Treated as a session from now on." if not series else "The series is treated as sessions."
    )


@bp.get("/deployment.json")
def deployment_resource() -> Response:
    """This service's deployment resource, ready for ``gcloud`` (nothing secret in it)."""
    return jsonify(deployment(current_app.config["PUBLIC_URL"]))
