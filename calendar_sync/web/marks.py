"""Marking sessions: from the dashboard, and from the one-click links in reminder emails.

A link opens a page with a single button rather than marking on the GET itself: mail
scanners open links to check them, and must not mark sessions by doing so.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask import session as browser_session
from werkzeug.wrappers import Response

from ..domain.marks import MarkSource
from ..domain.outcomes import Outcome
from ..domain.times import when_words
from ..services.followup.marks import (
    MARKABLE,
    InvalidMarkLink,
    LinkProblem,
    MarkRequest,
    read_mark_link,
    record_mark,
    use_mark_link,
)
from ..services.sync.event_store import own_event
from ..storage.models import CalendarEventRow, Therapist
from . import csrf
from .auth import login_required, require_therapist
from .extensions import current_time, database
from .outbox import back_to

bp = Blueprint("marks", __name__)


def _event(therapist_id: int, calendar_id: str, event_id: str) -> CalendarEventRow | None:
    """The therapist's own session, or None: nobody marks another therapist's sessions."""
    with database().transaction() as db:
        return own_event(db, therapist_id, calendar_id, event_id)


def _when(row: CalendarEventRow, therapist: Therapist) -> str:
    from .dashboard import therapist_zone

    return when_words(row.start, therapist_zone(therapist)) if row.start else "an unknown time"


@bp.post("/sessions/mark")
@login_required
def mark_from_dashboard() -> Response:
    therapist = require_therapist()
    try:
        outcome = Outcome(request.form.get("outcome", ""))
    except ValueError:
        abort(400, description="Unknown mark.")
    if outcome not in MARKABLE and outcome is not Outcome.UNMARKED:
        abort(400, description="Unknown mark.")
    calendar_id = request.form.get("calendar_id", "")
    event_id = request.form.get("event_id", "")
    row = _event(therapist.id, calendar_id, event_id)
    if row is None:
        abort(404)
    with database().transaction() as db:
        record_mark(
            db,
            therapist_id=therapist.id,
            calendar_id=calendar_id,
            event_id=event_id,
            outcome=outcome,
            source=MarkSource.DASHBOARD,
            now=current_time(),
        )
    label = MARKABLE.get(outcome, "unmarked")
    flash(f"Session on {_when(row, therapist)} marked: {label}.", "info")
    if outcome is not Outcome.UNMARKED:
        # Today offers Undo: within the hold it takes back whatever the mark queued.
        browser_session["undo_mark"] = {
            "calendar_id": calendar_id,
            "event_id": event_id,
            "when": _when(row, therapist),
            "label": label,
        }
    return redirect(back_to(url_for("dashboard.index")))


_REFUSALS = {
    LinkProblem.INVALID: (400, "This link is not valid."),
    LinkProblem.EXPIRED: (410, "This link has expired; mark the session from your dashboard."),
    LinkProblem.USED: (
        410,
        "This session was already marked from this email; change its mark from your dashboard.",
    ),
}


def _read(token: str) -> tuple[MarkRequest, CalendarEventRow, Therapist]:
    with database().transaction() as db:
        try:
            wanted = read_mark_link(db, current_app.config["SECRET_KEY"], token, current_time())
        except InvalidMarkLink as exc:
            status, words = _REFUSALS[exc.problem]
            abort(status, description=words)
        therapist = db.get(Therapist, wanted.therapist_id)
    row = _event(wanted.therapist_id, wanted.calendar_id, wanted.event_id)
    if therapist is None or row is None:
        abort(404)
    return wanted, row, therapist


@bp.get("/m/<token>")
def confirm_link_mark(token: str) -> str:
    wanted, row, therapist = _read(token)
    return render_template(
        "marks/confirm.html",
        token=token,
        when=_when(row, therapist),
        label=MARKABLE[wanted.outcome],
    )


@bp.post("/m/<token>")
@csrf.exempt  # the signed single-use link is the credential, and it names exactly one mark
def mark_from_link(token: str) -> str:
    wanted, row, therapist = _read(token)
    with database().transaction() as db:
        if not use_mark_link(db, wanted, current_time()):
            status, words = _REFUSALS[LinkProblem.USED]
            abort(status, description=words)
    return render_template(
        "marks/done.html", when=_when(row, therapist), label=MARKABLE[wanted.outcome]
    )
