"""Reading Google Meet evidence for ended video sessions, once per cycle, before follow-ups.

For each therapist who turned Meet evidence on and granted ``meetings.space.readonly``, the
sessions with a Meet link that ended and are not settled yet are grouped by meeting code:
one ``conferenceRecords.list`` per code covers all of them (a weekly link shared by a
series is read once), then ``participants.list`` once per record. A session's answer is
stored as soon as it is settled; a pending one is read again at the next cycle until the
look-out (``MeetRules.look_for``) is over. Only attendance, minutes and times are stored,
and nothing from Meet is logged but counts.

Faults: a 403 means the scope was withdrawn: it is dropped from the stored grant, so the
feature is off and the dashboard says so, and the therapist is told once. 429 and 5xx are
retried by the one retry policy; what still fails, and a 404, leaves the meeting code pending
for the next cycle. None of them stops the rest of the cycle.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.meet import (
    Attendance,
    CallEvidence,
    CallRecord,
    Evidence,
    MeetRules,
    Stay,
    assess_call,
    needs_sessions,
)
from ...google import GoogleApiError, ReauthorizationNeeded
from ...google.meet import MeetReader, Record
from ...google.oauth import MEET_READ
from ...storage.models import (
    CalendarEventRow,
    CalendarRow,
    GoogleConnection,
    MeetEvidence,
    Therapist,
)
from ..accounts.settings import load_settings
from ..notices import notify_once
from ..runtime import Runtime
from ..schedule import mark_changed

log = logging.getLogger(__name__)

MEET_SCOPE = MEET_READ
#: A call that began this long before a session can still be running through it (a room
#: kept open between patients).
ROOM_OPEN_BEFORE = timedelta(hours=12)
#: Sessions that ended longer ago are not read any more (the service was down): the
#: therapist's convention has long taken over.
GIVE_UP_AFTER = timedelta(days=2)
#: While Google has not published a call's record yet, it is looked for again this often:
#: twelve looks in the default hour, where every cycle would be sixty.
LOOK_AGAIN = timedelta(minutes=5)

SCOPE_WITHDRAWN = (
    "Google Meet evidence is on, but Google no longer lets this service read who joined your "
    "video calls. Turn Meet evidence on again in Settings to grant it; until then video "
    "sessions follow your setting for unmarked sessions."
)


def meet_enabled(db: DbSession, therapist_id: int) -> bool:
    """Whether the therapist turned Meet evidence on and Google granted the scope."""
    if not load_settings(db, therapist_id).policy.meet_evidence:
        return False
    connection = db.scalar(
        select(GoogleConnection).where(GoogleConnection.therapist_id == therapist_id)
    )
    return connection is not None and MEET_SCOPE in connection.granted_scopes.split()


def meet_status(db: DbSession, therapist_id: int) -> str:
    """``on``, ``off``, or ``not_granted`` (turned on, but Google did not grant the scope)."""
    if not load_settings(db, therapist_id).policy.meet_evidence:
        return "off"
    return "on" if meet_enabled(db, therapist_id) else "not_granted"


def settled_evidence(
    db: DbSession, therapist_id: int, since: datetime
) -> dict[tuple[str, str], CallEvidence]:
    """The answers settled from ``since`` on, by session (Google calendar id, event id).

    Empty while Meet evidence is off: turning it off takes back what it decided and has
    not gone yet, as a changed mark does.
    """
    if not meet_enabled(db, therapist_id):
        return {}
    rows = db.scalars(
        select(MeetEvidence).where(
            MeetEvidence.therapist_id == therapist_id, MeetEvidence.settled_at >= since
        )
    )
    return {
        (row.calendar_id, row.event_id): CallEvidence(Attendance(row.attendance), row.settled_at)
        for row in rows
        if row.settled_at is not None
    }


def as_evidence(row: MeetEvidence) -> Evidence:
    """A stored answer as the rules gave it (the attendance and the minutes, no one's name)."""
    return Evidence(
        Attendance(row.attendance), row.minutes, row.joined, row.left, row.therapist_minutes
    )


def evidence_rows(db: DbSession, therapist_id: int) -> dict[tuple[str, str], Evidence]:
    """Every stored answer (pending ones too), for the pages."""
    return {
        (row.calendar_id, row.event_id): as_evidence(row)
        for row in db.scalars(select(MeetEvidence).where(MeetEvidence.therapist_id == therapist_id))
    }


Window = tuple[str, str, datetime, datetime]  # calendar id, event id, start, end


def _unsettled(db: DbSession, therapist_id: int, now: datetime) -> dict[str, list[Window]]:
    """Ended video sessions without a settled answer, by meeting code."""
    found = db.execute(
        select(CalendarEventRow, CalendarRow.google_calendar_id)
        .join(CalendarRow, CalendarEventRow.calendar_row_id == CalendarRow.id)
        .where(
            CalendarRow.therapist_id == therapist_id,
            CalendarRow.selected.is_(True),
            CalendarEventRow.is_session.is_(True),
            CalendarEventRow.meet_code.is_not(None),
            CalendarEventRow.cancelled_at.is_(None),
            CalendarEventRow.end <= now,
            CalendarEventRow.end >= now - GIVE_UP_AFTER,
        )
    ).all()
    connection = db.scalar(
        select(GoogleConnection).where(GoogleConnection.therapist_id == therapist_id)
    )
    connected_at = connection.connected_at if connection else now
    settled = {
        (row.calendar_id, row.event_id)
        for row in db.scalars(
            select(MeetEvidence).where(
                MeetEvidence.therapist_id == therapist_id, MeetEvidence.settled_at.is_not(None)
            )
        )
    }
    by_code: dict[str, list[Window]] = defaultdict(list)
    for row, calendar_id in found:
        assert row.start is not None and row.end is not None and row.meet_code is not None
        if row.end <= connected_at or (calendar_id, row.event_id) in settled:
            continue
        by_code[row.meet_code].append((calendar_id, row.event_id, row.start, row.end))
    return by_code


def read_calls(
    reader: MeetReader, code: str, windows: list[Window], rules: MeetRules, now: datetime
) -> list[CallRecord]:
    """The calls in space ``code`` that bear on any of ``windows``, read in one batch.

    One ``conferenceRecords.list`` for all the sessions of the code, then one
    ``participants.list`` per call that overlaps one of them (and participant sessions only
    where a span leaves doubt): two calls per session in the usual case, fewer for a link
    shared by several sessions.
    """
    since = min(start for _, _, start, _ in windows) - ROOM_OPEN_BEFORE
    until = max(end for _, _, _, end in windows)

    def doubtful(span: Stay) -> bool:
        return any(needs_sessions(span, start, end, rules, now) for _, _, start, end in windows)

    records: list[Record] = reader.records(code, since, until)
    wanted = [
        r
        for r in records
        if any(
            r.start < end and (r.end is None or r.end > start - rules.early)
            for _, _, start, end in windows
        )
    ]
    return [reader.participants(record, doubtful) for record in wanted]


def _store(
    db: DbSession, therapist_id: int, window: Window, evidence: Evidence, now: datetime
) -> None:
    calendar_id, event_id, _, _ = window
    row = db.scalar(
        select(MeetEvidence).where(
            MeetEvidence.therapist_id == therapist_id,
            MeetEvidence.calendar_id == calendar_id,
            MeetEvidence.event_id == event_id,
        )
    )
    if row is None:
        row = MeetEvidence(
            therapist_id=therapist_id, calendar_id=calendar_id, event_id=event_id, checks=0
        )
        db.add(row)
    row.attendance = evidence.attendance.value
    row.minutes = evidence.minutes
    row.therapist_minutes = evidence.therapist_minutes
    row.joined = evidence.joined
    row.left = evidence.left
    row.checks = (row.checks or 0) + 1
    row.checked_at = now
    if evidence.attendance.settled and row.settled_at is None:
        row.settled_at = now
        # The follow-up looks at the session again with its answer.
        mark_changed(db, therapist_id)


def next_meet_moment(db: DbSession, therapist_id: int, now: datetime) -> datetime | None:
    """When an ended video session's answer is next looked for; None when none is awaited.

    A session's end already brings the therapist's run (the follow-up's own moment), so
    only the sessions whose record Google has not published yet are counted here.
    """
    if not meet_enabled(db, therapist_id):
        return None
    waiting = {
        (calendar_id, event_id)
        for windows in _unsettled(db, therapist_id, now).values()
        for calendar_id, event_id, _, _ in windows
    }
    if not waiting:
        return None
    looked = {
        (row.calendar_id, row.event_id): row.checked_at
        for row in db.scalars(
            select(MeetEvidence).where(
                MeetEvidence.therapist_id == therapist_id, MeetEvidence.settled_at.is_(None)
            )
        )
    }
    return min(now if looked.get(key) is None else looked[key] + LOOK_AGAIN for key in waiting)


def _scope_withdrawn(db: DbSession, therapist_id: int) -> None:
    """Forget the Meet scope: the feature is off (and says so) until it is granted again."""
    connection = db.scalar(
        select(GoogleConnection).where(GoogleConnection.therapist_id == therapist_id)
    )
    if connection is not None:
        kept = [s for s in connection.granted_scopes.split() if s != MEET_SCOPE]
        connection.granted_scopes = " ".join(kept)


def read_meet_therapist(runtime: Runtime, therapist_id: int, *, now: datetime) -> list[str]:
    """Read and store the evidence due for one therapist; lines for the cycle's report.

    :raises ReauthorizationNeeded: when the grant is gone (the cycle's boundary handles it).
    """
    with runtime.database.transaction() as db:
        if not meet_enabled(db, therapist_id):
            return []
        therapist = db.get(Therapist, therapist_id)
        assert therapist is not None
        rules = load_settings(db, therapist_id).policy.meet
        by_code = _unsettled(db, therapist_id, now)
        subject = therapist.google_subject
    if not by_code:
        return []
    apis = runtime.connections.apis(therapist_id, now)
    reader = MeetReader(apis.meet, subject)
    counts: dict[str, int] = defaultdict(int)
    for code, windows in sorted(by_code.items()):
        try:
            records = read_calls(reader, code, windows, rules, now)
        except GoogleApiError as exc:
            if exc.status == 403 and not exc.retryable:
                log.warning("therapist %s: Meet refused (403); scope withdrawn?", therapist_id)
                with runtime.database.transaction() as db:
                    _scope_withdrawn(db, therapist_id)
                    notify_once(db, therapist_id, "meet_scope", SCOPE_WITHDRAWN, now)
                return [f"therapist {therapist_id}: Meet evidence paused (access refused)"]
            log.warning(
                "therapist %s: Meet evidence waits for the next cycle (%s %s)",
                therapist_id,
                exc.status,
                exc.reason,
            )
            counts["waiting"] += len(windows)
            continue
        with runtime.database.transaction() as db:
            for window in windows:
                _, _, start, end = window
                evidence = assess_call(records, start, end, rules, now)
                _store(db, therapist_id, window, evidence, now)
                counts[evidence.attendance.value] += 1
    log.info(
        "therapist %s: Meet evidence read for %d session(s) in %d call(s) to Google",
        therapist_id,
        sum(counts.values()),
        reader.calls,
    )
    summary = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(counts.items()))
    return [f"therapist {therapist_id}: video sessions: {summary}"]


def read_meet_one(
    runtime: Runtime, therapist_id: int, *, now: datetime, dry_run: bool
) -> list[str]:
    """:func:`read_meet_therapist` inside its own boundary; nothing is read in a dry run."""
    if dry_run:
        return []
    try:
        return read_meet_therapist(runtime, therapist_id, now=now)
    except ReauthorizationNeeded:
        return [f"therapist {therapist_id}: Meet evidence waits for Google access"]
    except Exception as exc:  # never stops the follow-ups that come next
        log.error("therapist %s: Meet evidence failed (%s)", therapist_id, type(exc).__name__)
        return [f"therapist {therapist_id}: Meet evidence failed; the next cycle tries again"]
