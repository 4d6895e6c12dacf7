"""The scheduler's doors on App Engine: cron's calls, and Cloud Tasks' calls back.

App Engine removes the ``X-Appengine-Cron`` header and the ``X-AppEngine-*`` task headers from
requests coming from outside, so their presence proves the call came from the platform, but
only there: behind any other server anyone can send them. So those doors open only where App
Engine's own environment says this is App Engine, and answer 404 anywhere else (there,
``calendar-sync worker`` runs the cycle).

- ``/tasks/tick`` (cron, ``APP_ENGINE_CRON``, no queue): one whole cycle in the request.
- ``/tasks/dispatch`` (cron, with ``CLOUD_TASKS_QUEUE``): one task per due therapist.
- ``/tasks/therapist/<id>`` and ``/tasks/calendar/<id>`` (Cloud Tasks): one therapist's
  share under their lease, one calendar's push-requested sync. With App Engine targets only
  calls carrying our queue's headers get in; with HTTP targets only calls carrying a
  Google-signed OIDC token for ``CLOUD_TASKS_SERVICE_ACCOUNT`` with ``PUBLIC_URL`` as
  audience. Anything else is refused (403) before anything is read or written.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response, abort, current_app, jsonify, request

from ..config import on_app_engine
from ..google.id_tokens import verifier_for
from ..google.tasks import verify_oidc
from ..services.claims import run_claimed
from ..services.cycle import run_cycle
from ..services.fanout import dispatch_therapists
from ..services.sync.jobs import sync_requested
from ..storage.models import Therapist
from . import csrf
from .extensions import current_time, runtime

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _from_cron() -> bool:
    return on_app_engine(os.environ) and request.headers.get("X-Appengine-Cron") == "true"


@bp.get("/tick")
def tick() -> dict[str, object]:
    # With a queue, cron's other door fans the cycle out instead (cron.yaml lists both).
    if not current_app.config.get("APP_ENGINE_CRON") or runtime().tasks or not _from_cron():
        abort(404)
    report = run_cycle(runtime(), now=current_time(), dry_run=False)
    # Counts only: the report's lines can name sessions, and this answer is logged.
    return {"therapists": report.therapists, "steps": len(report.entries)}


@bp.get("/dispatch")
def dispatch() -> dict[str, object]:
    if runtime().tasks is None or not _from_cron():
        abort(404)
    done = dispatch_therapists(runtime(), current_time())
    return {"enqueued": done.enqueued, "in_hand": done.in_hand, "failed": done.failed}


def _require_cloud_tasks() -> None:
    """Let through only Cloud Tasks' calls for our queue; 404 or 403 otherwise."""
    tasks = runtime().tasks
    if tasks is None:
        abort(404)
    if tasks.target == "appengine":
        if not on_app_engine(os.environ):
            abort(404)
        if request.headers.get("X-AppEngine-QueueName") != tasks.queue_id or not (
            request.headers.get("X-AppEngine-TaskName")
        ):
            abort(403)
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    config = current_app.config
    if scheme.lower() != "bearer" or not verify_oidc(
        verifier_for(config["GOOGLE_API_ROOT"]),
        token.strip(),
        audience=config["PUBLIC_URL"],
        service_account=config["CLOUD_TASKS_SERVICE_ACCOUNT"],
    ):
        abort(403)


@bp.post("/therapist/<int:therapist_id>")
# Cloud Tasks sends no cookie: its headers or its OIDC token authenticate the call instead.
@csrf.exempt
def therapist(therapist_id: int) -> Response:
    _require_cloud_tasks()
    current = runtime()
    with current.database.transaction() as db:
        known = db.get(Therapist, therapist_id) is not None
    if not known:
        # Disconnected since the task was made: done, nothing to retry.
        return jsonify({"ran": False})
    lines = run_claimed(current, therapist_id, now=current_time())
    # A therapist held by another worker is in hand: a quiet 200, never a retry.
    return jsonify({"ran": lines is not None, "steps": len(lines or [])})


@bp.post("/calendar/<int:calendar_id>")
@csrf.exempt
def calendar(calendar_id: int) -> Response:
    _require_cloud_tasks()
    outcome = sync_requested(runtime(), calendar_id)
    # Another process is syncing it: a non-2xx answer makes Cloud Tasks call again after its
    # backoff. Not 503, which Cloud Tasks reads as App Engine overloaded and throttles for.
    return Response(
        response=f'{{"sync": "{outcome}"}}',
        status=409 if outcome == "busy" else 200,
        mimetype="application/json",
    )
