"""Rendering the emails: one folder per message under ``templates/email/<name>/``.

Each message has ``subject.txt``, ``body.txt`` and ``body.html`` (sent together as
multipart/alternative). A therapist may replace any part with their own text; every part,
default or edited, renders in a Jinja sandbox (:mod:`calendar_sync.mail.limits`), so a
template can read the values it is given and nothing else of the program, and cannot work
longer or write more than :data:`SEND_LIMITS` allow. Edited parts are checked by
:func:`validate` when saved, so a broken or costly template is refused then, not at send time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SecurityError

from ..resources import TEMPLATES
from .limits import LimitedEnvironment, LimitExceeded, Limits, metered, render_limited
from .samples import MESSAGES, PARTS, PATIENT_MESSAGES, SAMPLE_CONTEXTS, SPARSE_CONTEXTS

log = logging.getLogger(__name__)

TEMPLATE_ROOT = TEMPLATES / "email"
FILES = {"subject": "subject.txt", "text": "body.txt", "html": "body.html"}

# Long enough for any honest subject; mail clients cut far shorter ones anyway.
SUBJECT_MAX = 150
# Generous for a letter; an edited template producing more is a mistake (or a loop).
BODY_MAX = 100_000
# An edited part longer than this is not a letter.
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


def _environment(*, html: bool) -> LimitedEnvironment:
    return LimitedEnvironment(
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_TEXT_ENV = _environment(html=False)
_HTML_ENV = _environment(html=True)


def _env(part: str) -> LimitedEnvironment:
    return _HTML_ENV if part == "html" else _TEXT_ENV


def default_source(name: str, part: str) -> str:
    """The shipped source of one part of a message.

    :raises UnknownMessage: if ``name`` or ``part`` is not a known message or part.
    """
    if name not in MESSAGES or part not in FILES:
        raise UnknownMessage(f"{name}/{part}")
    return (TEMPLATE_ROOT / name / FILES[part]).read_text(encoding="utf-8")


@cache
def _default_template(name: str, part: str) -> Template:
    return _env(part).from_string(default_source(name, part))


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
            template = _env(part).from_string(source)
            return _finish(part, render_limited(template, context))
        except (*_RENDER_ERRORS, LimitExceeded, RecursionError) as exc:
            # Checked when saved, so this means the context changed since: the default is
            # better than no message. The template's text is the therapist's: not logged.
            log.warning("edited %s/%s failed (%s); default used", name, part, type(exc).__name__)
    with metered(SEND_LIMITS):
        # The default gets a budget of its own, whatever the edit spent.
        return _finish(part, render_limited(_default_template(name, part), context))


def render(
    name: str, context: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> RenderedEmail:
    """Render message ``name`` with ``context``; ``overrides`` maps a part to edited source.

    :raises UnknownMessage: for a name that is not a message.
    :raises jinja2.TemplateError: if ``context`` lacks a variable a default part uses.
    """
    if name not in MESSAGES:
        raise UnknownMessage(name)
    overrides = overrides or {}
    with metered(SEND_LIMITS):
        parts = {part: _render_part(name, part, context, overrides.get(part)) for part in PARTS}
    return RenderedEmail(subject=parts["subject"], text=parts["text"], html=parts["html"])


def validate(name: str, part: str, source: str) -> list[str]:
    """Why ``source`` cannot be saved as ``part`` of message ``name`` (empty when it can).

    The source is rendered against the sample context and its sparse variant, with unknown
    variables as errors; the messages are in plain words for the editor page.
    """
    if name not in MESSAGES or part not in FILES:
        return [f"There is no message part called {name}/{part}."]
    if len(source) > SOURCE_MAX:
        return [f"The template is longer than {SOURCE_MAX:,} characters."]
    env = _env(part)
    try:
        template = env.from_string(source)
    except TemplateSyntaxError as exc:
        line = getattr(exc, "lineno", None)
        where = f" on line {line}" if line else ""
        reason = str(exc.message or exc).rstrip(".")
        return [f"The template has a syntax error{where}: {reason}."]
    except RecursionError:
        return ["The template is nested too deeply to be read."]
    except _RENDER_ERRORS as exc:
        return [f"The template cannot be read: {exc}."]
    problems: list[str] = []
    with metered(CHECK_LIMITS):
        for context in (SAMPLE_CONTEXTS[name], SPARSE_CONTEXTS[name]):
            try:
                output = render_limited(template, context)
            except SecurityError:
                return ["The template tries to reach something it is not allowed to."]
            except LimitExceeded as exc:
                return [f"The template asks for too much work. {exc}"]
            except RecursionError:
                return ["The template calls itself without end."]
            except _RENDER_ERRORS as exc:
                return [f"The template cannot be filled in: {exc}."]
            problems += _check_output(name, part, output)
    return sorted(set(problems))


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
        problems.append("The message body is empty.")
    if len(output) > BODY_MAX:
        problems.append("The message is far too long.")
    return problems
