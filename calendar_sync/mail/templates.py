"""Rendering the emails: one folder per message under ``templates/email/<name>/``.

Each message is a subject (``subject.txt``) and one text (``body.txt``), written in plain
words with ``{fields}`` and ``[if …]`` parts (:mod:`calendar_sync.mail.wording`). The HTML
part is made from the text (:mod:`calendar_sync.mail.html`), so the two always agree. A
therapist may replace the subject or the text with their own; default or edited, each renders
in a Jinja sandbox (:mod:`calendar_sync.mail.limits`), so it can read the values it is given
and nothing else of the program, and cannot work longer or write more than
:data:`SEND_LIMITS` allow. Edits are checked by :func:`validate` when saved, so a broken or
costly text is refused then, in plain words and with its line, not at send time.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SecurityError

from ..resources import TEMPLATES
from .html import text_to_html
from .limits import LimitedEnvironment, LimitExceeded, Limits, metered, render_limited
from .samples import MESSAGES, PATIENT_MESSAGES, check_contexts, checkin_sample
from .wording import FILTERS, WORDS, EmptyField, WordingError, to_jinja

log = logging.getLogger(__name__)

TEMPLATE_ROOT = TEMPLATES / "email"
FILES = {"subject": "subject.txt", "text": "body.txt"}

# Long enough for any honest subject; mail clients cut far shorter ones anyway.
SUBJECT_MAX = 150
# Generous for a letter; an edited template producing more is a mistake (or a loop).
BODY_MAX = 100_000
# An edited text longer than this is not a letter.
SOURCE_MAX = 20_000

#: What rendering one message may spend when it is sent (all its parts together).
SEND_LIMITS = Limits(seconds=1.0, output_chars=BODY_MAX)
#: What checking an edit may spend, over every sample it is rendered with.
CHECK_LIMITS = Limits(seconds=2.0, output_chars=BODY_MAX)

# What a template can raise when filled in, besides running out of its limits.
_RENDER_ERRORS = (TemplateError, SecurityError, TypeError, ValueError, ArithmeticError)

#: Words that never appear in what a patient receives (checked in subjects on save, and in
#: whole default messages by the tests). Matched as word starts, case-insensitively.
CLINICAL_WORDS = (
    "therap",
    "psychother",
    "psychiatr",
    "psycholog",
    "counsel",
    "clinic",
    "treatment",
    "diagnos",
    "session",
    "symptom",
    "mental health",
    "disorder",
    "medication",
    "missed appointment fee",
    "no-show",
)
_CLINICAL = re.compile(r"\b(" + "|".join(re.escape(w) for w in CLINICAL_WORDS) + ")", re.I)


class UnknownMessage(KeyError):
    """No email template has this name."""


@dataclass(frozen=True)
class RenderedEmail:
    """A message as it will be sent: one-line subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def _environment() -> LimitedEnvironment:
    environment = LimitedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,  # the text is plain; the HTML part escapes it (mail.html)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    environment.filters.update(FILTERS)
    return environment


_ENV = _environment()


def default_source(name: str, part: str) -> str:
    """The shipped text of one part (``subject`` or ``text``) of a message.

    :raises UnknownMessage: if ``name`` or ``part`` is not a known message or part.
    """
    if name not in MESSAGES or part not in FILES:
        raise UnknownMessage(f"{name}/{part}")
    return (TEMPLATE_ROOT / name / FILES[part]).read_text(encoding="utf-8")


def _compile(name: str, source: str) -> Template:
    return _ENV.from_string(to_jinja(name, source))


@cache
def _default_template(name: str, part: str) -> Template:
    return _compile(name, default_source(name, part))


def is_clinical(text: str) -> bool:
    """Whether ``text`` holds a word that must not reach a patient."""
    return _CLINICAL.search(text) is not None


def _finish(part: str, output: str) -> str:
    if part == "subject":
        # One line whatever the template does: a newline in a header would start a new one.
        subject = " ".join(output.split())
        return subject if len(subject) <= SUBJECT_MAX else subject[: SUBJECT_MAX - 1] + "…"
    # Forgive a template's spare blank lines: never more than one in a row.
    return re.sub(r"\n[ \t]*(\n[ \t]*)+\n", "\n\n", output).strip() + "\n"


def _render_part(name: str, part: str, context: Mapping[str, Any], source: str | None) -> str:
    if source is not None:
        try:
            return _finish(part, render_limited(_compile(name, source), context))
        except (*_RENDER_ERRORS, EmptyField, LimitExceeded, RecursionError) as exc:
            # Checked when saved, so this means the context changed since: the default is
            # better than no message. The template's text is the therapist's: not logged.
            log.warning("edited %s/%s failed (%s); default used", name, part, type(exc).__name__)
    with metered(SEND_LIMITS):
        # The default gets a budget of its own, whatever the edit spent.
        return _finish(part, render_limited(_default_template(name, part), context))


