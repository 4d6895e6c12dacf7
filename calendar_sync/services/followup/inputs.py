"""What the domain decides on for one therapist: sessions, marks, patients and policy."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.decide import decide
from ...domain.decisions import Decision, Delivery, PlannedAction
from ...domain.marks import Mark
from ...domain.meet import CallEvidence
from ...domain.ownership import Ownership, ownership
from ...domain.patients import Patient as DomainPatient
from ...domain.policy import ActionKind
from ...domain.sessions import Session
from ...storage.models import (
    CalendarEventRow,
    CalendarRow,
    FollowUpAction,
    GoogleConnection,
    Patient,
    Therapist,
)
from ..accounts.settings import (
    TherapistSettings,
    follow_ups_from,
    load_settings,
    therapist_zone,
)
from ..attendance.meet import settled_evidence
from ..patients.directory import patient_key
from ..sync.event_store import as_session
from .marks import stored_marks

log = logging.getLogger(__name__)

#: The kinds that are an email to the patient (one conversation per miss).
EMAIL_KINDS = frozenset(
    {ActionKind.EMAIL_CHECKIN, ActionKind.EMAIL_POLICY_REMINDER, ActionKind.BARRIER_SURVEY}
)


@dataclass
class Inputs:
    """Everything ``decide`` needs for one therapist, plus what the effects need."""

    therapist: Therapist
    settings: TherapistSettings
    connected_at: datetime
    zone: ZoneInfo
    sessions: list[Session]
    marks: list[Mark]
    patients: dict[str, DomainPatient]
    patient_rows: dict[str, Patient]
    event_rows: dict[tuple[str, str], CalendarEventRow]
    #: Follow-ups reach patients for misses due from then; None while they are off.
    follow_ups_from: datetime | None = None
    #: Sessions in a calendar another therapist also selected that neither organised nor
    #: created (``domain.ownership``): nothing is done for them but telling the therapist.
    contested: frozenset[tuple[str, str]] = frozenset()
    #: What video calls showed, by session, while Meet evidence is on (``domain.meet``).
    evidence: dict[tuple[str, str], CallEvidence] = field(default_factory=dict)


def _key_for(row: CalendarEventRow, by_email: dict[str, int]) -> str | None:
    if row.patient_id is not None:
        return patient_key(row.patient_id)
    email = (row.patient_email or "").lower()
    if not email:
        return None
    if email in by_email:
        return patient_key(by_email[email])
    return "N" + hashlib.sha256(email.encode()).hexdigest()[:10]


def load_inputs(db: DbSession, therapist_id: int, now: datetime) -> Inputs | None:
    """The therapist's recent sessions as the domain sees them; None when not connected."""
    therapist = db.get(Therapist, therapist_id)
    connection = db.scalar(
        select(GoogleConnection).where(GoogleConnection.therapist_id == therapist_id)
    )
    if therapist is None or connection is None:
        return None
    settings = load_settings(db, therapist_id)
    policy = settings.policy
    zone = therapist_zone(db, therapist)
    # Far enough back to count every miss on the ladder of a session still being acted on.
    since = now - policy.rolling_window - policy.late_bound - timedelta(days=2)
    found = db.execute(
        select(CalendarEventRow, CalendarRow)
        .join(CalendarRow, CalendarEventRow.calendar_row_id == CalendarRow.id)
        .where(
            CalendarRow.therapist_id == therapist_id,
            CalendarRow.selected.is_(True),
            CalendarEventRow.is_session.is_(True),
            CalendarEventRow.start >= since,
            CalendarEventRow.start <= now,
        )
    ).all()
    patient_rows = {
        patient_key(p.id): p
        for p in db.scalars(select(Patient).where(Patient.therapist_id == therapist_id))
    }
    by_email = {(p.email or "").lower(): p.id for p in patient_rows.values() if p.email}
    therapists = {email.lower() for email in db.scalars(select(Therapist.email))}
    shared = _shared_calendars(db, therapist_id, {calendar.id for _row, calendar in found})
    sessions: list[Session] = []
    event_rows: dict[tuple[str, str], CalendarEventRow] = {}
    contested: set[tuple[str, str]] = set()
    for row, calendar in found:
        # Our own proposals become sessions only once the patient accepts them.
        if row.created_by_service and row.patient_response != "accepted":
            continue
        owner = ownership(
            therapist.email,
            row.organizer_email,
            row.creator_email,
            therapists,
            shared=calendar.google_calendar_id in shared,
        )
        if owner is Ownership.ANOTHERS:
            continue
        try:
            session = as_session(row, calendar, zone)
        except ValueError:
            log.warning("therapist %s: an event without usable times was skipped", therapist_id)
            continue
        session = replace(session, patient_key=_key_for(row, by_email))
        if session.ref in event_rows:
            continue
        event_rows[session.ref] = row
        sessions.append(session)
        if owner is Ownership.CONTESTED:
            contested.add(session.ref)
    refs = set(event_rows)
    marks = [mark for mark in stored_marks(db, therapist_id) if mark.ref in refs]
    patients = {
        key: DomainPatient(
            key=key,
            do_not_email=row.do_not_email,
            fee_exempt=row.fee_exempt,
            fee_exempt_reason=row.fee_exempt_reason,
        )
        for key, row in patient_rows.items()
    }
    # Invited patients not yet in the directory get an entry at the next real cycle
    # (``link_patients``); until then, and in a dry run, they count with default settings.
    for session in sessions:
        if session.patient_key and session.patient_key not in patients:
            patients[session.patient_key] = DomainPatient(key=session.patient_key)
    return Inputs(
        therapist,
        settings,
        connection.connected_at,
        zone,
        sessions,
        marks,
        patients,
        patient_rows,
        event_rows,
        follow_ups_from(db, therapist_id),
        frozenset(contested),
        # An answer is settled after its session ended, so none older than the sessions.
        settled_evidence(db, therapist_id, since),
    )


