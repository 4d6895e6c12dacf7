"""requirements.txt, what App Engine installs, pins every runtime dependency with its hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def locked() -> dict[str, tuple[Version, list[str]]]:
    """Each requirement of the lock: its pinned version and its hashes, by canonical name."""
    text = (ROOT / "requirements.txt").read_text()
    entries: dict[str, tuple[Version, list[str]]] = {}
    for logical in re.sub(r"\\\n", " ", text).splitlines():
        line = logical.split("#", 1)[0].strip()
        if not line:
            continue
        assert not line.startswith("-"), f"an option the lock should not need: {line}"
        spec, *options = re.split(r"\s+(?=--)", line)
        requirement = Requirement(spec)
        pins = [s for s in requirement.specifier if s.operator == "=="]
        assert len(pins) == 1 and len(requirement.specifier) == 1, f"not pinned: {line}"
        hashes = [o.split(":", 1)[1] for o in options if o.startswith("--hash=sha256:")]
        assert hashes and len(hashes) == len(options), f"not hashed: {line}"
        entries[canonicalize_name(requirement.name)] = (Version(pins[0].version), hashes)
    return entries


def runtime_dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["appengine"]
    return [Requirement(text) for text in declared]


def test_every_runtime_dependency_is_pinned_with_hashes() -> None:
    lock = locked()
    for requirement in runtime_dependencies():
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is declared in pyproject.toml but not locked (make lock)"
        version, hashes = lock[name]
        assert requirement.specifier.contains(version), f"{name}=={version} breaks {requirement}"
        assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in hashes), name
    # psycopg[binary] installs its wheel as a package of its own
    assert "psycopg-binary" in lock


def test_the_lock_is_for_the_python_app_engine_runs() -> None:
    header = (ROOT / "requirements.txt").read_text()
    runtime = re.search(r"^runtime:\s*python3(\d+)", (ROOT / "app.yaml").read_text(), re.M)
    assert runtime is not None
    assert f"pip-compile with Python 3.{runtime.group(1)}\n" in header
