"""Meet links: the code of each event's Google Meet link, to read who joined the call.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_events") as batch:
        batch.add_column(sa.Column("meet_code", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calendar_events") as batch:
        batch.drop_column("meet_code")
