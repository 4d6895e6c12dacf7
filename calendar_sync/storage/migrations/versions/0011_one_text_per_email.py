"""One text per email: edited HTML parts become text or go, Jinja values become plain fields.

Each email is now a subject and one text; its HTML part is made from the text. For every
edited message:

- an edited HTML part goes; when the message had no edited text, the HTML is turned into
  text first (paragraphs, line breaks, lists, a link's words followed by its address), so
  what the therapist wrote is kept;
- in the subject and the text, a plain value written ``{{ patient.first_name }}`` becomes
  the field ``{first name}``, which means the same; any other template code is left as it
  is (it still works).

The edits of the two check-ins that became one (``first_checkin``, ``repeat_checkin``) are
kept under their names, converted the same way; the editor shows them beside the new
check-in to copy from. The schema does not change. Downgrading keeps the texts as they are:
the HTML parts are not restored.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from typing import Any

import sqlalchemy as sa
from alembic import op

from calendar_sync.storage.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The values each message's fields read, as they were on the day of this migration (a
# migration keeps its own copy: the application's may change later).
_COMMON = {
    "patient.first_name": "first name",
    "therapist.name": "your name",
    "therapist.practice": "practice",
}
_LETTER = {
    **_COMMON,
    "session.when": "appointment",
    "proposal.when": "new time",
    "choose_time_url": "choose a time link",
    "get_in_touch_url": "get in touch link",
}
_FOR_THERAPIST = {
    **_COMMON,
    "misses_in_window": "misses",
    "window_days": "days",
    "dashboard_url": "dashboard link",
}
FIELDS: dict[str, dict[str, str]] = {
    "first_checkin": _LETTER,
    "repeat_checkin": {
        **_LETTER,
        "policy.notice": "notice",
        "policy.fee": "fee",
        "survey_url": "question link",
    },
    "reschedule_note": _LETTER,
    "unmarked_reminder": {
        "therapist.name": "your name",
        "therapist.practice": "practice",
        "dashboard_url": "dashboard link",
    },
    "pattern_alert": _FOR_THERAPIST,
    "termination_draft": _FOR_THERAPIST,
}

_VALUE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "blockquote", "ul", "ol", "table", "tr"}


def plain_fields(name: str, source: str) -> str:
    """``source`` with each ``{{ value }}`` that is a field written as ``{field}``."""
    fields = FIELDS.get(name, {})

    def field(match: re.Match[str]) -> str:
        found = fields.get(match.group(1))
        return "{" + found + "}" if found else match.group(0)

    return _VALUE.sub(field, source)


class _Text(HTMLParser):
    """HTML as the text it shows: blocks as paragraphs, links as their words and address."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.depth = 0
        self.href: str | None = None
        self.skip = 0

    def _close(self) -> None:
        lines = [line.strip() for line in "".join(self.current).split("\n")]
        block = "\n".join(line for line in lines if line)
        if block:
            self.blocks.append(block)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "title"):
            self.skip += 1
        elif tag in _BLOCKS:
            self._close()
            self.depth += 1
        elif tag == "br":
            self.current.append("\n")
        elif tag == "li":
            self.current.append("\n- ")
        elif tag == "a":
            self.href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self.skip -= 1
        elif tag in _BLOCKS:
            self._close()
            self.depth = max(self.depth - 1, 0)
        elif tag == "li":
            self.current.append("\n")
        elif tag == "a" and self.href:
            self.current.append(f" ({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.depth:
            self.current.append(re.sub(r"\s+", " ", data))
            return
        # Outside any block (template code such as {% if %}): each line as it stands.
        for line in data.split("\n"):
            if line.strip():
                self._close()
                self.blocks.append(line.strip())

    def text(self) -> str:
        self._close()
        return "\n\n".join(_keep_line_ends(block) for block in self.blocks) + "\n"


def _keep_line_ends(block: str) -> str:
    """A block tag ending a line of words would swallow its line break: keep it (``+%}``)."""
    lines = []
    for line in block.split("\n"):
        if re.sub(r"\{%.*?%\}", "", line).strip():
            line = re.sub(r"(?<![-+])%\}$", "+%}", line)
        lines.append(line)
    return "\n".join(lines)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.text()


def upgrade() -> None:
    table = sa.table(
        "email_templates",
        sa.column("id", sa.Integer()),
        sa.column("therapist_id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("part", sa.String()),
        sa.column("source", sa.Text()),
        sa.column("updated_at", UTCDateTime()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            table.c.id,
            table.c.therapist_id,
            table.c.name,
            table.c.part,
            table.c.source,
            table.c.updated_at,
        )
    ).all()
    messages: dict[tuple[int, str], dict[str, Any]] = defaultdict(dict)
    for row in rows:
        messages[(row.therapist_id, row.name)][row.part] = row
    for (therapist_id, name), parts in messages.items():
        html = parts.get("html")
        if html is not None:
            if "text" not in parts:
                bind.execute(
                    table.insert().values(
                        therapist_id=therapist_id,
                        name=name,
                        part="text",
                        source=plain_fields(name, html_to_text(html.source)),
                        updated_at=html.updated_at,
                    )
                )
            bind.execute(table.delete().where(table.c.id == html.id))
        for part in ("subject", "text"):
            edited = parts.get(part)
            if edited is not None and plain_fields(name, edited.source) != edited.source:
                bind.execute(
                    table.update()
                    .where(table.c.id == edited.id)
                    .values(source=plain_fields(name, edited.source))
                )


def downgrade() -> None:
    # The texts still render with the older code's Jinja only where they hold no {field};
    # nothing here can bring back an HTML part, so the data is left as it is.
    pass
