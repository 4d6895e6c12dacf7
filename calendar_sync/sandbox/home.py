"""The sandbox's own pages, for people watching the demo: who exists, what was sent, and a
way to answer invitations as the patient would (plain forms, no script).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from .errors import GoogleError
from .state import SandboxState, current_state

bp = Blueprint("sandbox_home", __name__)

_URL = re.compile(r"https?://[^\s<>\"']+")
# Punctuation that ends a sentence rather than a link ("... at http://x/p/abc.").
_TRAILING = ".,;:!?)]"
ANSWERS = {"accepted": "Accept", "declined": "Decline", "tentative": "Maybe"}
_ANSWER_WORDS = {
    "accepted": "accepted",
    "declined": "declined",
    "tentative": "maybe",
    "needsAction": "not answered",
}


def linkify(text: str) -> Markup:
    """``text`` escaped, with every web address made a link (mail is read, links followed)."""
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        parts.append(str(escape(text[position : match.start()])))
        parts.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        position = end
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))  # noqa: S704 - every piece above was escaped


bp.add_app_template_filter(linkify, "linkify")


@dataclass(frozen=True)
class Invitation:
    """One event a guest was invited to, as their inbox and calendar would show it."""

    calendar_id: str
    event_id: str
    title: str
    when: str
    repeats: bool
    status: str
    response: str

    @property
    def answer_words(self) -> str:
        return _ANSWER_WORDS.get(self.response, self.response)

    @property
    def open(self) -> bool:
        return self.status != "cancelled"


def _when(event: dict[str, Any], zone: str) -> tuple[str, str]:
    """The event's start for people (in ``zone``), and a sortable key."""
    start = event.get("start") or {}
    if "dateTime" in start:
        moment = datetime.fromisoformat(start["dateTime"]).astimezone(ZoneInfo(zone))
        return moment.strftime("%a %d %b %Y, %H:%M"), moment.isoformat()
    day = str(start.get("date", ""))
    return day, day


def invitations_by_guest(state: SandboxState) -> dict[str, list[Invitation]]:
    """Every guest's invitations (newest first), from what Google would have emailed them."""
    store = state.calendar
    seen: set[tuple[str, str, str]] = set()
    found: dict[str, list[tuple[str, Invitation]]] = defaultdict(list)
    for message in store.invitations.messages():
        key = (message["to"], message["calendarId"], message["eventId"])
        if key in seen:
            continue
        seen.add(key)
        calendar = store.find(message["calendarId"])
        if calendar is None:
            continue
        try:
            event = store.get_event(calendar.owner, calendar.id, message["eventId"])
        except GoogleError:
            continue
        guest = next(
            (
                a
                for a in event.get("attendees") or []
                if str(a.get("email", "")).lower() == message["to"]
            ),
            None,
        )
        when, order = _when(event, calendar.time_zone)
        found[message["to"]].append(
            (
                order,
                Invitation(
                    calendar_id=calendar.id,
                    event_id=event["id"],
                    title=str(event.get("summary") or "(no title)"),
                    when=when,
                    repeats=bool(event.get("recurrence")),
                    status=str(event.get("status", "confirmed")),
                    response=str((guest or {}).get("responseStatus", "needsAction")),
                ),
            )
        )
    return {
        guest: [invitation for _, invitation in sorted(items, key=lambda i: i[0], reverse=True)]
        for guest, items in sorted(found.items())
    }


@bp.get("/")
def index() -> str:
    state = current_state()
    with state.lock:
        accounts = list(state.accounts.values())
        mail_count = len(state.sent)
    guests = len(invitations_by_guest(state))
    return render_template(
        "sandbox/home.html",
        accounts=accounts,
        mail_count=mail_count,
        guests=guests,
        now=state.now(),
    )


@bp.get("/mail")
def mail() -> str:
    """Every message sent through the sandbox's Gmail, newest first (``?to=`` one address)."""
    state = current_state()
    wanted = (request.args.get("to") or "").lower() or None
    with state.lock:
        everything = list(reversed(state.sent))
    recipients = sorted({address.lower() for m in everything for address in m.to + m.cc})
    messages = [
        m for m in everything if wanted is None or wanted in (a.lower() for a in m.to + m.cc)
    ]
    return render_template(
        "sandbox/mail.html", messages=messages, recipients=recipients, wanted=wanted
    )


@bp.get("/invitations")
def invitations() -> str:
    """Act as the patient: each guest's invitations with Yes / No buttons."""
    return render_template(
        "sandbox/invitations.html",
        guests=invitations_by_guest(current_state()),
        answers=ANSWERS,
    )


@bp.post("/invitations/respond")
def respond() -> Response | tuple[str, int]:
    """A guest answers from the invitations page (the control API's respond, as a form)."""
    form = request.form
    response = form.get("response", "")
    if response not in ANSWERS:
        return render_template(
            "sandbox/error.html", status=400, error="invalid", description="Unknown answer."
        ), 400
    try:
        current_state().calendar.respond(
            form.get("calendar_id", ""), form.get("event_id", ""), form.get("email", ""), response
        )
    except GoogleError as error:
        return render_template(
            "sandbox/error.html", status=error.status, error=error.reason, description=error.message
        ), error.status
    return redirect(url_for("sandbox_home.invitations") + "#answered", code=303)
