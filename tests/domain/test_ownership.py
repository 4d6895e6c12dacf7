"""Whose session an event is when several therapists see it."""

from __future__ import annotations

import pytest

from calendar_sync.domain.ownership import Ownership, ownership

ANA = "dr.ana@example.test"
BEN = "dr.ben@example.test"
THERAPISTS = {ANA, BEN}
SHARED_CALENDAR = "c0ffee@group.calendar.google.com"
RECEPTION = "reception@example.test"


@pytest.mark.parametrize(
    ("organizer", "creator", "shared", "for_ana", "for_ben"),
    [
        # Ana's own event in her own calendar.
        (ANA, ANA, False, Ownership.MINE, Ownership.ANOTHERS),
        # Ana made it on the practice's shared calendar: the calendar organises it.
        (SHARED_CALENDAR, ANA, True, Ownership.MINE, Ownership.ANOTHERS),
        # Ana invited Ben (co-therapy): his copy names her as organiser.
        (ANA, ANA, False, Ownership.MINE, Ownership.ANOTHERS),
        # Ben's assistant booked in Ben's own calendar: Ben organises it.
        ("Dr.Ben@Example.test", RECEPTION, False, Ownership.ANOTHERS, Ownership.MINE),
        # Reception booked on the shared calendar: nobody can tell whose it is.
        (SHARED_CALENDAR, RECEPTION, True, Ownership.CONTESTED, Ownership.CONTESTED),
        # Reception booked on a calendar only one therapist selected: theirs.
        (SHARED_CALENDAR, RECEPTION, False, Ownership.MINE, Ownership.MINE),
        # Nothing known (stored before the organiser was kept).
        (None, None, False, Ownership.MINE, Ownership.MINE),
        (None, None, True, Ownership.CONTESTED, Ownership.CONTESTED),
    ],
)
def test_the_organiser_then_the_creator_owns_the_session(
    organizer: str | None,
    creator: str | None,
    shared: bool,
    for_ana: Ownership,
    for_ben: Ownership,
) -> None:
    assert ownership(ANA, organizer, creator, THERAPISTS, shared=shared) is for_ana
    assert ownership(BEN, organizer, creator, THERAPISTS, shared=shared) is for_ben


def test_exactly_one_therapist_acts_whenever_anyone_does() -> None:
    people = [ANA, BEN, RECEPTION, SHARED_CALENDAR, None]
    for organizer in people:
        for creator in people:
            for shared in (False, True):
                verdicts = [
                    ownership(me, organizer, creator, THERAPISTS, shared=shared)
                    for me in (ANA, BEN)
                ]
                mine = verdicts.count(Ownership.MINE)
                if shared:
                    # Both see it: one of them, or nobody (and then both are told).
                    assert mine == 1 or verdicts == [Ownership.CONTESTED] * 2
