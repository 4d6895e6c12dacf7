"""Plain-words explanations and the dry-run rendering."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendar_sync.domain.decide import decide
from calendar_sync.domain.explain import duration_words, ordinal, render_dry_run
from calendar_sync.domain.patients import Patient
from calendar_sync.domain.policy import Policy
from calendar_sync.domain.sessions import Session
from calendar_sync.domain.times import format_local

TOKYO = ZoneInfo("Asia/Tokyo")
LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (timedelta(days=90), "90 days"),
        (timedelta(days=3), "3 days"),
        (timedelta(hours=20), "20 hours"),
        (timedelta(hours=24), "24 hours"),
        (timedelta(hours=23, minutes=30), "23.5 hours"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=45), "45 minutes"),
    ],
)
def test_duration_words(span: timedelta, words: str) -> None:
    assert duration_words(span) == words


def test_ordinals() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11)] == ["1st", "2nd", "3rd", "4th", "11th"]


def test_format_local_uses_the_therapists_zone_and_no_locale() -> None:
    instant = datetime(2025, 3, 31, 8, 0, tzinfo=ZoneInfo("UTC"))
    assert format_local(instant, LONDON) == "Mon 31 Mar 2025 09:00 (Europe/London)"
    assert format_local(instant, TOKYO) == "Mon 31 Mar 2025 17:00 (Asia/Tokyo)"


def test_dry_run_lists_each_decision_without_personal_data() -> None:
    start = datetime(2025, 7, 7, 18, 0, tzinfo=TOKYO)
    sessions = [
        Session(
            f"e{i}",
            "therapist@example.test",
            "P-42",
            start + timedelta(days=7 * i),
            start + timedelta(days=7 * i, minutes=50),
            TOKYO,
        )
        for i in range(2)
    ]
    decisions = decide(
        sessions,
        [],
        {"P-42": Patient("P-42")},
        Policy(),
        start - timedelta(days=1),
        start + timedelta(days=7, hours=21),
        therapist_id=1,
    )
    text = render_dry_run(decisions)
    lines = text.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("- Session Mon 7 Jul 2025 18:00 (Asia/Tokyo), patient P-42:")
    assert "wait for your approval instead: check-in email to the patient; offer" in lines[0]
    assert "2nd miss in the last 90 days" in lines[1]
    assert "Now: check-in email to the patient; cancellation-policy reminder" in lines[1]
    assert "therapist@example.test" not in text
    assert render_dry_run([]) == "Nothing to do."
