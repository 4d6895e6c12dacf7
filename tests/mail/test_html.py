"""The HTML part is made from the text: escaped, in paragraphs, with links that work."""

from __future__ import annotations

from calendar_sync.mail.html import LETTER_STYLE, NOTE_STYLE, text_to_html
from calendar_sync.mail.samples import MESSAGES, PATIENT_MESSAGES, SAMPLE_CONTEXTS
from calendar_sync.mail.templates import render


def _body(html: str) -> str:
    return html.split(">\n", 3)[3].rsplit("\n</body>", 1)[0]


def test_paragraphs_line_breaks_and_lists() -> None:
    html = text_to_html("Hi Sam,\n\nOne\ntwo\n\n- a\n- b\n", letter=True)
    assert _body(html) == "<p>Hi Sam,</p>\n<p>One<br>\ntwo</p>\n<ul><li>a</li><li>b</li></ul>"


def test_everything_is_escaped() -> None:
    html = text_to_html("<script>alert(\"x\")</script> & 'quotes'", letter=True)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quotes&#x27;" in html


def test_web_addresses_become_links_without_the_punctuation_after_them() -> None:
    html = text_to_html(
        "Choose here: https://p.example.test/p/abc_DEF-1.x. Or (https://p.example.test/q).",
        letter=True,
    )
    link = "https://p.example.test/p/abc_DEF-1.x"
    assert f'<a href="{link}">{link}</a>. Or' in html
    assert '(<a href="https://p.example.test/q">https://p.example.test/q</a>).' in html
    # an address cannot close its attribute: the link stops at the quote, the rest is text
    tricky = text_to_html('https://e.example.test/"onclick="x', letter=True)
    assert 'onclick="' not in tricky and "&quot;onclick=&quot;x" in tricky


def test_a_letter_for_patients_and_a_note_for_the_therapist() -> None:
    for name in MESSAGES:
        email = render(name, SAMPLE_CONTEXTS[name])
        style = LETTER_STYLE if name in PATIENT_MESSAGES else NOTE_STYLE
        assert f'<body style="{style}">' in email.html
        # every link of the text is a link in the HTML
        for word in email.text.split():
            if word.startswith("https://"):
                assert f'href="{word.rstrip(".)")}"' in email.html, (name, word)
