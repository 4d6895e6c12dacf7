"""What Meet evidence changes in the decision: present, absent, brief, and never over a mark."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calendar_sync.domain.decide import decide
from calendar_sync.domain.decisions import Decision
from calendar_sync.domain.marks import Mark, MarkSource
from calendar_sync.domain.meet import Attendance, CallEvidence
from calendar_sync.domain.money import Money
from calendar_sync.domain.outcomes import Outcome
from calendar_sync.domain.policy import ActionKind, Policy
from calendar_sync.domain.unmarked import UnmarkedConvention, UnmarkedRules

from .test_decide import CONNECTED, PATIENTS, THERAPIST_ID, session

A = ActionKind
SESSION = session()
END = SESSION.end
READ = END + timedelta(minutes=12)


def run(
    attendance: Attendance,
    now: object,
    marks: list[Mark] | None = None,
    policy: Policy | None = None,
) -> list[Decision]:
    evidence = {SESSION.ref: CallEvidence(attendance, READ)}
    return decide(
        [SESSION],
        marks or [],
        PATIENTS,
        policy or Policy(),
        CONNECTED,
        now,  # type: ignore[arg-type]
        therapist_id=THERAPIST_ID,
        evidence=evidence,
    )


@pytest.mark.parametrize("hours", [2, 20, 30])
def test_present_is_attended_no_reminder_and_nothing_for_the_patient(hours: int) -> None:
    assert run(Attendance.PRESENT, END + timedelta(hours=hours)) == []


def test_absent_is_a_miss_as_soon_as_it_is_read() -> None:
    assert run(Attendance.ABSENT, READ - timedelta(minutes=1)) == []
    [decision] = run(Attendance.ABSENT, READ, policy=Policy(no_show_fee=Money(5000, "GBP")))
    assert decision.outcome is Outcome.NO_SHOW
    assert decision.decided_by is MarkSource.MEET and decision.assumed
    assert A.EMAIL_CHECKIN in decision.kinds
    assert {a.due_at for a in decision.actions} == {READ}
    # An assumed no-show is not charged unless the therapist chose to.
    assert A.RECORD_FEE not in decision.kinds and decision.fee is None
    assert "Google Meet showed nobody but you joined" in decision.explanation


def test_a_mark_always_wins_over_the_call() -> None:
    marked = Mark(
        SESSION.calendar_id, SESSION.event_id, Outcome.ATTENDED, MarkSource.DASHBOARD, END
    )
    assert run(Attendance.ABSENT, END + timedelta(hours=21), [marked]) == []
    missed = Mark(SESSION.calendar_id, SESSION.event_id, Outcome.NO_SHOW, MarkSource.DASHBOARD, END)
    [decision] = run(Attendance.PRESENT, END + timedelta(hours=1), [missed])
    assert decision.outcome is Outcome.NO_SHOW and decision.decided_by is MarkSource.DASHBOARD


@pytest.mark.parametrize("attendance", [Attendance.BRIEF, Attendance.NO_EVIDENCE])
def test_brief_or_no_record_leaves_the_convention(attendance: Attendance) -> None:
    assert run(attendance, READ) == []
    [reminder] = run(attendance, END + timedelta(hours=2))
    assert reminder.kinds == {A.REMIND_THERAPIST_TO_MARK}
    [miss] = run(attendance, END + timedelta(hours=20))
    assert miss.outcome is Outcome.NO_SHOW and miss.decided_by is None


def test_always_ask_still_asks_when_only_the_therapist_joined() -> None:
    ask = Policy(unmarked=UnmarkedRules(convention=UnmarkedConvention.ALWAYS_ASK))
    [reminder] = run(Attendance.ABSENT, END + timedelta(hours=3), policy=ask)
    assert reminder.kinds == {A.REMIND_THERAPIST_TO_MARK}
