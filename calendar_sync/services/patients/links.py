"""Single-use links sent to patients, and the answers that come back through them.

A link is a row in ``patient_links`` with a random opaque id; the URL carries that id
signed with the app's ``SECRET_KEY`` and a salt per purpose (itsdangerous), and nothing
else: no name, address or session in the token. A link expires (``PATIENT_LINK_DAYS``,
14 days by default) and works once: :func:`claim` marks it used in the same transaction as
its effect, so a second submission finds it used and changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from ...storage.models import BarrierAnswer, CalendarEventRow, CalendarRow, PatientLink
from ..schedule import mark_changed

CHOOSE_TIME = "choose_time"
BARRIER_SURVEY = "barrier_survey"
# The patient asks the therapist to contact them (the stored name, and the links signed with
# it, come from the email's "let me know and I will get in touch").
WILL_GET_IN_TOUCH = "will_get_in_touch"
PURPOSES = (CHOOSE_TIME, BARRIER_SURVEY, WILL_GET_IN_TOUCH)
#: A choose_time link answered "None of these work, please contact me".
NONE_SUIT = "none_suit"

#: The answers the barrier survey offers, in the patient's words.
BARRIERS: dict[str, str] = {
    "transport": "Getting there (transport)",
    "cost": "The cost",
    "work_or_childcare": "Work or childcare",
    "health": "Feeling unwell",
    "forgot": "I forgot",
    "other": "Something else",
}

DEFAULT_LINK_DAYS = 14
_SALT = "calendar-sync.patient-link."


class LinkStatus(Enum):
    """What a presented token turned out to be."""

    VALID = "valid"
    TAMPERED = "tampered"
    EXPIRED = "expired"
    USED = "used"
    # Genuinely ours, but its record is gone: the therapist disconnected, which deletes it.
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class LinkCheck:
    status: LinkStatus
    link: PatientLink | None = None


@dataclass(frozen=True)
class PatientAnswer:
    """An answer a patient gave through a link, as the dashboard shows it."""

    kind: str
    calendar_id: str
    event_id: str
    session_start: datetime | None
    reasons: tuple[str, ...]
    other_text: str
    answered_at: datetime


def _serializer(config: Mapping[str, Any], purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(config["SECRET_KEY"]), salt=_SALT + purpose)


def link_lifetime(config: Mapping[str, Any]) -> timedelta:
    return timedelta(days=int(config.get("PATIENT_LINK_DAYS", DEFAULT_LINK_DAYS)))


def new_link(
    *,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    purpose: str,
    now: datetime,
    config: Mapping[str, Any],
) -> tuple[PatientLink, str]:
    """A new link about one session, not yet recorded, and its absolute URL.

    The URL works once the row is added to the database, in the transaction that queues
    the message carrying it; so a message can be written before that transaction opens.

    :raises ValueError: on an unknown purpose.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")

    link = PatientLink(
        id=secrets.token_urlsafe(24),
        therapist_id=therapist_id,
        calendar_id=calendar_id,
        event_id=event_id,
        purpose=purpose,
        created_at=now,
        expires_at=now + link_lifetime(config),
    )
    token = _serializer(config, purpose).dumps(link.id)
    return link, f"{str(config['PUBLIC_URL']).rstrip('/')}/p/{token}"


def issue_link(
    db: DbSession,
    *,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    purpose: str,
    now: datetime,
    config: Mapping[str, Any],
) -> str:
    """Record a new link about one session and return its absolute URL (from PUBLIC_URL).

    ``config`` is the app's config (``SECRET_KEY``, ``PUBLIC_URL``, ``PATIENT_LINK_DAYS``).

    :raises ValueError: on an unknown purpose.
    """
    link, url = new_link(
        therapist_id=therapist_id,
        calendar_id=calendar_id,
        event_id=event_id,
        purpose=purpose,
        now=now,
        config=config,
    )
    db.add(link)
    db.flush()
    return url


