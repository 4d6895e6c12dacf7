"""Fixtures: a real sandbox server per test, and real Google clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calendar_sync.sandbox.testing import RunningSandbox


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A fresh sandbox served on a free loopback port.

    ``sandbox.url`` (ends with "/"), ``sandbox.state`` (the SandboxState), and
    ``sandbox.service(name, version, email, scopes)`` for a built googleapiclient service
    authorised as ``email`` (account created on first use) with tokens from the control API.
    """
    running = RunningSandbox()
    try:
        yield running
    finally:
        running.stop()
