"""Events by (calendar, start): the index the follow-up's window query reads.

The index on ``start`` alone goes: every query on start also names the calendar (through
the therapist's calendars), and each index is one more write for every synced event.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_calendar_events_calendar_id_start", "calendar_events", ["calendar_id", "start"]
    )
    op.drop_index(op.f("ix_calendar_events_start"), table_name="calendar_events")


def downgrade() -> None:
    op.create_index(op.f("ix_calendar_events_start"), "calendar_events", ["start"], unique=False)
    op.drop_index("ix_calendar_events_calendar_id_start", table_name="calendar_events")
