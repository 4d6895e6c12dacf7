from __future__ import annotations

import logging

import pytest

from calendar_sync.logs import RedactingFilter, redact


def test_request_lines_lose_query_strings_and_addresses() -> None:
    line = '"GET /oauth2/callback?state=abc&code=4/0secret HTTP/1.1" 302 -'
    assert redact(line) == '"GET /oauth2/callback?<redacted> HTTP/1.1" 302 -'
    assert "ana@example.test" not in redact("/patients/ana@example.test/history")


def test_request_lines_lose_the_tokens_of_links() -> None:
    for path in ("/p/ImFiYyI.Zx1.sig", "/m/Ik1rIg.Zx2.sig", "/p/ImFiYyI.Zx1.sig/answer"):
        line = f'"POST {path} HTTP/1.1" 200 -'
        assert redact(line) == f'"POST {path[:3]}<redacted> HTTP/1.1" 200 -'
    # other paths keep their words
    assert redact('"GET /patients/7 HTTP/1.1"') == '"GET /patients/7 HTTP/1.1"'


def test_werkzeug_log_records_are_redacted(app: object, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("werkzeug")
    assert any(isinstance(f, RedactingFilter) for f in logger.filters)
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info("%s - - [%s] %s", "127.0.0.1", "now", '"GET /x?code=4/0secret HTTP/1.1" 200 -')
    assert "4/0secret" not in caplog.text
    assert "?<redacted>" in caplog.text
