"""The add-on's deployment resource: the file gcloud takes is the one the service serves."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskClient

from calendar_sync.google.deployments import EXAMPLE_HOST, deployment

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_file_in_the_repository_is_the_resource_the_code_builds() -> None:
    shipped = json.loads((ROOT / "addon" / "deployment.json").read_text())
    assert shipped == deployment(EXAMPLE_HOST)


def test_calendar_triggers_read_access_and_the_fewest_scopes() -> None:
    resource = deployment("https://therapy.example.test")
    calendar = resource["addOns"]["calendar"]  # type: ignore[index]
    assert calendar == {
        "homepageTrigger": {"runFunction": "https://therapy.example.test/addon/homepage"},
        "eventOpenTrigger": {"runFunction": "https://therapy.example.test/addon/event"},
        "currentEventAccess": "READ",
    }
    assert resource["oauthScopes"] == [
        "https://www.googleapis.com/auth/calendar.addons.execute",
        "https://www.googleapis.com/auth/calendar.addons.current.event.read",
        "openid",
    ]


def test_the_service_serves_its_own_with_its_address(client: FlaskClient) -> None:
    served = client.get("/addon/deployment.json")
    assert served.status_code == 200
    assert served.json == deployment("http://127.0.0.1:5000")
    logo = client.get("/static/logo.png")
    assert logo.status_code == 200 and logo.data.startswith(b"\x89PNG")
    logo.close()
