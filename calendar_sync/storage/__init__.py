"""Storage: the database behind the service (SQLAlchemy 2, schema kept by Alembic)."""

from .database import Database, hold_therapist

__all__ = ["Database", "hold_therapist"]
