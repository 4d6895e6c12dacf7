"""What a cycle costs when nothing happens: Google requests, and time per therapist.

Three figures, each taken within this one run (the sandbox in this process, calls counted
at the sandbox, the clock stepped a minute per cycle):

1. Google requests per therapist per hour with nothing changing: push healthy, push off,
   and a naive poller that lists the calendar's window every minute, run alongside.
2. Google requests per open reschedule offer per hour, nothing changing (push healthy, so
   no safety-net poll falls in the hour measured).
3. A quiet cycle (nothing due, nothing changed) per therapist at 100, 1,000 and 10,000
   therapists, on SQLite and on Postgres (skipped when no server answers).

    .venv/bin/python benchmarks/bench_cycle.py            # everything
    .venv/bin/python benchmarks/bench_cycle.py --quick    # 100 and 1,000 therapists only
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import insert, select

from calendar_sync import create_app
from calendar_sync.google.client import GoogleApis
from calendar_sync.google.events import list_events
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
    Grant,
)
from calendar_sync.sandbox.testing import RunningSandbox
from calendar_sync.services.accounts.settings import switch_follow_ups_on
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.proposals.context import ProposalState
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import (
    GoogleConnection,
    RescheduleProposal,
    Therapist,
    TherapistSchedule,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _app(sandbox: RunningSandbox, database_url: str, folder: Path, **config: Any) -> Flask:
    secrets = sandbox.register_client(["http://127.0.0.1:9/oauth2/callback"])
    path = folder / f"client_secret_{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(secrets))
    return create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-secret-key",
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            # Loopback: the sandbox takes channels to it (push "auto" is on).
            "PUBLIC_URL": "http://127.0.0.1:9",
            "GOOGLE_API_ROOT": sandbox.url,
            "GOOGLE_CLIENT_SECRETS": str(path),
            **config,
        }
    )


def _connect(app: Flask, sandbox: RunningSandbox, email: str, now: datetime) -> int:
    sandbox.add_account(email, None, "Europe/London")
    client_id = json.loads(Path(app.config["GOOGLE_CLIENT_SECRETS"]).read_text())["web"]
    tokens = sandbox.issue_tokens(email, SCOPES, client_id["client_id"])
    runtime = runtime_of(app)
    with runtime.database.transaction() as db:
        therapist = Therapist(
            google_subject="sub-" + email, email=email, time_zone="Europe/London", created_at=now
        )
        db.add(therapist)
        db.flush()
        grant = Grant(
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_at=now + timedelta(seconds=int(tokens["expires_in"])),
            scopes=frozenset(SCOPES),
        )
        runtime.connections.save_grant(db, therapist.id, grant, now)
        switch_follow_ups_on(db, therapist.id, now)
        return int(therapist.id)


def _run(app: Flask, sandbox: RunningSandbox, start: datetime, minutes: int) -> datetime:
    """One cycle a minute for ``minutes``; returns the instant after the last."""
    runtime = runtime_of(app)
    now = start
    for _ in range(minutes):
        sandbox.control("POST", "clock", {"now": now.isoformat()})
        runtime.clock = lambda at=now: at
        run_cycle(runtime, now=now, dry_run=False)
        now += MINUTE
    return now


def _calls(sandbox: RunningSandbox) -> dict[str, int]:
    found: dict[str, int] = sandbox.control("GET", "calls")["calls"]
    return found


def requests_per_hour(folder: Path, *, push: str, therapists: int, hours: int) -> float:
    """Google requests per therapist per hour once settled, nothing changing."""
    sandbox = RunningSandbox()
    try:
        app = _app(sandbox, f"sqlite:///{folder / f'push_{push}.sqlite3'}", folder)
        app.config["PUSH_NOTIFICATIONS"] = push
        for n in range(therapists):
            _connect(app, sandbox, f"dr.{push}{n}@example.test", START)
        # The first hour: list, first sync, channels. Then count.
        now = _run(app, sandbox, START, 60)
        sandbox.control("DELETE", "calls")
        _run(app, sandbox, now, 60 * hours)
        calls = _calls(sandbox)
        print(f"    push {push}: {dict(sorted(calls.items()))} over {hours} h")
        return sum(calls.values()) / therapists / hours
    finally:
        sandbox.stop()


def window_poller_per_hour(minutes: int = 60) -> float:
    """A naive poller: list the calendar's whole window every minute, for one therapist."""
    sandbox = RunningSandbox()
    try:
        credentials = sandbox.credentials("dr.poller@example.test", SCOPES)
        apis = GoogleApis(credentials, sandbox.url)
        now = START
        for _ in range(minutes):
            sandbox.control("POST", "clock", {"now": now.isoformat()})
            list_events(
                apis.calendar,
                "primary",
                time_min=now - timedelta(days=120),
                time_max=now + timedelta(days=365),
            )
            now += MINUTE
        return sum(_calls(sandbox).values()) * 60 / minutes
    finally:
        sandbox.stop()


