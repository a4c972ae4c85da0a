"""The package's module graph, read from the source with ``ast`` (function-level imports included), is acyclic."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "jaxsr"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module → the jaxsr modules it imports anywhere in its file (``from a import b`` counts as ``a.b``
    when ``a.b`` is a module, else ``a``; a package's ``__init__`` is its own node)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                           for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target.startswith("jaxsr") and target != name:
                    deps.add(target)
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node], _ = 1, stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        state[node], _ = 2, stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycle({"jaxsr.a": {"jaxsr.b"}, "jaxsr.b": {"jaxsr.c"}, "jaxsr.c": {"jaxsr.a"}}) == \
        ["jaxsr.a", "jaxsr.b", "jaxsr.c", "jaxsr.a"]
    assert _cycle({"jaxsr.a": {"jaxsr.b"}, "jaxsr.b": set()}) is None


def test_graph_sees_function_level_imports():
    graph = import_graph()
    assert "jaxsr.models" in graph["jaxsr.training"] or "jaxsr.models" in graph["jaxsr.config_check"]
    assert "jaxsr.report" in graph["jaxsr.evaluation"]  # imported inside a function


def test_no_module_imports_one_that_imports_it_back():
    cycle = _cycle(import_graph())
    assert cycle is None, " → ".join(cycle)
