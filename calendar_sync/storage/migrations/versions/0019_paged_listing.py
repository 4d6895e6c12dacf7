"""Listings page by page: where a calendar's listing stands, and what a full one returned.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_LISTING = (
    ("listing_started_at", UTCDateTime()),
    ("listing_page_token", sa.Text()),
    ("listing_window_start", UTCDateTime()),
    ("listing_window_end", UTCDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("calendars") as batch:
        for name, kind in _LISTING:
            batch.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table("calendar_events") as batch:
        batch.add_column(sa.Column("listed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calendar_events") as batch:
        batch.drop_column("listed_at")
    with op.batch_alter_table("calendars") as batch:
        for name, _kind in reversed(_LISTING):
            batch.drop_column(name)
