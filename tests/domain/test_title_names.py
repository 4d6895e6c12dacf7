"""One compiled pattern finds exactly the names that one pattern per name found."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from calendar_sync.domain.title_names import TitleNames


def one_pattern_per_name(names: list[str], title: str) -> set[int]:
    """How names were matched before: a whole-word search per name (the reference)."""
    return {
        index
        for index, name in enumerate(names)
        if name.strip()
        and re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", title, re.IGNORECASE)
    }


# Names as therapists write them (initials, first names, "Sam Lee", "A.B."), and any text.
_PIECES = st.sampled_from(
    [
        "Sam",
        "sam",
        "SAM",
        "Lee",
        "AB",
        "ab",
        "A.B.",
        "JM",
        "Jo",
        "Jó",
        "Ké",
        "\u017fam",
        "K",
        "\u0130",
        "i",
    ]
)
_NAME = st.one_of(
    st.lists(_PIECES, min_size=1, max_size=3).map(" ".join),
    st.lists(_PIECES, min_size=1, max_size=2).map("".join),
    st.text(min_size=1, max_size=8),
    st.text(alphabet="aAbBsS .-_(k)\u212a\u017f", min_size=1, max_size=6),
)


@st.composite
def directories_and_titles(draw: st.DrawFn) -> tuple[list[str], str]:
    names = draw(st.lists(_NAME, max_size=12))
    filler = st.one_of(st.text(max_size=6), st.sampled_from([" ", "-", "x", "[no-show] ", "_"]))
    parts = draw(st.lists(st.one_of(filler, st.sampled_from(names) if names else filler)))
    return names, "".join(parts)


@settings(max_examples=800)
@given(directories_and_titles())
@example((["Sam", "Sam Lee", "Lee"], "Session: Sam Lee"))
@example((["AB", "AB"], "AB weekly"))
@example((["sam", "SAM"], "Sam"))
@example((["Sam", "\u017fam"], "SAM"))
@example(([" ", ""], "  "))
def test_one_pattern_finds_what_one_pattern_per_name_found(case: tuple[list[str], str]) -> None:
    names, title = case
    assert TitleNames(names).found(title) == one_pattern_per_name(names, title)


def test_same_name_twice_is_found_for_both_entries() -> None:
    assert TitleNames(["AB", "Jo", "AB"]).found("ab 10:00") == {0, 2}


def test_names_inside_other_words_are_not_found() -> None:
    assert TitleNames(["Jo", "Al"]).found("Jonah and Alice") == set()


def test_a_thousand_names_compile_to_one_pattern_that_finds_any_of_them() -> None:
    names = [f"Patient {number:04d}" for number in range(1000)]
    directory = TitleNames(names)
    assert directory.found("Session with patient 0777 [no-show]") == {777}
    assert directory.found("Session with Patient 10000") == set()


def test_stop_after_ends_the_search_early() -> None:
    found = TitleNames(["A", "B", "C"]).found("A B C", stop_after=1)
    assert len(found) == 2
