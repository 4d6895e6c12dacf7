"""How the decision step grows with a practice's size.

Runs ``decide`` over a practice of 10 patients and of 100 patients (weekly sessions over the
rolling window, every fifth one missed) in the same process, and reports the time per call and
the ratio between them: a ratio near 10 means the work grows linearly with the sessions.

    .venv/bin/python benchmarks/bench_decide.py
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from calendar_sync.domain.decide import decide
from calendar_sync.domain.marks import Mark, MarkSource
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.patients import Patient
from calendar_sync.domain.policy import Policy
from calendar_sync.domain.sessions import Session

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
WEEKS = 14


def practice(patients: int) -> tuple[list[Session], list[Mark], dict[str, Patient]]:
    sessions, marks = [], []
    for p in range(patients):
        key = f"P{p}"
        for week in range(WEEKS):
            start = NOW - timedelta(weeks=week, hours=p % 40)
            session = Session(
                f"e{p}w{week}", "cal", key, start, start + timedelta(minutes=50), LONDON
            )
            sessions.append(session)
            outcome = Outcome.NO_SHOW if (p + week) % 5 == 0 else Outcome.ATTENDED
            marks.append(Mark("cal", session.event_id, outcome, MarkSource.DASHBOARD, session.end))
    return sessions, marks, {f"P{p}": Patient(f"P{p}") for p in range(patients)}


def timed(patients: int, rounds: int = 5) -> float:
    sessions, marks, known = practice(patients)
    connected = NOW - timedelta(weeks=WEEKS + 1)
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        decide(sessions, marks, known, Policy(), connected, NOW, therapist_id=1)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    small, large = timed(10), timed(100)
    print(f"decide, 10 patients ({10 * WEEKS} sessions):   {small * 1000:8.1f} ms")
    print(f"decide, 100 patients ({100 * WEEKS} sessions): {large * 1000:8.1f} ms")
    print(f"ratio large/small: {large / small:.1f} (10 means linear)")


if __name__ == "__main__":
    main()
