"""Templates cannot be made to work too long or write too much, at save or at send."""

from __future__ import annotations

import re
import time

import pytest

from calendar_sync.mail.limits import (
    LimitedEnvironment,
    LimitExceeded,
    Limits,
    metered,
    render_limited,
)
from calendar_sync.mail.samples import SAMPLE_CONTEXTS
from calendar_sync.mail.templates import default_source, render, validate

BIG = "{% set x = 'y' * 9999 %}"

ATTACKS = {
    # what the plain sandbox let through (the last two crashed the request)
    "nested loops": "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
    "text times a huge number": "{{ 'a' * 10**9 }}",
    "a huge power": "{{ 10 ** (10 ** 7) }}",
    # and the other ways to ask for the same
    "loops over the values given": (
        "{% for a in dashboard_url %}{% for b in dashboard_url %}{% for c in dashboard_url %}"
        "x{% endfor %}{% endfor %}{% endfor %}"
    ),
    "a list times a huge number": "{{ ([1] * 10**9)|length }}",
    "numbers multiplied past reason": "{{ (10 ** 900) * (10 ** 900) }}",
    "padding with a string method": "{{ 'a'.ljust(10**8) }}",
    "padding with a format": "{{ '{:>100000000}'.format(1) }}",
    "padding with %": "{{ '%100000000d' % 1 }}",
    "replace feeding on itself": (
        "{% set s = 'aaaaaaaaaa' %}{% set t = s.replace('a', s) %}"
        "{% set u = t.replace('a', t) %}{{ u.replace('a', u)|length }}"
    ),
    "replace filter feeding on itself": (
        "{% set s = 'aaaaaaaaaa' %}{{ s|replace('a', s)|replace('a', s)|replace('a', s)"
        "|replace('a', s) }}"
    ),
    "join inside join": "{{ range(1000)|join(range(1000)|join('xxxxxxxxxxxxxxxxxxxx')) }}",
    "text joined with ~": BIG + "{{ (x ~ x ~ x ~ x)|length }}",
    "text added with +": BIG + "{{ (x + x + x)|length }}",
    "a macro calling itself twice": (
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(30) }}"
    ),
    "a macro calling itself forever": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "text gathered in a set block": BIG + "{% set b %}" + "{{ x }}" * 200 + "{% endset %}",
    "a loop writing a long text": "{% for i in range(1000) %}" + "z" * 15000 + "{% endfor %}",
    "a huge range": "{{ range(10**9)|length }}",
    "a namespace growing in a loop": (
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
    ),
    "lorem ipsum": "{{ lipsum(10**6) }}",
    "a centred filter": "{{ 'a'|center(10**8) }}",
    "an indent filter": "{{ 'a\nb'|indent(10**8) }}",
    "a batch filter": "{{ [1]|batch(10**9, 0)|list }}",
    "a very long text": "x" * 20_001,
}


@pytest.mark.parametrize("source", list(ATTACKS.values()), ids=list(ATTACKS))
def test_each_attack_is_refused_quickly_in_plain_words(source: str) -> None:
    started = time.monotonic()
    problems = validate("pattern_alert", "text", source)
    assert time.monotonic() - started < 2.5
    assert len(problems) == 1, problems
    # plain words, and none of Python's own
    for jargon in ("Traceback", "Error", "jinja", "__", "exception"):
        assert jargon not in problems[0]
    assert re.match(r"(Line \d+: )?[A-Z]", problems[0]), problems


def test_the_steps_and_the_writing_say_what_went_wrong() -> None:
    assert (
        "repeats itself too many times" in validate("checkin", "text", ATTACKS["nested loops"])[0]
    )
    assert (
        "far too much text" in validate("checkin", "text", ATTACKS["a loop writing a long text"])[0]
    )
    assert "far too large" in validate("checkin", "text", ATTACKS["a huge power"])[0]
    assert "far too long" in validate("checkin", "text", ATTACKS["text times a huge number"])[0]
    assert "ljust()" in validate("checkin", "text", ATTACKS["padding with a string method"])[0]


def test_the_clock_is_read_while_rendering() -> None:
    template = LimitedEnvironment().from_string("{% for i in range(10) %}{{ i }}{% endfor %}")
    with metered(Limits(seconds=0)), pytest.raises(LimitExceeded, match="too long to fill in"):
        render_limited(template, {})
    with metered(Limits()):
        assert render_limited(template, {}) == "0123456789"


def test_rendering_needs_a_meter() -> None:
    template = LimitedEnvironment().from_string("{% for i in range(3) %}{{ i }}{% endfor %}")
    with pytest.raises(RuntimeError, match="render_limited"):
        template.render()


def test_reasonable_templates_still_work() -> None:
    source = (
        "Hi {{ patient.first_name|upper }}{% for c in 'abc' %}{{ c }}{% endfor %} "
        "{{ 'x' ~ 'y' }} {{ [1, 2]|join(', ') }} {{ 'a-b'.replace('-', ' ').title() }} "
        "{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ range(3)|list }}"
    )
    assert validate("pattern_alert", "text", source) == []
    email = render("pattern_alert", SAMPLE_CONTEXTS["pattern_alert"], {"text": source})
    assert email.text == "Hi SAMabc xy 1, 2 A B 1024 ababab [0, 1, 2]\n"


@pytest.mark.parametrize("name", ["unmarked_reminder", "pattern_alert", "checkin"])
def test_the_defaults_fit_well_inside_the_limits(name: str) -> None:
    for part in ("subject", "text"):
        assert validate(name, part, default_source(name, part)) == []


def test_an_edit_over_the_limits_at_send_time_gives_way_to_the_default() -> None:
    # a saved edit that the real values push over a limit: the patient gets the default
    source = (
        "{% for a in history %}{% for b in history %}{% for c in history %}"
        ".{% endfor %}{% endfor %}{% endfor %}"
    )
    context = {**SAMPLE_CONTEXTS["pattern_alert"], "history": [{"when": "x", "outcome": "y"}] * 30}
    started = time.monotonic()
    email = render("pattern_alert", context, {"text": source})
    assert time.monotonic() - started < 2
    assert email.text.startswith("Hello Dr Maya Lindqvist,")
