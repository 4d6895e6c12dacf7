"""Calling the Calendar add-on as Google Calendar does, and reading its answers strictly.

Every card an answer holds is parsed with ``google.apps.card.v1``'s own message type,
unknown fields refused, so a misspelt field fails the test that received it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from google.apps.card_v1.types import Card
from google.protobuf.json_format import ParseDict

from calendar_sync.sandbox.signing import SigningKey

# What Google's add-on service account is, to the sandbox: any subject will do.
ADDON_SERVICE = "addon-service-account"

_ENVELOPES = {
    "action": {"navigations"},
    "renderActions": {"action"},
}


def cards_in(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every card of a trigger's or an action's answer, each parsed as google.apps.card.v1."""
    assert set(answer) <= set(_ENVELOPES), answer.keys()
    action = answer["renderActions"]["action"] if "renderActions" in answer else answer["action"]
    assert set(action) <= {"navigations", "notification"}, action.keys()
    if "notification" in action:
        assert set(action["notification"]) == {"text"} and action["notification"]["text"]
    found = []
    for step in action["navigations"]:
        assert len(step) == 1 and set(step) <= {"pushCard", "updateCard"}, step
        card = next(iter(step.values()))
        ParseDict(card, Card.pb()(), ignore_unknown_fields=False)
        found.append(card)
    assert found
    return found


def texts(card: dict[str, Any]) -> str:
    """Every piece of text a card shows, one per line (for assertions on what it says)."""
    lines = [card.get("header", {}).get("title", ""), card.get("header", {}).get("subtitle", "")]
    for section in card.get("sections", []):
        lines.append(section.get("header", ""))
        for widget in section["widgets"]:
            if "textParagraph" in widget:
                lines.append(widget["textParagraph"]["text"])
            if "decoratedText" in widget:
                item = widget["decoratedText"]
                lines.extend(item.get(k, "") for k in ("topLabel", "text", "bottomLabel"))
            for button in widget.get("buttonList", {}).get("buttons", []):
                lines.append("[" + button["text"] + "]")
    return "\n".join(line for line in lines if line)


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        button
        for section in card.get("sections", [])
        for widget in section["widgets"]
        for button in widget.get("buttonList", {}).get("buttons", [])
    ]


def button(card: dict[str, Any], text: str, index: int = 0) -> dict[str, Any]:
    found = [b for b in buttons(card) if b["text"] == text]
    assert len(found) > index, f"no button {text!r} in:\n{texts(card)}"
    return found[index]


class Calendar:
    """Google Calendar's side: signed requests from the add-on service and the user."""

    def __init__(self, base_url: str, sandbox: Any, client_secrets: Path) -> None:
        self.base_url = base_url
        self.sandbox = sandbox
        self.client_id = json.loads(client_secrets.read_text())["web"]["client_id"]

    def token(self, audience: str, **claims: Any) -> str:
        body = {"audience": audience, **claims}
        if "email" not in body:
            body.setdefault("subject", ADDON_SERVICE)
        return str(self.sandbox.control("POST", "id-tokens", body)["id_token"])

    def user_token(self, email: str, **claims: Any) -> str:
        return self.token(self.client_id, email=email, **claims)

    def post(
        self,
        path: str,
        email: str,
        *,
        event: tuple[str, str] | None = None,
        parameters: dict[str, str] | None = None,
        bearer: str | None = None,
        user_token: str | None = None,
    ) -> requests.Response:
        """POST an event object to ``path`` as Google would, signed unless told otherwise."""
        url = self.base_url + path
        body: dict[str, Any] = {
            "commonEventObject": {
                "hostApp": "CALENDAR",
                "platform": "WEB",
                "userLocale": "en-GB",
                "timeZone": {"id": "Europe/London", "offset": 0},
            },
            "authorizationEventObject": {
                "userIdToken": user_token if user_token is not None else self.user_token(email)
            },
        }
        if parameters:
            body["commonEventObject"]["parameters"] = parameters
        if event is not None:
            body["calendar"] = {"calendarId": event[0], "id": event[1]}
        token = bearer if bearer is not None else self.token(url)
        return requests.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def press(self, email: str, pressed: dict[str, Any]) -> requests.Response:
        """Press a card's button: POST to its action with its parameters."""
        action = pressed["onClick"]["action"]
        path = action["function"].removeprefix(self.base_url)
        parameters = {p["key"]: p["value"] for p in action.get("parameters", [])}
        return self.post(path, email, parameters=parameters)


def forged_token(audience: str, subject: str) -> str:
    """A token signed with a key the sandbox never published."""
    return SigningKey().id_token(subject=subject, audience=audience)
