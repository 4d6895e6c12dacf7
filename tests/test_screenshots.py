"""``make screenshots``: the script seeds the demo and saves PNGs of the main pages."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "screenshots.py"

pytestmark = pytest.mark.browser


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _size(png: Path) -> tuple[int, int]:
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


def test_screenshots_of_the_main_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser: Any
) -> None:
    monkeypatch.setenv("CALENDAR_SYNC_INSTANCE", str(tmp_path / "instance"))
    written = _script().take(tmp_path / "shots", browser)
    names = {path.stem for path in written}
    assert names >= {
        "home",
        "consent",
        "dashboard",
        "patients",
        "patient",
        "settings",
        "sandbox-mail",
        "checkin-link",
        "dashboard-phone",
        "templates-editor",
        "templates-editor-phone",
        "checklist",
        "hold",
        "addon-panel",
    }
    assert _size(tmp_path / "shots" / "dashboard.png") == (1280, 800)
    assert _size(tmp_path / "shots" / "dashboard-phone.png") == (390, 844)
    assert _size(tmp_path / "shots" / "templates-editor-phone.png") == (390, 844)
