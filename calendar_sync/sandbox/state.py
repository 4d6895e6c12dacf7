"""Everything the sandbox remembers, in memory: clock, accounts, OAuth, faults, mail."""

from __future__ import annotations

import secrets
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app

from .calendar_store import CalendarStore
from .task_hub import TaskHub

ACCESS_TOKEN_LIFETIME = timedelta(seconds=3599)
# Google's authorization codes are short-lived; ten minutes is what its docs allow for.
AUTH_CODE_LIFETIME = timedelta(minutes=10)
# Apps left in "Testing" publishing status get refresh tokens that die after seven days.
TESTING_REFRESH_LIFETIME = timedelta(days=7)


@dataclass
class Account:
    email: str
    name: str
    time_zone: str
    # Google's account ids are opaque digit strings, stable for the account.
    id: str = field(
        default_factory=lambda: str(100_000_000_000_000_000_000 + secrets.randbelow(10**20))
    )


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    project_id: str
    testing: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    email: str
    scopes: frozenset[str]
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    offline: bool
    consent_shown: bool
    expires_at: datetime
    used: bool = False


@dataclass
class Grant:
    """What one approval (or one control-endpoint issue) gave a client for an account."""

    id: str
    client_id: str
    email: str
    scopes: frozenset[str]
    refresh_token: str | None
    refresh_expires_at: datetime | None
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    grant_id: str
    scopes: frozenset[str]
    expires_at: datetime


@dataclass
class Fault:
    """One injected misbehaviour for a method, played ``remaining`` more times."""

    status: int | None = None
    reason: str | None = None
    message: str | None = None
    # Seconds to hang before dropping the connection without an answer.
    timeout: float | None = None
    # Drop the answer after doing the work, like a response lost on the way back.
    after_processing: bool = False
    remaining: int = 1
    # Calls of the method answered normally before the fault plays ("after page k").
    skip: int = 0


@dataclass
class SentMessage:
    id: str
    thread_id: str
    account: str
    label_ids: list[str]
    raw: str
    sender: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    text: str | None
    html: str | None
    headers: list[tuple[str, str]]
    sent_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "threadId": self.thread_id,
            "account": self.account,
            "labelIds": list(self.label_ids),
            "raw": self.raw,
            "from": self.sender,
            "to": list(self.to),
            "cc": list(self.cc),
            "bcc": list(self.bcc),
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "headers": [[name, value] for name, value in self.headers],
            "sent_at": self.sent_at.isoformat(),
        }


def _token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


