"""The development mailbox: with ``MAIL_BACKEND=dev`` messages are kept, and read here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import select

from ..storage.models import DevMail
from .auth import login_required, require_therapist
from .dashboard import therapist_zone
from .extensions import database

bp = Blueprint("mailbox", __name__)


@dataclass(frozen=True)
class KeptMessage:
    to: str
    subject: str
    text: str
    kept_at: datetime


def _text_of(raw: str) -> str:
    message = BytesParser(policy=policy.default).parsebytes(raw.encode())
    assert isinstance(message, EmailMessage)  # policy.default always builds these
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


@bp.get("/mailbox")
@login_required
def index() -> str:
    if current_app.config.get("MAIL_BACKEND") != "dev":
        abort(404)
    therapist = require_therapist()
    with database().transaction() as db:
        rows = db.scalars(
            select(DevMail)
            .where(DevMail.therapist_id == therapist.id)
            .order_by(DevMail.created_at.desc(), DevMail.id.desc())
            .limit(200)
        ).all()
    kept = [KeptMessage(r.recipient, r.subject, _text_of(r.raw), r.created_at) for r in rows]
    return render_template("mailbox/index.html", messages=kept, zone=therapist_zone(therapist))
