"""What each email template is given: its variables, and fictional sample values.

``VARIABLES`` documents the context of every message (what the plain-words fields of
:mod:`calendar_sync.mail.wording` read); ``SAMPLE_CONTEXTS`` fills previews and tests;
``SPARSE_CONTEXTS`` holds the same messages with every optional value empty, and
:func:`check_contexts` every case an edited text is checked against before it is saved. The
orchestration passes every documented variable, using ``None`` or ``[]`` for what does not
apply.
"""

from __future__ import annotations

import itertools
from typing import Any

#: Messages that go to the patient (no clinical words, first name only).
PATIENT_MESSAGES = ("checkin", "reschedule_note")
#: Messages that go to the therapist only; ``termination_draft`` is never sent to a patient.
THERAPIST_MESSAGES = ("unmarked_reminder", "pattern_alert", "termination_draft")
MESSAGES = PATIENT_MESSAGES + THERAPIST_MESSAGES
#: What a therapist writes of each message: the subject and one text (the HTML is made from it).
PARTS = ("subject", "text")

_THERAPIST = "therapist.name, therapist.practice (may be empty): the sign-off"
_PATIENT = "patient.first_name: the patient's first name, or as the therapist wrote it"
_SESSION = 'session.when: the appointment, in words ("Tuesday 3 March at 10:00")'
_PROPOSAL = "proposal.when: the new time offered (an invitation is in their calendar), or None"
_CHOOSE = "choose_time_url: link to the page where the patient picks another time"
_CONTACT = "get_in_touch_url: link that asks the therapist to get in touch"
_HISTORY = "history: list of {when, outcome} for recent sessions, newest first"
_DASHBOARD = "dashboard_url: link to the dashboard"

VARIABLES: dict[str, dict[str, str]] = {
    "checkin": {
        "therapist": _THERAPIST,
        "patient": _PATIENT,
        "session": _SESSION,
        "outcome": 'outcome: "no_show" or "late_cancel"',
        "ticked": "ticked.checkin, ticked.new_time, ticked.policy, ticked.barriers: the parts "
        "of this step the therapist ticked (true or false)",
        "proposal": "proposal.when: the new time offered (an invitation is in their calendar); "
        "None when no new time is offered or none was found",
        "choose_time_url": _CHOOSE + " (None unless a new time is offered)",
        "get_in_touch_url": _CONTACT,
        "policy": 'policy.notice ("24 hours"); policy.fee ("£60.00", the fee for this '
        "outcome) only when a fee applies to this patient, else None; policy is None "
        "unless the cancellation policy is ticked",
        "survey_url": "survey_url: link to the short question about what gets in the way "
        "(None unless that question is ticked)",
    },
    "reschedule_note": {
        "therapist": _THERAPIST,
        "patient": _PATIENT,
        "session": "session.when: the appointment being replaced, or None",
        "proposal": "proposal.when: the new time offered (always given here)",
        "reason": 'reason: "late_cancel", "declined" (a proposal was declined) or None',
        "choose_time_url": _CHOOSE,
        "get_in_touch_url": _CONTACT,
    },
    "unmarked_reminder": {
        "therapist": _THERAPIST,
        "sessions": "sessions: list of {label (the event title), when, mark_urls.attended, "
        "mark_urls.no_show, mark_urls.late_cancel, mark_urls.cancelled, followup_starts "
        "(when the follow-up starts if left unmarked, or None if nothing will go out)}",
        "dashboard_url": _DASHBOARD,
    },
    "pattern_alert": {
        "therapist": _THERAPIST,
        "patient": _PATIENT,
        "misses_in_window": "misses_in_window: how many misses in the rolling window",
        "window_days": "window_days: the rolling window, in days",
        "history": _HISTORY,
        "survey_answers": "survey_answers: list of {when, answer} the patient gave, maybe empty",
        "dashboard_url": _DASHBOARD,
    },
    "termination_draft": {
        "therapist": _THERAPIST,
        "patient": _PATIENT,
        "misses_in_window": "misses_in_window: how many misses in the rolling window",
        "window_days": "window_days: the rolling window, in days",
        "history": _HISTORY,
        "dashboard_url": _DASHBOARD,
    },
}

_BASE = "https://practice.example.test"
_ME = {"name": "Dr Maya Lindqvist", "practice": "Riverside Rooms"}
_SAM = {"first_name": "Sam"}
_LINKS = {
    "choose_time_url": f"{_BASE}/p/choose/sample-token",
    "get_in_touch_url": f"{_BASE}/p/contact/sample-token",
}
_HISTORY_SAMPLE = [
    {"when": "Tuesday 10 March at 10:00", "outcome": "no-show"},
    {"when": "Tuesday 3 March at 10:00", "outcome": "attended"},
    {"when": "Tuesday 24 February at 10:00", "outcome": "late cancel"},
    {"when": "Tuesday 10 February at 10:00", "outcome": "no-show"},
]


