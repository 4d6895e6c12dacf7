"""The service tests share the suite's sandbox fixtures; these names stay importable here."""

from __future__ import annotations

from ..conftest import CONNECT_SCOPES as SCOPES
from ..conftest import Sleeps, connect_therapist

__all__ = ["SCOPES", "Sleeps", "connect_therapist"]
