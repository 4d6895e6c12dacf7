"""Leases: one worker per therapist and per calendar sync; a dead worker's claim expires."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_sync.services.claims import run_claimed
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.sync.event_sync import sync_one
from calendar_sync.storage import Database
from calendar_sync.storage.leases import (
    claim_calendar,
    claim_next,
    claim_therapist,
    ensure_therapist_rows,
    release_calendar,
    release_therapist,
    renew_therapist,
)
from calendar_sync.storage.models import CalendarRow, CalendarSyncLease, Therapist, TherapistLease

WALL = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
EVERY = timedelta(minutes=1)


@pytest.fixture
def database(any_database_url: str) -> Iterator[Database]:
    database = Database(any_database_url)
    database.upgrade()
    with database.transaction() as db:
        for n in range(1, 4):
            db.add(
                Therapist(
                    id=n,
                    google_subject=f"sub-{n}",
                    email=f"dr.{n}@example.test",
                    created_at=WALL,
                )
            )
    yield database
    database.dispose()


def test_a_held_therapist_cannot_be_claimed_until_the_lease_expires(database: Database) -> None:
    assert claim_therapist(database, 1, "a", WALL, LEASE)
    assert not claim_therapist(database, 1, "b", WALL + LEASE - timedelta(seconds=1), LEASE)
    assert not renew_therapist(database, 1, "b", WALL, LEASE)
    # a renewal by the holder pushes the expiry back
    assert renew_therapist(database, 1, "a", WALL + timedelta(minutes=1), LEASE)
    assert not claim_therapist(database, 1, "b", WALL + LEASE, LEASE)
    # the holder died: its lease runs out and another worker takes over
    assert claim_therapist(database, 1, "b", WALL + timedelta(minutes=3), LEASE)
    release_therapist(database, 1, "a", ran_at=WALL)  # too late: not the holder any more
    with database.transaction() as db:
        row = db.get(TherapistLease, 1)
        assert row is not None and row.holder == "b" and row.last_run_at is None


def test_claim_next_hands_each_due_therapist_to_one_worker_per_round(database: Database) -> None:
    ensure_therapist_rows(database, [1, 2, 3])
    first = claim_next(database, [1, 2, 3], "a", WALL, LEASE, EVERY)
    second = claim_next(database, [1, 2, 3], "b", WALL, LEASE, EVERY)
    assert {first, second} == {1, 2}
    assert first is not None and second is not None
    release_therapist(database, first, "a", ran_at=WALL)
    # 1 ran this round and 2 is held: only 3 is left, then nothing
    assert claim_next(database, [1, 2, 3], "a", WALL, LEASE, EVERY) == 3
    assert claim_next(database, [1, 2, 3], "c", WALL, LEASE, EVERY) is None
    # a round later the one that ran is due again
    assert claim_next(database, [1, 2, 3], "c", WALL + EVERY, LEASE, EVERY) == first
    # candidates limit the claim to the therapists who are due
    assert claim_next(database, [], "c", WALL + EVERY, LEASE, EVERY) is None


def test_many_threads_racing_claim_each_therapist_once(database: Database) -> None:
    ids = list(range(4, 40))
    with database.transaction() as db:
        for n in ids:
            db.add(
                Therapist(
                    id=n, google_subject=f"sub-{n}", email=f"dr.{n}@example.test", created_at=WALL
                )
            )
    ensure_therapist_rows(database, ids)
    won: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker(name: str) -> None:
        start.wait()
        while (found := claim_next(database, ids, name, WALL, LEASE, EVERY)) is not None:
            with lock:
                won.append(found)
            release_therapist(database, found, name, ran_at=WALL)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(won) == ids


def test_a_calendar_sync_lease_is_held_by_one_process(database: Database) -> None:
    with database.transaction() as db:
        db.add(CalendarRow(id=7, therapist_id=1, google_calendar_id="dr.1@example.test"))
    assert claim_calendar(database, 7, "a", WALL, LEASE)
    assert not claim_calendar(database, 7, "b", WALL, LEASE)
    release_calendar(database, 7, "a")
    assert claim_calendar(database, 7, "b", WALL, LEASE)
    assert not claim_calendar(database, 7, "a", WALL + timedelta(seconds=119), LEASE)
    assert claim_calendar(database, 7, "a", WALL + LEASE, LEASE)


THERAPIST = "dr.lease@example.test"


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    return sandboxed_app


def _calls(env: Any) -> dict[str, int]:
    counted: dict[str, int] = env.sandbox.control("GET", "calls")["calls"]
    return counted


def test_a_calendar_another_process_is_syncing_is_left_to_it(
    env: Any, connect: Callable[..., int]
) -> None:
    now = datetime.now(UTC)
    therapist_id = connect(THERAPIST, now, with_calendars=True)
    runtime = runtime_of(env.app)
    with runtime.database.transaction() as db:
        calendar_id = db.scalars(select(CalendarRow.id)).one()
    assert claim_calendar(runtime.database, calendar_id, "next-door", now, LEASE)
    env.sandbox.control("DELETE", "calls")

    lines = sync_one(runtime, therapist_id, now=now)

    assert f"calendar {calendar_id}: being synced by another worker" in " ".join(lines)
    assert _calls(env).get("calendar.events.list", 0) == 0
    with runtime.database.transaction() as db:
        lease = db.get(CalendarSyncLease, calendar_id)
        calendar = db.get(CalendarRow, calendar_id)
        # the other process's claim stands, and nothing was recorded as an error
        assert lease is not None and lease.holder == "next-door"
        assert calendar is not None and calendar.last_error is None


def test_a_therapist_held_elsewhere_is_a_quiet_no_op(env: Any, connect: Callable[..., int]) -> None:
    now = datetime.now(UTC)
    therapist_id = connect(THERAPIST, now, with_calendars=True)
    runtime = runtime_of(env.app)
    assert claim_therapist(runtime.database, therapist_id, "next-door", now, LEASE)
    env.sandbox.control("DELETE", "calls")

    assert run_claimed(runtime, therapist_id, now=now) is None
    assert _calls(env) == {}

    release_therapist(runtime.database, therapist_id, "next-door", ran_at=None)
    lines = run_claimed(runtime, therapist_id, now=now)
    assert lines is not None and any("incremental sync" in x or "full sync" in x for x in lines)
    with runtime.database.transaction() as db:
        lease = db.get(TherapistLease, therapist_id)
        assert lease is not None and lease.holder is None and lease.last_run_at is not None
