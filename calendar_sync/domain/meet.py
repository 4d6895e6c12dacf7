"""Attendance evidence from a video call: who other than the therapist was there, and how long.

Google Meet keeps a conference record for each call in a meeting space, with its
participants (signed in, anonymous or by phone) and each one's stays. The rules here read
those facts, stripped of names: for each participant only whether it is the therapist and
when they were in the call. Three answers come out:

- **present**: someone other than the therapist was in the call for at least
  ``MeetRules.minimum`` within the session's scheduled time;
- **absent**: the call happened (a record exists) and nobody but the therapist joined,
  from ``MeetRules.early`` before the start to the end;
- **no evidence**: no record (Meet was not used, or Google has not published it yet).

Between them lies **brief**: someone else joined, but for less than the minimum; that is
neither evidence of attendance nor of a miss, and the therapist decides. While Google may
still publish a record (``MeetRules.look_for`` after the end) the answer is **pending**.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from calendar_sync.domain.times import optional_utc, to_utc

#: Five minutes is longer than a sound check, a wrong-link join or a dropped call
#: (a minute or two), and shorter than any real conversation: a patient who came 45
#: minutes late to a 50-minute session and talked for five was there, and must not be told
#: they missed it.
DEFAULT_MINIMUM = timedelta(minutes=5)
#: Google publishes conference records "some minutes" after a call ends (usually within
#: ten); an hour covers a slow publication while still settling a miss well before the
#: unmarked hold (20 hours by default) or the reminder (2 hours) would.
DEFAULT_LOOK_FOR = timedelta(hours=1)
#: A patient who opens the link a quarter of an hour early and leaves before the therapist
#: arrives still showed up; their stay blocks "absent".
DEFAULT_EARLY = timedelta(minutes=15)


class Attendance(Enum):
    """What a video call says about a session."""

    PRESENT = "present"
    ABSENT = "absent"
    BRIEF = "brief"
    NO_EVIDENCE = "no_evidence"
    PENDING = "pending"

    @property
    def settled(self) -> bool:
        """Whether looking again could not change the answer."""
        return self is not Attendance.PENDING


@dataclass(frozen=True)
class MeetRules:
    """How video calls count as evidence.

    :raises ValueError: unless ``minimum`` is between 1 and 30 minutes, ``look_for`` between
        15 minutes and 6 hours, and ``early`` between 0 and an hour.
    """

    minimum: timedelta = DEFAULT_MINIMUM
    look_for: timedelta = DEFAULT_LOOK_FOR
    early: timedelta = DEFAULT_EARLY

    def __post_init__(self) -> None:
        if not timedelta(minutes=1) <= self.minimum <= timedelta(minutes=30):
            raise ValueError("the minimum time present must be between 1 and 30 minutes")
        if not timedelta(minutes=15) <= self.look_for <= timedelta(hours=6):
            raise ValueError("looking for a record must last between 15 minutes and 6 hours")
        if not timedelta(0) <= self.early <= timedelta(hours=1):
            raise ValueError("the early allowance must be between 0 and an hour")


@dataclass(frozen=True)
class Stay:
    """One continuous time in the call; ``end`` is None while still connected."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start, "Stay.start"))
        object.__setattr__(self, "end", optional_utc(self.end, "Stay.end"))
        if self.end is not None and self.end < self.start:
            raise ValueError("a stay cannot end before it starts")

    def clipped(self, start: datetime, end: datetime, now: datetime) -> timedelta:
        """How much of this stay falls between ``start`` and ``end`` (open stays run to now)."""
        stay_end = now if self.end is None else min(self.end, now)
        return max(timedelta(0), min(stay_end, end) - max(self.start, start))


@dataclass(frozen=True)
class Participant:
    """One participant of a call, as the rules need it: the therapist or not, and when.

    ``stays`` are the participant's sessions when they were read, otherwise the one span
    from first join to last leave.
    """

    is_therapist: bool
    stays: tuple[Stay, ...]


@dataclass(frozen=True)
class CallRecord:
    """One conference record: when the call ran (``end`` None while it runs) and who joined."""

    start: datetime
    end: datetime | None
    participants: tuple[Participant, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start, "CallRecord.start"))
        object.__setattr__(self, "end", optional_utc(self.end, "CallRecord.end"))


@dataclass(frozen=True)
class Evidence:
    """What the calls say about one session, with only what the rule and the page need.

    ``minutes`` is the time someone other than the therapist was in the call during the
    session; ``joined``/``left`` their first join and last leave (None when
    nobody else joined). ``therapist_minutes`` is the therapist's own time.
    """

    attendance: Attendance
    minutes: int = 0
    joined: datetime | None = None
    left: datetime | None = None
    therapist_minutes: int = 0


