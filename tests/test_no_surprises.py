"""No surprises, under random use: a state machine drives the sandbox and the service.

Random sequences of sessions created, moved and cancelled, marks and re-marks (in the
calendar and on the dashboard), settings saved, patients' answers, Send now, disconnects and
reconnects, and cycles at random times. After every step the invariants of the product's
promise are checked:

- no email reached a patient without first waiting, visible, for the whole hold (unless the
  therapist pressed Send now for it);
- no missed session brought more than one email to its patient;
- nothing went to anyone but the session's patient;
- nothing went out about a session that ended before the calendar was connected;
- a settings save alone sent nothing;
- every fee sentence sent quotes the fee the settings set for its case.

``make test`` runs it with a fixed seed and a bounded number of steps; ``make soak`` runs it
longer (``SOAK_EXAMPLES``, ``SOAK_STEPS``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from calendar_sync.domain.marks import MarkSource
from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import DEFAULT_PATIENT_HOLD, ActionKind, Policy
from calendar_sync.services.accounts.disconnect import disconnect_therapist
from calendar_sync.services.accounts.settings import load_settings, save_settings, with_policy
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.followup.marks import record_mark
from calendar_sync.services.followup.run import follow_up_therapist
from calendar_sync.services.outbox import review
from calendar_sync.services.outbox.dispatch import MessageStatus
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import (
    CalendarEventRow,
    CalendarRow,
    FollowUpAction,
    OutboxMessage,
)

from .conftest import CONNECT_SCOPES, connect_therapist

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
HOLD = DEFAULT_PATIENT_HOLD
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
COLOURS = {"11": Outcome.NO_SHOW, "8": Outcome.LATE_CANCEL, "10": Outcome.ATTENDED}
FEES = [
    (None, None),
    (Money(6000, "GBP"), Money(4000, "GBP")),
    (Money(5000, "GBP"), None),
]
STEP_ONE = [
    frozenset({ActionKind.EMAIL_CHECKIN, ActionKind.PROPOSE_RESCHEDULE}),
    frozenset({ActionKind.EMAIL_CHECKIN, ActionKind.EMAIL_POLICY_REMINDER}),
    frozenset({ActionKind.BARRIER_SURVEY}),
    frozenset({ActionKind.EMAIL_CHECKIN, ActionKind.BARRIER_SURVEY, ActionKind.PROPOSE_RESCHEDULE}),
]
_AMOUNT = re.compile(r"£(\d+\.\d\d)")


class NoSurprises(RuleBasedStateMachine):
    """One therapist's practice over a few days, driven at random (see the module's text)."""

    #: Set by the test: the app served against the sandbox.
    env: Any = None
    #: Each run of the machine uses its own accounts and addresses.
    runs = count(1)

    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        self.run = next(self.runs)
        self.now = START
        self.therapist = f"dr.run{self.run}@example.test"
        self.patients = [f"p{n}.run{self.run}@example.test" for n in range(3)]
        self.events: dict[str, tuple[str, datetime]] = {}  # event id -> (patient, end)
        self.connected_at = self.now
        self.therapist_id = self._connect()
        self.sent_now: set[str] = set()  # outbox keys the therapist sent at once
        # The fees in force when each patient message was written (by outbox id).
        self.fees_in_force: tuple[Money | None, Money | None] = (None, None)
        self.fees_of: dict[int, tuple[Money | None, Money | None]] = {}
        # Sessions ended before the current connection, whatever happens to them later.
        self.history: set[str] = set()

    # -- the world ------------------------------------------------------------------------

    @property
    def runtime(self) -> Any:
        return runtime_of(self.env.app)

    def _clock(self, when: datetime) -> None:
        self.env.sandbox.control("POST", "clock", {"now": when.isoformat()})
        self.runtime.clock = lambda: when

    def _connect(self, *, again: bool = False) -> int:
        self._clock(self.now)
        therapist_id = connect_therapist(
            self.env,
            self.therapist,
            self.now,
            scopes=[*CONNECT_SCOPES, GMAIL_SEND],
            with_calendars=True,
            account_exists=again,
        )
        self.connected_at = self.now
        self.history = {e for e, (_, end) in self.events.items() if end <= self.now}
        return therapist_id

    def _mail(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.env.sandbox.control("GET", "mail")["messages"]
        return [m for m in found if any(p in m["to"] for p in self.patients)]

    def _event_body(self, patient: str, start: datetime) -> dict[str, Any]:
        return {
            "summary": f"Session {patient.split('.')[0]}",
            "start": {"dateTime": start.isoformat(), "timeZone": "Europe/London"},
            "end": {
                "dateTime": (start + timedelta(minutes=50)).isoformat(),
                "timeZone": "Europe/London",
            },
            "attendees": [{"email": patient}],
        }

    # -- rules ----------------------------------------------------------------------------

    @initialize(target=sessions, hours=st.lists(st.integers(-4, 12), min_size=3, max_size=3))
    def a_week_of_sessions(self, hours: list[int]) -> MultipleResults[str]:
        """Each patient has a session around now (some before the connection: history)."""
        return multiple(*(self.create_session(n, h) for n, h in enumerate(hours)))

    @rule(
        target=sessions,
        patient=st.integers(0, 2),
        hours=st.integers(-30, 30),
    )
    def create_session(self, patient: int, hours: int) -> str:
        start = (self.now + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
        event = self.env.sandbox.control(
            "POST",
            f"calendar/{self.therapist}/events",
            self._event_body(self.patients[patient], start),
        )
        end = start + timedelta(minutes=50)
        self.events[event["id"]] = (self.patients[patient], end)
        if end <= self.connected_at:
            self.history.add(event["id"])
        return str(event["id"])

    @rule(session=sessions, colour=st.sampled_from(sorted(COLOURS)))
    def mark_in_calendar(self, session: str, colour: str) -> None:
        self.env.sandbox.control(
            "PATCH", f"calendar/{self.therapist}/events/{session}", {"colorId": colour}
        )

    @rule(
        session=sessions,
        outcome=st.sampled_from(
            [Outcome.NO_SHOW, Outcome.LATE_CANCEL, Outcome.ATTENDED, Outcome.UNMARKED]
        ),
    )
    def mark_on_dashboard(self, session: str, outcome: Outcome) -> None:
        with self.runtime.database.transaction() as db:
            record_mark(
                db,
                therapist_id=self.therapist_id,
                calendar_id=self.therapist,
                event_id=session,
                outcome=outcome,
                source=MarkSource.DASHBOARD,
                now=self.now,
            )

    @rule(session=sessions, hours=st.integers(-6, 6))
    def move_session(self, session: str, hours: int) -> None:
        patient, end = self.events[session]
        start = end - timedelta(minutes=50) + timedelta(hours=hours)
        body = self._event_body(patient, start)
        self.env.sandbox.control(
            "PATCH",
            f"calendar/{self.therapist}/events/{session}",
            {"start": body["start"], "end": body["end"]},
        )
        self.events[session] = (patient, start + timedelta(minutes=50))
        if start + timedelta(minutes=50) <= self.connected_at:
            self.history.add(session)

    @rule(session=sessions, answer=st.sampled_from(["declined", "accepted"]))
    def patient_answers_their_session(self, session: str, answer: str) -> None:
        patient, _ = self.events[session]
        self.env.sandbox.control(
            "POST",
            f"calendar/{self.therapist}/events/{session}/respond",
            {"email": patient, "response": answer},
        )

    @rule(answer=st.sampled_from(["declined", "accepted"]), pick=st.integers(0, 5))
    def patient_answers_an_offer(self, answer: str, pick: int) -> None:
        offers = [
            (row.event_id, row.patient_email)
            for row in self._rows(CalendarEventRow)
            if row.created_by_service and row.patient_email
        ]
        if offers:
            event_id, patient = offers[pick % len(offers)]
            self.env.sandbox.control(
                "POST",
                f"calendar/{self.therapist}/events/{event_id}/respond",
                {"email": patient, "response": answer},
            )

    @rule(fees=st.sampled_from(range(len(FEES))), step=st.sampled_from(range(len(STEP_ONE))))
    def save_settings(self, fees: int, step: int) -> None:
        no_show, late_cancel = FEES[fees]
        before = len(self._mail())
        runtime = self.runtime
        # As the settings page does: record what was due, then save for misses from now on.
        follow_up_therapist(runtime, self.therapist_id, now=self.now, dry_run=False)
        self._observe()
        existing = {m.id for m in self._rows(OutboxMessage)}
        with runtime.database.transaction() as db:
            current = load_settings(db, self.therapist_id)
            policy = replace(
                current.policy,
                no_show_fee=no_show,
                late_cancel_fee=late_cancel,
                ladder=(STEP_ONE[step], *Policy().ladder[1:]),
            )
            save_settings(db, self.therapist_id, with_policy(current, policy), self.now)
        self.fees_in_force = (no_show, late_cancel)
        # a save alone sent nothing
        assert len(self._mail()) == before
        run_cycle(runtime, now=self.now, dry_run=False)
        self._observe()
        # and what the cycle at the same moment sent was all written before the save
        for message in self._rows(OutboxMessage):
            if message.status == MessageStatus.SENT and message.sent_at == self.now:
                assert message.id in existing, message.key

    @rule(minutes=st.sampled_from([1, 20, 45, 90, 119, 121, 180, 300, 600]))
    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self._clock(self.now)
        run_cycle(self.runtime, now=self.now, dry_run=False)
        self._observe()
        # nothing due was skipped: the cycle ran the therapist when something fell due, so
        # a follow-up at this very instant finds nothing left to record
        left = follow_up_therapist(self.runtime, self.therapist_id, now=self.now, dry_run=True)
        assert left == [], left

    @rule(pick=st.integers(0, 5))
    def send_now(self, pick: int) -> None:
        waiting = [
            m
            for m in self._rows(OutboxMessage)
            if m.recipient_role == "patient" and m.status == MessageStatus.PENDING
        ]
        if waiting:
            message = waiting[pick % len(waiting)]
            with self.runtime.database.transaction() as db:
                if review.send_now(db, self.therapist_id, message.id, self.now):
                    self.sent_now.add(message.key)

    @rule()
    def disconnect_and_connect_again(self) -> None:
        self._check_everything()
        disconnect_therapist(self.runtime, self.therapist_id, now=self.now)
        self.now += timedelta(minutes=30)
        self.therapist_id = self._connect(again=True)

    # -- what is observed and checked -------------------------------------------------------

    def _rows(self, model: Any) -> list[Any]:
        with self.runtime.database.transaction() as db:
            if model is OutboxMessage:
                query = select(OutboxMessage).where(OutboxMessage.therapist_id == self.therapist_id)
            elif model is CalendarEventRow:
                query = (
                    select(CalendarEventRow)
                    .join(CalendarRow, CalendarRow.id == CalendarEventRow.calendar_row_id)
                    .where(CalendarRow.therapist_id == self.therapist_id)
                )
            else:
                query = select(model).where(model.therapist_id == self.therapist_id)
            return list(db.scalars(query))

    def _observe(self) -> None:
        """Note, for each patient message written since the last look, the fees in force."""
        for message in self._rows(OutboxMessage):
            if message.recipient_role == "patient":
                self.fees_of.setdefault(message.id, self.fees_in_force)

    def _patient_of(self, event_id: str) -> str | None:
        if event_id in self.events:
            return self.events[event_id][0]
        # one of our own new times, accepted and so a session of its own
        rows = [r for r in self._rows(CalendarEventRow) if r.event_id == event_id]
        return rows[0].patient_email if rows else None

    @invariant()
    def nothing_reaches_a_patient_by_surprise(self) -> None:
        self._check_everything()

    def _check_everything(self) -> None:
        messages = [m for m in self._rows(OutboxMessage) if m.recipient_role == "patient"]
        actions = {a.key: a for a in self._rows(FollowUpAction)}
        per_session: dict[tuple[str, str], int] = {}
        for message in messages:
            if message.status != MessageStatus.SENT:
                continue
            assert message.sent_at is not None
            # held, visible, for the whole hold, unless the therapist sent it at once
            if message.key not in self.sent_now:
                assert message.sent_at - message.created_at >= HOLD, message.key
            action = actions.get(message.key)
            assert action is not None, message.key
            ref = (action.calendar_id, action.event_id)
            per_session[ref] = per_session.get(ref, 0) + 1
            patient = self._patient_of(action.event_id)
            # to the session's patient only
            assert patient is not None and message.recipient.lower() == patient.lower()
            # never about a session that ended before connecting
            assert action.event_id not in self.history
            # the fee sentence quotes the fee set for its case when it was decided
            no_show, late_cancel = self.fees_of.get(message.id, self.fees_in_force)
            expected = no_show if action.outcome == Outcome.NO_SHOW.value else late_cancel
            quoted = set(_AMOUNT.findall(message.text))
            assert quoted <= ({expected.decimal_text()} if expected else set()), (
                quoted,
                expected,
            )
        # one email per missed session
        assert all(number <= 1 for number in per_session.values()), per_session
        # what Gmail holds is what the outbox says was sent (nothing else went out)
        sent_mail = self._mail()
        assert len(sent_mail) >= len([m for m in messages if m.status == MessageStatus.SENT])


def test_no_surprises_under_random_use(sandboxed_app: Any, connect: Callable[..., int]) -> None:
    NoSurprises.env = sandboxed_app
    sandboxed_app.app.config["PUSH_NOTIFICATIONS"] = "off"
    examples = int(os.environ.get("SOAK_EXAMPLES", "25"))
    steps = int(os.environ.get("SOAK_STEPS", "50"))
    run_state_machine_as_test(
        NoSurprises,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            derandomize="SOAK_EXAMPLES" not in os.environ,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
