"""The words therapists write emails in: ``{first name}`` fields and ``[if …]`` parts.

Each email is one text in plain words. A field in braces is filled in (``{first name}``,
``{appointment}``); text between ``[if check-in]`` and ``[end]`` goes out only in the emails
where that holds, with ``[otherwise]`` for the other case. :func:`to_jinja` turns the text into
a Jinja template for :mod:`calendar_sync.mail.limits`, keeping every line where it was, so an
error points at the line the therapist wrote. Jinja's own ``{{ patient.first_name }}`` and
``{% if %}`` still work, so texts written before the plain words keep working.

Which fields and parts each email has is :data:`WORDS`; a field that is only given in some
emails names where it belongs (``needs``), and is refused, at save, wherever it would be empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Undefined


@dataclass(frozen=True)
class Field:
    """A value the therapist can write in braces; ``expression`` reads it from the context."""

    name: str
    expression: str
    meaning: str
    needs: str = ""  # where it has a value, e.g. "[if time found]"; empty: always
    block: bool = False  # several lines (a list), written on a line of its own


@dataclass(frozen=True)
class Part:
    """A condition for ``[if …]``, and when it holds, in the therapist's words."""

    name: str
    expression: str
    meaning: str


@dataclass(frozen=True)
class Words:
    fields: tuple[Field, ...]
    parts: tuple[Part, ...] = ()

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == _key(name)), None)

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == _key(name)), None)


class WordingError(ValueError):
    """A text that cannot be read; ``str()`` says why in plain words, with its line."""

    def __init__(self, line: int | None, text: str) -> None:
        self.line = line
        self.text = text
        super().__init__(f"Line {line}: {text}" if line else text)


def _key(name: str) -> str:
    return " ".join(name.lower().split())


_FIRST_NAME = Field("first name", "patient.first_name", "the patient's first name")
_YOUR_NAME = Field("your name", "therapist.name", "your name as you sign (Settings)")
_PRACTICE = Field("practice", "therapist.practice", "your practice's name (may be empty)")
_APPOINTMENT = Field(
    "appointment", "session.when", 'the appointment, in words ("Tuesday 10 March at 10:00")'
)
_CHOOSE = Field(
    "choose a time link",
    "choose_time_url",
    "link to a page where the patient picks a time",
    needs="[if new time]",
)
_GET_IN_TOUCH = Field("get in touch link", "get_in_touch_url", "link that asks you to get in touch")
_DASHBOARD = Field("dashboard link", "dashboard_url", "link to your dashboard")
_MISSES = Field("misses", "misses_in_window", "how many misses in the counting window")
_DAYS = Field("days", "window_days", "the counting window, in days")
_HISTORY = Field(
    "recent sessions",
    "history|_history_lines",
    "the patient's recent sessions and what happened, one a line",
    block=True,
)

