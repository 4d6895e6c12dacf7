"""Google Calendar v3 over HTTP: the routes the real client library calls.

Each view is wrapped by ``google_method`` (auth, scopes, discovery validation); the rules
themselves live in ``CalendarStore``. Control endpoints for tests are in
``calendar_control`` and hang below this blueprint.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from .api import google_method
from .calendar_control import RAW_ITEMS_KEY
from .calendar_control import bp as control_bp
from .calendar_events import parse_timestamp
from .calendar_listing import ListQuery
from .calendar_store import CalendarStore
from .state import current_state

bp = Blueprint("sandbox_calendar", __name__)
bp.register_blueprint(control_bp)

ROOT = "/calendar/v3"


def _store() -> CalendarStore:
    return current_state().calendar


def _params() -> dict[str, Any]:
    params: dict[str, Any] = g.params
    return params


def _body() -> dict[str, Any]:
    body = g.body
    return body if isinstance(body, dict) else {}


def _send_updates() -> str | None:
    params = _params()
    if "sendUpdates" in params:
        return str(params["sendUpdates"])
    # The deprecated boolean still works on Google: true means "all".
    if "sendNotifications" in params:
        return "all" if params["sendNotifications"] else "none"
    return None


def _no_content() -> Response:
    return Response(status=204)


@bp.get(f"{ROOT}/users/me/calendarList")
@google_method("calendar.calendarList.list")
def calendar_list(account: str) -> Response:
    items = _store().calendar_list(account)
    return jsonify({"kind": "calendar#calendarList", "etag": '"1"', "items": items})


@bp.get(f"{ROOT}/users/me/calendarList/<calendarId>")
@google_method("calendar.calendarList.get")
def calendar_list_get(account: str, calendarId: str) -> Response:
    return jsonify(_store().calendar(account, calendarId).list_entry(account))


@bp.get(f"{ROOT}/calendars/<calendarId>")
@google_method("calendar.calendars.get")
def calendars_get(account: str, calendarId: str) -> Response:
    entry = _store().calendar(account, calendarId).list_entry()
    keep = ("etag", "id", "summary", "timeZone")
    return jsonify({"kind": "calendar#calendar", **{k: entry[k] for k in keep}})


def _list_query(params: dict[str, Any]) -> ListQuery:
    def stamp(name: str) -> Any:
        return parse_timestamp(params[name], name) if name in params else None

    return ListQuery(
        single_events=bool(params.get("singleEvents", False)),
        show_deleted=bool(params.get("showDeleted", False)),
        order_by=params.get("orderBy"),
        time_min=stamp("timeMin"),
        time_max=stamp("timeMax"),
        updated_min=stamp("updatedMin"),
        q=params.get("q"),
        ical_uid=params.get("iCalUID"),
        private_properties=list(params.get("privateExtendedProperty") or []),
        shared_properties=list(params.get("sharedExtendedProperty") or []),
    )


@bp.get(f"{ROOT}/calendars/<calendarId>/events")
@google_method("calendar.events.list")
def events_list(account: str, calendarId: str) -> Response:
    params = _params()
    result = _store().list_events(
        account,
        calendarId,
        _list_query(params),
        sync_token=params.get("syncToken"),
        page_token=params.get("pageToken"),
        max_results=params.get("maxResults"),
        given=frozenset(params),
        time_zone=params.get("timeZone"),
    )
    # Items a test asked Google to send as they are, however malformed (calendar_control).
    extra = current_state().extras.get(RAW_ITEMS_KEY, {}).get(calendarId)
    if extra and "pageToken" not in params:
        result["items"] = [*copy.deepcopy(extra), *result["items"]]
    return jsonify(result)


@bp.post(f"{ROOT}/calendars/<calendarId>/events")
@google_method("calendar.events.insert")
def events_insert(account: str, calendarId: str) -> Response:
    return jsonify(_store().insert_event(account, calendarId, _body(), _send_updates()))


@bp.get(f"{ROOT}/calendars/<calendarId>/events/<eventId>")
@google_method("calendar.events.get")
def events_get(account: str, calendarId: str, eventId: str) -> Response:
    event = _store().get_event(account, calendarId, eventId)
    if request.headers.get("If-None-Match") == event["etag"]:
        return Response(status=304)
    return jsonify(event)


def _change(account: str, calendar_id: str, event_id: str, *, replace: bool) -> Response:
    event = _store().change_event(
        account,
        calendar_id,
        event_id,
        _body(),
        replace=replace,
        send_updates=_send_updates(),
        if_match=request.headers.get("If-Match"),
    )
    return jsonify(event)


@bp.patch(f"{ROOT}/calendars/<calendarId>/events/<eventId>")
@google_method("calendar.events.patch")
def events_patch(account: str, calendarId: str, eventId: str) -> Response:
    return _change(account, calendarId, eventId, replace=False)


@bp.put(f"{ROOT}/calendars/<calendarId>/events/<eventId>")
@google_method("calendar.events.update")
def events_update(account: str, calendarId: str, eventId: str) -> Response:
    return _change(account, calendarId, eventId, replace=True)


@bp.delete(f"{ROOT}/calendars/<calendarId>/events/<eventId>")
@google_method("calendar.events.delete")
def events_delete(account: str, calendarId: str, eventId: str) -> Response:
    _store().delete_event(
        account, calendarId, eventId, _send_updates(), request.headers.get("If-Match")
    )
    return _no_content()


@bp.get(f"{ROOT}/calendars/<calendarId>/events/<eventId>/instances")
@google_method("calendar.events.instances")
def events_instances(account: str, calendarId: str, eventId: str) -> Response:
    params = _params()
    query = _list_query(params)
    result = _store().instances(
        account,
        calendarId,
        eventId,
        query,
        max_results=params.get("maxResults"),
        page_token=params.get("pageToken"),
    )
    return jsonify(result)


@bp.post(f"{ROOT}/calendars/<calendarId>/events/watch")
@google_method("calendar.events.watch")
def events_watch(account: str, calendarId: str) -> Response:
    store = _store()
    calendar = store.calendar(account, calendarId)
    resource_uri = f"{request.url_root}calendar/v3/calendars/{calendarId}/events?alt=json"
    return jsonify(store.push.watch(account, calendar.id, _body(), resource_uri))


@bp.post(f"{ROOT}/channels/stop")
@google_method("calendar.channels.stop")
def channels_stop(account: str) -> Response:
    _store().push.stop(account, _body())
    return _no_content()


@bp.post(f"{ROOT}/freeBusy")
@google_method("calendar.freebusy.query")
def freebusy_query(account: str) -> Response:
    return jsonify(_store().freebusy(account, _body()))
