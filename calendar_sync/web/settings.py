"""Settings: the practice's details, how sessions are recognised and marked, the policy.

Every value is checked by the domain's own types; a refused value is shown beside its
field and nothing is saved.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..domain.marks import MarkRules
from ..domain.money import Money
from ..domain.outcomes import Outcome
from ..domain.policy import LADDER_ACTIONS, MAX_PATIENT_HOLD, MIN_PATIENT_HOLD, ActionKind, Policy
from ..domain.sessions import SessionRules
from ..domain.slots import RescheduleRules
from ..domain.unmarked import UnmarkedConvention, UnmarkedRules
from ..google.oauth import MEET_READ
from ..services.accounts.settings import (
    PracticeProfile,
    TherapistSettings,
    load_settings,
    save_settings,
    set_meet_evidence,
)
from ..services.attendance.meet import meet_status
from ..services.followup.run import follow_up_therapist
from ..services.pages.reach_back import EarlierMiss, reach_back
from ..services.patients.directory import patient_key
from ..storage.models import Patient, Therapist
from .auth import ask_for_more, login_required, require_therapist
from .extensions import current_time, database, runtime

MEET_ON = (
    "Meet evidence is on: after each video session, who joined its Google Meet call is read "
    "and shown beside the session."
)
MEET_REFUSED = (
    "Google did not grant reading who joined your Meet calls, so Meet evidence stays off. "
    "Video sessions follow your setting for unmarked sessions."
)

bp = Blueprint("settings", __name__, url_prefix="/settings")

#: Google Calendar's event colours, by id.
COLORS = {
    "1": "Lavender",
    "2": "Sage",
    "3": "Grape",
    "4": "Flamingo",
    "5": "Banana",
    "6": "Tangerine",
    "7": "Peacock",
    "8": "Graphite",
    "9": "Blueberry",
    "10": "Basil",
    "11": "Tomato",
}
CONVENTIONS = {
    UnmarkedConvention.UNMARKED_IS_MISSED: "Unmarked means missed: remind me, then follow up",
    UnmarkedConvention.UNMARKED_IS_ATTENDED: "Unmarked means attended: I mark only misses",
    UnmarkedConvention.ALWAYS_ASK: "Always ask me: nothing goes out until I mark",
}
MARK_OUTCOMES = (Outcome.ATTENDED, Outcome.NO_SHOW, Outcome.LATE_CANCEL, Outcome.CANCELLED_IN_TIME)
LADDER_CHOICES = sorted(LADDER_ACTIONS, key=lambda kind: list(ActionKind).index(kind))
STEPS = 4


class FormError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _number(form: Any, name: str, low: float, high: float) -> float:
    try:
        value = float(form.get(name, ""))
    except ValueError:
        raise FormError(name, "Enter a number.") from None
    if not low <= value <= high:
        raise FormError(name, f"Enter a number from {low:g} to {high:g}.")
    return value


def _fee(form: Any, name: str, currency: str) -> Money | None:
    text = (form.get(name) or "").strip()
    if not text or text in ("0", "0.00"):
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise FormError(name, "Enter an amount like 40 or 40.00, or leave it empty.") from None
    if amount <= 0:
        raise FormError(name, "A fee is more than zero; leave it empty for no fee.")
    try:
        return Money(int((amount * 100).to_integral_value()), currency)
    except ValueError as exc:
        raise FormError("currency", str(exc)) from None


def parse(form: Any, current: TherapistSettings) -> tuple[TherapistSettings, str]:
    """The settings the form describes, and the therapist's time zone.

    :raises FormError: naming the field that holds a value the service cannot use.
    """
    zone = (form.get("time_zone") or "UTC").strip()
    if zone not in available_timezones():
        raise FormError("time_zone", "Choose a time zone such as Europe/London.")
    currency = (form.get("currency") or "GBP").strip().upper()
    pattern = (form.get("title_pattern") or "").strip() or None
    try:
        sessions = SessionRules(pattern, form.get("one_attendee_is_session") == "on")
    except ValueError as exc:
        raise FormError("title_pattern", str(exc)) from None
    co_organizers = frozenset(re.split(r"[\s,;]+", form.get("co_organizers") or "")) - {""}
    try:
        sessions = replace(sessions, co_organizers=co_organizers)
    except ValueError as exc:
        raise FormError(
            "co_organizers", f"{exc}: write addresses like frontdesk@example.test."
        ) from None
    colors = {
        form.get(f"color_{outcome.value}"): outcome
        for outcome in MARK_OUTCOMES
        if form.get(f"color_{outcome.value}") in COLORS
    }
    tags = {
        tag.strip().strip("[]").lower(): outcome
        for outcome in MARK_OUTCOMES
        if (tag := form.get(f"tag_{outcome.value}", "")).strip().strip("[]")
    }
    ladder = []
    for step in range(1, STEPS + 1):
        chosen = frozenset(
            kind for kind in LADDER_CHOICES if form.get(f"step{step}_{kind.value}") == "on"
        )
        if not chosen:
            raise FormError(f"step{step}", "Choose at least one action for each step.")
        ladder.append(chosen)
    try:
        unmarked = UnmarkedRules(
            convention=UnmarkedConvention(form.get("convention", "")),
            reminder_delay=timedelta(hours=_number(form, "reminder_delay_hours", 0, 23)),
            hold=timedelta(hours=_number(form, "hold_hours", 1, 24)),
        )
    except ValueError as exc:
        if isinstance(exc, FormError):
            raise
        raise FormError("hold_hours", str(exc)) from None
    try:
        policy = Policy(
            rolling_window=timedelta(days=_number(form, "rolling_window_days", 7, 365)),
            notice_window=timedelta(hours=_number(form, "notice_window_hours", 1, 168)),
            late_cancels_count=form.get("late_cancels_count") == "on",
            no_show_fee=_fee(form, "no_show_fee", currency),
            late_cancel_fee=_fee(form, "late_cancel_fee", currency),
            charge_assumed_no_shows=form.get("charge_assumed_no_shows") == "on",
            unmarked=unmarked,
            late_bound=timedelta(days=_number(form, "late_bound_days", 1, 14)),
            ladder=tuple(ladder),
            uncounted_late_cancel_actions=current.policy.uncounted_late_cancel_actions,
            marks=MarkRules(colors=colors, tags=tags),
            sessions=sessions,
            patient_hold=timedelta(
                minutes=_number(
                    form,
                    "patient_hold_minutes",
                    MIN_PATIENT_HOLD.total_seconds() / 60,
                    MAX_PATIENT_HOLD.total_seconds() / 60,
                )
            ),
            # Turned on and off by its own button (it asks Google for a permission).
            meet_evidence=current.policy.meet_evidence,
            meet=replace(
                current.policy.meet,
                minimum=timedelta(minutes=_number(form, "meet_minimum_minutes", 1, 30))
                if form.get("meet_minimum_minutes")
                else current.policy.meet.minimum,
            ),
        )
    except FormError:
        raise
    except ValueError as exc:
        raise FormError("policy", str(exc)) from None
    practice = PracticeProfile(
        practice_name=(form.get("practice_name") or "").strip()[:200],
        signature=(form.get("signature") or "").strip()[:200],
        contact_phone=(form.get("contact_phone") or "").strip()[:50],
    )
    return TherapistSettings(policy, practice, _reschedule(form, current.reschedule)), zone


def _hours_window(form: Any, day: int) -> tuple[tuple[time, time], ...]:
    """``09:00-17:00`` (or empty for a day off), possibly two windows split by a comma."""
    name = f"hours_{day}"
    text = (form.get(name) or "").strip()
    windows = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            start, end = (time.fromisoformat(x.strip()) for x in part.split("-"))
        except ValueError:
            raise FormError(name, "Write hours like 09:00-17:00, or leave the day empty.") from None
        if not start < end:
            raise FormError(name, "The end of the working hours must come after the start.")
        windows.append((start, end))
    return tuple(windows)


def _reschedule(form: Any, current: RescheduleRules) -> RescheduleRules:
    hours = tuple(_hours_window(form, day) for day in range(7))
    try:
        return replace(
            current,
            working_hours=hours,
            buffer=timedelta(minutes=_number(form, "buffer_minutes", 0, 240)),
            minimum_notice=timedelta(hours=_number(form, "minimum_notice_hours", 1, 336)),
            horizon=timedelta(days=_number(form, "horizon_days", 1, 60)),
            max_proposals=int(_number(form, "max_proposals", 1, 10)),
            answer_deadline=timedelta(hours=_number(form, "answer_deadline_hours", 1, 336)),
            skip_if_session_within=timedelta(
                days=_number(form, "skip_if_session_within_days", 0, 60)
            ),
        )
    except FormError:
        raise
    except ValueError as exc:
        raise FormError("reschedule", str(exc)) from None


def _render(
    therapist: Therapist, settings: TherapistSettings, zone: str, error: FormError | None = None
) -> tuple[str, int]:
    policy = settings.policy
    color_of = {outcome: color for color, outcome in policy.marks.colors.items()}
    tag_of = {outcome: tag for tag, outcome in policy.marks.tags.items()}
    fees = [fee for fee in (policy.no_show_fee, policy.late_cancel_fee) if fee is not None]
    with database().transaction() as db:
        status = meet_status(db, therapist.id)
    page = render_template(
        "settings/index.html",
        therapist=therapist,
        settings=settings,
        policy=policy,
        zone=zone,
        zones=sorted(available_timezones()),
        colors=COLORS,
        color_of=color_of,
        tag_of=tag_of,
        outcomes=MARK_OUTCOMES,
        conventions=CONVENTIONS,
        ladder_choices=LADDER_CHOICES,
        steps=range(1, STEPS + 1),
        currency=fees[0].currency if fees else "GBP",
        error=error,
        hours=lambda delta: f"{delta.total_seconds() / 3600:g}",
        weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        windows=lambda day: ", ".join(
            f"{a:%H:%M}-{b:%H:%M}" for a, b in settings.reschedule.working_hours[day]
        ),
        meet_status=status,
    )
    return page, 400 if error else 200


@bp.post("/meet")
@login_required
def meet() -> Response | tuple[str, int, dict[str, str]]:
    """Turn Meet evidence on (asking Google for ``meetings.space.readonly`` if needed) or off."""
    therapist = require_therapist()
    now = current_time()
    wanted = request.form.get("meet_evidence") == "on"
    granted = MEET_READ in runtime().connections.granted_scopes(therapist.id)
    with database().transaction() as db:
        set_meet_evidence(db, therapist.id, wanted, now)
    if not wanted:
        flash("Meet evidence is off: video calls are not read any more.", "info")
        return redirect(url_for("settings.index"))
    if granted:
        flash(MEET_ON, "info")
        return redirect(url_for("settings.index"))
    return ask_for_more("meet", therapist.email)


@bp.get("/meet/granted")
@login_required
def meet_granted() -> Response:
    """Back from Google's consent page: say whether Meet evidence could be turned on."""
    therapist = require_therapist()
    if MEET_READ in runtime().connections.granted_scopes(therapist.id):
        flash(MEET_ON, "info")
    else:
        flash(MEET_REFUSED, "error")
    return redirect(url_for("settings.index"))


