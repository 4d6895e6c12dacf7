"""The demo practice: its seeded shape, the ``demo`` command, and acting as the patient."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from calendar_sync.demo import Demo, practice
from calendar_sync.domain.unmarked import UnmarkedRules
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.pages.patients import summaries
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import (
    CalendarEventRow,
    FeeEntry,
    FollowUpAction,
    MeetEvidence,
    RescheduleProposal,
    TherapistNotice,
)

from .conftest import free_port
from .instants import spread


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """One seeded demo for the module, without the background ticker (tests tick)."""
    base = tmp_path_factory.mktemp("demo")
    previous = os.environ.get("CALENDAR_SYNC_INSTANCE")
    os.environ["CALENDAR_SYNC_INSTANCE"] = str(base / "instance")
    try:
        with Demo(base / "demo", tick_seconds=None) as running:
            yield running
    finally:
        if previous is None:
            os.environ.pop("CALENDAR_SYNC_INSTANCE", None)
        else:
            os.environ["CALENDAR_SYNC_INSTANCE"] = previous


def _database(demo: Demo) -> Any:
    assert demo.app is not None
    return runtime_of(demo.app).database


def _mail(demo: Demo) -> list[dict[str, Any]]:
    from calendar_sync.demo.seed import SandboxControl

    messages: list[dict[str, Any]] = SandboxControl(demo.sandbox_url).call("GET", "mail")[
        "messages"
    ]
    return messages


def assert_promises(demo: Demo, now: datetime) -> None:
    """What the README promises of the seeded practice, as seen at ``now``."""
    assert demo.report is not None
    with _database(demo).transaction() as db:
        patients = {p.label: p for p in summaries(db, demo.report.therapist_id, now)}
        actions = list(db.scalars(select(FollowUpAction)))
        open_offers = db.scalar(
            select(func.count())
            .select_from(RescheduleProposal)
            .where(RescheduleProposal.state == "proposed")
        )
        accepted = db.scalar(
            select(func.count())
            .select_from(RescheduleProposal)
            .where(RescheduleProposal.state == "accepted")
        )
        exempt_fees = db.scalar(
            select(func.count())
            .select_from(FeeEntry)
            .where(FeeEntry.patient_id == patients["Ravi Shah"].id)
        )
        notices = list(db.scalars(select(TherapistNotice.kind)))
        uninvited_sessions = db.scalar(
            select(func.count())
            .select_from(CalendarEventRow)
            .where(CalendarEventRow.is_session.is_(True), CalendarEventRow.patient_email.is_(None))
        )
    assert len(patients) == len(practice.PATIENTS) == 14
    assert {"JM", "KT"} <= set(patients)
    assert uninvited_sessions and uninvited_sessions > 0
    # the ladder: one patient at each of steps 1, 2 and 3
    steps = {label: p.step for label, p in patients.items()}
    assert steps["Maya Lindqvist"] == 1
    assert steps["Tom Hughes"] == 2
    assert steps["Jordan Blake"] == 3
    assert sum(p.misses for p in patients.values()) >= 5
    assert sum(p.late_cancels for p in patients.values()) == 2
    assert {a.kind for a in actions} >= {
        "email_checkin",
        "email_policy_reminder",
        "barrier_survey",
        "alert_therapist_pattern",
        "alert_therapist_miss",
        "remind_therapist_to_mark",
        "record_fee",
    }
    # two sessions of the last day are waiting to be marked (a reminder, nothing to patients)
    unmarked = [a for a in actions if a.kind == "remind_therapist_to_mark"]
    assert len(unmarked) == 2
    assert open_offers == 1 and accepted == 1
    # the opted-out patient got nothing; the therapist was told instead
    mail = _mail(demo)
    assert not [m for m in mail if "ellie.ward@example.test" in m["to"]]
    assert "miss" in notices
    # fee-exempt: a miss but no fee; the others were charged
    assert patients["Ravi Shah"].misses == 1 and exempt_fees == 0
    assert patients["Jordan Blake"].balance is not None
    checkins = [m for m in mail if m["subject"].startswith("Checking in")]
    assert len(checkins) >= 5
    assert any(demo.url + "/p/" in (m["text"] or "") for m in checkins)
    assert all(address.endswith("@example.test") for m in mail for address in m["to"])
    assert_meet_promises(demo, now, mail, actions)
    # the sandbox's mail page makes the check-in's links clickable
    with urllib.request.urlopen(demo.sandbox_url + "/mail", timeout=10) as response:
        assert f'<a href="{demo.url}/p/' in response.read().decode()


def assert_meet_promises(
    demo: Demo, now: datetime, mail: list[dict[str, Any]], actions: list[FollowUpAction]
) -> None:
    """Video sessions: the patient who joined gets nothing; the one who did not, a check-in
    decided from the call, well before the unmarked hold would have ended."""
    assert demo.report is not None
    latest = {s.patient.name: s.past_starts(now)[0] for s in practice.plan(now) if s.patient.video}
    assert not [m for m in mail if "noor.haddad@example.test" in m["to"]]
    with _database(demo).transaction() as db:
        evidence = {
            row.event_id: row.attendance
            for row in db.scalars(select(MeetEvidence).where(MeetEvidence.settled_at.is_not(None)))
        }
        patients = {p.name: p for p in summaries(db, demo.report.therapist_id, now)}
    assert "present" in evidence.values() and "absent" in evidence.values()
    noor, felix = patients["Noor Haddad"], patients["Felix Brandt"]
    assert noor.misses == 0
    video = noor.history[-1].video
    assert video is not None and video.startswith("joined by video")
    assert not [a for a in actions if a.patient_id == noor.id]
    [checkin] = [a for a in actions if a.kind == "email_checkin" and a.patient_id == felix.id]
    felix_end = latest["Felix Brandt"] + practice.SESSION_LENGTH
    assert checkin.due_at < felix_end + UnmarkedRules().hold
    reminders = [a for a in actions if a.kind == "remind_therapist_to_mark"]
    assert felix.id not in {a.patient_id for a in reminders}


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001  # hypothesis wants naive bounds
        max_value=datetime(2030, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_recent_sessions_are_placed_where_their_rules_hold(now: datetime) -> None:
    rules = UnmarkedRules()
    latest = {
        s.patient.recent: s.past_starts(now)[0] for s in practice.plan(now) if s.patient.recent
    }
    for key in ("recent-unmarked", "recent-unmarked-2"):
        end = latest[key] + practice.SESSION_LENGTH
        # the reminder is due, the hold is not over: waiting for a mark, nothing sent
        assert end + rules.reminder_delay < now < end + rules.hold
    miss_end = latest["recent-miss"] + practice.SESSION_LENGTH
    assert practice.MISS_FOLLOWED_UP <= now - miss_end <= practice.MISS_OFFER_OPEN
    assert len(set(latest.values())) == 3


@pytest.mark.parametrize("now", spread())
def test_the_seed_keeps_its_promises_at_any_instant(
    now: datetime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALENDAR_SYNC_INSTANCE", str(tmp_path / "instance"))
    with Demo(tmp_path / "demo", tick_seconds=None, now=now) as seeded:
        assert_promises(seeded, now)


@pytest.mark.browser
def test_the_consent_page_needs_one_click(demo: Demo, page: Any) -> None:
    page.goto(demo.url + "/")
    page.get_by_role("link", name="Connect Google Calendar").click()
    # the demo therapist is the only account: preselected, so Continue is the one click
    assert page.get_by_label(practice.THERAPIST_NAME).is_checked()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(demo.url + "/dashboard")
    assert practice.THERAPIST_EMAIL in page.locator("#connection-status").inner_text()


@pytest.mark.browser
def test_accepting_as_the_patient_is_recorded_by_the_next_cycle(demo: Demo, page: Any) -> None:
    assert demo.app is not None
    from calendar_sync.demo.seed import SandboxControl

    # the demo's ticker would have run a cycle by now, opening the push channel
    run_cycle(runtime_of(demo.app), now=datetime.now(UTC), dry_run=False)
    page.goto(demo.sandbox_url + "/invitations")
    guest = page.locator("section.guest").filter(has_text="maya.lindqvist@example.test")
    offer = guest.locator(".invitation").filter(has_text="Accept").first
    offer.get_by_role("button", name="Accept").click()
    page.wait_for_url(demo.sandbox_url + "/invitations#answered")
    assert "accepted" in guest.locator(".invitation").first.inner_text()
    # Google tells the service at once; the next cycle syncs and follows the answer
    SandboxControl(demo.sandbox_url).call("POST", "push/flush", {"timeout": 10})
    run_cycle(runtime_of(demo.app), now=datetime.now(UTC), dry_run=False)
    with _database(demo).transaction() as db:
        state = db.scalar(
            select(RescheduleProposal.state).where(
                RescheduleProposal.patient_email == "maya.lindqvist@example.test"
            )
        )
    assert state == "accepted"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_the_demo_command_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "CALENDAR_SYNC_INSTANCE": str(tmp_path / "instance")}
    command = [
        sys.executable,
        "-c",
        "from calendar_sync.__main__ import main; main()",
        "demo",
        f"--port={port}",
        f"--sandbox-port={sandbox_port}",
        "--tick-seconds=2",
    ]
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline:
            try:
                status = _get(f"http://127.0.0.1:{port}/")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.25)
        assert status == 200
        assert _get(f"http://127.0.0.1:{sandbox_port}/invitations") == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"open http://127.0.0.1:{port}/" in output
    assert "stopping the demo" in output
    for secret in ("ya29.", "@example.test"):
        assert secret not in output


def test_the_demo_keeps_its_secrets_and_database_for_the_owner_only(demo: Demo) -> None:
    for name in ("client_secret.json", "demo.sqlite3"):
        assert stat.S_IMODE((demo.demo_dir / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(demo.demo_dir.stat().st_mode) == 0o700
