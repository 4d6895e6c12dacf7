"""The effects of one decision, recorded with it in one transaction.

Each method opens its own transaction: the action rows (unique by idempotency key), the
outbox messages (unique by their own key), the proposal intent and the fee commit together
or not at all. Sending and inserting calendar events happen later, from those records.

The messages are rendered before that transaction opens (:class:`PreparedEmail`): rendering
runs the therapist's edited templates, which are bounded but may still take a moment, and
the database is never held meanwhile. Their links are recorded in the transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.addresses import is_plain_address
from ...domain.decide import assess
from ...domain.decisions import Decision, Delivery, PlannedAction
from ...domain.marks import Mark
from ...domain.outcomes import Outcome
from ...domain.policy import ActionKind
from ...domain.sessions import Session
from ...domain.times import when_words
from ...mail.template_store import load_overrides
from ...mail.templates import RenderedEmail, render
from ...storage import Database
from ...storage.models import (
    FeeEntry,
    FollowUpAction,
    MarkLink,
    Patient,
    PatientLink,
    RescheduleProposal,
)
from ..notices import notify
from ..outbox.dispatch import enqueue
from ..patients.links import new_link
from ..proposals.context import ProposalState
from ..proposals.workflow import PLACEMENT_WAIT, plan_proposal, unplaceable
from ..runtime import Runtime
from . import compose
from .hold import PATIENT_EMAIL_KINDS
from .inputs import Inputs
from .marks import new_mark_link

log = logging.getLogger(__name__)


_MARK_LINKS = {
    "attended": Outcome.ATTENDED,
    "no_show": Outcome.NO_SHOW,
    "late_cancel": Outcome.LATE_CANCEL,
    "cancelled": Outcome.CANCELLED_IN_TIME,
}


_THERAPIST_ALERTS = (
    (ActionKind.ALERT_THERAPIST_PATTERN, "pattern_alert"),
    (ActionKind.ALERT_THERAPIST_TERMINATION_DRAFT, "termination_draft"),
)


@dataclass(frozen=True)
class PreparedEmail:
    """A message rendered ahead of its transaction, queued there with the links it carries."""

    key: str
    kind: str
    recipient_role: str
    rendered: RenderedEmail
    not_before: datetime
    links: tuple[PatientLink, ...] = ()


class Effects:
    def __init__(self, runtime: Runtime, inputs: Inputs, now: datetime) -> None:
        self.runtime = runtime
        self.database: Database = runtime.database
        self.public_url: str = runtime.config["PUBLIC_URL"]
        self.secret_key: str = runtime.config["SECRET_KEY"]
        self.inputs = inputs
        self.now = now
        # Whatever this run decides for a patient waits, visible, until then.
        self.release_at = now + inputs.settings.policy.patient_hold
        therapist = inputs.therapist
        self.therapist = compose.therapist_context(therapist.display_name, inputs.settings.practice)

    def apply(self, decision: Decision, actions: list[PlannedAction]) -> str:
        """Record ``actions`` of ``decision`` and queue their effects; a line for the report.

        When a new time is being offered for the session, the patient's email waits (its
        actions stay unrecorded) until the time is chosen, so the email can name it; the
        follow-up chooses the time right after planning it, then applies the decision again
        (``run.follow_up_therapist``). Email, invitation and fee then wait together until
        ``release_at`` (see ``hold``).
        """
        inputs, now = self.inputs, self.now
        session = decision.session
        row = inputs.event_rows[session.ref]
        patient = inputs.patient_rows.get(session.patient_key or "")
        patient_email = row.patient_email or (patient.email if patient else None)
        # An address stored before addresses were checked (a list, odd characters) is set
        # aside like a missing one, with its own words: the outbox must never hold it.
        unusable = patient_email is not None and not is_plain_address(patient_email)
        if unusable:
            patient_email = None
        proposing = any(
            a.kind is ActionKind.PROPOSE_RESCHEDULE and a.delivery is Delivery.SEND for a in actions
        )
        waiting = patient_email is not None and (proposing or self._proposal_being_placed(session))
        if waiting:
            actions = [a for a in actions if a.kind not in PATIENT_EMAIL_KINDS]
            if not actions:
                return ""
        sending = {a.kind: a for a in actions if a.delivery is Delivery.SEND}
        # Without an address nothing can reach the patient: say so rather than queue it.
        unreachable = set() if patient_email else {kind for kind in sending if kind.patient_facing}
        when = when_words(session.start, inputs.zone)
        email_kinds = PATIENT_EMAIL_KINDS & sending.keys()
        checkin = (
            self.prepare_checkin(decision, sending, patient)
            if email_kinds and patient_email
            else None
        )
        alerts = [
            self.prepare_therapist_email(decision, sending[kind], template)
            for kind, template in _THERAPIST_ALERTS
            if kind in sending
        ]
        with self.database.transaction() as db:
            record_actions(db, inputs, decision, actions, now, not_possible=unreachable)
            done: list[str] = []
            if unreachable:
                why = (
                    "the patient's email address on file cannot be written to (it holds "
                    "several addresses or characters an address cannot have)"
                    if unusable
                    else "the patient has no email address on file"
                )
                notify(
                    db,
                    inputs.therapist.id,
                    "no_email",
                    f"The session on {when} counts as {compose.OUTCOME_WORDS[decision.outcome]}, "
                    f"but {why}, so nothing was sent. Correct it on the patient's page for the "
                    "next time.",
                    now,
                    about=session.ref,
                )
                done.append(
                    "unusable email address: you were told"
                    if unusable
                    else "no email address: you were told"
                )
            if ActionKind.RECORD_FEE in sending:
                record_fee(db, inputs, decision, now, held_until=self.release_at)
                done.append("fee held with the follow-up")
            proposal = None
            if ActionKind.PROPOSE_RESCHEDULE in sending and patient_email:
                proposal = plan_proposal(
                    db,
                    therapist_id=inputs.therapist.id,
                    session=session,
                    patient_email=patient_email,
                    key=sending[ActionKind.PROPOSE_RESCHEDULE].idempotency_key,
                    now=now,
                    release_at=self.release_at,
                )
                done.append("new time to propose" if proposal else "no new time proposed")
            if waiting and proposal is not None:
                done.append("the email waits for the new time")
            if checkin is not None and patient_email:
                self.queue(db, checkin, patient_email)
                done.append("check-in queued")
            for alert in alerts:
                self.queue(db, alert, inputs.therapist.email)
                done.append(f"{alert.kind.replace('_', ' ')} queued for you")
            if ActionKind.ALERT_THERAPIST_MISS in sending:
                notify(
                    db,
                    inputs.therapist.id,
                    "miss",
                    f"The session on {when} counts as {compose.OUTCOME_WORDS[decision.outcome]}"
                    " and nothing was sent to the patient (no email on file, or they asked "
                    "not to be emailed).",
                    now,
                    about=session.ref,
                )
                done.append("you were told")
            offered = [a for a in actions if a.delivery is Delivery.OFFER_TO_THERAPIST]
            if offered:
                notify(
                    db,
                    inputs.therapist.id,
                    "late_follow_up",
                    f"The follow-up for the session on {when} is late, so it was not sent on "
                    "its own. Review it on the dashboard and send or drop it.",
                    now,
                    about=session.ref,
                )
                done.append("offered to you (late)")
        return f"session {when}: " + (", ".join(done) or "recorded")

    def set_aside_contested(self, decision: Decision, actions: list[PlannedAction]) -> str:
        """Record a contested session's actions as not possible, and tell the therapist once.

        Every therapist who shares the calendar is told (their keys are their own), and
        none acts: the calendar does not say whose patient this is.
        """
        inputs, now = self.inputs, self.now
        when = when_words(decision.session.start, inputs.zone)
        with self.database.transaction() as db:
            record_actions(
                db, inputs, decision, actions, now, not_possible={a.kind for a in actions}
            )
            if any(a.kind is not ActionKind.REMIND_THERAPIST_TO_MARK for a in actions):
                notify(
                    db,
                    inputs.therapist.id,
                    "shared_session",
                    f"The session on {when} counts as {compose.OUTCOME_WORDS[decision.outcome]}"
                    ", but it is in a calendar you share with another therapist and neither of "
                    "you organised or created it, so nothing was sent. If the patient is yours, "
                    "follow up yourself, or create the session from your own account.",
                    now,
                )
                return f"session {when}: shared calendar, nobody's own: you were told"
        return ""

    def patient_email(
        self,
        db: DbSession,
        decision: Decision,
        sending: dict[ActionKind, PlannedAction],
        to: str,
        patient: Patient | None,
    ) -> None:
        """Render and queue the patient's check-in for ``decision``, all inside ``db``.

        For the therapist sending a late follow-up by hand, where the decision is read in
        the same transaction; the cycle renders first (:meth:`prepare_checkin`).
        """
        overrides = load_overrides(db, self.inputs.therapist.id, "checkin")
        self.queue(db, self.prepare_checkin(decision, sending, patient, overrides), to)

    def prepare_checkin(
        self,
        decision: Decision,
        sending: dict[ActionKind, PlannedAction],
        patient: Patient | None,
        overrides: dict[str, str] | None = None,
    ) -> PreparedEmail:
        """The patient's check-in for ``decision``, rendered; no transaction is held meanwhile.

        The email holds the parts of the step the therapist ticked (``decision.actions``,
        recorded or not, so an email that waited for its new time still offers it).
        ``overrides`` are the therapist's edits, read here when not given.
        """
        inputs, now, session = self.inputs, self.now, decision.session
        primary = sending.get(ActionKind.EMAIL_CHECKIN) or next(
            sending[k] for k in PATIENT_EMAIL_KINDS if k in sending
        )
        links: list[PatientLink] = []

        def link(purpose: str) -> str:
            row, url = new_link(
                therapist_id=inputs.therapist.id,
                calendar_id=session.calendar_id,
                event_id=session.event_id,
                purpose=purpose,
                now=now,
                config=self.runtime.config,
            )
            links.append(row)
            return url

        ticked = {action.kind for action in decision.actions}
        offered = self._offered_time(session)
        context = compose.checkin_context(
            therapist=self.therapist,
            first_name=compose.first_name(patient.name if patient else None),
            when=when_words(session.start, inputs.zone),
            outcome=decision.outcome,
            ticked=ticked,
            policy=inputs.settings.policy,
            fee=decision.fee,
            offered=when_words(offered, inputs.zone) if offered else None,
            link=link,
        )
        if overrides is None:
            overrides = self._overrides("checkin")
        return PreparedEmail(
            key=primary.idempotency_key,
            kind="checkin",
            recipient_role="patient",
            rendered=render("checkin", context, overrides),
            # held, visible, until the end of the hold (see ``hold``)
            not_before=max(primary.due_at, self.release_at),
            links=tuple(links),
        )

    def queue(self, db: DbSession, prepared: PreparedEmail, to: str) -> bool:
        """Record ``prepared``'s links and put it in the outbox, in ``db``'s transaction."""
        db.add_all(prepared.links)
        db.flush()
        return enqueue(
            db,
            therapist_id=self.inputs.therapist.id,
            key=prepared.key,
            kind=prepared.kind,
            recipient_role=prepared.recipient_role,
            to=to,
            rendered=prepared.rendered,
            not_before=prepared.not_before,
            now=self.now,
        )

    def _overrides(self, name: str) -> dict[str, str]:
        with self.database.transaction() as db:
            return load_overrides(db, self.inputs.therapist.id, name)

    def _latest_proposal(self, session: Session) -> RescheduleProposal | None:
        with self.database.transaction() as db:
            return db.scalar(
                select(RescheduleProposal)
                .where(
                    RescheduleProposal.therapist_id == self.inputs.therapist.id,
                    RescheduleProposal.missed_calendar_id == session.calendar_id,
                    RescheduleProposal.missed_event_id == session.event_id,
                )
                .order_by(RescheduleProposal.attempt.desc())
                .limit(1)
            )

    def _proposal_being_placed(self, session: Session) -> bool:
        """A new time is planned but not chosen yet, and recently enough to wait for it."""
        found = self._latest_proposal(session)
        return (
            found is not None
            and found.state == ProposalState.PLANNED
            and found.slot_start is None
            and found.created_at >= self.now - PLACEMENT_WAIT
        )

    def _offered_time(self, session: Session) -> datetime | None:
        """The new time chosen for the patient (placed, or placed when the email goes)."""
        found = self._latest_proposal(session)
        if found is None or found.state not in (ProposalState.PLANNED, ProposalState.PROPOSED):
            return None
        if unplaceable(found, self.now):
            return None  # Google would not take it: the email offers the choice page instead
        return found.slot_start

    def _history(self, key: str) -> list[dict[str, str]]:
        return [
            {"when": when_words(s.start, self.inputs.zone), "outcome": words}
            for s, words in history_for(self.inputs, key, self.now)
        ]

    def prepare_therapist_email(
        self, decision: Decision, action: PlannedAction, template: str
    ) -> PreparedEmail:
        """A pattern alert or termination draft for ``decision``, rendered for the therapist."""
        inputs, session = self.inputs, decision.session
        key = session.patient_key or ""
        patient = inputs.patient_rows.get(key)
        policy = inputs.settings.policy
        history = self._history(key)
        context: dict[str, Any] = {
            "therapist": self.therapist,
            "patient": {"first_name": compose.first_name(patient.name if patient else None)},
            "misses_in_window": decision.step or 0,
            "window_days": policy.rolling_window.days,
            "history": history,
            "dashboard_url": self.public_url + "/dashboard",
        }
        if template == "pattern_alert":
            context["survey_answers"] = []
        return PreparedEmail(
            key=action.idempotency_key,
            kind=template,
            recipient_role="therapist",
            rendered=render(template, context, self._overrides(template)),
            not_before=action.due_at,
        )

    def remind_to_mark(self, reminders: list[tuple[Decision, PlannedAction]]) -> str:
        """One email listing every session waiting for a mark, with one-click links.

        The links (single-use rows) and the email are made before the transaction that
        records them with the reminder; a reminder that went out before keeps its own links.
        """
        inputs, now = self.inputs, self.now
        policy = inputs.settings.policy
        actions = [action for _, action in reminders]
        links: list[MarkLink] = []
        sessions = []
        for decision, _action in sorted(reminders, key=lambda pair: pair[0].session.start):
            session = decision.session
            row = inputs.event_rows[session.ref]
            urls = {}
            for name, outcome in _MARK_LINKS.items():
                link, token = new_mark_link(
                    secret_key=self.secret_key,
                    therapist_id=inputs.therapist.id,
                    calendar_id=session.calendar_id,
                    event_id=session.event_id,
                    outcome=outcome,
                    now=now,
                )
                links.append(link)
                urls[name] = f"{self.public_url}/m/{token}"
            sessions.append(
                {
                    # The therapist's own title: this message goes only to them.
                    "label": row.title or "Session",
                    "when": when_words(session.start, inputs.zone),
                    "mark_urls": urls,
                    "followup_starts": compose.followup_starts(session.end, policy, inputs.zone),
                }
            )
        context = {
            "therapist": self.therapist,
            "sessions": sessions,
            "dashboard_url": self.public_url + "/dashboard",
        }
        reminder = PreparedEmail(
            key=digest_key(inputs.therapist.id, actions),
            kind="unmarked_reminder",
            recipient_role="therapist",
            rendered=render("unmarked_reminder", context, self._overrides("unmarked_reminder")),
            not_before=min(a.due_at for a in actions),
        )
        with self.database.transaction() as db:
            for decision, action in reminders:
                record_actions(db, inputs, decision, [action], now)
            if self.queue(db, reminder, inputs.therapist.email):
                db.add_all(links)
                db.flush()
        return f"asked you to mark {len(sessions)} session(s)"


def _status(action: PlannedAction, not_possible: set[ActionKind]) -> str:
    if action.delivery is Delivery.OFFER_TO_THERAPIST:
        return "offered"
    return "not_possible" if action.kind in not_possible else "queued"


def record_actions(
    db: DbSession,
    inputs: Inputs,
    decision: Decision,
    actions: list[PlannedAction],
    now: datetime,
    *,
    not_possible: set[ActionKind] | None = None,
) -> None:
    """Record ``actions`` once each (their keys are unique); ``not_possible`` ones as such."""
    row = inputs.event_rows[decision.session.ref]
    for action in actions:
        db.add(
            FollowUpAction(
                therapist_id=inputs.therapist.id,
                key=action.idempotency_key,
                kind=action.kind.value,
                calendar_id=decision.session.calendar_id,
                event_id=decision.session.event_id,
                patient_id=row.patient_id,
                outcome=decision.outcome.value,
                step=decision.step,
                delivery=action.delivery.value,
                status=_status(action, not_possible or set()),
                explanation=decision.explanation,
                due_at=action.due_at,
                created_at=now,
            )
        )
    db.flush()


def record_fee(
    db: DbSession,
    inputs: Inputs,
    decision: Decision,
    now: datetime,
    *,
    held_until: datetime | None = None,
) -> None:
    """The charge for ``decision``; with ``held_until`` it waits for the follow-up to go."""
    if decision.fee is None or decision.session.patient_key is None:
        return
    row = inputs.event_rows[decision.session.ref]
    db.add(
        FeeEntry(
            therapist_id=inputs.therapist.id,
            patient_id=row.patient_id,
            patient_key=decision.session.patient_key,
            calendar_id=decision.session.calendar_id,
            event_id=decision.session.event_id,
            kind="charge",
            minor_units=decision.fee.minor_units,
            currency=decision.fee.currency,
            reason=decision.outcome.label,
            session_start=decision.session.start,
            created_at=now,
            held_until=held_until,
        )
    )


def history_for(inputs: Inputs, key: str, now: datetime) -> list[tuple[Session, str]]:
    """The patient's recent sessions, newest first, with their outcome in words."""
    by_ref: dict[tuple[str, str], list[Mark]] = defaultdict(list)
    for mark in inputs.marks:
        by_ref[mark.ref].append(mark)
    mine = sorted(
        (s for s in inputs.sessions if s.patient_key == key), key=lambda s: s.start, reverse=True
    )
    policy = inputs.settings.policy
    return [
        (
            s,
            compose.OUTCOME_WORDS[
                assess(
                    s, by_ref[s.ref], policy, inputs.connected_at, now, inputs.evidence.get(s.ref)
                ).outcome
            ],
        )
        for s in mine[:8]
    ]


def digest_key(therapist_id: int, actions: list[PlannedAction]) -> str:
    """The key of one reminder listing ``actions``: the same shape as every other key."""
    joined = "\n".join(sorted(a.idempotency_key for a in actions))
    return f"unmarked_reminder:{therapist_id}:" + hashlib.sha256(joined.encode()).hexdigest()[:32]
