"""What the therapist's "Today" view needs: sessions waiting for a mark, and soon-due work."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from ...domain.decide import assess
from ...domain.marks import Mark
from ...domain.outcomes import Outcome
from ...domain.times import when_words
from ...storage import Database
from ..followup import compose
from ..followup.inputs import load_inputs
from ..runtime import Runtime

# Older unmarked sessions are on the follow-ups page; "Today" keeps to the last week.
RECENT = timedelta(days=7)


@dataclass(frozen=True)
class WaitingSession:
    calendar_id: str
    event_id: str
    label: str
    when: str
    # What it will count as if left unmarked, and from when (None: nothing goes out).
    assumed: str | None
    follow_up_from: str | None


def waiting_for_mark(runtime: Runtime, therapist_id: int, now: datetime) -> list[WaitingSession]:
    """Recent ended sessions nobody has marked, oldest first."""
    database: Database = runtime.database
    with database.transaction() as db:
        inputs = load_inputs(db, therapist_id, now)
    if inputs is None:
        return []
    policy = inputs.settings.policy
    marks_by_ref: dict[tuple[str, str], list[Mark]] = defaultdict(list)
    for mark in inputs.marks:
        marks_by_ref[mark.ref].append(mark)
    waiting = []
    for session in sorted(inputs.sessions, key=lambda s: s.start):
        if session.end > now or session.end < now - RECENT or session.cancelled:
            continue
        verdict = assess(session, marks_by_ref[session.ref], policy, inputs.connected_at, now)
        if verdict.history or not (verdict.outcome is Outcome.UNMARKED or verdict.assumed):
            continue
        row = inputs.event_rows[session.ref]
        waiting.append(
            WaitingSession(
                calendar_id=session.calendar_id,
                event_id=session.event_id,
                label=row.title or "Session",
                when=when_words(session.start, inputs.zone),
                assumed=compose.OUTCOME_WORDS[verdict.outcome] if verdict.assumed else None,
                follow_up_from=compose.followup_starts(session.end, policy, inputs.zone),
            )
        )
    return waiting
