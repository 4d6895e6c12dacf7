"""Today on the dashboard: what is about to go out, what needs the therapist, late offers."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from calendar_sync.mail.templates import RenderedEmail
from calendar_sync.services.outbox.dispatch import enqueue
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import FollowUpAction, OutboxMessage

from .conftest import CSRF, Practice

THERAPIST = "dr.rivera@example.test"
OTHER = "dr.okafor@example.test"
PATIENT = "sam.patient@example.test"
SECOND_PATIENT = "alex.patient@example.test"


def queue(practice: Practice, therapist_id: int, key: str, *, in_hours: float = 2) -> int:
    with runtime_of(practice.app).database.transaction() as db:
        enqueue(
            db,
            therapist_id=therapist_id,
            key=key,
            kind="checkin",
            recipient_role="patient",
            to=PATIENT,
            rendered=RenderedEmail(
                f"Our appointment ({key})", "Hello Sam,\nwe missed you.", "<p>Hello Sam</p>"
            ),
            not_before=practice.now + timedelta(hours=in_hours),
            now=practice.now,
        )
        return int(db.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) or 0)


def status(practice: Practice, message_id: int) -> str:
    with runtime_of(practice.app).database.transaction() as db:
        found = db.get(OutboxMessage, message_id)
        assert found is not None
        return found.status


def set_status(practice: Practice, message_id: int, value: str, error: str | None) -> None:
    with runtime_of(practice.app).database.transaction() as db:
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status=value, last_error=error)
        )


def post(browser: Any, url: str, **data: str) -> Any:
    return browser.post(url, data={"csrf_token": CSRF, **data}, timeout=10, allow_redirects=False)


def test_about_to_go_out_can_be_held_released_and_cancelled(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    soon = queue(practice, therapist_id, "soon")
    later = queue(practice, therapist_id, "later", in_hours=30)
    browser = practice.browser(therapist_id)
    page = browser.get(practice.url + "/dashboard", timeout=10).text
    assert "Our appointment (soon)" in page and "Our appointment (later)" not in page
    assert "we missed you." in page  # the exact text, readable before it goes

    url = f"{practice.url}/outbox/{soon}"
    refused = browser.post(url + "/hold", data={}, timeout=10, allow_redirects=False)
    assert refused.status_code == 400 and status(practice, soon) == "pending"
    held = post(browser, url + "/hold")
    assert held.status_code == 302 and held.headers["Location"].startswith("/dashboard")
    assert status(practice, soon) == "held"
    page = browser.get(practice.url + "/dashboard", timeout=10).text
    assert "Held: it will not go out until you release it." in page
    assert f'action="/outbox/{soon}/send-now"' in page
    assert post(browser, url + "/release").status_code == 302
    assert status(practice, soon) == "pending"
    # Send now ends its hold: it goes at the next run
    assert post(browser, url + "/send-now").status_code == 302
    with runtime_of(practice.app).database.transaction() as db:
        message = db.get(OutboxMessage, soon)
        assert message is not None and message.not_before == practice.now
    assert post(browser, url + "/cancel").status_code == 302
    assert status(practice, soon) == "cancelled"
    page = browser.get(practice.url + "/dashboard", timeout=10).text
    assert "Our appointment (soon)" not in page
    # cancelled stays cancelled: holding it now is refused with a message
    post(browser, url + "/hold")
    assert status(practice, soon) == "cancelled"
    assert status(practice, later) == "pending"
    # an outside address in "next" is not followed
    away = post(browser, f"{practice.url}/outbox/{later}/hold", next="https://evil.example.test/")
    assert away.headers["Location"] == "/dashboard"


def test_another_therapist_cannot_touch_a_message(practice: Practice) -> None:
    owner = practice.therapist(THERAPIST)
    message = queue(practice, owner, "mine")
    other = practice.browser(practice.therapist(OTHER))
    for action in ("hold", "cancel", "release", "sent", "not-sent"):
        answer = post(other, f"{practice.url}/outbox/{message}/{action}")
        assert answer.status_code == 404, action
    assert status(practice, message) == "pending"
    assert "Our appointment (mine)" not in other.get(practice.url + "/dashboard", timeout=10).text


def test_unknown_and_failed_messages_ask_the_therapist(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    unknown = queue(practice, therapist_id, "unknown")
    again = queue(practice, therapist_id, "again")
    failed = queue(practice, therapist_id, "failed")
    set_status(practice, unknown, "unknown", "The connection dropped while sending.")
    set_status(practice, again, "unknown", "The connection dropped while sending.")
    set_status(practice, failed, "failed", "The address was refused.")
    browser = practice.browser(therapist_id)
    page = browser.get(practice.url + "/dashboard", timeout=10).text
    assert 'id="attention"' in page
    assert "never sends it again on its own" in page
    assert "Not sent: The address was refused." in page
    assert post(browser, f"{practice.url}/outbox/{unknown}/sent").status_code == 302
    assert status(practice, unknown) == "sent"
    assert post(browser, f"{practice.url}/outbox/{again}/not-sent").status_code == 302
    assert status(practice, again) == "pending"
    # a settled message cannot be settled twice
    post(browser, f"{practice.url}/outbox/{unknown}/not-sent")
    assert status(practice, unknown) == "sent"
    assert post(browser, f"{practice.url}/outbox/{failed}/release").status_code == 302
    assert status(practice, failed) == "pending"


def actions(practice: Practice) -> dict[str, str]:
    with runtime_of(practice.app).database.transaction() as db:
        return {a.key: a.status for a in db.scalars(select(FollowUpAction))}


def test_a_late_follow_up_is_offered_then_sent_or_dropped(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=5))
    practice.session(THERAPIST, SECOND_PATIENT, practice.now - timedelta(days=6))
    practice.tick()
    assert not [m for m in practice.mail() if PATIENT in m["to"] or SECOND_PATIENT in m["to"]]
    assert "offered" in actions(practice).values()
    browser = practice.browser(therapist_id)
    page = browser.get(practice.url + "/dashboard", timeout=10).text
    assert "Late follow-ups waiting for you" in page
    offers = re.findall(r'action="/followups/(\d+)/send"', page)
    assert len(offers) == 2
    # the dashboard lists offers oldest first: the second patient's session is older
    drop_id, send_id = offers
    other = practice.browser(practice.therapist(OTHER))
    assert post(other, f"{practice.url}/followups/{send_id}/send").status_code == 404
    assert post(other, f"{practice.url}/followups/{drop_id}/drop").status_code == 404
    assert "offered" in actions(practice).values()  # nothing moved for the other therapist

    assert post(browser, f"{practice.url}/followups/{send_id}/send").status_code == 302
    assert post(browser, f"{practice.url}/followups/{drop_id}/drop").status_code == 302
    statuses = set(actions(practice).values())
    assert "offered" not in statuses and {"queued", "dismissed"} <= statuses
    page = browser.get(practice.url + "/dashboard", timeout=10).text
    assert "Late follow-ups waiting for you" not in page
    # sending twice does nothing more
    post(browser, f"{practice.url}/followups/{send_id}/send")
    practice.tick(practice.now + timedelta(minutes=1))
    assert len([m for m in practice.mail() if PATIENT in m["to"]]) == 1
    assert not [m for m in practice.mail() if SECOND_PATIENT in m["to"]]


def test_an_offer_is_not_sent_once_the_session_is_marked_attended(practice: Practice) -> None:
    therapist_id = practice.therapist(THERAPIST)
    practice.session(THERAPIST, PATIENT, practice.now - timedelta(days=5))
    practice.tick()
    browser = practice.browser(therapist_id)
    page = browser.get(practice.url + "/dashboard", timeout=10).text
    offer = re.search(r'action="/followups/(\d+)/send"', page)
    assert offer is not None
    with runtime_of(practice.app).database.transaction() as db:
        action = db.get(FollowUpAction, int(offer.group(1)))
        assert action is not None
        calendar_id, event_id = action.calendar_id, action.event_id
    marked = post(
        browser,
        practice.url + "/sessions/mark",
        calendar_id=calendar_id,
        event_id=event_id,
        outcome="attended",
    )
    assert marked.status_code == 302
    answer = browser.post(
        f"{practice.url}/followups/{offer.group(1)}/send",
        data={"csrf_token": CSRF},
        timeout=10,
    )
    assert "no longer counts as missed" in answer.text
    assert "offered" in actions(practice).values()
    practice.tick(practice.now + timedelta(minutes=1))
    assert not [m for m in practice.mail() if PATIENT in m["to"]]
