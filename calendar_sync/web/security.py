"""Security headers on every response.

Every asset is served by the app itself, so the policy can forbid all other origins. Every
answer but the static assets may hold patient data (pages, CSV exports, the patient's own
pages), so none of them may be kept by the browser or a shared cache.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def init_app(app: Flask) -> None:
    https = app.config["PUBLIC_URL"].startswith("https://")
    # Flask's defaults already hold these keys (SameSite as None), so a ``setdefault`` on the
    # config cannot set them: the session cookie's flags are made certain here.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    if https:
        app.config["SESSION_COOKIE_SECURE"] = True

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        if https:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response
