"""What an unmarked session means, when to remind the therapist, and which sessions are ours.

Three conventions exist because therapists work differently: most never mark attended
sessions, so silence means "they came"; the practice this product was designed for keeps
the calendar as the register and marks attendance, so silence after a grace period means
"they did not come"; and some want nothing to go out unless they said so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.times import to_utc

#: However the hold is configured, an unmarked session is settled within a day of its end:
#: a check-in sent later reads as an afterthought rather than concern.
MAX_HOLD = timedelta(hours=24)


class UnmarkedConvention(Enum):
    """What a session nobody marked counts as."""

    #: Remind the therapist, hold, then count it as a no-show (the default).
    UNMARKED_IS_MISSED = "unmarked_is_missed"
    #: The therapist marks only misses; silence means attended. No reminders.
    UNMARKED_IS_ATTENDED = "unmarked_is_attended"
    #: Remind the therapist and wait for a mark; nothing goes to the patient until then.
    ALWAYS_ASK = "always_ask"


@dataclass(frozen=True)
class UnmarkedRules:
    """The convention and its delays, counted from the session's end.

    ``reminder_delay`` (default 2 hours): when the therapist is asked to mark.
    ``hold`` (default 20 hours, at most 24): under ``UNMARKED_IS_MISSED``, how long the
    therapist has to mark before the session counts as a no-show; 20 hours lets an evening
    session be marked the next morning and still lets the check-in arrive the next day.

    :raises ValueError: on a negative delay, a hold over 24 hours, or a reminder that would
        come after the hold ends.
    """

    convention: UnmarkedConvention = UnmarkedConvention.UNMARKED_IS_MISSED
    reminder_delay: timedelta = timedelta(hours=2)
    hold: timedelta = timedelta(hours=20)

    def __post_init__(self) -> None:
        if self.reminder_delay < timedelta(0):
            raise ValueError("reminder_delay cannot be negative")
        if not timedelta(0) < self.hold <= MAX_HOLD:
            raise ValueError("hold must be more than 0 and at most 24 hours")
        if self.reminder_delay >= self.hold:
            raise ValueError("reminder_delay must be shorter than hold")


@dataclass(frozen=True)
class UnmarkedVerdict:
    """What an unmarked session counts as at a given moment.

    ``assumed`` is true when ``outcome`` comes from the convention rather than a mark;
    ``effective_at`` is when that assumption took effect (``None`` while still unmarked).
    """

    outcome: Outcome
    assumed: bool
    remind_therapist: bool
    effective_at: datetime | None = None


def reminder_due(end: datetime, rules: UnmarkedRules) -> datetime:
    """When the therapist is reminded to mark a session that ended at ``end``."""
    return to_utc(end, "end") + rules.reminder_delay


def hold_ends(end: datetime, rules: UnmarkedRules) -> datetime:
    """When an unmarked session becomes a no-show under ``UNMARKED_IS_MISSED``."""
    return to_utc(end, "end") + rules.hold


def settle_unmarked(end: datetime, rules: UnmarkedRules, now: datetime) -> UnmarkedVerdict:
    """Apply the convention to a session with no mark, at ``now``.

    Before the end nothing is assumed. Under ``UNMARKED_IS_MISSED`` the reminder is due
    between ``reminder_due`` and ``hold_ends``; once the hold is over the session is a
    no-show and no reminder is asked for (the follow-up replaces it). Under ``ALWAYS_ASK``
    the reminder stays due until someone marks.
    """
    end_utc = to_utc(end, "end")
    now_utc = to_utc(now, "now")
    unmarked = UnmarkedVerdict(Outcome.UNMARKED, assumed=False, remind_therapist=False)
    if now_utc < end_utc:
        return unmarked
    if rules.convention is UnmarkedConvention.UNMARKED_IS_ATTENDED:
        return UnmarkedVerdict(Outcome.ATTENDED, True, False, end_utc)
    reminding = now_utc >= reminder_due(end_utc, rules)
    if rules.convention is UnmarkedConvention.ALWAYS_ASK:
        return UnmarkedVerdict(Outcome.UNMARKED, False, reminding)
    if now_utc >= hold_ends(end_utc, rules):
        return UnmarkedVerdict(Outcome.NO_SHOW, True, False, hold_ends(end_utc, rules))
    return UnmarkedVerdict(Outcome.UNMARKED, False, reminding)


def is_history(end: datetime, connected_at: datetime) -> bool:
    """Whether a session belongs to the time before the calendar was connected.

    A session that ended at or before ``connected_at`` is history: it is never followed up,
    never charged and never counted on the escalation ladder; the therapist dealt with it
    their own way, and guessing about the past would risk emailing someone who came.
    """
    return to_utc(end, "end") <= to_utc(connected_at, "connected_at")


def past_late_bound(end: datetime, late_bound: timedelta, now: datetime) -> bool:
    """Whether a follow-up sent at ``now`` would come more than ``late_bound`` after ``end``.

    Such a follow-up (the service was down, or a mark came days later) is offered to the
    therapist instead of being sent.
    """
    return to_utc(now, "now") - to_utc(end, "end") > late_bound
