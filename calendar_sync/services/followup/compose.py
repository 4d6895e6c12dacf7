"""What goes into each follow-up message: the template contexts, in the therapist's words.

Patient messages get the first name only, the appointment's date and time, the therapist's
name and practice, and links; nothing clinical. ``session.when`` is written in the
therapist's time zone, which is the practice's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ...domain.money import Money
from ...domain.outcomes import Outcome
from ...domain.policy import ActionKind, Policy
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


#: The parts of a ladder step a patient's check-in email is made of, as its template names
#: them in ``ticked``; the email says exactly the ticked ones.
CHECKIN_PARTS = {
    ActionKind.EMAIL_CHECKIN: "checkin",
    ActionKind.PROPOSE_RESCHEDULE: "new_time",
    ActionKind.EMAIL_POLICY_REMINDER: "policy",
    ActionKind.BARRIER_SURVEY: "barriers",
}


def policy_context(policy: Policy, fee: Money | None) -> dict[str, Any]:
    """The cancellation policy as the check-in states it; ``fee`` is this session's, if any."""
    hours = policy.notice_window.total_seconds() / 3600
    notice = f"{int(hours)} hours" if hours == int(hours) else f"{hours:g} hours"
    return {"notice": notice, "fee": _money_words(fee) if fee is not None else None}


def checkin_context(
    *,
    therapist: dict[str, str],
    first_name: str,
    when: str,
    outcome: Outcome,
    ticked: Collection[ActionKind],
    policy: Policy,
    fee: Money | None,
    offered: str | None,
    link: Callable[[str], str],
) -> dict[str, Any]:
    """The context of the patient's ``checkin`` email for a miss, from the step's ticked parts.

    Each part's values are given only when that part is ticked (else ``None``), and a link
    is issued (``link(purpose)``) only for a part that uses it, so a template cannot say
    what the therapist did not choose. ``fee`` is the fee due for this session (``None``
    when none is set for ``outcome`` or the patient is exempt); ``outcome`` lets the fee
    sentence name its case. ``offered`` is the new time already in the patient's calendar.
    """
    parts = {name: kind in ticked for kind, name in CHECKIN_PARTS.items()}
    return {
        "therapist": therapist,
        "patient": {"first_name": first_name},
        "session": {"when": when},
        "outcome": outcome.value,
        "ticked": parts,
        "proposal": {"when": offered} if parts["new_time"] and offered else None,
        "choose_time_url": link("choose_time") if parts["new_time"] else None,
        "get_in_touch_url": link("will_get_in_touch"),
        "policy": policy_context(policy, fee) if parts["policy"] else None,
        "survey_url": link("barrier_survey") if parts["barriers"] else None,
    }


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
