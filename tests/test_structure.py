"""The shape docs/architecture.md promises, checked on the source: no module imports another that
imports it back (lazy imports inside functions count, annotation-only ones do not), the engine
never imports gradio, and no function is longer than 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted((ROOT / "forge").rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (imported for annotations only)."""
    skip = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            skip |= {id(x) for b in n.body for x in ast.walk(b)}
    return [n for n in ast.walk(tree) if id(n) not in skip]


def _imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The forge modules ``name`` imports, lazily or not (``from .pkg import mod`` names ``pkg.mod``)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for n in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(n, ast.Import):
            targets = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = ".".join(package[: len(package) - n.level + 1] + ([n.module] if n.module else [])) \
                if n.level else n.module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in n.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), list(graph[start])
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo.extend(graph.get(v, ()))
    return seen


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others."""
    reach = {v: _reach(graph, v) for v in graph}
    groups = {tuple(sorted(w for w in reach[v] if v in reach[w])) for v in graph if v in reach[v]}
    return sorted(list(g) for g in groups)


def test_no_import_circles():
    modules = _modules()
    graph = {m: _imported(m, p, modules) for m, p in modules.items()}
    assert {"forge.catalog", "forge.errors"} <= graph["forge.config"]  # the reading sees imports
    assert "forge.ui.form" in graph["forge.ui.finetune.form"]  # lazy ones and package-relative ones too
    assert _cycles(graph) == []


def test_a_circle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_engine_never_imports_gradio():
    offenders = []
    for name, path in _modules().items():
        if name.startswith("forge.ui"):
            continue
        for n in _runtime_nodes(ast.parse(path.read_text())):
            names = [a.name for a in n.names] if isinstance(n, ast.Import) else \
                [n.module or ""] if isinstance(n, ast.ImportFrom) else []
            offenders += [f"{name} imports {x}" for x in names if x.split(".")[0] == "gradio"]
    assert offenders == []


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in [*sorted((ROOT / "forge").rglob("*.py")), ROOT / "app.py"]:
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno >= MAX_FUNCTION_LINES:
                long.append(f"{path.relative_to(ROOT)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)")
    assert long == []
