"""The check-in says exactly what the therapist ticked, and the fee its own case's amount."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calendar_sync.domain.fees import fee_due
from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.patients import Patient
from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD, ActionKind, Policy
from calendar_sync.google.oauth import (
    CALENDAR_EVENTS,
    CALENDAR_LIST,
    EMAIL,
    FREEBUSY,
    GMAIL_SEND,
    OPENID,
)
from calendar_sync.mail.templates import is_clinical, render
from calendar_sync.services.accounts.settings import load_settings, save_settings, with_policy
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.followup.compose import CHECKIN_PARTS, checkin_context
from calendar_sync.services.runtime import runtime_of

PARTS = tuple(CHECKIN_PARTS)
EMAIL_PARTS = {
    ActionKind.EMAIL_CHECKIN,
    ActionKind.EMAIL_POLICY_REMINDER,
    ActionKind.BARRIER_SURVEY,
}
NO_SHOW_FEE = Money(6000, "GBP")
LATE_CANCEL_FEE = Money(4000, "GBP")
FEES = {Outcome.NO_SHOW: "£60.00", Outcome.LATE_CANCEL: "£40.00"}
BASE = "https://practice.example.test/p/"
ME = {"name": "Dr Alex Rivera", "practice": "Riverside Rooms"}
OFFERED = "Thursday 12 March at 15:00"


def _link(purpose: str) -> str:
    return f"{BASE}{purpose}-token"


def _combinations() -> list[tuple[frozenset[ActionKind], Outcome, str]]:
    """Every set of ticked parts that sends an email, both outcomes, three fee settings."""
    ticked_sets = [
        frozenset(chosen)
        for size in range(1, len(PARTS) + 1)
        for chosen in itertools.combinations(PARTS, size)
        if EMAIL_PARTS & set(chosen)
    ]
    return list(
        itertools.product(
            ticked_sets, (Outcome.NO_SHOW, Outcome.LATE_CANCEL), ("set", "unset", "exempt")
        )
    )


def _id(case: tuple[frozenset[ActionKind], Outcome, str]) -> str:
    ticked, outcome, fee = case
    parts = "+".join(sorted(CHECKIN_PARTS[kind] for kind in ticked))
    return f"{parts}-{outcome.value}-fee-{fee}"


@pytest.mark.parametrize("case", _combinations(), ids=_id)
def test_the_checkin_holds_the_ticked_parts_and_nothing_else(
    case: tuple[frozenset[ActionKind], Outcome, str],
) -> None:
    ticked, outcome, fee_setting = case
    fees = (
        {}
        if fee_setting == "unset"
        else {
            "no_show_fee": NO_SHOW_FEE,
            "late_cancel_fee": LATE_CANCEL_FEE,
        }
    )
    policy = Policy(notice_window=timedelta(hours=48), **fees)
    patient = Patient("P1", fee_exempt=fee_setting == "exempt")
    context = checkin_context(
        therapist=ME,
        first_name="Sam",
        when="Tuesday 10 March at 10:00",
        outcome=outcome,
        ticked=ticked,
        policy=policy,
        fee=fee_due(outcome, False, patient, policy),
        offered=OFFERED,
        link=_link,
    )
    email = render("checkin", context)

    def says(text: str) -> bool:
        in_text, in_html = text in email.text, text in email.html
        assert in_text == in_html, (text, email.text, email.html)
        return in_text

    assert says("How are you doing?") == (ActionKind.EMAIL_CHECKIN in ticked)
    assert email.subject.startswith("Checking in") == (ActionKind.EMAIL_CHECKIN in ticked)
    offering = ActionKind.PROPOSE_RESCHEDULE in ticked
    assert says(OFFERED) == offering and says(_link("choose_time")) == offering
    reminding = ActionKind.EMAIL_POLICY_REMINDER in ticked
    assert says("48 hours") == reminding and says("cancellations work") == reminding
    charged = reminding and fee_setting == "set"
    assert says(FEES[outcome]) == charged and says("charged") == charged
    # the other case's amount never appears
    other = FEES[Outcome.LATE_CANCEL if outcome is Outcome.NO_SHOW else Outcome.NO_SHOW]
    assert not says(other)
    assert says("missed without notice") == (charged and outcome is Outcome.NO_SHOW)
    assert says("cancelled later than that") == (charged and outcome is Outcome.LATE_CANCEL)
    asking = ActionKind.BARRIER_SURVEY in ticked
    assert says(_link("barrier_survey")) == asking and says("get in the way") == asking
    # always: the way to reach the therapist, the signature, and nothing unfilled
    assert says(_link("will_get_in_touch")) and says("Dr Alex Rivera") and says("Riverside Rooms")
    assert "None" not in email.text + email.html and "{" not in email.text
    assert "\n\n\n" not in email.text
    assert not is_clinical(email.subject)
    assert not re.search(r"\b(therap|treatment|session|no-show)", email.text, re.I)


def test_only_the_links_of_ticked_parts_are_issued() -> None:
    issued: list[str] = []

    def link(purpose: str) -> str:
        issued.append(purpose)
        return _link(purpose)

    checkin_context(
        therapist=ME,
        first_name="Sam",
        when="Tuesday 10 March at 10:00",
        outcome=Outcome.NO_SHOW,
        ticked={ActionKind.BARRIER_SURVEY},
        policy=Policy(),
        fee=None,
        offered=None,
        link=link,
    )
    assert sorted(issued) == ["barrier_survey", "will_get_in_touch"]


# Through a real cycle: the sandbox's Gmail receives what the settings chose.

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CONNECTED = NOW - timedelta(days=2)
THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.patient@example.test"
LATE_CANCEL_COLOUR = "8"


def _sent_after_a_late_cancel(
    sandboxed_app: Any, connect: Callable[..., int], first_step: frozenset[ActionKind]
) -> dict[str, Any]:
    env = sandboxed_app
    env.sandbox.control("POST", "clock", {"now": CONNECTED.isoformat()})
    env.app.config["PUSH_NOTIFICATIONS"] = "off"
    scopes = [OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND]
    therapist_id = connect(THERAPIST, CONNECTED, scopes=scopes, with_calendars=True)
    database = runtime_of(env.app).database
    with database.transaction() as db:
        settings = load_settings(db, therapist_id)
        policy = Policy(
            no_show_fee=NO_SHOW_FEE,
            late_cancel_fee=LATE_CANCEL_FEE,
            ladder=(first_step, *settings.policy.ladder[1:]),
        )
        save_settings(db, therapist_id, with_policy(settings, policy), CONNECTED)
    env.sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Sam R",
            "start": {"dateTime": "2026-03-19T10:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-19T10:50:00", "timeZone": "Europe/London"},
            "attendees": [{"email": PATIENT}],
            "colorId": LATE_CANCEL_COLOUR,
        },
    )
    env.sandbox.control("POST", "clock", {"now": NOW.isoformat()})
    run_cycle(runtime_of(env.app), now=NOW, dry_run=False)
    released = NOW + DEFAULT_PATIENT_HOLD  # it waits out the hold first
    env.sandbox.control("POST", "clock", {"now": released.isoformat()})
    lines = run_cycle(runtime_of(env.app), now=released, dry_run=False).lines()
    sent = [m for m in env.sandbox.control("GET", "mail")["messages"] if PATIENT in m["to"]]
    assert len(sent) == 1, lines
    message: dict[str, Any] = sent[0]
    return message


def test_ticking_only_the_question_sends_only_the_question(
    sandboxed_app: Any, connect: Callable[..., int]
) -> None:
    message = _sent_after_a_late_cancel(
        sandboxed_app, connect, frozenset({ActionKind.BARRIER_SURVEY})
    )
    assert "get in the way" in message["text"] and "/p/" in message["text"]
    assert "cancellations work" not in message["text"] and "£" not in message["text"]
    assert "How are you doing?" not in message["text"]
    assert "choose" not in message["text"]


def test_a_late_cancel_is_reminded_of_the_late_cancel_fee(
    sandboxed_app: Any, connect: Callable[..., int]
) -> None:
    message = _sent_after_a_late_cancel(
        sandboxed_app,
        connect,
        frozenset({ActionKind.EMAIL_CHECKIN, ActionKind.EMAIL_POLICY_REMINDER}),
    )
    assert "£40.00" in message["text"] and "£40.00" in message["html"]
    assert "£60.00" not in message["text"] + message["html"]
    assert "get in the way" not in message["text"]
