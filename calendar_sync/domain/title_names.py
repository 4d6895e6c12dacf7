"""Which names of a directory stand as whole words in an event title, with one pattern.

A name is found when it appears in the title, case ignored, with no word character just
before or after it: exactly ``re.search(r"(?<!\\w)" + re.escape(name) + r"(?!\\w)", title,
re.IGNORECASE)``, name by name. Searching that way costs one pattern per name and event;
above 512 names Python's pattern cache thrashes and every search compiles again.

:class:`TitleNames` compiles the directory once into one pattern: the names as a trie (one
branch per shared prefix), tried at every position of the title, each name ending in an empty
group whose number says which name it was. At one position the pattern reports one name; any
other name found at the same position starts the same way (one is a prefix of the other, case
ignored), so each name keeps the short list of such names, checked on their own only there.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

# The end of a name: no word character follows, and the group's number names it.
_END = r"(?!\w)()"


def whole_word(name: str) -> re.Pattern[str]:
    """The pattern of one name standing as a whole word (case ignored)."""
    return re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)", re.IGNORECASE)


def _bucket(name: str) -> str:
    # Names that can match at the same place share a first letter, case ignored. Outside
    # ASCII, case rules are wide (the Kelvin sign is a "k", a long s an "s"): such names are
    # compared with every other.
    first = name[0]
    return first.lower() if first.isascii() else ""


def _trie(names: Sequence[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for index, name in enumerate(names):
        node = root
        for char in name:
            node = node.setdefault(char, {})
        node[""] = index
    return root


def _render(node: dict[str, Any], order: list[int]) -> str:
    """The pattern text of a trie node; ``order`` gets each name's index as its group opens."""
    options: list[str] = []
    for char in sorted(key for key in node if key):
        run, child = char, node[char]
        # A chain without branches is one literal, so the pattern nests only where names part.
        while len(child) == 1 and "" not in child:
            (next_char, grandchild), *_ = child.items()
            run, child = run + next_char, grandchild
        options.append(re.escape(run) + _render(child, order))
    if "" in node:
        order.append(node[""])
        options.append(_END)
    if len(options) == 1:
        return options[0]
    return "(?:" + "|".join(options) + ")"


class TitleNames:
    """A directory's names, compiled once; :meth:`found` says which stand in a title.

    Names are given as they are kept; blank names are never found. Indexes returned refer to
    the sequence given.
    """

    def __init__(self, names: Sequence[str]) -> None:
        by_name: dict[str, list[int]] = defaultdict(list)
        for index, name in enumerate(names):
            if name.strip():
                by_name[name].append(index)
        self._names = list(by_name)
        self._owners = [tuple(by_name[name]) for name in self._names]
        self._alike = self._prefix_neighbours()
        self._single = {i: whole_word(self._names[i]) for i in self._alike}
        self._order: list[int] = []
        if self._names:
            body = _render(_trie(self._names), self._order)
            # A lookahead, so that names overlapping one another are each seen.
            self._pattern: re.Pattern[str] | None = re.compile(
                r"(?<!\w)(?=" + body + ")", re.IGNORECASE
            )
        else:
            self._pattern = None

    def _prefix_neighbours(self) -> dict[int, tuple[int, ...]]:
        """For each name, the names that start like it or that it starts like, case ignored."""
        buckets: dict[str, list[int]] = defaultdict(list)
        for index, name in enumerate(self._names):
            buckets[_bucket(name)].append(index)
        wide = buckets.get("", [])
        starts = [re.compile(re.escape(name), re.IGNORECASE) for name in self._names]
        found: dict[int, set[int]] = defaultdict(set)
        for key, members in buckets.items():
            others = members if key == "" else members + wide
            for a in members:
                for b in others:
                    if a != b and (
                        starts[a].match(self._names[b]) or starts[b].match(self._names[a])
                    ):
                        found[a].add(b)
                        found[b].add(a)
        return {index: tuple(sorted(alike)) for index, alike in found.items()}

    def found(self, title: str, *, stop_after: int | None = None) -> set[int]:
        """The indexes of the names that stand as whole words in ``title``.

        With ``stop_after``, the search may stop once more than that many are found.
        """
        found: set[int] = set()
        if self._pattern is None:
            return found
        for match in self._pattern.finditer(title):
            assert match.lastindex is not None  # every name ends in its own group
            name = self._order[match.lastindex - 1]
            found.update(self._owners[name])
            for other in self._alike.get(name, ()):
                if self._single[other].match(title, match.start()):
                    found.update(self._owners[other])
            if stop_after is not None and len(found) > stop_after:
                break
        return found
