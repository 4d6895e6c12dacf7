"""Dates and times as people read them: one helper each, the same in every locale and zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from calendar_sync.domain.times import (
    format_local,
    month_label,
    short_day,
    short_when,
    when_words,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
ROOT = Path(__file__).resolve().parents[2]


def test_each_style_on_the_therapists_clock() -> None:
    instant = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert when_words(instant, LONDON) == "Tuesday 10 March at 10:00"
    assert short_when(instant, LONDON) == "Tue 10 Mar 2026 10:00"
    assert short_day(instant, LONDON) == "10 Mar 2026"
    assert month_label(instant, LONDON) == "Mar"
    assert format_local(instant, LONDON) == "Tue 10 Mar 2026 10:00 (Europe/London)"
    # New York is already on summer time (8 March 2026), London not yet
    assert short_when(instant, NEW_YORK) == "Tue 10 Mar 2026 06:00"


def test_the_day_is_the_day_on_the_therapists_calendar() -> None:
    # 23:30 on 31 December in New York is already 1 January in UTC
    instant = datetime(2027, 1, 1, 4, 30, tzinfo=UTC)
    assert short_day(instant, NEW_YORK) == "31 Dec 2026"
    assert short_day(instant, LONDON) == "1 Jan 2027"
    assert when_words(instant, NEW_YORK) == "Thursday 31 December at 23:30"


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001  # hypothesis wants naive bounds
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.sampled_from([LONDON, NEW_YORK, ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Chatham")]),
)
def test_every_style_agrees_with_the_local_clock(instant: datetime, zone: ZoneInfo) -> None:
    local = instant.astimezone(zone)
    assert short_when(instant, zone).endswith(f"{local:%H:%M}")
    assert short_day(instant, zone) in short_when(instant, zone)
    assert when_words(instant, zone).endswith(f"at {local:%H:%M}")
    assert f" {local.day} " in when_words(instant, zone)


def test_no_page_formats_a_date_by_itself() -> None:
    # Pages use the filters (when, day, words); a strftime in a template would bring back
    # the formats these replaced, and the machine's locale with them. The sandbox's pages
    # stand in for Google's and keep their own machine-like times.
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        if "sandbox" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"strftime|\.astimezone\(", line)
    ]
    assert found == []
