"""Notices keep the session they are about and its patient (for the name and the link).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("therapist_notices") as batch:
        batch.add_column(sa.Column("calendar_id", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("event_id", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("patient_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_therapist_notices_patient_id_patients"),
            "patients",
            ["patient_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("therapist_notices") as batch:
        batch.drop_constraint(op.f("fk_therapist_notices_patient_id_patients"), type_="foreignkey")
        batch.drop_column("patient_id")
        batch.drop_column("event_id")
        batch.drop_column("calendar_id")