def check_token(db: DbSession, token: str, now: datetime, config: Mapping[str, Any]) -> LinkCheck:
    """What ``token`` is: valid (with its link), tampered, expired, used or withdrawn.

    Withdrawn: the signature is ours but the link's row is gone, which happens only when
    the therapist disconnected (everything about their patients is deleted then).
    """

    # The signature's own age is a second line of defence; the row's expiry decides.
    max_age = int((link_lifetime(config) + timedelta(days=1)).total_seconds())
    for purpose in PURPOSES:
        try:
            link_id = _serializer(config, purpose).loads(token, max_age=max_age)
        except SignatureExpired:
            return LinkCheck(LinkStatus.EXPIRED)
        except BadSignature:
            continue
        link = db.get(PatientLink, str(link_id))
        if link is None:
            return LinkCheck(LinkStatus.WITHDRAWN)
        if link.purpose != purpose:
            return LinkCheck(LinkStatus.TAMPERED)
        if link.used_at is not None:
            return LinkCheck(LinkStatus.USED, link)
        if link.expires_at <= now:
            return LinkCheck(LinkStatus.EXPIRED, link)
        return LinkCheck(LinkStatus.VALID, link)
    return LinkCheck(LinkStatus.TAMPERED)


def claim(db: DbSession, link_id: str, now: datetime, *, answer: str | None = None) -> bool:
    """Mark the link used (with ``answer``, when its purpose alone does not say it).

    False when it already was used (or has expired): do nothing then.
    """
    result = db.execute(
        update(PatientLink)
        .where(
            PatientLink.id == link_id,
            PatientLink.used_at.is_(None),
            PatientLink.expires_at > now,
        )
        .values(used_at=now, answer=answer)
    )
    if not getattr(result, "rowcount", 0):
        return False
    therapist_id = db.scalar(select(PatientLink.therapist_id).where(PatientLink.id == link_id))
    if therapist_id is not None:
        mark_changed(db, therapist_id)
    return True


def release(db: DbSession, link_id: str) -> None:
    """Make a claimed link usable again (its effect could not be carried out)."""
    db.execute(
        update(PatientLink).where(PatientLink.id == link_id).values(used_at=None, answer=None)
    )


def record_barriers(
    db: DbSession, link: PatientLink, reasons: list[str], other_text: str, now: datetime
) -> None:
    """Store a barrier survey answer; unknown reason codes are dropped."""
    chosen = [code for code in BARRIERS if code in set(reasons)]
    db.add(
        BarrierAnswer(
            therapist_id=link.therapist_id,
            link_id=link.id,
            calendar_id=link.calendar_id,
            event_id=link.event_id,
            reasons=",".join(chosen),
            other_text=other_text.strip()[:2000],
            created_at=now,
        )
    )
    db.flush()


def session_start(
    db: DbSession, therapist_id: int, calendar_id: str, event_id: str
) -> datetime | None:
    """When the session a link is about started, from the synced calendar (if known)."""
    return db.scalar(
        select(CalendarEventRow.start)
        .join(CalendarRow, CalendarRow.id == CalendarEventRow.calendar_row_id)
        .where(
            CalendarRow.therapist_id == therapist_id,
            CalendarRow.google_calendar_id == calendar_id,
            CalendarEventRow.event_id == event_id,
        )
    )


def answers_for(db: DbSession, therapist_id: int) -> list[PatientAnswer]:
    """Every answer patients gave the therapist through links, newest first."""
    answers: list[PatientAnswer] = []
    surveys = db.scalars(select(BarrierAnswer).where(BarrierAnswer.therapist_id == therapist_id))
    for row in surveys:
        answers.append(
            PatientAnswer(
                kind=BARRIER_SURVEY,
                calendar_id=row.calendar_id,
                event_id=row.event_id,
                session_start=session_start(db, therapist_id, row.calendar_id, row.event_id),
                reasons=tuple(code for code in row.reasons.split(",") if code),
                other_text=row.other_text,
                answered_at=row.created_at,
            )
        )
    used = db.scalars(
        select(PatientLink).where(
            PatientLink.therapist_id == therapist_id,
            PatientLink.purpose.in_((CHOOSE_TIME, WILL_GET_IN_TOUCH)),
            PatientLink.used_at.is_not(None),
        )
    )
    for link in used:
        assert link.used_at is not None
        answers.append(
            PatientAnswer(
                kind=link.answer or link.purpose,
                calendar_id=link.calendar_id,
                event_id=link.event_id,
                session_start=session_start(db, therapist_id, link.calendar_id, link.event_id),
                reasons=(),
                other_text="",
                answered_at=link.used_at,
            )
        )
    answers.sort(key=lambda answer: answer.answered_at, reverse=True)
    return answers
