"""Retiring a token key: every stored Google token re-encrypted under the first key.

``TOKEN_ENCRYPTION_KEYS`` lists Fernet keys; the first encrypts and all decrypt. To retire a
key, put a new one first (every process of the service), run :func:`rotate_token_keys`
(``calendar-sync keys rotate``), then remove the old key: nothing stored needs it any more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update

from ...storage.crypto import InvalidToken, TokenCipher
from ...storage.models import GoogleConnection
from ..runtime import Runtime

log = logging.getLogger(__name__)

# A connection whose token a worker refreshes while it is being rotated is read again.
_TRIES = 5


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did: connections re-encrypted, and those no configured key opens."""

    rotated: int
    unreadable: int


def rotate_token_keys(runtime: Runtime) -> RotationReport:
    """Re-encrypt every stored Google token under the first of ``TOKEN_ENCRYPTION_KEYS``.

    Each connection is rewritten only if no refresh changed it meanwhile (its ``version``),
    and read again otherwise. Tokens that no configured key opens are left as they are and
    counted as unreadable: their therapists must connect again.
    """
    database = runtime.database
    cipher = runtime.connections.cipher
    with database.transaction() as db:
        ids = list(db.scalars(select(GoogleConnection.id).order_by(GoogleConnection.id)))
    rotated = unreadable = 0
    for connection_id in ids:
        outcome = _rotate_one(runtime, cipher, connection_id)
        rotated += outcome == "rotated"
        unreadable += outcome == "unreadable"
    log.info("token keys rotated: %s connections, %s unreadable", rotated, unreadable)
    return RotationReport(rotated=rotated, unreadable=unreadable)


def _rotate_one(runtime: Runtime, cipher: TokenCipher, connection_id: int) -> str:
    for _ in range(_TRIES):
        with runtime.database.transaction() as db:
            connection = db.get(GoogleConnection, connection_id)
            if connection is None:  # disconnected meanwhile
                return "gone"
            try:
                refresh = _rotated(cipher, connection.refresh_token_encrypted)
                access = _rotated(cipher, connection.access_token_encrypted)
            except InvalidToken:
                log.warning("connection %s: no configured key opens its tokens", connection_id)
                return "unreadable"
            written = db.execute(
                update(GoogleConnection)
                .where(
                    GoogleConnection.id == connection_id,
                    GoogleConnection.version == connection.version,
                )
                .values(
                    refresh_token_encrypted=refresh,
                    access_token_encrypted=access,
                    version=connection.version + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(written, "rowcount", 1):
                return "rotated"
    raise RuntimeError(f"connection {connection_id} kept changing; run the rotation again")


def _rotated(cipher: TokenCipher, sealed: str | None) -> str | None:
    return cipher.rotate(sealed) if sealed else None
