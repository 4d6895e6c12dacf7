"""Saving settings never reaches into the past by itself (issue: a save re-sent emails)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from calendar_sync.domain.policy import ActionKind, Policy
from calendar_sync.services.accounts.settings import load_settings, save_settings, with_policy
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import FollowUpAction, OutboxMessage

from .conftest import CSRF, Practice
from .test_settings import form_of

THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"
OTHER_PATIENT = "jo.patient@example.test"


def _patient_mail(practice: Practice) -> list[dict[str, Any]]:
    return [m for m in practice.mail() if PATIENT in m["to"] or OTHER_PATIENT in m["to"]]


def _actions(practice: Practice) -> list[tuple[str, str, str]]:
    with runtime_of(practice.app).database.transaction() as db:
        return [
            (a.kind, a.status, a.explanation)
            for a in db.scalars(select(FollowUpAction).order_by(FollowUpAction.id))
        ]


def test_ticking_a_question_does_not_write_again_about_earlier_misses(
    practice: Practice,
) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    practice.after_hold()
    assert len(_patient_mail(practice)) == 1
    before = _actions(practice)
    browser = practice.browser(therapist_id)
    data = form_of(browser.get(practice.url + "/settings/", timeout=10).text)
    data["csrf_token"] = CSRF
    data["step1_barrier_survey"] = "on"  # "what got in the way" for the first miss too
    saved = browser.post(practice.url + "/settings/", data=data, timeout=10)
    assert "Settings saved." in saved.text
    for hours in (1, 5, 30):
        practice.tick(practice.now + timedelta(hours=hours))
    # no second email, no late follow-ups for old misses, and the decision keeps its words
    assert len(_patient_mail(practice)) == 1
    assert _actions(practice) == before
    page = browser.get(practice.url + "/dashboard", timeout=10).text
    assert "Late follow-ups waiting for you" not in page


def _alerts_only(practice: Practice, therapist_id: int) -> None:
    """A policy where the first miss only alerts the therapist (nothing to the patient)."""
    with runtime_of(practice.app).database.transaction() as db:
        settings = load_settings(db, therapist_id)
        ladder = (frozenset({ActionKind.ALERT_THERAPIST_MISS}), *Policy().ladder[1:])
        policy = settings.policy.__class__(**{**settings.policy.__dict__, "ladder": ladder})
        save_settings(
            db, therapist_id, with_policy(settings, policy), practice.now - timedelta(days=9)
        )


def test_a_change_that_would_write_about_earlier_misses_asks_first(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    _alerts_only(practice, therapist_id)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.session(THERAPIST, OTHER_PATIENT, practice.now - timedelta(days=1, hours=2))
    practice.tick()
    assert _patient_mail(practice) == []
    practice.pin(practice.now + timedelta(minutes=10))  # the therapist saves a little later
    browser = practice.browser(therapist_id)
    data = form_of(browser.get(practice.url + "/settings/", timeout=10).text)
    data["csrf_token"] = CSRF
    data["step1_email_checkin"] = "on"  # now the first miss gets a check-in
    asked = browser.post(practice.url + "/settings/", data=data, timeout=10)
    assert "this would send 2 emails to 2 patients" in asked.text
    assert PATIENT in asked.text and OTHER_PATIENT in asked.text
    with runtime_of(practice.app).database.transaction() as db:
        # nothing was saved yet
        assert ActionKind.EMAIL_CHECKIN not in load_settings(db, therapist_id).policy.ladder[0]
    # "from now on": saved, and the earlier misses get nothing
    forward = browser.post(
        practice.url + "/settings/", data={**data, "reach_back": "no"}, timeout=10
    )
    assert "Settings saved." in forward.text
    practice.tick(practice.now + timedelta(minutes=15))
    practice.tick(practice.now + timedelta(hours=3))
    assert _patient_mail(practice) == []
    with runtime_of(practice.app).database.transaction() as db:
        assert (
            db.scalars(select(OutboxMessage).where(OutboxMessage.recipient_role == "patient")).all()
            == []
        )


def test_confirming_acts_on_the_earlier_misses_after_the_hold(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    _alerts_only(practice, therapist_id)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    practice.pin(practice.now + timedelta(minutes=10))
    browser = practice.browser(therapist_id)
    data = form_of(browser.get(practice.url + "/settings/", timeout=10).text)
    data.update(csrf_token=CSRF, step1_email_checkin="on", reach_back="yes")
    assert (
        "Settings saved." in browser.post(practice.url + "/settings/", data=data, timeout=10).text
    )
    practice.tick(practice.now + timedelta(minutes=11))
    assert _patient_mail(practice) == []  # held first, like everything
    practice.after_hold(timedelta(minutes=11))
    assert len(_patient_mail(practice)) == 1
