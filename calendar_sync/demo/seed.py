"""Play the demo practice's last three months through the sandbox and the service's own code.

The therapist's sessions go into the sandbox calendar through its control API, as if they
had always been in Google Calendar; the therapist colours and tags sessions, and patients
answer invitations, each at the moment it happens on the sandbox clock. The connection is
made with tokens the sandbox issues and the service's own ``ConnectionKeeper.save_grant``,
three months ago; then ``run_cycle`` runs at past instants so that sync, decisions, emails
and proposals happen for real and in order, and once more at ``now``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..domain.money import Money
from ..domain.policy import Policy
from ..domain.sessions import SessionRules
from ..google.oauth import MEET_READ, SCOPES, Grant, fetch_profile
from ..services.accounts.connections import ConnectionKeeper
from ..services.accounts.settings import (
    PracticeProfile,
    TherapistSettings,
    save_settings,
    switch_follow_ups_on,
)
from ..services.cycle import run_cycle
from ..services.patients.directory import add_patient
from ..services.runtime import Runtime
from ..storage import Database
from ..storage.models import RescheduleProposal, Therapist
from . import practice
from .practice import SESSION_LENGTH, ZONE, DemoPatient, Happening, Series

TOMATO, GRAPHITE, BASIL = "11", "8", "10"
# The therapist marks a session a little after it ends, and the service runs a while later.
MARKED_AFTER = timedelta(minutes=15)


class SandboxControl:
    """The sandbox's control API (``/_sandbox/``), JSON over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/") + "/_sandbox/"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the sandbox on loopback, ours
            self.base_url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - as above
            return json.load(response)

    def set_clock(self, when: datetime) -> None:
        self.call("POST", "clock", {"now": when.astimezone(UTC).isoformat()})


@dataclass
class SeedReport:
    """What the seed made: the therapist, each patient's series, and the cycles it ran."""

    therapist_id: int
    connected_at: datetime
    series_ids: dict[str, str] = field(default_factory=dict)
    cycles: int = 0


