"""The development mailbox: kept messages shown to their therapist only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import DevMail

from .conftest import Practice

THERAPIST = "dr.rivera@example.test"
OTHER = "dr.okafor@example.test"
PATIENT = "sam.patient@example.test"


def test_kept_messages_are_shown_to_their_therapist(practice: Practice) -> None:
    practice.app.config["MAIL_BACKEND"] = "dev"
    therapist_id = practice.therapist(THERAPIST)
    other_id = practice.therapist(OTHER)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    practice.after_hold()
    assert practice.mail() == []  # nothing left the machine
    with runtime_of(practice.app).database.transaction() as db:
        (kept,) = db.scalars(select(DevMail)).all()
        subject = kept.subject
    page = practice.browser(therapist_id).get(practice.url + "/mailbox", timeout=10).text
    assert subject.replace("'", "&#39;") in page and f"To {PATIENT}" in page
    assert "Mailbox</a>" in page
    other = practice.browser(other_id).get(practice.url + "/mailbox", timeout=10).text
    assert 'id="mailbox-empty"' in other and PATIENT not in other


def test_the_mailbox_is_absent_with_a_real_backend(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    answer = practice.browser(therapist_id).get(practice.url + "/mailbox", timeout=10)
    assert answer.status_code == 404
