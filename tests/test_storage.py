from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from calendar_sync.storage import Database
from calendar_sync.storage.database import head_revision
from calendar_sync.storage.models import Base, Therapist


def test_upgrade_creates_the_schema_the_models_describe(any_database_url: str) -> None:
    database = Database(any_database_url)
    try:
        assert database.current_revision() is None
        database.upgrade()
        assert database.current_revision() == head_revision()
        tables = set(inspect(database.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        for name, table in Base.metadata.tables.items():
            columns = {c["name"] for c in inspect(database.engine).get_columns(name)}
            assert columns == {c.name for c in table.columns}, name
        database.upgrade()  # a second start finds nothing to do
        assert database.current_revision() == head_revision()
    finally:
        database.dispose()


def test_aware_datetimes_round_trip_in_utc(any_database_url: str) -> None:
    database = Database(any_database_url)
    database.upgrade()
    paris_winter = timezone(timedelta(hours=1))
    created = datetime(2026, 3, 29, 0, 30, tzinfo=paris_winter)
    try:
        with database.transaction() as db:
            db.add(
                Therapist(
                    google_subject="sub-1",
                    email="dr.rivera@example.test",
                    display_name="Dr Rivera",
                    time_zone="Europe/Paris",
                    created_at=created,
                )
            )
        with database.transaction() as db:
            stored = db.scalars(select(Therapist)).one()
            assert stored.created_at == created
            assert stored.created_at.tzinfo == UTC
    finally:
        database.dispose()


def test_naive_datetime_is_refused(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    database.upgrade()
    with pytest.raises(Exception, match="naive datetime"), database.transaction() as db:
        db.add(
            Therapist(
                google_subject="sub-2",
                email="dr.okafor@example.test",
                display_name="",
                time_zone="UTC",
                created_at=datetime(2026, 1, 1, 9, 0),  # noqa: DTZ001 - the point of the test
            )
        )
    database.dispose()


def test_migrations_and_models_agree_exactly(any_database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    database = Database(any_database_url)
    database.upgrade()
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        database.dispose()


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets everyone read new files, as many machines have (022)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_is_the_owners_only(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "instance" / "calendar_sync.sqlite3"
    database = Database(f"sqlite:///{path}")
    try:
        database.upgrade()
        with database.transaction() as db:
            db.add(
                Therapist(
                    google_subject="s", email="dr.lee@example.test", created_at=datetime.now(UTC)
                )
            )
        assert mode(path) == 0o600
        # the write-ahead log and its index hold the same data, and get the file's mode
        for extra in ("-wal", "-shm"):
            sidecar = path.with_name(path.name + extra)
            assert sidecar.exists() and mode(sidecar) == 0o600, extra
        assert mode(path.parent) == 0o700
    finally:
        database.dispose()


def test_an_existing_readable_database_is_left_with_a_warning(
    tmp_path: Path, open_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "calendar_sync.sqlite3"
    path.touch(mode=0o644)
    Database(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o644
    assert "chmod 600" in caplog.text
