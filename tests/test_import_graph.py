"""The package's module graph, read from the source with ``ast`` (function-level imports included), is acyclic
and never reaches from a lower layer up to a higher one."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

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
    assert "jaxsr.models" in graph["jaxsr.train.training"] or "jaxsr.models" in graph["jaxsr.train.config_check"]
    assert "jaxsr.eval.report" in graph["jaxsr.eval.evaluation"]  # imported inside a function


def test_no_module_imports_one_that_imports_it_back():
    cycle = _cycle(import_graph())
    assert cycle is None, " → ".join(cycle)


# The layers, lowest first, one package each (docs/ARCHITECTURE.md): a module may import its own layer and
# those below, never one above. A module's layer is its folder: jaxsr/<layer>/...; the only flat modules are
# the package's face (jaxsr/__init__.py, jaxsr/__main__.py: python -m jaxsr) and the old public names kept as aliases.
LAYERS = ["base", "ops", "models", "data", "eval", "weights", "train", "research", "cli", "face"]
FACE = {"jaxsr", "jaxsr.__main__", "jaxsr.evaluation", "jaxsr.convert", "jaxsr.zoo", "jaxsr.paper", "jaxsr.experiments", "jaxsr.campaign",
        "jaxsr.config", "jaxsr.upscale"}
# Arrows that still reach up, each with the reason, until it is removed (none today).
KNOWN_UP: dict[tuple[str, str], str] = {}


def layer(module: str) -> str:
    return "face" if module in FACE else module.split(".")[1]


def test_every_module_has_a_layer():
    modules = set(import_graph())
    stray = sorted(m for m in modules - FACE if m.count(".") < 1 or layer(m) not in LAYERS)
    assert not stray, f"{stray}: put the module in the package of its concept (LAYERS), not flat in jaxsr/"
    assert FACE <= modules, "an alias of FACE no longer exists: take it off FACE (and docs/ARCHITECTURE.md)"


def test_no_module_imports_a_layer_above_its_own():
    rank = {name: i for i, name in enumerate(LAYERS)}
    graph = import_graph()
    up = sorted((a, b) for a, deps in graph.items() for b in deps if rank[layer(b)] > rank[layer(a)])
    new = [f"{a} ({layer(a)}) → {b} ({layer(b)})" for a, b in up if (a, b) not in KNOWN_UP]
    assert not new, "imports from a lower layer to a higher one: " + "; ".join(new)
    assert set(KNOWN_UP) <= set(up), "a known upward arrow is gone: take it off KNOWN_UP"


def test_the_layer_rule_finds_a_planted_upward_arrow(monkeypatch):
    graph = import_graph()
    graph["jaxsr.eval.metrics"] = graph["jaxsr.eval.metrics"] | {"jaxsr.train.training"}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    with pytest.raises(AssertionError, match=r"jaxsr.eval.metrics \(eval\) → jaxsr.train.training \(train\)"):
        test_no_module_imports_a_layer_above_its_own()


def test_the_layer_rule_finds_a_planted_flat_module(monkeypatch):
    graph = {**import_graph(), "jaxsr.helpers": set()}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    with pytest.raises(AssertionError, match=r"jaxsr.helpers"):
        test_every_module_has_a_layer()


def test_the_aliases_forward_to_the_new_homes():
    import jaxsr.campaign
    import jaxsr.config
    import jaxsr.convert
    import jaxsr.evaluation
    import jaxsr.experiments
    import jaxsr.paper
    import jaxsr.upscale
    import jaxsr.zoo
    from jaxsr.cli import upscale
    from jaxsr.eval import evaluation
    from jaxsr.research import campaign, experiments, paper
    from jaxsr.train import config
    from jaxsr.weights import convert, zoo

    assert jaxsr.evaluation.evaluate is evaluation.evaluate and jaxsr.convert.convert is convert.convert
    assert jaxsr.zoo.entries is zoo.entries and jaxsr.paper.reproduce is paper.reproduce
    assert jaxsr.experiments.run is experiments.run and jaxsr.campaign.run_leg is campaign.run_leg
    assert jaxsr.config.get_config is config.get_config and jaxsr.upscale.main is upscale.main
