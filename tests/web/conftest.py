"""A practice on the Google sandbox for the dashboard's tests: therapists, sessions, cycles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.services.accounts.sign_ins import open_sign_in
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.runtime import runtime_of

SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]
CSRF = "token-for-tests"


def signed_in_session(app: Any, therapist_id: int, now: datetime | None = None) -> dict[str, str]:
    """What a signed-in browser's session holds: a sign-in recorded by the app, the form token."""
    runtime = runtime_of(app)
    with runtime.database.transaction() as db:
        secret = open_sign_in(db, therapist_id, now or runtime.now())
    return {"sign_in": secret, "csrf": CSRF}


@dataclass
class Practice:
    """The sandboxed app, with what a test needs to set a practice up and sign in."""

    env: Any
    connect: Callable[..., int]
    now: datetime

    @property
    def url(self) -> str:
        return str(self.env.url)

    @property
    def app(self) -> Any:
        return self.env.app

    def therapist(self, email: str, connected_at: datetime | None = None) -> int:
        when = connected_at or self.now - timedelta(days=10)
        self.env.sandbox.control("POST", "clock", {"now": when.isoformat()})
        therapist_id = self.connect(email, when, scopes=SCOPES, with_calendars=True)
        self.env.sandbox.control("POST", "clock", {"now": self.now.isoformat()})
        return therapist_id

    def session(
        self, therapist: str, patient: str, start: datetime, *, color: str | None = "11"
    ) -> None:
        """A 50-minute session with ``patient`` invited; colour 11 (Tomato) marks a no-show."""
        body: dict[str, Any] = {
            "summary": "Sam R",
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(minutes=50)).isoformat(), "timeZone": "UTC"},
            "attendees": [{"email": patient}],
        }
        if color:
            body["colorId"] = color
        self.env.sandbox.control("POST", f"calendar/{therapist}/events", body)

    def tick(self, now: datetime | None = None) -> list[str]:
        when = now or self.now
        self.env.sandbox.control("POST", "clock", {"now": when.isoformat()})
        return list(run_cycle(runtime_of(self.app), now=when, dry_run=False).lines())

    def after_hold(self, extra: timedelta = timedelta(0)) -> list[str]:
        """A cycle once the hold before anything reaches a patient is over (``extra`` later);
        the pages' clock moves there too."""
        later = self.now + DEFAULT_PATIENT_HOLD + extra
        self.pin(later)
        return self.tick(later)

    def pin(self, when: datetime) -> None:
        """Set the clock the pages read."""
        runtime_of(self.app).clock = lambda: when

    def mail(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.env.sandbox.control("GET", "mail")["messages"]
        return found

    def cookie(self, therapist_id: int) -> str:
        """A session cookie for the therapist, made by the app's own signer."""
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        return str(serializer.dumps(signed_in_session(self.app, therapist_id)))

    def browser(self, therapist_id: int) -> requests.Session:
        signed_in = requests.Session()
        # Same domain and path as the app's own Set-Cookie, so its answers replace this one.
        signed_in.cookies.set(
            self.app.config.get("SESSION_COOKIE_NAME", "session"),
            self.cookie(therapist_id),
            domain="127.0.0.1",
            path="/",
        )
        return signed_in


# The practice's clock: the pages, the cycle and the sandbox all read this instant, so the
# tests mean the same whenever they run.
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def practice(sandboxed_app: Any, connect: Callable[..., int]) -> Practice:
    """A practice whose pages and cycles see ``NOW`` (the runtime's clock is pinned)."""
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    runtime_of(sandboxed_app.app).clock = lambda: NOW
    return Practice(sandboxed_app, connect, NOW)
