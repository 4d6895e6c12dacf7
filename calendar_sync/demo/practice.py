"""The demo's fictional practice, and the story of its last three months, as plain data.

Everything is relative to ``now``: the same shape unfolds whatever the day. Nothing here
talks to anything; :mod:`calendar_sync.demo.seed` plays the story through the sandbox and
the service's own code.

Every person is invented and every address is ``@example.test``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from ..domain.policy import DEFAULT_PATIENT_HOLD
from ..domain.unmarked import UnmarkedRules

ZONE = ZoneInfo("Europe/London")
SESSION_LENGTH = timedelta(minutes=50)
# The calendar was connected this long ago; only sessions ending after it are followed up.
CONNECTED_AGO = timedelta(days=91)
# How far the series reach back before the connection (history that is shown, not acted on).
HISTORY_BEFORE_CONNECTION = timedelta(days=14)
FUTURE = timedelta(days=31)
# The story runs a cycle this long after each session that ends in a miss (its decision),
# and another once the hold before anything reaches the patient is over (its email and
# invitation go).
CYCLE_AFTER = timedelta(hours=3)
RELEASED_AFTER = CYCLE_AFTER + DEFAULT_PATIENT_HOLD + timedelta(minutes=5)
# The recent miss ended at least this long ago: both of its cycles ran.
MISS_FOLLOWED_UP = RELEASED_AFTER + timedelta(minutes=5)
# ...and at most this long ago, so the new time offered then still waits for an answer
# (a patient always gets at least a day to answer).
MISS_OFFER_OPEN = timedelta(hours=24)
# Keeps the placed sessions clear of the exact instants where a rule changes its mind.
_MARGIN = timedelta(minutes=5)

THERAPIST_EMAIL = "dr.rivera@example.test"
THERAPIST_NAME = "Dr Alex Rivera"
PRACTICE_NAME = "Riverside Rooms"
# Ofcom keeps 020 7946 0xxx for drama: a London number that reaches nobody.
PRACTICE_PHONE = "020 7946 0321"
TITLE_PATTERN = r"^session\b"


class Happening(Enum):
    """What happens to one session of a series."""

    NO_SHOW_COLOUR = "no-show (Tomato)"
    NO_SHOW_TAG = "no-show ([no-show] in the title)"
    LATE_CANCEL_DECLINE = "late cancel (declined three hours before)"
    LATE_CANCEL_COLOUR = "late cancel (Graphite)"
    CANCEL_IN_TIME = "cancelled in time (declined three days before)"
    UNMARKED = "left unmarked"
    VIDEO_JOINED = "left unmarked; the patient joined the Meet call"
    VIDEO_ALONE = "left unmarked; only the therapist joined the Meet call"


@dataclass(frozen=True)
class DemoPatient:
    """One patient: how they appear in the calendar, and what happened when.

    ``story`` maps an occurrence, counted back from the latest one that has ended
    (0 = the latest), to what happened; every other past session was attended and
    coloured Basil by the therapist that evening.
    """

    name: str
    email: str | None
    every_weeks: int
    story: dict[int, Happening]
    weekday: int = 0
    hour: int = 9
    # "recent-unmarked", "recent-unmarked-2" or "recent-miss": placed relative to now.
    recent: str | None = None
    do_not_email: bool = False
    fee_exempt_reason: str = ""
    accepts_offer: bool = False
    # Sessions by Google Meet: each has a Meet link, and a call record the cycle reads.
    video: bool = False

    @property
    def invited(self) -> bool:
        return self.email is not None

    @property
    def title(self) -> str:
        if not self.invited:
            return f"Session {self.name}"
        first, _, last = self.name.partition(" ")
        return f"{first} {last[:1]}. / Dr Rivera"


H = Happening
PATIENTS: tuple[DemoPatient, ...] = (
    DemoPatient("Sam Okoro", "sam.okoro@example.test", 1, {14: H.NO_SHOW_COLOUR}, 0, 9),
    DemoPatient("Priya Nair", "priya.nair@example.test", 1, {4: H.CANCEL_IN_TIME}, 0, 11),
    DemoPatient(
        "Jordan Blake",
        "jordan.blake@example.test",
        1,
        {9: H.NO_SHOW_COLOUR, 5: H.NO_SHOW_TAG, 1: H.NO_SHOW_COLOUR},
        1,
        10,
    ),
    DemoPatient(
        "Tom Hughes",
        "tom.hughes@example.test",
        1,
        {6: H.LATE_CANCEL_DECLINE, 2: H.NO_SHOW_TAG},
        2,
        14,
    ),
    DemoPatient(
        "Ellie Ward", "ellie.ward@example.test", 1, {3: H.NO_SHOW_COLOUR}, 2, 16, do_not_email=True
    ),
    DemoPatient(
        "Ravi Shah",
        "ravi.shah@example.test",
        1,
        {4: H.NO_SHOW_COLOUR},
        3,
        9,
        fee_exempt_reason="Employer scheme: no missed-session fees",
    ),
    DemoPatient(
        "Grace Adeyemi",
        "grace.adeyemi@example.test",
        2,
        {2: H.LATE_CANCEL_COLOUR},
        3,
        15,
        accepts_offer=True,
    ),
    DemoPatient("JM", None, 1, {}, 4, 10),
    DemoPatient("KT", None, 2, {1: H.NO_SHOW_TAG}, 4, 14),
    DemoPatient(
        "Maya Lindqvist",
        "maya.lindqvist@example.test",
        2,
        {0: H.NO_SHOW_COLOUR},
        recent="recent-miss",
    ),
    DemoPatient(
        "Leo Martins", "leo.martins@example.test", 1, {0: H.UNMARKED}, recent="recent-unmarked"
    ),
    DemoPatient(
        "Hannah Cho", "hannah.cho@example.test", 1, {0: H.UNMARKED}, recent="recent-unmarked-2"
    ),
    DemoPatient(
        "Noor Haddad", "noor.haddad@example.test", 1, {0: H.VIDEO_JOINED}, 1, 16, video=True
    ),
    DemoPatient(
        "Felix Brandt", "felix.brandt@example.test", 1, {0: H.VIDEO_ALONE}, 4, 16, video=True
    ),
)
#: Video sessions whose call the story has the service read (the latest few of each series).
VIDEO_READ = 3


@dataclass(frozen=True)
class Series:
    """A patient's recurring series: its first start and how many sessions it holds."""

    patient: DemoPatient
    first_start: datetime
    count: int

    def starts(self) -> list[datetime]:
        step = timedelta(weeks=self.patient.every_weeks)
        # Step on the local date, so a 09:00 session stays at 09:00 across a clock change.
        local = self.first_start.astimezone(ZONE)
        return [
            datetime.combine(local.date() + step * n, local.time(), ZONE) for n in range(self.count)
        ]

    def past_starts(self, now: datetime) -> list[datetime]:
        """Starts of the sessions that have ended by ``now``, newest first."""
        return [s for s in reversed(self.starts()) if s + SESSION_LENGTH <= now]


