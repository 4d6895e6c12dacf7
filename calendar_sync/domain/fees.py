"""Missed-appointment fees: when one is due, and a per-patient ledger of charges and waivers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.patients import Patient
from calendar_sync.domain.policy import Policy
from calendar_sync.domain.sessions import Session
from calendar_sync.domain.times import to_utc

CSV_HEADER = (
    "entry_date",
    "patient",
    "session_id",
    "session_start",
    "entry",
    "amount",
    "currency",
    "reason",
)

# Spreadsheets run a cell starting with these as a formula; a waiver reason is free text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def fee_due(
    outcome: Outcome, assumed: bool, patient: Patient | None, policy: Policy
) -> Money | None:
    """The fee to charge for a session, or ``None``.

    A fee applies to a no-show or late cancel when the policy sets one, unless the patient
    is exempt or unknown, and, unless the policy says otherwise, not when the no-show is
    only assumed because nobody marked the session.
    """
    if patient is None or patient.fee_exempt:
        return None
    if assumed and not policy.charge_assumed_no_shows:
        return None
    return policy.fee_for(outcome)


class EntryKind(Enum):
    """A line in the ledger."""

    CHARGE = "charge"
    WAIVER = "waiver"


@dataclass(frozen=True)
class LedgerEntry:
    """A charge or a waiver for one session. ``amount`` is always positive."""

    patient_key: str
    calendar_id: str
    event_id: str
    session_start: datetime
    kind: EntryKind
    amount: Money
    at: datetime
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "session_start", to_utc(self.session_start, "session_start"))
        object.__setattr__(self, "at", to_utc(self.at, "LedgerEntry.at"))
        if self.amount.minor_units <= 0:
            raise ValueError("a ledger amount must be positive")

    @property
    def signed(self) -> Money:
        """The entry's effect on the balance: charges add, waivers subtract."""
        if self.kind is EntryKind.CHARGE:
            return self.amount
        return Money(-self.amount.minor_units, self.amount.currency)


@dataclass(frozen=True)
class Ledger:
    """One patient's fees, in one currency. Operations return a new ledger.

    A session is charged at most once and a charge is waived at most once, so replaying
    the same decision cannot double a fee.
    """

    patient_key: str
    currency: str
    entries: tuple[LedgerEntry, ...] = ()

    def _find(self, calendar_id: str, event_id: str, kind: EntryKind) -> LedgerEntry | None:
        for entry in self.entries:
            if (entry.calendar_id, entry.event_id, entry.kind) == (calendar_id, event_id, kind):
                return entry
        return None

    def charge(self, session: Session, amount: Money, reason: str, at: datetime) -> Ledger:
        """Charge ``amount`` for ``session``.

        :raises ValueError: for another patient's session, another currency, or a session
            already charged.
        """
        if session.patient_key != self.patient_key:
            raise ValueError("the session belongs to another patient")
        if amount.currency != self.currency:
            raise ValueError(f"this ledger is in {self.currency}, not {amount.currency}")
        if self._find(session.calendar_id, session.event_id, EntryKind.CHARGE) is not None:
            raise ValueError("this session has already been charged")
        entry = LedgerEntry(
            self.patient_key,
            session.calendar_id,
            session.event_id,
            session.start,
            EntryKind.CHARGE,
            amount,
            at,
            reason,
        )
        return Ledger(self.patient_key, self.currency, (*self.entries, entry))

    def waive(self, calendar_id: str, event_id: str, reason: str, at: datetime) -> Ledger:
        """Waive the whole charge for one session, saying why.

        :raises ValueError: without a reason, when nothing was charged, or when the charge
            was already waived.
        """
        if not reason.strip():
            raise ValueError("a waiver needs a reason")
        charge = self._find(calendar_id, event_id, EntryKind.CHARGE)
        if charge is None:
            raise ValueError("there is no charge for this session")
        if self._find(calendar_id, event_id, EntryKind.WAIVER) is not None:
            raise ValueError("this charge was already waived")
        entry = LedgerEntry(
            self.patient_key,
            calendar_id,
            event_id,
            charge.session_start,
            EntryKind.WAIVER,
            charge.amount,
            at,
            reason.strip(),
        )
        return Ledger(self.patient_key, self.currency, (*self.entries, entry))

    def balance(self) -> Money:
        """What the patient owes in fees: charges minus waivers."""
        total = Money(0, self.currency)
        for entry in self.entries:
            total = total + entry.signed
        return total


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def ledger_rows(ledgers: Iterable[Ledger], zone: ZoneInfo) -> list[list[str]]:
    """The ledgers as CSV rows (header first), dates in the therapist's time zone.

    Rows are ordered by entry time, then patient and session, so exports are reproducible.
    Waivers show a negative amount, so the amount column sums to the balance.
    """
    entries = sorted(
        (entry for ledger in ledgers for entry in ledger.entries),
        key=lambda e: (e.at, e.patient_key, e.calendar_id, e.event_id, e.kind.value),
    )
    rows = [list(CSV_HEADER)]
    for entry in entries:
        rows.append(
            [
                entry.at.astimezone(zone).date().isoformat(),
                _cell(entry.patient_key),
                _cell(entry.event_id),
                entry.session_start.astimezone(zone).isoformat(timespec="minutes"),
                entry.kind.value,
                entry.signed.decimal_text(),
                entry.amount.currency,
                _cell(entry.reason),
            ]
        )
    return rows


def ledger_csv(ledgers: Iterable[Ledger], zone: ZoneInfo) -> str:
    """:func:`ledger_rows` as CSV text; the adapter decides where it is written."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(ledger_rows(ledgers, zone))
    return buffer.getvalue()
