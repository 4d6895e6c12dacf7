"""Therapists connected to the Google sandbox without the browser flow."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    OPENID,
    Grant,
)
from calendar_sync.storage.models import Therapist

SCOPES = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY]


def connect_therapist(
    env: Any,
    email: str,
    now: datetime,
    *,
    time_zone: str = "Europe/London",
    scopes: list[str] | None = None,
) -> int:
    """Create the sandbox account and a connected therapist; returns the therapist id."""
    granted = scopes or SCOPES
    env.sandbox.add_account(email, None, time_zone)
    secrets = json.loads(Path(env.app.config["GOOGLE_CLIENT_SECRETS"]).read_text())
    tokens = env.sandbox.issue_tokens(email, granted, secrets["web"]["client_id"])
    with env.app.extensions["database"].transaction() as session:
        therapist = Therapist(
            google_subject="sub-" + email,
            email=email,
            display_name="",
            time_zone=time_zone,
            created_at=now,
        )
        session.add(therapist)
        session.flush()
        grant = Grant(
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_at=now + timedelta(seconds=int(tokens["expires_in"])),
            scopes=frozenset(granted),
        )
        env.app.extensions["connections"].save_grant(session, therapist.id, grant, now)
        return int(therapist.id)


@pytest.fixture
def connect(sandboxed_app: Any) -> Callable[..., int]:
    def _connect(email: str, now: datetime, **kwargs: Any) -> int:
        return connect_therapist(sandboxed_app, email, now, **kwargs)

    return _connect


class Sleeps(list[float]):
    """Records the waits the retry policy asks for, instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
