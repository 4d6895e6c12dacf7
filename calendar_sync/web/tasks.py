"""The scheduler's door on App Engine: cron calls ``/tasks/tick`` to run one cycle.

App Engine removes the ``X-Appengine-Cron`` header from requests coming from outside, so its
presence proves the call came from the platform's cron, but only there: behind any other
server anyone can send it. So the door opens only when ``APP_ENGINE_CRON`` is on and App
Engine's own environment says this is App Engine. Anywhere else the route answers 404:
there, ``calendar-sync worker`` runs the cycle.
"""

from __future__ import annotations

import os

from flask import Blueprint, abort, current_app, request

from ..config import on_app_engine
from ..services.cycle import run_cycle
from .extensions import current_time, runtime

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


@bp.get("/tick")
def tick() -> dict[str, object]:
    if (
        not current_app.config.get("APP_ENGINE_CRON")
        or not on_app_engine(os.environ)
        or request.headers.get("X-Appengine-Cron") != "true"
    ):
        abort(404)
    report = run_cycle(runtime(), now=current_time(), dry_run=False)
    # Counts only: the report's lines can name sessions, and this answer is logged.
    return {"therapists": report.therapists, "steps": len(report.entries)}
