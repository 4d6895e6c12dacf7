"""The outbox: each message once, whatever fails, and always in a state the therapist sees."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from calendar_sync.google.oauth import CALENDAR_EVENTS, EMAIL, GMAIL_SEND, OPENID
from calendar_sync.mail.samples import SAMPLE_CONTEXTS
from calendar_sync.mail.templates import render
from calendar_sync.mail.transports import NO_GMAIL_SCOPE, RECONNECT
from calendar_sync.services.outbox import review as outbox_review
from calendar_sync.services.outbox.dispatch import LEASE, MessageStatus, dispatch_due, enqueue
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage import Database
from calendar_sync.storage.models import DevMail, GoogleConnection, OutboxMessage, Therapist

NOW = datetime.now(UTC).replace(microsecond=0)
THERAPIST = "dr.lindqvist@example.test"
PATIENT = "sam.r@example.test"
SEND = "gmail.users.messages.send"
SCOPES = [OPENID, EMAIL, CALENDAR_EVENTS, GMAIL_SEND]


def _add(app: Any, therapist_id: int, key: str = "email_checkin:abc", **kwargs: Any) -> bool:
    with runtime_of(app).database.transaction() as db:
        return enqueue(
            db,
            therapist_id=therapist_id,
            key=key,
            kind=kwargs.get("kind", "checkin"),
            recipient_role=kwargs.get("role", "patient"),
            to=kwargs.get("to", PATIENT),
            rendered=render("checkin", SAMPLE_CONTEXTS["checkin"]),
            not_before=kwargs.get("not_before", NOW - timedelta(minutes=1)),
            now=NOW - timedelta(minutes=1),
        )


def _rows(app: Any) -> list[OutboxMessage]:
    with runtime_of(app).database.transaction() as db:
        return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _status(app: Any) -> str:
    [row] = _rows(app)
    return row.status


def _mail(sandbox: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sandbox.control("GET", "mail")["messages"]
    return messages


def _calls(sandbox: Any) -> int:
    return int(sandbox.control("GET", "calls")["calls"].get(SEND, 0))


@pytest.fixture
def therapist(connect: Callable[..., int]) -> int:
    return connect(THERAPIST, NOW, scopes=SCOPES)


# --- enqueue -------------------------------------------------------------------------------


def _bare_therapist(database: Database) -> int:
    with database.transaction() as db:
        row = Therapist(
            google_subject="sub-outbox", email=THERAPIST, display_name="", created_at=NOW
        )
        db.add(row)
        db.flush()
        return row.id


def test_enqueue_twice_with_one_key_keeps_one_row(any_database_url: str) -> None:
    database = Database(any_database_url)
    database.upgrade()
    try:
        therapist_id = _bare_therapist(database)
        first = render("checkin", SAMPLE_CONTEXTS["checkin"])
        second = render("reschedule_note", SAMPLE_CONTEXTS["reschedule_note"])
        results = []
        for rendered in (first, second):
            with database.transaction() as db:
                results.append(
                    enqueue(
                        db,
                        therapist_id=therapist_id,
                        key="email_checkin:same",
                        kind="checkin",
                        recipient_role="patient",
                        to=PATIENT,
                        rendered=rendered,
                        not_before=NOW,
                        now=NOW,
                    )
                )
        assert results == [True, False]
        with database.transaction() as db:
            [row] = db.scalars(select(OutboxMessage)).all()
            assert row.subject == first.subject and row.status == MessageStatus.PENDING
    finally:
        database.dispose()


def test_enqueue_commits_with_the_callers_transaction(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    database.upgrade()
    therapist_id = _bare_therapist(database)
    with pytest.raises(RuntimeError), database.transaction() as db:
        enqueue(
            db,
            therapist_id=therapist_id,
            key="email_checkin:rolled-back",
            kind="checkin",
            recipient_role="patient",
            to=PATIENT,
            rendered=render("checkin", SAMPLE_CONTEXTS["checkin"]),
            not_before=NOW,
            now=NOW,
        )
        raise RuntimeError("the decision failed after the enqueue")
    with database.transaction() as db:
        assert db.scalars(select(OutboxMessage)).all() == []
    database.dispose()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "termination_draft", "role": "patient"}, "therapist only"),
        ({"to": "sam@example.test, eve@example.test"}, "one plain"),
        ({"kind": "goodbye"}, "unknown message kind"),
    ],
)
def test_enqueue_refuses_what_must_never_go_out(
    app: Any, kwargs: dict[str, Any], match: str
) -> None:
    therapist_id = _bare_therapist(runtime_of(app).database)
    with pytest.raises(ValueError, match=match):
        _add(app, therapist_id, **kwargs)


# --- dispatch through Gmail ----------------------------------------------------------------


def test_due_message_is_sent_once_from_the_therapists_gmail(
    sandboxed_app: Any, therapist: int
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    _add(app, therapist)
    _add(app, therapist, key="email_checkin:later", not_before=NOW + timedelta(hours=1))
    lines = dispatch_due(runtime_of(app), NOW)
    assert lines == ["The check-in email to the patient (message 1) was sent."]
    [sent] = _mail(sandbox)
    assert sent["to"] == [PATIENT] and THERAPIST in sent["from"]
    assert sent["text"].startswith("Hi Sam,") and "<p>Hi Sam,</p>" in sent["html"]
    first, later = _rows(app)
    assert (first.status, later.status) == (MessageStatus.SENT, MessageStatus.PENDING)
    assert first.provider_message_id == sent["id"] and first.attempts == 1
    # running again sends nothing more
    assert dispatch_due(runtime_of(app), NOW + timedelta(minutes=5)) == []
    assert len(_mail(sandbox)) == 1


def test_two_dispatchers_at_once_send_each_message_once(sandboxed_app: Any, therapist: int) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    for n in range(6):
        _add(app, therapist, key=f"email_checkin:{n}")
    start = threading.Barrier(2)
    results: list[list[str]] = []

    def run(worker: str) -> None:
        start.wait()
        results.append(dispatch_due(runtime_of(app), NOW, worker_id=worker))

    threads = [threading.Thread(target=run, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(line.endswith("was sent.") for lines in results for line in lines) == 6
    assert _calls(sandbox) == 6
    ids = [dict(m["headers"])["Message-ID"] for m in _mail(sandbox)]
    assert len(set(ids)) == 6
    assert {row.status for row in _rows(app)} == {MessageStatus.SENT}


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ({"status": 500}, MessageStatus.UNKNOWN),
        ({"status": 503}, MessageStatus.UNKNOWN),
        ({"timeout": 0.2}, MessageStatus.UNKNOWN),
        ({"timeout": 0.2, "after_processing": True}, MessageStatus.UNKNOWN),
        ({"status": 403, "reason": "forbidden"}, MessageStatus.FAILED),
    ],
)
def test_a_failed_send_is_never_repeated_by_the_next_dispatch(
    sandboxed_app: Any, therapist: int, fault: dict[str, Any], status: str
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    _add(app, therapist)
    sandbox.control("POST", "faults", {"method": SEND, **fault})
    [line] = dispatch_due(runtime_of(app), NOW)
    assert "not confirmed" in line and PATIENT not in line
    [row] = _rows(app)
    assert row.status == status and row.last_error
    assert PATIENT not in row.last_error and "Sam" not in row.last_error
    for later in (NOW + timedelta(minutes=5), NOW + LEASE * 3):
        assert _dispatch_at(app, later) == []
    assert _calls(sandbox) == 1
    assert len(_mail(sandbox)) == (1 if fault.get("after_processing") else 0)
    assert _status(app) == status


def test_rate_limited_send_waits_and_goes_at_the_next_dispatch(
    sandboxed_app: Any, therapist: int
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    _add(app, therapist)
    sandbox.control("POST", "faults", {"method": SEND, "status": 429})
    dispatch_due(runtime_of(app), NOW)
    [row] = _rows(app)
    assert row.status == MessageStatus.PENDING and "slow down" in (row.last_error or "")
    dispatch_due(runtime_of(app), NOW + timedelta(minutes=5))
    assert _status(app) == MessageStatus.SENT and len(_mail(sandbox)) == 1


def test_without_the_gmail_scope_nothing_is_sent_and_the_therapist_is_told(
    sandboxed_app: Any, connect: Callable[..., int]
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    therapist_id = connect(THERAPIST, NOW, scopes=[OPENID, EMAIL, CALENDAR_EVENTS])
    _add(app, therapist_id)
    [line] = dispatch_due(runtime_of(app), NOW)
    assert NO_GMAIL_SCOPE in line
    [row] = _rows(app)
    assert (row.status, row.last_error) == (MessageStatus.FAILED, NO_GMAIL_SCOPE)
    assert _calls(sandbox) == 0
    with runtime_of(app).database.transaction() as db:
        assert [m.id for m in outbox_review.needing_attention(db, therapist_id)] == [row.id]


def test_lost_google_access_pauses_the_message_until_reconnected(
    sandboxed_app: Any, therapist: int
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    _add(app, therapist)
    runtime_of(app).connections.mark_needs_reauth(therapist, "access was revoked")
    dispatch_due(runtime_of(app), NOW)
    [row] = _rows(app)
    assert (row.status, row.last_error) == (MessageStatus.PENDING, RECONNECT)
    assert _calls(sandbox) == 0
    with runtime_of(app).database.transaction() as db:
        db.execute(update(GoogleConnection).values(status="active", problem=None))
    dispatch_due(runtime_of(app), NOW + timedelta(minutes=5))
    assert _status(app) == MessageStatus.SENT and len(_mail(sandbox)) == 1


def test_dry_run_lists_and_changes_nothing(sandboxed_app: Any, therapist: int) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    _add(app, therapist)
    assert dispatch_due(runtime_of(app), NOW, dry_run=True) == [
        "Would send the check-in email to the patient (message 1)."
    ]
    assert _status(app) == MessageStatus.PENDING and _calls(sandbox) == 0


# --- a worker killed mid-way ---------------------------------------------------------------

_WORKER = """
import sys
from datetime import datetime
from calendar_sync import create_app
from calendar_sync.services.outbox.dispatch import dispatch_due
from calendar_sync.services.runtime import runtime_of
app = create_app()
dispatch_due(runtime_of(app), datetime.fromisoformat(sys.argv[1]), worker_id="doomed")
"""


def _spawn_worker(sandboxed_app: Any, now: datetime) -> subprocess.Popen[bytes]:
    config = sandboxed_app.app.config
    env = {
        **os.environ,
        "DATABASE_URL": config["DATABASE_URL"],
        "SECRET_KEY": config["SECRET_KEY"],
        "TOKEN_ENCRYPTION_KEYS": ",".join(config["TOKEN_ENCRYPTION_KEYS"]),
        "PUBLIC_URL": config["PUBLIC_URL"],
        "GOOGLE_API_ROOT": config["GOOGLE_API_ROOT"],
        "GOOGLE_CLIENT_SECRETS": config["GOOGLE_CLIENT_SECRETS"],
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _WORKER, now.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _dispatch_at(app: Any, when: datetime) -> list[str]:
    """A dispatch by another worker at wall-clock time ``when`` (leases go by the wall clock)."""
    runtime = runtime_of(app)
    runtime.clock = lambda: when
    return dispatch_due(runtime, when)


def _kill(worker: subprocess.Popen[bytes]) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL


def test_worker_killed_while_sending_is_marked_unknown_never_resent(
    sandboxed_app: Any, therapist: int
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    _add(app, therapist)
    # Gmail takes the message, then the answer hangs: the worker sits inside the call.
    sandbox.control("POST", "faults", {"method": SEND, "timeout": 8, "after_processing": True})
    worker = _spawn_worker(sandboxed_app, NOW)
    try:
        _wait_for(lambda: len(_mail(sandbox)) == 1, "Gmail to receive the message")
        assert _status(app) == MessageStatus.SENDING
    finally:
        _kill(worker)
    # The worker's lease began (by its wall clock) a moment before it died.
    died = datetime.now(UTC)
    # within the lease, nobody touches it: the worker might still be alive
    assert _dispatch_at(app, died + timedelta(minutes=1)) == []
    assert _status(app) == MessageStatus.SENDING
    [line] = _dispatch_at(app, died + LEASE + timedelta(seconds=1))
    assert "may or may not have gone out" in line
    [row] = _rows(app)
    assert row.status == MessageStatus.UNKNOWN and "stopped while sending" in (row.last_error or "")
    _dispatch_at(app, died + LEASE * 3)
    assert _calls(sandbox) == 1 and len(_mail(sandbox)) == 1


def test_worker_killed_after_claiming_leaves_a_claim_that_is_taken_again(
    sandboxed_app: Any, therapist: int
) -> None:
    """Between the claim and ``sending``, the worker refreshes its Google token: hang that."""
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    _add(app, therapist)
    with runtime_of(app).database.transaction() as db:
        db.execute(update(GoogleConnection).values(access_token_expires_at=NOW))
    sandbox.control("POST", "faults", {"method": "oauth.token", "timeout": 8})
    worker = _spawn_worker(sandboxed_app, NOW)
    try:
        _wait_for(
            lambda: sandbox.control("GET", "calls")["calls"].get("oauth.token", 0) >= 1,
            "the worker to ask for a token",
        )
        assert _status(app) == MessageStatus.CLAIMED
    finally:
        _kill(worker)
    died = datetime.now(UTC)
    assert _calls(sandbox) == 0
    # the claim is respected while its lease runs, then taken again: it was never sent
    assert _dispatch_at(app, died + timedelta(minutes=1)) == []
    _dispatch_at(app, died + LEASE + timedelta(seconds=1))
    assert _status(app) == MessageStatus.SENT
    assert _calls(sandbox) == 1 and len(_mail(sandbox)) == 1


def test_a_slow_cycles_live_send_is_not_taken_for_a_dead_one(
    sandboxed_app: Any, therapist: int
) -> None:
    """Leases go by the wall clock: a cycle running late is still a live worker."""
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    wall = datetime.now(UTC)
    _add(app, therapist, not_before=wall - timedelta(minutes=20))
    # Gmail delivers, then its answer takes a while to (not) come back.
    sandbox.control("POST", "faults", {"method": SEND, "timeout": 4, "after_processing": True})
    # A cycle that started 15 minutes ago (long syncs) reaches its sending step now.
    slow = threading.Thread(
        target=dispatch_due, args=(runtime_of(app), wall - timedelta(minutes=15))
    )
    slow.start()
    try:
        _wait_for(lambda: len(_mail(sandbox)) == 1, "Gmail to receive the message")
        assert _status(app) == MessageStatus.SENDING
        # Another worker's cycle, on time, runs meanwhile: the send is live, not dead.
        assert dispatch_due(runtime_of(app), datetime.now(UTC)) == []
        assert _status(app) == MessageStatus.SENDING
        # So the therapist is never asked, and cannot let it go again while it is sending.
        [row] = _rows(app)
        with runtime_of(app).database.transaction() as db:
            assert not outbox_review.resolve_unknown(db, therapist, row.id, False, wall)
        dispatch_due(runtime_of(app), datetime.now(UTC) + timedelta(minutes=1))
    finally:
        slow.join(timeout=30)
    assert len(_mail(sandbox)) == 1 and _calls(sandbox) == 1
    # The answer was lost: the one worker that sent it says so.
    assert _status(app) == MessageStatus.UNKNOWN


# --- development backend and the therapist's controls --------------------------------------


def test_dev_backend_keeps_the_message_and_sends_nothing(
    sandboxed_app: Any, therapist: int
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    app.config["MAIL_BACKEND"] = "dev"
    _add(app, therapist)
    dispatch_due(runtime_of(app), NOW)
    assert _status(app) == MessageStatus.SENT and _calls(sandbox) == 0
    with runtime_of(app).database.transaction() as db:
        [kept] = db.scalars(select(DevMail)).all()
    parsed = email.message_from_string(kept.raw, policy=email.policy.default)
    assert parsed["To"] == PATIENT and kept.outbox_key == "email_checkin:abc"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_hold_release_cancel_and_resolve_are_the_therapists_own(
    sandboxed_app: Any, therapist: int, connect: Callable[..., int]
) -> None:
    app, sandbox = sandboxed_app.app, sandboxed_app.sandbox
    other = connect("dr.other@example.test", NOW, scopes=SCOPES)
    _add(app, therapist)
    [row] = _rows(app)
    database = runtime_of(app).database
    with database.transaction() as db:
        assert not outbox_review.hold(db, other, row.id, NOW)  # not theirs
        assert outbox_review.hold(db, therapist, row.id, NOW)
    assert dispatch_due(runtime_of(app), NOW) == [] and _status(app) == MessageStatus.HELD
    with database.transaction() as db:
        assert outbox_review.release(db, therapist, row.id, NOW)
    sandbox.control("POST", "faults", {"method": SEND, "status": 503})
    dispatch_due(runtime_of(app), NOW)
    assert _status(app) == MessageStatus.UNKNOWN
    with database.transaction() as db:
        assert not outbox_review.resolve_unknown(db, other, row.id, sent=False, now=NOW)
        # the therapist found nothing in Sent: their decision lets it go again
        assert outbox_review.resolve_unknown(db, therapist, row.id, sent=False, now=NOW)
    dispatch_due(runtime_of(app), NOW + timedelta(minutes=1))
    assert _status(app) == MessageStatus.SENT and len(_mail(sandbox)) == 1
    with database.transaction() as db:
        assert not outbox_review.cancel(db, therapist, row.id, NOW)  # already sent
    _add(app, therapist, key="email_checkin:second")
    second = _rows(app)[1]
    with database.transaction() as db:
        assert outbox_review.cancel(db, therapist, second.id, NOW)
        assert not outbox_review.release(db, therapist, second.id, NOW)
    dispatch_due(runtime_of(app), NOW + timedelta(minutes=2))
    assert _rows(app)[1].status == MessageStatus.CANCELLED and len(_mail(sandbox)) == 1
