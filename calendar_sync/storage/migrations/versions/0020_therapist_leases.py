"""Therapist leases: each therapist's work is claimed by one worker at a time.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "therapist_leases",
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("last_run_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name=op.f("fk_therapist_leases_therapist_id_therapists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("therapist_id", name=op.f("pk_therapist_leases")),
    )
    op.create_index(op.f("ix_therapist_leases_last_run_at"), "therapist_leases", ["last_run_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_therapist_leases_last_run_at"), table_name="therapist_leases")
    op.drop_table("therapist_leases")
