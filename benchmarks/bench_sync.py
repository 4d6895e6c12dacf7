"""A calendar's first sync at 10,000 and 30,000 events, and patient matching at 1,000 names.

The Google sandbox runs in a process of its own, and each first sync in a fresh child process,
so the figures are this project's alone: the child's CPU time (the Google client library and
the database driver included, the sandbox and the database server not) and the growth of its
peak memory (``ru_maxrss``) from just before the sync to its end. Each sync runs on SQLite and,
when a server answers at ``BENCH_POSTGRES_URL`` (default the local one), on Postgres.

Patient matching compares, in this process, one compiled pattern for the whole directory
(:class:`~calendar_sync.domain.title_names.TitleNames`) with the former way, one pattern per
name and event, on the same titles.

    .venv/bin/python benchmarks/bench_sync.py            # all of it (a few minutes)
    .venv/bin/python benchmarks/bench_sync.py --quick    # 10,000 events, SQLite only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
THERAPIST = "dr.bench@example.test"
SCOPES = [
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
    "https://www.googleapis.com/auth/calendar.events",
]
#: Instances per daily series; 25 series make 10,000 events, 75 make 30,000.
SERIES_LENGTH = 400
POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MIB = 1024 * 1024


# --- the sandbox, in a process of its own --------------------------------------------------


def control(sandbox: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - our own loopback sandbox
        sandbox + "_sandbox/" + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - as above
        return json.loads(response.read())


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "calendar_sync.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    url = line.rsplit(" ", 1)[-1].strip()
    return process, url if url.endswith("/") else url + "/"


# --- one first sync, in a child process ----------------------------------------------------


def _peak_bytes() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(sandbox: str, database_url: str, events: int) -> dict[str, Any]:
    """Connect a therapist, seed ``events`` events, time their first sync; a JSON answer."""
    from cryptography.fernet import Fernet

    from calendar_sync import create_app
    from calendar_sync.google.oauth import Grant
    from calendar_sync.services.patients.directory import add_patient
    from calendar_sync.services.runtime import runtime_of
    from calendar_sync.services.sync.calendar_list import refresh_calendar_list
    from calendar_sync.services.sync.event_sync import sync_calendar
    from calendar_sync.storage.models import CalendarRow, Therapist

    email = f"dr.{uuid.uuid4().hex[:8]}@example.test"
    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    secrets = control(sandbox, "POST", "clients", {"redirect_uris": ["http://127.0.0.1/cb"]})
    (folder / "client_secret.json").write_text(json.dumps(secrets))
    os.environ["CALENDAR_SYNC_INSTANCE"] = str(folder / "instance")
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench",
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "PUBLIC_URL": "http://127.0.0.1:5000",
            "GOOGLE_API_ROOT": sandbox,
            "GOOGLE_CLIENT_SECRETS": str(folder / "client_secret.json"),
            "PUSH_NOTIFICATIONS": "off",
        }
    )
    runtime = runtime_of(app)
    control(sandbox, "POST", "clock", {"now": (NOW - timedelta(hours=1)).isoformat()})
    control(sandbox, "POST", "accounts", {"email": email, "name": None, "time_zone": "UTC"})
    tokens = control(
        sandbox,
        "POST",
        "tokens",
        {"email": email, "scopes": SCOPES, "client_id": secrets["web"]["client_id"]},
    )
    names = [f"Patient{number:03d} Example" for number in range(100)]
    with runtime.database.transaction() as db:
        therapist = Therapist(
            google_subject="sub-" + email, email=email, time_zone="UTC", created_at=NOW
        )
        db.add(therapist)
        db.flush()
        therapist_id = int(therapist.id)
        grant = Grant(
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_at=NOW + timedelta(hours=1),
            scopes=frozenset(SCOPES),
        )
        runtime.connections.save_grant(db, therapist_id, grant, NOW)
        for name in names:
            add_patient(db, therapist_id, name, None, NOW)
    apis = runtime.connections.apis(therapist_id, NOW)
    refresh_calendar_list(
        runtime.database, apis, therapist_id, runtime.connections.granted_scopes(therapist_id), NOW
    )
    first = NOW - timedelta(days=100)
    for series in range(events // SERIES_LENGTH):
        body: dict[str, Any] = {
            "summary": f"{names[series % len(names)]} (session)",
            "start": {
                "dateTime": (first + timedelta(hours=series % 10)).isoformat(),
                "timeZone": "UTC",
            },
            "end": {
                "dateTime": (first + timedelta(hours=series % 10, minutes=50)).isoformat(),
                "timeZone": "UTC",
            },
            "recurrence": [f"RRULE:FREQ=DAILY;COUNT={SERIES_LENGTH}"],
        }
        if series % 3 == 0:
            body["attendees"] = [{"email": f"patient{series}@example.test"}]
        control(sandbox, "POST", f"calendar/{email}/events", body)
    with runtime.database.transaction() as db:
        (calendar_id,) = db.query(CalendarRow.id).filter(CalendarRow.therapist_id == therapist_id)
    # Ask for the first page once, so that the sandbox's own expansion of the series (its
    # work, not ours) is not what the first timed call waits for.
    apis.calendar.events().list(calendarId=email, maxResults=1, singleEvents=True).execute()

    before_peak = _peak_bytes()
    cpu, wall = time.process_time(), time.perf_counter()
    result = sync_calendar(runtime.database, apis, calendar_id, NOW)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    growth = max(0, _peak_bytes() - before_peak)
    runtime.database.dispose()
    return {
        "events": result.upserted,
        "cpu": cpu,
        "wall": wall,
        "growth": growth,
        "error": result.error,
    }


def run_child(sandbox: str, database_url: str, events: int) -> dict[str, Any]:
    answer = subprocess.run(  # noqa: S603 - this very script, with our own arguments
        [sys.executable, __file__, "--child", sandbox, database_url, str(events)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


def postgres_database() -> tuple[str, str] | None:
    """A fresh Postgres database (its URL and name), or None without a server."""
    try:
        import psycopg

        admin = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
        name = f"bench_sync_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server: the Postgres figures are skipped, and said so
        print(f"Postgres: skipped ({type(exc).__name__})")
        return None
    return POSTGRES.rsplit("/", 1)[0] + "/" + name, name


def drop_postgres(name: str) -> None:
    import psycopg

    admin = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_first_sync(sizes: list[int], with_postgres: bool) -> None:
    process, sandbox = start_sandbox()
    folder = Path(tempfile.mkdtemp(prefix="bench-sync-db-"))
    try:
        backends: list[tuple[str, str, str | None]] = [
            ("SQLite", f"sqlite:///{folder / 'bench.sqlite3'}", None)
        ]
        if with_postgres:
            made = postgres_database()
            if made is not None:
                backends.append(("Postgres", made[0], made[1]))
        for label, url, _name in backends:
            growths: dict[int, float] = {}
            cpus: dict[int, float] = {}
            for size in sizes:
                result = run_child(sandbox, url, size)
                growths[size] = result["growth"] / MIB
                cpus[size] = result["cpu"]
                print(
                    f"first sync, {result['events']:>6,} events, {label:<8}: "
                    f"{result['cpu']:.2f} s CPU ({result['wall']:.2f} s wall), "
                    f"peak memory +{growths[size]:.1f} MiB"
                )
            if len(sizes) > 1:
                small, large = sizes[0], sizes[-1]
                ratio = cpus[large] / cpus[small]
                print(
                    f"  {label} {large // 1000}k/{small // 1000}k: CPU x{ratio:.2f} "
                    f"({large / small:.0f} means linear), peak memory x"
                    f"{growths[large] / max(growths[small], 0.1):.2f} (1 means bounded)"
                )
        for _label, _url, name in backends:
            if name is not None:
                drop_postgres(name)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- patient matching ----------------------------------------------------------------------


def one_pattern_per_name(names: list[str], title: str) -> set[int]:
    """The former matching: a whole-word search per name, compiled through ``re``'s cache."""
    return {
        index
        for index, name in enumerate(names)
        if re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", title, re.IGNORECASE)
    }


