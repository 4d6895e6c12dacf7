"""One-click mark links from the reminder email: each works once and names nothing."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import requests
from sqlalchemy import select

from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import MarkLink, SessionMark, Therapist

from .conftest import CSRF, Practice

THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"


def reminder_links(practice: Practice) -> dict[str, str]:
    """The links of the reminder to mark the session of three hours ago, by outcome."""
    practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(hours=3), color=None)
    practice.tick()
    reminders = [m for m in practice.mail() if m["to"] == [THERAPIST]]
    assert len(reminders) == 1, practice.mail()
    text = reminders[0]["text"]
    links = {
        name: re.search(rf"{label}:\s+(\S+/m/\S+)", text)
        for name, label in (("attended", "Attended"), ("no_show", "No-show"))
    }
    assert all(links.values()), text
    return {name: found.group(1) for name, found in links.items() if found}


def marks(practice: Practice) -> list[str]:
    with runtime_of(practice.app).database.transaction() as db:
        rows = db.scalars(select(SessionMark).order_by(SessionMark.id))
        return [f"{row.source}:{row.outcome}" for row in rows]


def test_a_mark_link_works_once(practice: Practice) -> None:
    links = reminder_links(practice)
    confirm = requests.get(links["no_show"], timeout=10)
    assert confirm.status_code == 200 and "Mark as No-show" in confirm.text
    assert confirm.headers["Cache-Control"] == "no-store"
    done = requests.post(links["no_show"], timeout=10)
    assert done.status_code == 200 and "Marked: No-show" in done.text
    # The same click again (a second tab, a forwarded email) changes nothing.
    for replay in (requests.get, requests.post):
        answer = replay(links["no_show"], timeout=10)
        assert answer.status_code == 410
        assert "already marked from this email" in answer.text
    assert marks(practice) == ["link:no_show"]


def test_a_replayed_link_cannot_override_a_later_correction(practice: Practice) -> None:
    links = reminder_links(practice)
    assert requests.post(links["no_show"], timeout=10).status_code == 200
    # The therapist corrects the mark on the dashboard.
    with runtime_of(practice.app).database.transaction() as db:
        link = db.scalars(select(MarkLink)).first()
        assert link is not None
        calendar_id, event_id = link.calendar_id, link.event_id
    browser = practice.browser(practice_id(practice))
    corrected = browser.post(
        practice.url + "/sessions/mark",
        data={
            "csrf_token": CSRF,
            "outcome": "attended",
            "calendar_id": calendar_id,
            "event_id": event_id,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert corrected.status_code == 302
    # Neither the used link nor its sibling from the same email marks again.
    assert requests.post(links["no_show"], timeout=10).status_code == 410
    assert requests.post(links["attended"], timeout=10).status_code == 410
    assert marks(practice) == ["link:no_show", "dashboard:attended"]


def practice_id(practice: Practice) -> int:
    with runtime_of(practice.app).database.transaction() as db:
        return int(db.scalars(select(Therapist.id)).one())


def test_a_mark_link_carries_only_an_opaque_id(practice: Practice) -> None:
    links = reminder_links(practice)
    token = links["no_show"].rsplit("/m/", 1)[1]
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    with runtime_of(practice.app).database.transaction() as db:
        ids = set(db.scalars(select(MarkLink.id)))
        event_ids = set(db.scalars(select(MarkLink.event_id)))
    assert json.loads(decoded) in ids
    assert THERAPIST not in decoded and not any(e in decoded for e in event_ids)
    assert "no_show" not in decoded


def test_an_expired_or_altered_mark_link_does_nothing(practice: Practice) -> None:
    links = reminder_links(practice)
    runtime = runtime_of(practice.app)
    runtime.clock = lambda: practice.now + timedelta(days=8)
    assert requests.post(links["no_show"], timeout=10).status_code == 410
    runtime.clock = lambda: practice.now
    altered = links["no_show"][:-2] + ("AA" if not links["no_show"].endswith("AA") else "BB")
    assert requests.post(altered, timeout=10).status_code == 400
    assert marks(practice) == []
