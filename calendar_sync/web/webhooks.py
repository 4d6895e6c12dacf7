"""Google's push notifications arrive here: judged, queued, answered at once.

Google retries deliveries that fail or answer slowly, so the sync itself runs on the
queue's worker; the answer only says whether the notification was ours (200), carried a
wrong token (403) or named a channel we do not know (404).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request

from ..services.sync.channels import WEBHOOK_PATH
from ..services.sync.notifications import Notification, receive
from . import csrf

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
    # The queue's worker thread outlives the request: it needs the app, not the proxy.
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # Flask's documented way
    # The web edge reads the clock; everything below takes ``now``.
    status = receive(app, notification, datetime.now(UTC))
    return Response(status=status)