#: The fields and parts of every email, in the order the editor offers them.
WORDS: dict[str, Words] = {
    "checkin": Words(
        fields=(
            _FIRST_NAME,
            _APPOINTMENT,
            Field(
                "new time",
                "proposal.when",
                "the new time, already in their calendar",
                needs="[if time found]",
            ),
            _CHOOSE,
            _GET_IN_TOUCH,
            Field(
                "notice",
                "policy.notice",
                'your notice window ("24 hours")',
                needs="[if cancellation policy]",
            ),
            Field(
                "fee",
                "policy.fee",
                "the fee for what happened (the no-show or the late-cancel fee)",
                needs="[if no-show fee] or [if late-cancel fee]",
            ),
            Field(
                "question link",
                "survey_url",
                "link to the short question about what got in the way",
                needs="[if what got in the way]",
            ),
            _YOUR_NAME,
            _PRACTICE,
        ),
        parts=(
            Part("check-in", "ticked.checkin", "you ticked the check-in for this miss"),
            Part("new time", "ticked.new_time", "you ticked the offer of a new time"),
            Part(
                "time found",
                "proposal",
                "a new time was found and is in their calendar (inside [if new time])",
            ),
            Part(
                "cancellation policy",
                "ticked.policy",
                "you ticked the cancellation-policy reminder",
            ),
            Part(
                "no-show fee",
                'policy and policy.fee and outcome == "no_show"',
                "with the policy reminder, after a no-show, when a no-show fee applies",
            ),
            Part(
                "late-cancel fee",
                'policy and policy.fee and outcome == "late_cancel"',
                "with the policy reminder, after a late cancel, when a late-cancel fee applies",
            ),
            Part(
                "what got in the way",
                "ticked.barriers",
                "you ticked the question about what got in the way",
            ),
            Part("no-show", 'outcome == "no_show"', "the patient did not come"),
            Part("late cancel", 'outcome == "late_cancel"', "the patient cancelled late"),
        ),
    ),
    "reschedule_note": Words(
        fields=(
            _FIRST_NAME,
            Field(
                "appointment",
                "session.when",
                "the appointment being replaced",
                needs="[if appointment known]",
            ),
            Field("new time", "proposal.when", "the new time, already in their calendar"),
            Field("choose a time link", "choose_time_url", "link to pick another time"),
            _GET_IN_TOUCH,
            _YOUR_NAME,
            _PRACTICE,
        ),
        parts=(
            Part("late cancel", 'reason == "late_cancel"', "the patient cancelled late"),
            Part("declined", 'reason == "declined"', "the patient declined a time offered"),
            Part("no reason", "not reason", "neither of those"),
            Part("appointment known", "session", "the appointment being replaced is known"),
        ),
    ),
    "unmarked_reminder": Words(
        fields=(
            Field(
                "sessions to mark",
                "sessions|_sessions_to_mark",
                "each session waiting for your mark, with one link per outcome",
                block=True,
            ),
            Field(
                "how many",
                "sessions|_how_many_sessions",
                'how many sessions wait ("1 session", "3 sessions")',
            ),
            _DASHBOARD,
            _YOUR_NAME,
            _PRACTICE,
        ),
        parts=(Part("one session", "sessions|length == 1", "exactly one session waits"),),
    ),
    "pattern_alert": Words(
        fields=(
            _FIRST_NAME,
            _MISSES,
            _DAYS,
            _HISTORY,
            Field(
                "their answers",
                "survey_answers|_answer_lines",
                "what the patient said gets in the way, one answer a line",
                needs="[if answers]",
                block=True,
            ),
            _DASHBOARD,
            _YOUR_NAME,
            _PRACTICE,
        ),
        parts=(Part("answers", "survey_answers", "the patient answered the question"),),
    ),
    "termination_draft": Words(
        fields=(_FIRST_NAME, _MISSES, _DAYS, _HISTORY, _DASHBOARD, _YOUR_NAME, _PRACTICE),
    ),
}

# A field: a word in single braces (Jinja's own {{ }} and {% %} are left alone).
_FIELD = re.compile(r"(?<!\{)\{([A-Za-z][A-Za-z' \-]*)\}(?!\})")
_TAG = re.compile(r"\[\s*(if\s+[^\[\]\n]*?|otherwise|end)\s*\]", re.IGNORECASE)


def _line_of(source: str, position: int) -> int:
    return source.count("\n", 0, position) + 1


