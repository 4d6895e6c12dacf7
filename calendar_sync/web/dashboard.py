"""The therapist's dashboard: connection health, what goes out next, what needs them.

"Today" shows what is about to go out (hold, release, cancel), the messages that need the
therapist (outcome unknown, failed), late follow-ups offered to them, sessions waiting for a
mark, notices and calendars. The actions live in ``web.outbox`` and ``web.followups``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import (
    session as browser_session,
)
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from werkzeug.wrappers import Response

from ..domain.explain import duration_words
from ..google.oauth import FEATURES
from ..services.accounts.disconnect import disconnect_therapist
from ..services.accounts.settings import follow_ups_from, load_settings
from ..services.accounts.settings import therapist_zone as zone_of
from ..services.attendance.meet import meet_status
from ..services.followup.marks import MARKABLE
from ..services.followup.offers import offers
from ..services.outbox.dispatch import MessageStatus
from ..services.outbox.review import messages, needing_attention
from ..services.pages.notices import ON_TODAY, uncleared
from ..services.pages.rehearsal import would_have_gone
from ..services.pages.today import held_work, waiting_for_mark
from ..services.sync.calendar_list import calendar_statuses, select_calendar
from ..storage.models import CalendarEventRow, CalendarRow, Therapist
from .auth import login_required, require_therapist
from .extensions import connections, current_time, database, runtime

bp = Blueprint("dashboard", __name__)

#: "About to go out" looks this far ahead.
SOON = timedelta(hours=24)


@bp.get("/dashboard")
@login_required
def index() -> str:
    therapist = require_therapist()
    keeper = connections()
    connection = keeper.connection_summary(therapist.id)
    granted = keeper.granted_scopes(therapist.id)
    switched_off = [text for scope, text in FEATURES.items() if scope not in granted]
    undo = browser_session.pop("undo_mark", None)
    now = current_time()
    store = database()
    zone = therapist_zone(therapist)
    with store.transaction() as db:
        notices = uncleared(db, therapist.id, limit=ON_TODAY)
        attention = needing_attention(db, therapist.id)
        flagged = {m.id for m in attention}
        soon = [
            m
            for m in messages(db, therapist.id, (MessageStatus.PENDING, MessageStatus.HELD))
            if m.id not in flagged
            and (m.status == MessageStatus.HELD or m.not_before <= now + SOON)
        ]
        soon.sort(key=lambda m: (m.not_before, m.id))
        held = held_work(db, therapist.id, soon)
        since = follow_ups_from(db, therapist.id)
        hold_words = duration_words(load_settings(db, therapist.id).policy.patient_hold)
        offered = offers(db, therapist.id)
        starts = session_starts(db, therapist.id, {(o.calendar_id, o.event_id) for o in offered})
        meet = meet_status(db, therapist.id)
    return render_template(
        "dashboard/index.html",
        therapist=therapist,
        connection=connection,
        switched_off=switched_off,
        meet_status=meet,
        waiting=waiting_for_mark(runtime(), therapist.id, now),
        rehearsal=[] if since else would_have_gone(runtime(), therapist.id, now),
        undo=undo,
        markable=MARKABLE,
        calendars=calendar_statuses(store, therapist.id),
        notices=notices,
        soon=soon,
        held=held,
        follow_ups_since=since,
        hold_words=hold_words,
        attention=attention,
        offered=offered,
        starts=starts,
        zone=zone,
    )


def session_starts(
    db: DbSession, therapist_id: int, refs: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, datetime | None]]:
    """The title and start of each of the therapist's sessions named in ``refs``."""
    found: dict[tuple[str, str], tuple[str, datetime | None]] = {}
    for calendar_id, event_id in refs:
        row = db.execute(
            select(CalendarEventRow.title, CalendarEventRow.start)
            .join(CalendarRow, CalendarEventRow.calendar_row_id == CalendarRow.id)
            .where(
                CalendarRow.therapist_id == therapist_id,
                CalendarRow.google_calendar_id == calendar_id,
                CalendarEventRow.event_id == event_id,
            )
        ).first()
        if row is not None:
            found[(calendar_id, event_id)] = (row[0] or "Session", row[1])
    return found


def therapist_zone(therapist: Therapist) -> ZoneInfo:
    """The signed-in therapist's clock (see ``services.accounts.settings.therapist_zone``)."""
    with database().transaction() as db:
        return zone_of(db, therapist)


@bp.post("/settings/calendars")
@login_required
def choose_calendars() -> Response:
    therapist = require_therapist()
    store = database()
    wanted = {int(value) for value in request.form.getlist("calendar") if value.isdigit()}
    now = current_time()
    for status in calendar_statuses(store, therapist.id):
        try:
            select_calendar(store, therapist.id, status.id, status.id in wanted, now)
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
    revoked = disconnect_therapist(runtime(), therapist.id, now=current_time())
    browser_session.clear()
    if revoked:
        flash("Disconnected. Your calendar data was deleted and Google access revoked.", "info")
    else:
        flash(
            "Disconnected and your data deleted. Google could not be reached to revoke "
            "access: remove calendar-sync at myaccount.google.com/permissions.",
            "error",
        )
    return redirect(url_for("index"))
