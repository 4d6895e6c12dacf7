"""A plain ``pip install .`` ships everything a page needs: templates, static files, migrations."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _declared() -> set[str]:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(settings["packages"])


def test_every_package_of_the_tree_is_declared() -> None:
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "calendar_sync").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert found | {"calendar_sync.templates", "calendar_sync.static"} == _declared()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(  # noqa: S603 - our own interpreter and a fixed command
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("calendar_sync-*.whl")
    return built


def test_the_wheel_holds_the_code_the_templates_and_the_static_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        f"calendar_sync/{path.relative_to(ROOT / folder)}"
        if folder == "calendar_sync"
        else f"calendar_sync/{folder}/{path.relative_to(ROOT / folder)}"
        for folder in ("calendar_sync", "templates", "static")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    # migrations (script.py.mako, versions/) come with the code
    assert wanted - names == set()


_SERVE = """
import sys
from pathlib import Path
import calendar_sync
from calendar_sync import create_app
assert Path(calendar_sync.__file__).is_relative_to(sys.argv[1]), calendar_sync.__file__
app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + sys.argv[2],
                  "SECRET_KEY": "x", "PUBLIC_URL": "http://127.0.0.1:5000"})
client = app.test_client()
home = client.get("/")
style = client.get("/static/style.css")
print(home.status_code, style.status_code, b"Connect Google Calendar" in home.data)
"""


def test_the_installed_package_serves_its_pages(wheel: Path, tmp_path: Path) -> None:
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _SERVE, str(installed), str(tmp_path / "db.sqlite3")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed), "CALENDAR_SYNC_INSTANCE": str(tmp_path / "instance")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["200", "200", "True"]
