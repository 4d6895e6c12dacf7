"""Session overrides: an event (or a whole series) the therapist said is a session, though
the rules say it is not ("Treat as a session" in the Calendar add-on).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.String(length=1024), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("series", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name=op.f("fk_session_overrides_therapist_id_therapists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_overrides")),
    )
    op.create_index(
        op.f("ix_session_overrides_therapist_id"), "session_overrides", ["therapist_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_session_overrides_therapist_id"), table_name="session_overrides")
    op.drop_table("session_overrides")
