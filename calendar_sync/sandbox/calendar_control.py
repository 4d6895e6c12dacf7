"""Control endpoints for the calendar part of the sandbox (no auth; tests and the demo).

They act as the people and machinery around a therapist's calendar: a patient answering
an invitation, the inbox that would have received Google's emails, Google expiring sync
tokens, and the push queue.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .errors import GoogleError
from .state import current_state

bp = Blueprint("sandbox_calendar_control", __name__, url_prefix="/_sandbox")

# Where raw items to add to a calendar's listings are kept (``state.extras``).
RAW_ITEMS_KEY = "calendar_raw_items"


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise GoogleError(400, "parseError", "A JSON object body is required.")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise GoogleError(400, "required", f"Required: {key}.")
    return value


@bp.post("/calendar/accounts/<email>/calendars")
def add_calendar(email: str) -> tuple[Response, int]:
    """A secondary calendar for an existing account: {"summary", "timeZone"?, "id"?}."""
    data = _json()
    entry = current_state().calendar.add_calendar(
        email, _text(data, "summary"), str(data.get("timeZone") or "UTC"), data.get("id")
    )
    return jsonify(entry), 201


@bp.post("/calendar/<calendarId>/raw-items")
def raw_items(calendarId: str) -> Response:
    """Items sent as they are at the top of every ``events.list`` answer: {"items": [...]}.

    Nothing checks them: this is Google (or something between) sending what the service
    must survive, such as an event without an id or a time out of range.
    """
    items = _json().get("items")
    if not isinstance(items, list):
        raise GoogleError(400, "required", "Required: items (a list).")
    state = current_state()
    with state.lock:
        state.extras.setdefault(RAW_ITEMS_KEY, {})[calendarId] = items
    return jsonify({"calendarId": calendarId, "count": len(items)})


@bp.post("/calendar/<calendarId>/share")
def share_calendar(calendarId: str) -> Response:
    """The owner shares the calendar with another account: {"email"}."""
    entry = current_state().calendar.share(calendarId, _text(_json(), "email"))
    return jsonify(entry)


@bp.post("/calendar/<calendarId>/events")
def seed_event(calendarId: str) -> tuple[Response, int]:
    """Insert an event as the calendar's owner, validated like ``events.insert``.

    ``?sendUpdates=`` is honoured as on the real endpoint; ``?as=<email>`` inserts it as
    another account the calendar is shared with (who is then its creator). With
    ``"organizer": {"email"}`` naming someone else, the event is their invitation as it
    lands in this calendar.
    """
    store = current_state().calendar
    author = request.args.get("as") or store.owner_of(calendarId)
    body = _json()
    organizer = (body.pop("organizer", None) or {}).get("email")
    event = store.insert_event(
        author, calendarId, body, request.args.get("sendUpdates"), organizer=organizer
    )
    return jsonify(event), 201


@bp.patch("/calendar/<calendarId>/events/<eventId>")
def edit_event(calendarId: str, eventId: str) -> Response:
    """The owner edits an event, as in Google Calendar: validated like ``events.patch``.

    An instance id stores an exception for that instance (a colour or a tag on one session
    of a weekly series). ``?sendUpdates=`` is honoured as on the real endpoint.
    """
    store = current_state().calendar
    owner = store.owner_of(calendarId)
    event = store.change_event(
        owner,
        calendarId,
        eventId,
        _json(),
        replace=False,
        send_updates=request.args.get("sendUpdates"),
    )
    return jsonify(event)


@bp.post("/calendar/<calendarId>/events/<eventId>/respond")
def respond(calendarId: str, eventId: str) -> Response:
    """An attendee answers: {"email", "response": accepted|declined|tentative|needsAction}."""
    data = _json()
    event = current_state().calendar.respond(
        calendarId, eventId, _text(data, "email"), _text(data, "response")
    )
    return jsonify(event)


@bp.get("/calendar/updates")
def updates() -> Response:
    """Every event change with its ``sendUpdates`` and recipients (``?calendarId=``)."""
    log = current_state().calendar.invitations
    return jsonify({"changes": log.changes(request.args.get("calendarId"))})


@bp.get("/calendar/invitations")
def invitations() -> Response:
    """What Google would have emailed (``?email=`` to one attendee)."""
    log = current_state().calendar.invitations
    return jsonify({"messages": log.messages(request.args.get("email"))})


@bp.post("/calendar/<calendarId>/invalidate-sync-tokens")
def invalidate_sync_tokens(calendarId: str) -> Response:
    """Every sync token of the calendar answers 410 from now on."""
    store = current_state().calendar
    store.owner_of(calendarId)
    return jsonify({"invalidated": store.invalidate_sync_tokens(calendarId)})


@bp.get("/calendar/channels")
def channels() -> Response:
    return jsonify({"channels": current_state().calendar.push.channels()})


@bp.get("/calendar/deliveries")
def deliveries() -> Response:
    """Push notifications attempted, with the HTTP status each receiver answered."""
    return jsonify({"deliveries": current_state().calendar.push.deliveries()})


@bp.post("/push/flush")
def flush() -> Response:
    """Wait until queued push notifications were attempted (``{"timeout": seconds}``)."""
    data = request.get_json(silent=True) or {}
    timeout = float(data.get("timeout", 10)) if isinstance(data, dict) else 10.0
    drained = current_state().calendar.push.flush(timeout)
    return jsonify(
        {"drained": drained, "deliveries": len(current_state().calendar.push.deliveries())}
    )
