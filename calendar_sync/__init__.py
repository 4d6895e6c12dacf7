"""calendar-sync: follow-up after missed therapy sessions, inside Google Calendar."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .cli import register_commands
from .factory import build_app


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The web application with its command line (``flask --app calendar_sync`` finds it).

    Configuration comes from defaults, then the environment, then ``test_config``.

    :raises calendar_sync.config.ConfigError: when the configuration is not safe to run.
    """
    app = build_app(test_config)
    register_commands(app)
    return app
