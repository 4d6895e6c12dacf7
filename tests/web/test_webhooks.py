"""The push webhook: refused without work on a bad token, quick and collapsing otherwise."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from calendar_sync.google.oauth import CALENDAR_EVENTS, CALENDAR_LIST, EMAIL, OPENID, Grant
from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.sync import event_sync as sync_module
from calendar_sync.services.sync.channels import WEBHOOK_PATH, hash_token
from calendar_sync.services.sync.event_sync import sync_all
from calendar_sync.storage.models import CalendarRow, PushChannel, Therapist

THERAPIST = "dr.mensah@example.test"
SECRET = "channel-secret-for-tests"
CHANNEL = "cs-1-webhooktest"


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    """A connected therapist whose primary calendar holds a channel with a known token."""
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    now = datetime.now(UTC)
    app.config["PUSH_NOTIFICATIONS"] = "off"
    scopes = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS]
    sandbox.add_account(THERAPIST, None, "Europe/London")
    client_id = json.loads(Path(app.config["GOOGLE_CLIENT_SECRETS"]).read_text())["web"]
    tokens = sandbox.issue_tokens(THERAPIST, scopes, client_id["client_id"])
    database = runtime_of(app).database
    with database.transaction() as db:
        therapist = Therapist(
            google_subject="sub-webhook", email=THERAPIST, time_zone="UTC", created_at=now
        )
        db.add(therapist)
        db.flush()
        grant = Grant(
            tokens["access_token"],
            tokens["refresh_token"],
            now + timedelta(minutes=50),
            frozenset(scopes),
        )
        runtime_of(app).connections.save_grant(db, therapist.id, grant, now)
    sync_all(runtime_of(app), now=now)
    with database.transaction() as db:
        calendar = db.scalars(select(CalendarRow)).one()
        calendar.channel_id = CHANNEL
        calendar.channel_token_hash = hash_token(SECRET)
        calendar.channel_resource_id = "resource-1"
        calendar.channel_expires_at = now + timedelta(days=7)
    sandbox.control("DELETE", "calls")
    return sandboxed_app


def notify(
    client: FlaskClient,
    *,
    channel: str = CHANNEL,
    token: str | None = SECRET,
    state: str = "exists",
) -> int:
    headers = {
        "X-Goog-Channel-ID": channel,
        "X-Goog-Resource-ID": "resource-1",
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": "2",
    }
    if token is not None:
        headers["X-Goog-Channel-Token"] = token
    return client.post(WEBHOOK_PATH, headers=headers).status_code


def google_calls(env: Any) -> dict[str, int]:
    calls: dict[str, int] = env.sandbox.control("GET", "calls")["calls"]
    return calls


def requested(env: Any) -> datetime | None:
    with runtime_of(env.app).database.transaction() as db:
        return db.scalars(select(CalendarRow.sync_requested_at)).one()


@pytest.mark.parametrize("token", ["not-the-secret", "", None])
def test_a_wrong_or_missing_token_is_refused_without_work(env: Any, token: str | None) -> None:
    client = env.app.test_client()

    assert notify(client, token=token) == 403

    assert runtime_of(env.app).sync_queue.drain(5)
    assert google_calls(env) == {}
    assert requested(env) is None


def test_an_unknown_channel_is_not_found(env: Any) -> None:
    assert notify(env.app.test_client(), channel="cs-9-unknown") == 404
    assert notify(env.app.test_client(), channel="") == 404
    assert google_calls(env) == {}


def test_a_sync_message_is_only_acknowledged(env: Any) -> None:
    assert notify(env.app.test_client(), state="sync") == 200

    assert runtime_of(env.app).sync_queue.drain(5)
    assert google_calls(env) == {}
    assert requested(env) is None


def test_a_change_is_synced_and_a_burst_collapses(env: Any) -> None:
    client = env.app.test_client()
    with runtime_of(env.app).database.transaction() as db:
        calendar_id = db.scalars(select(CalendarRow.id)).one()

    # The first notification's sync is held running while the other nineteen arrive.
    with sync_module._lock_for(calendar_id):
        answers = [notify(client) for _ in range(20)]

    assert answers == [200] * 20
    assert runtime_of(env.app).sync_queue.drain(10)
    assert 1 <= google_calls(env).get("calendar.events.list", 0) <= 2
    assert requested(env) is None


def test_an_old_channel_of_ours_is_stopped_with_the_resource_id_google_sent(env: Any) -> None:
    now = datetime.now(UTC)
    with runtime_of(env.app).database.transaction() as db:
        calendar = db.scalars(select(CalendarRow)).one()
        db.add(
            PushChannel(
                id="cs-1-older",
                calendar_row_id=calendar.id,
                token_hash=hash_token("older-secret"),
                resource_id="resource-0",
                expires_at=now + timedelta(days=1),
                created_at=now - timedelta(days=6),
            )
        )

    assert notify(env.app.test_client(), channel="cs-1-older", token="wrong") == 403
    assert google_calls(env) == {}
    assert notify(env.app.test_client(), channel="cs-1-older", token="older-secret") == 200
    assert runtime_of(env.app).sync_queue.drain(10)

    # The sandbox never opened that channel, so Google's answer is 404, and we record it.
    assert google_calls(env) == {"calendar.channels.stop": 1}
    with runtime_of(env.app).database.transaction() as db:
        record = db.get(PushChannel, "cs-1-older")
        assert record is not None and record.stopped_at is not None
