"""The therapist's email templates: read, preview with sample values, edit, reset.

A preview renders on the server with the sample context; the HTML part is shown in a
sandboxed ``<iframe srcdoc>`` (no scripts, no access to this page). Save refuses a template
that does not render, saying why; nothing broken is ever stored.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..mail import template_store
from ..mail.samples import MESSAGES, PARTS, PATIENT_MESSAGES, SAMPLE_CONTEXTS, VARIABLES
from ..mail.templates import RenderedEmail, render, validate
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
LABELS = {"subject": "Subject", "text": "Plain text", "html": "HTML"}

# The preview shows the email's own inline styles; scripts stay forbidden everywhere.
PREVIEW_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


def _known(name: str) -> str:
    if name not in MESSAGES:
        abort(404)
    return name


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
    name: str,
    sources: dict[str, str],
    *,
    problems: dict[str, list[str]] | None = None,
    preview: RenderedEmail | None = None,
    edited: bool = False,
    status: int = 200,
) -> Response:
    body = render_template(
        "templates_editor/edit.html",
        name=name,
        title=TITLES[name],
        to_patient=name in PATIENT_MESSAGES,
        sources=sources,
        labels=LABELS,
        parts=PARTS,
        variables=VARIABLES[name],
        problems=problems or {},
        preview=preview,
        edited=edited,
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
        edited = bool(template_store.load_overrides(db, therapist.id, name))
    preview = render(name, SAMPLE_CONTEXTS[name], sources)
    return _page(name, sources, preview=preview, edited=edited)


@bp.post("/<name>")
@login_required
def submit(name: str) -> Response:
    therapist = require_therapist()
    _known(name)
    sources = {part: request.form.get(part, "").replace("\r\n", "\n") for part in PARTS}
    problems = {part: found for part in PARTS if (found := validate(name, part, sources[part]))}
    if problems:
        flash("This template cannot be used yet: see the notes below. Nothing was saved.", "error")
        return _page(name, sources, problems=problems, status=400)
    if request.form.get("action") == "save":
        now = current_time()
        with database().transaction() as db:
            for part in PARTS:
                template_store.save(db, therapist.id, name, part, sources[part], now)
        flash(f"Saved. “{TITLES[name]}” now goes out as shown below.", "info")
        return redirect(url_for("templates_editor.edit", name=name))
    preview = render(name, SAMPLE_CONTEXTS[name], sources)
    return _page(name, sources, preview=preview)


@bp.post("/<name>/reset")
@login_required
def reset(name: str) -> Response:
    therapist = require_therapist()
    _known(name)
    with database().transaction() as db:
        template_store.reset(db, therapist.id, name)
    flash(f"“{TITLES[name]}” is back to the default text.", "info")
    return redirect(url_for("templates_editor.edit", name=name))
