"""calendar-sync: follow-up after missed therapy sessions, inside Google Calendar."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as settings
from . import logs
from .google.oauth import allow_plain_http
from .services.accounts.connections import ConnectionKeeper
from .storage import Database
from .storage.crypto import TokenCipher

# Templates and static files sit at the top of the repository, beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web application.

    Configuration comes from defaults, then the environment, then ``test_config``.

    :raises calendar_sync.config.ConfigError: when the configuration is not safe to run.
    """
    app = Flask(
        __name__,
        instance_path=os.environ.get("CALENDAR_SYNC_INSTANCE") or None,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.update(AUTO_MIGRATE=True)
    app.config.update(settings.load(os.environ, instance))
    if test_config:
        app.config.update(test_config)
    settings.finish(app.config)
    logs.install(app.config["LOG_LEVEL"])

    database = Database(app.config["DATABASE_URL"])
    app.extensions["database"] = database
    if app.config["AUTO_MIGRATE"]:
        database.upgrade()
    if app.config["OAUTH_ALLOW_HTTP"]:
        allow_plain_http()
    app.extensions["connections"] = ConnectionKeeper(
        database=database,
        cipher=TokenCipher(app.config["TOKEN_ENCRYPTION_KEYS"]),
        client_secrets_path=app.config["GOOGLE_CLIENT_SECRETS"],
        api_root=app.config["GOOGLE_API_ROOT"],
    )

    from .web import register

    register(app)
    from .cli import register_commands

    register_commands(app)
    return app
