"""The template editor's previews: the therapist's own details, and a sample patient.

A preview is what the email would say, signed as the therapist signs (Settings), with their
notice window and fees, to a patient whose first name none of their patients has: the
editor never shows a real patient's name. The check-in is previewed once for each step of
the therapist's ladder that sends one, with the parts that step ticks, through the same
``checkin_context`` the follow-up uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.outcomes import Outcome
from ...domain.policy import ActionKind
from ...mail.samples import SAMPLE_CONTEXTS
from ...mail.templates import RenderedEmail, render
from ...storage.models import Patient, Therapist
from ..accounts.settings import load_settings
from ..followup import compose

#: First names for the sample patient, the first one no patient of the therapist has.
SAMPLE_NAMES = ("Sam", "Robin", "Jordan", "Kit", "Noor", "Ari", "Ellis", "Remy")
_EMAIL_PARTS = frozenset(
    {ActionKind.EMAIL_CHECKIN, ActionKind.EMAIL_POLICY_REMINDER, ActionKind.BARRIER_SURVEY}
)
_PART_WORDS = {
    ActionKind.EMAIL_CHECKIN: "check-in",
    ActionKind.PROPOSE_RESCHEDULE: "new time",
    ActionKind.EMAIL_POLICY_REMINDER: "cancellation policy",
    ActionKind.BARRIER_SURVEY: "what got in the way",
}
_WHEN = "Tuesday 10 March at 10:00"
_NEW_TIME = "Thursday 12 March at 15:00"


@dataclass(frozen=True)
class Preview:
    label: str
    email: RenderedEmail


@dataclass(frozen=True)
class Sample:
    """Who a preview is from and to."""

    therapist: dict[str, str]
    first_name: str


def sample_for(db: DbSession, therapist: Therapist) -> Sample:
    """The therapist as they sign, and a first name none of their patients has."""
    taken = {
        (name or "").split()[0].lower()
        for name in db.scalars(select(Patient.name).where(Patient.therapist_id == therapist.id))
        if (name or "").split()
    }
    first = next((n for n in SAMPLE_NAMES if n.lower() not in taken), "Sample")
    practice = load_settings(db, therapist.id).practice
    return Sample(compose.therapist_context(therapist.display_name, practice), first)


def previews(
    db: DbSession,
    therapist: Therapist,
    name: str,
    sources: dict[str, str],
    *,
    outcome: Outcome = Outcome.NO_SHOW,
    public_url: str = "",
) -> list[Preview]:
    """How email ``name``, written as ``sources``, reads to a sample patient."""
    sample = sample_for(db, therapist)
    if name != "checkin":
        return [Preview("", render(name, _sample_context(name, sample, public_url), sources))]
    policy = load_settings(db, therapist.id).policy
    steps: list[tuple[list[int], frozenset[ActionKind]]] = []
    for number, step in enumerate(policy.ladder, start=1):
        parts = step & frozenset(_PART_WORDS)
        if not parts & _EMAIL_PARTS:
            continue
        same = next((numbers for numbers, seen in steps if seen == parts), None)
        if same is not None:
            same.append(number)
        else:
            steps.append(([number], parts))
    last = len(policy.ladder)
    if not steps:
        steps = [([], frozenset(_PART_WORDS))]
    shown = []
    for numbers, parts in steps:
        context = compose.checkin_context(
            therapist=sample.therapist,
            first_name=sample.first_name,
            when=_WHEN,
            outcome=outcome,
            ticked=parts,
            policy=policy,
            fee=policy.fee_for(outcome),
            offered=_NEW_TIME,
            link=lambda purpose: f"{public_url}/p/sample-{purpose.replace('_', '-')}",
        )
        shown.append(Preview(_step_label(numbers, last, parts), render(name, context, sources)))
    return shown


def _step_label(numbers: list[int], last: int, parts: frozenset[ActionKind]) -> str:
    ticked = ", ".join(words for kind, words in _PART_WORDS.items() if kind in parts)
    if not numbers:
        return f"No step of your ladder sends a check-in now; with every part ticked: {ticked}"
    named = [str(n) + (" and later" if n == last else "") for n in numbers]
    which = " and ".join(named)
    return f"Miss number {which}: {ticked}"


def _sample_context(name: str, sample: Sample, public_url: str) -> dict[str, Any]:
    context = {**SAMPLE_CONTEXTS[name], "therapist": sample.therapist}
    if "patient" in context:
        context["patient"] = {"first_name": sample.first_name}
    if name == "unmarked_reminder":
        labels = (f"{sample.first_name} R", "AB")
        context["sessions"] = [
            {**session, "label": label}
            for session, label in zip(context["sessions"], labels, strict=False)
        ]
    if public_url:
        context = _on(context, public_url)
    return context


def _on(value: Any, public_url: str) -> Any:
    """The sample's links at the therapist's own address, so they look like theirs."""
    if isinstance(value, str):
        return value.replace("https://practice.example.test", public_url.rstrip("/"))
    if isinstance(value, dict):
        return {key: _on(item, public_url) for key, item in value.items()}
    if isinstance(value, list):
        return [_on(item, public_url) for item in value]
    return value
