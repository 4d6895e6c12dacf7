"""Reschedule proposals, therapist notices, patient links and barrier answers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _therapist_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["therapist_id"],
        ["therapists.id"],
        name=op.f(f"fk_{table}_therapist_id_therapists"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "reschedule_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("missed_calendar_id", sa.String(length=1024), nullable=False),
        sa.Column("missed_event_id", sa.String(length=1024), nullable=False),
        sa.Column("missed_start", UTCDateTime(), nullable=False),
        sa.Column("missed_end", UTCDateTime(), nullable=False),
        sa.Column("patient_email", sa.String(length=320), nullable=False),
        sa.Column("calendar_id", sa.String(length=1024), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("slot_start", UTCDateTime(), nullable=True),
        sa.Column("slot_end", UTCDateTime(), nullable=True),
        sa.Column("alternatives_json", sa.Text(), nullable=False),
        sa.Column("answer_deadline", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _therapist_fk("reschedule_proposals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reschedule_proposals")),
        sa.UniqueConstraint(
            "calendar_id", "event_id", name=op.f("uq_reschedule_proposals_calendar_id")
        ),
        sa.UniqueConstraint(
            "therapist_id", "key", "attempt", name=op.f("uq_reschedule_proposals_therapist_id")
        ),
    )
    op.create_index(
        op.f("ix_reschedule_proposals_state"), "reschedule_proposals", ["state"], unique=False
    )
    op.create_table(
        "therapist_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        _therapist_fk("therapist_notices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_therapist_notices")),
    )
    op.create_index(
        op.f("ix_therapist_notices_therapist_id"),
        "therapist_notices",
        ["therapist_id"],
        unique=False,
    )
    op.create_table(
        "patient_links",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.String(length=1024), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        _therapist_fk("patient_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_links")),
    )
    op.create_index(
        op.f("ix_patient_links_therapist_id"), "patient_links", ["therapist_id"], unique=False
    )
    op.create_table(
        "barrier_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.String(length=64), nullable=False),
        sa.Column("calendar_id", sa.String(length=1024), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("reasons", sa.String(length=255), nullable=False),
        sa.Column("other_text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _therapist_fk("barrier_answers"),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["patient_links.id"],
            name=op.f("fk_barrier_answers_link_id_patient_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_barrier_answers")),
        sa.UniqueConstraint("link_id", name=op.f("uq_barrier_answers_link_id")),
    )
    op.create_index(
        op.f("ix_barrier_answers_therapist_id"), "barrier_answers", ["therapist_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("barrier_answers")
    op.drop_table("patient_links")
    op.drop_table("therapist_notices")
    op.drop_table("reschedule_proposals")
