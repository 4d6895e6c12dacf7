"""Whose session an event is, when more than one therapist can see it.

A practice's shared calendar is selected by several therapists, and an event a therapist
organises shows in the calendar of every colleague invited to it. Only one therapist may
follow a session up: the patient must not hear from two, nor from the wrong one.

The rule: the event belongs to the therapist who organised it, else to the therapist who
created it (an event made directly on a shared calendar is organised by the calendar
itself, so the person shows only as its creator). An event neither organised nor created
by any therapist of the service (a receptionist booked it) belongs to the one therapist
who sees it; when several do, it is contested, and nobody acts on it alone.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import Enum


class Ownership(Enum):
    """What an event is to one therapist who sees it."""

    #: Theirs to follow up.
    MINE = "mine"
    #: Another therapist's: not a session of theirs at all.
    ANOTHERS = "anothers"
    #: Seen by several therapists, none of whom organised or created it.
    CONTESTED = "contested"


def ownership(
    me: str,
    organizer: str | None,
    creator: str | None,
    therapists: Collection[str],
    *,
    shared: bool,
) -> Ownership:
    """Whose event this is, for the therapist with the address ``me``.

    ``therapists`` are the addresses of every therapist of the service (``me`` among them),
    in lower case; ``shared`` says whether another therapist selected the same calendar.
    Addresses are compared without regard to case.
    """
    mine = me.lower()
    for person in (organizer, creator):
        if person and person.lower() in therapists:
            return Ownership.MINE if person.lower() == mine else Ownership.ANOTHERS
    return Ownership.CONTESTED if shared else Ownership.MINE
