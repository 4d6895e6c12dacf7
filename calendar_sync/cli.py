"""The command line's commands, added to the app's Flask CLI group by ``create_app``.

``flask --app calendar_sync tick`` and ``calendar-sync tick`` are the same command.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .services.cycle import run_cycle
from .services.runtime import runtime_of


def register_commands(app: Flask) -> None:
    app.cli.add_command(tick)
    app.cli.add_command(db)
    app.cli.add_command(demo_command)
    app.cli.add_command(worker)
    app.cli.add_command(keys)


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
    report = run_cycle(runtime_of(current_app), now=now, dry_run=dry_run)
    for line in report.lines():
        click.echo(line)


@click.command()
@click.option(
    "--interval",
    default=60,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds from the start of one cycle to the start of the next.",
)
@click.option(
    "--processes",
    default=0,
    type=click.IntRange(min=0),
    help="Run this many claiming worker processes (Postgres): each takes one therapist at "
    "a time under a lease, and each therapist is run once per --interval. 0: one cycle "
    "after another in this process.",
)
@with_appcontext
def worker(interval: float, processes: int) -> None:
    """Run a full cycle every --interval seconds until stopped (beside ``run``).

    A failing cycle is logged and the next one runs on time; stop with Ctrl+C or SIGTERM.
    With --processes N, N processes share the therapists out between them instead.
    """
    import signal

    from .services.worker import run_forever

    stop = threading.Event()
    # SIGTERM is how process managers ask a service to stop: finish the cycle, then leave.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    if processes:
        _worker_processes(interval, processes, stop)
        return
    click.echo(f"worker: a cycle every {interval:g}s; Ctrl+C to stop")
    try:
        run_forever(runtime_of(current_app), interval, stop)
    except KeyboardInterrupt:
        stop.set()
    click.echo("worker stopped")


def _worker_processes(interval: float, processes: int, stop: threading.Event) -> None:
    from datetime import timedelta

    from .factory import build_runtime
    from .services.pool import start_processes, stop_processes

    if runtime_of(current_app).database.engine.dialect.name != "postgresql":
        click.echo("worker: several processes share one SQLite writer; Postgres suits them better")
    started = start_processes(
        build_runtime, current_app.config, processes, timedelta(seconds=interval)
    )
    click.echo(f"worker: {processes} claiming processes, each therapist every {interval:g}s")
    try:
        while not stop.wait(1.0):
            if not any(p.is_alive() for p in started):
                break
    except KeyboardInterrupt:
        pass
    stop_processes(started)
    click.echo("worker stopped")


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Bring the schema up to the newest migration."""
    database = runtime_of(current_app).database
    database.upgrade()
    click.echo(f"database at revision {database.current_revision()}")


@click.group()
def keys() -> None:
    """Manage the keys that encrypt Google tokens at rest (TOKEN_ENCRYPTION_KEYS)."""


@keys.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Re-encrypt every stored Google token under the first key of TOKEN_ENCRYPTION_KEYS.

    Put the new key first (for every process of the service), run this, then remove the old
    keys: no stored token needs them any more.
    """
    from .services.accounts.keys import rotate_token_keys

    report = rotate_token_keys(runtime_of(current_app))
    click.echo(f"{report.rotated} connection(s) re-encrypted under the first key")
    if report.unreadable:
        click.echo(
            f"{report.unreadable} connection(s) could not be opened with any configured key; "
            "those therapists must connect again",
            err=True,
        )
        raise SystemExit(1)
    others = len(current_app.config["TOKEN_ENCRYPTION_KEYS"]) - 1
    if others:
        click.echo(f"the other {others} key(s) can now be removed from TOKEN_ENCRYPTION_KEYS")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=5000, show_default=True, help="Port of the service.")
@click.option("--sandbox-port", default=5001, show_default=True, help="Port of the sandbox.")
@click.option(
    "--tick-seconds",
    default=30,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds between cycles in the background (sync, follow-ups, proposals, mail).",
)
@with_appcontext
def demo_command(host: str, port: int, sandbox_port: int, tick_seconds: float) -> None:
    """Serve the service and the Google sandbox, seeded with a fictional practice."""
    from pathlib import Path

    from .demo import run_demo

    run_demo(
        instance_path=Path(current_app.instance_path),
        host=host,
        port=port,
        sandbox_port=sandbox_port,
        tick_seconds=tick_seconds,
    )
