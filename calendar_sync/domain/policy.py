"""A therapist's follow-up policy: windows, fees, the unmarked convention and the ladder.

Every default is documented in ``docs/policy.md`` with the reason it was chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from calendar_sync.domain.marks import MarkRules
from calendar_sync.domain.meet import MeetRules
from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.sessions import SessionRules
from calendar_sync.domain.times import to_utc
from calendar_sync.domain.unmarked import UnmarkedRules


class ActionKind(Enum):
    """Something the service does after a session.

    Patient-facing kinds are emails to the patient; the others go to the therapist or to the
    ledger. There is deliberately no patient-facing kind about ending treatment: that
    conversation is the therapist's, so it cannot be configured to go out automatically.
    """

    EMAIL_CHECKIN = "email_checkin"
    EMAIL_POLICY_REMINDER = "email_policy_reminder"
    BARRIER_SURVEY = "barrier_survey"
    PROPOSE_RESCHEDULE = "propose_reschedule"
    ALERT_THERAPIST_MISS = "alert_therapist_miss"
    ALERT_THERAPIST_PATTERN = "alert_therapist_pattern"
    ALERT_THERAPIST_TERMINATION_DRAFT = "alert_therapist_termination_draft"
    REMIND_THERAPIST_TO_MARK = "remind_therapist_to_mark"
    RECORD_FEE = "record_fee"
    #: The mark changed after the patient was written to: the record is updated and the
    #: therapist told; nothing more goes to the patient about that miss.
    NOTE_CORRECTION = "note_correction"

    @property
    def patient_facing(self) -> bool:
        """True when this action reaches the patient."""
        return self in PATIENT_FACING

    @property
    def description(self) -> str:
        """The action in the therapist's words."""
        return _DESCRIPTIONS[self]


PATIENT_FACING = frozenset(
    {
        ActionKind.EMAIL_CHECKIN,
        ActionKind.EMAIL_POLICY_REMINDER,
        ActionKind.BARRIER_SURVEY,
        ActionKind.PROPOSE_RESCHEDULE,
    }
)

#: The kinds a ladder step may hold; reminders and fees follow their own rules.
LADDER_ACTIONS = PATIENT_FACING | {
    ActionKind.ALERT_THERAPIST_MISS,
    ActionKind.ALERT_THERAPIST_PATTERN,
    ActionKind.ALERT_THERAPIST_TERMINATION_DRAFT,
}

_DESCRIPTIONS = {
    ActionKind.EMAIL_CHECKIN: "check-in email to the patient",
    ActionKind.EMAIL_POLICY_REMINDER: "cancellation-policy reminder to the patient",
    ActionKind.BARRIER_SURVEY: "question to the patient about what got in the way",
    ActionKind.PROPOSE_RESCHEDULE: "offer of a new time to the patient",
    ActionKind.ALERT_THERAPIST_MISS: "note to you to follow up yourself",
    ActionKind.ALERT_THERAPIST_PATTERN: (
        "alert to you to discuss the pattern and review the treatment plan"
    ),
    ActionKind.ALERT_THERAPIST_TERMINATION_DRAFT: (
        "alert to you to consider a conversation about ending treatment, with a draft to edit"
    ),
    ActionKind.REMIND_THERAPIST_TO_MARK: "reminder to you to mark the session",
    ActionKind.RECORD_FEE: "missed-appointment fee in the ledger",
    ActionKind.NOTE_CORRECTION: "note to you that the mark changed after the follow-up went",
}

#: Step 1, 2, 3, and 4-and-later of the escalation ladder.
DEFAULT_LADDER: tuple[frozenset[ActionKind], ...] = (
    frozenset({ActionKind.EMAIL_CHECKIN, ActionKind.PROPOSE_RESCHEDULE}),
    frozenset(
        {
            ActionKind.EMAIL_CHECKIN,
            ActionKind.EMAIL_POLICY_REMINDER,
            ActionKind.BARRIER_SURVEY,
            ActionKind.PROPOSE_RESCHEDULE,
        }
    ),
    frozenset({ActionKind.ALERT_THERAPIST_PATTERN}),
    frozenset({ActionKind.ALERT_THERAPIST_TERMINATION_DRAFT}),
)


#: Long enough to notice a wrong mark on the dashboard or in the calendar and stop what it
#: queued; short enough that the check-in still arrives the same day.
DEFAULT_PATIENT_HOLD = timedelta(hours=2)
MIN_PATIENT_HOLD = timedelta(minutes=15)
MAX_PATIENT_HOLD = timedelta(hours=24)


