"""The command line: a Flask CLI group, also installed as the ``calendar-sync`` script.

``flask --app calendar_sync tick`` and ``calendar-sync tick`` are the same command.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from . import create_app


def register_commands(app: Flask) -> None:
    app.cli.add_command(tick)
    app.cli.add_command(db)
    app.cli.add_command(demo_command)


def _parse_now(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise click.BadParameter("give a time zone or offset, e.g. 2026-11-28T09:00:00+00:00")
    return parsed


@click.command()
@click.option(
    "--now",
    callback=_parse_now,
    help="Evaluate as if it were this instant (ISO 8601 with an offset). Default: the clock.",
)
@click.option("--dry-run", is_flag=True, help="Print what the cycle would do, and do nothing.")
@with_appcontext
def tick(now: datetime, dry_run: bool) -> None:
    """Run one full cycle for every connected therapist."""
    from .services.cycle import run_cycle

    report = run_cycle(current_app, now=now, dry_run=dry_run)
    for line in report.lines():
        click.echo(line)


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Bring the schema up to the newest migration."""
    database = current_app.extensions["database"]
    database.upgrade()
    click.echo(f"database at revision {database.current_revision()}")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=5000, show_default=True, help="Port of the service.")
@click.option("--sandbox-port", default=5001, show_default=True, help="Port of the sandbox.")
@with_appcontext
def demo_command(host: str, port: int, sandbox_port: int) -> None:
    """Serve the service with the Google sandbox standing in for Google."""
    from pathlib import Path

    from .demo import run_demo

    run_demo(
        instance_path=Path(current_app.instance_path),
        host=host,
        port=port,
        sandbox_port=sandbox_port,
    )


def main() -> None:
    """Entry point of the ``calendar-sync`` console script."""
    FlaskGroup(create_app=create_app, help="calendar-sync: follow up missed sessions.")()
