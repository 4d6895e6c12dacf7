"""Google's OAuth web-server flow (with PKCE), and what each scope is for."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from google_auth_oauthlib.flow import Flow

from .errors import GoogleApiError

OPENID = "openid"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
CALENDAR_LIST = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
FREEBUSY = "https://www.googleapis.com/auth/calendar.freebusy"
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
# Asked for only when the therapist turns Meet evidence on (incremental authorization).
MEET_READ = "https://www.googleapis.com/auth/meetings.space.readonly"

# The least the features need; the README says why each is asked for.
SCOPES = (OPENID, EMAIL, CALENDAR_LIST, CALENDAR_EVENTS, FREEBUSY, GMAIL_SEND)

# What stays off when a scope is not granted, in the therapist's words.
FEATURES = {
    CALENDAR_LIST: "choosing which calendars hold sessions (only the main calendar is used)",
    CALENDAR_EVENTS: "reading sessions and proposing new times",
    FREEBUSY: "finding free times across all your calendars for a reschedule",
    GMAIL_SEND: "check-in emails from your Gmail address",
}
REQUIRED = frozenset({OPENID, EMAIL, CALENDAR_EVENTS})
# Why the sign-in scopes are required, for a page that says what is missing.
SIGN_IN = "knowing which Google account is signing in"


def missing_required(granted: frozenset[str]) -> list[str]:
    """What the service cannot run without and was not granted, in the therapist's words."""
    words = (FEATURES.get(scope, SIGN_IN) for scope in sorted(REQUIRED - granted))
    return list(dict.fromkeys(words))


@dataclass(frozen=True)
class GoogleAccount:
    """Who signed in: Google's stable id for the account (``sub``), its email and name."""

    subject: str
    email: str
    name: str


@dataclass(frozen=True)
class OAuthClient:
    """The OAuth client registered in Google Cloud Console."""

    client_id: str
    client_secret: str
    auth_uri: str
    token_uri: str

    @property
    def revoke_uri(self) -> str:
        # Google serves revocation beside the token endpoint (oauth2.googleapis.com/revoke).
        return self.token_uri.rsplit("/", 1)[0] + "/revoke"

    @classmethod
    def from_file(cls, path: str | Path) -> OAuthClient:
        """Read the client JSON as downloaded from Google Cloud Console.

        :raises GoogleApiError: when the file is missing or is not a web client's JSON.
        """
        try:
            data = json.loads(Path(path).read_text())
            web = data.get("web") or data["installed"]
            return cls(web["client_id"], web["client_secret"], web["auth_uri"], web["token_uri"])
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise GoogleApiError(
                0, "clientSecrets", "GOOGLE_CLIENT_SECRETS does not point at a Google client JSON"
            ) from exc

    def as_client_config(self) -> dict[str, Any]:
        return {
            "web": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
            }
        }


@dataclass(frozen=True)
class Grant:
    """Tokens from one code exchange or refresh; ``refresh_token`` may be absent."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scopes: frozenset[str]


def allow_plain_http() -> None:
    """Let oauthlib talk to loopback over HTTP (development, the demo and tests only)."""
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


# Granular consent: Google may grant fewer scopes than asked. oauthlib treats that as an
# error unless told the change is expected; the granted scopes are read and honoured below.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")


def _flow(
    client: OAuthClient, redirect_uri: str, code_verifier: str, extra_scopes: tuple[str, ...] = ()
) -> Flow:
    return Flow.from_client_config(
        client.as_client_config(),
        scopes=[*SCOPES, *extra_scopes],
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        autogenerate_code_verifier=False,
    )


def authorization_url(
    client: OAuthClient,
    *,
    redirect_uri: str,
    state: str,
    code_verifier: str,
    login_hint: str | None = None,
    force_consent: bool = False,
    extra_scopes: tuple[str, ...] = (),
) -> str:
    """The address of Google's consent page for this sign-in attempt.

    ``extra_scopes`` are asked for on top of :data:`SCOPES` (a feature being turned on);
    ``include_granted_scopes`` keeps what was granted before in the new grant.
    """
    extra: dict[str, str] = {"access_type": "offline", "include_granted_scopes": "true"}
    if login_hint:
        extra["login_hint"] = login_hint
    if force_consent:
        # Only a shown consent yields a refresh token; asked for when we have none.
        extra["prompt"] = "consent"
    flow = _flow(client, redirect_uri, code_verifier, extra_scopes)
    url, _ = flow.authorization_url(state=state, **extra)
    return str(url)


def exchange_code(
    client: OAuthClient, *, redirect_uri: str, code: str, code_verifier: str, now: datetime
) -> Grant:
    """Trade an authorization code for tokens.

    :raises GoogleApiError: when Google refuses (``invalid_grant`` for a bad code or verifier).
    """
    flow = _flow(client, redirect_uri, code_verifier)
    try:
        token = flow.fetch_token(code=code)
    except Exception as exc:  # oauthlib raises many unrelated types for one refusal
        reason = getattr(exc, "error", None) or exc.__class__.__name__
        raise GoogleApiError(400, str(reason), "the sign-in could not be completed") from exc
    return _grant(token, now)


def _grant(token: dict[str, Any], now: datetime) -> Grant:
    scope = token.get("scope") or ""
    scopes = scope if isinstance(scope, list) else str(scope).split()
    return Grant(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token") or None,
        expires_at=now + timedelta(seconds=int(token.get("expires_in", 3600))),
        scopes=frozenset(scopes),
    )


def fetch_profile(access_token: str, api_root: str) -> GoogleAccount:
    """Who signed in, from Google's user info.

    Google's v2 answer names the account ``id``; OpenID Connect answers (and the ID token)
    name the same value ``sub``. Either is accepted.

    :raises GoogleApiError: when Google does not answer with a profile.
    """
    from google.oauth2.credentials import Credentials
    from googleapiclient.errors import HttpError

    from .client import GoogleApis

    apis = GoogleApis(Credentials(access_token), api_root)
    try:
        profile: dict[str, Any] = apis.oauth2.userinfo().get().execute()
    except HttpError as exc:
        raise GoogleApiError(exc.resp.status, "userinfo", "could not read who signed in") from exc
    return account_from_profile(profile)


def account_from_profile(profile: dict[str, Any]) -> GoogleAccount:
    """The account a user-info answer describes, whichever way it names it.

    :raises GoogleApiError: when it names no account.
    """
    subject = profile.get("sub") or profile.get("id")
    if not subject:
        raise GoogleApiError(0, "noProfile", "Google did not say who signed in")
    return GoogleAccount(
        subject=str(subject),
        email=str(profile.get("email") or ""),
        name=str(profile.get("name") or ""),
    )


def revoke(client: OAuthClient, token: str) -> bool:
    """Revoke a grant at Google. True when Google confirms or already forgot the token."""
    try:
        response = requests.post(
            client.revoke_uri,
            data={"token": token},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=15,
        )
    except requests.RequestException:
        return False
    # 400 invalid_token: the grant is already gone, which is what we wanted.
    return response.status_code in (200, 400)


def utc_naive(moment: datetime) -> datetime:
    """google-auth compares expiries as naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)
