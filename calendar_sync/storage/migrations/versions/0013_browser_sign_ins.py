"""Browser sign-ins: the server-side half of the dashboard's session cookie.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "browser_sign_ins",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name=op.f("fk_browser_sign_ins_therapist_id_therapists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_browser_sign_ins")),
    )
    op.create_index(op.f("ix_browser_sign_ins_therapist_id"), "browser_sign_ins", ["therapist_id"])
    op.create_index(op.f("ix_browser_sign_ins_expires_at"), "browser_sign_ins", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_browser_sign_ins_expires_at"), table_name="browser_sign_ins")
    op.drop_index(op.f("ix_browser_sign_ins_therapist_id"), table_name="browser_sign_ins")
    op.drop_table("browser_sign_ins")
