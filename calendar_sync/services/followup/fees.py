"""The fee ledger: charges as recorded, waivers with their reason, the practice's CSV."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.fees import EntryKind, Ledger, LedgerEntry, ledger_csv
from ...domain.money import Money
from ...storage.models import FeeEntry, Patient
from ..patients.directory import patient_key


def ledger_for(db: DbSession, therapist_id: int, key: str) -> Ledger | None:
    """The patient's ledger; a charge still held with its follow-up is not on it yet."""
    rows = db.scalars(
        select(FeeEntry)
        .where(
            FeeEntry.therapist_id == therapist_id,
            FeeEntry.patient_key == key,
            FeeEntry.held_until.is_(None),
        )
        .order_by(FeeEntry.created_at, FeeEntry.id)
    ).all()
    if not rows:
        return None
    entries = tuple(
        LedgerEntry(
            key,
            row.calendar_id,
            row.event_id,
            row.session_start,
            EntryKind(row.kind),
            Money(row.minor_units, row.currency),
            row.created_at,
            row.reason,
        )
        for row in rows
    )
    return Ledger(key, rows[0].currency, entries)


def fees_csv(db: DbSession, therapist_id: int, zone: ZoneInfo) -> str:
    """Every patient's fee ledger as CSV, for the practice's accounts."""
    keys = [
        patient_key(pid)
        for pid in db.scalars(select(Patient.id).where(Patient.therapist_id == therapist_id))
    ]
    ledgers = [ledger for key in keys if (ledger := ledger_for(db, therapist_id, key))]
    return ledger_csv(ledgers, zone)


def waive(
    db: DbSession,
    therapist_id: int,
    key: str,
    calendar_id: str,
    event_id: str,
    reason: str,
    now: datetime,
) -> None:
    """Waive one charge, with the reason.

    :raises ValueError: no reason, nothing charged, or already waived (the domain's rules).
    """
    ledger = ledger_for(db, therapist_id, key)
    if ledger is None:
        raise ValueError("there is no charge for this session")
    waived = ledger.waive(calendar_id, event_id, reason, now)
    entry = waived.entries[-1]
    charge = db.scalar(
        select(FeeEntry).where(
            FeeEntry.therapist_id == therapist_id,
            FeeEntry.calendar_id == calendar_id,
            FeeEntry.event_id == event_id,
            FeeEntry.kind == EntryKind.CHARGE.value,
        )
    )
    db.add(
        FeeEntry(
            therapist_id=therapist_id,
            patient_id=charge.patient_id if charge else None,
            patient_key=key,
            calendar_id=calendar_id,
            event_id=event_id,
            kind=EntryKind.WAIVER.value,
            minor_units=entry.amount.minor_units,
            currency=entry.amount.currency,
            reason=entry.reason,
            session_start=entry.session_start,
            created_at=now,
        )
    )
    db.flush()
