"""``calendar-sync worker --processes N``: N processes, each claiming therapists in turn.

Every process loops: claim a due therapist (one no worker ran within the interval), run
their share, release; when nothing is left, wait a little and look again. Nothing assigns
therapists to processes, so a process that dies (even by SIGKILL) only delays the therapist
it held until its lease expires, and the others take over. Meant for Postgres: on SQLite the
processes would mostly wait for the one write lock.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ..storage.leases import worker_name
from .claims import claim_round
from .runtime import Runtime

log = logging.getLogger(__name__)

#: Seconds an idle process waits before looking for due work again.
IDLE_WAIT = 2.0


def claim_forever(runtime: Runtime, every: timedelta, stop: threading.Event) -> int:
    """One claiming worker until ``stop`` is set; returns the shares it ran."""
    holder = worker_name()
    known: set[int] = set()
    ran = 0
    while not stop.is_set():
        try:
            ran += claim_round(runtime, holder, every, known)
        except Exception as exc:  # the loop outlives any one round's failure
            log.error("claiming round failed (%s); trying again", type(exc).__name__)
        stop.wait(min(IDLE_WAIT, every.total_seconds()))
    return ran


def child_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a child process needs to build the same app as its parent."""
    from ..config import SETTINGS

    names = [s.name for s in SETTINGS] + ["TESTING", "THERAPIST_LEASE_SECONDS"]
    values: dict[str, Any] = {}
    for name in names:
        if name in config:
            value = config[name]
            values[name] = ",".join(value) if isinstance(value, list) else value
    # The parent brought the schema up to date before starting its children.
    values["AUTO_MIGRATE"] = False
    return values


#: Builds a process's runtime from the parent's settings; a module-level function (spawned
#: processes receive it by name), ``calendar_sync.factory.build_runtime`` in the service.
RuntimeBuilder = Callable[[dict[str, Any]], Runtime]


def _child(build: RuntimeBuilder, config: dict[str, Any], every_seconds: float) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runtime = build(config)
    claim_forever(runtime, timedelta(seconds=every_seconds), stop)
    runtime.database.dispose()


def start_processes(
    build: RuntimeBuilder, config: Mapping[str, Any], processes: int, every: timedelta
) -> list[multiprocessing.process.BaseProcess]:
    """Start ``processes`` claiming workers (spawned, each with its own app and database pool)."""
    context = multiprocessing.get_context("spawn")
    started: list[multiprocessing.process.BaseProcess] = []
    for n in range(processes):
        process = context.Process(
            target=_child,
            args=(build, child_config(config), every.total_seconds()),
            name=f"calendar-sync-worker-{n + 1}",
        )
        process.start()
        started.append(process)
    return started


def stop_processes(started: list[multiprocessing.process.BaseProcess], timeout: float = 30) -> None:
    """Ask each process to finish the share in hand and stop; kill those that do not."""
    for process in started:
        if process.is_alive() and process.pid is not None:
            process.terminate()
    for process in started:
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(5)
