"""Screenshots of the demo's main pages, for the README: ``make screenshots``.

Seeds the demo practice in-process on free ports, signs in through the sandbox's consent
page in chromium, and saves PNGs at laptop width (and the dashboard and the email editor at
phone width).

    python scripts/screenshots.py [--out docs/screenshots]

``CHROMIUM_PATH`` names the browser (default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calendar_sync.demo import Demo
from calendar_sync.demo.practice import THERAPIST_EMAIL
from calendar_sync.demo.seed import SandboxControl
from calendar_sync.services.cycle import run_cycle
from calendar_sync.services.runtime import runtime_of

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LINK = re.compile(r"http://[^\s]+/p/[^\s]+")


def _shoot(page: Any, url: str, path: Path) -> bool:
    """Open ``url`` and save what the window shows; False when the page is not there."""
    response = page.goto(url)
    if response is None or response.status != 200:
        return False
    page.screenshot(path=str(path))
    return True


def _checkin_link(demo: Demo, patient: str) -> str:
    messages = SandboxControl(demo.sandbox_url).call("GET", f"mail?to={patient}")["messages"]
    for message in reversed(messages):
        found = LINK.findall(message["text"] or "")
        if found:
            return str(found[0])
    raise LookupError("no check-in with a link was sent")


def _addon_panel(page: Any, demo: Demo, path: Path) -> bool:
    """The sandbox's Calendar with the add-on's panel open on the week's latest session
    waiting for a mark, marked a no-show there: its check-in waits with its text and its
    Hold button. False when the week has no session waiting."""
    sandbox_url = demo.sandbox_url
    page.set_viewport_size({"width": LAPTOP["width"], "height": 1200})
    page.goto(f"{sandbox_url}/calendar?account={THERAPIST_EMAIL}")
    panel = page.get_by_role("complementary", name="Add-on side panel")
    events = page.locator(".event")
    for index in reversed(range(events.count())):
        with page.expect_response(lambda answer: answer.url.endswith("/calendar/panel")):
            events.nth(index).click()
        shown = panel.inner_text()
        if "Not marked yet" in shown and "It has not happened yet" not in shown:
            panel.get_by_role("button", name="No-show", exact=True).click()
            panel.get_by_text("marked from the calendar").wait_for()
            assert demo.app is not None
            run_cycle(runtime_of(demo.app), now=datetime.now(UTC), dry_run=False)
            with page.expect_response(lambda answer: answer.url.endswith("/calendar/panel")):
                events.nth(index).click()
            page.screenshot(path=str(path))
            page.set_viewport_size(LAPTOP)
            return True
    page.set_viewport_size(LAPTOP)
    return False


def take(out: Path, browser: Any = None) -> list[Path]:
    """Seed the demo, take every screenshot into ``out``, and return the files written.

    ``browser`` is a running Playwright chromium; one is launched when it is not given.
    """
    if browser is not None:
        return _take(out, browser)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            return _take(out, launched)
        finally:
            launched.close()


def _take(out: Path, browser: Any) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as scratch:
        os.environ.setdefault("CALENDAR_SYNC_INSTANCE", str(Path(scratch) / "instance"))
        with Demo(Path(scratch) / "demo", tick_seconds=None) as demo:
            context = browser.new_context(viewport=LAPTOP)
            page = context.new_page()

            def shoot(name: str, url: str) -> None:
                path = out / f"{name}.png"
                if _shoot(page, url, path):
                    written.append(path)

            shoot("home", demo.url + "/")
            page.get_by_role("link", name="Connect Google Calendar").click()
            page.screenshot(path=str(out / "consent.png"))
            written.append(out / "consent.png")
            page.get_by_role("button", name="Continue").click()
            page.wait_for_url(demo.url + "/dashboard")
            shoot("dashboard", demo.url + "/dashboard")
            shoot("checklist", demo.url + "/start/")
            # A no-show marked on Today: the follow-up waits out the hold, its text readable.
            page.goto(demo.url + "/dashboard")
            # One nobody marked and no video call settled (those read "Google Meet: ...").
            unmarked = page.locator(".waiting-session").filter(has_not_text="Google Meet")
            if unmarked.first.count():
                page.goto(demo.url + "/dashboard")
                unmarked = page.locator(".waiting-session").filter(has_not_text="Google Meet")
                unmarked.first.get_by_role("button", name="No-show").click()
                page.locator("#undo").wait_for()
                assert demo.app is not None
                run_cycle(runtime_of(demo.app), now=datetime.now(UTC), dry_run=False)
                page.reload()
                held = page.locator("#soon .row").filter(has_text="With it")
                if held.count():
                    held.first.locator("details.message summary").click()
                    held.first.scroll_into_view_if_needed()
                    page.screenshot(path=str(out / "hold.png"))
                    written.append(out / "hold.png")
            shoot("patients", demo.url + "/patients/")
            page.get_by_role("link", name="Jordan Blake").first.click()
            page.wait_for_load_state()
            page.screenshot(path=str(out / "patient.png"))
            written.append(out / "patient.png")
            shoot("settings", demo.url + "/settings/")
            shoot("templates-editor", demo.url + "/settings/templates/checkin")
            shoot("followups", demo.url + "/followups/")
            shoot("activity", demo.url + "/activity")
            shoot("sandbox-mail", demo.sandbox_url + "/mail")
            shoot("sandbox-invitations", demo.sandbox_url + "/invitations")
            shoot("checkin-link", _checkin_link(demo, "maya.lindqvist@example.test"))
            if _addon_panel(page, demo, out / "addon-panel.png"):
                written.append(out / "addon-panel.png")

            phone = browser.new_context(viewport=PHONE, storage_state=context.storage_state())
            page = phone.new_page()
            shoot("dashboard-phone", demo.url + "/dashboard")
            shoot("templates-editor-phone", demo.url + "/settings/templates/checkin")
            phone.close()
            context.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    for path in take(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
