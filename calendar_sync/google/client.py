"""Building Google API clients: the one place ``googleapiclient.discovery.build`` is called."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

# Where each API lives below GOOGLE_API_ROOT: the discovery documents' servicePath, which
# ``api_endpoint`` replaces together with the root.
_SERVICE_PATHS = {"calendar": "calendar/v3/", "gmail": "", "oauth2": ""}
_VERSIONS = {"calendar": "v3", "gmail": "v1", "oauth2": "v2"}


@dataclass
class GoogleApis:
    """Lazily built clients for one therapist's credentials."""

    credentials: Credentials
    api_root: str
    _built: dict[str, Any] | None = None

    def _service(self, name: str) -> Any:
        if self._built is None:
            self._built = {}
        if name not in self._built:
            self._built[name] = build(
                name,
                _VERSIONS[name],
                credentials=self.credentials,
                client_options={"api_endpoint": self.api_root + _SERVICE_PATHS[name]},
                # The discovery documents ship with the library: nothing is fetched.
                static_discovery=True,
                cache_discovery=False,
            )
        return self._built[name]

    @property
    def calendar(self) -> Any:
        return self._service("calendar")

    @property
    def gmail(self) -> Any:
        return self._service("gmail")

    @property
    def oauth2(self) -> Any:
        return self._service("oauth2")
