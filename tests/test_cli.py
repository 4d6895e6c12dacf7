from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner

from calendar_sync.storage.database import head_revision


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