@dataclass(frozen=True)
class CallEvidence:
    """A settled answer about one session, and when it was read (what a miss counts from)."""

    attendance: Attendance
    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", to_utc(self.at, "CallEvidence.at"))


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def needs_sessions(
    span: Stay, start: datetime, end: datetime, rules: MeetRules, now: datetime
) -> bool:
    """Whether one participant's first-join-to-last-leave span leaves their time in doubt.

    A span inside the session that reaches the minimum is taken as it is (the mistake it
    can make is to spare an email to someone who joined twice briefly). A span that reaches
    outside the session (a room reused from the session before, a patient who waited and
    rejoined) can hide a gap exactly where it matters, so their sessions are read, unless
    even the whole span within the session is below the minimum.
    """
    start, end, now = to_utc(start, "start"), to_utc(end, "end"), to_utc(now, "now")
    if span.clipped(start, end, now) < rules.minimum:
        return False
    span_end = now if span.end is None else span.end
    return span.start < start - rules.early or span_end > end


def _time_in(stays: Iterable[Stay], start: datetime, end: datetime, now: datetime) -> timedelta:
    """The union of ``stays`` within ``start``..``end``: overlapping stays count once."""
    total = timedelta(0)
    reached = start
    for stay in sorted(stays, key=lambda s: s.start):
        stay_end = now if stay.end is None else min(stay.end, now)
        lo, hi = max(stay.start, reached), min(stay_end, end)
        if hi > lo:
            total += hi - lo
            reached = hi
    return total


def assess_call(
    records: Iterable[CallRecord],
    start: datetime,
    end: datetime,
    rules: MeetRules,
    now: datetime,
) -> Evidence:
    """What the conference records say about a session scheduled ``start``..``end``, at ``now``.

    Only records that overlap the session (from ``rules.early`` before its start) count.
    Everyone who is not the therapist counts together: the time when at least one of them
    was in the call must reach the minimum.
    Before the end, and while a record could still come or an open call could still
    change, the answer is ``PENDING``.
    """
    start, end, now = to_utc(start, "start"), to_utc(end, "end"), to_utc(now, "now")
    if now < end:
        return Evidence(Attendance.PENDING)
    from_ = start - rules.early
    relevant = [r for r in records if r.start < end and (r.end is None or r.end > from_)]
    still_looking = now < end + rules.look_for
    if not relevant:
        return Evidence(Attendance.PENDING if still_looking else Attendance.NO_EVIDENCE)
    therapist: list[Stay] = []
    others: list[Stay] = []
    for record in relevant:
        for participant in record.participants:
            (therapist if participant.is_therapist else others).extend(participant.stays)
    # Time when anyone other than the therapist was there: a patient who rejoins from another
    # device (or by phone) is a second participant, and their stays add up, counted once.
    best = _time_in(others, start, end, now)
    around = [s for s in others if s.clipped(from_, end, now) > timedelta(0)]
    joined = min((s.start for s in around), default=None)
    left = max(((now if s.end is None else min(s.end, now)) for s in around), default=None)
    open_call = any(r.end is None for r in relevant)
    minutes = _minutes(best)
    found = Evidence(
        Attendance.PENDING, minutes, joined, left, _minutes(_time_in(therapist, start, end, now))
    )
    if best >= rules.minimum:
        return _with(found, Attendance.PRESENT)
    if around:
        return _with(found, Attendance.BRIEF)
    # A space holds one call at a time, so calls that ran through the whole session leave
    # no room for another one whose record is not out yet; otherwise (the therapist waited a
    # quarter of an hour and left, say) "absent" waits for the look-out to pass.
    if still_looking and (open_call or not _covered(relevant, start, end)):
        return found
    return _with(found, Attendance.ABSENT)


def _covered(records: list[CallRecord], start: datetime, end: datetime) -> bool:
    """Whether ended ``records`` together span ``start``..``end`` without a gap."""
    reached = start
    for record in sorted(records, key=lambda r: r.start):
        if record.start > reached:
            return False
        assert record.end is not None
        reached = max(reached, record.end)
    return reached >= end


def _with(evidence: Evidence, attendance: Attendance) -> Evidence:
    return Evidence(
        attendance, evidence.minutes, evidence.joined, evidence.left, evidence.therapist_minutes
    )


def _clock(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


def evidence_words(evidence: Evidence, zone: ZoneInfo) -> str:
    """The evidence in plain words for the therapist, times in their ``zone``.

    ``"joined by video 10:02 to 10:49"``; ``"only you joined the video call"``. Never a
    name: the words say "the patient" only by leaving the person out.
    """
    attendance = evidence.attendance
    if attendance is Attendance.PENDING:
        return "video call: waiting for Google Meet's record"
    if attendance is Attendance.NO_EVIDENCE:
        return "no Google Meet record for this session"
    if attendance is Attendance.ABSENT:
        if evidence.therapist_minutes:
            return "only you joined the video call"
        return "nobody joined the video call"
    assert evidence.joined is not None and evidence.left is not None
    span = f"{_clock(evidence.joined, zone)} to {_clock(evidence.left, zone)}"
    if attendance is Attendance.PRESENT:
        return f"joined by video {span}"
    return (
        f"joined by video {span}, {evidence.minutes} minute"
        f"{'' if evidence.minutes == 1 else 's'} in the session: too short to count as there"
    )
