"""Patient links record an answer beyond their purpose ("none of these times work").

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient_links") as batch:
        batch.add_column(sa.Column("answer", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient_links") as batch:
        batch.drop_column("answer")