def _marks(event: str) -> dict[str, str]:
    return {
        outcome: f"{_BASE}/m/{event}/{outcome}"
        for outcome in ("attended", "no_show", "late_cancel", "cancelled")
    }


def checkin_sample(
    *,
    checkin: bool = True,
    new_time: bool = True,
    policy: bool = True,
    barriers: bool = True,
    outcome: str = "no_show",
    fee: bool = True,
    found: bool = True,
) -> dict[str, Any]:
    """A check-in's context with the given parts ticked, as the follow-up builds it.

    ``fee``: a fee applies (£60.00 after a no-show, £40.00 after a late cancel); ``found``:
    a new time was found and is in the patient's calendar.
    """
    amount = "£60.00" if outcome == "no_show" else "£40.00"
    return {
        "therapist": _ME,
        "patient": _SAM,
        "session": {"when": "Tuesday 10 March at 10:00"},
        "outcome": outcome,
        "ticked": {
            "checkin": checkin,
            "new_time": new_time,
            "policy": policy,
            "barriers": barriers,
        },
        "proposal": {"when": "Thursday 12 March at 15:00"} if new_time and found else None,
        "choose_time_url": _LINKS["choose_time_url"] if new_time else None,
        "get_in_touch_url": _LINKS["get_in_touch_url"],
        "policy": {"notice": "24 hours", "fee": amount if fee else None} if policy else None,
        "survey_url": f"{_BASE}/p/survey/sample-token" if barriers else None,
    }


SAMPLE_CONTEXTS: dict[str, dict[str, Any]] = {
    "checkin": checkin_sample(),
    "reschedule_note": {
        "therapist": _ME,
        "patient": _SAM,
        "session": {"when": "Tuesday 10 March at 10:00"},
        "proposal": {"when": "Thursday 12 March at 15:00"},
        "reason": "late_cancel",
        **_LINKS,
    },
    "unmarked_reminder": {
        "therapist": _ME,
        "sessions": [
            {
                "label": "Sam R",
                "when": "today at 10:00",
                "mark_urls": _marks("sample-1"),
                "followup_starts": "tomorrow at 06:50",
            },
            {
                "label": "AB",
                "when": "today at 14:00",
                "mark_urls": _marks("sample-2"),
                "followup_starts": None,
            },
        ],
        "dashboard_url": f"{_BASE}/dashboard",
    },
    "pattern_alert": {
        "therapist": _ME,
        "patient": _SAM,
        "misses_in_window": 3,
        "window_days": 90,
        "history": _HISTORY_SAMPLE,
        "survey_answers": [{"when": "12 February", "answer": "My shifts changed at work."}],
        "dashboard_url": f"{_BASE}/dashboard",
    },
    "termination_draft": {
        "therapist": _ME,
        "patient": _SAM,
        "misses_in_window": 4,
        "window_days": 90,
        "history": _HISTORY_SAMPLE,
        "dashboard_url": f"{_BASE}/dashboard",
    },
}

#: The samples with every optional value empty, as the orchestration may pass them.
SPARSE_CONTEXTS: dict[str, dict[str, Any]] = {
    "checkin": checkin_sample(
        new_time=False, policy=False, barriers=False, outcome="late_cancel", fee=False
    ),
    "reschedule_note": {**SAMPLE_CONTEXTS["reschedule_note"], "session": None, "reason": None},
    "unmarked_reminder": {
        **SAMPLE_CONTEXTS["unmarked_reminder"],
        "therapist": {"name": "Dr Maya Lindqvist", "practice": ""},
        "sessions": SAMPLE_CONTEXTS["unmarked_reminder"]["sessions"][:1],
    },
    "pattern_alert": {**SAMPLE_CONTEXTS["pattern_alert"], "history": [], "survey_answers": []},
    "termination_draft": {**SAMPLE_CONTEXTS["termination_draft"], "history": []},
}


def check_contexts(name: str) -> list[dict[str, Any]]:
    """Every case an edited text of ``name`` must fill in without fault.

    For the check-in, every combination of ticked parts, outcome, fee and new time found;
    for the others, the sample and its sparse twin.
    """
    if name != "checkin":
        return [SAMPLE_CONTEXTS[name], SPARSE_CONTEXTS[name]]
    flags = (True, False)
    return [
        checkin_sample(checkin=c, new_time=n, policy=p, barriers=b, outcome=o, fee=f, found=found)
        for c, n, p, b, f, found in itertools.product(flags, repeat=6)
        for o in ("no_show", "late_cancel")
    ]
