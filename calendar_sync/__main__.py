"""``calendar-sync`` and ``python -m calendar_sync``: the Flask command group of the app."""

from __future__ import annotations

from flask.cli import FlaskGroup

from . import create_app


def main() -> None:
    """Entry point of the ``calendar-sync`` console script."""
    FlaskGroup(create_app=create_app, help="calendar-sync: follow up missed sessions.")()


if __name__ == "__main__":
    main()
