"""The home page: what the service is, and the way in."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    return render_template("home/index.html")


@bp.get("/healthz")
def health() -> dict[str, str]:
    return {"status": "ok"}
