"""Building Google API clients: the one place ``googleapiclient.discovery.build`` is called."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import google_auth_httplib2  # type: ignore[import-untyped]  # the package ships no types
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

# Where each API lives below GOOGLE_API_ROOT: the discovery documents' servicePath, which
# ``api_endpoint`` replaces together with the root.
_SERVICE_PATHS = {"calendar": "calendar/v3/", "gmail": "", "meet": "", "oauth2": ""}
_VERSIONS = {"calendar": "v3", "gmail": "v1", "meet": "v2", "oauth2": "v2"}
# Google's shared root serves Calendar, Gmail and user info, but Meet only answers on its own
# host; another root (the sandbox's) serves them all.
GOOGLE_ROOT = "https://www.googleapis.com/"
_OWN_ROOTS = {"meet": "https://meet.googleapis.com/"}


def api_endpoint(name: str, api_root: str) -> str:
    """Where service ``name`` lives for a configured ``GOOGLE_API_ROOT``."""
    root = _OWN_ROOTS.get(name, api_root) if api_root == GOOGLE_ROOT else api_root
    return root + _SERVICE_PATHS[name]


# Seconds to wait for Google's answer before giving up on a connection (then retried by
# ``retry.execute``); without it httplib2 would wait for ever on a hung connection.
DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass
class GoogleApis:
    """Lazily built clients for one therapist's credentials."""

    credentials: Credentials
    api_root: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    _built: dict[str, Any] | None = None

    def _service(self, name: str) -> Any:
        if self._built is None:
            self._built = {}
        if name not in self._built:
            # Each service gets its own connection: httplib2.Http is not thread-safe.
            http = google_auth_httplib2.AuthorizedHttp(
                self.credentials, http=httplib2.Http(timeout=self.timeout)
            )
            self._built[name] = build(
                name,
                _VERSIONS[name],
                http=http,
                client_options={"api_endpoint": api_endpoint(name, self.api_root)},
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
    def meet(self) -> Any:
        return self._service("meet")

    @property
    def oauth2(self) -> Any:
        return self._service("oauth2")


#: Where Cloud Tasks lives when the API root is Google's own: a host of its own.
GOOGLE_ROOT = "https://www.googleapis.com/"


def build_cloud_tasks(
    credentials: Any, api_root: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> Any:
    """A Cloud Tasks v2 client for the service's own identity (not a therapist's).

    Against Google the discovery document's endpoint (``cloudtasks.googleapis.com``) is
    used; any other root (the sandbox) serves it at ``<root>v2/``.
    """
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
    options = {} if api_root == GOOGLE_ROOT else {"api_endpoint": api_root}
    return build(
        "cloudtasks",
        "v2",
        http=http,
        client_options=options,
        static_discovery=True,
        cache_discovery=False,
    )
