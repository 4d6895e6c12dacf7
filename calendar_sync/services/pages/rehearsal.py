"""What would have gone out: Today's rehearsal while follow-ups are off.

Until the therapist switches follow-ups on (``/start/``), the cycle reads and decides but
records nothing for patients. This read-model decides again, as if follow-ups had been on
since the connection, and writes each email word for word without recording or sending
anything (its links lead nowhere: they are never stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ...domain.decisions import Delivery
from ...domain.explain import consequence
from ...domain.times import when_words
from ..followup.effects import Effects
from ..followup.inputs import ALWAYS, EMAIL_KINDS, decisions_for, load_inputs, pending
from ..runtime import Runtime


@dataclass(frozen=True)
class WouldHaveGone:
    """One session's follow-up as it would have gone, in the therapist's words."""

    when: str
    to: str | None
    what: str
    subject: str | None
    text: str | None


def would_have_gone(runtime: Runtime, therapist_id: int, now: datetime) -> list[WouldHaveGone]:
    """Every follow-up decided since the connection that would have reached a patient."""
    with runtime.database.transaction() as db:
        inputs = load_inputs(db, therapist_id, now)
        if inputs is None or inputs.follow_ups_from is not None:
            return []
        due = pending(db, therapist_id, decisions_for(inputs, now), ALWAYS)
    effects = Effects(runtime, inputs, now)
    found = []
    for decision, actions in due:
        sending = {a.kind: a for a in actions if a.delivery is Delivery.SEND}
        if not any(kind.patient_facing for kind in sending):
            continue
        session = decision.session
        row = inputs.event_rows[session.ref]
        patient = inputs.patient_rows.get(session.patient_key or "")
        to = row.patient_email or (patient.email if patient else None)
        email = (
            effects.prepare_checkin(decision, sending, patient)
            if to and EMAIL_KINDS & sending.keys()
            else None
        )
        found.append(
            WouldHaveGone(
                when=when_words(session.start, inputs.zone),
                to=to,
                what=consequence(
                    inputs.settings.policy, decision.step or 1, assumed=decision.assumed
                ),
                subject=email.rendered.subject if email else None,
                text=email.rendered.text if email else None,
            )
        )
    return found
