"""A therapist's settings as stored: the follow-up policy and the practice's details.

The policy is kept as JSON in one row per therapist, so adding a setting needs no schema
change; unknown keys are ignored and missing ones take the domain's defaults. Session
rules live in their own table (``session_rules``), which sync reads directly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.marks import MarkRules
from ...domain.meet import MeetRules
from ...domain.money import Money
from ...domain.outcomes import Outcome
from ...domain.policy import ActionKind, Policy
from ...domain.sessions import SessionRules
from ...domain.slots import RescheduleRules
from ...domain.unmarked import UnmarkedConvention, UnmarkedRules
from ...storage.models import CalendarRow, SessionRulesRow, Therapist, TherapistSettingsRow
from ..schedule import mark_changed


@dataclass(frozen=True)
class PracticeProfile:
    """How the practice signs its messages; shown to patients, so no clinical words."""

    practice_name: str = ""
    signature: str = ""
    contact_phone: str = ""


@dataclass(frozen=True)
class TherapistSettings:
    policy: Policy
    practice: PracticeProfile
    reschedule: RescheduleRules = field(default_factory=RescheduleRules)


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def _money(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else {"minor_units": value.minor_units, "currency": value.currency}


def policy_to_json(policy: Policy) -> dict[str, Any]:
    """The policy as plain JSON (session rules excepted: they have their own table)."""
    return {
        "rolling_window_days": policy.rolling_window.days,
        "notice_window_hours": _hours(policy.notice_window),
        "late_cancels_count": policy.late_cancels_count,
        "no_show_fee": _money(policy.no_show_fee),
        "late_cancel_fee": _money(policy.late_cancel_fee),
        "charge_assumed_no_shows": policy.charge_assumed_no_shows,
        "unmarked": {
            "convention": policy.unmarked.convention.value,
            "reminder_delay_hours": _hours(policy.unmarked.reminder_delay),
            "hold_hours": _hours(policy.unmarked.hold),
        },
        "late_bound_days": policy.late_bound.days,
        "ladder": [sorted(kind.value for kind in step) for step in policy.ladder],
        "uncounted_late_cancel_actions": sorted(
            kind.value for kind in policy.uncounted_late_cancel_actions
        ),
        "marks": {
            "colors": {key: value.value for key, value in policy.marks.colors.items()},
            "tags": {key: value.value for key, value in policy.marks.tags.items()},
        },
        "patient_hold_minutes": policy.patient_hold.total_seconds() / 60,
        "meet_evidence": policy.meet_evidence,
        "meet_minimum_minutes": policy.meet.minimum.total_seconds() / 60,
    }


def policy_from_json(data: dict[str, Any], sessions: SessionRules | None = None) -> Policy:
    """Rebuild a policy; anything absent takes the default.

    :raises ValueError: when a value is out of range or unknown (the message says which).
    """
    base = Policy()
    unmarked = data.get("unmarked", {})
    marks = data.get("marks", {})

    def money(value: Any) -> Money | None:
        return None if not value else Money(int(value["minor_units"]), str(value["currency"]))

    try:
        return Policy(
            rolling_window=timedelta(days=int(data.get("rolling_window_days", 90))),
            notice_window=timedelta(hours=float(data.get("notice_window_hours", 24))),
            late_cancels_count=bool(data.get("late_cancels_count", base.late_cancels_count)),
            no_show_fee=money(data.get("no_show_fee")),
            late_cancel_fee=money(data.get("late_cancel_fee")),
            charge_assumed_no_shows=bool(data.get("charge_assumed_no_shows", False)),
            unmarked=UnmarkedRules(
                convention=UnmarkedConvention(
                    unmarked.get("convention", base.unmarked.convention.value)
                ),
                reminder_delay=timedelta(hours=float(unmarked.get("reminder_delay_hours", 2))),
                hold=timedelta(hours=float(unmarked.get("hold_hours", 20))),
            ),
            late_bound=timedelta(days=int(data.get("late_bound_days", 3))),
            ladder=tuple(
                frozenset(ActionKind(kind) for kind in step)
                for step in data.get("ladder", [sorted(k.value for k in s) for s in base.ladder])
            ),
            uncounted_late_cancel_actions=frozenset(
                ActionKind(kind)
                for kind in data.get(
                    "uncounted_late_cancel_actions",
                    [k.value for k in base.uncounted_late_cancel_actions],
                )
            ),
            marks=MarkRules(
                colors={k: Outcome(v) for k, v in marks["colors"].items()}
                if "colors" in marks
                else base.marks.colors,
                tags={k: Outcome(v) for k, v in marks["tags"].items()}
                if "tags" in marks
                else base.marks.tags,
            ),
            sessions=sessions or SessionRules(),
            patient_hold=timedelta(
                minutes=float(
                    data.get("patient_hold_minutes", base.patient_hold.total_seconds() / 60)
                )
            ),
            meet_evidence=bool(data.get("meet_evidence", False)),
            meet=MeetRules(
                minimum=timedelta(
                    minutes=float(
                        data.get("meet_minimum_minutes", base.meet.minimum.total_seconds() / 60)
                    )
                )
            ),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the stored policy is malformed ({exc.__class__.__name__})") from exc


def load_settings(db: DbSession, therapist_id: int) -> TherapistSettings:
    """The therapist's settings, defaults where nothing was saved."""
    row = db.get(TherapistSettingsRow, therapist_id)
    rules = session_rules(db, therapist_id)
    if row is None:
        return TherapistSettings(Policy(sessions=rules), PracticeProfile())
    stored = json.loads(row.policy_json or "{}")
    policy = policy_from_json(stored, rules)
    practice = PracticeProfile(**json.loads(row.practice_json or "{}"))
    reschedule = stored.get("reschedule")
    return TherapistSettings(
        policy,
        practice,
        RescheduleRules.from_json(reschedule)
        if isinstance(reschedule, dict)
        else RescheduleRules(),
    )


