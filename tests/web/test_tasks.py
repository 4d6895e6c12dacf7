"""App Engine's cron door: only the platform's cron, only where it is switched on."""

from __future__ import annotations

from typing import Any

from flask import Flask


def test_cron_runs_a_cycle_when_switched_on(app: Flask) -> None:
    app.config["APP_ENGINE_CRON"] = True
    answer = app.test_client().get("/tasks/tick", headers={"X-Appengine-Cron": "true"})
    assert answer.status_code == 200
    assert answer.get_json() == {"therapists": 0, "steps": 0}


def test_without_the_cron_header_nothing_runs(app: Flask) -> None:
    app.config["APP_ENGINE_CRON"] = True
    assert app.test_client().get("/tasks/tick").status_code == 404


def test_off_app_engine_the_door_is_closed(app: Flask) -> None:
    headers: dict[str, Any] = {"X-Appengine-Cron": "true"}
    assert app.config["APP_ENGINE_CRON"] is False
    assert app.test_client().get("/tasks/tick", headers=headers).status_code == 404
