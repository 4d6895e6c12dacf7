"""The email templates: defaults, sandboxed editing, and what patients never read."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from calendar_sync.mail import template_store
from calendar_sync.mail.samples import (
    MESSAGES,
    PARTS,
    PATIENT_MESSAGES,
    SAMPLE_CONTEXTS,
    SPARSE_CONTEXTS,
    VARIABLES,
)
from calendar_sync.mail.templates import (
    SUBJECT_MAX,
    TEMPLATE_ROOT,
    UnknownMessage,
    default_source,
    is_clinical,
    render,
    validate,
)
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import Therapist

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

# Said to a patient, any of these would tell a reader of the inbox what the meeting is.
PATIENT_FORBIDDEN = (
    "therapy",
    "therapist",
    "therapeutic",
    "psychotherapy",
    "session notes",
    "session",
    "treatment",
    "diagnosis",
    "diagnosed",
    "clinical",
    "counselling",
    "counseling",
    "mental health",
    "psychiatric",
    "missed appointment fee",
    "no-show",
)


def _both_contexts() -> list[tuple[str, dict[str, Any]]]:
    return [(n, SAMPLE_CONTEXTS[n]) for n in MESSAGES] + [(n, SPARSE_CONTEXTS[n]) for n in MESSAGES]


@pytest.mark.parametrize(("name", "context"), _both_contexts())
def test_every_default_renders_with_its_sample(name: str, context: dict[str, Any]) -> None:
    email = render(name, context)
    assert email.subject and "\n" not in email.subject and len(email.subject) <= SUBJECT_MAX
    assert email.text.strip() and email.html.strip()
    assert "<html" in email.html and "<html" not in email.text
    # signed by the therapist, and nothing left unfilled
    assert "Dr Maya Lindqvist" in email.text
    assert "{{" not in email.text + email.html and "{%" not in email.text + email.html
    # a blank line at most between paragraphs, however the template is laid out
    assert "\n\n\n" not in email.text


@pytest.mark.parametrize(
    ("name", "context"), [(n, c) for n, c in _both_contexts() if n in PATIENT_MESSAGES]
)
def test_patient_messages_carry_no_clinical_words(name: str, context: dict[str, Any]) -> None:
    email = render(name, context)
    for part in (email.subject, email.text, email.html):
        lowered = part.lower()
        found = [w for w in PATIENT_FORBIDDEN if re.search(rf"\b{re.escape(w)}\b", lowered)]
        assert found == [], (name, found)
    assert not is_clinical(email.subject)


def test_the_word_list_catches_what_it_should() -> None:
    assert is_clinical("About your therapy session")
    assert is_clinical("Missed appointment fee")
    assert not is_clinical("Checking in after our appointment")


def test_the_checkin_mentions_the_invitation_only_with_a_proposal() -> None:
    with_offer = render("checkin", SAMPLE_CONTEXTS["checkin"])
    no_time_found = render("checkin", {**SAMPLE_CONTEXTS["checkin"], "proposal": None})
    not_ticked = render("checkin", SPARSE_CONTEXTS["checkin"])
    assert "invitation" in with_offer.text and "Thursday 12 March at 15:00" in with_offer.text
    assert "invitation" not in no_time_found.text and "invitation" not in not_ticked.text
    choose = SAMPLE_CONTEXTS["checkin"]["choose_time_url"]
    assert choose in no_time_found.text and f'href="{choose}"' in no_time_found.html
    assert choose not in not_ticked.text + not_ticked.html
    for email in (with_offer, no_time_found, not_ticked):
        assert SAMPLE_CONTEXTS["checkin"]["get_in_touch_url"] in email.html


def test_unmarked_reminder_has_one_click_links_for_every_outcome() -> None:
    email = render("unmarked_reminder", SAMPLE_CONTEXTS["unmarked_reminder"])
    for session in SAMPLE_CONTEXTS["unmarked_reminder"]["sessions"]:
        for url in session["mark_urls"].values():
            assert f'href="{url}"' in email.html and url in email.text
    assert "tomorrow at 06:50" in email.text
    assert email.subject == "2 sessions still to mark"


def test_every_message_documents_its_variables_and_samples_match() -> None:
    for name in MESSAGES:
        assert set(SAMPLE_CONTEXTS[name]) == set(VARIABLES[name]), name
        assert set(SPARSE_CONTEXTS[name]) == set(VARIABLES[name]), name
        for part in PARTS:
            assert (TEMPLATE_ROOT / name).is_dir()
            assert default_source(name, part).strip()


def test_html_is_escaped_and_text_is_not() -> None:
    context = {**SAMPLE_CONTEXTS["checkin"], "patient": {"first_name": "<b>Jo & Al</b>"}}
    email = render("checkin", context)
    assert "&lt;b&gt;Jo &amp; Al&lt;/b&gt;" in email.html and "<b>Jo" not in email.html
    assert "Hi <b>Jo & Al</b>," in email.text


def test_subject_is_one_bounded_line_whatever_the_values() -> None:
    context = {
        **SAMPLE_CONTEXTS["checkin"],
        "session": {"when": "Monday\r\nBcc: someone@example.test\n" + "x" * 400},
    }
    subject = render("checkin", context).subject
    assert "\n" not in subject and "\r" not in subject
    assert len(subject) == SUBJECT_MAX and subject.endswith("…")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ therapist.__class__ }}",
        "{{ patient.first_name.format.__globals__ }}",
    ],
)
def test_sandbox_refuses_reaching_python_objects(source: str) -> None:
    problems = validate("pattern_alert", "text", source)
    assert problems, source
    assert "cannot use" in problems[0] or "has no value" in problems[0], problems


def test_edited_source_that_escapes_the_sandbox_never_renders() -> None:
    email = render(
        "checkin",
        SAMPLE_CONTEXTS["checkin"],
        {"text": "{{ ''.__class__.__mro__ }}"},
    )
    # the default stands in for the broken part; nothing of Python's object model leaks
    assert "class" not in email.text and email.text.startswith("Hi Sam,")


_LETTER = default_source("checkin", "text")


@pytest.mark.parametrize(
    ("part", "source", "expected"),
    [
        # plain words: said where, and how to put it right
        ("text", "Hi {frist name},", "Line 1: {frist name} is not a field of this email."),
        ("text", "Hi {first name},\n[if checkin]x[end]", "Line 2: [if checkin] is not a part"),
        ("text", "Hi,\n\n[if check-in]\nHow are you?", "Line 3: this [if …] has no [end]"),
        ("text", "Hi,\n[end]", "Line 2: [end] has no [if …] before it."),
        ("text", "[otherwise]", "Line 1: [otherwise] needs an [if …]"),
        (
            "text",
            "Hi,\n\nA new time: {new time}.",
            "Line 3: {new time} has no value in some of these emails. "
            "Write it between [if time found] and [end].",
        ),
        (
            "text",
            "Hi {first name},\n[if check-in]How are you?[end]\n"
            "[if new time][if time found]{new time}[end] {choose a time link}[end]\n"
            "[if what got in the way]{question link}[end]",
            "Nothing in the text depends on [if cancellation policy]",
        ),
        ("text", "", "The message is empty."),
        # template code still works, and is explained as such
        ("text", "Hi {{ patient.first_name }", "Line 1: This, written in template code, cannot"),
        ("text", "{% if proposal %}no end", "cannot be read"),
        ("text", "Hi\n{{ patient.surname }}", "Line 2: Something written in template code has"),
        ("text", "Hi {{ unknown_thing }}", "'unknown_thing' is undefined"),
        ("text", "New time: {{ proposal.when }}", "has no value here"),
        ("subject", "   ", "The subject is empty."),
        ("subject", "[if check-in][end]", "The subject is empty."),
        ("subject", "About your therapy", "clinical word"),
        ("subject", "x" * (SUBJECT_MAX + 1), "longer than"),
    ],
)
def test_validate_refuses_broken_templates(part: str, source: str, expected: str) -> None:
    problems = validate("checkin", part, source)
    assert any(expected in p for p in problems), problems


def test_validate_accepts_a_reasonable_edit() -> None:
    edited = _LETTER.replace("How are you doing?", "I hope you are well.").replace(
        "Warm wishes,", "All best,"
    )
    assert validate("checkin", "text", edited) == []
    assert validate("checkin", "subject", "Thinking of you, {first name}") == []
    assert validate("pattern_alert", "subject", "Therapy plan review for {first name}") == []
    # the earlier template code still reads
    legacy = "Hello {{ patient.first_name }}{% if history %}, {{ history|length }} seen{% endif %}"
    assert validate("pattern_alert", "text", legacy) == []


def test_unknown_message_is_refused() -> None:
    with pytest.raises(UnknownMessage):
        render("goodbye_forever", {})
    assert validate("goodbye_forever", "text", "hi") != []


def _therapist(app: Flask) -> int:
    with runtime_of(app).database.transaction() as db:
        row = Therapist(
            google_subject="sub-templates",
            email="dr.lindqvist@example.test",
            display_name="Dr Maya Lindqvist",
            time_zone="Europe/London",
            created_at=NOW,
        )
        db.add(row)
        db.flush()
        return row.id


def test_saved_edits_render_and_reset_goes_back_to_the_default(app: Flask) -> None:
    therapist_id = _therapist(app)
    database = runtime_of(app).database
    context = SAMPLE_CONTEXTS["checkin"]
    with database.transaction() as db:
        problems = template_store.save(
            db,
            therapist_id,
            "checkin",
            "subject",
            "Thinking of you, {first name}",
            NOW,
        )
        assert problems == []
    with database.transaction() as db:
        assert template_store.render_for(db, therapist_id, "checkin", context).subject == (
            "Thinking of you, Sam"
        )
        # a broken edit is refused and the saved one stays
        refused = template_store.save(db, therapist_id, "checkin", "subject", "{{ nope }}", NOW)
        assert refused != []
        assert template_store.load_overrides(db, therapist_id, "checkin") == {
            "subject": "Thinking of you, {first name}"
        }
    with database.transaction() as db:
        template_store.reset(db, therapist_id, "checkin", "subject")
    with database.transaction() as db:
        assert template_store.load_overrides(db, therapist_id, "checkin") == {}
        default = render("checkin", context).subject
        assert template_store.render_for(db, therapist_id, "checkin", context).subject == default


def test_saving_the_default_text_keeps_no_edit(app: Flask) -> None:
    therapist_id = _therapist(app)
    with runtime_of(app).database.transaction() as db:
        source = default_source("checkin", "text")
        assert template_store.save(db, therapist_id, "checkin", "text", source, NOW) == []
        assert template_store.load_overrides(db, therapist_id, "checkin") == {}
        assert template_store.sources(db, therapist_id, "checkin")["text"] == source
