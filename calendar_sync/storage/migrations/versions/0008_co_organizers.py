"""Session rules name co-organisers; strangers' invitations stop counting as sessions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session_rules") as batch:
        batch.add_column(sa.Column("co_organizers", sa.Text(), nullable=False, server_default=""))
    # Until now an invitation from anyone counted; nobody has co-organisers yet, so every
    # stored event someone else organised stops being a session at once, not at its next
    # change (sync re-judges an event only when Google lists it again).
    events = sa.table(
        "calendar_events",
        sa.column("is_session", sa.Boolean()),
        sa.column("organizer_is_self", sa.Boolean()),
    )
    op.execute(
        events.update().where(events.c.organizer_is_self == sa.false()).values(is_session=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("session_rules") as batch:
        batch.drop_column("co_organizers")
