"""Meet evidence: what a video session's call showed, without anyone's name.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meet_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.String(length=1024), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("attendance", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("therapist_minutes", sa.Integer(), nullable=False),
        sa.Column("joined", UTCDateTime(), nullable=True),
        sa.Column("left", UTCDateTime(), nullable=True),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("settled_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name=op.f("fk_meet_evidence_therapist_id_therapists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meet_evidence")),
        sa.UniqueConstraint(
            "therapist_id",
            "calendar_id",
            "event_id",
            name=op.f("uq_meet_evidence_therapist_id"),
        ),
    )
    op.create_index(op.f("ix_meet_evidence_therapist_id"), "meet_evidence", ["therapist_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_meet_evidence_therapist_id"), table_name="meet_evidence")
    op.drop_table("meet_evidence")
