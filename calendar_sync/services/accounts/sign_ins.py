"""Signing a therapist in: their row and grant, and a random secret per browser sign-in.

The browser's session cookie holds only the secret (signed by Flask, like any cookie); the
server keeps its SHA-256 with the therapist and an expiry. Every request looks the secret up,
so signing out or disconnecting, which delete the row, end the sign-in for every copy of the
cookie, and a cookie can never name a row id that a later therapist may be given.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ...google.oauth import GoogleAccount, Grant
from ...storage.models import BrowserSignIn, Therapist
from ..runtime import Runtime

log = logging.getLogger(__name__)

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


class SignInConflict(RuntimeError):
    """The therapist's rows kept changing under this sign-in; the browser may simply retry."""


def sign_in_with_google(
    runtime: Runtime, account: GoogleAccount, grant: Grant, now: datetime
) -> tuple[int, str]:
    """Record the therapist (new or returning), keep their grant, open a browser sign-in.

    Returns the therapist's id and the secret for the browser's cookie. Two first sign-ins
    of one account at once both find no therapist and both insert one; the second meets the
    first's row (a unique ``google_subject``) and, on a second try, signs into it.

    :raises SignInConflict: when the second try meets a conflict as well.
    """
    for attempt in range(2):
        try:
            with runtime.database.transaction() as db:
                therapist, created = _therapist(db, account, now)
                runtime.connections.save_grant(db, therapist.id, grant, now)
                secret = open_sign_in(db, therapist.id, now)
                therapist_id = int(therapist.id)
        except IntegrityError:
            # The error's text holds the row's values (an email): it is never logged.
            log.info("a sign-in met another one for the same account (try %s)", attempt + 1)
            continue
        if created:
            log.info("therapist %s connected", therapist_id)
        return therapist_id, secret
    raise SignInConflict("the therapist's rows changed during two tries")


def _therapist(db: DbSession, account: GoogleAccount, now: datetime) -> tuple[Therapist, bool]:
    therapist = db.scalar(select(Therapist).where(Therapist.google_subject == account.subject))
    if therapist is not None:
        therapist.email = account.email or therapist.email
        return therapist, False
    therapist = Therapist(
        google_subject=account.subject,
        email=account.email,
        display_name=account.name,
        time_zone="UTC",
        created_at=now,
    )
    db.add(therapist)
    db.flush()
    return therapist, True
