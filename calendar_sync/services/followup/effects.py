"""The effects of one decision, recorded with it in one transaction.

Each method opens its own transaction: the action rows (unique by idempotency key), the
outbox messages (unique by their own key), the proposal intent and the fee commit together
or not at all. Sending and inserting calendar events happen later, from those records.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.decide import assess
from ...domain.decisions import Decision, Delivery, PlannedAction
from ...domain.marks import Mark
from ...domain.outcomes import Outcome
from ...domain.policy import ActionKind
from ...domain.sessions import Session
from ...domain.times import when_words
from ...mail.template_store import render_for
from ...storage import Database
from ...storage.models import FeeEntry, FollowUpAction, Patient, RescheduleProposal
from ..notices import notify
from ..outbox.dispatch import enqueue
from ..patients.links import issue_link
from ..proposals.context import ProposalState
from ..proposals.workflow import plan_proposal
from ..runtime import Runtime
from . import compose
from .inputs import Inputs
from .marks import forget_mark_links, issue_mark_link

log = logging.getLogger(__name__)

# How long a patient's email waits for its new time to be placed in the calendar; past
# this (Google down, say) it goes without naming a time, rather than not at all.
PLACEMENT_WAIT = timedelta(minutes=30)

PATIENT_EMAIL_KINDS = frozenset(
    {ActionKind.EMAIL_CHECKIN, ActionKind.EMAIL_POLICY_REMINDER, ActionKind.BARRIER_SURVEY}
)

_MARK_LINKS = {
    "attended": Outcome.ATTENDED,
    "no_show": Outcome.NO_SHOW,
    "late_cancel": Outcome.LATE_CANCEL,
    "cancelled": Outcome.CANCELLED_IN_TIME,
}


class Effects:
    def __init__(self, runtime: Runtime, inputs: Inputs, now: datetime) -> None:
        self.runtime = runtime
        self.database: Database = runtime.database
        self.public_url: str = runtime.config["PUBLIC_URL"]
        self.secret_key: str = runtime.config["SECRET_KEY"]
        self.inputs = inputs
        self.now = now
        therapist = inputs.therapist
        self.therapist = compose.therapist_context(therapist.display_name, inputs.settings.practice)

    def apply(self, decision: Decision, actions: list[PlannedAction]) -> str:
        """Record ``actions`` of ``decision`` and queue their effects; a line for the report.

        When a new time is being offered for the session, the patient's email waits (its
        actions stay unrecorded) until the invitation is placed, so the email can name the
        time; the cycle places proposals, then applies the decisions again.
        """
        inputs, now = self.inputs, self.now
        session = decision.session
        row = inputs.event_rows[session.ref]
        patient = inputs.patient_rows.get(session.patient_key or "")
        patient_email = row.patient_email or (patient.email if patient else None)
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
        with self.database.transaction() as db:
            record_actions(db, inputs, decision, actions, now, not_possible=unreachable)
            done: list[str] = []
            if unreachable:
                notify(
                    db,
                    inputs.therapist.id,
                    "no_email",
                    f"The session on {when} counts as {compose.OUTCOME_WORDS[decision.outcome]}, "
                    "but the patient has no email address on file, so nothing was sent. Add it "
                    "on the patient's page for the next time.",
                    now,
                )
                done.append("no email address: you were told")
            if ActionKind.RECORD_FEE in sending:
                record_fee(db, inputs, decision, now)
                done.append("fee recorded")
            proposal = None
            if ActionKind.PROPOSE_RESCHEDULE in sending and patient_email:
                proposal = plan_proposal(
                    db,
                    therapist_id=inputs.therapist.id,
                    session=session,
                    patient_email=patient_email,
                    key=sending[ActionKind.PROPOSE_RESCHEDULE].idempotency_key,
                    now=now,
                )
                done.append("new time to propose" if proposal else "no new time proposed")
            email_kinds = PATIENT_EMAIL_KINDS & sending.keys()
            if waiting and proposal is not None:
                done.append("the email waits for the new time")
            if email_kinds and patient_email:
                name = self.patient_email(db, decision, sending, patient_email, patient)
                done.append(f"{name.replace('_', ' ')} queued")
            for kind, template in (
                (ActionKind.ALERT_THERAPIST_PATTERN, "pattern_alert"),
                (ActionKind.ALERT_THERAPIST_TERMINATION_DRAFT, "termination_draft"),
            ):
                if kind in sending:
                    self._therapist_email(db, decision, sending[kind], template)
                    done.append(f"{template.replace('_', ' ')} queued for you")
            if ActionKind.ALERT_THERAPIST_MISS in sending:
                notify(
                    db,
                    inputs.therapist.id,
                    "miss",
                    f"The session on {when} counts as {compose.OUTCOME_WORDS[decision.outcome]}"
                    " and nothing was sent to the patient (no email on file, or they asked "
                    "not to be emailed).",
                    now,
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
                )
                done.append("offered to you (late)")
        return f"session {when}: " + (", ".join(done) or "recorded")

    def patient_email(
        self,
        db: DbSession,
        decision: Decision,
        sending: dict[ActionKind, PlannedAction],
        to: str,
        patient: Patient | None,
    ) -> str:
        """Queue the patient's check-in for ``decision`` (in ``db``); returns the template name.

        Also used when the therapist sends a late follow-up by hand.
        """
        inputs, now, session = self.inputs, self.now, decision.session
        repeat = bool(
            {ActionKind.EMAIL_POLICY_REMINDER, ActionKind.BARRIER_SURVEY} & sending.keys()
        )
        name = "repeat_checkin" if repeat else "first_checkin"
        primary = sending.get(ActionKind.EMAIL_CHECKIN) or next(
            sending[k] for k in PATIENT_EMAIL_KINDS if k in sending
        )

        def link(purpose: str) -> str:
            return issue_link(
                db,
                therapist_id=inputs.therapist.id,
                calendar_id=session.calendar_id,
                event_id=session.event_id,
                purpose=purpose,
                now=now,
                config=self.runtime.config,
            )

        offered = self._offered_time(session)
        context: dict[str, Any] = {
            "therapist": self.therapist,
            "patient": {"first_name": compose.first_name(patient.name if patient else None)},
            "session": {"when": when_words(session.start, inputs.zone)},
            "proposal": {"when": when_words(offered, inputs.zone)} if offered else None,
            "choose_time_url": link("choose_time"),
            "get_in_touch_url": link("will_get_in_touch"),
        }
        if repeat:
            context["policy"] = compose.policy_context(inputs.settings.policy, decision.fee)
            context["survey_url"] = link("barrier_survey")
        rendered = render_for(db, inputs.therapist.id, name, context)
        enqueue(
            db,
            therapist_id=inputs.therapist.id,
            key=primary.idempotency_key,
            kind=name,
            recipient_role="patient",
            to=to,
            rendered=rendered,
            not_before=primary.due_at,
            now=now,
        )
        return name

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
        """A new time is planned but not yet in the calendar, and recently enough to wait."""
        found = self._latest_proposal(session)
        return (
            found is not None
            and found.state == ProposalState.PLANNED
            and found.created_at >= self.now - PLACEMENT_WAIT
        )

    def _offered_time(self, session: Session) -> datetime | None:
        found = self._latest_proposal(session)
        if found is None or found.state != ProposalState.PROPOSED:
            return None
        return found.slot_start

    def _history(self, key: str) -> list[dict[str, str]]:
        return [
            {"when": when_words(s.start, self.inputs.zone), "outcome": words}
            for s, words in history_for(self.inputs, key, self.now)
        ]

    def _therapist_email(
        self, db: Any, decision: Decision, action: PlannedAction, template: str
    ) -> None:
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
        enqueue(
            db,
            therapist_id=inputs.therapist.id,
            key=action.idempotency_key,
            kind=template,
            recipient_role="therapist",
            to=inputs.therapist.email,
            rendered=render_for(db, inputs.therapist.id, template, context),
            not_before=action.due_at,
            now=self.now,
        )

    def remind_to_mark(self, reminders: list[tuple[Decision, PlannedAction]]) -> str:
        """One email listing every session waiting for a mark, with one-click links."""
        inputs, now = self.inputs, self.now
        policy = inputs.settings.policy
        actions = [action for _, action in reminders]
        with self.database.transaction() as db:
            tokens: list[str] = []
            sessions = []
            for decision, _action in sorted(reminders, key=lambda pair: pair[0].session.start):
                session = decision.session
                row = inputs.event_rows[session.ref]
                urls = {}
                for name, outcome in _MARK_LINKS.items():
                    token = issue_mark_link(
                        db,
                        secret_key=self.secret_key,
                        therapist_id=inputs.therapist.id,
                        calendar_id=session.calendar_id,
                        event_id=session.event_id,
                        outcome=outcome,
                        now=now,
                    )
                    tokens.append(token)
                    urls[name] = f"{self.public_url}/m/{token}"
                sessions.append(
                    {
                        # The therapist's own title: this message goes only to them.
                        "label": row.title or "Session",
                        "when": when_words(session.start, inputs.zone),
                        "mark_urls": urls,
                        "followup_starts": compose.followup_starts(
                            session.end, policy, inputs.zone
                        ),
                    }
                )
            context = {
                "therapist": self.therapist,
                "sessions": sessions,
                "dashboard_url": self.public_url + "/dashboard",
            }
            for decision, action in reminders:
                record_actions(db, inputs, decision, [action], now)
            queued = enqueue(
                db,
                therapist_id=inputs.therapist.id,
                key=digest_key(actions),
                kind="unmarked_reminder",
                recipient_role="therapist",
                to=inputs.therapist.email,
                rendered=render_for(db, inputs.therapist.id, "unmarked_reminder", context),
                not_before=min(a.due_at for a in actions),
                now=now,
            )
            if not queued:
                # This reminder went out before, with its own links; these would go nowhere.
                forget_mark_links(db, tokens, self.secret_key)
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


def record_fee(db: DbSession, inputs: Inputs, decision: Decision, now: datetime) -> None:
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
                assess(s, by_ref[s.ref], policy, inputs.connected_at, now).outcome
            ],
        )
        for s in mine[:8]
    ]


def digest_key(actions: list[PlannedAction]) -> str:
    joined = "\n".join(sorted(a.idempotency_key for a in actions))
    return "unmarked_reminder:" + hashlib.sha256(joined.encode()).hexdigest()[:32]