def _shared_calendars(db: DbSession, therapist_id: int, calendar_row_ids: set[int]) -> set[str]:
    """Google ids of those calendars that another connected therapist selected too."""
    if not calendar_row_ids:
        return set()
    mine = select(CalendarRow.google_calendar_id).where(CalendarRow.id.in_(calendar_row_ids))
    return set(
        db.scalars(
            select(CalendarRow.google_calendar_id)
            .join(GoogleConnection, GoogleConnection.therapist_id == CalendarRow.therapist_id)
            .where(
                CalendarRow.therapist_id != therapist_id,
                CalendarRow.selected.is_(True),
                CalendarRow.gone_at.is_(None),
                CalendarRow.google_calendar_id.in_(mine),
            )
        )
    )


def decisions_for(inputs: Inputs, now: datetime) -> list[Decision]:
    """What the domain decides for these inputs at ``now``."""
    return decide(
        inputs.sessions,
        inputs.marks,
        inputs.patients,
        inputs.settings.policy,
        inputs.connected_at,
        now,
        therapist_id=inputs.therapist.id,
        evidence=inputs.evidence,
    )


class _Always:
    """No limit from when follow-ups act (dry runs of a hypothetical policy, tests)."""


ALWAYS = _Always()


def pending(
    db: DbSession,
    therapist_id: int,
    decisions: list[Decision],
    acts_from: datetime | _Always | None = ALWAYS,
) -> list[tuple[Decision, list[PlannedAction]]]:
    """Each decision with the actions not yet recorded (by idempotency key).

    One conversation per miss: once an email to the patient was decided about a session
    (and not withdrawn), no other email about it is, whatever a later mark, ladder step or
    setting says; later misses follow the ladder as before.

    ``acts_from`` (the therapist's ``follow_ups_from``): nothing reaches a patient, and no
    fee is charged, by itself for a miss due before it. A miss already acted on gets nothing
    new; one never decided (its calendar was read late, say) is offered to the therapist.
    None: follow-ups are off, and nothing for patients is recorded at all.
    """
    keys = [action.idempotency_key for d in decisions for action in d.actions]
    done: set[str] = set()
    for offset in range(0, len(keys), 500):
        done.update(
            db.scalars(
                select(FollowUpAction.key).where(
                    FollowUpAction.therapist_id == therapist_id,
                    FollowUpAction.key.in_(keys[offset : offset + 500]),
                )
            )
        )
    emailed = _emailed(db, therapist_id, decisions)
    acted = _acted_on(db, therapist_id, decisions)
    result = []
    for decision in decisions:
        new = [a for a in decision.actions if a.idempotency_key not in done]
        if decision.session.ref in emailed:
            new = [a for a in new if a.kind not in EMAIL_KINDS]
        if not isinstance(acts_from, _Always):
            new = _within_follow_ups(decision, new, acts_from, decision.session.ref in acted)
        if new:
            result.append((decision, new))
    return result


_FOR_PATIENTS = {kind for kind in ActionKind if kind.patient_facing} | {ActionKind.RECORD_FEE}


def _within_follow_ups(
    decision: Decision, actions: list[PlannedAction], acts_from: datetime | None, acted: bool
) -> list[PlannedAction]:
    session = decision.session
    due = max(decision.known_at or session.end, session.end)
    if acts_from is not None and due >= acts_from:
        return actions
    kept = [a for a in actions if a.kind not in _FOR_PATIENTS]
    if acts_from is None or acted:
        return kept
    return kept + [
        replace(a, delivery=Delivery.OFFER_TO_THERAPIST) for a in actions if a.kind.patient_facing
    ]


def _acted_on(db: DbSession, therapist_id: int, decisions: list[Decision]) -> set[tuple[str, str]]:
    """The sessions among ``decisions`` with anything already decided for the patient."""
    refs = {d.session.ref for d in decisions}
    if not refs:
        return set()
    calendars = {calendar_id for calendar_id, _ in refs}
    return {
        (calendar_id, event_id)
        for calendar_id, event_id in db.execute(
            select(FollowUpAction.calendar_id, FollowUpAction.event_id).where(
                FollowUpAction.therapist_id == therapist_id,
                FollowUpAction.calendar_id.in_(calendars),
                FollowUpAction.kind.in_([kind.value for kind in _FOR_PATIENTS]),
                FollowUpAction.status != "withdrawn",
            )
        )
        if (calendar_id, event_id) in refs
    }


def _emailed(db: DbSession, therapist_id: int, decisions: list[Decision]) -> set[tuple[str, str]]:
    """The sessions among ``decisions`` that already have an email to the patient."""
    refs = {d.session.ref for d in decisions if any(a.kind in EMAIL_KINDS for a in d.actions)}
    if not refs:
        return set()
    found: set[tuple[str, str]] = set()
    calendars = {calendar_id for calendar_id, _ in refs}
    for calendar_id, event_id in db.execute(
        select(FollowUpAction.calendar_id, FollowUpAction.event_id).where(
            FollowUpAction.therapist_id == therapist_id,
            FollowUpAction.calendar_id.in_(calendars),
            FollowUpAction.kind.in_([kind.value for kind in EMAIL_KINDS]),
            FollowUpAction.status != "withdrawn",
        )
    ):
        if (calendar_id, event_id) in refs:
            found.add((calendar_id, event_id))
    return found
