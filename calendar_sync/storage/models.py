"""The tables, as SQLAlchemy 2 declarative classes.

Changes to these classes go with an Alembic migration in ``migrations/versions``; a test
checks that the migrated schema and these classes agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import UTCDateTime

# Named constraints let the same migrations alter tables on SQLite (batch mode) and Postgres.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Therapist(Base):
    """A person who signed in with Google; everything else belongs to one therapist."""

    __tablename__ = "therapists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    google_subject: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GoogleConnection(Base):
    """The therapist's grant to this service: encrypted tokens, granted scopes and health."""

    __tablename__ = "google_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), unique=True
    )
    # active | needs_reauth
    status: Mapped[str] = mapped_column(String(32), default="active")
    # Fernet tokens (ASCII); never the plain Google tokens.
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text())
    access_token_encrypted: Mapped[str | None] = mapped_column(Text())
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    granted_scopes: Mapped[str] = mapped_column(Text(), default="")
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    problem: Mapped[str | None] = mapped_column(Text())
    # Bumped on every token change, so two workers refreshing at once cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=0)


class SignInAttempt(Base):
    """One trip through Google's consent page, kept server-side between redirect and callback.

    The PKCE verifier never leaves the server; ``browser_binding`` ties the attempt to the
    browser that started it, so a callback replayed in another browser is refused.
    """

    __tablename__ = "sign_in_attempts"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    code_verifier: Mapped[str] = mapped_column(String(128))
    browser_binding: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BrowserSignIn(Base):
    """A browser signed in as a therapist: the cookie holds a random secret, this row its hash.

    Created at sign-in and checked on every request; signing out or disconnecting deletes it,
    so a copied cookie stops working then, and can never open another therapist's account.
    """

    __tablename__ = "browser_sign_ins"

    # SHA-256 of the secret in the cookie; the secret itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SessionRulesRow(Base):
    """How one therapist's events are recognised as sessions (``domain.sessions.SessionRules``).

    No row means the defaults: an event with exactly one invited person is a session.
    """

    __tablename__ = "session_rules"

    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), primary_key=True
    )
    title_pattern: Mapped[str | None] = mapped_column(String(255))
    one_attendee_is_session: Mapped[bool] = mapped_column(Boolean(), default=True)
    # Addresses whose invitations count as sessions too, lower-cased, one per line.
    co_organizers: Mapped[str] = mapped_column(Text(), default="")


