"""Decisions in plain words for the therapist: the dashboard and ``tick --dry-run``.

Patients are named by their key only, and times are shown in the therapist's zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from calendar_sync.domain.decisions import Decision, Delivery, NoContactReason
from calendar_sync.domain.marks import MarkSource
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import ActionKind, Policy
from calendar_sync.domain.times import format_local
from calendar_sync.domain.unmarked import UnmarkedConvention

_SOURCES = {
    MarkSource.DASHBOARD: "marked on the dashboard",
    MarkSource.CALENDAR_PANEL: "marked from the calendar",
    MarkSource.LINK: "marked with the link in your reminder",
    MarkSource.TITLE_TAG: "marked by a tag in the event title",
    MarkSource.COLOR: "marked by the event colour",
    MarkSource.CALENDAR: "the event was cancelled on the calendar",
    MarkSource.PATIENT_ANSWER: "the patient declined the invitation",
    MarkSource.MEET: "Google Meet showed nobody but you joined the video call",
}

_NO_CONTACT = {
    NoContactReason.OPTED_OUT: "The patient asked not to be emailed, so nothing goes to them.",
    NoContactReason.NO_PATIENT_RECORD: (
        "There is no patient record for this key, so nothing goes to the patient."
    ),
    NoContactReason.NO_PATIENT_LINKED: (
        "No patient is linked to this session, so nothing goes to a patient."
    ),
}

_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


def duration_words(span: timedelta) -> str:
    """A duration as a therapist would say it: ``90 days``, ``20 hours``, ``23.5 hours``."""
    seconds = abs(span.total_seconds())
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)} days"
    if seconds >= 3600:
        hours = seconds / 3600
        text = f"{hours:.1f}".removesuffix(".0")
        return f"{text} hour" if text == "1" else f"{text} hours"
    minutes = round(seconds / 60)
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def marked_by(source: MarkSource | None) -> str:
    """Where a mark came from, in words: ``marked from the calendar``."""
    return "marked" if source is None else _SOURCES[source]


def ordinal(number: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``... (numbers here stay small)."""
    return _ORDINALS.get(number, f"{number}th")


def _why(decision: Decision, policy: Policy) -> str:
    session = decision.session
    if decision.outcome is Outcome.UNMARKED:
        if policy.unmarked.convention is UnmarkedConvention.ALWAYS_ASK:
            return "not marked yet; nothing goes to the patient until you mark it"
        return (
            "not marked yet; if still unmarked "
            f"{duration_words(policy.unmarked.hold)} after the end it counts as a no-show"
        )
    if decision.decided_by is MarkSource.MEET:
        return f"{decision.outcome.label}: not marked, and {_SOURCES[MarkSource.MEET]}"
    if decision.assumed:
        return (
            f"{decision.outcome.label}: not marked within "
            f"{duration_words(policy.unmarked.hold)} of the end, so counted as missed "
            "under your setting"
        )
    source = "marked" if decision.decided_by is None else _SOURCES[decision.decided_by]
    text = f"{decision.outcome.label} ({source})"
    by_patient = decision.decided_by in (MarkSource.PATIENT_ANSWER, MarkSource.CALENDAR)
    if by_patient and decision.known_at is not None:
        ahead = session.start - decision.known_at
        if ahead > timedelta(0):
            text += (
                f", {duration_words(ahead)} before the start; your notice window is "
                f"{duration_words(policy.notice_window)}"
            )
        else:
            text += ", after the start"
    return text


def explain(decision: Decision, policy: Policy) -> str:
    """A short paragraph saying what will happen for one session and why."""
    session = decision.session
    who = f"patient {session.patient_key}" if session.patient_key else "an unlinked session"
    parts = [
        f"Session {format_local(session.start, session.time_zone)}, {who}: "
        f"{_why(decision, policy)}."
    ]
    if decision.step is not None:
        parts.append(
            f"{ordinal(decision.step)} miss in the last {duration_words(policy.rolling_window)}."
        )
    if decision.no_contact is not None:
        parts.append(_NO_CONTACT[decision.no_contact])
    sent = [a.kind.description for a in decision.actions if a.delivery is Delivery.SEND]
    offered = [
        a.kind.description for a in decision.actions if a.delivery is Delivery.OFFER_TO_THERAPIST
    ]
    if sent:
        parts.append("Now: " + "; ".join(sent) + ".")
    if offered:
        parts.append(
            f"More than {duration_words(policy.late_bound)} have passed since the session, "
            "so these wait for your approval instead: " + "; ".join(offered) + "."
        )
    if decision.fee is not None:
        parts.append(f"Fee: {decision.fee}.")
    return " ".join(parts)


def render_dry_run(decisions: Iterable[Decision]) -> str:
    """The decisions as text for ``tick --dry-run``: one paragraph each, nothing is done."""
    lines = [f"- {decision.explanation}" for decision in decisions]
    if not lines:
        return "Nothing to do."
    return "\n".join(lines)


_CONSEQUENCES = {
    ActionKind.EMAIL_CHECKIN: "a check-in email to the patient",
    ActionKind.EMAIL_POLICY_REMINDER: "a reminder of your cancellation policy",
    ActionKind.BARRIER_SURVEY: "a question about what got in the way",
    ActionKind.PROPOSE_RESCHEDULE: "a new time offered in their calendar",
    ActionKind.ALERT_THERAPIST_MISS: "a note to you to follow up yourself",
    ActionKind.ALERT_THERAPIST_PATTERN: "an alert to you about the pattern",
    ActionKind.ALERT_THERAPIST_TERMINATION_DRAFT: "an alert to you with a draft to review",
}


def consequence(policy: Policy, step: int, *, assumed: bool) -> str:
    """What a no-show brings at ``step`` of the ladder, in words, for the checklist and the
    sessions waiting for a mark: ``a check-in email to the patient, a new time offered in
    their calendar and a fee of GBP 60.00``. ``assumed``: counted so because nobody marked
    it (then a fee only if the policy charges those)."""
    parts = [
        _CONSEQUENCES[kind]
        for kind in sorted(policy.actions_for_step(step), key=lambda k: list(ActionKind).index(k))
        if kind in _CONSEQUENCES
    ]
    fee = policy.no_show_fee
    if fee is not None and (not assumed or policy.charge_assumed_no_shows):
        parts.append(f"a fee of {fee}")
    if not parts:
        return "nothing"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
