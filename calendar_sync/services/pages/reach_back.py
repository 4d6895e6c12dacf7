"""What a settings change would send about earlier misses, for the therapist to confirm first.

Settings never reach into the past by themselves (``followup.inputs.pending``): saved, a
policy applies to misses due from then on. If the new settings would write to patients
about misses already due, the settings page shows this list and asks before doing so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ...domain.policy import ActionKind
from ...domain.times import when_words
from ..accounts.settings import TherapistSettings
from ..followup.inputs import ALWAYS, EMAIL_KINDS, decisions_for, load_inputs, pending
from ..runtime import Runtime


@dataclass(frozen=True)
class EarlierMiss:
    """One earlier miss the new settings would act on, in the therapist's words."""

    when: str
    patient_key: str | None
    emails: bool
    new_time: bool


def reach_back(
    runtime: Runtime, therapist_id: int, settings: TherapistSettings, now: datetime
) -> list[EarlierMiss]:
    """Earlier misses (due before ``now``) that ``settings`` would write to patients about."""
    with runtime.database.transaction() as db:
        inputs = load_inputs(db, therapist_id, now)
        if inputs is None:
            return []
        inputs = replace(inputs, settings=settings)
        due = pending(db, therapist_id, decisions_for(inputs, now), ALWAYS)
    found = []
    for decision, actions in due:
        session = decision.session
        if max(decision.known_at or session.end, session.end) >= now:
            continue
        kinds = {action.kind for action in actions if action.kind.patient_facing}
        if not kinds or inputs.follow_ups_from is None:
            continue
        found.append(
            EarlierMiss(
                when=when_words(session.start, inputs.zone),
                patient_key=session.patient_key,
                emails=bool(kinds & EMAIL_KINDS),
                new_time=ActionKind.PROPOSE_RESCHEDULE in kinds,
            )
        )
    return found
