"""gunicorn's settings for App Engine (``app.yaml`` names this file).

The access log prints request lines and the Referer, which carry the links sent in emails
(``/p/<token>``, ``/m/<token>``) and OAuth codes: its atoms are redacted before they are
written, and every other record through ``calendar_sync.logs`` (set up here, in the master,
so that workers inherit it when they fork).
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from calendar_sync.logs import install_redaction, redact

install_redaction()


class RedactingLogger(Logger):
    """gunicorn's logger with every access-log atom redacted (request line, path, referer)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        found = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in found.items()
        }


logger_class = RedactingLogger
