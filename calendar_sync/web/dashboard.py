"""The therapist's dashboard: connection health, what is switched off, and disconnect."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..google.oauth import FEATURES
from ..services.calendars import calendar_statuses, select_calendar
from ..services.connections import ConnectionKeeper
from ..services.disconnect import disconnect_therapist
from ..services.marks import MARKABLE
from ..services.notices import notices_for
from ..services.today import waiting_for_mark
from ..storage import Database
from ..storage.models import CalendarRow, Therapist
from .auth import login_required, require_therapist

bp = Blueprint("dashboard", __name__)


def _keeper() -> ConnectionKeeper:
    keeper: ConnectionKeeper = current_app.extensions["connections"]
    return keeper


@bp.get("/dashboard")
@login_required
def index() -> str:
    therapist = require_therapist()
    keeper = _keeper()
    connection = keeper.connection_summary(therapist.id)
    granted = keeper.granted_scopes(therapist.id)
    switched_off = [text for scope, text in FEATURES.items() if scope not in granted]
    now = datetime.now(UTC)
    database: Database = current_app.extensions["database"]
    with database.transaction() as db:
        notices = notices_for(db, therapist.id)
    return render_template(
        "dashboard/index.html",
        therapist=therapist,
        connection=connection,
        switched_off=switched_off,
        waiting=waiting_for_mark(current_app, therapist.id, now),
        markable=MARKABLE,
        calendars=calendar_statuses(database, therapist.id),
        notices=notices,
        zone=therapist_zone(therapist),
    )


def therapist_zone(therapist: Therapist) -> ZoneInfo:
    """The therapist's clock: their own setting, else their main calendar's zone."""
    name = therapist.time_zone
    if not name or name == "UTC":
        database: Database = current_app.extensions["database"]
        with database.transaction() as db:
            primary = db.scalar(
                select(CalendarRow.time_zone).where(
                    CalendarRow.therapist_id == therapist.id, CalendarRow.is_primary.is_(True)
                )
            )
        name = primary or "UTC"
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


@bp.post("/settings/calendars")
@login_required
def choose_calendars() -> Response:
    therapist = require_therapist()
    database: Database = current_app.extensions["database"]
    wanted = {int(value) for value in request.form.getlist("calendar") if value.isdigit()}
    now = datetime.now(UTC)
    for status in calendar_statuses(database, therapist.id):
        try:
            select_calendar(database, therapist.id, status.id, status.id in wanted, now)
        except LookupError:
            abort(404)
    flash("Calendars saved. Newly chosen calendars are read at the next sync.", "info")
    return redirect(url_for("dashboard.index"))


@bp.get("/settings/disconnect")
@login_required
def confirm_disconnect() -> str:
    return render_template("dashboard/disconnect.html", therapist=require_therapist())


@bp.post("/settings/disconnect")
@login_required
def disconnect() -> Response:
    therapist = require_therapist()
    revoked = disconnect_therapist(current_app, therapist.id, now=datetime.now(UTC))
    session.clear()
    if revoked:
        flash("Disconnected. Your calendar data was deleted and Google access revoked.", "info")
    else:
        flash(
            "Disconnected and your data deleted. Google could not be reached to revoke "
            "access: remove calendar-sync at myaccount.google.com/permissions.",
            "error",
        )
    return redirect(url_for("index"))
