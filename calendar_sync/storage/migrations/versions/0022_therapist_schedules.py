"""Therapist schedules: when each therapist next has something due, and what changed.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No rows: a therapist without one is due, so the first cycle after the upgrade runs
    # everyone once and writes their schedule.
    op.create_table(
        "therapist_schedules",
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("follow_up_due_at", UTCDateTime(), nullable=True),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("handled", sa.Integer(), nullable=False),
        sa.Column("calendar_list_read_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name=op.f("fk_therapist_schedules_therapist_id_therapists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("therapist_id", name=op.f("pk_therapist_schedules")),
    )
    op.create_index(op.f("ix_therapist_schedules_due_at"), "therapist_schedules", ["due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_therapist_schedules_due_at"), table_name="therapist_schedules")
    op.drop_table("therapist_schedules")
