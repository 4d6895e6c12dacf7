"""The application factory: settings, database, the services' runtime and the web layer.

``calendar_sync.create_app`` adds the command line on top; the demo builds its app here.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as settings
from . import logs
from .google.oauth import allow_plain_http
from .google.tasks import CloudTasks
from .resources import STATIC, TEMPLATES
from .services.accounts.connections import ConnectionKeeper
from .services.runtime import Runtime
from .services.sync.jobs import run_queued_job
from .storage import Database
from .storage.crypto import TokenCipher
from .web import register


def build_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web application, without the command line (``create_app`` adds it).

    Configuration comes from defaults, then the environment, then ``test_config``.

    :raises calendar_sync.config.ConfigError: when the configuration is not safe to run.
    """
    app = Flask(
        __name__,
        instance_path=os.environ.get("CALENDAR_SYNC_INSTANCE") or None,
        instance_relative_config=True,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
    )
    # Secrets and, by default, the SQLite database (health data) live here.
    instance = settings.private_folder(Path(app.instance_path))
    app.config.update(AUTO_MIGRATE=True)
    app.config.update(settings.load(os.environ, instance))
    if test_config:
        app.config.update(test_config)
    settings.finish(app.config)
    logs.install(app.config["LOG_LEVEL"])
    if app.config["APP_ENGINE_CRON"] and not settings.on_app_engine(os.environ):
        logging.getLogger(__name__).warning(
            "APP_ENGINE_CRON is on, but this is not App Engine: /tasks/tick stays closed; "
            "run `calendar-sync worker` instead"
        )

    database = Database(app.config["DATABASE_URL"])
    if app.config["AUTO_MIGRATE"]:
        database.upgrade()
    if app.config["OAUTH_ALLOW_HTTP"]:
        allow_plain_http()
    keeper = ConnectionKeeper(
        database=database,
        cipher=TokenCipher(app.config["TOKEN_ENCRYPTION_KEYS"]),
        client_secrets_path=app.config["GOOGLE_CLIENT_SECRETS"],
        api_root=app.config["GOOGLE_API_ROOT"],
    )
    runtime = Runtime(database, keeper, app.config)
    if app.config["CLOUD_TASKS_QUEUE"]:
        runtime.tasks = CloudTasks(
            queue=app.config["CLOUD_TASKS_QUEUE"],
            api_root=app.config["GOOGLE_API_ROOT"],
            target=app.config["CLOUD_TASKS_TARGET"],
            public_url=app.config["PUBLIC_URL"],
            service_account=app.config["CLOUD_TASKS_SERVICE_ACCOUNT"],
        )
    # The queue's worker syncs what push notifications ask for, with this runtime.
    runtime.sync_queue.handler = partial(run_queued_job, runtime)
    runtime.attach(app)

    register(app)
    return app


def build_runtime(config: dict[str, Any]) -> Runtime:
    """A runtime for a worker process: the app built from ``config``, without its server."""
    from .services.runtime import runtime_of

    return runtime_of(build_app(config))
