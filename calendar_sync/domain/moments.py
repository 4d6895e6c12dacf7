"""When the decisions for a therapist can next change by time alone.

:func:`decide` is a function of its inputs and ``now``; between two changes of the inputs
its answer moves only at a few instants of each session: its start and end, when the
therapist is reminded to mark it, when an unmarked session's hold ends, when a follow-up
becomes late, and when a mark (or a change the calendar recorded) takes effect. The cycle
runs the follow-up again at the earliest of these, and whenever the inputs change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from calendar_sync.domain.marks import Mark
from calendar_sync.domain.policy import Policy
from calendar_sync.domain.sessions import Session
from calendar_sync.domain.times import to_utc
from calendar_sync.domain.unmarked import hold_ends, is_history, reminder_due

# ``past_late_bound`` is a strict comparison: the change comes just after the bound.
_JUST_AFTER = timedelta(microseconds=1)


def session_moments(session: Session, policy: Policy) -> list[datetime]:
    """Every instant at which this session's assessment or decision can change."""
    rules = policy.unmarked
    found = [
        session.start,
        session.end,
        reminder_due(session.end, rules),
        hold_ends(session.end, rules),
        session.end + policy.late_bound + _JUST_AFTER,
    ]
    found += [
        moment
        for moment in (
            session.patient_response_at,
            session.color_changed_at,
            session.tags_changed_at,
            session.cancelled.at if session.cancelled is not None else None,
        )
        if moment is not None
    ]
    return found


def next_change(
    sessions: Iterable[Session],
    marks: Iterable[Mark],
    policy: Policy,
    connected_at: datetime,
    now: datetime,
) -> datetime | None:
    """The earliest instant after ``now`` at which ``decide`` may answer differently.

    None when nothing the inputs hold can change the answer by time alone. Sessions that
    are history (ended by ``connected_at``) are never acted on, so they add nothing.
    """
    now = to_utc(now, "now")
    connected_at = to_utc(connected_at, "connected_at")
    candidates = [
        moment
        for session in sessions
        if not is_history(session.end, connected_at)
        for moment in session_moments(session, policy)
    ]
    candidates += [mark.at for mark in marks]
    later = [to_utc(moment, "moment") for moment in candidates]
    return min((moment for moment in later if moment > now), default=None)