def save_settings(
    db: DbSession,
    therapist_id: int,
    settings: TherapistSettings,
    now: datetime,
    *,
    reach_back: bool = False,
) -> None:
    """Store ``settings`` (session rules included) for the therapist.

    A changed policy applies to misses due from ``now`` on: ``follow_ups_from`` moves to
    ``now``, so nothing new goes to a patient about an earlier miss by itself. With
    ``reach_back`` (the therapist saw the list and confirmed it) it stays where it was.
    """
    row = db.get(TherapistSettingsRow, therapist_id)
    if row is None:
        row = TherapistSettingsRow(therapist_id=therapist_id)
        db.add(row)
    stored = policy_to_json(settings.policy)
    # The reschedule rules travel with the policy: one row, one place to read them.
    stored["reschedule"] = settings.reschedule.to_json()
    policy_json = json.dumps(stored, sort_keys=True)
    if row.follow_ups_from is not None and policy_json != row.policy_json and not reach_back:
        row.follow_ups_from = max(row.follow_ups_from, now)
    row.policy_json = policy_json
    row.practice_json = json.dumps(asdict(settings.practice), sort_keys=True)
    row.updated_at = now
    save_session_rules(db, therapist_id, settings.policy.sessions)
    db.flush()
    mark_changed(db, therapist_id)


def set_meet_evidence(db: DbSession, therapist_id: int, on: bool, now: datetime) -> None:
    """Turn Meet evidence on or off, leaving every other setting (and ``follow_ups_from``).

    Evidence only spares a patient an email or brings a miss forward within the hold, so
    unlike a policy change it needs no fresh start for earlier misses.
    """
    settings = load_settings(db, therapist_id)
    policy = replace(settings.policy, meet_evidence=on)
    # ``reach_back`` keeps ``follow_ups_from`` where it was.
    save_settings(db, therapist_id, replace(settings, policy=policy), now, reach_back=True)


def follow_ups_from(db: DbSession, therapist_id: int) -> datetime | None:
    """From when follow-ups reach patients; None while they are off (first-run checklist)."""
    row = db.get(TherapistSettingsRow, therapist_id)
    return None if row is None else row.follow_ups_from


def switch_follow_ups_on(db: DbSession, therapist_id: int, now: datetime) -> None:
    """Follow-ups reach patients for misses due from ``now`` (nothing earlier by itself)."""
    row = db.get(TherapistSettingsRow, therapist_id)
    if row is None:
        row = TherapistSettingsRow(
            therapist_id=therapist_id, policy_json="{}", practice_json="{}", updated_at=now
        )
        db.add(row)
    if row.follow_ups_from is None:
        row.follow_ups_from = now
    db.flush()
    mark_changed(db, therapist_id)


def switch_follow_ups_off(db: DbSession, therapist_id: int) -> None:
    """Nothing more reaches patients by itself until they are switched on again."""
    row = db.get(TherapistSettingsRow, therapist_id)
    if row is not None:
        row.follow_ups_from = None
        db.flush()
    mark_changed(db, therapist_id)


def with_policy(settings: TherapistSettings, policy: Policy) -> TherapistSettings:
    return replace(settings, policy=policy)


def therapist_zone(db: DbSession, therapist: Therapist) -> ZoneInfo:
    """The therapist's clock: the zone they chose, else their main calendar's.

    Sign-in records UTC until the therapist chooses; their calendar's zone is the better
    guess for the times written in emails and pages until then.
    """
    name = therapist.time_zone
    if not name or name == "UTC":
        primary = db.scalar(
            select(CalendarRow.time_zone).where(
                CalendarRow.therapist_id == therapist.id, CalendarRow.is_primary.is_(True)
            )
        )
        name = primary or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def session_rules(db: DbSession, therapist_id: int) -> SessionRules:
    """The therapist's rules for recognising sessions (defaults when never set)."""
    row = db.get(SessionRulesRow, therapist_id)
    if row is None:
        return SessionRules()
    return SessionRules(
        title_pattern=row.title_pattern,
        one_attendee_is_session=row.one_attendee_is_session,
        co_organizers=frozenset((row.co_organizers or "").split()),
    )


def save_session_rules(db: DbSession, therapist_id: int, rules: SessionRules) -> None:
    """Store the rules; when they change, every stored event is judged again.

    Sync judges an event when Google lists it, and an incremental sync lists only what
    changed: the sync tokens are dropped, so the next sync of each calendar (within the
    poll interval) lists its whole window again.
    """
    changed = session_rules(db, therapist_id) != rules
    row = db.get(SessionRulesRow, therapist_id)
    if row is None:
        row = SessionRulesRow(therapist_id=therapist_id)
        db.add(row)
    row.title_pattern = rules.title_pattern
    row.one_attendee_is_session = rules.one_attendee_is_session
    row.co_organizers = "\n".join(sorted(rules.co_organizers))
    if not changed:
        return
    for calendar in db.scalars(select(CalendarRow).where(CalendarRow.therapist_id == therapist_id)):
        calendar.sync_token = None
