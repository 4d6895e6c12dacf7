"""Marks: every statement about what happened to a session, and which one wins.

A mark comes from the therapist (event colour, a tag in the title, the one-click link in
the reminder email, the dashboard) or from the calendar itself (the patient declined the
invitation, the event was cancelled). Each carries the time it was made or first seen.
The rule is simple so a therapist can predict it: **the latest mark wins, whatever its
source.**
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from types import MappingProxyType

from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.sessions import CancelledBy, PatientResponse, Session
from calendar_sync.domain.times import to_utc


class MarkSource(Enum):
    """Where a mark came from."""

    DASHBOARD = "dashboard"
    #: From the side panel of the Calendar add-on, beside the event.
    CALENDAR_PANEL = "calendar_panel"
    LINK = "link"
    TITLE_TAG = "title_tag"
    COLOR = "color"
    CALENDAR = "calendar"
    PATIENT_ANSWER = "patient_answer"
    #: Evidence from the session's video call (``domain.meet``): never a stored mark, it
    #: decides only a session nobody marked.
    MEET = "meet"


# Only for marks made at the very same instant: a deliberate act of the therapist beats
# something inferred from the calendar.
_SOURCE_RANK = {source: rank for rank, source in enumerate(reversed(list(MarkSource)))}

# Also only for ties: two contradicting marks at one instant resolve to the outcome with
# the mildest consequence for the patient, so a tie never sends "we missed you" to someone
# who may have attended.
_CAUTION_RANK = {
    outcome: rank
    for rank, outcome in enumerate(
        (
            Outcome.NO_SHOW,
            Outcome.LATE_CANCEL,
            Outcome.UNMARKED,
            Outcome.CANCELLED_IN_TIME,
            Outcome.CLINICIAN_CANCELLED,
            Outcome.ATTENDED,
        )
    )
}

# Whether someone attended can only be known once the session has begun; a colour set
# earlier is usually a series colour, not a mark.
_KNOWABLE_ONLY_FROM_START = frozenset({Outcome.ATTENDED, Outcome.NO_SHOW})


@dataclass(frozen=True)
class Mark:
    """One statement about a session's outcome, made (or first seen) at ``at``.

    ``Outcome.UNMARKED`` is allowed from the dashboard and the link: it clears earlier
    marks ("undo").

    :raises ValueError: on a naive ``at``, or ``UNMARKED`` from a calendar-derived source.
    """

    calendar_id: str
    event_id: str
    outcome: Outcome
    source: MarkSource
    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", to_utc(self.at, "Mark.at"))
        explicit = (MarkSource.DASHBOARD, MarkSource.CALENDAR_PANEL, MarkSource.LINK)
        if self.outcome is Outcome.UNMARKED and self.source not in explicit:
            raise ValueError("only the dashboard, the calendar panel or the link can clear a mark")

    @property
    def ref(self) -> tuple[str, str]:
        """The session this mark is about: (calendar id, event id)."""
        return (self.calendar_id, self.event_id)


def _frozen(mapping: Mapping[str, Outcome]) -> Mapping[str, Outcome]:
    return MappingProxyType({key.strip().lower(): value for key, value in mapping.items()})


DEFAULT_COLORS: Mapping[str, Outcome] = _frozen(
    {"11": Outcome.NO_SHOW, "10": Outcome.ATTENDED, "8": Outcome.LATE_CANCEL}
)
DEFAULT_TAGS: Mapping[str, Outcome] = _frozen(
    {
        "no-show": Outcome.NO_SHOW,
        "attended": Outcome.ATTENDED,
        "late": Outcome.LATE_CANCEL,
        "cancelled": Outcome.CANCELLED_IN_TIME,
    }
)


@dataclass(frozen=True)
class MarkRules:
    """Which event colours and title tags mean which outcome.

    Colours are provider colour ids as strings (``"11"`` is Tomato, ``"10"`` Basil,
    ``"8"`` Graphite). Tags are written without brackets and matched case-insensitively.
    """

    colors: Mapping[str, Outcome] = field(default_factory=lambda: DEFAULT_COLORS)
    tags: Mapping[str, Outcome] = field(default_factory=lambda: DEFAULT_TAGS)

    def __post_init__(self) -> None:
        for name in ("colors", "tags"):
            mapping = _frozen(getattr(self, name))
            if Outcome.UNMARKED in mapping.values():
                raise ValueError(f"MarkRules.{name} cannot map to UNMARKED")
            object.__setattr__(self, name, mapping)

    def __hash__(self) -> int:
        # The mappings are read-only views, so hashing their items is safe and keeps
        # a Policy usable as a cache key.
        return hash((frozenset(self.colors.items()), frozenset(self.tags.items())))


def patient_cancel_outcome(start: datetime, cancelled_at: datetime, notice: timedelta) -> Outcome:
    """Classify a cancellation by the patient against the notice window.

    In time when made at least ``notice`` before the start, measured in absolute time
    (a 24-hour window across a clock change is still 24 real hours); otherwise, and for any
    cancellation after the start, a late cancel.
    """
    start_utc = to_utc(start, "start")
    at_utc = to_utc(cancelled_at, "cancelled_at")
    return Outcome.CANCELLED_IN_TIME if at_utc <= start_utc - notice else Outcome.LATE_CANCEL


def calendar_marks(session: Session, rules: MarkRules, notice: timedelta) -> tuple[Mark, ...]:
    """The marks the calendar event itself carries: colour, title tags, answers, cancellation.

    Several tags that mean different outcomes in one title are ambiguous and ignored.
    """
    marks: list[Mark] = []

    def add(outcome: Outcome, source: MarkSource, at: datetime) -> None:
        marks.append(Mark(session.calendar_id, session.event_id, outcome, source, at))

    if session.color_id is not None and session.color_changed_at is not None:
        color_outcome = rules.colors.get(session.color_id)
        if color_outcome is not None:
            add(color_outcome, MarkSource.COLOR, session.color_changed_at)
    tag_outcomes = {rules.tags[t] for t in session.title_tags if t in rules.tags}
    if len(tag_outcomes) == 1 and session.tags_changed_at is not None:
        add(tag_outcomes.pop(), MarkSource.TITLE_TAG, session.tags_changed_at)
    if (
        session.patient_response is PatientResponse.DECLINED
        and session.patient_response_at is not None
    ):
        outcome = patient_cancel_outcome(session.start, session.patient_response_at, notice)
        add(outcome, MarkSource.PATIENT_ANSWER, session.patient_response_at)
    if session.cancelled is not None:
        if session.cancelled.by is CancelledBy.THERAPIST:
            add(Outcome.CLINICIAN_CANCELLED, MarkSource.CALENDAR, session.cancelled.at)
        else:
            outcome = patient_cancel_outcome(session.start, session.cancelled.at, notice)
            add(outcome, MarkSource.CALENDAR, session.cancelled.at)
    return tuple(marks)


def _precedence(mark: Mark) -> tuple[datetime, int, int]:
    return (mark.at, _SOURCE_RANK[mark.source], _CAUTION_RANK[mark.outcome])


def winning_mark(marks: Iterable[Mark], session: Session, now: datetime) -> Mark | None:
    """The mark that decides the session's outcome at ``now``, or ``None``.

    Only marks about ``session`` and made by ``now`` count (so the answer is a function of
    ``now``); attended / no-show marks made before the session started are ignored. The
    latest wins; ties are broken by source, then by the milder outcome, so the answer never
    depends on the order marks arrive in.
    """
    now_utc = to_utc(now, "now")
    eligible = [
        mark
        for mark in marks
        if mark.ref == session.ref
        and mark.at <= now_utc
        and not (mark.outcome in _KNOWABLE_ONLY_FROM_START and mark.at < session.start)
    ]
    return max(eligible, key=_precedence, default=None)


def resolve_outcome(
    session: Session,
    marks: Iterable[Mark],
    rules: MarkRules,
    notice: timedelta,
    now: datetime,
) -> tuple[Outcome, Mark | None]:
    """The marked outcome of a session at ``now`` and the mark that decided it.

    ``marks`` are the explicit marks (dashboard, link); the calendar's own marks are added
    here. ``UNMARKED`` comes back when nothing has been said (or the last word was "undo");
    what that means is decided by :mod:`calendar_sync.domain.unmarked`.
    """
    every = [*marks, *calendar_marks(session, rules, notice)]
    winner = winning_mark(every, session, now)
    return (Outcome.UNMARKED if winner is None else winner.outcome), winner


@dataclass(frozen=True)
class FollowUpSent:
    """A follow-up already went out for a session, based on ``outcome``, at ``sent_at``."""

    calendar_id: str
    event_id: str
    outcome: Outcome
    sent_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "sent_at", to_utc(self.sent_at, "FollowUpSent.sent_at"))


@dataclass(frozen=True)
class ChangedAfterFollowUp:
    """The outcome was changed after a follow-up had been sent on the old one."""

    acted_on: Outcome
    now_marked: Outcome
    changed_at: datetime
    source: MarkSource


def changed_after_follow_up(
    sent: FollowUpSent, session: Session, history: Iterable[Mark], now: datetime
) -> ChangedAfterFollowUp | None:
    """Report a mark that contradicts a follow-up already sent, for the dashboard to show.

    ``history`` is every mark about the session (explicit ones plus
    :func:`calendar_marks`). Returns ``None`` when the deciding mark predates the follow-up
    or agrees with what was acted on.
    """
    winner = winning_mark(history, session, now)
    if winner is None or winner.at <= sent.sent_at or winner.outcome is sent.outcome:
        return None
    return ChangedAfterFollowUp(sent.outcome, winner.outcome, winner.at, winner.source)
