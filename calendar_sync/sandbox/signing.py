"""The sandbox's signing key: ID tokens as Google signs them, and the keys it publishes.

Google publishes x509 certificates by key id at ``oauth2/v1/certs``; the sandbox does the
same with a key of its own, made once per process (an RSA key takes a moment to make).
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

#: What Google writes as the issuer of its ID tokens.
ISSUER = "https://accounts.google.com"
#: Google's ID tokens last an hour.
LIFETIME_SECONDS = 3600


class SigningKey:
    """One RSA key with its key id and self-signed certificate."""

    def __init__(self) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = secrets.token_hex(20)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox.example.test")])
        today = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(today - timedelta(days=1))
            .not_valid_after(today + timedelta(days=365))
            .sign(private, hashes.SHA256())
        )
        self.certificate = certificate.public_bytes(serialization.Encoding.PEM).decode()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._signer = crypt.RSASigner.from_string(pem, key_id=self.key_id)
        self._lock = threading.Lock()

    def certs(self) -> dict[str, str]:
        """The published keys: certificate by key id, as Google's v1 certs answer."""
        return {self.key_id: self.certificate}

    def sign(self, claims: dict[str, Any]) -> str:
        with self._lock:
            return jwt.encode(self._signer, claims).decode()

    def id_token(
        self,
        *,
        subject: str,
        audience: str,
        email: str | None = None,
        issuer: str = ISSUER,
        lifetime: int = LIFETIME_SECONDS,
        issued_at: float | None = None,
    ) -> str:
        """An ID token for ``subject``, issued now (tokens live in real time, whatever the
        sandbox's calendar clock says)."""
        now = int(time.time() if issued_at is None else issued_at)
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "exp": now + lifetime,
        }
        if email is not None:
            claims.update(email=email, email_verified=True)
        return self.sign(claims)


@cache
def sandbox_key() -> SigningKey:
    """The key every sandbox of this process signs with."""
    return SigningKey()