@dataclass(frozen=True)
class Policy:
    """One therapist's settings, with the defaults the product ships.

    ``rolling_window``: misses are counted per patient over this period (90 days).
    ``notice_window``: a patient cancellation less than this before the start is a late
    cancel (24 hours, in absolute time).
    ``late_cancels_count``: late cancels climb the ladder like no-shows (yes); when not,
    they get ``uncounted_late_cancel_actions`` (an offer of a new time).
    ``no_show_fee`` / ``late_cancel_fee``: none unless set.
    ``charge_assumed_no_shows``: charge a fee for a session nobody marked that the
    convention counts as a no-show (no: money is harder to take back than an email).
    ``unmarked``: the convention for unmarked sessions and its delays.
    ``late_bound``: a patient follow-up more than this after the session's end is offered
    to the therapist instead of sent (3 days).
    ``ladder``: the actions for step 1, 2, ...; the last step repeats for further misses.
    ``meet_evidence``: read who joined a session's Google Meet call (off until the therapist
    turns it on and grants the scope); ``meet``: how a call counts (``domain.meet``).
    ``patient_hold``: everything that would reach a patient (an email, an invitation) and
    every fee waits this long, visible to the therapist, before it goes (2 hours; between
    15 minutes and 24 hours).

    :raises ValueError: on a non-positive window, a non-positive fee, fees in two
        currencies, or an empty or invalid ladder step.
    """

    rolling_window: timedelta = timedelta(days=90)
    notice_window: timedelta = timedelta(hours=24)
    late_cancels_count: bool = True
    no_show_fee: Money | None = None
    late_cancel_fee: Money | None = None
    charge_assumed_no_shows: bool = False
    unmarked: UnmarkedRules = field(default_factory=UnmarkedRules)
    late_bound: timedelta = timedelta(days=3)
    ladder: tuple[frozenset[ActionKind], ...] = DEFAULT_LADDER
    uncounted_late_cancel_actions: frozenset[ActionKind] = frozenset(
        {ActionKind.PROPOSE_RESCHEDULE}
    )
    marks: MarkRules = field(default_factory=MarkRules)
    sessions: SessionRules = field(default_factory=SessionRules)
    patient_hold: timedelta = DEFAULT_PATIENT_HOLD
    meet_evidence: bool = False
    meet: MeetRules = field(default_factory=MeetRules)

    def __post_init__(self) -> None:
        if not MIN_PATIENT_HOLD <= self.patient_hold <= MAX_PATIENT_HOLD:
            raise ValueError("the hold before anything reaches a patient must be 15 min to 24 h")
        for name in ("rolling_window", "notice_window", "late_bound"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"Policy.{name} must be positive")
        fees = [fee for fee in (self.no_show_fee, self.late_cancel_fee) if fee is not None]
        if any(fee.minor_units <= 0 for fee in fees):
            raise ValueError("a fee must be a positive amount (leave it unset for no fee)")
        if len({fee.currency for fee in fees}) > 1:
            raise ValueError("both fees must be in the same currency")
        if not self.ladder:
            raise ValueError("the ladder needs at least one step")
        object.__setattr__(self, "ladder", tuple(frozenset(step) for step in self.ladder))
        for number, step in enumerate(self.ladder, start=1):
            if not step:
                raise ValueError(f"ladder step {number} has no action")
            if not step <= LADDER_ACTIONS:
                raise ValueError(f"ladder step {number} holds an action a ladder cannot take")
        if not self.uncounted_late_cancel_actions <= LADDER_ACTIONS:
            raise ValueError("uncounted_late_cancel_actions holds an invalid action")

    def actions_for_step(self, step: int) -> frozenset[ActionKind]:
        """The actions for the ``step``-th miss in the window (1-based; the last repeats).

        :raises ValueError: if ``step`` is below 1.
        """
        if step < 1:
            raise ValueError("ladder steps start at 1")
        return self.ladder[min(step, len(self.ladder)) - 1]

    def fee_for(self, outcome: Outcome) -> Money | None:
        """The fee the policy sets for ``outcome``, before any patient exemption."""
        if outcome is Outcome.NO_SHOW:
            return self.no_show_fee
        if outcome is Outcome.LATE_CANCEL:
            return self.late_cancel_fee
        return None


def counts_toward_ladder(outcome: Outcome, policy: Policy) -> bool:
    """Whether a session with ``outcome`` is a miss on the ladder under ``policy``."""
    if outcome is Outcome.NO_SHOW:
        return True
    return outcome is Outcome.LATE_CANCEL and policy.late_cancels_count


def ladder_step(start: datetime, miss_starts: Iterable[datetime], window: timedelta) -> int:
    """The step of a miss starting at ``start``: how many misses fall in the window ending then.

    ``miss_starts`` are the start times of the same patient's misses, including this one.
    A miss counts when it started after ``start - window`` and not after ``start``, so later
    misses never change an earlier session's step, and a miss exactly ``window`` before no
    longer counts.
    """
    end = to_utc(start, "start")
    begin = end - window
    return sum(1 for miss in miss_starts if begin < to_utc(miss, "miss start") <= end)
