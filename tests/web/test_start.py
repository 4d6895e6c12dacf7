"""The first-run checklist: nothing reaches a patient until the therapist switches it on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import OutboxMessage

from .conftest import CSRF, Practice

THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"
LATER_PATIENT = "jo.patient@example.test"
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]


def _rehearsing(practice: Practice) -> int:
    """A therapist who has just connected, as a new sign-up does: follow-ups off."""
    when = practice.now - timedelta(days=3)
    practice.env.sandbox.control("POST", "clock", {"now": when.isoformat()})
    therapist_id = practice.connect(
        THERAPIST, when, scopes=SCOPES, with_calendars=True, follow_ups=False
    )
    practice.env.sandbox.control("POST", "clock", {"now": practice.now.isoformat()})
    return therapist_id


def _to_patients(practice: Practice) -> list[dict[str, Any]]:
    return [m for m in practice.mail() if PATIENT in m["to"] or LATER_PATIENT in m["to"]]


def test_nothing_reaches_a_patient_before_follow_ups_are_switched_on(
    practice: Practice,
) -> None:
    therapist_id = _rehearsing(practice)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    practice.after_hold(timedelta(hours=5))
    assert _to_patients(practice) == []
    assert (
        practice.env.sandbox.control("GET", f"calendar/invitations?email={PATIENT}")["messages"]
        == []
    )
    browser = practice.browser(therapist_id)
    today = browser.get(practice.url + "/dashboard", timeout=10).text
    assert 'id="follow-ups-off"' in today and 'href="/start/"' in today
    # the rehearsal: what would have gone out, word for word, with nothing recorded or sent
    assert 'id="rehearsal"' in today and f"to {PATIENT}" in today
    assert "How are you doing?" in today and "a check-in email to the patient" in today
    with runtime_of(practice.app).database.transaction() as db:
        assert (
            db.scalars(select(OutboxMessage).where(OutboxMessage.recipient_role == "patient")).all()
            == []
        )
    checklist = browser.get(practice.url + "/start/", timeout=10).text
    # the consequence in words, before anything is switched on
    assert "a check-in email to the patient" in checklist
    assert "a new time offered in their calendar" in checklist
    assert 'name="convention"' in checklist and 'id="switch-on"' in checklist


def test_one_click_switches_them_on_for_misses_from_then(practice: Practice) -> None:
    therapist_id = _rehearsing(practice)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    practice.pin(practice.now + timedelta(minutes=10))  # read the checklist, then switch on
    browser = practice.browser(therapist_id)
    switched = browser.post(
        practice.url + "/start/",
        data={"csrf_token": CSRF, "action": "on", "convention": "unmarked_is_missed"},
        timeout=10,
    )
    assert "Follow-ups are on" in switched.text
    assert 'id="follow-ups-off"' not in switched.text
    # a later miss is followed up (after the hold); the earlier one is only offered to you
    start = practice.now + timedelta(hours=1)
    event = practice.env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Jo P",
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(minutes=50)).isoformat(), "timeZone": "UTC"},
            "attendees": [{"email": LATER_PATIENT}],
        },
    )
    marked = practice.now + timedelta(hours=2)
    practice.env.sandbox.control("POST", "clock", {"now": marked.isoformat()})
    practice.env.sandbox.control(
        "PATCH", f"calendar/{THERAPIST}/events/{event['id']}", {"colorId": "11"}
    )
    practice.tick(marked + timedelta(minutes=5))
    practice.tick(marked + timedelta(minutes=5) + DEFAULT_PATIENT_HOLD)
    sent_to = [m["to"] for m in _to_patients(practice)]
    assert sent_to == [[LATER_PATIENT]]
    assert not [to for to in sent_to if PATIENT in to]
    # and they can be switched off again
    off = browser.post(
        practice.url + "/start/", data={"csrf_token": CSRF, "action": "off"}, timeout=10
    )
    assert 'id="switch-on"' in off.text
