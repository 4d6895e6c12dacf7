"""Google Calendar's side of a Workspace add-on: a week view and the add-on's side panel.

The demo and the browser tests use it the way a therapist uses Calendar. An add-on is
installed with its deployment resource (``POST /_sandbox/addon``); the week page lists an
account's events, and clicking one asks the add-on for its card. As Google does, the
sandbox POSTs the event object to the deployment's endpoint with an ID token it signed for
that endpoint (``Authorization: Bearer``) and the user's own ID token (``userIdToken``),
both checkable against the keys it publishes; the answer's cards are drawn as HTML.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, jsonify, render_template, request

from .calendar_listing import ListQuery
from .card_html import answer_cards, card_html
from .errors import GoogleError
from .signing import sandbox_key
from .state import SandboxState, current_state

bp = Blueprint("sandbox_calendar_addon", __name__)

_KEY = "addon"
#: The subject of the add-on's service account in the tokens the sandbox signs for it.
ADDON_SUBJECT = "sandbox-workspace-addons-service"


def _installed(state: SandboxState) -> dict[str, Any] | None:
    with state.lock:
        found = state.extras.get(_KEY)
    return found if isinstance(found, dict) else None


@bp.post("/_sandbox/addon")
def install() -> tuple[Response, int]:
    """Install an add-on for every account: ``deployment`` (the resource gcloud takes) and
    ``client_id`` (the OAuth client the user's ID tokens are issued to)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("deployment"), dict):
        abort(400, description="deployment is required")
    calendar = data["deployment"].get("addOns", {}).get("calendar", {})
    if "eventOpenTrigger" not in calendar or "homepageTrigger" not in calendar:
        abort(400, description="the deployment has no Calendar triggers")
    state = current_state()
    with state.lock:
        state.extras[_KEY] = {
            "deployment": data["deployment"],
            "client_id": str(data.get("client_id") or ""),
        }
    return jsonify({"installed": True}), 201


def _week_start(zone: ZoneInfo, wanted: str | None, now: datetime) -> datetime:
    day = now.astimezone(zone).date()
    if wanted:
        try:
            day = datetime.strptime(wanted, "%Y-%m-%d").date()  # noqa: DTZ007 - a date only
        except ValueError:
            abort(400, description="week must be YYYY-MM-DD")
    monday = day - timedelta(days=day.weekday())
    return datetime.combine(monday, time(0), tzinfo=zone)


@bp.get("/calendar")
def week() -> str:
    """An account's week (``?account=``, the first account by default; ``?week=`` a date)."""
    state = current_state()
    with state.lock:
        accounts = list(state.accounts.values())
    if not accounts:
        abort(404, description="No accounts yet.")
    wanted = request.args.get("account") or accounts[0].email
    account = next((a for a in accounts if a.email == wanted), None)
    if account is None:
        abort(404, description="No such account.")
    zone = ZoneInfo(account.time_zone)
    start = _week_start(zone, request.args.get("week"), state.now())
    end = start + timedelta(days=7)
    listing = state.calendar.list_events(
        account.email,
        account.email,
        ListQuery(single_events=True, order_by="startTime", time_min=start, time_max=end),
        max_results=2500,
    )
    days: list[tuple[str, list[dict[str, str]]]] = []
    for offset in range(7):
        day = (start + timedelta(days=offset)).date()
        days.append((day.strftime("%a %d %b"), []))
    for event in listing.get("items", []):
        if event.get("status") == "cancelled" or "dateTime" not in event.get("start", {}):
            continue
        begins = datetime.fromisoformat(event["start"]["dateTime"]).astimezone(zone)
        index = (begins.date() - start.date()).days
        if 0 <= index < 7:
            days[index][1].append(
                {
                    "id": event["id"],
                    "time": begins.strftime("%H:%M"),
                    "title": str(event.get("summary") or "(no title)"),
                    "color": str(event.get("colorId") or ""),
                }
            )
    return render_template(
        "sandbox/calendar.html",
        account=account,
        accounts=accounts,
        days=days,
        installed=_installed(state) is not None,
        previous=(start - timedelta(days=7)).date().isoformat(),
        following=end.date().isoformat(),
    )


def _event_object(state: SandboxState, account: str, event_id: str) -> dict[str, Any]:
    """The ``calendar`` part of the event object, as ``currentEventAccess: READ`` sends it."""
    try:
        event = state.calendar.get_event(account, account, event_id)
    except GoogleError:
        abort(404, description="No such event.")
    found: dict[str, Any] = {"calendarId": account, "id": event["id"]}
    if event.get("recurringEventId"):
        found["recurringEventId"] = event["recurringEventId"]
    if event.get("organizer"):
        found["organizer"] = {"email": event["organizer"].get("email", "")}
    found["attendees"] = [
        {k: a[k] for k in ("email", "responseStatus", "self", "organizer") if k in a}
        for a in event.get("attendees") or []
    ]
    return found


def _same_service(url: str, deployment: dict[str, Any]) -> bool:
    """Whether ``url`` is one of the add-on's own endpoints (Calendar calls nothing else)."""
    trigger = deployment["addOns"]["calendar"]["homepageTrigger"]["runFunction"]
    mine, theirs = urlsplit(url), urlsplit(trigger)
    return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)


@bp.post("/calendar/panel")
def panel() -> Response:
    """Ask the add-on for its card: a trigger (an event open or not) or a button's action.

    Answers ``{"html", "notification", "status"}`` for the page's script.
    """
    state = current_state()
    installed = _installed(state)
    if installed is None:
        abort(409, description="No add-on is installed.")
    data = request.get_json(silent=True) or {}
    account = str(data.get("account") or "")
    with state.lock:
        person = state.accounts.get(account)
    if person is None:
        abort(404, description="No such account.")
    deployment = installed["deployment"]
    triggers = deployment["addOns"]["calendar"]
    event_id = str(data.get("event_id") or "")
    url = str(data.get("function") or "")
    if not url:
        url = triggers["eventOpenTrigger" if event_id else "homepageTrigger"]["runFunction"]
    if not _same_service(url, deployment):
        abort(400, description="Calendar only calls the add-on's own endpoints.")
    common: dict[str, Any] = {
        "hostApp": "CALENDAR",
        "platform": "WEB",
        "userLocale": "en-GB",
        "timeZone": {"id": person.time_zone, "offset": 0},
    }
    parameters = data.get("parameters")
    if isinstance(parameters, dict) and parameters:
        common["parameters"] = {str(k): str(v) for k, v in parameters.items()}
    body: dict[str, Any] = {
        "commonEventObject": common,
        "authorizationEventObject": {
            "userIdToken": sandbox_key().id_token(
                subject=person.id, audience=installed["client_id"], email=person.email
            ),
        },
    }
    if event_id:
        body["calendar"] = _event_object(state, account, event_id)
    with state.lock:
        state.calls["addon.call"] += 1
    status, answer = _post(url, body, sandbox_key().id_token(subject=ADDON_SUBJECT, audience=url))
    if status != 200 or not isinstance(answer, dict):
        return jsonify(
            {
                "status": status,
                "html": f"<p class='card-error'>The add-on answered {status}.</p>",
                "notification": "",
            }
        )
    cards, note = answer_cards(answer)
    return jsonify(
        {"status": status, "html": "".join(card_html(c) for c in cards), "notification": note}
    )


def _post(url: str, body: dict[str, Any], token: str) -> tuple[int, Any]:
    call = urllib.request.Request(  # noqa: S310 - the installed add-on's own endpoint
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(call, timeout=30) as answer:  # noqa: S310 - as above
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError):
        return 502, None
