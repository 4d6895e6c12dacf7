"""Google ID tokens checked against the keys published under the API root (the sandbox's)."""

from __future__ import annotations

from typing import Any

import pytest

from calendar_sync.google.id_tokens import IdTokenVerifier, InvalidIdToken, certs_url
from calendar_sync.sandbox.signing import SigningKey

AUDIENCE = "https://calendar-sync.example.test/addon/event"


def token(sandbox: Any, **body: Any) -> str:
    return str(sandbox.control("POST", "id-tokens", {"audience": AUDIENCE, **body})["id_token"])


def test_a_valid_token_gives_its_claims(google_sandbox: Any) -> None:
    google_sandbox.add_account("dr.lee@example.test")
    claims = IdTokenVerifier(google_sandbox.url).verify(
        token(google_sandbox, email="dr.lee@example.test"), AUDIENCE
    )
    assert claims["sub"] == google_sandbox.state.accounts["dr.lee@example.test"].id
    assert claims["iss"] == "https://accounts.google.com"
    assert certs_url(google_sandbox.url) == google_sandbox.url + "oauth2/v1/certs"


@pytest.mark.parametrize(
    ("body", "audience", "reason"),
    [
        ({"subject": "x", "lifetime": -120}, AUDIENCE, "expired"),
        ({"subject": "x"}, AUDIENCE + "-other", "audience"),
        ({"subject": "x", "issuer": "https://accounts.example.test"}, AUDIENCE, "issued by"),
    ],
)
def test_expired_foreign_or_misissued_tokens_are_refused(
    google_sandbox: Any, body: dict[str, Any], audience: str, reason: str
) -> None:
    with pytest.raises(InvalidIdToken, match=reason):
        IdTokenVerifier(google_sandbox.url).verify(token(google_sandbox, **body), audience)


def test_a_token_signed_with_an_unpublished_key_is_refused(google_sandbox: Any) -> None:
    verifier = IdTokenVerifier(google_sandbox.url)
    forged = SigningKey().id_token(subject="x", audience=AUDIENCE)
    with pytest.raises(InvalidIdToken, match="key id"):
        verifier.verify(forged, AUDIENCE)
    # A tampered payload with a real key's signature fails too.
    real = token(google_sandbox, subject="x")
    head, _payload, signature = real.split(".")
    other = token(google_sandbox, subject="y").split(".")[1]
    with pytest.raises(InvalidIdToken, match="signature"):
        verifier.verify(f"{head}.{other}.{signature}", AUDIENCE)
    for garbage in ("", "not-a-token", "a.b.c"):
        with pytest.raises(InvalidIdToken):
            verifier.verify(garbage, AUDIENCE)


def test_keys_are_fetched_once_then_again_for_an_unseen_key(google_sandbox: Any) -> None:
    clock = [0.0]
    verifier = IdTokenVerifier(google_sandbox.url, monotonic=lambda: clock[0])
    for _ in range(3):
        verifier.verify(token(google_sandbox, subject="x"), AUDIENCE)
    assert google_sandbox.control("GET", "calls")["calls"]["oauth.certs"] == 1
    # A token with a key not seen: fetched again (Google rotates keys), but not in a loop.
    clock[0] = 60.0
    forged = SigningKey().id_token(subject="x", audience=AUDIENCE)
    for _ in range(2):
        with pytest.raises(InvalidIdToken):
            verifier.verify(forged, AUDIENCE)
    assert google_sandbox.control("GET", "calls")["calls"]["oauth.certs"] == 2
    # Kept keys grow stale after a few minutes and are fetched again.
    clock[0] = 1000.0
    verifier.verify(token(google_sandbox, subject="x"), AUDIENCE)
    assert google_sandbox.control("GET", "calls")["calls"]["oauth.certs"] == 3


def test_unreadable_keys_refuse_the_token() -> None:
    verifier = IdTokenVerifier("http://127.0.0.1:9/")
    with pytest.raises(InvalidIdToken, match="signing keys could not be read"):
        verifier.verify(SigningKey().id_token(subject="x", audience=AUDIENCE), AUDIENCE)
