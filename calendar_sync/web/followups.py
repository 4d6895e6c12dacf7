"""Follow-ups: each miss with what the service decided, sent, offered and heard back.

Also where a late follow-up offered to the therapist is sent or dropped (from the dashboard
or from this page).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..services.followup import offers
from ..services.outbox.dispatch import STATUS_WORDS
from ..services.pages import timeline
from ..services.patients.links import BARRIER_SURVEY, CHOOSE_TIME, NONE_SUIT, WILL_GET_IN_TOUCH
from .auth import login_required, require_therapist
from .dashboard import therapist_zone
from .extensions import current_time, database, runtime
from .outbox import back_to

bp = Blueprint("followups", __name__, url_prefix="/followups")

ANSWER_WORDS = {
    CHOOSE_TIME: "chose another time",
    BARRIER_SURVEY: "said what got in the way",
    WILL_GET_IN_TOUCH: "asked you to get in touch",
    NONE_SUIT: "none of the times offered suit; asked you to get in touch",
}
REASON_WORDS = {
    "transport": "transport",
    "cost": "cost",
    "work_or_childcare": "work or childcare",
    "health": "health",
    "forgot": "forgot",
    "other": "other",
}
#: What became of a decided action, in the therapist's words.
ACTION_WORDS = {
    "queued": "done",
    "offered": "waiting for you (late)",
    "dismissed": "dropped by you",
    "not_possible": "not possible",
}


def _own(therapist_id: int, action_id: int) -> None:
    with database().transaction() as db:
        if not offers.owns(db, therapist_id, action_id):
            abort(404)


@bp.get("/")
@login_required
def index() -> str:
    therapist = require_therapist()
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    with database().transaction() as db:
        total = timeline.count(db, therapist.id)
        found = timeline.misses(db, therapist.id, current_time(), page=number)
    pages = max(1, -(-total // timeline.PAGE_SIZE))
    if number > pages:
        abort(404)
    return render_template(
        "followups/index.html",
        misses=found,
        page=number,
        pages=pages,
        total=total,
        zone=therapist_zone(therapist),
        answer_words=ANSWER_WORDS,
        reason_words=REASON_WORDS,
        status_words=STATUS_WORDS,
        action_words=ACTION_WORDS,
    )


@bp.get("/session")
@login_required
def one() -> str:
    """One miss alone (``?calendar_id=&event_id=``, Google's ids): where a notice links to."""
    therapist = require_therapist()
    ref = (request.args.get("calendar_id", ""), request.args.get("event_id", ""))
    with database().transaction() as db:
        found = timeline.miss(db, therapist.id, ref, current_time())
    if found is None:
        abort(404)
    return render_template(
        "followups/index.html",
        misses=[found],
        single=True,
        page=1,
        pages=1,
        total=1,
        zone=therapist_zone(therapist),
        answer_words=ANSWER_WORDS,
        reason_words=REASON_WORDS,
        status_words=STATUS_WORDS,
        action_words=ACTION_WORDS,
    )


@bp.post("/<int:action_id>/send")
@login_required
def send(action_id: int) -> Response:
    therapist = require_therapist()
    _own(therapist.id, action_id)
    try:
        offers.send(runtime(), therapist.id, action_id, current_time())
    except offers.NotSent as exc:
        flash(str(exc), "error")
    else:
        flash(
            "Queued: it goes out at the next run. Until then you can still hold it under "
            "“About to go out”.",
            "info",
        )
    return redirect(back_to(url_for("dashboard.index")))


@bp.post("/<int:action_id>/drop")
@login_required
def drop(action_id: int) -> Response:
    therapist = require_therapist()
    _own(therapist.id, action_id)
    try:
        offers.drop(runtime(), therapist.id, action_id)
    except offers.NotSent as exc:
        flash(str(exc), "error")
    else:
        flash("Dropped: nothing will be sent for that session.", "info")
    return redirect(back_to(url_for("dashboard.index")))
