"""The Activity page and its CSV: built from what the service keeps, filtered, safe to open."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from calendar_sync.services.notices import notify
from calendar_sync.services.runtime import runtime_of

from .conftest import Practice

THERAPIST = "dr.rivera@example.test"
OTHER = "dr.okafor@example.test"
PATIENT = "sam.patient@example.test"


def test_activity_lists_filters_and_exports(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=1))
    practice.tick()
    practice.after_hold()
    with runtime_of(practice.app).database.transaction() as db:
        notify(db, therapist_id, "test", '=HYPERLINK("http://x.example.test")', practice.now)
    browser = practice.browser(therapist_id)
    page = browser.get(practice.url + "/activity", timeout=10).text
    for words in ("Decided: check-in email to the patient", "Email sent:", "Calendar ", "read"):
        assert words in page, words
    assert "New time" in page
    assert 'href="/patients/fees.csv"' in page and 'id="activity-csv"' in page

    only_emails = browser.get(practice.url + "/activity?kind=email", timeout=10).text
    assert "Email sent:" in only_emails and "Decided:" not in only_emails
    tomorrow = (practice.now + timedelta(days=2)).date().isoformat()
    later = browser.get(practice.url + f"/activity?from={tomorrow}", timeout=10).text
    assert 'id="no-activity"' in later

    rows = list(
        csv.reader(io.StringIO(browser.get(practice.url + "/activity.csv", timeout=10).text))
    )
    assert rows[0] == ["when", "kind", "what", "why"]
    kinds = {row[1] for row in rows[1:]}
    assert {"decision", "email", "sync", "notice"} <= kinds
    notice = next(row for row in rows if row[1] == "notice")
    assert notice[2].startswith("'=")  # a spreadsheet shows it instead of running it
    filtered = list(
        csv.reader(
            io.StringIO(browser.get(practice.url + "/activity.csv?kind=mark", timeout=10).text)
        )
    )
    assert filtered == [["when", "kind", "what", "why"]]

    other = practice.browser(practice.therapist(OTHER))
    theirs = list(
        csv.reader(io.StringIO(other.get(practice.url + "/activity.csv", timeout=10).text))
    )
    assert not [row for row in theirs[1:] if row[1] in ("decision", "email", "notice")]
