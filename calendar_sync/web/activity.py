"""Activity: what the service did and why, newest first, filtered, and as CSV."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request

from ..services.pages.activity import KINDS, LIMIT, Entry, Window, activity, activity_csv
from .auth import login_required, require_therapist
from .dashboard import therapist_zone
from .extensions import database

bp = Blueprint("activity", __name__)

KIND_WORDS = {
    "sync": "Calendar reads",
    "decision": "Decisions",
    "email": "Emails",
    "proposal": "New times offered",
    "mark": "Marks",
    "notice": "Notices",
}
# The CSV is for keeping records, so it may hold more than a page shows.
CSV_LIMIT = 5000


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters(zone: ZoneInfo) -> tuple[frozenset[str], Window, dict[str, str]]:
    """The kinds and the [from, to] days asked for; the days are the therapist's own."""
    kinds = frozenset(k for k in request.args.getlist("kind") if k in KINDS) or frozenset(KINDS)
    first, last = _day("from"), _day("to")
    since = datetime.combine(first, time(), zone) if first else None
    until = datetime.combine(last + timedelta(days=1), time(), zone) if last else None
    shown = {"from": first.isoformat() if first else "", "to": last.isoformat() if last else ""}
    return kinds, Window(since, until), shown


def _entries(limit: int) -> tuple[list[Entry], frozenset[str], dict[str, str], ZoneInfo]:
    therapist = require_therapist()
    zone = therapist_zone(therapist)
    kinds, window, shown = _filters(zone)
    store = database()
    with store.transaction() as db:
        found = activity(db, therapist.id, zone, kinds=kinds, window=window, limit=limit)
    return found, kinds, shown, zone


@bp.get("/activity")
@login_required
def index() -> str:
    found, kinds, shown, zone = _entries(LIMIT)
    return render_template(
        "activity/index.html",
        entries=found,
        kinds=kinds,
        kind_words=KIND_WORDS,
        shown=shown,
        zone=zone,
        limit=LIMIT,
        query=request.query_string.decode(),
    )


@bp.get("/activity.csv")
@login_required
def export() -> Response:
    found, _kinds, _shown, zone = _entries(CSV_LIMIT)
    return Response(
        activity_csv(found, zone),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="activity.csv"'},
    )