def _missed_session(sandbox: RunningSandbox, therapist: str, end: datetime) -> None:
    start = end - timedelta(minutes=50)
    sandbox.control(
        "POST",
        f"calendar/{therapist}/events",
        {
            "summary": "Session",
            "start": {"dateTime": start.isoformat(), "timeZone": "Europe/London"},
            "end": {"dateTime": end.isoformat(), "timeZone": "Europe/London"},
            "attendees": [{"email": "patient.one@example.test"}],
        },
    )


def requests_per_offer_per_hour(folder: Path) -> tuple[float, str]:
    """Requests in one hour with one offer waiting for its answer (push healthy)."""
    sandbox = RunningSandbox()
    try:
        app = _app(sandbox, f"sqlite:///{folder / 'offer.sqlite3'}", folder)
        therapist = "dr.offer@example.test"
        _connect(app, sandbox, therapist, START)
        _missed_session(sandbox, therapist, START + timedelta(hours=1))
        # The unmarked hold (20 h after the end), then the patient hold (2 h): the
        # invitation is placed by the end of the day, and read back (a change: the offer is
        # checked once) by the safety-net poll at 24 h. The hour after that is measured.
        now = _run(app, sandbox, START, 60 * 24 + 1)
        with runtime_of(app).database.transaction() as db:
            states = list(db.scalars(select(RescheduleProposal.state)))
        sandbox.control("DELETE", "calls")
        _run(app, sandbox, now, 60)
        calls = _calls(sandbox)
        open_offers = sum(1 for s in states if s == ProposalState.PROPOSED)
        detail = f"offers proposed: {open_offers}, calls in the hour: {dict(sorted(calls.items()))}"
        return sum(calls.values()) / max(open_offers, 1), detail
    finally:
        sandbox.stop()


@contextmanager
def postgres_database() -> Iterator[str | None]:
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3)
    except Exception:  # no server: the Postgres rows are skipped
        yield None
        return
    name = f"bench_cycle_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def quiet_cycle(
    sandbox: RunningSandbox, database_url: str, folder: Path, therapists: int, rounds: int = 5
) -> float:
    """Seconds per therapist of a cycle in which nobody has anything due."""
    app = _app(sandbox, database_url, folder)
    runtime = runtime_of(app)
    later = START + timedelta(hours=3)
    with runtime.database.transaction() as db:
        db.execute(
            insert(Therapist),
            [
                {
                    "id": n + 1,
                    "google_subject": f"sub-{n}",
                    "email": f"dr.{n}@example.test",
                    "display_name": "",
                    "time_zone": "UTC",
                    "created_at": START,
                }
                for n in range(therapists)
            ],
        )
        db.execute(
            insert(GoogleConnection),
            [
                {
                    "therapist_id": n + 1,
                    "status": "active",
                    "granted_scopes": " ".join(SCOPES),
                    "connected_at": START,
                    "version": 1,
                }
                for n in range(therapists)
            ],
        )
        # What a run writes for a therapist with nothing coming before ``later``.
        db.execute(
            insert(TherapistSchedule),
            [
                {
                    "therapist_id": n + 1,
                    "due_at": later,
                    "follow_up_due_at": later,
                    "changes": 3,
                    "handled": 3,
                    "calendar_list_read_at": START,
                }
                for n in range(therapists)
            ],
        )
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        report = run_cycle(runtime, now=START + timedelta(hours=1), dry_run=False)
        times.append(time.perf_counter() - began)
        assert report.entries == [], report.entries[:3]
    runtime.database.dispose()
    return statistics.median(times) / therapists


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip 10,000 therapists")
    args = parser.parse_args()
    sizes = [100, 1_000] if args.quick else [100, 1_000, 10_000]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        print("Google requests per therapist per hour, nothing changing (counted at the sandbox)")
        healthy = requests_per_hour(folder, push="on", therapists=3, hours=24)
        off = requests_per_hour(folder, push="off", therapists=3, hours=24)
        poller = window_poller_per_hour()
        print(f"  push healthy:               {healthy:6.2f}   (target <= 1)")
        print(f"  push off:                   {off:6.2f}   (target <= 5)")
        print(f"  1-minute window poller:     {poller:6.2f}")
        print(f"  poller / push healthy:      {poller / healthy:6.1f}x  (target >= 50x)")
        per_offer, detail = requests_per_offer_per_hour(folder)
        print("Google requests per open offer per hour, nothing changing")
        print(f"  {per_offer:6.2f}   (target 0; {detail})")
        print("Quiet cycle (nothing due, nothing changed), per therapist")
        sandbox = RunningSandbox()
        try:
            for size in sizes:
                path = folder / f"quiet_{size}.sqlite3"
                cost = quiet_cycle(sandbox, f"sqlite:///{path}", folder, size)
                print(f"  SQLite,   {size:6d} therapists: {cost * 1e6:8.2f} us   (target <= 500)")
            for size in sizes:
                with postgres_database() as url:
                    if url is None:
                        print("  Postgres: no server at 127.0.0.1:5432; skipped")
                        break
                    cost = quiet_cycle(sandbox, url, folder, size)
                    print(
                        f"  Postgres, {size:6d} therapists: {cost * 1e6:8.2f} us   (target <= 500)"
                    )
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
