"""The Calendar add-on's deployment resource, as Google Workspace add-ons take it.

``gcloud workspace-add-ons deployments create NAME --deployment-file=addon/deployment.json``
reads this JSON; the service also serves its own, with its address, at
``/addon/deployment.json``. The sandbox installs it the same way in the demo and tests.
"""

from __future__ import annotations

#: The host written in ``addon/deployment.json``; a deployment replaces it with its own.
EXAMPLE_HOST = "https://calendar-sync.example.test"


def deployment(public_url: str) -> dict[str, object]:
    """The add-on's deployment resource (what ``gcloud workspace-add-ons deployments create``
    takes) for a service at ``public_url``.

    The fewest scopes that work: running in Calendar, reading the open event's ids and
    guests (``currentEventAccess: READ``), and ``openid`` for the user's ID token, which names
    the therapist. Everything else the service reads with the therapist's own connection.
    """
    base = public_url.rstrip("/") + "/addon/"
    return {
        "oauthScopes": [
            "https://www.googleapis.com/auth/calendar.addons.execute",
            "https://www.googleapis.com/auth/calendar.addons.current.event.read",
            "openid",
        ],
        "addOns": {
            "common": {
                "name": "calendar-sync",
                "logoUrl": public_url.rstrip("/") + "/static/logo.png",
                "homepageTrigger": {"runFunction": base + "homepage"},
            },
            "calendar": {
                "homepageTrigger": {"runFunction": base + "homepage"},
                "eventOpenTrigger": {"runFunction": base + "event"},
                "currentEventAccess": "READ",
            },
            "httpOptions": {"authorizationHeader": "SYSTEM_ID_TOKEN"},
        },
    }
