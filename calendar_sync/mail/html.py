"""The HTML part of an email, made from its text: one text to write, two parts that agree.

Most mail apps show the HTML part, so it must say exactly what the text says. Everything is
escaped; a blank line starts a paragraph, a line break stays a line break, lines starting with
"- " become a list, and web addresses become links. The look is the practice's: a letter
for patients, a plain note for the therapist.
"""

from __future__ import annotations

import re
from html import escape

# An address ends before spaces, quotes and angle brackets, and before punctuation that
# closes a sentence.
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")

LETTER_STYLE = (
    "font-family: Georgia, serif; font-size: 16px; line-height: 1.5; color: #222; max-width: 36em;"
)
NOTE_STYLE = (
    "font-family: system-ui, sans-serif; font-size: 15px; line-height: 1.5; color: #222; "
    "max-width: 40em;"
)


def _inline(line: str) -> str:
    """One line, escaped, with its web addresses as links."""
    out, done = [], 0
    for match in _URL.finditer(line):
        out.append(escape(line[done : match.start()]))
        url = escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        done = match.end()
    out.append(escape(line[done:]))
    return "".join(out)


def _paragraph(block: str) -> str:
    lines = block.split("\n")
    if all(line.startswith("- ") for line in lines):
        items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
        return f"<ul>{items}</ul>"
    return "<p>" + "<br>\n".join(_inline(line) for line in lines) + "</p>"


def text_to_html(text: str, *, letter: bool) -> str:
    """The HTML part for ``text``: a letter's look for patients, a note's for the therapist."""
    blocks = [block.strip("\n") for block in re.split(r"\n[ \t]*\n", text.strip())]
    body = "\n".join(_paragraph(block) for block in blocks if block.strip())
    style = LETTER_STYLE if letter else NOTE_STYLE
    return f'<!doctype html>\n<html lang="en">\n<body style="{style}">\n{body}\n</body>\n</html>\n'
