"""The shape of the package: its layers hold, a forbidden import fails the lint, no cycles."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _copy(tree: Path) -> Path:
    """The package and its lint settings, copied into ``tree``."""
    shutil.copytree(ROOT / "calendar_sync", tree / "calendar_sync")
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` as ``make lint`` runs it, on the package found in ``tree``."""
    command = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(  # noqa: S603 - the project's own linter and a fixed command
        [str(command), "--config", "pyproject.toml", "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": str(command.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_its_layers(tmp_path: Path) -> None:
    result = _lint_imports(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # the domain reaching up into the web layer
        ("domain/money.py", "from calendar_sync.web import dashboard", "Layers"),
        # an adapter reaching up into the services
        ("google/events.py", "from calendar_sync.services import cycle", "Layers"),
        # a workflow reading a page's read-model
        ("services/followup/effects.py", "from ..pages import today", "Pages"),
        # production code leaning on the sandbox
        ("services/outbox/dispatch.py", "from ...sandbox import testing", "sandbox"),
    ],
)
def test_a_forbidden_import_fails_the_lint(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    target = _copy(tmp_path) / "calendar_sync" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa: E402, F401\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout
    assert contract in broken.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    # grimp counts every import, those inside functions and under TYPE_CHECKING included.
    graph = grimp.build_graph("calendar_sync")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_the_readme_names_every_capability_of_the_services() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Architecture") :]
    named = set(re.findall(r"`services/(\w+)/`", section))
    present = {
        path.name
        for path in (ROOT / "calendar_sync" / "services").iterdir()
        if (path / "__init__.py").exists()
    }
    assert named == present
