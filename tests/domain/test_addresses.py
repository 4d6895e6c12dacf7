"""Which email addresses the service writes to: one plain address, nothing a header splits on."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendar_sync.domain.addresses import InvalidAddress, is_plain_address, plain_address
from calendar_sync.mail.message import build_message
from calendar_sync.mail.templates import RenderedEmail


@pytest.mark.parametrize(
    "text",
    [
        "sam@example.test",
        " Sam.R+therapy@Example.Test ",
        "o'brien@example.test",
        "a_b-c@mail.example-clinic.test",
    ],
)
def test_plain_addresses_are_kept(text: str) -> None:
    assert plain_address(text) == text.strip()
    assert is_plain_address(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a@example.test, b@example.test", "one email address only"),
        ("a@example.test;b@example.test", "one email address only"),
        ("a@example.test b@example.test", "one email address only"),
        ("Sam <sam@example.test>", "one email address only"),
        ("sam<x>@example.test", "characters an email address cannot use"),
        ('"sam o"@example.test', "one email address only"),
        ("sam(o)@example.test", "characters an email address cannot use"),
        ("sam\r\nbcc:x@example.test", "one email address only"),
        ("sam\x00@example.test", "characters an email address cannot use"),
        ("zoë@example.test", "characters an email address cannot use"),
        ("sam..r@example.test", "characters an email address cannot use"),
        ("sam@localhost", "not a domain"),
        ("sam@exa_mple.test", "not a domain"),
        ("sam@-example.test", "not a domain"),
        ("sam@example.test.", "not a domain"),
        ("sam@", "looks like"),
        ("@example.test", "looks like"),
        ("sam", "looks like"),
        ("", "empty"),
        ("x" * 65 + "@example.test", "too long"),
    ],
)
def test_lists_names_and_odd_characters_are_refused_in_plain_words(text: str, words: str) -> None:
    with pytest.raises(InvalidAddress, match=words):
        plain_address(text)
    assert not is_plain_address(text)
    assert not is_plain_address(None)


ADDRESS_LIKE = st.text(
    alphabet=st.sampled_from(list("aZ9.@-_+'\"<>,; ()[]\\:\r\n\x00ë")), max_size=30
)


@given(st.one_of(st.emails(), ADDRESS_LIKE, st.text(max_size=80)))
def test_an_accepted_address_can_always_be_written_in_a_message(text: str) -> None:
    try:
        address = plain_address(text)
    except InvalidAddress:
        return
    message = build_message(
        RenderedEmail("Hello", "Hello", "<p>Hello</p>"),
        sender=("Dr Rivera", "dr.rivera@example.test"),
        to=address,
        key="email_checkin:1:00",
        now=datetime(2026, 3, 20, tzinfo=UTC),
    )
    # Written out and read back, the message is addressed to exactly that one address.
    read = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert [a.addr_spec for a in read["To"].addresses] == [address]
