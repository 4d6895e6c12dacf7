"""Run a sandbox for tests and build real Google API clients authorised against it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import google.oauth2.credentials
from googleapiclient.discovery import build

from . import create_sandbox_app
from .scopes import normalize_scopes
from .server import SandboxServer
from .state import SandboxState


class RunningSandbox:
    """A sandbox served over HTTP on loopback: ``url``, ``state`` and helpers for tests."""

    def __init__(self, state: SandboxState | None = None) -> None:
        self.state = state if state is not None else SandboxState()
        self._server = SandboxServer(create_sandbox_app(self.state))
        self.url = self._server.url

    def stop(self) -> None:
        self._server.stop()
        self.state.close()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call a control endpoint (``path`` below ``/_sandbox/``) and return its JSON."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - the URL is our own loopback server
            self.url + "_sandbox/" + path.lstrip("/"),
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 - as above
            return json.loads(response.read())

    def add_account(self, email: str, name: str | None = None, time_zone: str = "UTC") -> None:
        self.control("POST", "accounts", {"email": email, "name": name, "time_zone": time_zone})

    def register_client(self, redirect_uris: list[str], *, testing: bool = False) -> dict[str, Any]:
        """Register an OAuth client; returns the client-secrets JSON (``{"web": {...}}``)."""
        secrets: dict[str, Any] = self.control(
            "POST", "clients", {"redirect_uris": redirect_uris, "testing": testing}
        )
        return secrets

    def issue_tokens(
        self, email: str, scopes: list[str], client_id: str | None = None
    ) -> dict[str, Any]:
        """Tokens as if ``email`` had approved ``scopes`` (no consent page)."""
        body: dict[str, Any] = {"email": email, "scopes": scopes}
        if client_id is not None:
            body["client_id"] = client_id
        tokens: dict[str, Any] = self.control("POST", "tokens", body)
        return tokens

    def credentials(self, email: str, scopes: list[str]) -> Any:
        """google-auth user credentials for ``email``, refreshable against the sandbox.

        Creates the account (time zone UTC) when it does not exist yet.
        """
        if email not in self.state.accounts:
            self.add_account(email)
        tokens = self.issue_tokens(email, scopes)
        return google.oauth2.credentials.Credentials(
            tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            token_uri=tokens["token_uri"],
            client_id=tokens["client_id"],
            client_secret=tokens["client_secret"],
            # Google answers with the full names of the sign-in scopes ("email" comes back as
            # .../userinfo.email); holding those avoids a missing-scopes warning on refresh.
            scopes=sorted(normalize_scopes(scopes)),
        )

    def api_endpoint(self, name: str) -> str:
        """The ``api_endpoint`` client option for a service: the discovery servicePath matters."""
        return self.url + "calendar/v3/" if name == "calendar" else self.url

    def service(self, name: str, version: str, email: str, scopes: list[str]) -> Any:
        """A real googleapiclient service for ``name``/``version`` authorised as ``email``."""
        return self.build(name, version, self.credentials(email, scopes))

    def build(self, name: str, version: str, credentials: Any = None, http: Any = None) -> Any:
        """Build a service against the sandbox from credentials, or from an authorised http."""
        return build(
            name,
            version,
            credentials=credentials,
            http=http,
            client_options={"api_endpoint": self.api_endpoint(name)},
            static_discovery=True,
            cache_discovery=False,
        )

    def add_meet_link(self, calendar_id: str, event_id: str) -> str:
        """Give a stored event (a series: all its sessions) a Meet link; its meeting code."""
        answer = self.control("POST", f"calendar/{calendar_id}/events/{event_id}/meet", {})
        return str(answer["meetingCode"])

    def add_conference(
        self,
        meeting_code: str,
        start: str,
        end: str | None,
        participants: list[dict[str, Any]],
        publish_at: str | None = None,
    ) -> str:
        """Record a call in a Meet space (see ``sandbox.meet``); its record name."""
        body: dict[str, Any] = {
            "meetingCode": meeting_code,
            "start": start,
            "end": end,
            "participants": participants,
        }
        if publish_at is not None:
            body["publishAt"] = publish_at
        return str(self.control("POST", "meet/conferences", body)["name"])
