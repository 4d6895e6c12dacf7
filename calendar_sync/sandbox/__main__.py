"""Serve the Google sandbox: ``python -m calendar_sync.sandbox --port 8765``."""

from __future__ import annotations

import argparse
import threading

from . import create_sandbox_app
from .server import SandboxServer
from .state import SandboxState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local stand-in for Google's APIs.")
    parser.add_argument("--host", default="127.0.0.1", help="loopback only (default %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="EMAIL",
        help="create this account at start (may repeat)",
    )
    args = parser.parse_args(argv)
    state = SandboxState()
    for email in args.account:
        state.add_account(email, email.split("@", 1)[0].title())
    server = SandboxServer(create_sandbox_app(state), host=args.host, port=args.port)
    print(f"Google sandbox on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        state.close()


if __name__ == "__main__":
    main()
