"""Marks made outside the calendar (dashboard, one-click links), and the signed mark links.

A mark link names one session and one outcome and is signed with the app's secret; it
carries no personal data, only the therapist's id and Google's ids for the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...domain.marks import Mark, MarkSource
from ...domain.outcomes import Outcome
from ...storage.models import SessionMark

# Long enough to mark after a weekend away; the dashboard works after that.
MARK_LINK_LIFETIME = timedelta(days=7)
_SALT = "calendar-sync/mark-link"

#: What a therapist can mark from a link or the dashboard, in their words.
MARKABLE = {
    Outcome.ATTENDED: "Attended",
    Outcome.NO_SHOW: "No-show",
    Outcome.LATE_CANCEL: "Late cancel",
    Outcome.CANCELLED_IN_TIME: "Cancelled in time",
    Outcome.CLINICIAN_CANCELLED: "Cancelled by me",
}


class InvalidMarkLink(ValueError):
    """The link was altered, is not ours, or has expired (``expired`` says which)."""

    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True)
class MarkRequest:
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
    if source not in (MarkSource.DASHBOARD, MarkSource.LINK):
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


def sign_mark_link(secret_key: str, request: MarkRequest) -> str:
    payload: list[Any] = [
        request.therapist_id,
        request.calendar_id,
        request.event_id,
        request.outcome.value,
    ]
    return _serializer(secret_key).dumps(payload)


def read_mark_link(secret_key: str, token: str, now: datetime) -> MarkRequest:
    """:raises InvalidMarkLink: when the token is tampered with, foreign or too old."""
    serializer = _serializer(secret_key)
    try:
        payload, signed_at = serializer.loads(token, return_timestamp=True)
    except SignatureExpired as exc:
        raise InvalidMarkLink(expired=True) from exc
    except BadSignature as exc:
        raise InvalidMarkLink(expired=False) from exc
    # Checked against the given ``now`` rather than the wall clock, so tests and
    # ``tick --now`` agree with the links they make.
    if now - signed_at > MARK_LINK_LIFETIME:
        raise InvalidMarkLink(expired=True)
    try:
        therapist_id, calendar_id, event_id, outcome = payload
        return MarkRequest(int(therapist_id), str(calendar_id), str(event_id), Outcome(outcome))
    except (TypeError, ValueError) as exc:
        raise InvalidMarkLink(expired=False) from exc
