"""How many Meet calls a cycle makes per video session, counted at the sandbox.

Reads ended video sessions the way the cycle does (``services.attendance.meet.read_calls``,
through the real googleapiclient over HTTP) in four shapes, and reports the calls per
session, counted by the sandbox, and the time per session relative to the usual case:

- the usual case: each session has its own Meet link, the patient joined;
- one recurring link shared by a weekly series, its last four sessions read in one cycle;
- a room kept open between patients (spans reach outside the session: joins are read);
- no record yet (one call per session per look, until the hour is over).

    .venv/bin/python benchmarks/bench_meet.py
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from calendar_sync.domain.meet import MeetRules
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.meet import MeetReader
from calendar_sync.sandbox.testing import RunningSandbox
from calendar_sync.services.attendance.meet import Window, read_calls

THERAPIST = "dr.bench@example.test"
CALENDAR = "https://www.googleapis.com/auth/calendar"
MEET = "https://www.googleapis.com/auth/meetings.space.readonly"
FIRST = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
LENGTH = timedelta(minutes=50)
SESSIONS = 20


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def event(sandbox: RunningSandbox, calendar: Any, start: datetime) -> tuple[str, str]:
    body = {
        "summary": "S",
        "start": {"dateTime": stamp(start)},
        "end": {"dateTime": stamp(start + LENGTH)},
    }
    created = calendar.events().insert(calendarId="primary", body=body).execute()
    return created["id"], sandbox.add_meet_link(THERAPIST, created["id"])


def call(sandbox: RunningSandbox, code: str, start: datetime, reused: bool = False) -> None:
    minute = timedelta(minutes=1)
    therapist = {
        "kind": "signedin",
        "email": THERAPIST,
        "stays": [[stamp(start - minute), stamp(start + LENGTH)]],
    }
    stays = [[stamp(start + 2 * minute), stamp(start + LENGTH - minute)]]
    if reused:
        stays.insert(0, [stamp(start - 60 * minute), stamp(start - 10 * minute)])
    patient = {"kind": "anonymous", "name": "P", "stays": stays}
    begins = start - (61 if reused else 1) * minute
    sandbox.add_conference(code, stamp(begins), stamp(start + LENGTH), [therapist, patient])


def measure(
    sandbox: RunningSandbox, reader: MeetReader, batches: list[tuple[str, list[Window]]]
) -> tuple[float, float]:
    """(Meet calls per session, seconds per session) for reading ``batches`` once."""
    sandbox.control("DELETE", "calls")
    now = max(end for _, windows in batches for *_, end in windows) + timedelta(minutes=20)
    began = time.perf_counter()
    for code, windows in batches:
        read_calls(reader, code, windows, MeetRules(), now)
    spent = time.perf_counter() - began
    calls = sum(
        n for m, n in sandbox.control("GET", "calls")["calls"].items() if m.startswith("meet.")
    )
    sessions = sum(len(windows) for _, windows in batches)
    return calls / sessions, spent / sessions


def main() -> None:
    sandbox = RunningSandbox()
    try:
        sandbox.add_account(THERAPIST)
        calendar = sandbox.service("calendar", "v3", THERAPIST, [CALENDAR])
        apis = GoogleApis(sandbox.credentials(THERAPIST, [MEET]), sandbox.url)
        reader = MeetReader(apis.meet, sandbox.state.accounts[THERAPIST].id)

        usual, reused, missing = [], [], []
        for n in range(SESSIONS):
            start = FIRST + timedelta(days=n)
            event_id, code = event(sandbox, calendar, start)
            call(sandbox, code, start)
            usual.append((code, [(THERAPIST, event_id, start, start + LENGTH)]))
            event_id, code = event(sandbox, calendar, start + timedelta(hours=2))
            call(sandbox, code, start + timedelta(hours=2), reused=True)
            reused.append(
                (
                    code,
                    [
                        (
                            THERAPIST,
                            event_id,
                            start + timedelta(hours=2),
                            start + timedelta(hours=2) + LENGTH,
                        )
                    ],
                )
            )
            event_id, code = event(sandbox, calendar, start + timedelta(hours=4))
            missing.append(
                (
                    code,
                    [
                        (
                            THERAPIST,
                            event_id,
                            start + timedelta(hours=4),
                            start + timedelta(hours=4) + LENGTH,
                        )
                    ],
                )
            )
        # A weekly series on one link: its last four sessions read in the same cycle.
        series_id, series_code = event(sandbox, calendar, FIRST + timedelta(hours=6))
        weekly = []
        for week in range(4):
            start = FIRST + timedelta(hours=6, weeks=week)
            call(sandbox, series_code, start)
            weekly.append((THERAPIST, f"{series_id}_{week}", start, start + LENGTH))

        base_calls, base_time = measure(sandbox, reader, usual)
        rows = [
            ("own link each, patient joined (usual)", base_calls, base_time),
            (
                "one weekly link, 4 sessions in a cycle",
                *measure(sandbox, reader, [(series_code, weekly)]),
            ),
            ("room kept open (joins read)", *measure(sandbox, reader, reused)),
            ("no record yet (per look)", *measure(sandbox, reader, missing)),
        ]
        print(f"Meet calls per video session, {SESSIONS} sessions per shape:")
        for name, calls, spent in rows:
            print(f"  {name:42s} {calls:4.2f} calls   time x{spent / base_time:4.2f}")
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
