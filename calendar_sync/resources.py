"""Where the templates and static files are: beside the package, or inside it once installed.

The repository keeps ``templates/`` and ``static/`` at its top, as Flask projects lay them
out; ``pyproject.toml`` packages them as ``calendar_sync/templates`` and
``calendar_sync/static``, so a plain ``pip install .`` can serve pages too.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _folder(name: str) -> Path:
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


TEMPLATES = _folder("templates")
STATIC = _folder("static")
