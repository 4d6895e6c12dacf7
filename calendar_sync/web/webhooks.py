"""Google's push notifications arrive here: judged, queued, answered at once.

Google retries deliveries that fail or answer slowly, so the sync itself runs on the
queue's worker; the answer only says whether the notification was ours (200), carried a
wrong token (403) or named a channel we do not know (404).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..services.sync.channels import WEBHOOK_PATH
from ..services.sync.notifications import Notification, receive
from . import csrf
from .extensions import runtime

bp = Blueprint("webhooks", __name__)


@bp.post(WEBHOOK_PATH)
# Google sends no cookie: the channel token authenticates the request instead.
@csrf.exempt
def google_calendar() -> Response:
    notification = Notification(
        channel_id=request.headers.get("X-Goog-Channel-ID"),
        token=request.headers.get("X-Goog-Channel-Token"),
        resource_id=request.headers.get("X-Goog-Resource-ID"),
        state=request.headers.get("X-Goog-Resource-State"),
    )
    # The web edge reads the clock; everything below takes ``now``.
    current = runtime()
    status = receive(current, notification, current.now())
    return Response(status=status)
