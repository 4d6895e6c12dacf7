"""The hold before anything reaches a patient, and the switch that starts follow-ups.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reschedule_proposals") as batch:
        batch.add_column(sa.Column("release_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("fee_entries") as batch:
        batch.add_column(sa.Column("held_until", UTCDateTime(), nullable=True))
    with op.batch_alter_table("therapist_settings") as batch:
        batch.add_column(sa.Column("follow_ups_from", UTCDateTime(), nullable=True))
    # Therapists connected before this revision were already followed up: keep it so, from
    # their connection, rather than stopping their follow-ups until they go through the
    # first-run checklist that new therapists see.
    op.execute(
        """
        INSERT INTO therapist_settings (therapist_id, policy_json, practice_json, updated_at)
        SELECT therapist_id, '{}', '{}', connected_at FROM google_connections
        WHERE therapist_id NOT IN (SELECT therapist_id FROM therapist_settings)
        """
    )
    op.execute(
        """
        UPDATE therapist_settings SET follow_ups_from = (
            SELECT connected_at FROM google_connections
            WHERE google_connections.therapist_id = therapist_settings.therapist_id
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("therapist_settings") as batch:
        batch.drop_column("follow_ups_from")
    with op.batch_alter_table("fee_entries") as batch:
        batch.drop_column("held_until")
    with op.batch_alter_table("reschedule_proposals") as batch:
        batch.drop_column("release_at")
