"""The project's modules import each other without cycles, and only at the top: an import
hidden in a function is how a cycle hides (ingest owns the rollups; rankings calls it)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "ingest", "rankings")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _targets(node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The project modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.module is None or node.level:
        return set()
    else:
        names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return {name for name in names if name in modules}


def _imports(tree: ast.Module) -> tuple[list[ast.AST], list[ast.AST]]:
    """(imports at module level, imports inside functions)."""
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    nested = [
        n
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for n in ast.walk(fn)
        if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    return top, nested


def test_no_import_cycle_between_modules():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        top, _ = _imports(ast.parse(path.read_text()))
        graph[name] = {target for node in top for target in _targets(node, modules)} - {name}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


def test_no_project_import_inside_a_function():
    modules = _modules()
    hidden = []
    for name, path in modules.items():
        _, nested = _imports(ast.parse(path.read_text()))
        hidden += [f"{name}:{node.lineno}" for node in nested if _targets(node, modules)]
    assert hidden == []


def test_the_checks_see_the_modules():
    """The walk finds the modules it checks (a wrong root would pass everything)."""
    modules = _modules()
    assert {"ingest.schema", "ingest.rollups.read", "rankings.selectors.ranks", "config.settings"} <= set(modules)
