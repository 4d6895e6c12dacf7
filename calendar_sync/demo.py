"""The demo: the service and the Google sandbox together, on this machine only.

The service runs through exactly the code it runs in production; only its configuration
points Google's addresses at the sandbox.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import click
from werkzeug.serving import make_server

from . import create_app
from .sandbox import create_sandbox_app
from .sandbox.server import serve_in_thread

DEMO_THERAPIST = {
    "email": "dr.rivera@example.test",
    "name": "Dr Alex Rivera",
    "time_zone": "Europe/London",
}


def run_demo(*, instance_path: Path, host: str, port: int, sandbox_port: int) -> None:
    """Start the sandbox, configure the service against it, and serve until interrupted."""
    demo_dir = instance_path / "demo"
    # The sandbox keeps its data in memory, so the demo's database starts afresh with it.
    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_dir.mkdir(parents=True)

    sandbox = serve_in_thread(create_sandbox_app(), host=host, port=sandbox_port)
    public_url = f"http://{host}:{port}"
    secrets = _post(
        sandbox.url, "_sandbox/clients", {"redirect_uris": [f"{public_url}/oauth2/callback"]}
    )
    secrets_path = demo_dir / "client_secret.json"
    secrets_path.write_text(json.dumps(secrets, indent=2))
    _post(sandbox.url, "_sandbox/accounts", DEMO_THERAPIST)

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{demo_dir / 'demo.sqlite3'}",
            "GOOGLE_CLIENT_SECRETS": str(secrets_path),
            "GOOGLE_API_ROOT": sandbox.url,
            "PUBLIC_URL": public_url,
        }
    )
    server = make_server(host, port, app, threaded=True)
    click.echo(f"calendar-sync demo: open {public_url}/")
    click.echo(f"Google sandbox (accounts, sent mail): {sandbox.url}")
    click.echo("Press Ctrl+C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sandbox.stop()


def _post(base_url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the sandbox on loopback, built above
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
        return json.load(response)