class SandboxState:
    """All sandbox data; every mutation happens under ``self.lock``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock_offset = timedelta(0)
        self.accounts: dict[str, Account] = {}
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> grant id
        self.access_tokens: dict[str, AccessToken] = {}
        # Scopes each (client, account) pair has consented to so far; decides whether the
        # consent step counts as shown (and so whether a refresh token is returned).
        self.consents: dict[tuple[str, str], frozenset[str]] = {}
        # Authorization requests waiting on the consent page, by opaque id.
        self.pending_auth: dict[str, dict[str, Any]] = {}
        self.faults: dict[str, deque[Fault]] = {}
        self.calls: Counter[str] = Counter()
        self.sent: list[SentMessage] = []
        self.history_id = 1000
        # Small named values parts of the sandbox keep (the default test client's id).
        self.extras: dict[str, Any] = {}
        # How the user-info endpoint names the account: "v2" (``id``, as Google's v2 does)
        # or "oidc" (``sub``, ``email_verified``, as an OpenID Connect provider does).
        self.userinfo_style = "v2"
        self.calendar = CalendarStore(clock=self.now)
        self.tasks = TaskHub(clock=self.now)

    # -- clock -------------------------------------------------------------------------
    def now(self) -> datetime:
        """Real time shifted by the offset tests and the demo move forward."""
        return datetime.now(UTC) + self.clock_offset

    def advance(self, seconds: float) -> datetime:
        with self.lock:
            self.clock_offset += timedelta(seconds=seconds)
            return self.now()

    def set_now(self, when: datetime) -> datetime:
        with self.lock:
            self.clock_offset = when - datetime.now(UTC)
            return self.now()

    # -- accounts and clients ----------------------------------------------------------
    def add_account(self, email: str, name: str, time_zone: str = "UTC") -> Account:
        with self.lock:
            account = self.accounts.get(email)
            if account is None:
                account = Account(email=email, name=name, time_zone=time_zone)
                self.accounts[email] = account
                self.calendar.create_primary(email, time_zone)
            return account

    def register_client(
        self, redirect_uris: list[str], project_id: str = "sandbox-project", testing: bool = False
    ) -> OAuthClient:
        with self.lock:
            # Shaped like Google's ids so code that inspects them sees familiar strings.
            client_id = f"{secrets.randbelow(10**12):012d}-{secrets.token_hex(16)}"
            client = OAuthClient(
                client_id=client_id + ".apps.googleusercontent.com",
                client_secret="GOCSPX-" + secrets.token_urlsafe(21),
                redirect_uris=list(redirect_uris),
                project_id=project_id,
                testing=testing,
            )
            self.clients[client.client_id] = client
            return client

    # -- grants and tokens -------------------------------------------------------------
    def create_grant(
        self, client_id: str, email: str, scopes: frozenset[str], *, with_refresh: bool
    ) -> Grant:
        with self.lock:
            client = self.clients[client_id]
            refresh = _token("1//sandbox-") if with_refresh else None
            expires = self.now() + TESTING_REFRESH_LIFETIME if client.testing and refresh else None
            grant = Grant(
                id=secrets.token_hex(8),
                client_id=client_id,
                email=email,
                scopes=scopes,
                refresh_token=refresh,
                refresh_expires_at=expires,
            )
            self.grants[grant.id] = grant
            if refresh is not None:
                self.refresh_tokens[refresh] = grant.id
            key = (client_id, email)
            self.consents[key] = self.consents.get(key, frozenset()) | scopes
            return grant

    def issue_access_token(self, grant: Grant, scopes: frozenset[str] | None = None) -> AccessToken:
        with self.lock:
            token = AccessToken(
                token=_token("ya29.sandbox-"),
                grant_id=grant.id,
                scopes=grant.scopes if scopes is None else scopes,
                expires_at=self.now() + ACCESS_TOKEN_LIFETIME,
            )
            self.access_tokens[token.token] = token
            return token

    def grant_for_refresh(self, refresh_token: str) -> Grant | None:
        """The live grant behind a refresh token, or None if unknown, revoked or expired."""
        with self.lock:
            grant_id = self.refresh_tokens.get(refresh_token)
            grant = self.grants.get(grant_id) if grant_id else None
            if grant is None or grant.revoked:
                return None
            if grant.refresh_expires_at is not None and grant.refresh_expires_at <= self.now():
                return None
            return grant

    def authenticate(self, access_token: str) -> AccessToken | None:
        """The access token if it is known, unexpired and its grant not revoked."""
        with self.lock:
            token = self.access_tokens.get(access_token)
            if token is None or token.expires_at <= self.now():
                return None
            if self.grants[token.grant_id].revoked:
                return None
            return token

    def revoke_token(self, value: str) -> bool:
        """Revoke the grant behind an access or refresh token, as Google's /revoke does.

        Google removes the app's access for that account altogether, so every grant of the
        same client and account goes, and the next authorization counts as a first one.
        """
        with self.lock:
            grant_id = self.refresh_tokens.get(value)
            if grant_id is None and value in self.access_tokens:
                grant_id = self.access_tokens[value].grant_id
            if grant_id is None:
                return False
            grant = self.grants[grant_id]
            self.revoke_access(grant.client_id, grant.email)
            return True

    def revoke_access(self, client_id: str | None, email: str) -> int:
        """Revoke every grant of ``email`` (to one client, or to all); returns how many."""
        with self.lock:
            count = 0
            for grant in self.grants.values():
                if grant.email == email and client_id in (None, grant.client_id):
                    if not grant.revoked:
                        count += 1
                    grant.revoked = True
                    self.consents.pop((grant.client_id, email), None)
            return count

    def expire_refresh_tokens(self, client_id: str | None, email: str) -> int:
        """Make refresh tokens of ``email`` dead (7-day Testing expiry, 6 months unused)."""
        with self.lock:
            count = 0
            for grant in self.grants.values():
                mine = grant.email == email and client_id in (None, grant.client_id)
                if mine and grant.refresh_token is not None:
                    grant.refresh_expires_at = self.now()
                    count += 1
            return count

    # -- faults ------------------------------------------------------------------------
    def add_fault(self, method: str, fault: Fault) -> None:
        with self.lock:
            self.faults.setdefault(method, deque()).append(fault)

    def next_fault(self, method: str) -> Fault | None:
        """Take one play of the first queued fault for ``method``."""
        with self.lock:
            queue = self.faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            if fault.skip > 0:
                fault.skip -= 1
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
            return fault

    def next_history_id(self) -> int:
        with self.lock:
            self.history_id += 1
            return self.history_id

    def close(self) -> None:
        """Stop background work of the parts that have any (push delivery, task dispatch)."""
        close = getattr(self.calendar, "close", None)
        if callable(close):
            close()
        self.tasks.close()


def current_state() -> SandboxState:
    """The state of the sandbox app handling the current request."""
    state = current_app.extensions["sandbox"]
    assert isinstance(state, SandboxState)
    return state
