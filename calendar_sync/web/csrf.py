"""CSRF protection for every form: a per-browser token, checked on every unsafe request.

Google's push notifications and the scheduler's calls carry no browser cookie and are
authenticated otherwise; their views say so with :func:`exempt`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, abort, current_app, request
from flask import session as browser_session

F = TypeVar("F", bound=Callable[..., object])

_EXEMPT_ATTRIBUTE = "_csrf_exempt"


def exempt(view: F) -> F:
    setattr(view, _EXEMPT_ATTRIBUTE, True)
    return view


def token() -> str:
    """The browser's CSRF token, made on first use."""
    if "csrf" not in browser_session:
        browser_session["csrf"] = secrets.token_urlsafe(32)
    return str(browser_session["csrf"])


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = token

    @app.before_request
    def _check() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        view = current_app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, _EXEMPT_ATTRIBUTE, False):
            return
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        expected = browser_session.get("csrf")
        if not expected or not hmac.compare_digest(str(expected), sent):
            abort(400, description="This form has expired or did not come from this site.")
