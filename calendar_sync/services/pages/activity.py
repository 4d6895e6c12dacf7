"""What the service did and why, read back from the tables it already keeps.

Nothing new is logged for this: every entry is derived from the follow-up actions, the
outbox, the proposals, the marks, the notices and the calendars' sync times. Calendars keep
only their latest sync and error, so older syncs do not appear.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.orm import Session as DbSession

from ...domain.outcomes import Outcome
from ...domain.policy import ActionKind
from ...domain.times import when_words
from ...storage.models import (
    CalendarEventRow,
    CalendarRow,
    FollowUpAction,
    OutboxMessage,
    RescheduleProposal,
    SessionMark,
    TherapistNotice,
)
from ..followup.compose import OUTCOME_WORDS
from ..outbox.dispatch import STATUS_WORDS

KINDS = ("sync", "decision", "email", "proposal", "mark", "notice")
LIMIT = 300
CSV_HEADER = ("when", "kind", "what", "why")

# Spreadsheets run a cell starting with one of these as a formula (as in domain.fees).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_TO = {"patient": "the patient", "therapist": "you"}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    what: str
    why: str = ""
    calendar_id: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class Window:
    """[since, until) in UTC; either end may be open."""

    since: datetime | None = None
    until: datetime | None = None

    def holds(self, at: datetime | None) -> bool:
        return (
            at is not None
            and (self.since is None or at >= self.since)
            and (self.until is None or at < self.until)
        )

    def around(self, first: Any, last: Any) -> list[ColumnElement[bool]]:
        """Rows whose entries (from ``first`` to ``last``) may fall inside the window."""
        conditions: list[ColumnElement[bool]] = []
        if self.since is not None:
            conditions.append(last >= self.since)
        if self.until is not None:
            conditions.append(first < self.until)
        return conditions


def _syncs(
    db: DbSession, therapist_id: int, window: Window, limit: int, zone: ZoneInfo
) -> list[Entry]:
    found = []
    for cal in db.scalars(select(CalendarRow).where(CalendarRow.therapist_id == therapist_id)):
        name = f"“{cal.summary or 'Calendar'}”"
        if cal.last_sync_at is not None:
            full = " in full" if cal.last_full_sync_at == cal.last_sync_at else ""
            found.append(Entry(cal.last_sync_at, "sync", f"Calendar {name} read{full}"))
        if cal.last_error_at is not None and cal.last_error:
            found.append(
                Entry(cal.last_error_at, "sync", f"Calendar {name} not read", cal.last_error)
            )
    return found


def _decisions(
    db: DbSession, therapist_id: int, window: Window, limit: int, zone: ZoneInfo
) -> list[Entry]:
    at = FollowUpAction.created_at
    query = select(FollowUpAction).where(
        FollowUpAction.therapist_id == therapist_id, *window.around(at, at)
    )
    found = []
    for action in db.scalars(query.order_by(at.desc()).limit(limit)):
        outcome = OUTCOME_WORDS[Outcome(action.outcome)]
        step = f", step {action.step}" if action.step else ""
        status = "" if action.status == "queued" else f": {action.status.replace('_', ' ')}"
        what = f"Decided: {ActionKind(action.kind).description} ({outcome}{step}){status}"
        found.append(
            Entry(
                action.created_at,
                "decision",
                what,
                action.explanation,
                action.calendar_id,
                action.event_id,
            )
        )
    return found


def _emails(
    db: DbSession, therapist_id: int, window: Window, limit: int, zone: ZoneInfo
) -> list[Entry]:
    query = select(OutboxMessage).where(
        OutboxMessage.therapist_id == therapist_id,
        *window.around(OutboxMessage.created_at, OutboxMessage.updated_at),
    )
    found = []
    for message in db.scalars(query.order_by(OutboxMessage.updated_at.desc()).limit(limit)):
        subject = f"“{message.subject}” to {_TO.get(message.recipient_role, 'someone')}"
        found.append(Entry(message.created_at, "email", f"Email queued: {subject}"))
        if message.sent_at is not None:
            found.append(Entry(message.sent_at, "email", f"Email sent: {subject}"))
        elif message.status != "pending":
            words = STATUS_WORDS.get(message.status, message.status)
            found.append(
                Entry(
                    message.updated_at,
                    "email",
                    f"Email {words}: {subject}",
                    message.last_error or "",
                )
            )
    return found


def _proposals(
    db: DbSession, therapist_id: int, window: Window, limit: int, zone: ZoneInfo
) -> list[Entry]:
    query = select(RescheduleProposal).where(
        RescheduleProposal.therapist_id == therapist_id,
        *window.around(RescheduleProposal.created_at, RescheduleProposal.updated_at),
    )
    found = []
    for row in db.scalars(query.order_by(RescheduleProposal.updated_at.desc()).limit(limit)):
        ref = (row.missed_calendar_id, row.missed_event_id)
        what = f"New time to offer (attempt {row.attempt})"
        found.append(Entry(row.created_at, "proposal", what, "", *ref))
        if row.state != "planned":
            slot = f" {when_words(row.slot_start, zone)}" if row.slot_start else ""
            what = f"New time{slot}: {row.state.replace('_', ' ')}"
            found.append(Entry(row.updated_at, "proposal", what, row.last_error or "", *ref))
    return found


_MARKED_BY = {"dashboard": "on the dashboard", "calendar_panel": "from the calendar"}


def _marks(
    db: DbSession, therapist_id: int, window: Window, limit: int, zone: ZoneInfo
) -> list[Entry]:
    at = SessionMark.marked_at
    query = select(SessionMark).where(
        SessionMark.therapist_id == therapist_id, *window.around(at, at)
    )
    found = []
    for mark in db.scalars(query.order_by(at.desc()).limit(limit)):
        by = _MARKED_BY.get(mark.source, "by the link in an email")
        what = f"Marked {OUTCOME_WORDS[Outcome(mark.outcome)]} {by}"
        found.append(Entry(mark.marked_at, "mark", what, "", mark.calendar_id, mark.event_id))
    return found


def _notices(
    db: DbSession, therapist_id: int, window: Window, limit: int, zone: ZoneInfo
) -> list[Entry]:
    at = TherapistNotice.created_at
    query = select(TherapistNotice).where(
        TherapistNotice.therapist_id == therapist_id, *window.around(at, at)
    )
    return [
        Entry(notice.created_at, "notice", notice.text)
        for notice in db.scalars(query.order_by(at.desc()).limit(limit))
    ]


_READERS = {
    "sync": _syncs,
    "decision": _decisions,
    "email": _emails,
    "proposal": _proposals,
    "mark": _marks,
    "notice": _notices,
}


def activity(
    db: DbSession,
    therapist_id: int,
    zone: ZoneInfo,
    *,
    kinds: frozenset[str] = frozenset(KINDS),
    window: Window | None = None,
    limit: int = LIMIT,
) -> list[Entry]:
    """The therapist's activity inside ``window``, newest first, at most ``limit`` entries."""
    window = window or Window()
    found = [
        entry
        for kind in KINDS
        if kind in kinds
        for entry in _READERS[kind](db, therapist_id, window, limit, zone)
        if window.holds(entry.at)
    ]
    found.sort(key=lambda e: (e.at, -KINDS.index(e.kind)), reverse=True)
    return _with_sessions(db, therapist_id, found[:limit], zone)


