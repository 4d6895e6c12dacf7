"""Keeping each therapist's Google grant: encrypted tokens, refresh, and loss of access.

A re-consent that brings no refresh token never erases the stored one; two workers
refreshing at once both end with a valid token; ``invalid_grant`` marks the connection as
needing re-authorisation and every caller then gets :class:`ReauthorizationNeeded` until the
therapist reconnects (their data and pending work are kept).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial

import google.auth.exceptions
import google.auth.transport.requests
from google.oauth2.credentials import Credentials
from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from ...google import GoogleApiError, ReauthorizationNeeded
from ...google.client import GoogleApis
from ...google.oauth import Grant, OAuthClient, utc_naive
from ...storage import Database
from ...storage.crypto import TokenCipher
from ...storage.models import GoogleConnection
from ..schedule import mark_changed

log = logging.getLogger(__name__)

# Refresh a little before Google's expiry, so a token never dies in the middle of a cycle.
REFRESH_MARGIN = timedelta(minutes=5)


class ConnectionStatus(StrEnum):
    """Whether Google still accepts the therapist's grant."""

    ACTIVE = "active"
    #: Refused (revoked, expired, password changed): work pauses until they connect again.
    NEEDS_REAUTH = "needs_reauth"


@dataclass(frozen=True)
class ConnectionSummary:
    status: str
    problem: str | None
    connected_at: datetime

    @property
    def needs_reauth(self) -> bool:
        return self.status == ConnectionStatus.NEEDS_REAUTH