def render(
    name: str, context: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> RenderedEmail:
    """Render message ``name`` with ``context``; ``overrides`` maps a part to edited text.

    :raises UnknownMessage: for a name that is not a message.
    :raises jinja2.TemplateError: if ``context`` lacks a value a default part uses.
    """
    if name not in MESSAGES:
        raise UnknownMessage(name)
    overrides = overrides or {}
    with metered(SEND_LIMITS):
        subject = _render_part(name, "subject", context, overrides.get("subject"))
        text = _render_part(name, "text", context, overrides.get("text"))
    return RenderedEmail(
        subject=subject, text=text, html=text_to_html(text, letter=name in PATIENT_MESSAGES)
    )


def _template_line(exc: BaseException) -> int | None:
    """The line of the therapist's text an error came from (Jinja keeps it in the traceback)."""
    lines = [
        f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"
    ]
    return lines[-1] if lines else None


def _at(line: int | None, text: str) -> str:
    return f"Line {line}: {text}" if line else text


def _render_problem(name: str, exc: BaseException) -> str:
    """Why a text could not be filled in, in plain words, with its line when known."""
    line = _template_line(exc)
    if isinstance(exc, EmptyField):
        field = WORDS[name].field(exc.field)
        where = f" Write it between {field.needs} and [end]." if field and field.needs else ""
        return _at(line, f"{{{exc.field}}} has no value in some of these emails.{where}")
    if isinstance(exc, LimitExceeded):
        return _at(line, f"This asks for too much work. {exc}")
    if isinstance(exc, RecursionError):
        return "This calls itself without end."
    if isinstance(exc, SecurityError):
        return _at(line, "This reaches for something an email cannot use.")
    if isinstance(exc, UndefinedError):
        return _at(line, f"Something written in template code has no value here ({exc}).")
    return _at(line, f"This cannot be filled in ({exc}).")


def validate(name: str, part: str, source: str) -> list[str]:
    """Why ``source`` cannot be saved as ``part`` of message ``name`` (empty when it can).

    The text is filled in with every sample the message can meet (for the check-in: every
    combination of ticked parts, outcome, fee and new time), within :data:`CHECK_LIMITS`.
    The answers are in plain words for the editor, with the line they concern.
    """
    if name not in MESSAGES or part not in FILES:
        return [f"There is no message part called {name}/{part}."]
    if len(source) > SOURCE_MAX:
        return [f"The text is longer than {SOURCE_MAX:,} characters."]
    try:
        template = _compile(name, source)
    except WordingError as exc:
        return [str(exc)]
    except TemplateSyntaxError as exc:
        reason = str(exc.message or exc).rstrip(".")
        return [_at(exc.lineno, f"This, written in template code, cannot be read: {reason}.")]
    except RecursionError:
        return ["The text is nested too deeply to be read."]
    except _RENDER_ERRORS as exc:
        return [f"The text cannot be read ({exc})."]
    problems: list[str] = []
    with metered(CHECK_LIMITS):
        for context in check_contexts(name):
            try:
                output = render_limited(template, context)
            except (*_RENDER_ERRORS, EmptyField, LimitExceeded, RecursionError) as exc:
                return [_render_problem(name, exc)]
            problems += _check_output(name, part, output)
        if name == "checkin" and part == "text" and not problems:
            problems += _unmoved_parts(template)
    return sorted(set(problems))


#: The parts of the check-in a therapist ticks, and what ticking each one promises.
_TICKED_PARTS = {
    "checkin": ("check-in", "the check-in"),
    "new_time": ("new time", "the offer of a new time"),
    "policy": ("cancellation policy", "the cancellation-policy reminder"),
    "barriers": ("what got in the way", "the question about what got in the way"),
}


def _unmoved_parts(template: Template) -> list[str]:
    """The ticked parts the text does not follow: ticking them would change nothing."""
    everything = render_limited(template, checkin_sample())
    problems = []
    for key, (part, words) in _TICKED_PARTS.items():
        ticked = {other: other != key for other in _TICKED_PARTS}
        without = checkin_sample(
            checkin=ticked["checkin"],
            new_time=ticked["new_time"],
            policy=ticked["policy"],
            barriers=ticked["barriers"],
        )
        if render_limited(template, without) == everything:
            problems.append(
                f"Nothing in the text depends on [if {part}], so ticking {words} in Settings "
                f"would change nothing. Keep its words between [if {part}] and [end]."
            )
    return problems


def _check_output(name: str, part: str, output: str) -> list[str]:
    problems = []
    if part == "subject":
        subject = " ".join(output.split())
        if not subject:
            problems.append("The subject is empty.")
        if len(subject) > SUBJECT_MAX:
            problems.append(f"The subject is longer than {SUBJECT_MAX} characters.")
        if name in PATIENT_MESSAGES and is_clinical(subject):
            problems.append(
                "The subject mentions a clinical word; subjects to patients say "
                '"our appointment" instead (others may see the inbox).'
            )
    elif not output.strip():
        problems.append("The message is empty.")
    if len(output) > BODY_MAX:
        problems.append("The message is far too long.")
    return problems
