"""Patients: the list with their figures, one patient's history, settings and fees."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from ..domain.addresses import InvalidAddress, plain_address
from ..services.followup.fees import fees_csv, ledger_for, waive
from ..services.pages.patients import summaries
from ..services.patients.directory import save_patient
from ..services.patients.links import answers_for
from ..storage.models import Patient
from .auth import login_required, require_therapist
from .charts import attendance_svg
from .dashboard import therapist_zone
from .extensions import current_time, database

bp = Blueprint("patients", __name__, url_prefix="/patients")


@bp.get("/")
@login_required
def index() -> str:
    therapist = require_therapist()
    now = current_time()
    with database().transaction() as db:
        found = summaries(db, therapist.id, now)
    return render_template("patients/index.html", patients=found)


@bp.post("/")
@login_required
def add() -> BaseResponse:
    therapist = require_therapist()
    name = (request.form.get("name") or "").strip()
    email = (request.form.get("email") or "").strip().lower() or None
    if not name and not email:
        flash("Give a name (as you write it in titles) or an email address.", "error")
        return redirect(url_for("patients.index"))
    try:
        email = plain_address(email) if email else None
    except InvalidAddress as exc:
        flash(f"Not added: {exc}.", "error")
        return redirect(url_for("patients.index"))
    with database().transaction() as db:
        save_patient(
            db,
            therapist.id,
            Patient(created_at=current_time()),
            name=name,
            email=email,
            do_not_email=False,
            fee_exempt=False,
            fee_exempt_reason="",
        )
    flash("Patient added. Sessions whose title names them are matched at the next sync.", "info")
    return redirect(url_for("patients.index"))


def _own(patient_id: int, therapist_id: int) -> None:
    with database().transaction() as db:
        found = db.scalar(
            select(Patient.id).where(Patient.id == patient_id, Patient.therapist_id == therapist_id)
        )
    if found is None:
        abort(404)


@bp.get("/<int:patient_id>")
@login_required
def show(patient_id: int) -> str:
    therapist = require_therapist()
    _own(patient_id, therapist.id)
    now = current_time()
    zone = therapist_zone(therapist)
    with database().transaction() as db:
        summary = next(s for s in summaries(db, therapist.id, now) if s.id == patient_id)
        ledger = ledger_for(db, therapist.id, summary.key)
        refs = {(p.calendar_id, p.event_id) for p in summary.history}
        answers = [a for a in answers_for(db, therapist.id) if (a.calendar_id, a.event_id) in refs]
        from ..services.accounts.settings import load_settings

        window = load_settings(db, therapist.id).policy.rolling_window
    chart = attendance_svg(summary.history, start=now - window, end=now, zone=zone)
    return render_template(
        "patients/show.html",
        patient=summary,
        ledger=ledger,
        answers=answers,
        chart=chart,
        zone=zone,
        window_days=window.days,
    )


@bp.post("/<int:patient_id>")
@login_required
def update(patient_id: int) -> BaseResponse:
    therapist = require_therapist()
    _own(patient_id, therapist.id)
    refused = None
    with database().transaction() as db:
        patient = db.get(Patient, patient_id)
        assert patient is not None  # checked by _own, same therapist
        email = (request.form.get("email") or "").strip().lower() or None
        address = patient.email
        try:
            address = plain_address(email) if email else None
        except InvalidAddress as exc:
            # The other fields are saved; the address on file stays as it was.
            refused = f"The email address was not changed: {exc}."
        save_patient(
            db,
            therapist.id,
            patient,
            name=(request.form.get("name") or "").strip(),
            email=address,
            do_not_email=request.form.get("do_not_email") == "on",
            fee_exempt=request.form.get("fee_exempt") == "on",
            fee_exempt_reason=(request.form.get("fee_exempt_reason") or "").strip(),
        )
    if refused:
        flash(refused, "error")
    else:
        flash("Saved.", "info")
    return redirect(url_for("patients.show", patient_id=patient_id))


@bp.post("/<int:patient_id>/waive")
@login_required
def waive_fee(patient_id: int) -> BaseResponse:
    therapist = require_therapist()
    _own(patient_id, therapist.id)
    from ..services.patients.directory import patient_key

    try:
        with database().transaction() as db:
            waive(
                db,
                therapist.id,
                patient_key(patient_id),
                request.form.get("calendar_id", ""),
                request.form.get("event_id", ""),
                request.form.get("reason", ""),
                current_time(),
            )
    except ValueError as exc:
        flash(f"Not waived: {exc}.", "error")
    else:
        flash("Fee waived.", "info")
    return redirect(url_for("patients.show", patient_id=patient_id))


@bp.get("/fees.csv")
@login_required
def fees_export() -> Response:
    therapist = require_therapist()
    with database().transaction() as db:
        text = fees_csv(db, therapist.id, therapist_zone(therapist))
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="fees.csv"'},
    )
