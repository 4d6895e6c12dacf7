"""The app's shared services, typed, for the views of the current request."""

from __future__ import annotations

from flask import current_app

from ..services.accounts.connections import ConnectionKeeper
from ..storage import Database


def database() -> Database:
    found: Database = current_app.extensions["database"]
    return found


def connections() -> ConnectionKeeper:
    found: ConnectionKeeper = current_app.extensions["connections"]
    return found
