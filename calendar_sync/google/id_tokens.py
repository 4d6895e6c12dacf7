"""Google-signed ID tokens: checked against the signing keys Google publishes.

Google signs the requests a Workspace add-on receives (``Authorization: Bearer``) and the
user's own token in them (``userIdToken``). Both are checked here: signature against the
keys at ``<GOOGLE_API_ROOT>oauth2/v1/certs`` (the sandbox publishes its own there), audience,
issuer and expiry. The keys are fetched once and kept for a few minutes; a token signed
with a key not seen yet fetches them again (Google rotates its keys).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import google.auth.exceptions
import google.auth.transport
from google.oauth2 import id_token

#: The issuers Google writes into its ID tokens.
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})

# Google's own certs answer with a max-age of hours; a few minutes is plenty and bounds how
# long a revoked key is trusted.
_KEEP_SECONDS = 300.0
# A token with an unknown key fetches again, but not more often than this.
_REFETCH_SECONDS = 30.0
# Google's clock and ours may differ a little; a token is not refused for seconds of drift.
_CLOCK_SKEW_SECONDS = 30


class InvalidIdToken(ValueError):
    """The token is not a valid Google ID token for this audience; the message says why
    (never the token itself)."""


def certs_url(api_root: str) -> str:
    """Where Google publishes the keys its ID tokens are signed with (x509 PEM by key id)."""
    return api_root.rstrip("/") + "/oauth2/v1/certs"


@dataclass
class _Answer:
    status: int
    headers: Mapping[str, str]
    data: bytes


class _KeysCache(google.auth.transport.Request):
    """google-auth's transport, answering the certs URL from memory while it is fresh."""

    def __init__(self, url: str, monotonic: Callable[[], float]) -> None:
        self._url = url
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._body: bytes | None = None
        self._fetched_at = float("-inf")

    def __call__(  # type: ignore[override]
        self, url: str, method: str = "GET", body: Any = None, headers: Any = None, **_: Any
    ) -> _Answer:
        if url != self._url or method != "GET":
            raise InvalidIdToken("only the signing keys are fetched")
        with self._lock:
            if self._body is None or self._monotonic() - self._fetched_at > _KEEP_SECONDS:
                self._fetch()
            assert self._body is not None
            return _Answer(200, {"content-type": "application/json"}, self._body)

    def refetch_if_stale(self) -> bool:
        """Fetch the keys again when they were not fetched just now; True if fetched."""
        with self._lock:
            if self._monotonic() - self._fetched_at < _REFETCH_SECONDS:
                return False
            self._fetch()
            return True

    def _fetch(self) -> None:
        try:
            with urllib.request.urlopen(self._url, timeout=10) as answer:  # noqa: S310 - configured
                body = answer.read()
            json.loads(body)
        except (OSError, ValueError) as exc:
            raise InvalidIdToken(
                f"the signing keys could not be read ({type(exc).__name__})"
            ) from exc
        self._body = body
        self._fetched_at = self._monotonic()


class IdTokenVerifier:
    """Checks Google ID tokens against the keys published under one API root."""

    def __init__(self, api_root: str, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._keys = _KeysCache(certs_url(api_root), monotonic)
        self._certs_url = certs_url(api_root)

    def verify(self, token: str, audience: str) -> Mapping[str, Any]:
        """The token's claims, once signature, audience, issuer and expiry are checked.

        :raises InvalidIdToken: when any of them is wrong, or the keys cannot be read.
        """
        if not token or token.count(".") != 2:
            raise InvalidIdToken("not a signed token")
        try:
            claims = self._decode(token, audience)
        except InvalidIdToken as exc:
            if "key id" in str(exc) and self._keys.refetch_if_stale():
                claims = self._decode(token, audience)
            else:
                raise
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise InvalidIdToken("not issued by Google")
        if not claims.get("sub"):
            raise InvalidIdToken("names no account")
        return claims

    def _decode(self, token: str, audience: str) -> Mapping[str, Any]:
        try:
            claims: Mapping[str, Any] = id_token.verify_token(
                token,
                self._keys,
                audience=audience,
                certs_url=self._certs_url,
                clock_skew_in_seconds=_CLOCK_SKEW_SECONDS,
            )
        except InvalidIdToken:
            raise
        except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            # google-auth's messages name the reason (expired, audience, key id), not the token.
            raise InvalidIdToken(_reason(exc)) from exc
        return claims


def _reason(exc: Exception) -> str:
    text = str(exc)
    for words in ("expired", "audience", "key id", "signature", "Token used too early"):
        if words.lower() in text.lower():
            return words.lower()
    return type(exc).__name__


@cache
def verifier_for(api_root: str) -> IdTokenVerifier:
    """The one verifier of this process for ``api_root``: its keys are fetched once, not per
    request."""
    return IdTokenVerifier(api_root)
