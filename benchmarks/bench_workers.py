"""A cycle in which every therapist has a miss, run by 1, 2 and 4 worker processes on Postgres.

Each run gets a fresh Postgres database and a fresh Google sandbox (in this process, served
over HTTP), with T therapists each connected two days ago and each with one session that
ended yesterday and was never marked (a miss under the default rule). The cycle is done by
``calendar-sync worker --processes N``'s claiming processes in two phases, as time passes in
a practice: *decide* (sync, decide the miss, write the check-in and plan the new time, held)
and, the hold later, *send* (place the invitation, send the email from Gmail). The workers'
clock is shifted so the two phases follow each other at once. Reported per N: each phase's
wall time, the speed-up over one process, emails and invitations per patient counted at the
sandbox (each must be exactly 1), and therapists whose run is missing (must be 0).

    .venv/bin/python benchmarks/bench_workers.py [--therapists 1000] [--processes 1,2,4]

Needs Postgres at 127.0.0.1:5432 (``TEST_POSTGRES_URL`` to change it), like the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.factory import build_runtime
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
from calendar_sync.services.pool import start_processes, stop_processes
from calendar_sync.services.runtime import Runtime, wall_clock
from calendar_sync.services.sync.calendar_list import refresh_calendar_list
from calendar_sync.storage.models import Therapist, TherapistLease

ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]
_OFFSET = "CALENDAR_SYNC_BENCH_CLOCK_OFFSET"


def shifted_runtime(config: dict[str, Any]) -> Runtime:
    """A worker's runtime whose clock runs the benchmark's offset ahead of (or behind) now."""
    runtime = build_runtime(config)
    offset = timedelta(seconds=float(os.environ.get(_OFFSET, "0")))
    runtime.clock = lambda: wall_clock() + offset
    return runtime


def _database(admin: Any, name: str) -> str:
    admin.execute(f'CREATE DATABASE "{name}"')
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def _practice(runtime: Runtime, sandbox: RunningSandbox, secrets: dict, therapists: int) -> None:
    wall = datetime.now(UTC)
    connected = wall - timedelta(days=2)
    sandbox.state.set_now(connected)
    keeper = runtime.connections
    for t in range(therapists):
        email = f"dr.{t}@example.test"
        sandbox.add_account(email, None, "UTC")
        tokens = sandbox.issue_tokens(email, SCOPES, secrets["web"]["client_id"])
        with runtime.database.transaction() as db:
            therapist = Therapist(
                google_subject=f"sub-{t}", email=email, time_zone="UTC", created_at=connected
            )
            db.add(therapist)
            db.flush()
            grant = Grant(
                tokens["access_token"],
                tokens["refresh_token"],
                connected + timedelta(seconds=int(tokens["expires_in"])),
                frozenset(SCOPES),
            )
            keeper.save_grant(db, therapist.id, grant, connected)
            switch_follow_ups_on(db, therapist.id, connected)
            therapist_id = therapist.id
        refresh_calendar_list(
            runtime.database,
            keeper.apis(therapist_id, connected),
            therapist_id,
            keeper.granted_scopes(therapist_id),
            connected,
        )
        start = wall - timedelta(hours=30)
        sandbox.control(
            "POST",
            f"calendar/{email}/events",
            {
                "summary": "Session",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
                "attendees": [{"email": f"pat.{t}@example.test"}],
            },
        )


def _phase(
    runtime: Runtime, config: dict, processes: int, offset: timedelta, therapists: int
) -> float:
    """Run the claiming processes until every therapist ran once; wall seconds taken.

    Timed from the first claim, so the processes' start (about a second each: Python, the
    app, a database pool) is left out; it is paid once per ``worker``, not per cycle.
    """
    os.environ[_OFFSET] = str(offset.total_seconds())
    started_at = wall_clock() + offset
    began: float | None = None
    workers = start_processes(shifted_runtime, config, processes, timedelta(hours=1))
    try:
        while True:
            with runtime.database.transaction() as db:
                done = db.scalar(
                    select(func.count())
                    .select_from(TherapistLease)
                    .where(TherapistLease.last_run_at >= started_at)
                )
                held = db.scalar(
                    select(func.count())
                    .select_from(TherapistLease)
                    .where(TherapistLease.holder.is_not(None))
                )
            if began is None and (held or done):
                began = time.perf_counter()
            if done == therapists:
                assert began is not None
                break
            if not any(w.is_alive() for w in workers):
                raise RuntimeError("every worker process ended")
            time.sleep(0.02)
        return time.perf_counter() - began
    finally:
        stop_processes(workers)


def run(therapists: int, processes: int) -> dict[str, Any]:
    import psycopg

    from calendar_sync import create_app
    from calendar_sync.services.runtime import runtime_of

    admin = psycopg.connect(
        ADMIN.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    )
    name = f"calendar_sync_bench_{uuid.uuid4().hex[:10]}"
    url = _database(admin, name)
    sandbox = RunningSandbox()
    folder = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    os.environ["CALENDAR_SYNC_INSTANCE"] = str(folder / "instance")
    try:
        secrets = sandbox.register_client(["http://127.0.0.1:5000/oauth2/callback"])
        (folder / "client_secret.json").write_text(json.dumps(secrets))
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "PUBLIC_URL": "http://127.0.0.1:5000",
                "GOOGLE_API_ROOT": sandbox.url,
                "GOOGLE_CLIENT_SECRETS": str(folder / "client_secret.json"),
                "PUSH_NOTIFICATIONS": "off",
                "LOG_LEVEL": "WARNING",
            }
        )
        runtime = runtime_of(app)
        _practice(runtime, sandbox, secrets, therapists)
        # Decide a hold and a half ago, then send now: the sandbox's clock follows.
        back = -(DEFAULT_PATIENT_HOLD + timedelta(minutes=30))
        sandbox.state.set_now(wall_clock() + back)
        decide = _phase(runtime, dict(app.config), processes, back, therapists)
        sandbox.state.set_now(wall_clock())
        send = _phase(runtime, dict(app.config), processes, timedelta(0), therapists)
        mail = Counter(to for m in sandbox.state.sent for to in m.to)
        invited = Counter()
        for t in range(therapists):
            found = sandbox.control("GET", f"calendar/invitations?email=pat.{t}@example.test")
            invited[t] = len(found["messages"])
        patients = [f"pat.{t}@example.test" for t in range(therapists)]
        runtime.database.dispose()
        return {
            "processes": processes,
            "decide": decide,
            "send": send,
            "emails_not_once": sum(1 for p in patients if mail[p] != 1),
            "invitations_not_once": sum(1 for t in range(therapists) if invited[t] != 1),
            "emails": sum(mail[p] for p in patients),
            "invitations": sum(invited.values()),
        }
    finally:
        sandbox.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--therapists", type=int, default=1000)
    parser.add_argument("--processes", default="1,2,4")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.processes.split(",")]
    results = [run(args.therapists, n) for n in counts]
    base = results[0]["decide"] + results[0]["send"]
    print(f"a cycle with a miss for each of {args.therapists} therapists, Postgres, ", end="")
    print(f"{os.cpu_count()} CPUs")
    print("processes  decide s  send s  total s  speed-up  per therapist ms", end="")
    print("  emails  invitations  not exactly once")
    for r in results:
        total = r["decide"] + r["send"]
        print(
            f"{r['processes']:>9}  {r['decide']:>8.1f}  {r['send']:>6.1f}  {total:>7.1f}  "
            f"{base / total:>7.2f}x  {1000 * total / args.therapists:>16.1f}  "
            f"{r['emails']:>6}  {r['invitations']:>11}  "
            f"{r['emails_not_once'] + r['invitations_not_once']:>16}"
        )
    bad = sum(r["emails_not_once"] + r["invitations_not_once"] for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
