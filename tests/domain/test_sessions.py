"""Sessions: validation, title tags and the rule that recognises a session."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calendar_sync.domain.sessions import (
    Cancellation,
    CancelledBy,
    EventFacts,
    PatientResponse,
    Session,
    SessionRules,
    extract_title_tags,
    is_session,
    why_not_session,
)

LONDON = ZoneInfo("Europe/London")
START = datetime(2025, 3, 31, 9, 0, tzinfo=LONDON)
NAIVE = datetime(2025, 3, 31, 9, 30)  # noqa: DTZ001 - naive on purpose: it must be rejected


BASE = Session(
    "evt1", "therapist@example.test", "P-1", START, START + timedelta(minutes=50), LONDON
)


def session(**changes: Any) -> Session:
    return replace(BASE, **changes)


def test_times_are_kept_in_utc_with_the_same_instant() -> None:
    made = session()
    assert made.start.tzinfo is UTC
    assert made.start == START
    assert made.start.hour == 8  # 09:00 BST is 08:00 UTC


@pytest.mark.parametrize(
    "field", ["start", "end", "patient_response_at", "color_changed_at", "tags_changed_at"]
)
def test_naive_datetimes_are_rejected_with_the_field_name(field: str) -> None:
    changes: dict[str, object] = {field: NAIVE}
    if field == "start":
        changes["start"] = NAIVE - timedelta(hours=1)
    with pytest.raises(ValueError, match=f"Session.{field} must be an aware datetime"):
        session(**changes)


def test_naive_cancellation_time_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"Cancellation\.at"):
        Cancellation(CancelledBy.THERAPIST, NAIVE)


def test_end_must_follow_start() -> None:
    with pytest.raises(ValueError, match="after"):
        session(end=START)


def test_a_decline_needs_its_time() -> None:
    with pytest.raises(ValueError, match="patient_response_at"):
        session(patient_response=PatientResponse.DECLINED)


def test_a_colour_needs_its_time() -> None:
    with pytest.raises(ValueError, match="color_changed_at"):
        session(color_id="11")


def test_tags_need_their_time_and_are_lower_cased() -> None:
    with pytest.raises(ValueError, match="tags_changed_at"):
        session(title_tags=frozenset({"late"}))
    made = session(title_tags=frozenset({"No-Show"}), tags_changed_at=START)
    assert made.title_tags == frozenset({"no-show"})


def test_ref_is_calendar_then_event() -> None:
    assert session().ref == ("therapist@example.test", "evt1")


def test_extract_title_tags() -> None:
    assert extract_title_tags("AB [No-Show] [ late ] []") == frozenset({"no-show", "late"})
    assert extract_title_tags("Session with AB") == frozenset()


def test_one_other_attendee_makes_a_session() -> None:
    assert is_session(EventFacts("AB", other_attendees=1), SessionRules())


@pytest.mark.parametrize("count", [0, 2, 5])
def test_other_attendee_counts_are_not_sessions_without_a_pattern(count: int) -> None:
    assert not is_session(EventFacts("Team meeting", other_attendees=count), SessionRules())


def test_title_pattern_matches_case_insensitively() -> None:
    rules = SessionRules(title_pattern=r"^session\b")
    assert is_session(EventFacts("SESSION AB"), rules)
    assert not is_session(EventFacts("Supervision"), rules)


def test_attendee_rule_can_be_turned_off() -> None:
    rules = SessionRules(one_attendee_is_session=False)
    assert not is_session(EventFacts("Lunch with a friend", other_attendees=1), rules)


@pytest.mark.parametrize(
    "facts",
    [
        EventFacts("session AB", all_day=True, other_attendees=1),
        EventFacts("session AB", shows_as_free=True, other_attendees=1),
        EventFacts("session AB", therapist_declined=True, other_attendees=1),
    ],
)
def test_never_all_day_free_or_declined(facts: EventFacts) -> None:
    assert not is_session(facts, SessionRules(title_pattern="session"))


def test_invalid_pattern_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="regular expression"):
        SessionRules(title_pattern="([")


def test_someone_elses_invitation_is_never_a_session() -> None:
    invitation = EventFacts(
        "Session AB",
        other_attendees=1,
        organized_by_therapist=False,
        organizer="colleague@example.test",
    )
    assert not is_session(invitation, SessionRules(title_pattern="session"))
    assert is_session(replace(invitation, organized_by_therapist=True), SessionRules())


def test_a_co_organisers_invitation_is_a_session_whatever_the_case() -> None:
    rules = SessionRules(co_organizers=frozenset({" FrontDesk@Example.test "}))
    assert rules.co_organizers == frozenset({"frontdesk@example.test"})
    booked = EventFacts(
        "AB",
        other_attendees=1,
        organized_by_therapist=False,
        organizer="frontdesk@EXAMPLE.test",
    )
    assert is_session(booked, rules)
    assert not is_session(replace(booked, organizer="stranger@example.test"), rules)


@pytest.mark.parametrize("address", ["front desk", "frontdesk", "a@b", "a@b.test, c@d.test"])
def test_a_co_organiser_must_be_one_address(address: str) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        SessionRules(co_organizers=frozenset({address}))


@pytest.mark.parametrize(
    ("facts", "rules", "reason"),
    [
        (EventFacts("Sam", all_day=True, other_attendees=1), SessionRules(), "it lasts all day"),
        (
            EventFacts("Sam", shows_as_free=True, other_attendees=1),
            SessionRules(),
            "it shows you as free, like a note or a reminder",
        ),
        (
            EventFacts("Sam", therapist_declined=True, other_attendees=1),
            SessionRules(),
            "you declined it",
        ),
        (
            EventFacts(
                "Sam", other_attendees=1, organized_by_therapist=False, organizer="x@e.test"
            ),
            SessionRules(),
            "you are not the organiser, and its organiser is not one you book sessions with",
        ),
        (EventFacts("Team", other_attendees=2), SessionRules(), "it has more than one guest"),
        (EventFacts("Lunch"), SessionRules(), "it has no guest"),
        (
            EventFacts("Lunch"),
            SessionRules(title_pattern=r"^session"),
            "it has no guest and its title does not match your session pattern",
        ),
        (
            EventFacts("Lunch", other_attendees=1),
            SessionRules(title_pattern=r"^session", one_attendee_is_session=False),
            "its title does not match your session pattern",
        ),
        (EventFacts("Sam", other_attendees=1), SessionRules(), None),
        (EventFacts("Session JM"), SessionRules(title_pattern=r"^session"), None),
    ],
)
def test_why_an_event_is_not_a_session_in_one_sentence(
    facts: EventFacts, rules: SessionRules, reason: str | None
) -> None:
    assert why_not_session(facts, rules) == reason
    assert is_session(facts, rules) is (reason is None)
