"""Which browser is signed in as which therapist: a random secret per sign-in, kept server-side.

The browser's session cookie holds only the secret (signed by Flask, like any cookie); the
server keeps its SHA-256 with the therapist and an expiry. Every request looks the secret up,
so signing out or disconnecting, which delete the row, end the sign-in for every copy of the
cookie, and a cookie can never name a row id that a later therapist may be given.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session as DbSession

from ...storage.models import BrowserSignIn, Therapist

# A working day with the dashboard open; signing in again is one click on Google's page.
SIGN_IN_LIFETIME = timedelta(hours=12)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_sign_in(db: DbSession, therapist_id: int, now: datetime) -> str:
    """Record a new sign-in for ``therapist_id``; returns the secret for the browser's cookie."""
    db.execute(delete(BrowserSignIn).where(BrowserSignIn.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    db.add(
        BrowserSignIn(
            token_hash=_hash(secret),
            therapist_id=therapist_id,
            created_at=now,
            expires_at=now + SIGN_IN_LIFETIME,
        )
    )
    db.flush()
    return secret


def signed_in_therapist(db: DbSession, secret: str, now: datetime) -> Therapist | None:
    """The therapist this secret signs in, or None when it is unknown, ended or expired."""
    sign_in = db.get(BrowserSignIn, _hash(secret))
    if sign_in is None or sign_in.expires_at <= now:
        return None
    return db.get(Therapist, sign_in.therapist_id)


def close_sign_in(db: DbSession, secret: str) -> None:
    """End the sign-in this secret opened (signing out); unknown secrets are ignored."""
    db.execute(delete(BrowserSignIn).where(BrowserSignIn.token_hash == _hash(secret)))


def close_all_sign_ins(db: DbSession, therapist_id: int) -> None:
    """End every browser's sign-in as ``therapist_id`` (disconnecting)."""
    db.execute(delete(BrowserSignIn).where(BrowserSignIn.therapist_id == therapist_id))