def bench_matching(sizes: list[int]) -> None:
    from calendar_sync.domain.title_names import TitleNames

    rng = random.Random(12)  # noqa: S311 - made-up names, not secrets
    syllables = ["ka", "lo", "mi", "ra", "to", "ne", "sa", "vi", "do", "re", "an", "el"]
    for size in sizes:
        names: list[str] = []
        seen: set[str] = set()
        while len(names) < size:
            name = "".join(rng.choice(syllables) for _ in range(3)).title()
            if rng.random() < 0.5:
                name += " " + rng.choice("ABCDEFGHJKLMNPRSTW") + "."
            if name not in seen:
                seen.add(name)
                names.append(name)
        titles = [
            f"{rng.choice(names)} weekly [no-show]" if n % 2 else "Supervision (room 2)"
            for n in range(200)
        ]
        built = time.perf_counter()
        directory = TitleNames(names)
        built = time.perf_counter() - built
        assert all(directory.found(t) == one_pattern_per_name(names, t) for t in titles[:20])
        new = _per_event(partial(directory.found, stop_after=1), titles)
        # The former way is slow enough above 512 names that a tenth of the titles will do.
        old = _per_event(partial(one_pattern_per_name, names), titles[:20], rounds=1)
        print(
            f"patient matching, {size:>5,} names: {new * 1e6:7.1f} us per event "
            f"(one pattern per name: {old * 1e6:9.1f} us; x{old / new:,.0f}); "
            f"built once in {built * 1e3:.0f} ms"
        )


def _per_event(match: Any, titles: list[str], rounds: int = 3) -> float:
    """The best of ``rounds`` runs over ``titles``: seconds per title."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for title in titles:
            match(title)
        best = min(best, (time.perf_counter() - start) / len(titles))
    return best


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sandbox, url, events = sys.argv[2], sys.argv[3], int(sys.argv[4])
        print(json.dumps(child(sandbox, url, events)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 events on SQLite only")
    args = parser.parse_args()
    bench_matching([100, 1000])
    if args.quick:
        bench_first_sync([10_000], with_postgres=False)
    else:
        bench_first_sync([10_000, 30_000], with_postgres=True)


if __name__ == "__main__":
    main()
