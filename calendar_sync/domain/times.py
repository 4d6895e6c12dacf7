"""Time helpers shared by the domain: aware datetimes only, arithmetic in absolute time.

Python compares and subtracts two datetimes that share one ``tzinfo`` by their wall
clocks, which is wrong across a daylight-saving change (Monday 09:00 minus Sunday 09:00
in Europe/London is "24 hours" even on the night the clocks go forward). Every datetime
that enters the domain is therefore converted to UTC once, here, and only turned back into
the therapist's time zone for display.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def to_utc(value: datetime, name: str) -> datetime:
    """Return ``value`` as a UTC datetime.

    :raises ValueError: if ``value`` is naive; ``name`` says which field it was.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be an aware datetime (with a time zone), got naive {value.isoformat()}"
        )
    return value.astimezone(UTC)


def optional_utc(value: datetime | None, name: str) -> datetime | None:
    """Like :func:`to_utc`, letting ``None`` through."""
    return None if value is None else to_utc(value, name)


def format_local(value: datetime, zone: ZoneInfo) -> str:
    """Format an instant for the therapist, e.g. ``Mon 31 Mar 2025 09:00 (Europe/London)``.

    Day and month names are spelled here rather than by ``strftime`` so the text does not
    depend on the process locale.
    """
    return f"{short_when(value, zone)} ({zone.key})"


# -- dates and times as people read them ---------------------------------------------------
# Every date or time shown to a therapist or patient goes through one of these (the pages
# reach them as the Jinja filters ``when``, ``day`` and ``words``). Names are spelled here
# rather than by ``strftime``, so the text never depends on the machine's locale.


def when_words(moment: datetime, zone: ZoneInfo) -> str:
    """In a sentence: ``Tuesday 10 March at 10:00`` on ``zone``'s clock (emails, notices)."""
    local = moment.astimezone(zone)
    return (
        f"{_DAY_NAMES[local.weekday()]} {local.day} {_MONTH_NAMES[local.month - 1]} "
        f"at {local:%H:%M}"
    )


def short_when(moment: datetime, zone: ZoneInfo) -> str:
    """In a table or a list: ``Tue 10 Mar 2026 10:00`` on ``zone``'s clock."""
    local = moment.astimezone(zone)
    return f"{_DAYS[local.weekday()]} {short_day(local, zone)} {local:%H:%M}"


def short_day(moment: datetime, zone: ZoneInfo) -> str:
    """A day alone: ``10 Mar 2026``, the date on ``zone``'s calendar."""
    local = moment.astimezone(zone)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def month_label(moment: datetime, zone: ZoneInfo) -> str:
    """A month's short name, ``Mar``, for chart axes."""
    return _MONTHS[moment.astimezone(zone).month - 1]
