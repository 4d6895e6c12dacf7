"""Fees: when one is due, exemptions, the ledger with waivers, and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendar_sync.domain.fees import CSV_HEADER, Ledger, fee_due, ledger_csv, ledger_rows
from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.patients import Patient
from calendar_sync.domain.policy import Policy
from calendar_sync.domain.sessions import Session

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2025, 4, 7, 16, 0, tzinfo=BERLIN)
FEE = Money(6000, "EUR")
LATE_FEE = Money(3000, "EUR")
POLICY = Policy(no_show_fee=FEE, late_cancel_fee=LATE_FEE)
PATIENT = Patient("P-7")
CAL = "therapist@example.test"


def session(event_id: str = "evt1", patient_key: str = "P-7", days: int = 0) -> Session:
    start = START + timedelta(days=days)
    return Session(event_id, CAL, patient_key, start, start + timedelta(minutes=50), BERLIN)


def test_fee_for_no_show_and_late_cancel() -> None:
    assert fee_due(Outcome.NO_SHOW, False, PATIENT, POLICY) == FEE
    assert fee_due(Outcome.LATE_CANCEL, False, PATIENT, POLICY) == LATE_FEE


@pytest.mark.parametrize(
    "outcome",
    [Outcome.ATTENDED, Outcome.CANCELLED_IN_TIME, Outcome.CLINICIAN_CANCELLED, Outcome.UNMARKED],
)
def test_no_fee_for_other_outcomes(outcome: Outcome) -> None:
    assert fee_due(outcome, False, PATIENT, POLICY) is None


def test_no_fee_by_default() -> None:
    assert fee_due(Outcome.NO_SHOW, False, PATIENT, Policy()) is None


def test_exempt_or_unknown_patients_are_never_charged() -> None:
    exempt = Patient("P-8", fee_exempt=True, fee_exempt_reason="payer forbids fees")
    assert fee_due(Outcome.NO_SHOW, False, exempt, POLICY) is None
    assert fee_due(Outcome.NO_SHOW, False, None, POLICY) is None


def test_assumed_no_shows_are_charged_only_when_the_policy_says_so() -> None:
    assert fee_due(Outcome.NO_SHOW, True, PATIENT, POLICY) is None
    charging = Policy(no_show_fee=FEE, charge_assumed_no_shows=True)
    assert fee_due(Outcome.NO_SHOW, True, PATIENT, charging) == FEE


def test_ledger_charge_waive_and_balance() -> None:
    at = START + timedelta(days=1)
    ledger = Ledger("P-7", "EUR").charge(session(), FEE, "no-show", at)
    ledger = ledger.charge(session("evt2", days=7), LATE_FEE, "late cancel", at)
    assert ledger.balance() == Money(9000, "EUR")
    waived = ledger.waive(CAL, "evt1", "  family emergency ", at + timedelta(days=1))
    assert waived.balance() == Money(3000, "EUR")
    assert waived.entries[-1].reason == "family emergency"
    assert ledger.balance() == Money(9000, "EUR")  # the original is unchanged


def test_ledger_refuses_double_charges_and_double_waivers() -> None:
    ledger = Ledger("P-7", "EUR").charge(session(), FEE, "no-show", START)
    with pytest.raises(ValueError, match="already been charged"):
        ledger.charge(session(), FEE, "no-show", START)
    waived = ledger.waive(CAL, "evt1", "first miss", START)
    with pytest.raises(ValueError, match="already waived"):
        waived.waive(CAL, "evt1", "again", START)


def test_ledger_refuses_bad_waivers_and_charges() -> None:
    ledger = Ledger("P-7", "EUR")
    with pytest.raises(ValueError, match="no charge"):
        ledger.waive(CAL, "evt1", "reason", START)
    with pytest.raises(ValueError, match="needs a reason"):
        ledger.charge(session(), FEE, "no-show", START).waive(CAL, "evt1", "  ", START)
    with pytest.raises(ValueError, match="not USD"):
        ledger.charge(session(), Money(100, "USD"), "no-show", START)
    with pytest.raises(ValueError, match="another patient"):
        ledger.charge(session(patient_key="P-9"), FEE, "no-show", START)
    with pytest.raises(ValueError, match="positive"):
        ledger.charge(session(), Money(0, "EUR"), "no-show", START)


def test_csv_rows_are_ordered_signed_and_local() -> None:
    first = Ledger("P-7", "EUR").charge(session(), FEE, "no-show", START + timedelta(hours=9))
    first = first.waive(CAL, "evt1", "agreed", START + timedelta(days=2))
    second = Ledger("P-3", "EUR").charge(
        session("evt9", "P-3", 1), LATE_FEE, "late cancel", START + timedelta(days=1)
    )
    rows = ledger_rows([first, second], BERLIN)
    assert rows[0] == list(CSV_HEADER)
    # 16:00 + 9 hours is 01:00 the next day in Berlin: the local date is used.
    assert rows[1] == [
        "2025-04-08",
        "P-7",
        "evt1",
        "2025-04-07T16:00+02:00",
        "charge",
        "60.00",
        "EUR",
        "no-show",
    ]
    assert [row[1] for row in rows[1:]] == ["P-7", "P-3", "P-7"]
    assert rows[3][4:6] == ["waiver", "-60.00"]
    total = sum(int(row[5].replace(".", "")) for row in rows[1:])
    assert total == (first.balance() + second.balance()).minor_units


def test_csv_text_parses_back_and_defuses_formulas() -> None:
    ledger = Ledger("P-7", "EUR").charge(session(), FEE, "no-show", START)
    ledger = ledger.waive(CAL, "evt1", "=HYPERLINK(1)", START)
    text = ledger_csv([ledger], BERLIN)
    assert text.endswith("\r\n")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed == ledger_rows([ledger], BERLIN)
    assert parsed[-1][-1] == "'=HYPERLINK(1)"


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(4000, "GBP"), "GBP 40.00"),
        (Money(-550, "EUR"), "EUR -5.50"),
        (Money(3000, "JPY"), "JPY 3000"),
        (Money(1500, "KWD"), "KWD 1.500"),
    ],
)
def test_money_text(money: Money, text: str) -> None:
    assert str(money) == text


def test_money_rules() -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(100, "eur")
    with pytest.raises(ValueError, match="cannot combine"):
        Money(1, "EUR") + Money(1, "USD")
    assert Money(100, "EUR") - Money(30, "EUR") == Money(70, "EUR")
