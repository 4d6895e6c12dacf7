"""The spread of instants that clock-dependent tests are checked at.

A test that depends on the time of day or the date runs at each of these: every hour of one
day, both daylight-saving changes of Europe/London and of America/New_York (an instant just
after each change, and the next morning), a month end and a year end. The list is fixed, so
a failure names an instant that can be run again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

# Every hour of one day, at minutes past the hour that fall between the demo's half hours.
EVERY_HOUR = tuple(datetime(2026, 12, 1, hour, 40, tzinfo=UTC) for hour in range(24))

DST_CHANGES = (
    # Europe/London: clocks go forward at 01:00 UTC on 29 March 2026, back at 01:00 UTC on
    # 25 October 2026.
    datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    datetime(2026, 3, 30, 8, 10, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    datetime(2026, 10, 26, 8, 10, tzinfo=UTC),
    # America/New_York: forward at 07:00 UTC on 8 March 2026, back at 06:00 UTC on
    # 1 November 2026.
    datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
    datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
)

MONTH_AND_YEAR_ENDS = (
    datetime(2026, 2, 28, 23, 50, tzinfo=UTC),
    datetime(2026, 4, 30, 23, 50, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 50, tzinfo=UTC),
    datetime(2027, 1, 1, 0, 10, tzinfo=UTC),
)

SPREAD = EVERY_HOUR + DST_CHANGES + MONTH_AND_YEAR_ENDS


def spread() -> list[object]:
    """``SPREAD`` as pytest parameters, each named by its instant."""
    return [pytest.param(moment, id=moment.strftime("%Y-%m-%dT%H:%MZ")) for moment in SPREAD]
