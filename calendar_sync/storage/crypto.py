"""Encryption of Google tokens at rest."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenCipher:
    """Fernet with rotation: the first key encrypts, every key decrypts.

    :raises cryptography.fernet.InvalidToken: on decrypting with none of the keys matching.
    """

    def __init__(self, keys: list[str]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, sealed: str) -> str:
        return self._fernet.decrypt(sealed.encode("ascii")).decode()

    def rotate(self, sealed: str) -> str:
        """Re-encrypt under the newest key (after a key was put first in the list)."""
        return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")


__all__ = ["InvalidToken", "TokenCipher"]
