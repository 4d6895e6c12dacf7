"""The cycle loop behind ``calendar-sync worker`` and the demo's ticker."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from flask import Flask

from calendar_sync.services.runtime import runtime_of
from calendar_sync.services.worker import run_forever, run_once
from calendar_sync.storage.models import Base

WORKER = ["worker", "--interval", "1"]


def test_a_cycle_runs_and_reports(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="calendar_sync.services.worker")
    assert run_once(runtime_of(app)) is True
    assert "cycle done: 0 therapist(s)" in caplog.text


def test_the_loop_survives_failing_cycles(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    # A database without its tables: every cycle fails, as on a broken deployment.
    Base.metadata.drop_all(runtime_of(app).database.engine)
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    try:
        cycles = run_forever(runtime_of(app), 0.05, stop)
    finally:
        timer.cancel()
    assert cycles >= 3
    failures = [r for r in caplog.records if "cycle failed" in r.getMessage()]
    assert len(failures) == cycles
    # the kind of error is named (SQLite and Postgres name a missing table differently)
    assert re.search(r"\((OperationalError|ProgrammingError)\)", failures[0].getMessage())


def test_the_worker_command_stops_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CALENDAR_SYNC_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
    }
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [sys.executable, "-c", "from calendar_sync.__main__ import main; main()", *WORKER],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        first = process.stdout.readline()
        assert "a cycle every 1s" in first
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, rest
    assert "worker stopped" in rest
