"""The migrations build exactly the schema the models describe (types, keys, indexes)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from calendar_sync.storage import Database
from calendar_sync.storage.models import Base


def test_migrated_schema_has_no_difference_from_the_models(any_database_url: str) -> None:
    database = Database(any_database_url)
    try:
        database.upgrade()
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        database.dispose()


def test_downgrade_of_the_newest_revision_removes_its_tables(sqlite_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from calendar_sync.storage.database import _alembic_config

    database = Database(sqlite_url)
    try:
        database.upgrade()
        with database.engine.begin() as connection:
            command.downgrade(_alembic_config(connection), "0002")
        tables = set(inspect(database.engine).get_table_names())
        assert "calendar_events" not in tables
        assert "therapists" in tables
    finally:
        database.dispose()
