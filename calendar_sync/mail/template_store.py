"""A therapist's edited email templates: saved only when they render, reset to the default.

Every function works inside the caller's transaction (``db`` is a SQLAlchemy session).
A message has two parts a therapist may edit, its ``subject`` and its ``text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from ..storage.models import EmailTemplateOverride
from .samples import PARTS
from .templates import RenderedEmail, default_source, render, validate


def load_overrides(db: DbSession, therapist_id: int, name: str) -> dict[str, str]:
    """The edited parts of message ``name`` (part -> source); missing parts use the default."""
    rows = db.scalars(
        select(EmailTemplateOverride).where(
            EmailTemplateOverride.therapist_id == therapist_id,
            EmailTemplateOverride.name == name,
        )
    )
    return {row.part: row.source for row in rows}


def sources(db: DbSession, therapist_id: int, name: str) -> dict[str, str]:
    """Every part of message ``name`` as the therapist currently has it (edited or default)."""
    edited = load_overrides(db, therapist_id, name)
    return {part: edited.get(part, default_source(name, part)) for part in PARTS}


def save(
    db: DbSession, therapist_id: int, name: str, part: str, source: str, now: datetime
) -> list[str]:
    """Store ``source`` as the therapist's ``part`` of ``name``, if it renders.

    Returns the problems that stopped it (nothing is stored then), or an empty list. Saving
    the default text itself removes the edit, so later improvements to the default apply.
    """
    source = source.replace("\r\n", "\n")
    problems = validate(name, part, source)
    if problems:
        return problems
    if source.strip() == default_source(name, part).strip():
        reset(db, therapist_id, name, part)
        return []
    row = db.scalar(
        select(EmailTemplateOverride).where(
            EmailTemplateOverride.therapist_id == therapist_id,
            EmailTemplateOverride.name == name,
            EmailTemplateOverride.part == part,
        )
    )
    if row is None:
        db.add(
            EmailTemplateOverride(
                therapist_id=therapist_id, name=name, part=part, source=source, updated_at=now
            )
        )
    else:
        row.source = source
        row.updated_at = now
    db.flush()
    return []


def reset(db: DbSession, therapist_id: int, name: str, part: str | None = None) -> None:
    """Go back to the default for one part of ``name``, or for all of it."""
    query = delete(EmailTemplateOverride).where(
        EmailTemplateOverride.therapist_id == therapist_id, EmailTemplateOverride.name == name
    )
    if part is not None:
        query = query.where(EmailTemplateOverride.part == part)
    db.execute(query)


def render_for(
    db: DbSession, therapist_id: int, name: str, context: Mapping[str, Any]
) -> RenderedEmail:
    """Render ``name`` as this therapist has it (their edits, or the defaults)."""
    return render(name, context, load_overrides(db, therapist_id, name))


#: Messages that became part of another; their edits are kept for the therapist to copy from.
RETIRED = {
    "first_checkin": ("checkin", "First check-in"),
    "repeat_checkin": ("checkin", "Check-in with the cancellation policy"),
}
_PART_WORDS = {"subject": "subject", "text": "text"}


def earlier_wording(db: DbSession, therapist_id: int, name: str) -> list[tuple[str, str]]:
    """The therapist's edits of the messages that became ``name``: (what it was, its text)."""
    retired = [old for old, (new, _title) in RETIRED.items() if new == name]
    if not retired:
        return []
    rows = db.scalars(
        select(EmailTemplateOverride)
        .where(
            EmailTemplateOverride.therapist_id == therapist_id,
            EmailTemplateOverride.name.in_(retired),
            EmailTemplateOverride.part.in_(tuple(_PART_WORDS)),
        )
        .order_by(EmailTemplateOverride.name, EmailTemplateOverride.part)
    )
    return [(f"{RETIRED[row.name][1]}: {_PART_WORDS[row.part]}", row.source) for row in rows]


def forget_earlier_wording(db: DbSession, therapist_id: int, name: str) -> None:
    """Drop the kept edits of the messages that became ``name``."""
    retired = [old for old, (new, _title) in RETIRED.items() if new == name]
    db.execute(
        delete(EmailTemplateOverride).where(
            EmailTemplateOverride.therapist_id == therapist_id,
            EmailTemplateOverride.name.in_(retired),
        )
    )
