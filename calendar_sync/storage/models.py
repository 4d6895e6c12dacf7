"""The tables, as SQLAlchemy 2 declarative classes.

Changes to these classes go with an Alembic migration in ``migrations/versions``; a test
checks that the migrated schema and these classes agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import UTCDateTime

# Named constraints let the same migrations alter tables on SQLite (batch mode) and Postgres.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Therapist(Base):
    """A person who signed in with Google; everything else belongs to one therapist."""

    __tablename__ = "therapists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    google_subject: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GoogleConnection(Base):
    """The therapist's grant to this service: encrypted tokens, granted scopes and health."""

    __tablename__ = "google_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), unique=True
    )
    # active | needs_reauth
    status: Mapped[str] = mapped_column(String(32), default="active")
    # Fernet tokens (ASCII); never the plain Google tokens.
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text())
    access_token_encrypted: Mapped[str | None] = mapped_column(Text())
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    granted_scopes: Mapped[str] = mapped_column(Text(), default="")
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    problem: Mapped[str | None] = mapped_column(Text())
    # Bumped on every token change, so two workers refreshing at once cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=0)


class SignInAttempt(Base):
    """One trip through Google's consent page, kept server-side between redirect and callback.

    The PKCE verifier never leaves the server; ``browser_binding`` ties the attempt to the
    browser that started it, so a callback replayed in another browser is refused.
    """

    __tablename__ = "sign_in_attempts"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    code_verifier: Mapped[str] = mapped_column(String(128))
    browser_binding: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
