"""What the services run with, built once by ``create_app`` and handed to them by type.

The web layer, the command line and the demo find it with :func:`runtime_of`; code below
them receives it as an argument and never looks anything up on the Flask app.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from ..google.tasks import CloudTasks
from ..storage import Database
from .accounts.connections import ConnectionKeeper
from .sync.queue import CoalescingQueue

_KEY = "calendar_sync"


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """The database, the Google connection keeper, the settings, the sync queue and tasks.

    ``config`` is the application's settings mapping itself (``calendar_sync.config``
    documents every key), so a change to it is seen everywhere. ``clock`` is what the edges
    (pages, links, the queue's worker) read for the current time; tests pin it.
    """

    database: Database
    connections: ConnectionKeeper
    config: MutableMapping[str, Any]
    sync_queue: CoalescingQueue = field(default_factory=CoalescingQueue)
    clock: Callable[[], datetime] = wall_clock
    #: The Cloud Tasks queue that fans the work out (``CLOUD_TASKS_QUEUE``); None: one process.
    tasks: CloudTasks | None = None

    def now(self) -> datetime:
        return self.clock()

    def attach(self, app: Flask) -> None:
        app.extensions[_KEY] = self


def runtime_of(app: Flask) -> Runtime:
    """The runtime ``create_app`` attached to ``app``."""
    found = app.extensions[_KEY]
    assert isinstance(found, Runtime)
    return found
