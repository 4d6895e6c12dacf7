"""The patient form takes one plain email address, and says why when it does not."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import Patient

from .conftest import CSRF, Practice

THERAPIST = "dr.rivera@example.test"


def stored(practice: Practice) -> list[tuple[str, str | None]]:
    with runtime_of(practice.app).database.transaction() as db:
        return [(p.name, p.email) for p in db.scalars(select(Patient).order_by(Patient.id))]


def add(browser: Any, practice: Practice, name: str, email: str) -> str:
    answer = browser.post(
        practice.url + "/patients/",
        data={"csrf_token": CSRF, "name": name, "email": email},
        timeout=10,
    )
    assert answer.status_code == 200
    return str(answer.text)


def test_a_list_or_a_named_address_is_refused_with_the_reason(practice: Practice) -> None:
    browser = practice.browser(practice.therapist(THERAPIST))

    page = add(browser, practice, "KT", "kt@example.test, mum@example.test")
    assert "Not added: give one email address only." in page
    page = add(browser, practice, "KT", "kt<x>@example.test")
    assert "characters an email address cannot use" in page
    assert stored(practice) == []

    add(browser, practice, "KT", " KT@Example.test ")
    assert stored(practice) == [("KT", "kt@example.test")]


def test_a_bad_address_on_the_patient_page_keeps_the_old_one_and_saves_the_rest(
    practice: Practice,
) -> None:
    browser = practice.browser(practice.therapist(THERAPIST))
    page = add(browser, practice, "KT", "kt@example.test")
    link = re.search(r'href="(/patients/\d+)"', page)
    assert link is not None

    saved = browser.post(
        practice.url + link.group(1),
        data={"csrf_token": CSRF, "name": "Kay T", "email": "kt@example.test; mum@example.test"},
        timeout=10,
    )

    assert "The email address was not changed: give one email address only." in saved.text
    assert stored(practice) == [("Kay T", "kt@example.test")]
