from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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
