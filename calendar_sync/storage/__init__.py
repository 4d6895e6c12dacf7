"""Storage: the database behind the service (SQLAlchemy 2, schema kept by Alembic)."""

from .database import Database

__all__ = ["Database"]
