"""The sandbox's pages for people: sent mail with working links, and acting as the patient."""

from __future__ import annotations

import urllib.parse
import urllib.request

from calendar_sync.sandbox.home import linkify
from calendar_sync.sandbox.testing import RunningSandbox

THERAPIST = "dr.rivera@example.test"
PATIENT = "sam.okoro@example.test"


def _page(sandbox: RunningSandbox, path: str) -> str:
    with urllib.request.urlopen(sandbox.url + path, timeout=10) as response:
        return str(response.read().decode())


def _session(sandbox: RunningSandbox) -> str:
    sandbox.add_account(THERAPIST, "Dr Alex Rivera", "Europe/London")
    event = sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events?sendUpdates=all",
        {
            "summary": "Sam O. / Dr Rivera",
            "start": {"dateTime": "2026-03-19T10:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-19T10:50:00", "timeZone": "Europe/London"},
            "attendees": [{"email": PATIENT}],
        },
    )
    return str(event["id"])


def test_links_in_mail_are_clickable_and_text_is_escaped() -> None:
    html = str(linkify("Choose here: http://127.0.0.1:5000/p/abc.def. <b>Thanks</b>"))
    assert '<a href="http://127.0.0.1:5000/p/abc.def">' in html
    assert "abc.def</a>." in html
    assert "&lt;b&gt;Thanks&lt;/b&gt;" in html


def test_a_guest_accepts_from_the_invitations_page(sandbox: RunningSandbox) -> None:
    event_id = _session(sandbox)
    page = _page(sandbox, "invitations")
    assert PATIENT in page and "Sam O. / Dr Rivera" in page and "not answered" in page
    form = urllib.parse.urlencode(
        {"calendar_id": THERAPIST, "event_id": event_id, "email": PATIENT, "response": "accepted"}
    ).encode()
    request = urllib.request.Request(sandbox.url + "invitations/respond", data=form)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.url == sandbox.url + "invitations#answered"
    event = sandbox.state.calendar.get_event(THERAPIST, THERAPIST, event_id)
    assert event["attendees"][0]["responseStatus"] == "accepted"
    assert "accepted" in _page(sandbox, "invitations")


def test_an_unknown_answer_is_refused(sandbox: RunningSandbox) -> None:
    event_id = _session(sandbox)
    form = urllib.parse.urlencode(
        {"calendar_id": THERAPIST, "event_id": event_id, "email": PATIENT, "response": "maybe?"}
    ).encode()
    request = urllib.request.Request(sandbox.url + "invitations/respond", data=form)
    try:
        urllib.request.urlopen(request, timeout=10)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    assert status == 400
    event = sandbox.state.calendar.get_event(THERAPIST, THERAPIST, event_id)
    assert event["attendees"][0].get("responseStatus") == "needsAction"


def test_the_owner_edits_one_session_of_a_series(sandbox: RunningSandbox) -> None:
    sandbox.add_account(THERAPIST, "Dr Alex Rivera", "Europe/London")
    series = sandbox.control(
        "POST",
        f"calendar/{THERAPIST}/events",
        {
            "summary": "Session JM",
            "start": {"dateTime": "2026-03-02T10:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-02T10:50:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        },
    )
    instance = f"{series['id']}_20260309T100000Z"
    edited = sandbox.control("PATCH", f"calendar/{THERAPIST}/events/{instance}", {"colorId": "11"})
    assert edited["colorId"] == "11" and edited["recurringEventId"] == series["id"]
    assert "colorId" not in sandbox.state.calendar.get_event(THERAPIST, THERAPIST, series["id"])


def test_the_mail_page_lists_sent_mail(sandbox: RunningSandbox) -> None:
    assert "No mail sent yet." in _page(sandbox, "mail")
    assert "Act as the patient" in _page(sandbox, "")
