"""Notices on Today and on their own page: named, linked, cleared, never dropped."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from calendar_sync.services.notices import notify
from calendar_sync.services.patients.directory import add_patient
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import TherapistNotice

from .conftest import CSRF, Practice

THERAPIST = "dr.rivera@example.test"
OTHER = "dr.okafor@example.test"
PATIENT = "sam.patient@example.test"


def stored(practice: Practice) -> list[TherapistNotice]:
    with runtime_of(practice.app).database.transaction() as db:
        return list(db.scalars(select(TherapistNotice).order_by(TherapistNotice.id)))


def test_a_notice_names_the_patient_links_to_the_follow_up_and_can_be_cleared(
    practice: Practice,
) -> None:
    therapist_id = practice.therapist(THERAPIST)
    with runtime_of(practice.app).database.transaction() as db:
        patient_id = add_patient(db, therapist_id, "Sam Rivera", PATIENT, practice.now).id
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    practice.after_hold()
    (checkin,) = practice.mail()
    contact = re.search(r"ask me to get in touch here:\s+(\S+)", checkin["text"])
    assert contact is not None
    browser = practice.browser(therapist_id)
    assert browser.post(contact.group(1), timeout=10).status_code == 200

    (notice,) = stored(practice)
    # the stored words name nobody; the therapist's own page puts the name back
    assert "Sam" not in notice.text and PATIENT not in notice.text
    today = browser.get(practice.url + "/dashboard", timeout=10).text
    assert f'<a href="/patients/{patient_id}"><strong>Sam Rivera</strong></a>' in today
    assert "asks you to get in touch with them" in today
    follow_up = re.search(r'<a href="(/followups/session\?[^"]+)">See the follow-up</a>', today)
    assert follow_up is not None
    page = browser.get(practice.url + follow_up.group(1).replace("&amp;", "&"), timeout=10)
    assert page.status_code == 200
    assert page.text.count('class="card miss"') == 1 and "asked you to get in touch" in page.text

    # another therapist can neither clear it nor see it
    other = practice.browser(practice.therapist(OTHER))
    refused = other.post(
        f"{practice.url}/notices/{notice.id}/clear", data={"csrf_token": CSRF}, timeout=10
    )
    assert refused.status_code == 404
    assert "Sam Rivera" not in other.get(practice.url + "/notices/", timeout=10).text
    # without the form's token nothing happens
    forged = browser.post(f"{practice.url}/notices/{notice.id}/clear", timeout=10)
    assert forged.status_code == 400
    assert stored(practice)[0].read_at is None

    cleared = browser.post(
        f"{practice.url}/notices/{notice.id}/clear",
        data={"csrf_token": CSRF, "next": "/dashboard"},
        timeout=10,
    )
    assert cleared.status_code == 200 and cleared.url.endswith("/dashboard")
    assert 'id="notices"' not in cleared.text
    assert stored(practice)[0].read_at is not None


def test_past_ten_notices_today_says_how_many_more_and_lists_them_all(
    practice: Practice,
) -> None:
    therapist_id = practice.therapist(THERAPIST)
    with runtime_of(practice.app).database.transaction() as db:
        for number in range(12):
            notify(db, therapist_id, "test", f"Notice number {number}.", practice.now)
    browser = practice.browser(therapist_id)
    today = browser.get(practice.url + "/dashboard", timeout=10).text
    assert today.count("Notice number") == 10 * 2  # the text, and the button's hidden label
    assert "Notice number 11." in today and "Notice number 1." not in today
    assert '<a href="/notices/">and 2 more</a>' in today
    everything = browser.get(practice.url + "/notices/", timeout=10).text
    assert all(f"Notice number {n}." in everything for n in range(12))
    up_to = re.search(r'name="up_to" value="(\d+)"', everything)
    assert up_to is not None
    # one arrives after the page was read: "Clear all" leaves it
    with runtime_of(practice.app).database.transaction() as db:
        notify(db, therapist_id, "test", "A late notice.", practice.now)
    browser.post(
        practice.url + "/notices/clear",
        data={"csrf_token": CSRF, "up_to": up_to.group(1)},
        timeout=10,
    )
    left = [n.text for n in stored(practice) if n.read_at is None]
    assert left == ["A late notice."]
