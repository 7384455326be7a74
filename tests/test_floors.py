"""The floors of the house, bottom up: core → booking → providers → dispatch → office → app.

An import only ever points down (or within its own package); `dispatch/solver/` imports nothing of
the project but itself; nothing imports `app` except `app` itself (and the tests). Every import is
checked, the deferred ones inside functions too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ("core", "booking", "providers", "dispatch", "office", "app")
SOLVER = "dispatch.solver"


def project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a project package in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in FLOORS]


def allowed(importer: str, imported: str) -> bool:
    """Whether module `importer` may import `imported` (both dotted names of project modules)."""
    if importer == SOLVER or importer.startswith(SOLVER + "."):
        return imported == SOLVER or imported.startswith(SOLVER + ".")
    return FLOORS.index(imported.split(".")[0]) <= FLOORS.index(importer.split(".")[0])


def modules() -> list[tuple[str, Path]]:
    found = []
    for floor in FLOORS:
        for path in sorted((ROOT / floor).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def test_the_rule_itself():
    """A few cases the rule must decide, so that a broken rule cannot pass the house."""
    assert allowed("providers.service", "booking.queries") and allowed("dispatch.service", "core.db")
    assert not allowed("booking.service", "providers.queries") and not allowed("core.db", "booking")
    assert not allowed("dispatch.worker", "app.main") and allowed("app.cli", "dispatch.worker")
    assert not allowed("dispatch.solver.routing", "dispatch.models") and not allowed("dispatch.solver", "core")
    assert allowed("dispatch.solver.routing", "dispatch.solver.problem")
    assert "booking.queries" in [name for _, name in project_imports(ROOT / "providers" / "service.py")]


@pytest.mark.parametrize("module,path", modules(), ids=[name for name, _ in modules()])
def test_imports_point_down(module, path):
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {name}" for line, name in project_imports(path)
             if not allowed(module, name)]
    assert not wrong, "\n".join(wrong)
