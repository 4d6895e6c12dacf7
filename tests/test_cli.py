from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, update

from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.crypto import TokenCipher
from calendar_sync.storage.database import head_revision
from calendar_sync.storage.models import GoogleConnection


def test_db_upgrade_reports_the_head_revision(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output


def test_tick_dry_run_at_a_given_instant(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["tick", "--dry-run", "--now", "2026-11-28T09:00:00+01:00"])
    assert result.exit_code == 0, result.output
    assert "dry run at 2026-11-28T09:00:00+01:00" in result.output


def test_tick_refuses_a_naive_instant(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["tick", "--now", "2026-11-28T09:00:00"])
    assert result.exit_code != 0
    assert "time zone" in result.output


def test_home_page_served(app: Flask) -> None:
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert b"Connect" in response.data or b"follow-up" in response.data
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


THERAPIST = "dr.rivera@example.test"


def stored_tokens(app: Flask) -> tuple[str, str]:
    with runtime_of(app).database.transaction() as db:
        row = db.scalars(select(GoogleConnection)).one()
        assert row.refresh_token_encrypted and row.access_token_encrypted
        return row.refresh_token_encrypted, row.access_token_encrypted


def test_keys_rotate_lets_the_old_key_be_retired(
    sandboxed_app: Any, connect: Callable[..., int]
) -> None:
    app = sandboxed_app.app
    runtime = runtime_of(app)
    now = datetime.now(UTC)
    therapist_id = connect(THERAPIST, now)
    old = app.config["TOKEN_ENCRYPTION_KEYS"][0]
    plain = [TokenCipher([old]).decrypt(sealed) for sealed in stored_tokens(app)]
    # The operator puts a new key first and restarts the service.
    new = Fernet.generate_key().decode()
    app.config["TOKEN_ENCRYPTION_KEYS"] = [new, old]
    runtime.connections.cipher = TokenCipher([new, old])

    result = app.test_cli_runner().invoke(args=["keys", "rotate"])

    assert result.exit_code == 0, result.output
    assert "1 connection(s) re-encrypted" in result.output
    assert "other 1 key(s) can now be removed" in result.output
    for sealed, token in zip(stored_tokens(app), plain, strict=True):
        with pytest.raises(InvalidToken):
            TokenCipher([old]).decrypt(sealed)
        assert TokenCipher([new]).decrypt(sealed) == token
    # With the old key removed, the connection still works against Google.
    runtime.connections.cipher = TokenCipher([new])
    apis = runtime.connections.apis(therapist_id, now)
    assert apis.oauth2.userinfo().get().execute()["email"] == THERAPIST


def test_keys_rotate_reports_tokens_no_key_opens(
    sandboxed_app: Any, connect: Callable[..., int]
) -> None:
    app = sandboxed_app.app
    connect(THERAPIST, datetime.now(UTC))
    lost = TokenCipher([Fernet.generate_key().decode()]).encrypt("a token under a lost key")
    with runtime_of(app).database.transaction() as db:
        db.execute(update(GoogleConnection).values(refresh_token_encrypted=lost))
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert "could not be opened with any configured key" in result.output
    assert stored_tokens(app)[0] == lost  # left as it was
