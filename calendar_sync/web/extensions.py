"""The app's runtime, typed, for the views of the current request."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..services.accounts.connections import ConnectionKeeper
from ..services.runtime import Runtime, runtime_of
from ..storage import Database


def runtime() -> Runtime:
    return runtime_of(current_app)


def database() -> Database:
    return runtime().database


def connections() -> ConnectionKeeper:
    return runtime().connections


def current_time() -> datetime:
    """The current time as the runtime's clock tells it (tests pin it)."""
    return runtime().now()
