"""``worker --processes 4`` on Postgres: one killed mid-cycle, the others finish its work."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.factory import build_runtime
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.pool import start_processes, stop_processes
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import OutboxMessage, TherapistLease

pytestmark = pytest.mark.postgres

SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]
THERAPISTS = 12
MISSES = 2


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


def _patient(t: int, n: int) -> str:
    return f"pat.{t}.{n}@example.test"


def _practice(env: Any, connect: Callable[..., int], wall: datetime) -> None:
    """Therapists each with two missed sessions, decided a hold ago, so all due now."""
    connected = wall - timedelta(days=2)
    env.sandbox.control("POST", "clock", {"now": connected.isoformat()})
    for t in range(THERAPISTS):
        email = f"dr.{t}@example.test"
        connect(email, connected, scopes=SCOPES, with_calendars=True, time_zone="UTC")
        for n in range(MISSES):
            # Ended more than a day ago: missed under the default "unmarked means missed".
            start = wall - timedelta(hours=30 + n)
            env.sandbox.control(
                "POST",
                f"calendar/{email}/events",
                {
                    "summary": "Session",
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
                    "attendees": [{"email": _patient(t, n)}],
                },
            )
    decided = wall - DEFAULT_PATIENT_HOLD - timedelta(minutes=10)
    env.sandbox.control("POST", "clock", {"now": decided.isoformat()})
    run_cycle(runtime_of(env.app), now=decided, dry_run=False)
    # The workers run on the wall clock, and so does the sandbox from here.
    env.sandbox.control("POST", "clock", {"now": datetime.now(UTC).isoformat()})


def _leases(env: Any) -> list[TherapistLease]:
    with runtime_of(env.app).database.transaction() as db:
        return list(db.scalars(select(TherapistLease)))


def test_a_worker_killed_mid_cycle_leaves_its_therapists_to_the_others(
    sandboxed_app: Any, connect: Callable[..., int], app_config: dict[str, Any]
) -> None:
    env = sandboxed_app
    env.app.config["PUSH_NOTIFICATIONS"] = "off"
    wall = datetime.now(UTC)
    _practice(env, connect, wall)
    config = {**env.app.config, "THERAPIST_LEASE_SECONDS": 3}
    started_at = datetime.now(UTC)
    workers = start_processes(build_runtime, config, 4, timedelta(hours=1))
    victim = workers[0]
    killed_holding: int | None = None
    try:
        deadline = time.monotonic() + 60
        while killed_holding is None and time.monotonic() < deadline:
            for lease in _leases(env):
                if lease.holder and f":{victim.pid}:" in lease.holder:
                    assert victim.pid is not None
                    os.kill(victim.pid, signal.SIGKILL)
                    killed_holding = lease.therapist_id
                    break
            time.sleep(0.005)
        assert killed_holding is not None, "the first worker never held a therapist"
        victim.join(10)
        assert victim.exitcode == -signal.SIGKILL
        # The others run every therapist, the dead worker's one once its lease expired.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            leases = _leases(env)
            if len(leases) == THERAPISTS and all(
                lease.last_run_at is not None and lease.last_run_at >= started_at
                for lease in leases
            ):
                break
            time.sleep(0.2)
    finally:
        stop_processes(workers)

    leases = {lease.therapist_id: lease for lease in _leases(env)}
    assert all(lease.last_run_at is not None for lease in leases.values()), leases
    assert leases[killed_holding].holder is None
    assert leases[killed_holding].last_run_at is not None
    assert leases[killed_holding].last_run_at >= started_at

    mail = env.sandbox.control("GET", "mail")["messages"]
    per_recipient = Counter(to for m in mail for to in m["to"])
    with runtime_of(env.app).database.transaction() as db:
        statuses = {row.recipient: row.status for row in db.scalars(select(OutboxMessage))}
    for t in range(THERAPISTS):
        for n in range(MISSES):
            to = _patient(t, n)
            # Nothing twice. A message the victim died sending is "unknown": at most once,
            # left to the therapist to check; every other one went exactly once.
            assert per_recipient[to] <= 1, (to, per_recipient[to])
            if statuses.get(to) != "unknown":
                assert statuses.get(to) == "sent" and per_recipient[to] == 1, (to, statuses)
            invited = env.sandbox.control("GET", f"calendar/invitations?email={to}")["messages"]
            assert len(invited) <= 1, to
    assert list(statuses.values()).count("unknown") <= 1
