"""Cloud Tasks v2 over HTTP: the API checked against its discovery document, and controls.

What the queues and tasks do lives in :mod:`.task_hub`; see its docstring.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from .api import google_method
from .state import current_state
from .task_hub import PARENT, CloudError, TaskHub

bp = Blueprint("sandbox_cloudtasks", __name__, url_prefix="/v2")
control = Blueprint("sandbox_cloudtasks_control", __name__, url_prefix="/_sandbox/tasks")


def hub() -> TaskHub:
    return current_state().tasks


# -- the API, checked against the discovery document ----------------------------------------


@bp.post("/<path:parent>/queues")
@google_method("cloudtasks.projects.locations.queues.create")
def create_queue(account: str, parent: str) -> Response:
    if not PARENT.fullmatch(parent):
        raise CloudError(400, "badRequest", "Parent is invalid.")
    return jsonify(hub().create_queue(parent, g.body))


@bp.post("/<path:parent>/tasks")
@google_method("cloudtasks.projects.locations.queues.tasks.create")
def create_task(account: str, parent: str) -> Response:
    return jsonify(hub().create_task(parent, g.body))


@google_method("cloudtasks.projects.locations.queues.get")
def _get_queue(account: str, name: str) -> Response:
    return jsonify(hub().get_queue(name))


@google_method("cloudtasks.projects.locations.queues.tasks.get")
def _get_task(account: str, name: str) -> Response:
    return jsonify(hub().get_task(name))


@google_method("cloudtasks.projects.locations.queues.tasks.delete")
def _delete_task(account: str, name: str) -> Response:
    hub().delete_task(name)
    return jsonify({})


@bp.get("/<path:name>")
def get_resource(name: str) -> Response:
    view = _get_task if "/tasks/" in name else _get_queue
    result: Response = view(name=name)
    return result


@bp.delete("/<path:name>")
def delete_resource(name: str) -> Response:
    result: Response = _delete_task(name=name)
    return result


# -- control ------------------------------------------------------------------------------


@control.post("/target")
def set_target() -> Response:
    """Where App Engine tasks go: the app's base URL (``{"url": ...}``)."""
    body = request.get_json(force=True) or {}
    hub().app_engine_url = body.get("url")
    return jsonify({"url": hub().app_engine_url})


@control.get("")
def list_tasks() -> Response:
    """Tasks waiting (FULL view) and every dispatch attempt so far."""
    current = hub()
    with current._lock:
        return jsonify(
            {
                "tasks": [t.resource(full=True) for t in current.tasks.values()],
                "attempts": list(current.attempts),
                "queues": list(current.queues.values()),
            }
        )


@control.post("/flush")
def flush() -> Response:
    body = request.get_json(silent=True) or {}
    return jsonify({"drained": hub().flush(float(body.get("timeout", 10)))})
