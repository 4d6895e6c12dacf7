"""Serve a WSGI app (the sandbox, or the web app in tests) on loopback in a daemon thread."""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Request logging without query strings or path segments holding addresses.

    Paths and queries carry email addresses (``users/<email>``, ``login_hint``) and tokens
    (``/revoke?token=``); those must never reach a log.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        safe = "/".join("<redacted>" if "@" in part else part for part in path.split("/"))
        log.debug("%s %s %s", self.command, safe, code)

    def log(self, type: str, message: str, *args: Any) -> None:
        # Werkzeug's own messages can quote the request line; keep only the error kind.
        if type == "error":
            log.debug("sandbox server error while handling a request")


class _InFlight:
    """WSGI middleware counting requests still being handled, so a stop can wait for them.

    The client has its answer before the handling thread has finished its own clean-up
    (closing the response, returning database connections); stopping in between would
    leave that work running against resources the caller is about to tear down.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0
        self.idle = threading.Condition()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self.idle:
            self.count += 1
        try:
            iterable = self.app(environ, start_response)
            try:
                yield from iterable
            finally:
                # WSGI: the server must close what the app returned (Flask's teardown).
                close = getattr(iterable, "close", None)
                if close is not None:
                    close()
        finally:
            with self.idle:
                self.count -= 1
                self.idle.notify_all()

    def wait_idle(self, timeout: float) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.count == 0, timeout=timeout)


class SandboxServer:
    """A running threaded WSGI server; ``url`` ends with a slash, ``stop()`` shuts it down."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._in_flight = _InFlight(app)
        self._server: BaseWSGIServer = make_server(
            host, port, self._in_flight, threaded=True, request_handler=_QuietHandler
        )
        self.host = host
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"sandbox-{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._in_flight.wait_idle(timeout=10)
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Start ``app`` on ``host:port`` (0 picks a free port) and return the running server."""
    return SandboxServer(app, host=host, port=port)
