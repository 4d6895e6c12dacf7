"""The database handle: engine, transactions and schema upgrades."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text, update
from sqlalchemy.orm import Session, sessionmaker

from ..config import private_folder
from .models import Therapist

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"

# Any fixed number will do; it only has to be the same for every process of the service.
_MIGRATION_LOCK = 7_216_390_411


class Database:
    """One database, shared by the web app, the CLI and the worker."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (safe to call at every start)."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two workers starting together must not both run the same migration.
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            command.upgrade(_alembic_config(connection), "head")

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def hold_therapist(db: Session, therapist_id: int) -> None:
    """Make other transactions that hold the same therapist wait until this one ends.

    For a read-then-insert that two workers may run at once (cron and a worker overlap):
    the second waits, then reads what the first committed instead of inserting it again.
    A no-op UPDATE of the therapist's row is the one lock both databases take the same way:
    a row lock on Postgres, the database's write lock on SQLite. Call it first in the
    transaction.
    """
    db.execute(update(Therapist).where(Therapist.id == therapist_id).values(id=Therapist.id))


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def _alembic_config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _make_engine(url: str) -> Engine:
    # hide_parameters: an error (and SQLAlchemy's own log) shows the statement, never the
    # values, which hold addresses, Google ids, calendar ids and the explanations we wrote.
    if url.startswith("sqlite"):
        database_file = url.split("///", 1)[1] if "///" in url else ""
        if database_file and database_file != ":memory:":
            _private_database_file(Path(database_file.split("?", 1)[0]))
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _private_database_file(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does (with the umask's mode).

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so they follow.
    An existing file is left as it is, with a warning when others may read it.
    """
    private_folder(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            log.warning(
                "the SQLite database file can be read by other users of this machine; "
                "make it owner-only (chmod 600)"
            )