def to_jinja(name: str, source: str) -> str:
    """The Jinja template for ``source``, a text of email ``name``, line for line.

    :raises WordingError: on an unknown field or part, or an ``[if …]`` without ``[end]``.
    """
    words = WORDS[name]
    # A line holding only [if …] / [otherwise] / [end] disappears; a tag inside a line of
    # words keeps the line as written (Jinja's "+" turns its whitespace trimming off).
    lines = source.split("\n")
    alone = {
        number
        for number, text in enumerate(lines, start=1)
        if _TAG.search(text) and not _TAG.sub("", text).strip()
    }
    tokens = sorted(
        [(m.start(), m.end(), "field", m.group(1)) for m in _FIELD.finditer(source)]
        + [(m.start(), m.end(), "tag", m.group(1)) for m in _TAG.finditer(source)]
    )
    out: list[str] = []
    open_ifs: list[tuple[int, bool]] = []  # (line, has [otherwise])
    done = 0
    for start, end, kind, text in tokens:
        line = _line_of(source, start)
        out.append(source[done:start])
        done = end
        if kind == "field":
            field = words.field(text)
            if field is None:
                raise WordingError(
                    line, f"{{{text}}} is not a field of this email. {fields_in_words(words)}"
                )
            if field.block:
                out.append("{{ " + field.expression + " }}")
            else:
                out.append("{{ " + field.expression + f" | _field({field.name!r}) }}}}")
            continue
        tag = _key(text)
        if tag.startswith("if "):
            part = words.part(tag[3:])
            if part is None:
                raise WordingError(
                    line, f"[{tag}] is not a part of this email. {parts_in_words(words)}"
                )
            open_ifs.append((line, False))
            statement = "if " + part.expression
        elif tag == "otherwise":
            if not open_ifs or open_ifs[-1][1]:
                raise WordingError(line, "[otherwise] needs an [if …] before it, and only one.")
            open_ifs[-1] = (open_ifs[-1][0], True)
            statement = "else"
        else:
            if not open_ifs:
                raise WordingError(line, "[end] has no [if …] before it.")
            open_ifs.pop()
            statement = "endif"
        out.append(f"{{% {statement} %}}" if line in alone else f"{{%+ {statement} +%}}")
    out.append(source[done:])
    if open_ifs:
        line, _ = open_ifs[-1]
        raise WordingError(line, "this [if …] has no [end] after it.")
    return "".join(out)


def fields_in_words(words: Words) -> str:
    if not words.fields:
        return "This email has no fields."
    return "Its fields are " + ", ".join("{" + f.name + "}" for f in words.fields) + "."


def parts_in_words(words: Words) -> str:
    if not words.parts:
        return "This email has no parts that come and go."
    return "Its parts are " + ", ".join("[if " + p.name + "]" for p in words.parts) + "."


class EmptyField(Exception):
    """A field was written where it has no value (outside its ``[if …]``)."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(field)


def _field(value: Any, name: str) -> Any:
    if value is None or isinstance(value, Undefined):
        raise EmptyField(name)
    return value


def _history_lines(history: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"- {h['when']}: {h['outcome']}" for h in history]
    return "\n".join(lines) or "- none recorded"


def _answer_lines(answers: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(f"- {a['when']}: {a['answer']}" for a in answers)


_MARK_WORDS = (
    ("attended", "Attended"),
    ("no_show", "No-show"),
    ("late_cancel", "Late cancel"),
    ("cancelled", "Cancelled"),
)


def _sessions_to_mark(sessions: Sequence[Mapping[str, Any]]) -> str:
    blocks = []
    for s in sessions:
        lines = [f"{s['label']}, {s['when']}"]
        lines += [f"{words}: {s['mark_urls'][key]}" for key, words in _MARK_WORDS]
        if s.get("followup_starts"):
            lines.append(
                "If left unmarked, it counts as missed and the follow-up starts "
                f"{s['followup_starts']}."
            )
        else:
            lines.append("Nothing goes to the patient until you mark it.")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _how_many_sessions(sessions: Sequence[Any]) -> str:
    return "1 session" if len(sessions) == 1 else f"{len(sessions)} sessions"


#: The filters :func:`to_jinja`'s templates use; the environment registers them.
FILTERS = {
    "_field": _field,
    "_history_lines": _history_lines,
    "_answer_lines": _answer_lines,
    "_sessions_to_mark": _sessions_to_mark,
    "_how_many_sessions": _how_many_sessions,
}
