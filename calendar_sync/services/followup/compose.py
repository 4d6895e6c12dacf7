"""What goes into each follow-up message: the template contexts, in the therapist's words.

Patient messages get the first name only, the appointment's date and time, the therapist's
name and practice, and links; nothing clinical. ``session.when`` is written in the
therapist's time zone, which is the practice's clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ...domain.money import Money
from ...domain.outcomes import Outcome
from ...domain.policy import Policy
from ...domain.times import when_words
from ...domain.unmarked import UnmarkedConvention
from ..accounts.settings import PracticeProfile

# The domain's own labels, keyed for templates and reports.
OUTCOME_WORDS = {outcome: outcome.label for outcome in Outcome}


def first_name(name: str | None) -> str:
    """The greeting name: the first word of what the therapist wrote, or a neutral word."""
    words = (name or "").split()
    return words[0] if words else "there"


def therapist_context(display_name: str, practice: PracticeProfile) -> dict[str, str]:
    return {
        "name": practice.signature or display_name or "Your practitioner",
        "practice": practice.practice_name,
    }


def policy_context(policy: Policy, fee: Money | None) -> dict[str, Any]:
    hours = policy.notice_window.total_seconds() / 3600
    notice = f"{int(hours)} hours" if hours == int(hours) else f"{hours:g} hours"
    return {"notice": notice, "fee": _money_words(fee) if fee is not None else None}


def _money_words(amount: Money) -> str:
    symbols = {"GBP": "£", "EUR": "€", "USD": "$"}
    symbol = symbols.get(amount.currency)
    text = amount.decimal_text()
    return f"{symbol}{text}" if symbol else f"{text} {amount.currency}"


def followup_starts(end: datetime, policy: Policy, zone: ZoneInfo) -> str | None:
    """When an unmarked session's follow-up starts, or None when nothing will go out."""
    if policy.unmarked.convention is not UnmarkedConvention.UNMARKED_IS_MISSED:
        return None
    return when_words(end + policy.unmarked.hold, zone)


def name_in_explanation(text: str, patient_id: int | None, name: str) -> str:
    """An explanation as the therapist reads it: the patient's name instead of their key.

    Explanations are stored with the opaque key (``patient P12``) so they can be printed and
    exported without naming anyone; the therapist's own pages put the name back.
    """
    if patient_id is None:
        return text
    return text.replace(f"patient P{patient_id}", name or "the patient")
