"""Logging that keeps secrets and personal data out, whoever logs and whoever writes.

The service's own log lines never carry names, addresses, titles or tokens by construction.
Other code is another matter: request logs print whole request lines (query strings carry
OAuth codes, ``/p/<token>`` and ``/m/<token>`` paths carry the links sent in emails); at
DEBUG, the OAuth libraries print token requests and answers (refresh token, access token,
client secret) and SQLAlchemy prints rows; a database error quotes the values of the key it
refused. :func:`redact` removes all of these shapes.

It runs when a record is made (:func:`install` sets the log record factory), not in one
logger's filter: a filter on a logger does not see records its children propagate, and a
filter on a handler misses the handlers added later by gunicorn, App Engine or a test.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "<redacted>"

_QUERY = re.compile(r"\?[^\s\"']*")
_ADDRESS = re.compile(r"[^\s/\"'?&=<>(),;:\[\]{}]+(?:@|%40)[^\s/\"'?&=<>(),;:\[\]{}]+")
# The links sent to patients (/p/<token>) and therapists (/m/<token>).
_LINK = re.compile(r"(/[pm]/)[^\s/?\"'#]+")
# key=value, "key": "value", 'key': 'value' for the names of secrets.
_SECRET_FIELD = re.compile(
    r"(?i)(?<![\w-])([\"']?)(access_token|refresh_token|id_token|client_secret|code_verifier"
    r"|code|token|assertion|password|secret)\1(\s*[:=]\s*)([\"']?)[^\s\"'&,;}]+"
)
_AUTHORIZATION = re.compile(r"(?i)\b(bearer|basic)\s+[\w\-.~+/=]+")
# Shapes of Google's tokens and secrets, wherever they stand: access tokens, refresh
# tokens, OAuth client secrets, JWTs (ID tokens).
_TOKEN_SHAPES = re.compile(r"ya29\.[\w\-.]+|1//[\w\-]+|GOCSPX-[\w\-]+|eyJ[\w-]+\.[\w-]+\.[\w-]*")
# Postgres quotes the refused values: DETAIL:  Key (email)=(sam@...) already exists.
_KEY_DETAIL = re.compile(r"(Key \([^)]*\)=\()[^\n]*?(\)\s(?:already exists|is not present))")


def redact(text: str) -> str:
    """``text`` without secrets, link tokens, query strings or email addresses."""
    text = _QUERY.sub("?" + REDACTED, text)
    text = _LINK.sub(r"\1" + REDACTED, text)
    text = _SECRET_FIELD.sub(r"\1\2\1\3\4" + REDACTED, text)
    text = _AUTHORIZATION.sub(r"\1 " + REDACTED, text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    text = _KEY_DETAIL.sub(r"\1" + REDACTED + r"\2", text)
    return _ADDRESS.sub(REDACTED, text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Replace the record's message (and any traceback) by its redacted text."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging itself reports it when the record is written
        return record
    record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # Formatters use exc_text when it is set, so the traceback is written redacted.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """:func:`redact_record` as a filter, for a handler that must not rely on the factory."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class _RedactingFactory:
    """Wraps the log record factory in place when installed; every record is redacted."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(self.inner(*args, **kwargs))


def install_redaction() -> None:
    """Redact every log record of this process when it is made (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))


def install(level: str) -> None:
    install_redaction()
    logging.getLogger("calendar_sync").setLevel(level)
    # At DEBUG SQLAlchemy logs every row read (names, addresses, titles); never wanted.
    engine = logging.getLogger("sqlalchemy.engine")
    if engine.level == logging.NOTSET:
        engine.setLevel(logging.WARNING)
