"""The Google adapter: the only place that speaks Google's APIs and JSON.

Everything beyond this package sees plain domain objects and the exceptions below.
"""

from .errors import GoogleApiError, ReauthorizationNeeded, SyncTokenExpired

__all__ = ["GoogleApiError", "ReauthorizationNeeded", "SyncTokenExpired"]
