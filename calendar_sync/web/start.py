"""The first-run checklist: nothing reaches a patient until the therapist switches it on.

One screen with the defaults already chosen, so a therapist who agrees starts with one
click: calendars, how sessions are recognised, marks, what an unmarked session means (with
its consequence in words), fees, the hold and the wording.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..domain.explain import consequence, duration_words
from ..domain.unmarked import UnmarkedConvention
from ..services.accounts.settings import (
    follow_ups_from,
    load_settings,
    save_settings,
    switch_follow_ups_off,
    switch_follow_ups_on,
    with_policy,
)
from ..services.sync.calendar_list import calendar_statuses
from .auth import login_required, require_therapist
from .dashboard import therapist_zone
from .extensions import current_time, database
from .settings import COLORS, CONVENTIONS

bp = Blueprint("start", __name__, url_prefix="/start")


@bp.get("/")
@login_required
def index() -> str:
    therapist = require_therapist()
    with database().transaction() as db:
        settings = load_settings(db, therapist.id)
        since = follow_ups_from(db, therapist.id)
    policy = settings.policy
    unmarked = {
        convention: (
            label,
            consequence(
                replace(policy, unmarked=replace(policy.unmarked, convention=convention)),
                1,
                assumed=True,
            )
            if convention is UnmarkedConvention.UNMARKED_IS_MISSED
            else "nothing, until you mark it",
        )
        for convention, label in CONVENTIONS.items()
    }
    return render_template(
        "start/index.html",
        therapist=therapist,
        settings=settings,
        policy=policy,
        since=since,
        zone=therapist_zone(therapist),
        calendars=[c for c in calendar_statuses(database(), therapist.id) if c.selected],
        colors=COLORS,
        unmarked=unmarked,
        if_missed=consequence(policy, 1, assumed=False),
        hold=duration_words(policy.patient_hold),
        unmarked_hold=duration_words(policy.unmarked.hold),
    )


@bp.post("/")
@login_required
def switch_on() -> Response:
    """Keep the chosen unmarked rule, then let follow-ups reach patients from now on."""
    therapist = require_therapist()
    now = current_time()
    with database().transaction() as db:
        if request.form.get("action") == "off":
            switch_follow_ups_off(db, therapist.id)
            flash("Follow-ups are off: nothing goes to patients until you switch them on.", "info")
            return redirect(url_for("start.index"))
        settings = load_settings(db, therapist.id)
        try:
            convention = UnmarkedConvention(request.form.get("convention", ""))
        except ValueError:
            convention = settings.policy.unmarked.convention
        policy = replace(
            settings.policy, unmarked=replace(settings.policy.unmarked, convention=convention)
        )
        save_settings(db, therapist.id, with_policy(settings, policy), now)
        switch_follow_ups_on(db, therapist.id, now)
    flash(
        "Follow-ups are on, for misses from now on. Each waits under About to go out before "
        "it reaches a patient.",
        "info",
    )
    return redirect(url_for("dashboard.index"))
