"""The therapist's dashboard: connection health, what is switched off, and disconnect."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from ..google.oauth import FEATURES
from ..services.connections import ConnectionKeeper
from ..services.disconnect import disconnect_therapist
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
    return render_template(
        "dashboard/index.html",
        therapist=therapist,
        connection=connection,
        switched_off=switched_off,
    )


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
