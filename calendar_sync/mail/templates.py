"""Rendering the emails: one folder per message under ``templates/email/<name>/``.

Each message has ``subject.txt``, ``body.txt`` and ``body.html`` (sent together as
multipart/alternative). A therapist may replace any part with their own text; every part,
default or edited, renders in Jinja's :class:`~jinja2.sandbox.SandboxedEnvironment`, so a
template can read the values it is given and nothing else of the program. Edited parts are
checked by :func:`validate` when saved, so a broken template is refused then, not at send time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from ..resources import TEMPLATES
from .samples import MESSAGES, PARTS, PATIENT_MESSAGES, SAMPLE_CONTEXTS, SPARSE_CONTEXTS

log = logging.getLogger(__name__)

TEMPLATE_ROOT = TEMPLATES / "email"
FILES = {"subject": "subject.txt", "text": "body.txt", "html": "body.html"}

# Long enough for any honest subject; mail clients cut far shorter ones anyway.
SUBJECT_MAX = 150
# Generous for a letter; an edited template producing more is a mistake (or a loop).
BODY_MAX = 100_000

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


def _environment(*, html: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_TEXT_ENV = _environment(html=False)
_HTML_ENV = _environment(html=True)


def _env(part: str) -> SandboxedEnvironment:
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
            return _finish(part, _env(part).from_string(source).render(context))
        except (TemplateError, SecurityError, TypeError, ValueError) as exc:
            # Checked when saved, so this means the context changed since: the default is
            # better than no message. The template's text is the therapist's: not logged.
            log.warning("edited %s/%s failed (%s); default used", name, part, type(exc).__name__)
    return _finish(part, _default_template(name, part).render(context))


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
    parts = {part: _render_part(name, part, context, overrides.get(part)) for part in PARTS}
    return RenderedEmail(subject=parts["subject"], text=parts["text"], html=parts["html"])


def validate(name: str, part: str, source: str) -> list[str]:
    """Why ``source`` cannot be saved as ``part`` of message ``name`` (empty when it can).

    The source is rendered against the sample context and its sparse variant, with unknown
    variables as errors; the messages are in plain words for the editor page.
    """
    if name not in MESSAGES or part not in FILES:
        return [f"There is no message part called {name}/{part}."]
    env = _env(part)
    try:
        template = env.from_string(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" on line {line}" if line else ""
        return [f"The template has a syntax error{where}: {exc.message or exc}."]
    problems: list[str] = []
    for context in (SAMPLE_CONTEXTS[name], SPARSE_CONTEXTS[name]):
        try:
            output = template.render(context)
        except SecurityError:
            return ["The template tries to reach something it is not allowed to."]
        except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
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
