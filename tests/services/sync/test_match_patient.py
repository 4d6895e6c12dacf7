"""Matching an event to its patient: the directory's dict and pattern find what a scan found."""

from __future__ import annotations

import re
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_sync.domain.addresses import is_plain_address
from calendar_sync.google.events import Attendee, CalendarEvent
from calendar_sync.services.sync.event_store import PatientDirectory, match_patient
from calendar_sync.storage.models import Patient


def scan(event: CalendarEvent, patients: Iterable[Patient]) -> tuple[str | None, Patient | None]:
    """How events were matched before: every entry tried in turn, one pattern per name."""
    others = event.others
    email = others[0].email if len(others) == 1 else None
    patients = tuple(patients)
    if email is not None and not is_plain_address(email):
        return None, None
    if email is not None:
        for patient in patients:
            if patient.email and patient.email.lower() == email.lower():
                return email, patient
        return email, None
    if others:
        return None, None
    found = [
        p
        for p in patients
        if p.name.strip()
        and re.search(r"(?<!\w)" + re.escape(p.name) + r"(?!\w)", event.title, re.IGNORECASE)
    ]
    if len(found) == 1:
        return found[0].email, found[0]
    return None, None


_NAMES = st.sampled_from(["Sam", "sam", "Sam Lee", "Lee", "AB", "A.B.", "Jo", "", " ", "KT"])
_ADDRESSES = st.sampled_from(
    [None, "sam@example.test", "SAM@example.test", "jo@example.test", "not an address"]
)


@st.composite
def directories(draw: st.DrawFn) -> list[Patient]:
    entries = draw(st.lists(st.tuples(_NAMES, _ADDRESSES), max_size=8))
    return [Patient(id=n + 1, name=name, email=email) for n, (name, email) in enumerate(entries)]


@st.composite
def events(draw: st.DrawFn) -> CalendarEvent:
    guests = draw(st.lists(_ADDRESSES.filter(lambda a: a is not None), max_size=2))
    words = draw(st.lists(st.one_of(_NAMES, st.text(max_size=5)), max_size=4))
    return CalendarEvent(
        event_id="e1",
        status="confirmed",
        title=" ".join(words),
        attendees=(
            Attendee("dr.lee@example.test", "accepted", is_self=True, organizer=True),
            *(Attendee(str(guest)) for guest in guests),
        ),
    )


@settings(max_examples=500)
@given(directories(), events())
def test_the_directory_matches_what_a_scan_of_every_entry_matched(
    patients: list[Patient], event: CalendarEvent
) -> None:
    directory = PatientDirectory(patients)
    expected = scan(event, patients)
    assert match_patient(event, directory) == expected
    assert match_patient(event, patients) == expected


def test_an_invited_address_is_found_whatever_its_case_first_entry_first() -> None:
    first = Patient(id=1, name="", email="Sam@Example.test")
    second = Patient(id=2, name="Sam", email="sam@example.test")
    event = CalendarEvent(
        event_id="e1",
        status="confirmed",
        title="Sam",
        attendees=(Attendee("SAM@example.test"),),
    )
    assert match_patient(event, PatientDirectory([first, second])) == ("SAM@example.test", first)
