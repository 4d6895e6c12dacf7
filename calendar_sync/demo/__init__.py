"""The demo: the service and the Google sandbox together, on this machine only.

The service runs through exactly the code it runs in production; only its configuration
points Google's addresses at the sandbox. A fictional practice is seeded through the same
paths (``seed.py``), and a background ticker runs the cycle as the ``worker`` command does.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
from flask import Flask

from ..config import private_folder, write_private
from ..factory import build_app
from ..google.deployments import deployment
from ..sandbox import create_sandbox_app
from ..sandbox.server import SandboxServer, serve_in_thread
from ..services.runtime import runtime_of
from ..services.worker import Ticker
from .seed import SandboxControl, SeedReport, seed_practice


class Demo:
    """The sandbox and the service, served on ``host``, seeded, with a ticker running.

    ``start()`` returns once both answer and the practice is seeded; ``stop()`` ends all.
    Port 0 picks a free port (the tests and the screenshots do that).
    """

    def __init__(
        self,
        demo_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sandbox_port: int = 0,
        tick_seconds: float | None = 30,
        config: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> None:
        self.demo_dir = demo_dir
        self.host = host
        self.port = port
        self.sandbox_port = sandbox_port
        self.tick_seconds = tick_seconds
        self.config = config or {}
        # The moment the story ends at; the wall clock unless pinned (the tests pin it).
        self.now = now
        self.sandbox: SandboxServer | None = None
        self.server: _Reserved | None = None
        self.ticker: Ticker | None = None
        self.app: Flask | None = None
        self.report: SeedReport | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "start() first"
        return self.server.url.rstrip("/")

    @property
    def sandbox_url(self) -> str:
        assert self.sandbox is not None, "start() first"
        return self.sandbox.url.rstrip("/")

    def start(self) -> Demo:
        # The sandbox keeps its data in memory, so the demo's database starts afresh with it.
        shutil.rmtree(self.demo_dir, ignore_errors=True)
        private_folder(self.demo_dir)
        self.sandbox = serve_in_thread(create_sandbox_app(), host=self.host, port=self.sandbox_port)
        # The service's port must be known before its OAuth client is registered.
        self.server = _Reserved(self.host, self.port)
        public_url = f"http://{self.host}:{self.server.port}"
        secrets = _post(
            self.sandbox.url,
            "_sandbox/clients",
            {"redirect_uris": [f"{public_url}/oauth2/callback"]},
        )
        secrets_path = self.demo_dir / "client_secret.json"
        write_private(secrets_path, json.dumps(secrets, indent=2))
        self.app = build_app(
            {
                "DATABASE_URL": f"sqlite:///{self.demo_dir / 'demo.sqlite3'}",
                "GOOGLE_CLIENT_SECRETS": str(secrets_path),
                "GOOGLE_API_ROOT": self.sandbox.url,
                "PUBLIC_URL": public_url,
                "MAIL_BACKEND": "gmail",
                **self.config,
            }
        )
        # The sandbox plays Google Calendar with the add-on installed, as gcloud would.
        _post(
            self.sandbox.url,
            "_sandbox/addon",
            {"deployment": deployment(public_url), "client_id": secrets["web"]["client_id"]},
        )
        now = self.now or datetime.now(UTC)
        self.report = seed_practice(runtime_of(self.app), self.sandbox.url, now)
        # Back to the present: sign-in codes and tokens expire by the sandbox clock.
        SandboxControl(self.sandbox.url).set_clock(self.now or datetime.now(UTC))
        self.server.serve(self.app)
        if self.tick_seconds:
            self.ticker = Ticker(runtime_of(self.app), self.tick_seconds).start()
        return self

    def stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        if self.server is not None:
            self.server.stop()
        if self.app is not None:
            runtime_of(self.app).database.dispose()
        if self.sandbox is not None:
            self.sandbox.stop()

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Reserved:
    """A port bound now and served later, so the OAuth client can name it first."""

    def __init__(self, host: str, port: int) -> None:
        self._app = _Deferred()
        self._server = serve_in_thread(self._app, host=host, port=port)
        self.port = self._server.port
        self.url = self._server.url

    def serve(self, app: Flask) -> None:
        self._app.app = app

    def stop(self) -> None:
        self._server.stop()


class _Deferred:
    """A WSGI app answering 503 until the real one is set."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"The demo is still being seeded.\n"]
        return self.app(environ, start_response)


def run_demo(
    *, instance_path: Path, host: str, port: int, sandbox_port: int, tick_seconds: float
) -> None:
    """Seed and serve the demo until interrupted (Ctrl+C or SIGTERM)."""
    click.echo("calendar-sync demo: seeding a fictional practice...")
    demo = Demo(
        instance_path / "demo",
        host=host,
        port=port,
        sandbox_port=sandbox_port,
        tick_seconds=tick_seconds,
    )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    demo.start()
    click.echo(f"calendar-sync demo: open {demo.url}/ and press Connect Google Calendar")
    click.echo(f"Google sandbox (sent mail, act as the patient): {demo.sandbox_url}/")
    click.echo(f"Google Calendar with the calendar-sync add-on: {demo.sandbox_url}/calendar")
    click.echo(f"A cycle runs every {tick_seconds:g}s. Press Ctrl+C to stop.")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping the demo")
        demo.stop()


def _post(base_url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the sandbox on loopback, built above
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
        return json.load(response)
