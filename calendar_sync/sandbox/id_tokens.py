"""Google-signed ID tokens, as the sandbox issues them (Cloud Tasks' OIDC tokens).

One RSA key per sandbox process signs RS256 JWTs; ``/oauth2/v1/certs`` publishes its
certificate by key id, in the PEM form Google's v1 certs endpoint uses, so the real
``google.oauth2.id_token`` verification code checks them unchanged.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

ISSUER = "https://accounts.google.com"
LIFETIME = timedelta(hours=1)


@cache
def _key() -> tuple[str, bytes, bytes]:
    """(key id, private key PEM, certificate PEM), made once per process."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox.example.test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return secrets.token_hex(20), private, certificate.public_bytes(serialization.Encoding.PEM)


def certs() -> dict[str, str]:
    """The public certificates by key id (Google's ``oauth2/v1/certs`` shape)."""
    key_id, _private, certificate = _key()
    return {key_id: certificate.decode()}


def sign(claims: dict[str, Any], now: datetime) -> str:
    """An RS256 ID token for ``claims``, issued by Google, valid for an hour from ``now``."""
    key_id, private, _certificate = _key()
    signer = crypt.RSASigner.from_string(private, key_id)
    issued = int(now.timestamp())
    payload = {
        "iss": ISSUER,
        "iat": issued,
        "exp": issued + int(LIFETIME.total_seconds()),
        **claims,
    }
    token: bytes = jwt.encode(signer, payload)
    return token.decode()
