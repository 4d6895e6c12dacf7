"""The patient's pages, reached from a link in an email: ``/p/<token>``.

Patients have no dashboard sign-in (browser session), so the signed, single-use token is the form's
protection: the POST must carry the same token, which is used up by the answer. Pages show
only what the patient needs (the date and time, the practitioner's name), never anything
clinical; a tampered link gets a 400 page, an expired or used one a friendly word.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request

from ..domain.slots import Slot
from ..domain.times import format_local
from ..google import GoogleApiError, ReauthorizationNeeded
from ..services import notices
from ..services.accounts.settings import load_settings, therapist_zone
from ..services.patients import links
from ..services.proposals.workflow import choose_time, times_to_choose
from ..storage.models import PatientLink, Therapist
from . import csrf
from .extensions import current_time, database, runtime

log = logging.getLogger(__name__)

bp = Blueprint("patient", __name__, url_prefix="/p")

_STATUS_PAGES = {
    links.LinkStatus.TAMPERED: ("invalid", 400),
    links.LinkStatus.EXPIRED: ("expired", 410),
    links.LinkStatus.USED: ("used", 200),
    links.LinkStatus.WITHDRAWN: ("withdrawn", 410),
}


def _details(link: PatientLink) -> dict[str, object]:
    """What every page about ``link`` shows: who, which practice, and on which clock.

    ``start`` is the appointment the link is about; pages write times with the ``words``
    filter on ``zone``'s clock and name the zone once.
    """
    with database().transaction() as db:
        therapist = db.get_one(Therapist, link.therapist_id)
        start = links.session_start(db, link.therapist_id, link.calendar_id, link.event_id)
        name = therapist.display_name or therapist.email
        practice = load_settings(db, link.therapist_id).practice.practice_name
        zone = therapist_zone(db, therapist)
    return {"name": name, "practice": practice or name, "zone": zone, "start": start}


def _message(
    kind: str, status: int = 200, context: dict[str, object] | None = None
) -> tuple[str, int]:
    return render_template("patient/message.html", kind=kind, **(context or {})), status


def _refused(check: links.LinkCheck) -> tuple[str, int]:
    kind, status = _STATUS_PAGES[check.status]
    return _message(kind, status, _details(check.link) if check.link is not None else None)


def _check(token: str) -> links.LinkCheck:
    with database().transaction() as db:
        return links.check_token(db, token, current_time(), runtime().config)


def _times(link: PatientLink) -> list[Slot] | None:
    try:
        return times_to_choose(
            runtime(),
            link.therapist_id,
            link.calendar_id,
            link.event_id,
            current_time(),
        )
    except (GoogleApiError, ReauthorizationNeeded) as exc:
        log.warning("patient page: times unavailable: %s", type(exc).__name__)
        return None


@bp.get("/<token>")
def show(token: str) -> tuple[str, int] | str:
    check = _check(token)
    if check.status is not links.LinkStatus.VALID or check.link is None:
        return _refused(check)
    return _form(token, check.link)


def _form(token: str, link: PatientLink, problem: str | None = None) -> tuple[str, int] | str:
    details = _details(link)
    if link.purpose == links.CHOOSE_TIME:
        times = _times(link)
        if times is None:
            return _message("unavailable", 503, details)
        # Best first is how they were found; a person scans a list of times by date.
        choices = sorted(times, key=lambda slot: slot.start)
        return render_template(
            "patient/choose_time.html", token=token, choices=choices, problem=problem, **details
        )
    if link.purpose == links.BARRIER_SURVEY:
        return render_template(
            "patient/barrier_survey.html", token=token, barriers=links.BARRIERS, **details
        )
    return render_template("patient/will_get_in_touch.html", token=token, **details)


@bp.post("/<token>")
@csrf.exempt  # the single-use signed token in the URL is this form's protection
def answer(token: str) -> tuple[str, int] | str:
    check = _check(token)
    if check.status is not links.LinkStatus.VALID or check.link is None:
        return _refused(check)
    link = check.link
    now = current_time()
    details = _details(link)
    start, zone = details["start"], details["zone"]
    assert isinstance(zone, ZoneInfo)
    when = format_local(start, zone) if isinstance(start, datetime) else "your recent appointment"
    if link.purpose == links.CHOOSE_TIME and request.form.get("none_suit"):
        with database().transaction() as db:
            if not links.claim(db, link.id, now, answer=links.NONE_SUIT):
                return _message("used", 200, details)
            notices.notify(
                db,
                link.therapist_id,
                notices.PATIENT_NONE_SUIT,
                f"For the session of {when}, none of the times offered suit the patient; "
                "they ask you to get in touch with them.",
                now,
                about=(link.calendar_id, link.event_id),
            )
        return _message("contact_asked", 200, details)
    if link.purpose == links.CHOOSE_TIME:
        return _choose(token, link, now, details)
    with database().transaction() as db:
        if not links.claim(db, link.id, now):
            return _message("used", 200, details)
        if link.purpose == links.BARRIER_SURVEY:
            links.record_barriers(
                db, link, request.form.getlist("reason"), request.form.get("other", ""), now
            )
            notices.notify(
                db,
                link.therapist_id,
                notices.PATIENT_ANSWERED_SURVEY,
                f"The patient of the session of {when} told you what got in the way; "
                "their answer is with the follow-up.",
                now,
                about=(link.calendar_id, link.event_id),
            )
        else:
            notices.notify(
                db,
                link.therapist_id,
                notices.PATIENT_ASKS_FOR_CONTACT,
                f"The patient of the session of {when} asks you to get in touch with them.",
                now,
                about=(link.calendar_id, link.event_id),
            )
            return _message("contact_asked", 200, details)
    return _message("thanks", 200, details)


def _choose(
    token: str, link: PatientLink, now: datetime, details: dict[str, object]
) -> tuple[str, int] | str:
    times = _times(link) or []
    picked = next((s for s in times if s.start.isoformat() == request.form.get("start")), None)
    if picked is None:
        return _form(token, link, problem="Please pick one of the times below.")
    with database().transaction() as db:
        if not links.claim(db, link.id, now):
            return _message("used", 200, details)
    try:
        done = choose_time(
            runtime(), link.therapist_id, link.calendar_id, link.event_id, picked, now
        )
    except (GoogleApiError, ReauthorizationNeeded) as exc:
        log.warning("patient page: could not move the invitation: %s", type(exc).__name__)
        done = False
    if not done:
        with database().transaction() as db:
            links.release(db, link.id)
        return _form(token, link, problem="Sorry, that time has just gone. Please pick another.")
    return _message("chosen", 200, {**details, "chosen": picked.start})
