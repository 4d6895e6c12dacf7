"""Plain words for emails: fields in braces, [if …] parts, and line numbers kept for errors."""

from __future__ import annotations

import pytest

from calendar_sync.mail.samples import MESSAGES, SAMPLE_CONTEXTS, SPARSE_CONTEXTS
from calendar_sync.mail.templates import default_source, render
from calendar_sync.mail.wording import WORDS, WordingError, to_jinja


@pytest.mark.parametrize("name", MESSAGES)
def test_every_default_is_plain_words_and_keeps_its_lines(name: str) -> None:
    for part in ("subject", "text"):
        source = default_source(name, part)
        assert "{{" not in source and "{%" not in source
        assert to_jinja(name, source).count("\n") == source.count("\n")


@pytest.mark.parametrize("name", MESSAGES)
def test_every_field_and_part_is_offered_with_its_meaning(name: str) -> None:
    words = WORDS[name]
    for field in words.fields:
        assert field.meaning and field.name == field.name.lower()
        # each field reads a value the message is given
        assert field.expression.split(".")[0].split("|")[0] in SAMPLE_CONTEXTS[name]
    assert len({f.name for f in words.fields}) == len(words.fields)


def _pattern(text: str, context: dict[str, object] | None = None) -> str:
    return render("pattern_alert", context or SAMPLE_CONTEXTS["pattern_alert"], {"text": text}).text


def test_a_part_on_lines_of_its_own_leaves_no_trace() -> None:
    text = "A\n[if answers]\nB\n[otherwise]\nC\n[end]\nD"
    assert _pattern(text) == "A\nB\nD\n"
    assert _pattern(text, SPARSE_CONTEXTS["pattern_alert"]) == "A\nC\nD\n"


def test_a_part_inside_a_sentence_keeps_the_sentence_whole() -> None:
    text = "Dear {first name}[if answers], who answered[end].\nNext line"
    assert _pattern(text) == "Dear Sam, who answered.\nNext line\n"
    assert _pattern(text, SPARSE_CONTEXTS["pattern_alert"]) == "Dear Sam.\nNext line\n"


def test_fields_and_parts_are_read_whatever_the_case_and_spacing() -> None:
    assert _pattern("{First  Name} [IF  Answers]yes[End]") == "Sam yes\n"


def test_lists_come_one_item_a_line() -> None:
    text = "Recent:\n{recent sessions}\n\nSaid:\n{their answers}"
    assert _pattern(text) == (
        "Recent:\n- Tuesday 10 March at 10:00: no-show\n- Tuesday 3 March at 10:00: attended\n"
        "- Tuesday 24 February at 10:00: late cancel\n- Tuesday 10 February at 10:00: no-show\n\n"
        "Said:\n- 12 February: My shifts changed at work.\n"
    )


def test_square_brackets_that_are_not_parts_stay_as_written() -> None:
    draft = render("termination_draft", SAMPLE_CONTEXTS["termination_draft"]).text
    assert "If I don't hear from you by [date]," in draft


@pytest.mark.parametrize(
    ("source", "line", "said"),
    [
        ("Hi\n{surname}", 2, "{surname} is not a field of this email. Its fields are {first name}"),
        ("Hi\n\n[if sunny]x[end]", 3, "[if sunny] is not a part of this email. Its parts are"),
        ("[if answers]\n[otherwise]\n[otherwise]\n[end]", 3, "[otherwise] needs an [if …]"),
        ("x\n[if answers]\nnever closed", 2, "this [if …] has no [end] after it."),
        ("x\n[end]", 2, "[end] has no [if …] before it."),
    ],
)
def test_what_cannot_be_read_is_said_with_its_line(source: str, line: int, said: str) -> None:
    with pytest.raises(WordingError) as raised:
        to_jinja("pattern_alert", source)
    assert raised.value.line == line and said in str(raised.value)
    assert str(raised.value).startswith(f"Line {line}: ")


def test_the_older_template_code_still_works_beside_the_plain_words() -> None:
    text = (
        "{{ patient.first_name }} / {first name}{% if history %}: {{ history|length }}{% endif %}"
    )
    assert _pattern(text) == "Sam / Sam: 4\n"
