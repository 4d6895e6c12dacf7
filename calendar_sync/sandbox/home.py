"""The sandbox's own home page: who exists and what was sent, for people watching the demo."""

from __future__ import annotations

from flask import Blueprint, render_template

from .state import current_state

bp = Blueprint("sandbox_home", __name__)


@bp.get("/")
def index() -> str:
    state = current_state()
    with state.lock:
        accounts = list(state.accounts.values())
        messages = list(reversed(state.sent))
    return render_template(
        "sandbox/home.html", accounts=accounts, messages=messages, now=state.now()
    )
