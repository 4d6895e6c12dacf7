"""The therapist's patients: who they are, invited guests given an entry, their opaque keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...storage import hold_therapist
from ...storage.models import CalendarEventRow, CalendarRow, Patient
from ..schedule import mark_changed


def add_patient(
    db: DbSession,
    therapist_id: int,
    name: str,
    email: str | None,
    now: datetime,
    *,
    do_not_email: bool = False,
) -> Patient:
    """A patient of the directory: ``name`` as written in event titles (a name or initials).

    :raises ValueError: on an empty name.
    """
    if not name.strip():
        raise ValueError("a patient needs the name or initials used in event titles")
    patient = Patient(
        therapist_id=therapist_id,
        name=name.strip(),
        email=email,
        do_not_email=do_not_email,
        created_at=now,
    )
    db.add(patient)
    db.flush()
    return patient


def save_patient(
    db: DbSession,
    therapist_id: int,
    patient: Patient,
    *,
    name: str,
    email: str | None,
    do_not_email: bool,
    fee_exempt: bool,
    fee_exempt_reason: str,
) -> None:
    """Store the directory's fields of a patient (new or not); the next run decides anew."""
    patient.therapist_id = therapist_id
    patient.name, patient.email = name[:255], email
    patient.do_not_email, patient.fee_exempt = do_not_email, fee_exempt
    patient.fee_exempt_reason = fee_exempt_reason[:500]
    db.add(patient)
    db.flush()
    mark_changed(db, therapist_id)


def patient_key(patient_id: int) -> str:
    """The opaque key the domain and reports use for a patient (no name, no address)."""
    return f"P{patient_id}"


def link_patients(db: DbSession, therapist_id: int, now: datetime) -> None:
    """Give every invited patient a directory entry, so settings (opt-out, fees) apply.

    Call it first in its transaction: two cycles at once would otherwise both add the entry.
    """
    hold_therapist(db, therapist_id)
    rows = db.scalars(
        select(CalendarEventRow)
        .join(CalendarRow, CalendarEventRow.calendar_row_id == CalendarRow.id)
        .where(
            CalendarRow.therapist_id == therapist_id,
            CalendarEventRow.is_session.is_(True),
            CalendarEventRow.patient_id.is_(None),
            CalendarEventRow.patient_email.is_not(None),
        )
    ).all()
    if not rows:
        return
    known = {
        (p.email or "").lower(): p
        for p in db.scalars(select(Patient).where(Patient.therapist_id == therapist_id))
    }
    for row in rows:
        email = (row.patient_email or "").lower()
        patient = known.get(email)
        if patient is None:
            patient = Patient(
                therapist_id=therapist_id,
                name="",
                email=email,
                do_not_email=False,
                fee_exempt=False,
                fee_exempt_reason="",
                created_at=now,
            )
            db.add(patient)
            db.flush()
            known[email] = patient
        row.patient_id = patient.id