class Patient(Base):
    """A patient as the therapist writes them in event titles, for those who do not invite.

    ``name`` is the name or initials as written ("AB", "Sam"); matched as a whole word.
    """

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    do_not_email: Mapped[bool] = mapped_column(Boolean(), default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A payer that forbids missed-appointment fees, for example.
    fee_exempt: Mapped[bool] = mapped_column(Boolean(), default=False)
    fee_exempt_reason: Mapped[str] = mapped_column(Text(), default="")


class CalendarRow(Base):
    """One of the therapist's Google calendars, its sync state and its push channel.

    ``last_error`` and ``watch_problem`` are plain words for the dashboard, never personal
    data. Only a SHA-256 of the channel's secret token is kept.
    """

    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("therapist_id", "google_calendar_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapists.id", ondelete="CASCADE"))
    google_calendar_id: Mapped[str] = mapped_column(String(1024))
    summary: Mapped[str] = mapped_column(String(1024), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_primary: Mapped[bool] = mapped_column(Boolean(), default=False)
    # Whether the calendar holds sessions: synced, watched. New calendars: only the primary.
    selected: Mapped[bool] = mapped_column(Boolean(), default=False)
    # When the calendar list stopped showing it (unsubscribed or deleted); not synced then.
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sync_token: Mapped[str | None] = mapped_column(Text())
    last_full_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text())
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    channel_token_hash: Mapped[str | None] = mapped_column(String(64))
    channel_resource_id: Mapped[str | None] = mapped_column(String(255))
    channel_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    watch_problem: Mapped[str | None] = mapped_column(Text())
    watch_attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A push notification asked for a sync; cleared by the sync that follows it.
    sync_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A listing under way, page by page (each page is stored as it comes): when it began,
    # the page to ask for next, and for a full listing its window. All None between syncs;
    # an interrupted listing resumes at ``listing_page_token`` in the next cycle.
    listing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    listing_page_token: Mapped[str | None] = mapped_column(Text())
    listing_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    listing_window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PushChannel(Base):
    """Every push channel ever opened, so an old one can still be recognised and stopped.

    Written before ``events.watch`` is called: a channel opened by a process that died
    before recording the answer is still ours when its notifications arrive.
    """

    __tablename__ = "push_channels"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The calendar's row (``calendars.id``), never Google's calendar id.
    calendar_row_id: Mapped[int] = mapped_column(
        "calendar_id", ForeignKey("calendars.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CalendarEventRow(Base):
    """One event of a calendar as last synced (a recurring series arrives as instances).

    ``title`` is kept to match patients and read tags; it is never logged. Times are aware
    UTC; ``time_zone`` is the event's own zone, for display. The ``*_changed_at`` columns say
    when the current colour, title tags and patient answer were first seen.
    """

    __tablename__ = "calendar_events"
    __table_args__ = (
        UniqueConstraint("calendar_id", "event_id"),
        # The follow-up's and the proposals' window queries: one calendar's events by start.
        Index("ix_calendar_events_calendar_id_start", "calendar_id", "start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The calendar's row (``calendars.id``), never Google's calendar id.
    calendar_row_id: Mapped[int] = mapped_column(
        "calendar_id", ForeignKey("calendars.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(1024))
    recurring_event_id: Mapped[str | None] = mapped_column(String(1024))
    original_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(32), default="confirmed")
    title: Mapped[str] = mapped_column(Text(), default="")
    start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    all_day: Mapped[bool] = mapped_column(Boolean(), default=False)
    transparency: Mapped[str] = mapped_column(String(32), default="opaque")
    color_id: Mapped[str | None] = mapped_column(String(16))
    color_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tags_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The therapist's own answer (needsAction, accepted, declined, tentative), if invited.
    my_response: Mapped[str | None] = mapped_column(String(32))
    # JSON list of {"email", "responseStatus", "self", "organizer", "resource"}.
    attendees_json: Mapped[str] = mapped_column(Text(), default="[]")
    organizer_is_self: Mapped[bool] = mapped_column(Boolean(), default=True)
    # Who organised and who created the event: whose session it is (``domain.ownership``).
    organizer_email: Mapped[str | None] = mapped_column(String(320))
    creator_email: Mapped[str | None] = mapped_column(String(320))
    patient_email: Mapped[str | None] = mapped_column(String(320))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    patient_response: Mapped[str | None] = mapped_column(String(32))
    patient_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_session: Mapped[bool] = mapped_column(Boolean(), default=False)
    created_by_service: Mapped[bool] = mapped_column(Boolean(), default=False)
    google_updated: Mapped[datetime | None] = mapped_column(UTCDateTime())
    etag: Mapped[str | None] = mapped_column(String(255))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the event was first seen cancelled or gone from the calendar.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The code of the event's Google Meet link (``abc-mnop-xyz``), when it has one.
    meet_code: Mapped[str | None] = mapped_column(String(32))
    # The start of the last full listing that returned the event: what such a listing did
    # not return by its end is gone (``calendars.listing_started_at``).
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CreatedEvent(Base):
    """An event the service itself created: how it recognises its own events.

    Recorded before ``events.insert`` (the id is chosen by the service), so recognition never
    depends on event fields a person can change or Google can drop.
    """

    __tablename__ = "created_events"
    __table_args__ = (UniqueConstraint("calendar_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    # The calendar's row (``calendars.id``), never Google's calendar id.
    calendar_row_id: Mapped[int] = mapped_column(
        "calendar_id", ForeignKey("calendars.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(1024))
    # What it was created for, e.g. "reschedule_proposal".
    purpose: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TherapistSettingsRow(Base):
    """A therapist's follow-up policy and practice details, as JSON (see services/settings)."""

    __tablename__ = "therapist_settings"

    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), primary_key=True
    )
    policy_json: Mapped[str] = mapped_column(Text(), default="{}")
    practice_json: Mapped[str] = mapped_column(Text(), default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Follow-ups reach patients only for misses due from this moment; None until the
    # therapist switches them on (the first-run checklist). A settings save moves it on.
    follow_ups_from: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SessionMark(Base):
    """A mark the therapist made outside the calendar: on the dashboard or by a link.

    Every mark is kept (the latest wins), so the history shows what changed and when.
    """

    __tablename__ = "session_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    outcome: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MeetEvidence(Base):
    """What Google Meet showed about one video session (``domain.meet``), once settled.

    Nothing of who joined is kept but whether it was the therapist and for how long:
    ``minutes`` is the time someone else was in the call during the session, ``joined`` and
    ``left`` their first join and last leave. ``checks`` counts the reads so far; the
    session is read again at each cycle while ``attendance`` is ``pending``.
    """

    __tablename__ = "meet_evidence"
    __table_args__ = (UniqueConstraint("therapist_id", "calendar_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    # Google's calendar id, like ``session_marks``.
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    # present | absent | brief | no_evidence | pending
    attendance: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    therapist_minutes: Mapped[int] = mapped_column(Integer, default=0)
    joined: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checks: Mapped[int] = mapped_column(Integer, default=0)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the answer stopped being "pending": what a miss counts from.
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SessionOverride(Base):
    """An event, or a whole series (``series``: ``event_id`` is the series' id), that the
    therapist treats as a session though the recognition rules say otherwise."""

    __tablename__ = "session_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    series: Mapped[bool] = mapped_column(Boolean())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MarkLink(Base):
    """A one-click mark link sent to the therapist: one session, one outcome, used once.

    The signed token in the URL carries only ``id``; everything else stays here. Using one
    link of a session uses up the session's other links too (see services/followup/marks).
    """

    __tablename__ = "mark_links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    outcome: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FollowUpAction(Base):
    """One action the service decided on, recorded once under its idempotency key.

    Written in the same transaction as the messages and proposals it causes, so a decision
    is either wholly recorded with its effects queued, or not at all.
    """

    __tablename__ = "follow_up_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(32))
    step: Mapped[int | None] = mapped_column(Integer)
    # send | offer_to_therapist
    delivery: Mapped[str] = mapped_column(String(32))
    # queued | offered | dismissed | not_possible
    status: Mapped[str] = mapped_column(String(32))
    explanation: Mapped[str] = mapped_column(Text(), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeeEntry(Base):
    """A line of a patient's fee ledger: a charge for a miss, or a waiver of one."""

    __tablename__ = "fee_entries"
    __table_args__ = (UniqueConstraint("therapist_id", "calendar_id", "event_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    patient_key: Mapped[str] = mapped_column(String(64))
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    # charge | waiver
    kind: Mapped[str] = mapped_column(String(16))
    minor_units: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text(), default="")
    session_start: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A charge waits with its email (the hold): not on the ledger until this is cleared.
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EmailTemplateOverride(Base):
    """One part (the subject or the text) of an email as the therapist edited it.

    Checked against every case the email meets when saved (``mail.template_store.save``);
    no row means the shipped default. Rows of the retired ``first_checkin`` and
    ``repeat_checkin`` are kept only for the therapist to copy from (migration 0007).
    """

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("therapist_id", "name", "part"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapists.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    part: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """One email to send exactly once, rendered when it was decided (the exact text shown).

    ``key`` is the idempotency key of the action that caused it. ``status`` moves
    pending -> claimed -> sending -> sent | unknown | failed, or held / cancelled by the
    therapist (see ``services.outbox``). ``last_error`` is plain words, never personal data.
    """

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(255), unique=True)
    # The template name, e.g. "checkin".
    kind: Mapped[str] = mapped_column(String(64))
    # patient | therapist
    recipient_role: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text())
    text: Mapped[str] = mapped_column(Text())
    html: Mapped[str] = mapped_column(Text())
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DevMail(Base):
    """A message the ``dev`` mail backend kept instead of sending (shown on the dashboard)."""

    __tablename__ = "dev_mail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    # The outbox key: a second copy of one message cannot be stored.
    outbox_key: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text())
    # The whole MIME message, as it would have gone out.
    raw: Mapped[str] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RescheduleProposal(Base):
    """One new time offered in the calendar for a missed session: one row per attempt.

    ``key`` is the follow-up action's idempotency key; ``event_id`` (our event in
    ``calendar_id``) is derived from it and ``attempt``, so a retry can never create a second
    event. ``alternatives_json`` lists the other slots offered (``[{"start", "end"}]``).
    ``last_error`` is plain words for the dashboard, never personal data.
    """

    __tablename__ = "reschedule_proposals"
    __table_args__ = (
        UniqueConstraint("therapist_id", "key", "attempt"),
        UniqueConstraint("calendar_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapists.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    missed_calendar_id: Mapped[str] = mapped_column(String(1024))
    missed_event_id: Mapped[str] = mapped_column(String(1024))
    # The missed session's time: the length to offer and the patient's usual day and hour.
    missed_start: Mapped[datetime] = mapped_column(UTCDateTime())
    missed_end: Mapped[datetime] = mapped_column(UTCDateTime())
    patient_email: Mapped[str] = mapped_column(String(320))
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    # planned | proposed | accepted | declined | exhausted | expired | withdrawn | no_slot
    state: Mapped[str] = mapped_column(String(32), index=True)
    slot_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slot_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alternatives_json: Mapped[str] = mapped_column(Text(), default="[]")
    answer_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Placed in the calendar no sooner than this (the hold), and only with its email.
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text())


class TherapistNotice(Base):
    """Something the therapist should know, shown on the dashboard until they clear it.

    ``text`` is plain words without patient names: a session is named by its date and time.
    A notice about a session keeps its ref (``calendar_id``, ``event_id``: Google's ids) and
    the patient's row, so the therapist's own pages can name the patient and link to the
    follow-up; ``read_at`` is when the therapist cleared it.
    """

    __tablename__ = "therapist_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    calendar_id: Mapped[str | None] = mapped_column(String(1024))
    event_id: Mapped[str | None] = mapped_column(String(1024))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))


class PatientLink(Base):
    """A single-use link sent to a patient; the signed token carries only ``id``."""

    __tablename__ = "patient_links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    # choose_time | barrier_survey | will_get_in_touch
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How a used link was answered when its purpose does not say: none_suit (a choose_time
    # link answered "none of these work, please contact me").
    answer: Mapped[str | None] = mapped_column(String(32))


class BarrierAnswer(Base):
    """What got in the way, as the patient answered on their page.

    ``reasons`` is a comma-separated list of fixed codes (transport, cost, work_or_childcare,
    health, forgot, other); ``other_text`` is the patient's own words, shown only to the
    therapist and never logged.
    """

    __tablename__ = "barrier_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    link_id: Mapped[str] = mapped_column(
        ForeignKey("patient_links.id", ondelete="CASCADE"), unique=True
    )
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    reasons: Mapped[str] = mapped_column(String(255), default="")
    other_text: Mapped[str] = mapped_column(Text(), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TherapistLease(Base):
    """Who is doing a therapist's share of the work now, until when, and when it last ran.

    A worker claims the row (``holder``, ``expires_at`` on the wall clock) before it works for
    the therapist and clears it after; a worker that dies leaves a lease that simply expires.
    """

    __tablename__ = "therapist_leases"

    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the last completed run started (wall clock): the claim loop's "done this round".
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class CalendarSyncLease(Base):
    """The one sync of a calendar running now, whichever process runs it."""

    __tablename__ = "calendar_sync_leases"

    calendar_row_id: Mapped[int] = mapped_column(
        "calendar_id", ForeignKey("calendars.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
