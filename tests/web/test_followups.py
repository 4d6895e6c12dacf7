"""The Follow-ups page after real cycles: the decision, the email word for word, the new
time offered, and a later mark that contradicts what was sent."""

from __future__ import annotations

import re
from datetime import timedelta

import requests
from sqlalchemy import select

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import FollowUpAction, OutboxMessage, RescheduleProposal

from .conftest import CSRF, Practice

THERAPIST = "dr.rivera@example.test"
OTHER = "dr.okafor@example.test"
PATIENT = "sam.patient@example.test"


def test_a_miss_shows_its_decision_email_and_proposal(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    practice.after_hold()
    with runtime_of(practice.app).database.transaction() as db:
        message = db.scalars(select(OutboxMessage)).one()
        action = db.scalars(select(FollowUpAction)).first()
        assert action is not None
        explanation, ref = action.explanation, (action.calendar_id, action.event_id)
    assert message.status == "sent"
    browser = practice.browser(therapist_id)
    page = browser.get(practice.url + "/followups/", timeout=10).text
    assert "Counted as <strong>no-show</strong>" in page
    # the stored explanation names the patient by key; the therapist's page by address
    shown = explanation.split(".")[0].replace(f"patient P{action.patient_id}", PATIENT)
    assert shown in page and f"patient P{action.patient_id}" not in page
    assert message.subject.replace("'", "&#39;") in page
    first_line = message.text.splitlines()[0].replace("'", "&#39;")
    assert first_line in page
    assert "sandbox srcdoc=" in page  # the HTML part is shown in a sandboxed frame
    assert "<script" not in page
    assert "New time offered" in page and "proposed" in page
    assert "Changed after we acted" not in page

    # the therapist marks the session attended after the email went out
    marked = browser.post(
        practice.url + "/sessions/mark",
        data={"csrf_token": CSRF, "calendar_id": ref[0], "event_id": ref[1], "outcome": "attended"},
        timeout=10,
    )
    assert marked.status_code == 200
    page = browser.get(practice.url + "/followups/", timeout=10).text
    assert "Changed after we acted" in page and "now marked attended" in page

    # another therapist sees nothing of it, and pages past the end do not exist
    other = practice.browser(practice.therapist(OTHER))
    theirs = other.get(practice.url + "/followups/", timeout=10).text
    assert message.subject.replace("'", "&#39;") not in theirs and 'id="no-followups"' in theirs
    assert browser.get(practice.url + "/followups/?page=9", timeout=10).status_code == 404


def test_a_time_picked_on_the_page_then_declined_shows_as_declined(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    practice.after_hold()
    (checkin,) = practice.mail()
    choose_url = re.search(r"choose another time here:\s+(\S+)", checkin["text"])
    assert choose_url is not None, checkin["text"]
    form = requests.get(choose_url.group(1), timeout=10).text
    start = re.search(r'name="start" value="([^"]+)"', form)
    assert start is not None
    picked = requests.post(choose_url.group(1), data={"start": start.group(1)}, timeout=10)
    assert "See you then" in picked.text
    browser = practice.browser(therapist_id)
    assert "accepted" in browser.get(practice.url + "/followups/", timeout=10).text
    with runtime_of(practice.app).database.transaction() as db:
        (accepted,) = db.scalars(select(RescheduleProposal)).all()
    # The patient says No to the picked time in their calendar.
    practice.env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events/{accepted.event_id}/respond",
        {"email": PATIENT, "response": "declined"},
    )
    later = practice.now + DEFAULT_PATIENT_HOLD + timedelta(minutes=20)
    practice.tick(later)
    # the next time offered waits out its own hold, like any invitation
    practice.pin(later + DEFAULT_PATIENT_HOLD)
    practice.tick(later + DEFAULT_PATIENT_HOLD)
    page = browser.get(practice.url + "/followups/", timeout=10).text
    assert re.search(r"Attempt 1:.*?<strong>declined</strong>", page, re.S)
    assert re.search(r"Attempt 2:.*?<strong>proposed</strong>", page, re.S)
    today = browser.get(practice.url + "/dashboard", timeout=10).text
    assert "accepted, then declined" in today