@dataclass
class ConnectionKeeper:
    """The one place that reads, refreshes and writes Google tokens."""

    database: Database
    cipher: TokenCipher
    client_secrets_path: str
    api_root: str
    _client: OAuthClient | None = field(default=None, repr=False)

    @property
    def client(self) -> OAuthClient:
        if self._client is None:
            self._client = OAuthClient.from_file(self.client_secrets_path)
        return self._client

    def save_grant(
        self, db: DbSession, therapist_id: int, grant: Grant, now: datetime
    ) -> GoogleConnection:
        """Store the tokens of a fresh consent (or sign-in) for ``therapist_id``."""
        connection = db.scalar(
            select(GoogleConnection).where(GoogleConnection.therapist_id == therapist_id)
        )
        if connection is None:
            connection = GoogleConnection(therapist_id=therapist_id, connected_at=now, version=0)
            db.add(connection)
        if grant.refresh_token is not None:
            connection.refresh_token_encrypted = self.cipher.encrypt(grant.refresh_token)
            connection.status = ConnectionStatus.ACTIVE
            connection.problem = None
        elif connection.refresh_token_encrypted is None:
            connection.status = ConnectionStatus.NEEDS_REAUTH
            connection.problem = "Google sent no long-lived access; please connect again."
        connection.access_token_encrypted = self.cipher.encrypt(grant.access_token)
        connection.access_token_expires_at = grant.expires_at
        connection.granted_scopes = " ".join(sorted(grant.scopes))
        connection.version = (connection.version or 0) + 1
        db.flush()
        mark_changed(db, therapist_id)
        return connection

    def has_refresh_token(self, therapist_id: int) -> bool:
        with self.database.transaction() as db:
            connection = self._load(db, therapist_id)
            return connection is not None and connection.refresh_token_encrypted is not None

    def apis(self, therapist_id: int, now: datetime) -> GoogleApis:
        """Google clients authorised as the therapist, with a token valid at ``now``.

        :raises ReauthorizationNeeded: the grant is gone; the therapist must reconnect.
        """
        # Nothing is read or refreshed until a call needs the token; clients built for the
        # therapist are kept across cycles (``google.client``).
        self._require_connected(therapist_id)
        return GoogleApis(
            None,
            self.api_root,
            source=partial(self.credentials, therapist_id, now),
            keep=therapist_id,
        )

    def _require_connected(self, therapist_id: int) -> None:
        with self.database.transaction() as db:
            self._require(db, therapist_id)

    def credentials(self, therapist_id: int, now: datetime) -> Credentials:
        """:raises ReauthorizationNeeded: as :meth:`apis`."""
        with self.database.transaction() as db:
            connection = self._require(db, therapist_id)
            credentials, version = self._credentials(connection), connection.version
            expires_at = connection.access_token_expires_at
        if expires_at is None or expires_at - REFRESH_MARGIN <= now:
            credentials = self._refresh(therapist_id, credentials, version, now)
        # Whether the token is still good is judged here, by ``now``; google-auth would judge
        # it again by the wall clock and refresh on its own, without the refresh being kept.
        credentials.expiry = None
        return credentials

    def granted_scopes(self, therapist_id: int) -> frozenset[str]:
        with self.database.transaction() as db:
            connection = self._load(db, therapist_id)
            return frozenset(connection.granted_scopes.split()) if connection else frozenset()

    def revocable_token(self, therapist_id: int) -> str | None:
        """The token whose revocation ends the whole grant (the refresh token if any)."""
        with self.database.transaction() as db:
            connection = self._load(db, therapist_id)
            if connection is None:
                return None
            sealed = connection.refresh_token_encrypted or connection.access_token_encrypted
            return self.cipher.decrypt(sealed) if sealed else None

    def connection_summary(self, therapist_id: int) -> ConnectionSummary | None:
        """What the dashboard shows of the connection; no token leaves this class."""
        with self.database.transaction() as db:
            connection = self._load(db, therapist_id)
            if connection is None:
                return None
            return ConnectionSummary(
                status=connection.status,
                problem=connection.problem,
                connected_at=connection.connected_at,
            )

    def mark_needs_reauth(self, therapist_id: int, problem: str) -> None:
        with self.database.transaction() as db:
            db.execute(
                update(GoogleConnection)
                .where(GoogleConnection.therapist_id == therapist_id)
                .values(status=ConnectionStatus.NEEDS_REAUTH, problem=problem)
            )

    def _refresh(
        self, therapist_id: int, credentials: Credentials, version: int, now: datetime
    ) -> Credentials:
        try:
            credentials.refresh(google.auth.transport.requests.Request())
        except google.auth.exceptions.RefreshError as exc:
            if "invalid_grant" in str(exc):
                log.warning("therapist %s: Google refused the refresh token", therapist_id)
                self.mark_needs_reauth(
                    therapist_id,
                    "Google no longer accepts this connection (access was revoked or has "
                    "expired). Please connect again; nothing has been lost.",
                )
                raise ReauthorizationNeeded(str(therapist_id)) from exc
            raise GoogleApiError(0, "refreshFailed", "could not refresh the access token") from exc
        except google.auth.exceptions.TransportError as exc:
            raise GoogleApiError(0, "transport", "Google could not be reached") from exc
        token = str(credentials.token)
        # google-auth keeps expiries as naive UTC, counted from the wall clock: the token's
        # lifetime is counted from ``now`` instead, the instant every decision here uses.
        expiry = credentials.expiry
        lifetime = (
            expiry.replace(tzinfo=UTC) - datetime.now(UTC) if expiry else timedelta(seconds=3500)
        )
        expires_at = now + lifetime
        with self.database.transaction() as db:
            written = db.execute(
                update(GoogleConnection)
                .where(
                    GoogleConnection.therapist_id == therapist_id,
                    GoogleConnection.version == version,
                )
                .values(
                    access_token_encrypted=self.cipher.encrypt(token),
                    access_token_expires_at=expires_at,
                    version=version + 1,
                )
            )
            if getattr(written, "rowcount", 1) == 0:
                # Another worker refreshed first; its token is as good as ours, keep it.
                log.info(
                    "therapist %s: token refreshed concurrently, keeping the other", therapist_id
                )
        return credentials

    def _credentials(self, connection: GoogleConnection) -> Credentials:
        client = self.client
        refresh = connection.refresh_token_encrypted
        access = connection.access_token_encrypted
        expiry = connection.access_token_expires_at
        return Credentials(
            self.cipher.decrypt(access) if access else None,
            refresh_token=self.cipher.decrypt(refresh) if refresh else None,
            token_uri=client.token_uri,
            client_id=client.client_id,
            client_secret=client.client_secret,
            scopes=connection.granted_scopes.split() or None,
            expiry=utc_naive(expiry) if expiry else None,
        )

    def _require(self, db: DbSession, therapist_id: int) -> GoogleConnection:
        connection = self._load(db, therapist_id)
        if connection is None or connection.status == ConnectionStatus.NEEDS_REAUTH:
            raise ReauthorizationNeeded(str(therapist_id))
        if connection.refresh_token_encrypted is None:
            raise ReauthorizationNeeded(str(therapist_id))
        return connection

    @staticmethod
    def _load(db: DbSession, therapist_id: int) -> GoogleConnection | None:
        return db.scalar(
            select(GoogleConnection).where(GoogleConnection.therapist_id == therapist_id)
        )
