"""The sandbox's Google Calendar: the week page, the panel's calls, and cards drawn as HTML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from calendar_sync.google.deployments import deployment
from calendar_sync.sandbox.card_html import answer_cards, card_html
from calendar_sync.sandbox.testing import RunningSandbox

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday


def test_cards_are_drawn_escaped_with_the_allowed_tags_and_gaps_visible() -> None:
    card = {
        "header": {"title": "<script>alert(1)</script>", "subtitle": "Sam & co"},
        "sections": [
            {
                "header": "This session",
                "widgets": [
                    {"textParagraph": {"text": "I&#x27;d <b>like</b><br>a <img src=x> time"}},
                    {"decoratedText": {"topLabel": "Mark", "text": "No-show"}},
                    {
                        "buttonList": {
                            "buttons": [
                                {
                                    "text": "Hold",
                                    "onClick": {
                                        "action": {
                                            "function": "https://x.example.test/addon/action",
                                            "parameters": [{"key": "do", "value": "outbox"}],
                                        }
                                    },
                                },
                                {
                                    "text": "Connect",
                                    "onClick": {
                                        "openLink": {
                                            "url": "https://x.example.test/connect",
                                            "onClose": "RELOAD",
                                        }
                                    },
                                },
                            ]
                        }
                    },
                    {"divider": {}},
                    {"grid": {"title": "not drawn"}},
                ],
            }
        ],
    }
    html = str(card_html(card))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Sam &amp; co" in html
    assert "I&#x27;d <b>like</b><br>a &lt;img src=x&gt; time" in html
    assert 'data-function="https://x.example.test/addon/action"' in html
    assert 'data-parameters="{&#34;do&#34;: &#34;outbox&#34;}"' in html
    assert 'data-on-close="RELOAD"' in html
    assert '<hr class="card-divider">' in html
    assert "[unsupported widget: grid]" in html
    pushed = {"action": {"navigations": [{"pushCard": card}]}}
    updated = {
        "renderActions": {
            "action": {"navigations": [{"updateCard": card}], "notification": {"text": "Held."}}
        }
    }
    assert answer_cards(pushed) == ([card], "")
    assert answer_cards(updated) == ([card], "Held.")


def test_the_week_page_lists_the_accounts_week(sandbox: RunningSandbox) -> None:
    sandbox.control("POST", "clock", {"now": NOW.isoformat()})
    sandbox.add_account("dr.lee@example.test", "Dr Lee", "Europe/London")
    for days, title in ((-1, "Sam R"), (3, "Kit T"), (8, "Next week")):
        start = NOW + timedelta(days=days)
        sandbox.control(
            "POST",
            "calendar/dr.lee@example.test/events",
            {
                "summary": title,
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=50)).isoformat()},
            },
        )
    page = requests.get(sandbox.url + "calendar?account=dr.lee@example.test", timeout=10)
    assert page.status_code == 200
    assert "12:00 Sam R" in page.text and "12:00 Kit T" in page.text
    assert "Next week</button>" not in page.text
    assert "No add-on is installed" in page.text
    later = requests.get(
        sandbox.url + "calendar?account=dr.lee@example.test&week=2026-03-25", timeout=10
    )
    assert "12:00 Next week" in later.text


def test_the_panel_calls_only_an_installed_add_on_on_its_own_host(
    sandbox: RunningSandbox,
) -> None:
    sandbox.add_account("dr.lee@example.test", "Dr Lee")
    panel = sandbox.url + "calendar/panel"
    ask = {"account": "dr.lee@example.test"}
    assert requests.post(panel, json=ask, timeout=10).status_code == 409
    refused = requests.post(
        sandbox.url + "_sandbox/addon", json={"deployment": {"addOns": {}}}, timeout=10
    )
    assert refused.status_code == 400
    installed = requests.post(
        sandbox.url + "_sandbox/addon",
        json={"deployment": deployment("http://127.0.0.1:9"), "client_id": "client"},
        timeout=10,
    )
    assert installed.status_code == 201
    elsewhere = {**ask, "function": "http://169.254.169.254/latest/meta-data"}
    assert requests.post(panel, json=elsewhere, timeout=10).status_code == 400
    # Nothing listens on the add-on's port: the panel says so instead of failing.
    answer = requests.post(panel, json=ask, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status"] == 502 and "The add-on answered 502" in answer.json()["html"]
