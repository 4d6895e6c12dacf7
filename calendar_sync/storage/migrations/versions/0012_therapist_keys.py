"""Keys scoped by therapist; who organised and who created each event.

Idempotency keys were ``<kind>:<digest of calendar and event>``, unique across therapists, so
two therapists who selected one shared calendar suppressed each other's follow-ups. They are
now ``<kind>:<therapist id>:<digest>``: every stored key (actions, outbox messages, proposals,
the development mailbox) is rewritten in place, with the same digest, so what was done before
the upgrade is still recognised and nothing is done twice. Keys already in the new shape are
left alone, so running this on a half-upgraded copy is harmless.

The organiser and creator of each event decide whose session it is (``domain.ownership``).
Stored events do not know them yet, so every calendar's sync token is dropped: the next sync
lists the window again (events are upserted, never duplicated) and fills them in.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import re
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_OLD = re.compile(r"^([a-z_]+):([0-9a-f]{32})$")
_NEW = re.compile(r"^([a-z_]+):([0-9]+):([0-9a-f]{32})$")

# (table, key column): every place a key is stored, each row with its therapist.
_KEYED = (
    ("follow_up_actions", "key"),
    ("outbox_messages", "key"),
    ("reschedule_proposals", "key"),
    ("dev_mail", "outbox_key"),
)


def _rewrite(change: Callable[[str, int], str | None]) -> None:
    connection = op.get_bind()
    for table_name, column in _KEYED:
        table = sa.table(table_name, sa.column("id"), sa.column("therapist_id"), sa.column(column))
        rows = connection.execute(sa.select(table.c.id, table.c.therapist_id, table.c[column]))
        for row_id, therapist_id, key in rows.all():
            new = change(key, therapist_id)
            if new is not None and new != key:
                connection.execute(
                    sa.update(table).where(table.c.id == row_id).values({column: new})
                )


def _scoped(key: str, therapist_id: int) -> str | None:
    found = _OLD.match(key)
    return f"{found[1]}:{therapist_id}:{found[2]}" if found else None


def _unscoped(key: str, therapist_id: int) -> str | None:
    found = _NEW.match(key)
    return f"{found[1]}:{found[3]}" if found and int(found[2]) == therapist_id else None


def upgrade() -> None:
    with op.batch_alter_table("calendar_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organizer_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("creator_email", sa.String(length=320), nullable=True))
    _rewrite(_scoped)
    op.execute(sa.text("UPDATE calendars SET sync_token = NULL"))


def downgrade() -> None:
    # Fails on a unique key if two therapists acted on one shared event since the upgrade.
    _rewrite(_unscoped)
    with op.batch_alter_table("calendar_events", schema=None) as batch_op:
        batch_op.drop_column("creator_email")
        batch_op.drop_column("organizer_email")
