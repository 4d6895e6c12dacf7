"""Google Meet REST API v2, the part that tells who joined a call: records and participants.

A conference record belongs to a meeting space, and here every space is the Meet link of a
sandbox calendar event (``POST /_sandbox/calendar/<id>/events/<id>/meet``). Tests set up
the calls (``POST /_sandbox/meet/conferences``) with their participants and each one's
stays, and when Google publishes the record (``publishAt``: records come out some minutes
after a call). The views read them like Google's front end, checked against ``meet.v2``.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from .api import google_method
from .calendar_events import format_stamp, parse_timestamp
from .errors import GoogleError
from .state import SandboxState, current_state

bp = Blueprint("sandbox_meet", __name__)

_KINDS = ("signedin", "anonymous", "phone")
_CLAUSE = re.compile(
    r"\s*(?P<field>space\.meeting_code|start_time|end_time)\s*"
    r'(?:(?P<op>>=|<=|=|>|<)\s*"(?P<value>[^"]*)"|(?P<null>IS\s+NULL))\s*',
    re.IGNORECASE,
)
_CODE = re.compile(r"[a-z]{3}-[a-z]{4}-[a-z]{3}")


@dataclass
class Called:
    """One participant of a call: who (by kind) and each of their stays."""

    id: str
    kind: str
    display_name: str
    user: str | None
    stays: list[tuple[datetime, datetime | None]]


@dataclass
class Call:
    """One conference record of a space, shown from ``publish_at`` on."""

    id: str
    code: str
    calendar_id: str
    start: datetime
    end: datetime | None
    publish_at: datetime
    participants: list[Called] = field(default_factory=list)


@dataclass
class MeetStore:
    """Spaces (meeting code -> its event) and their calls."""

    spaces: dict[str, tuple[str, str]] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)


def _store(state: SandboxState) -> MeetStore:
    store = state.extras.get("meet")
    if not isinstance(store, MeetStore):
        store = MeetStore()
        state.extras["meet"] = store
    return store


def new_code() -> str:
    """A meeting code as Meet writes them: ``abc-mnop-xyz``."""
    letters = string.ascii_lowercase
    return "-".join("".join(secrets.choice(letters) for _ in range(n)) for n in (3, 4, 3))


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else format_stamp(value)


# -- control: set up spaces and calls --------------------------------------------------------


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise GoogleError(400, "parseError", "A JSON object body is required.")
    return data


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise GoogleError(400, "required", f"Required: {what}.")
    return parse_timestamp(value, what).astimezone(UTC)


@bp.post("/_sandbox/calendar/<calendarId>/events/<eventId>/meet")
def add_meet_link(calendarId: str, eventId: str) -> tuple[Response, int]:
    """Give an event a Meet link (a series: all its sessions); answers ``{"meetingCode"}``."""
    state = current_state()
    with state.lock:
        code = new_code()
        event = state.calendar.set_meet_link(calendarId, eventId, code)
        _store(state).spaces[code] = (calendarId, eventId)
    return jsonify({"meetingCode": code, "hangoutLink": event["hangoutLink"]}), 201


def _participant(state: SandboxState, raw: Any, index: int) -> Called:
    if not isinstance(raw, dict) or raw.get("kind") not in _KINDS:
        raise GoogleError(400, "invalid", f"participants[{index}].kind must be one of {_KINDS}")
    stays_json = raw.get("stays")
    if not isinstance(stays_json, list) or not stays_json:
        raise GoogleError(400, "invalid", f"participants[{index}].stays must list [start, end]")
    stays: list[tuple[datetime, datetime | None]] = []
    for stay in stays_json:
        if not isinstance(stay, list) or len(stay) != 2:
            raise GoogleError(400, "invalid", "a stay is [start, end or null]")
        start = _time(stay[0], "stay start")
        end = None if stay[1] is None else _time(stay[1], "stay end")
        if end is not None and end < start:
            raise GoogleError(400, "invalid", "a stay ends before it starts")
        stays.append((start, end))
    user = None
    name = str(raw.get("name") or "")
    if raw["kind"] == "signedin":
        account = state.accounts.get(str(raw.get("email", "")).lower())
        if account is None:
            raise GoogleError(400, "invalid", "a signed-in participant needs a sandbox account")
        user, name = f"users/{account.id}", name or account.name
    return Called(secrets.token_hex(8), raw["kind"], name, user, stays)


@bp.post("/_sandbox/meet/conferences")
def add_conference() -> tuple[Response, int]:
    """Record a call in an event's space.

    Body: ``{"meetingCode", "start", "end" (null while it runs), "publishAt" (default: the
    end, or the start of a running call), "participants": [{"kind": "signedin" | "anonymous"
    | "phone", "email" (signed-in), "name", "stays": [[start, end or null], ...]}]}``.
    """
    data = _json()
    state = current_state()
    with state.lock:
        store = _store(state)
        code = str(data.get("meetingCode", ""))
        if code not in store.spaces:
            raise GoogleError(400, "invalid", "meetingCode is not the Meet link of an event")
        start = _time(data.get("start"), "start")
        end = None if data.get("end") is None else _time(data["end"], "end")
        published = data.get("publishAt")
        publish_at = _time(published, "publishAt") if published else (end or start)
        people = data.get("participants") or []
        if not isinstance(people, list):
            raise GoogleError(400, "invalid", "participants must be a list")
        call = Call(
            id=secrets.token_hex(10),
            code=code,
            calendar_id=store.spaces[code][0],
            start=start,
            end=end,
            publish_at=publish_at,
            participants=[_participant(state, p, i) for i, p in enumerate(people)],
        )
        store.calls[call.id] = call
    return jsonify({"name": f"conferenceRecords/{call.id}"}), 201


# -- the API ---------------------------------------------------------------------------------


def _visible(state: SandboxState, account: str) -> list[Call]:
    """Published calls in spaces of events whose calendar ``account`` owns."""
    now = state.now()
    found = []
    for call in _store(state).calls.values():
        if call.publish_at > now:
            continue
        try:
            owner = state.calendar.owner_of(call.calendar_id)
        except GoogleError:
            continue
        if owner.lower() == account.lower():
            found.append(call)
    return found


def _matches(call: Call, clauses: list[tuple[str, str, str | None]]) -> bool:
    for name, op, value in clauses:
        if name == "space.meeting_code":
            if call.code != value:
                return False
            continue
        moment = call.start if name == "start_time" else call.end
        if value is None:
            if moment is not None:
                return False
            continue
        bound = parse_timestamp(value, name)
        if moment is None:
            return False
        ok = {
            ">=": moment >= bound,
            "<=": moment <= bound,
            ">": moment > bound,
            "<": moment < bound,
            "=": moment == bound,
        }[op]
        if not ok:
            return False
    return True


def parse_filter(text: str) -> list[tuple[str, str, str | None]]:
    """``space.meeting_code = "abc-mnop-xyz" AND start_time >= "..."`` as clauses.

    :raises GoogleError: 400 ``invalidArgument`` for anything else, as Meet does.
    """
    clauses: list[tuple[str, str, str | None]] = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        found = _CLAUSE.fullmatch(part)
        if found is None:
            raise GoogleError(400, "invalidArgument", "Invalid filter.")
        name = found["field"].lower()
        if found["null"]:
            if name == "space.meeting_code":
                raise GoogleError(400, "invalidArgument", "Invalid filter.")
            clauses.append((name, "IS", None))
        elif name == "space.meeting_code":
            if found["op"] != "=" or not _CODE.fullmatch(found["value"]):
                raise GoogleError(400, "invalidArgument", "Invalid filter.")
            clauses.append((name, "=", found["value"]))
        else:
            clauses.append((name, found["op"], found["value"]))
    return clauses


def _page(items: list[Any], key: str, size_default: int, size_max: int) -> Response:
    params: dict[str, Any] = g.params
    size = min(int(params.get("pageSize") or size_default), size_max)
    offset = int(params.get("pageToken") or 0) if str(params.get("pageToken", "0")).isdigit() else 0
    body: dict[str, Any] = {}
    if items[offset : offset + size]:
        body[key] = items[offset : offset + size]
    if offset + size < len(items):
        body["nextPageToken"] = str(offset + size)
    return jsonify(body)


@bp.get("/v2/conferenceRecords")
@google_method("meet.conferenceRecords.list")
def list_records(account: str) -> Response:
    state = current_state()
    clauses = parse_filter(str(g.params.get("filter", "")))
    with state.lock:
        calls = [c for c in _visible(state, account) if _matches(c, clauses)]
        calls.sort(key=lambda c: c.start, reverse=True)
        items = [
            {
                "name": f"conferenceRecords/{c.id}",
                "startTime": _stamp(c.start),
                **({"endTime": _stamp(c.end)} if c.end else {}),
                "space": f"spaces/{c.code.replace('-', '')}",
            }
            for c in calls
        ]
    return _page(items, "conferenceRecords", 25, 100)


def _call(state: SandboxState, account: str, parent: str) -> Call:
    record_id = parent.removeprefix("conferenceRecords/")
    for call in _visible(state, account):
        if call.id == record_id:
            return call
    raise GoogleError(404, "notFound", "Requested entity was not found.")


def _participant_json(call: Call, person: Called) -> dict[str, Any]:
    ends = [end for _, end in person.stays]
    body: dict[str, Any] = {
        "name": f"conferenceRecords/{call.id}/participants/{person.id}",
        "earliestStartTime": _stamp(min(start for start, _ in person.stays)),
    }
    if all(end is not None for end in ends):
        body["latestEndTime"] = _stamp(max(end for end in ends if end is not None))
    if person.kind == "signedin":
        body["signedinUser"] = {"user": person.user, "displayName": person.display_name}
    elif person.kind == "anonymous":
        body["anonymousUser"] = {"displayName": person.display_name}
    else:
        body["phoneUser"] = {"displayName": person.display_name}
    return body


@bp.get("/v2/<path:parent>/participants")
@google_method("meet.conferenceRecords.participants.list")
def list_participants(account: str, parent: str) -> Response:
    state = current_state()
    with state.lock:
        call = _call(state, account, parent)
        # Meet lists the latest joiners first.
        people = sorted(call.participants, key=lambda p: min(s for s, _ in p.stays), reverse=True)
        items = [_participant_json(call, p) for p in people]
    return _page(items, "participants", 100, 250)


@bp.get("/v2/<path:parent>/participantSessions")
@google_method("meet.conferenceRecords.participants.participantSessions.list")
def list_participant_sessions(account: str, parent: str) -> Response:
    state = current_state()
    record_part, _, person_id = parent.partition("/participants/")
    with state.lock:
        call = _call(state, account, record_part)
        person = next((p for p in call.participants if p.id == person_id), None)
        if person is None:
            raise GoogleError(404, "notFound", "Requested entity was not found.")
        stays = sorted(person.stays, key=lambda s: s[0], reverse=True)
        items = [
            {
                "name": f"{parent}/participantSessions/{index}",
                "startTime": _stamp(start),
                **({"endTime": _stamp(end)} if end else {}),
            }
            for index, (start, end) in enumerate(stays)
        ]
    return _page(items, "participantSessions", 100, 250)
