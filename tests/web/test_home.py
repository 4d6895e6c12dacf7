from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient


def test_home_page_carries_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    # served over plain HTTP in tests: no HSTS
    assert "Strict-Transport-Security" not in response.headers


def test_health_check(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


@pytest.mark.browser
def test_home_page_loads_in_chromium(page: Any, live_app: str) -> None:
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(live_app + "/")
    assert page.locator("h1").inner_text() == "A kind follow-up after every missed session"
    # the stylesheet is the app's own and was applied
    color = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert color == "rgb(251, 250, 247)"
    assert failed == []
