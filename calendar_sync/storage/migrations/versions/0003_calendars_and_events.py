"""Calendars, their events, push channels, session rules, patients and created events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("google_calendar_id", sa.String(length=1024), nullable=False),
        sa.Column("summary", sa.String(length=1024), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("gone_at", UTCDateTime(), nullable=True),
        sa.Column("sync_token", sa.Text(), nullable=True),
        sa.Column("last_full_sync_at", UTCDateTime(), nullable=True),
        sa.Column("last_sync_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", UTCDateTime(), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("channel_token_hash", sa.String(length=64), nullable=True),
        sa.Column("channel_resource_id", sa.String(length=255), nullable=True),
        sa.Column("channel_expires_at", UTCDateTime(), nullable=True),
        sa.Column("watch_problem", sa.Text(), nullable=True),
        sa.Column("watch_attempted_at", UTCDateTime(), nullable=True),
        sa.Column("sync_requested_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name=op.f("fk_calendars_therapist_id_therapists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendars")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_calendars_channel_id")),
        sa.UniqueConstraint(
            "therapist_id", "google_calendar_id", name=op.f("uq_calendars_therapist_id")
        ),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("do_not_email", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name=op.f("fk_patients_therapist_id_therapists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_index(op.f("ix_patients_therapist_id"), "patients", ["therapist_id"], unique=False)
    op.create_table(
        "session_rules",
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("title_pattern", sa.String(length=255), nullable=True),
        sa.Column("one_attendee_is_session", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name=op.f("fk_session_rules_therapist_id_therapists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("therapist_id", name=op.f("pk_session_rules")),
    )
    op.create_table(
        "calendar_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("recurring_event_id", sa.String(length=1024), nullable=True),
        sa.Column("original_start", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=True),
        sa.Column("end", UTCDateTime(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("transparency", sa.String(length=32), nullable=False),
        sa.Column("color_id", sa.String(length=16), nullable=True),
        sa.Column("color_changed_at", UTCDateTime(), nullable=True),
        sa.Column("tags_changed_at", UTCDateTime(), nullable=True),
        sa.Column("my_response", sa.String(length=32), nullable=True),
        sa.Column("attendees_json", sa.Text(), nullable=False),
        sa.Column("organizer_is_self", sa.Boolean(), nullable=False),
        sa.Column("patient_email", sa.String(length=320), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("patient_response", sa.String(length=32), nullable=True),
        sa.Column("patient_response_at", UTCDateTime(), nullable=True),
        sa.Column("is_session", sa.Boolean(), nullable=False),
        sa.Column("created_by_service", sa.Boolean(), nullable=False),
        sa.Column("google_updated", UTCDateTime(), nullable=True),
        sa.Column("etag", sa.String(length=255), nullable=True),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_calendar_events_calendar_id_calendars"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_calendar_events_patient_id_patients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_events")),
        sa.UniqueConstraint("calendar_id", "event_id", name=op.f("uq_calendar_events_calendar_id")),
    )
    op.create_index(op.f("ix_calendar_events_start"), "calendar_events", ["start"], unique=False)
    op.create_table(
        "created_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_created_events_calendar_id_calendars"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name=op.f("fk_created_events_therapist_id_therapists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_created_events")),
        sa.UniqueConstraint("calendar_id", "event_id", name=op.f("uq_created_events_calendar_id")),
    )
    op.create_index(
        op.f("ix_created_events_therapist_id"), "created_events", ["therapist_id"], unique=False
    )
    op.create_table(
        "push_channels",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_push_channels_calendar_id_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_channels")),
    )
    op.create_index(
        op.f("ix_push_channels_calendar_id"), "push_channels", ["calendar_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("push_channels")
    op.drop_table("created_events")
    op.drop_table("calendar_events")
    op.drop_table("session_rules")
    op.drop_table("patients")
    op.drop_table("calendars")
