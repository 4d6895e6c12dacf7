"""Notices: the full list of what the therapist has not cleared yet, and clearing them.

Today shows the newest few (``services.pages.notices.ON_TODAY``) and links here for the
rest, so none drops out of sight before the therapist clears it.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..services.notices import clear_all, mark_read
from ..services.pages.notices import uncleared
from ..storage.models import TherapistNotice
from .auth import login_required, require_therapist
from .dashboard import therapist_zone
from .extensions import current_time, database
from .outbox import back_to

bp = Blueprint("notices", __name__, url_prefix="/notices")


@bp.get("/")
@login_required
def index() -> str:
    therapist = require_therapist()
    with database().transaction() as db:
        notices = uncleared(db, therapist.id)
    return render_template("notices/index.html", notices=notices, zone=therapist_zone(therapist))


@bp.post("/<int:notice_id>/clear")
@login_required
def clear(notice_id: int) -> Response:
    therapist = require_therapist()
    with database().transaction() as db:
        cleared = mark_read(db, therapist.id, notice_id, current_time())
        theirs = db.scalar(
            select(TherapistNotice.id).where(
                TherapistNotice.id == notice_id, TherapistNotice.therapist_id == therapist.id
            )
        )
    if not cleared and theirs is None:
        abort(404)
    return redirect(back_to(url_for("dashboard.index")))


@bp.post("/clear")
@login_required
def clear_shown() -> Response:
    therapist = require_therapist()
    up_to = request.form.get("up_to", "")
    if not up_to.isdigit():
        abort(400)
    with database().transaction() as db:
        clear_all(db, therapist.id, int(up_to), current_time())
    return redirect(back_to(url_for("dashboard.index")))