def _instance_id(series_id: str, start: datetime) -> str:
    return f"{series_id}_{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _event_body(series: Series) -> dict[str, Any]:
    patient = series.patient
    interval = f";INTERVAL={patient.every_weeks}" if patient.every_weeks > 1 else ""
    local = series.first_start.astimezone(ZONE)
    body: dict[str, Any] = {
        "summary": patient.title,
        "location": f"{practice.PRACTICE_NAME}, room 2",
        "start": {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": ZONE.key},
        "end": {
            "dateTime": (local + SESSION_LENGTH).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": ZONE.key,
        },
        "recurrence": [f"RRULE:FREQ=WEEKLY{interval};COUNT={series.count}"],
    }
    if patient.email:
        body["attendees"] = [{"email": patient.email}]
    return body


class Story:
    """The happenings in time order; each sets the sandbox clock to its moment first."""

    def __init__(self, runtime: Runtime, control: SandboxControl, now: datetime) -> None:
        self.runtime = runtime
        self.control = control
        self.now = now
        self._queue: list[tuple[datetime, int, Callable[[datetime], None]]] = []
        self._order = itertools.count()
        self.cycles = 0
        self.connected: datetime | None = None

    def at(self, when: datetime, action: Callable[[datetime], None]) -> None:
        if when <= self.now:
            heapq.heappush(self._queue, (when.astimezone(UTC), next(self._order), action))

    def cycle_at(self, when: datetime) -> None:
        self.at(when, self._cycle)

    def _cycle(self, when: datetime) -> None:
        if self.connected is not None and when > self.connected:
            run_cycle(self.runtime, now=when, dry_run=False)
            self.cycles += 1

    def play(self) -> None:
        while self._queue:
            when, _, action = heapq.heappop(self._queue)
            self.control.set_clock(when)
            action(when)


def seed_practice(runtime: Runtime, sandbox_url: str, now: datetime) -> SeedReport:
    """Create the practice in the sandbox and the service, and play its story up to ``now``.

    The runtime's app must point at the sandbox (``GOOGLE_API_ROOT``, client secrets it issued) and
    have an empty database. Push notifications are left off while the past is replayed
    (nothing is listening yet) and restored afterwards.
    """
    control = SandboxControl(sandbox_url)
    all_series = practice.plan(now)
    connected = practice.connected_at(now)
    control.set_clock(min(s.first_start for s in all_series) - timedelta(days=2))
    control.call(
        "POST",
        "accounts",
        {
            "email": practice.THERAPIST_EMAIL,
            "name": practice.THERAPIST_NAME,
            "time_zone": ZONE.key,
        },
    )
    series_ids = {}
    meet_codes = {}
    for series in all_series:
        event = control.call(
            "POST",
            f"calendar/{practice.THERAPIST_EMAIL}/events?sendUpdates=all",
            _event_body(series),
        )
        series_ids[series.patient.name] = str(event["id"])
        if series.patient.video:
            path = f"calendar/{practice.THERAPIST_EMAIL}/events/{event['id']}/meet"
            meet_codes[series.patient.name] = str(control.call("POST", path, {})["meetingCode"])

    story = Story(runtime, control, now)
    report = SeedReport(therapist_id=0, connected_at=connected, series_ids=series_ids)

    def connect(when: datetime) -> None:
        report.therapist_id = _connect(runtime, control, when)
        story.connected = when

    story.at(connected, connect)
    story.cycle_at(connected + timedelta(minutes=5))
    week = timedelta(days=7)
    for number in range(1, (now - connected) // week + 1):
        story.cycle_at(connected + week * number)
    for series in all_series:
        _tell(story, series, series_ids[series.patient.name])
        if series.patient.video:
            _calls(story, series, meet_codes[series.patient.name])

    push = runtime.config.get("PUSH_NOTIFICATIONS", "auto")
    runtime.config["PUSH_NOTIFICATIONS"] = "off"
    try:
        story.play()
        control.set_clock(now)
        story.cycle_at(now)
        story.play()
    finally:
        runtime.config["PUSH_NOTIFICATIONS"] = push
    report.cycles = story.cycles
    return report


def _tell(story: Story, series: Series, series_id: str) -> None:
    """Queue what happens to each past session of ``series``."""
    patient = series.patient
    calendar = f"calendar/{practice.THERAPIST_EMAIL}/events"
    for back, start in enumerate(series.past_starts(story.now)):
        event_path = f"{calendar}/{_instance_id(series_id, start)}"
        end = start + SESSION_LENGTH
        happening = patient.story.get(back)

        def patch(body: dict[str, Any], path: str = event_path) -> Callable[[datetime], None]:
            return lambda _when: story.control.call("PATCH", path, body)

        def answer(response: str, path: str = event_path) -> Callable[[datetime], None]:
            body = {"email": patient.email, "response": response}
            return lambda _when: story.control.call("POST", f"{path}/respond", body)

        if happening is None:
            story.at(end + MARKED_AFTER, patch({"colorId": BASIL}))
            continue
        if happening in (Happening.UNMARKED, Happening.VIDEO_JOINED):
            continue
        if happening is Happening.VIDEO_ALONE:
            # Followed up from the call, at the cycle after it; the email goes after the hold.
            story.cycle_at(end + practice.RELEASED_AFTER)
            continue
        if happening is Happening.NO_SHOW_COLOUR:
            story.at(end + MARKED_AFTER, patch({"colorId": TOMATO}))
        elif happening is Happening.NO_SHOW_TAG:
            story.at(end + MARKED_AFTER, patch({"summary": f"{patient.title} [no-show]"}))
        elif happening is Happening.LATE_CANCEL_DECLINE:
            story.at(start - timedelta(hours=3), answer("declined"))
        elif happening is Happening.LATE_CANCEL_COLOUR:
            story.at(start - timedelta(hours=2), patch({"colorId": GRAPHITE}))
        elif happening is Happening.CANCEL_IN_TIME:
            story.at(start - timedelta(days=3), answer("declined"))
            continue
        story.cycle_at(end + practice.CYCLE_AFTER)
        story.cycle_at(end + practice.RELEASED_AFTER)
        if patient.accepts_offer:
            story.at(end + timedelta(days=1), _accept_offer(story, patient))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _calls(story: Story, series: Series, code: str) -> None:
    """The Meet call of each past video session, published a few minutes after it ended.

    Attended sessions had the patient there throughout (one of them by phone); the story's
    latest session is either unmarked with the patient in the call, or only the therapist
    joined. The service reads the latest few at a cycle half an hour after each.
    """
    minute = timedelta(minutes=1)
    for back, start in enumerate(series.past_starts(story.now)):
        end = start + SESSION_LENGTH
        happening = series.patient.story.get(back)
        people = [
            {
                "kind": "signedin",
                "email": practice.THERAPIST_EMAIL,
                "stays": [[_stamp(start - 2 * minute), _stamp(end + minute)]],
            }
        ]
        if happening is not Happening.VIDEO_ALONE:
            people.append(
                {
                    "kind": "phone" if back == 2 else "anonymous",
                    "name": "+44 20 **** **45" if back == 2 else series.patient.name,
                    "stays": [[_stamp(start + 2 * minute), _stamp(end - minute)]],
                }
            )
        story.control.call(
            "POST",
            "meet/conferences",
            {
                "meetingCode": code,
                "start": _stamp(start - 2 * minute),
                "end": _stamp(end + minute),
                "publishAt": _stamp(end + 6 * minute),
                "participants": people,
            },
        )
        if back < practice.VIDEO_READ:
            story.cycle_at(end + timedelta(minutes=30))


def _accept_offer(story: Story, patient: DemoPatient) -> Callable[[datetime], None]:
    """The patient accepts the time offered after their miss; it is marked once it is over."""

    def accept(when: datetime) -> None:
        database: Database = story.runtime.database
        with database.transaction() as db:
            offer = db.scalar(
                select(RescheduleProposal)
                .where(
                    RescheduleProposal.patient_email == patient.email,
                    RescheduleProposal.state == "proposed",
                )
                .order_by(RescheduleProposal.id.desc())
            )
            if offer is None or offer.slot_end is None:
                return
            path = f"calendar/{offer.calendar_id}/events/{offer.event_id}"
            slot_end = offer.slot_end
        story.control.call(
            "POST", f"{path}/respond", {"email": patient.email, "response": "accepted"}
        )
        story.cycle_at(when + timedelta(hours=1))
        story.at(
            slot_end + MARKED_AFTER,
            lambda _when: story.control.call("PATCH", path, {"colorId": BASIL}),
        )

    return accept


def _connect(runtime: Runtime, control: SandboxControl, when: datetime) -> int:
    """Connect the therapist as the sign-in callback would, with tokens the sandbox issues."""
    keeper: ConnectionKeeper = runtime.connections
    tokens = control.call(
        "POST",
        "tokens",
        {
            "email": practice.THERAPIST_EMAIL,
            # The demo therapist turned Meet evidence on and granted its scope.
            "scopes": [*SCOPES, MEET_READ],
            "client_id": keeper.client.client_id,
        },
    )
    grant = Grant(
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        expires_at=when + timedelta(seconds=int(tokens["expires_in"])),
        scopes=frozenset(tokens["scope"].split()),
    )
    account = fetch_profile(grant.access_token, keeper.api_root)
    database: Database = runtime.database
    with database.transaction() as db:
        therapist = Therapist(
            google_subject=account.subject,
            email=account.email,
            display_name=account.name or practice.THERAPIST_NAME,
            time_zone=ZONE.key,
            created_at=when,
        )
        db.add(therapist)
        db.flush()
        keeper.save_grant(db, therapist.id, grant, when)
        settings = TherapistSettings(
            Policy(
                meet_evidence=True,
                no_show_fee=Money(6000, "GBP"),
                late_cancel_fee=Money(4000, "GBP"),
                sessions=SessionRules(title_pattern=practice.TITLE_PATTERN),
            ),
            PracticeProfile(
                practice_name=practice.PRACTICE_NAME,
                signature=practice.THERAPIST_NAME,
                contact_phone=practice.PRACTICE_PHONE,
            ),
        )
        save_settings(db, therapist.id, settings, when)
        # The demo therapist went through the first-run checklist when they connected.
        switch_follow_ups_on(db, therapist.id, when)
        for patient in practice.PATIENTS:
            row = add_patient(
                db,
                therapist.id,
                patient.name,
                patient.email,
                when,
                do_not_email=patient.do_not_email,
            )
            row.fee_exempt = bool(patient.fee_exempt_reason)
            row.fee_exempt_reason = patient.fee_exempt_reason
        return int(therapist.id)