@bp.get("/")
@login_required
def index() -> tuple[str, int]:
    therapist = require_therapist()
    with database().transaction() as db:
        settings = load_settings(db, therapist.id)
    return _render(therapist, settings, therapist.time_zone)


@bp.post("/")
@login_required
def save() -> Response | tuple[str, int]:
    therapist = require_therapist()
    with database().transaction() as db:
        current = load_settings(db, therapist.id)
    try:
        settings, zone = parse(request.form, current)
    except FormError as error:
        return _render(therapist, current, therapist.time_zone, error)
    ZoneInfo(zone)
    now = current_time()
    if "reach_back" not in request.form:
        earlier = reach_back(runtime(), therapist.id, settings, now)
        if earlier:
            # Settings never reach into the past by themselves: ask first.
            return _confirm(therapist, earlier), 200
    # What was due under the settings in force is recorded under them, before they change.
    follow_up_therapist(runtime(), therapist.id, now=now, dry_run=False)
    with database().transaction() as db:
        save_settings(
            db, therapist.id, settings, now, reach_back=request.form.get("reach_back") == "yes"
        )
        row = db.get(Therapist, therapist.id)
        if row is not None:
            row.time_zone = zone
    flash("Settings saved.", "info")
    return redirect(url_for("settings.index"))


def _confirm(therapist: Therapist, earlier: list[EarlierMiss]) -> str:
    with database().transaction() as db:
        names = {
            patient_key(p.id): p.name or p.email or "a patient"
            for p in db.scalars(select(Patient).where(Patient.therapist_id == therapist.id))
        }
    patients = {miss.patient_key for miss in earlier}
    return render_template(
        "settings/confirm.html",
        earlier=earlier,
        names=names,
        emails=sum(miss.emails for miss in earlier),
        patients=len(patients),
        fields=[(key, value) for key, value in request.form.items(multi=True)],
    )
