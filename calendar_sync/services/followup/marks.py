"""Marks made outside the calendar (dashboard, one-click links), and the mark links.

A mark link names one session and one outcome. Like the patients' links, it is a row
(``mark_links``) with a random opaque id, and the URL carries only that id, signed with the
app's secret: no calendar id, event id or therapist in it. A link works once, until it
expires; using one link of a session uses up that session's other links, so an old email
can never overturn a mark made later.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from ...domain.marks import Mark, MarkSource
from ...domain.outcomes import Outcome
from ...storage.models import MarkLink, SessionMark
from ..schedule import mark_changed

# Long enough to mark after a weekend away; the dashboard works after that.
MARK_LINK_LIFETIME = timedelta(days=7)
# A new salt: links of the earlier kind (which carried the session's ids) are refused.
_SALT = "calendar-sync/mark-link/opaque"

#: What a therapist can mark from a link or the dashboard, in their words.
MARKABLE = {
    Outcome.ATTENDED: "Attended",
    Outcome.NO_SHOW: "No-show",
    Outcome.LATE_CANCEL: "Late cancel",
    Outcome.CANCELLED_IN_TIME: "Cancelled in time",
    Outcome.CLINICIAN_CANCELLED: "Cancelled by me",
}


class LinkProblem(Enum):
    """Why a mark link does nothing."""

    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"


class InvalidMarkLink(ValueError):
    """The link was altered, is not ours, has expired or was used (``problem`` says which)."""

    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class MarkRequest:
    """What a valid link asks for: one outcome for one of the therapist's sessions."""

    link_id: str
    therapist_id: int
    calendar_id: str
    event_id: str
    outcome: Outcome


def record_mark(
    db: DbSession,
    *,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    outcome: Outcome,
    source: MarkSource,
    now: datetime,
) -> None:
    """Keep a mark; the latest mark of any source wins when the session is decided."""
    if source not in (MarkSource.DASHBOARD, MarkSource.CALENDAR_PANEL, MarkSource.LINK):
        raise ValueError("only dashboard and link marks are stored; the calendar holds the rest")
    db.add(
        SessionMark(
            therapist_id=therapist_id,
            calendar_id=calendar_id,
            event_id=event_id,
            outcome=outcome.value,
            source=source.value,
            marked_at=now,
        )
    )
    db.flush()
    mark_changed(db, therapist_id)


def stored_marks(db: DbSession, therapist_id: int) -> list[Mark]:
    rows = db.scalars(select(SessionMark).where(SessionMark.therapist_id == therapist_id))
    return [
        Mark(
            calendar_id=row.calendar_id,
            event_id=row.event_id,
            outcome=Outcome(row.outcome),
            source=MarkSource(row.source),
            at=row.marked_at,
        )
        for row in rows
    ]


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def new_mark_link(
    *,
    secret_key: str,
    therapist_id: int,
    calendar_id: str,
    event_id: str,
    outcome: Outcome,
    now: datetime,
) -> tuple[MarkLink, str]:
    """A link marking one session with ``outcome``, not yet recorded, and its token.

    The token works once the row is added, in the transaction that queues its email.
    """
    link = MarkLink(
        id=secrets.token_urlsafe(24),
        therapist_id=therapist_id,
        calendar_id=calendar_id,
        event_id=event_id,
        outcome=outcome.value,
        created_at=now,
        expires_at=now + MARK_LINK_LIFETIME,
    )
    return link, _serializer(secret_key).dumps(link.id)


def read_mark_link(db: DbSession, secret_key: str, token: str, now: datetime) -> MarkRequest:
    """What a valid, unused link asks for.

    :raises InvalidMarkLink: when the token is tampered with or foreign, too old, or used.
    """
    # The signature's age is a second line of defence; the row's expiry decides.
    max_age = int((MARK_LINK_LIFETIME + timedelta(days=1)).total_seconds())
    try:
        link_id = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidMarkLink(LinkProblem.EXPIRED) from exc
    except BadSignature as exc:
        raise InvalidMarkLink(LinkProblem.INVALID) from exc
    link = db.get(MarkLink, link_id) if isinstance(link_id, str) else None
    if link is None:
        raise InvalidMarkLink(LinkProblem.INVALID)
    if link.used_at is not None:
        raise InvalidMarkLink(LinkProblem.USED)
    if link.expires_at <= now:
        raise InvalidMarkLink(LinkProblem.EXPIRED)
    return MarkRequest(
        link.id, link.therapist_id, link.calendar_id, link.event_id, Outcome(link.outcome)
    )


def use_mark_link(db: DbSession, request: MarkRequest, now: datetime) -> bool:
    """Record the link's mark and use the link up, with the session's other links.

    False, and nothing recorded, when the link was used (or expired) meanwhile.
    """
    claimed = db.execute(
        update(MarkLink)
        .where(
            MarkLink.id == request.link_id, MarkLink.used_at.is_(None), MarkLink.expires_at > now
        )
        .values(used_at=now)
    )
    if not getattr(claimed, "rowcount", 0):
        return False
    db.execute(
        update(MarkLink)
        .where(
            MarkLink.therapist_id == request.therapist_id,
            MarkLink.calendar_id == request.calendar_id,
            MarkLink.event_id == request.event_id,
            MarkLink.used_at.is_(None),
        )
        .values(used_at=now)
    )
    record_mark(
        db,
        therapist_id=request.therapist_id,
        calendar_id=request.calendar_id,
        event_id=request.event_id,
        outcome=request.outcome,
        source=MarkSource.LINK,
        now=now,
    )
    return True
