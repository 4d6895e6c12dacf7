"""Attendance over time as an SVG drawn on the server: no script, works offline and printed.

Each session is a mark on a time line: a filled circle when attended, a cross when missed,
a triangle when cancelled late, a ring when cancelled in time; shapes as well as colours, so
the chart reads without colour vision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from ..domain.outcomes import Outcome
from ..domain.times import month_label, short_when
from ..services.pages.patients import SessionPoint

WIDTH, HEIGHT = 640, 150
LEFT, RIGHT, TOP, BASE = 24, 16, 20, 96

STYLE = {
    Outcome.ATTENDED: ("#2f6b5e", "attended"),
    Outcome.NO_SHOW: ("#b3261e", "no-show"),
    Outcome.LATE_CANCEL: ("#a15c00", "late cancel"),
    Outcome.CANCELLED_IN_TIME: ("#5b6270", "cancelled in time"),
    Outcome.CLINICIAN_CANCELLED: ("#5b6270", "cancelled by you"),
    Outcome.UNMARKED: ("#5b6270", "not marked"),
}


def _shape(outcome: Outcome, x: float, y: float, colour: str) -> str:
    if outcome is Outcome.ATTENDED:
        return f'<circle cx="{x:.1f}" cy="{y}" r="6" fill="{colour}"/>'
    if outcome is Outcome.NO_SHOW:
        return (
            f'<path d="M{x - 6:.1f} {y - 6}L{x + 6:.1f} {y + 6}M{x - 6:.1f} {y + 6}'
            f'L{x + 6:.1f} {y - 6}" stroke="{colour}" stroke-width="3"/>'
        )
    if outcome is Outcome.LATE_CANCEL:
        return (
            f'<path d="M{x:.1f} {y - 7}L{x + 7:.1f} {y + 6}L{x - 7:.1f} {y + 6}Z" fill="{colour}"/>'
        )
    return f'<circle cx="{x:.1f}" cy="{y}" r="5" fill="none" stroke="{colour}" stroke-width="2"/>'


def attendance_svg(
    points: Sequence[SessionPoint], *, start: datetime, end: datetime, zone: ZoneInfo
) -> str:
    """The chart for sessions between ``start`` and ``end`` (aware datetimes)."""
    span = max((end - start).total_seconds(), 1.0)
    usable = WIDTH - LEFT - RIGHT

    def x_of(moment: datetime) -> float:
        return LEFT + usable * min(max((moment - start).total_seconds() / span, 0.0), 1.0)

    shown = [p for p in points if start <= p.start <= end]
    counts = {o: sum(p.outcome is o for p in shown) for o in STYLE}
    summary = ", ".join(f"{n} {STYLE[o][1]}" for o, n in counts.items() if n) or "no sessions"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="chart-title" class="chart">',
        f'<title id="chart-title">Sessions over time: {escape(summary)}</title>',
        f'<line x1="{LEFT}" y1="{BASE}" x2="{WIDTH - RIGHT}" y2="{BASE}" stroke="#d9d6cf"/>',
    ]
    # A tick at the first of each month, labelled in the therapist's zone.
    local = start.astimezone(zone)
    month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month <= end.astimezone(zone):
        if month >= local:
            tick = x_of(month)
            parts.append(
                f'<line x1="{tick:.1f}" y1="{BASE - 4}" x2="{tick:.1f}" y2="{BASE + 4}" '
                'stroke="#8a8f9c"/>'
                f'<text x="{tick:.1f}" y="{BASE + 18}" font-size="11" text-anchor="middle" '
                f'fill="#4a5468">{month_label(month, zone)}</text>'
            )
        month = (month + timedelta(days=32)).replace(day=1)
    for point in shown:
        colour, words = STYLE[point.outcome]
        y = BASE - 30 if point.outcome is Outcome.ATTENDED else BASE - 55
        parts.append(
            f"<g>{_shape(point.outcome, x_of(point.start), y, colour)}"
            f"<title>{short_when(point.start, zone)}: {escape(words)}"
            f"{' (assumed)' if point.assumed else ''}</title></g>"
        )
    legend_x = LEFT
    for outcome in (
        Outcome.ATTENDED,
        Outcome.NO_SHOW,
        Outcome.LATE_CANCEL,
        Outcome.CANCELLED_IN_TIME,
    ):
        colour, words = STYLE[outcome]
        parts.append(_shape(outcome, legend_x + 6, HEIGHT - 12, colour))
        parts.append(
            f'<text x="{legend_x + 16}" y="{HEIGHT - 8}" font-size="11" fill="#1d2433">'
            f"{escape(words)}</text>"
        )
        legend_x += 30 + 7 * len(words)
    parts.append("</svg>")
    return "".join(parts)