def _recent_slots(now: datetime) -> dict[str, datetime]:
    """Half-hour starts within the last three days for the sessions placed relative to now.

    Two ended after their reminder fell due but inside the unmarked hold (the therapist is
    asked to mark them, nothing went to the patient); one is a miss whose check-in went out
    at the cycle after it and whose offer of a new time is still open.
    """
    rules = UnmarkedRules()
    local_now = now.astimezone(ZONE)
    candidates = [
        datetime.combine(local_now.date() - timedelta(days=back), time(hour, 30), ZONE)
        for back in range(3)
        for hour in range(8, 19)
    ]
    ended = sorted((c for c in candidates if c + SESSION_LENGTH <= now), reverse=True)
    within_hold = [
        c
        for c in ended
        if now - rules.hold + _MARGIN <= c + SESSION_LENGTH <= now - rules.reminder_delay - _MARGIN
    ]
    first = within_hold[0]
    second = next((c for c in within_hold if c <= first - timedelta(hours=2)), within_hold[1])
    offer_open = [
        c
        for c in ended
        if c not in (first, second)
        and now - MISS_OFFER_OPEN <= c + SESSION_LENGTH <= now - MISS_FOLLOWED_UP
    ]
    return {"recent-unmarked-2": first, "recent-unmarked": second, "recent-miss": offer_open[0]}


def _latest_on(weekday: int, hour: int, now: datetime) -> datetime:
    """The latest ``weekday`` at ``hour`` (local) whose session has ended by ``now``."""
    day: date = now.astimezone(ZONE).date()
    while True:
        start = datetime.combine(day, time(hour), ZONE)
        if day.weekday() == weekday and start + SESSION_LENGTH <= now:
            return start
        day -= timedelta(days=1)


def plan(now: datetime) -> list[Series]:
    """Every patient's series, laid out so that the story ends at ``now``."""
    recent = _recent_slots(now)
    earliest = now - CONNECTED_AGO - HISTORY_BEFORE_CONNECTION
    series = []
    for patient in PATIENTS:
        if patient.recent is not None:
            latest = recent[patient.recent]
        else:
            latest = _latest_on(patient.weekday, patient.hour, now)
        step = timedelta(weeks=patient.every_weeks)
        back = (latest - earliest) // step
        local = latest.astimezone(ZONE)
        first = datetime.combine(local.date() - step * back, local.time(), ZONE)
        ahead = (now + FUTURE - latest) // step
        series.append(Series(patient, first, back + 1 + ahead))
    return series


def connected_at(now: datetime) -> datetime:
    return (now - CONNECTED_AGO).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
