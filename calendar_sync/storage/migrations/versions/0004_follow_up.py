"""Follow-up: therapist settings, marks, decided actions, the fee ledger, fee exemptions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _therapist_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["therapist_id"],
        ["therapists.id"],
        name=op.f(f"fk_{table}_therapist_id_therapists"),
        ondelete="CASCADE",
    )


def _patient_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["patient_id"],
        ["patients.id"],
        name=op.f(f"fk_{table}_patient_id_patients"),
        ondelete="SET NULL",
    )


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(
            sa.Column("fee_exempt", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("fee_exempt_reason", sa.Text(), nullable=False, server_default="")
        )
    op.create_table(
        "therapist_settings",
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("policy_json", sa.Text(), nullable=False),
        sa.Column("practice_json", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _therapist_fk("therapist_settings"),
        sa.PrimaryKeyConstraint("therapist_id", name=op.f("pk_therapist_settings")),
    )
    op.create_table(
        "session_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.String(1024), nullable=False),
        sa.Column("event_id", sa.String(1024), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("marked_at", UTCDateTime(), nullable=False),
        _therapist_fk("session_marks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_marks")),
    )
    op.create_index(
        op.f("ix_session_marks_therapist_id"), "session_marks", ["therapist_id"], unique=False
    )
    op.create_table(
        "follow_up_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("calendar_id", sa.String(1024), nullable=False),
        sa.Column("event_id", sa.String(1024), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("delivery", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _therapist_fk("follow_up_actions"),
        _patient_fk("follow_up_actions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_actions")),
        sa.UniqueConstraint("key", name=op.f("uq_follow_up_actions_key")),
    )
    op.create_index(
        op.f("ix_follow_up_actions_therapist_id"),
        "follow_up_actions",
        ["therapist_id"],
        unique=False,
    )
    op.create_table(
        "fee_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("patient_key", sa.String(64), nullable=False),
        sa.Column("calendar_id", sa.String(1024), nullable=False),
        sa.Column("event_id", sa.String(1024), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("minor_units", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("session_start", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _therapist_fk("fee_entries"),
        _patient_fk("fee_entries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_entries")),
        sa.UniqueConstraint(
            "therapist_id",
            "calendar_id",
            "event_id",
            "kind",
            name=op.f("uq_fee_entries_therapist_id"),
        ),
    )
    op.create_index(
        op.f("ix_fee_entries_therapist_id"), "fee_entries", ["therapist_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("fee_entries")
    op.drop_table("follow_up_actions")
    op.drop_table("session_marks")
    op.drop_table("therapist_settings")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("fee_exempt_reason")
        batch.drop_column("fee_exempt")
