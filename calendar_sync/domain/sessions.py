"""A therapy session as the domain sees it, and the rule deciding which events are sessions.

The calendar adapter translates provider vocabulary (event status, ``responseStatus``,
``transparency``...) into these types; nothing here knows the provider's field names.
The event title never enters a :class:`Session`: it may hold a patient's initials, so the
adapter keeps only the bracketed tags (see :func:`extract_title_tags`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

from calendar_sync.domain.times import optional_utc, to_utc

_TAG = re.compile(r"\[([^\[\]]+)\]")
# One address: enough to catch a typo or a name typed where an address belongs.
_ADDRESS = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")


class CancelledBy(Enum):
    """Who cancelled a session that is no longer on the calendar."""

    PATIENT = "patient"
    THERAPIST = "therapist"


class PatientResponse(Enum):
    """The patient's answer to the calendar invitation."""

    NO_ANSWER = "no_answer"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"


@dataclass(frozen=True)
class Cancellation:
    """The event was cancelled or deleted: by whom, and when that was first known."""

    by: CancelledBy
    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", to_utc(self.at, "Cancellation.at"))


@dataclass(frozen=True)
class Session:
    """One calendar event that is a therapy session.

    All datetimes are stored in UTC so that arithmetic is in absolute time; ``time_zone``
    is the therapist's zone, used only to show times. Each "changed at" field is when the
    value was first seen to change (the adapter's sync time, or the provider's last-update
    time at that sync), which is what decides precedence between marks.

    :raises ValueError: on a naive datetime, an end not after the start, or a value whose
        change time is missing.
    """

    event_id: str
    calendar_id: str
    patient_key: str | None
    start: datetime
    end: datetime
    time_zone: ZoneInfo
    cancelled: Cancellation | None = None
    patient_response: PatientResponse = PatientResponse.NO_ANSWER
    patient_response_at: datetime | None = None
    color_id: str | None = None
    color_changed_at: datetime | None = None
    title_tags: frozenset[str] = field(default_factory=frozenset)
    tags_changed_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            object.__setattr__(self, name, to_utc(getattr(self, name), f"Session.{name}"))
        for name in ("patient_response_at", "color_changed_at", "tags_changed_at"):
            value = optional_utc(getattr(self, name), f"Session.{name}")
            object.__setattr__(self, name, value)
        if self.end <= self.start:
            raise ValueError("Session.end must be after Session.start")
        if not self.event_id or not self.calendar_id:
            raise ValueError("Session needs an event_id and a calendar_id")
        if self.patient_response is PatientResponse.DECLINED and self.patient_response_at is None:
            raise ValueError("a declined invitation needs patient_response_at")
        if self.color_id is not None and self.color_changed_at is None:
            raise ValueError("a colour needs color_changed_at")
        if self.title_tags and self.tags_changed_at is None:
            raise ValueError("title tags need tags_changed_at")
        object.__setattr__(self, "title_tags", frozenset(t.lower() for t in self.title_tags))

    @property
    def ref(self) -> tuple[str, str]:
        """The identity of the session: (calendar id, event id)."""
        return (self.calendar_id, self.event_id)


def extract_title_tags(title: str) -> frozenset[str]:
    """The bracketed tags in an event title, lower-cased, without brackets.

    ``"AB [No-Show] [ late ]"`` gives ``{"no-show", "late"}``.
    """
    return frozenset(tag.strip().lower() for tag in _TAG.findall(title) if tag.strip())


@dataclass(frozen=True)
class EventFacts:
    """What :func:`is_session` needs to know about a calendar event.

    ``other_attendees`` counts people invited besides the therapist and the organiser (rooms
    and other resources excluded by the adapter). ``organized_by_therapist`` is False for an
    invitation someone else sent; ``organizer`` is then that person's address.
    """

    title: str
    all_day: bool = False
    shows_as_free: bool = False
    therapist_declined: bool = False
    other_attendees: int = 0
    organized_by_therapist: bool = True
    organizer: str = ""


@dataclass(frozen=True)
class SessionRules:
    """How a therapist's events are recognised as sessions.

    ``title_pattern`` is a regular expression searched case-insensitively in the title
    (for example ``r"^session\\b"`` or ``r"\\(T\\)"``); ``None`` disables it.
    ``one_attendee_is_session``: an event with exactly one invited person other than the
    therapist is a session; this is how most therapists who invite patients work.
    ``co_organizers``: addresses (a practice's front desk, say) whose invitations to the
    therapist are sessions too; kept lower-cased.

    :raises ValueError: if ``title_pattern`` is not a valid regular expression, or a
        co-organiser is not an email address.
    """

    title_pattern: str | None = None
    one_attendee_is_session: bool = True
    co_organizers: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.title_pattern is not None:
            try:
                re.compile(self.title_pattern)
            except re.error as exc:
                raise ValueError(f"title_pattern is not a valid regular expression: {exc}") from exc
        addresses = frozenset(a.strip().lower() for a in self.co_organizers if a.strip())
        for address in sorted(addresses):
            if not _ADDRESS.fullmatch(address):
                raise ValueError(f"{address!r} is not an email address")
        object.__setattr__(self, "co_organizers", addresses)


def is_session(facts: EventFacts, rules: SessionRules) -> bool:
    """Whether an event is a therapy session under the therapist's rules.

    Never: an all-day event, an event shown as free (a note or a reminder, not a booking),
    an event the therapist declined, or an invitation someone else organised (unless they
    are one of the therapist's co-organisers): a stranger's meeting with the therapist and
    one other guest is not a session, and its guest is not the therapist's patient.
    Otherwise yes when it has exactly one other attendee (if enabled) or its title matches
    the therapist's pattern.
    """
    return why_not_session(facts, rules) is None


def why_not_session(facts: EventFacts, rules: SessionRules) -> str | None:
    """Why an event is not a session, as the end of "Not a session: ..." (None if it is one).

    The first reason in the order :func:`is_session` checks them, so the therapist reads the
    one that decided it.
    """
    if facts.all_day:
        return "it lasts all day"
    if facts.shows_as_free:
        return "it shows you as free, like a note or a reminder"
    if facts.therapist_declined:
        return "you declined it"
    if not facts.organized_by_therapist and facts.organizer.lower() not in rules.co_organizers:
        return "you are not the organiser, and its organiser is not one you book sessions with"
    if rules.one_attendee_is_session and facts.other_attendees == 1:
        return None
    pattern_matches = rules.title_pattern is not None and (
        re.search(rules.title_pattern, facts.title, re.IGNORECASE) is not None
    )
    if pattern_matches:
        return None
    pattern = " and its title does not match your session pattern" if rules.title_pattern else ""
    if facts.other_attendees > 1:
        return f"it has more than one guest{pattern}"
    if not rules.one_attendee_is_session:
        return "its title does not match your session pattern"
    return f"it has no guest{pattern}"
