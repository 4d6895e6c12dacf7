"""Disconnecting a therapist: revoke the grant, stop push channels, delete their data."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete

from ...google import GoogleApiError, ReauthorizationNeeded
from ...google.oauth import revoke
from ...storage.models import Therapist
from ..runtime import Runtime
from ..sync.channels import stop_all_channels
from .connections import ConnectionKeeper
from .sign_ins import close_all_sign_ins

log = logging.getLogger(__name__)


def disconnect_therapist(runtime: Runtime, therapist_id: int, *, now: datetime) -> bool:
    """Undo the connection entirely. True when Google confirmed the revocation.

    Channels are stopped first, while the grant still works; the data goes even when
    Google cannot be reached, since the therapist asked for it to go.
    """
    keeper: ConnectionKeeper = runtime.connections
    try:
        stop_all_channels(keeper.database, keeper.apis(therapist_id, now), therapist_id, now)
    except (GoogleApiError, ReauthorizationNeeded):
        # Google lets unrenewed channels expire; the webhook ignores them once we are gone.
        log.warning("therapist %s: push channels could not be stopped", therapist_id)
    token = keeper.revocable_token(therapist_id)
    revoked = token is not None and revoke(keeper.client, token)
    with keeper.database.transaction() as db:
        # The foreign keys cascade too; ending the sign-ins by name says it is meant.
        close_all_sign_ins(db, therapist_id)
        db.execute(delete(Therapist).where(Therapist.id == therapist_id))
    log.info("therapist %s disconnected (revoked at Google: %s)", therapist_id, revoked)
    return revoked
