"""Logging that keeps personal data out.

The service's own log lines never carry names, addresses, titles or tokens by construction.
Werkzeug's request log is another matter: it prints whole request lines, whose query strings
carry OAuth codes, whose paths carry the tokens of patient and mark links (``/p/<token>``,
``/m/<token>``), and whose paths may carry addresses. This filter trims them.
"""

from __future__ import annotations

import logging
import re

_QUERY = re.compile(r"\?[^\s\"]*")
_ADDRESS = re.compile(r"[^\s/\"?&=]+@[^\s/\"?&=]+")
# A link's token is the path segment after /p/ or /m/ (and anything after it).
_LINK_TOKEN = re.compile(r"(/[pm]/)[^\s\"?]+")


def redact(text: str) -> str:
    """``text`` without query strings, link tokens, or anything shaped like an email address."""
    text = _LINK_TOKEN.sub(r"\1<redacted>", _QUERY.sub("?<redacted>", text))
    return _ADDRESS.sub("<redacted>", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install(level: str) -> None:
    logging.getLogger("calendar_sync").setLevel(level)
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactingFilter) for f in werkzeug.filters):
        werkzeug.addFilter(RedactingFilter())