def _with_sessions(
    db: DbSession, therapist_id: int, entries: list[Entry], zone: ZoneInfo
) -> list[Entry]:
    """Name the session each entry is about by its date and time."""
    refs = {(e.calendar_id, e.event_id) for e in entries if e.calendar_id and e.event_id}
    if not refs:
        return entries
    starts = {
        (cal_id, event_id): start
        for cal_id, event_id, start in db.execute(
            select(
                CalendarRow.google_calendar_id, CalendarEventRow.event_id, CalendarEventRow.start
            )
            .join(CalendarRow, CalendarEventRow.calendar_row_id == CalendarRow.id)
            .where(
                CalendarRow.therapist_id == therapist_id,
                tuple_(CalendarRow.google_calendar_id, CalendarEventRow.event_id).in_(list(refs)),
            )
        )
    }
    named = []
    for entry in entries:
        start = starts.get((entry.calendar_id or "", entry.event_id or ""))
        what = entry.what + (f", session of {when_words(start, zone)}" if start else "")
        named.append(
            Entry(entry.at, entry.kind, what, entry.why, entry.calendar_id, entry.event_id)
        )
    return named


def spreadsheet_safe(text: str) -> str:
    """The text, prefixed so a spreadsheet shows it rather than running it as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def activity_csv(entries: list[Entry], zone: ZoneInfo) -> str:
    """The entries as CSV (header first), times in the therapist's zone."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for entry in entries:
        writer.writerow(
            [
                entry.at.astimezone(zone).isoformat(timespec="minutes"),
                entry.kind,
                spreadsheet_safe(entry.what),
                spreadsheet_safe(entry.why),
            ]
        )
    return buffer.getvalue()
