"""What one step of a reschedule proposal needs: its row, rules, calendars and busy time.

Also the plain words of the proposal: the invitation's title and description (seen by the
patient: warm, short, no clinical words) and the notices left for the therapist.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from ...domain.slots import RescheduleRules, Slot
from ...domain.times import format_local
from ...google import GoogleApiError
from ...google.client import GoogleApis
from ...google.events import events_between
from ...google.freebusy import free_busy, merge
from ...storage.models import CalendarEventRow, CalendarRow, RescheduleProposal, Therapist
from ..accounts.settings import load_settings, therapist_zone
from ..runtime import Runtime


class ProposalState(StrEnum):
    """Where a proposal stands; the transitions are in docs/reschedule.md."""

    PLANNED = "planned"
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    NO_SLOT = "no_slot"


OPEN_STATES = (ProposalState.PLANNED, ProposalState.PROPOSED)

Sleep = Callable[[float], None]


def proposal_event_id(key: str, attempt: int) -> str:
    """Our event's id for one attempt: 32 characters of base32hex (Google's alphabet)."""
    digest = hashlib.sha256(f"{key}\x00{attempt}".encode()).digest()[:20]
    return base64.b32hexencode(digest).decode().lower()


def rules_for(db: DbSession, therapist_id: int) -> RescheduleRules:
    """The therapist's reschedule rules (stored with their settings), else the defaults."""
    return load_settings(db, therapist_id).reschedule


@dataclass
class Context:
    """One proposal row (detached) and everything around it, loaded in one transaction."""

    runtime: Runtime
    apis: GoogleApis
    row: RescheduleProposal
    rules: RescheduleRules
    #: The therapist's hold before anything reaches a patient (``Policy.patient_hold``).
    hold: timedelta
    zone: ZoneInfo
    therapist_name: str
    calendar_row_id: int | None
    calendar_ids: list[str]
    response: str | None
    synced_cancelled: bool
    sleep: Sleep
    blocked: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def length(self) -> timedelta:
        """The missed session's length: every time offered is as long."""
        return self.row.missed_end - self.row.missed_start

    def local(self, moment: datetime) -> str:
        return format_local(moment, self.zone)


def load_context(
    db: DbSession, runtime: Runtime, apis: GoogleApis, proposal_id: int, now: datetime, sleep: Sleep
) -> Context:
    row = db.get_one(RescheduleProposal, proposal_id)
    therapist = db.get_one(Therapist, row.therapist_id)
    settings = load_settings(db, row.therapist_id)
    calendars = list(
        db.scalars(
            select(CalendarRow).where(
                CalendarRow.therapist_id == row.therapist_id, CalendarRow.gone_at.is_(None)
            )
        )
    )
    own = next((c for c in calendars if c.google_calendar_id == row.calendar_id), None)
    synced = None
    if own is not None:
        synced = db.scalar(
            select(CalendarEventRow).where(
                CalendarEventRow.calendar_row_id == own.id,
                CalendarEventRow.event_id == row.event_id,
            )
        )
    # The patient's other sessions, and the times they already declined for this miss.
    blocked = [
        (start, end)
        for start, end in db.execute(
            select(CalendarEventRow.start, CalendarEventRow.end)
            .join(CalendarRow, CalendarRow.id == CalendarEventRow.calendar_row_id)
            .where(
                CalendarRow.therapist_id == row.therapist_id,
                func.lower(CalendarEventRow.patient_email) == row.patient_email.lower(),
                CalendarEventRow.cancelled_at.is_(None),
                CalendarEventRow.event_id != row.event_id,
                CalendarEventRow.end > now,
            )
        )
        if start is not None and end is not None
    ]
    blocked += [
        (start, end)
        for start, end in db.execute(
            select(RescheduleProposal.slot_start, RescheduleProposal.slot_end).where(
                RescheduleProposal.therapist_id == row.therapist_id,
                RescheduleProposal.key == row.key,
                RescheduleProposal.attempt < row.attempt,
            )
        )
        if start is not None and end is not None
    ]
    # Times chosen for the therapist's other offers that still wait out their hold: not in
    # the calendar yet, but promised in an email already.
    blocked += [
        (start, end)
        for start, end in db.execute(
            select(RescheduleProposal.slot_start, RescheduleProposal.slot_end).where(
                RescheduleProposal.therapist_id == row.therapist_id,
                RescheduleProposal.id != row.id,
                RescheduleProposal.state == ProposalState.PLANNED,
            )
        )
        if start is not None and end is not None
    ]
    return Context(
        runtime=runtime,
        apis=apis,
        row=row,
        rules=settings.reschedule,
        hold=settings.policy.patient_hold,
        zone=therapist_zone(db, therapist),
        therapist_name=therapist.display_name or therapist.email,
        calendar_row_id=own.id if own is not None else None,
        calendar_ids=[c.google_calendar_id for c in calendars if c.selected],
        response=synced.patient_response if synced is not None else None,
        synced_cancelled=synced is not None and synced.cancelled_at is not None,
        sleep=sleep,
        blocked=blocked,
    )


def busy(context: Context, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Busy time between ``start`` and ``end``, our own event of this attempt left out.

    Free/busy merges a calendar's events, so it cannot leave one out: the proposal's own
    calendar is listed event by event instead, every other selected calendar is asked
    through free/busy.

    :raises GoogleApiError: when Google cannot tell (never guess a time is free).
    """
    row = context.row
    others = [c for c in context.calendar_ids if c != row.calendar_id]
    spans = list(context.blocked)
    if others:
        spans += free_busy(context.apis, others, start, end, sleep=context.sleep)
    for event in events_between(context.apis, row.calendar_id, start, end, sleep=context.sleep):
        if (
            event.event_id == row.event_id
            or event.cancelled
            or event.transparency == "transparent"
            or event.my_response == "declined"
            or event.start is None
            or event.end is None
        ):
            continue
        spans.append((event.start, event.end))
    return merge(spans)


def conflicts(context: Context, slot: Slot) -> bool:
    """Whether anything but our own event now sits within the buffer around ``slot``."""
    buffer = context.rules.buffer
    spans = busy(context, slot.start - buffer, slot.end + buffer)
    return any(slot.overlaps(a - buffer, b + buffer) for a, b in spans)


def summary(context: Context) -> str:
    return f"Proposed new time — {context.therapist_name}"


def description(context: Context, deadline: datetime, link: str | None) -> str:
    lines = [
        f"{context.therapist_name} would like to offer you this new time for your next "
        f"appointment, in place of the one on {context.local(context.row.missed_start)}.",
        "",
        "This is a proposal: please answer Yes to accept it or No to decline it, with the "
        "buttons on this invitation.",
    ]
    if link:
        lines += ["", f"If another time suits you better, you can pick one here: {link}"]
    lines += [
        "",
        f"If we have not heard from you by {context.local(deadline)}, the offer will be "
        "withdrawn and the time freed.",
    ]
    return "\n".join(lines)


def words_for_error(exc: GoogleApiError) -> str:
    """What went wrong with Google, in plain words for the dashboard (no personal data)."""
    if exc.status == 0:
        return "Google could not be reached; the next cycle tries again."
    if exc.retryable:
        return "Google asked us to slow down; the next cycle tries again."
    if exc.status in (401, 403):
        return "Google refused access to the calendar."
    if exc.status == 404:
        return "A calendar needed to find a free time is not available."
    return f"Google answered with an error ({exc.status} {exc.reason}); the next cycle tries again."
