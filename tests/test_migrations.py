"""The migrations build exactly the schema the models describe (types, keys, indexes)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from calendar_sync.storage import Database
from calendar_sync.storage.models import Base


def test_migrated_schema_has_no_difference_from_the_models(any_database_url: str) -> None:
    database = Database(any_database_url)
    try:
        database.upgrade()
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        database.dispose()


def test_downgrade_of_the_newest_revision_removes_its_tables(sqlite_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from calendar_sync.storage.database import _alembic_config

    database = Database(sqlite_url)
    try:
        database.upgrade()
        with database.engine.begin() as connection:
            command.downgrade(_alembic_config(connection), "0002")
        tables = set(inspect(database.engine).get_table_names())
        assert "calendar_events" not in tables
        assert "therapists" in tables
    finally:
        database.dispose()


def test_invitations_from_others_stop_being_sessions(any_database_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from calendar_sync.storage.database import _alembic_config

    database = Database(any_database_url)
    try:
        with database.engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "0006")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO therapists (id, google_subject, email, display_name, time_zone,"
                    " created_at) VALUES (1, 's', 'dr.lee@example.test', '', 'UTC', :now)"
                ),
                {"now": "2026-03-20 12:00:00"},
            )
            connection.execute(
                text(
                    "INSERT INTO calendars (id, therapist_id, google_calendar_id, summary,"
                    " time_zone, is_primary, selected) VALUES"
                    " (1, 1, 'dr.lee@example.test', '', 'UTC', true, true)"
                )
            )
            for number, own in ((1, True), (2, False)):
                connection.execute(
                    text(
                        "INSERT INTO calendar_events (calendar_id, event_id, status, title,"
                        " time_zone, all_day, transparency, attendees_json, organizer_is_self,"
                        " is_session, created_by_service, first_seen_at, synced_at) VALUES"
                        " (1, :event, 'confirmed', '', 'UTC', false, 'opaque', '[]', :own,"
                        " true, false, :now, :now)"
                    ),
                    {"event": f"e{number}", "own": own, "now": "2026-03-20 12:00:00"},
                )
        database.upgrade()
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT event_id, is_session FROM calendar_events"))
            sessions = {event_id: bool(flag) for event_id, flag in rows}
        assert sessions == {"e1": True, "e2": False}
    finally:
        database.dispose()


def test_therapists_connected_before_the_checklist_keep_their_follow_ups(
    any_database_url: str,
) -> None:
    from alembic import command
    from sqlalchemy import text

    from calendar_sync.storage.database import _alembic_config

    database = Database(any_database_url)
    try:
        with database.engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "0006")
        with database.engine.begin() as connection:
            for number in (1, 2):
                connection.execute(
                    text(
                        "INSERT INTO therapists (id, google_subject, email, display_name,"
                        " time_zone, created_at) VALUES (:id, :sub, :email, '', 'UTC', :now)"
                    ),
                    {
                        "id": number,
                        "sub": f"s{number}",
                        "email": f"dr{number}@example.test",
                        "now": "2026-03-01 09:00:00",
                    },
                )
                connection.execute(
                    text(
                        "INSERT INTO google_connections (therapist_id, status, granted_scopes,"
                        " connected_at, version) VALUES (:id, 'active', '', :at, 0)"
                    ),
                    {"id": number, "at": f"2026-03-0{number} 10:00:00"},
                )
            # the first saved settings already; the second never did
            connection.execute(
                text(
                    "INSERT INTO therapist_settings (therapist_id, policy_json, practice_json,"
                    " updated_at) VALUES (1, '{}', '{}', '2026-03-05 10:00:00')"
                )
            )
        database.upgrade()
        with database.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT therapist_id, follow_ups_from FROM therapist_settings")
            ).all()
        found = {therapist: str(moment)[:16] for therapist, moment in rows}
        # follow-ups go on as before, from each connection; only new sign-ups rehearse first
        assert found == {1: "2026-03-01 10:00", 2: "2026-03-02 10:00"}
    finally:
        database.dispose()


# An HTML part as the editor used to keep it: what most mail apps showed.
OLD_HTML = """<!doctype html>
<html lang="en">
<body style="font-family: Georgia, serif;">
<p>Hello {{ therapist.name }},</p>
<p>{{ patient.first_name }} missed {{ misses_in_window }} times &amp; more.</p>
<ul>
{% for h in history %}
<li>{{ h.when }}: {{ h.outcome }}</li>
{% endfor %}
</ul>
<p>See <a href="{{ dashboard_url }}">your dashboard</a>.</p>
<p>Warm wishes,<br>
{{ therapist.name }}{% if therapist.practice %}<br>
{{ therapist.practice }}{% endif %}</p>
</body>
</html>
"""


def test_edited_templates_carry_over_as_one_text(any_database_url: str) -> None:
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import select

    from calendar_sync.mail import template_store
    from calendar_sync.mail.samples import SAMPLE_CONTEXTS
    from calendar_sync.storage.database import _alembic_config
    from calendar_sync.storage.models import EmailTemplateOverride, Therapist

    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    database = Database(any_database_url)
    try:
        with database.engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "0006")
        with database.transaction() as db:
            therapist = Therapist(
                google_subject="sub-m",
                email="dr.m@example.test",
                display_name="Dr M",
                time_zone="Europe/London",
                created_at=now,
            )
            db.add(therapist)
            db.flush()
            edits = [
                # text and HTML edited: the text is the one text, the HTML goes
                ("reschedule_note", "text", "Hi {{ patient.first_name }}, {{ proposal.when }}?"),
                ("reschedule_note", "html", "<p>Something else entirely</p>"),
                ("reschedule_note", "subject", "New time, {{ patient.first_name }}"),
                # only the HTML edited: it becomes the text
                ("pattern_alert", "html", OLD_HTML),
                # template code that is not a plain value stays as it is
                (
                    "termination_draft",
                    "text",
                    "{{ patient.first_name|upper }} {% if history %}x{% endif %}",
                ),
                # the check-ins that became one are kept to copy from
                ("first_checkin", "text", "Dear {{ patient.first_name }}, we missed you."),
                ("first_checkin", "html", "<p>Dear {{ patient.first_name }}</p>"),
            ]
            for name, part, source in edits:
                db.add(
                    EmailTemplateOverride(
                        therapist_id=therapist.id,
                        name=name,
                        part=part,
                        source=source,
                        updated_at=now,
                    )
                )
            therapist_id = therapist.id

        database.upgrade()

        with database.transaction() as db:
            stored = {
                (row.name, row.part): row.source
                for row in db.scalars(select(EmailTemplateOverride))
            }
            assert stored == {
                ("reschedule_note", "text"): "Hi {first name}, {new time}?",
                ("reschedule_note", "subject"): "New time, {first name}",
                ("pattern_alert", "text"): stored[("pattern_alert", "text")],
                ("termination_draft", "text"): (
                    "{{ patient.first_name|upper }} {% if history %}x{% endif %}"
                ),
                ("first_checkin", "text"): "Dear {first name}, we missed you.",
            }
            converted = stored[("pattern_alert", "text")]
            assert converted.startswith("Hello {your name},\n\n{first name} missed {misses}")
            assert "&amp;" not in converted and "<" not in converted
            # what the therapist wrote in HTML goes out, now from the one text
            email = template_store.render_for(
                db, therapist_id, "pattern_alert", SAMPLE_CONTEXTS["pattern_alert"]
            )
            assert email.text == (
                "Hello Dr Maya Lindqvist,\n\nSam missed 3 times & more.\n\n"
                "- Tuesday 10 March at 10:00: no-show\n- Tuesday 3 March at 10:00: attended\n"
                "- Tuesday 24 February at 10:00: late cancel\n"
                "- Tuesday 10 February at 10:00: no-show\n\n"
                "See your dashboard (https://practice.example.test/dashboard).\n\n"
                "Warm wishes,\nDr Maya Lindqvist\nRiverside Rooms\n"
            )
            assert 'href="https://practice.example.test/dashboard"' in email.html
            assert template_store.earlier_wording(db, therapist_id, "checkin") == [
                ("First check-in: text", "Dear {first name}, we missed you.")
            ]
    finally:
        database.dispose()


def test_events_are_indexed_by_calendar_then_start(any_database_url: str) -> None:
    """The follow-up's window query (one calendar's events between two starts) has its index."""
    from sqlalchemy import inspect

    database = Database(any_database_url)
    try:
        database.upgrade()
        indexes = {
            index["name"]: index["column_names"]
            for index in inspect(database.engine).get_indexes("calendar_events")
        }
        assert indexes["ix_calendar_events_calendar_id_start"] == ["calendar_id", "start"]
        # Every query on start names the calendar too: the start-only index is gone.
        assert "ix_calendar_events_start" not in indexes
    finally:
        database.dispose()


def test_sqlite_plans_the_window_query_on_the_index(sqlite_url: str) -> None:
    from sqlalchemy import text

    database = Database(sqlite_url)
    try:
        database.upgrade()
        with database.engine.connect() as connection:
            plan = " ".join(
                str(row[-1])
                for row in connection.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT id FROM calendar_events"
                        " WHERE calendar_id = 1 AND start >= '2026-01-01' AND start <= '2026-03-01'"
                    )
                )
            )
        assert "ix_calendar_events_calendar_id_start" in plan
        assert "start>?" in plan and "start<?" in plan
    finally:
        database.dispose()
