"""A local stand-in for Google (OAuth, Calendar v3, Gmail send, Meet, userinfo, Cloud Tasks v2).

The demo and the tests point the real Google client libraries at it; see docs/sandbox.md.
"""

from __future__ import annotations

from flask import Flask, Response

from ..resources import TEMPLATES
from .errors import GoogleError
from .state import SandboxState

# The project's templates folder (templates/sandbox/...), wherever it was installed.
_TEMPLATES = TEMPLATES


def create_sandbox_app(state: SandboxState | None = None) -> Flask:
    """Build the sandbox WSGI app around ``state`` (a fresh, empty one by default)."""
    from .calendar_addon import bp as calendar_addon_bp
    from .calendar_api import bp as calendar_bp
    from .cloudtasks import bp as cloudtasks_bp
    from .cloudtasks import control as cloudtasks_control_bp
    from .control import bp as control_bp
    from .gmail import bp as gmail_bp
    from .home import bp as home_bp
    from .meet import bp as meet_bp
    from .oauth import bp as oauth_bp

    app = Flask(__name__, template_folder=str(_TEMPLATES))
    app.extensions["sandbox"] = state if state is not None else SandboxState()
    # Google answers compact JSON in field order; sorting would hide nothing but costs clarity.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    blueprints = (
        home_bp,
        control_bp,
        oauth_bp,
        gmail_bp,
        calendar_bp,
        meet_bp,
        calendar_addon_bp,
        cloudtasks_bp,
        cloudtasks_control_bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)

    @app.errorhandler(GoogleError)
    def google_error(error: GoogleError) -> Response:
        return error.to_response()

    return app


__all__ = ["SandboxState", "create_sandbox_app"]
