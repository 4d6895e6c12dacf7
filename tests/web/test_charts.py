from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from calendar_sync.domain.outcomes import Outcome
from calendar_sync.services.pages.patients import SessionPoint
from calendar_sync.web.charts import attendance_svg

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=90)


def point(day: int, outcome: Outcome) -> SessionPoint:
    return SessionPoint(START + timedelta(days=day, hours=10), outcome, False, "c", f"e{day}")


def test_each_outcome_has_its_own_shape_and_a_summary() -> None:
    svg = attendance_svg(
        [point(3, Outcome.ATTENDED), point(10, Outcome.NO_SHOW), point(17, Outcome.LATE_CANCEL)],
        start=START,
        end=END,
        zone=ZoneInfo("Europe/London"),
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "Sessions over time: 1 attended, 1 no-show, 1 late cancel" in svg
    # attended: filled circle; no-show: a cross drawn with a stroke; late cancel: a triangle
    assert svg.count('fill="#2f6b5e"') == 2  # the session and the legend
    assert svg.count('stroke="#b3261e"') == 2
    assert "<script" not in svg
    assert ">Jan<" in svg and ">Feb<" in svg and ">Mar<" in svg


def test_points_outside_the_window_are_left_out_and_times_are_local() -> None:
    svg = attendance_svg(
        [point(-5, Outcome.NO_SHOW), point(40, Outcome.ATTENDED)],
        start=START,
        end=END,
        zone=ZoneInfo("America/New_York"),
    )
    assert "1 attended" in svg and "no-show:" not in svg.split("</title>", 1)[1].split("<text")[0]
    assert "10 Feb 2026 05:00: attended" in svg


def test_no_sessions() -> None:
    svg = attendance_svg([], start=START, end=END, zone=ZoneInfo("UTC"))
    assert "Sessions over time: no sessions" in svg
