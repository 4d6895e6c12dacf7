"""The connect flow as a therapist sees it, in chromium."""

from __future__ import annotations

from typing import Any

import pytest

from calendar_sync.google.oauth import GMAIL_SEND

THERAPIST = "dr.okafor@example.test"

pytestmark = pytest.mark.browser


@pytest.fixture
def env(sandboxed_app: Any) -> Any:
    sandboxed_app.sandbox.add_account(THERAPIST, "Dr Ada Okafor", "America/New_York")
    return sandboxed_app


def test_connect_in_the_browser(page: Any, env: Any) -> None:
    page.goto(env.url + "/")
    page.get_by_role("link", name="Connect Google Calendar").click()
    # Google's (the sandbox's) consent page: pick the account, keep every box ticked.
    page.get_by_label("Dr Ada Okafor").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(env.url + "/dashboard")
    assert THERAPIST in page.locator("#connection-status").inner_text()
    assert page.locator("#switched-off").count() == 0
    # signed in: the home page now leads to the dashboard, and signing out works
    page.goto(env.url + "/")
    page.get_by_role("link", name="Open your dashboard").click()
    page.get_by_role("button", name="Sign out").click()
    assert page.get_by_role("link", name="Connect Google Calendar").is_visible()


def test_unticking_gmail_in_the_browser(page: Any, env: Any) -> None:
    page.goto(env.url + "/")
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.get_by_label("Dr Ada Okafor").check()
    page.locator(f'input[name="scope"][value="{GMAIL_SEND}"]').uncheck()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(env.url + "/dashboard")
    notice = page.locator("#switched-off").inner_text()
    assert "check-in emails from your Gmail address" in notice
