"""The therapist's emails: read, preview as their patients would, edit in plain words, reset.

Each email is a subject and one text, written with ``{fields}`` and ``[if …]`` parts
(:mod:`calendar_sync.mail.wording`); its HTML part is made from the text, so what the preview
shows is what every mail app shows. Previews are signed by the therapist and addressed to a
sample patient (:mod:`calendar_sync.services.pages.email_previews`); the HTML is shown in a
sandboxed ``<iframe srcdoc>`` (no scripts, no access to this page). Save refuses a text that
does not fill in, saying why in plain words and on which line; nothing broken is stored.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..domain.outcomes import Outcome
from ..mail import template_store
from ..mail.samples import MESSAGES, PARTS, PATIENT_MESSAGES
from ..mail.templates import validate
from ..mail.wording import WORDS
from ..services.pages.email_previews import Preview, previews, sample_for
from ..storage.models import Therapist
from .auth import login_required, require_therapist
from .extensions import current_time, database
from .security import CONTENT_SECURITY_POLICY

bp = Blueprint("templates_editor", __name__, url_prefix="/settings/templates")

TITLES = {
    "checkin": "Check-in after a missed appointment",
    "reschedule_note": "A new time offered",
    "unmarked_reminder": "Reminder to mark sessions",
    "pattern_alert": "Pattern of misses",
    "termination_draft": "Draft about ending the work together",
}
LABELS = {"subject": "Subject", "text": "Message"}
OUTCOMES = {Outcome.NO_SHOW: "after a no-show", Outcome.LATE_CANCEL: "after a late cancel"}

# The preview shows the email's own inline styles; scripts stay forbidden everywhere.
PREVIEW_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


def _known(name: str) -> str:
    if name not in MESSAGES:
        abort(404)
    return name


def _outcome() -> Outcome:
    value = request.values.get("outcome", Outcome.NO_SHOW.value)
    return Outcome.LATE_CANCEL if value == Outcome.LATE_CANCEL.value else Outcome.NO_SHOW


@bp.get("")
@login_required
def index() -> str:
    therapist = require_therapist()
    with database().transaction() as db:
        edited = {
            name: bool(template_store.load_overrides(db, therapist.id, name)) for name in MESSAGES
        }
    return render_template(
        "templates_editor/index.html",
        messages=MESSAGES,
        titles=TITLES,
        edited=edited,
        patient_messages=PATIENT_MESSAGES,
    )


def _page(
    therapist: Therapist,
    name: str,
    sources: dict[str, str],
    *,
    problems: dict[str, list[str]] | None = None,
    status: int = 200,
) -> Response:
    outcome = _outcome()
    with database().transaction() as db:
        edited = bool(template_store.load_overrides(db, therapist.id, name))
        earlier = template_store.earlier_wording(db, therapist.id, name)
        sample = sample_for(db, therapist)
        shown: list[Preview] = []
        if not problems:
            shown = previews(
                db,
                therapist,
                name,
                sources,
                outcome=outcome,
                public_url=current_app.config["PUBLIC_URL"],
            )
    body = render_template(
        "templates_editor/edit.html",
        name=name,
        title=TITLES[name],
        to_patient=name in PATIENT_MESSAGES,
        sources=sources,
        labels=LABELS,
        parts=PARTS,
        words=WORDS[name],
        problems=problems or {},
        previews=shown,
        sample=sample,
        edited=edited,
        earlier=earlier,
        outcomes=OUTCOMES,
        outcome=outcome,
    )
    response = current_app.make_response((body, status))
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    return response


@bp.get("/<name>")
@login_required
def edit(name: str) -> Response:
    therapist = require_therapist()
    _known(name)
    with database().transaction() as db:
        sources = template_store.sources(db, therapist.id, name)
    return _page(therapist, name, sources)


@bp.post("/<name>")
@login_required
def submit(name: str) -> Response:
    therapist = require_therapist()
    _known(name)
    sources = {part: request.form.get(part, "").replace("\r\n", "\n") for part in PARTS}
    problems = {part: found for part in PARTS if (found := validate(name, part, sources[part]))}
    if problems:
        flash("This email cannot be used yet: see the notes below. Nothing was saved.", "error")
        return _page(therapist, name, sources, problems=problems, status=400)
    if request.form.get("action") == "save":
        now = current_time()
        with database().transaction() as db:
            for part in PARTS:
                template_store.save(db, therapist.id, name, part, sources[part], now)
        flash(
            f"Saved. Every “{TITLES[name]}” email now goes out as the preview shows, "
            "in plain text and in HTML alike.",
            "info",
        )
        return redirect(url_for("templates_editor.edit", name=name, outcome=_outcome().value))
    return _page(therapist, name, sources)


@bp.post("/<name>/reset")
@login_required
def reset(name: str) -> Response:
    therapist = require_therapist()
    _known(name)
    with database().transaction() as db:
        template_store.reset(db, therapist.id, name)
    flash(f"“{TITLES[name]}” is back to the default text.", "info")
    return redirect(url_for("templates_editor.edit", name=name))


@bp.post("/<name>/forget-earlier")
@login_required
def forget_earlier(name: str) -> Response:
    therapist = require_therapist()
    _known(name)
    with database().transaction() as db:
        template_store.forget_earlier_wording(db, therapist.id, name)
    flash("Your earlier wording is gone.", "info")
    return redirect(url_for("templates_editor.edit", name=name))
