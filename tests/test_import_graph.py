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
    assert "jaxsr.models" in graph["jaxsr.training"] or "jaxsr.models" in graph["jaxsr.config_check"]
    assert "jaxsr.report" in graph["jaxsr.evaluation"]  # imported inside a function


def test_no_module_imports_one_that_imports_it_back():
    cycle = _cycle(import_graph())
    assert cycle is None, " → ".join(cycle)


# The layers, lowest first: a module may import its own layer and those below, never one above. The
# names are the packages planned for the flat modules (docs/ARCHITECTURE.md); a new module is placed here.
LAYERS = {
    "base": ["errors", "xla_cpu", "io", "parallel", "cli", "plugins"],
    "ops": ["ops", "ops.color", "ops.crop", "ops.resize"],
    "models": ["models", "models.contract", "models.registry", "models.bicubic", "models.edsr", "models.mdsr",
               "models.srcnn", "models.vdsr"],
    "data": ["data", "data.folder", "data.sources", "data.sampling", "data.tfdata", "data.epochs"],
    "eval": ["metrics", "protocol", "inference", "evaluation", "report_page", "report"],
    "weights": ["matfiles", "torch_import", "weights", "checkpoint", "zoo", "loading", "convert", "provenance"],
    "train": ["config", "losses", "optim", "train_step", "feeding", "run_spec", "config_check", "monitor",
              "summary", "loop", "sweep", "training"],
    "research": ["experiments", "experiments.config", "experiments.report", "experiments.runner",
                 "experiments.main", "experiments.__main__", "paper", "zoo.measure", "zoo.__main__", "campaign",
                 "campaign.state", "campaign.runner", "campaign.results", "campaign.__main__"],
    "face": ["", "upscale"],  # the package's public face (jaxsr/__init__.py) and the photo command
}
# Arrows that still reach up, each until the package move removes it.
KNOWN_UP = {
    ("jaxsr.checkpoint", "jaxsr.config_check"): "check_run_folder (a training run's folder) belongs in train",
    ("jaxsr.provenance", "jaxsr"): "reads jaxsr.__version__ from the package face",
}


def layer_of() -> dict[str, int]:
    return {("jaxsr." + m).rstrip("."): i for i, modules in enumerate(LAYERS.values()) for m in modules}


def test_every_module_has_a_layer():
    placed = layer_of()
    assert set(import_graph()) - set(placed) == set(), "place the new module in LAYERS (tests/test_import_graph.py)"
    assert set(placed) - set(import_graph()) == set(), "a module of LAYERS no longer exists"


def test_no_module_imports_a_layer_above_its_own():
    placed, names = layer_of(), list(LAYERS)
    up = sorted((a, b) for a, deps in import_graph().items() for b in deps if placed[b] > placed[a])
    new = [f"{a} ({names[placed[a]]}) → {b} ({names[placed[b]]})" for a, b in up if (a, b) not in KNOWN_UP]
    assert not new, "imports from a lower layer to a higher one: " + "; ".join(new)
    assert set(KNOWN_UP) <= set(up), "a known upward arrow is gone: take it off KNOWN_UP"


def test_the_layer_rule_finds_a_planted_upward_arrow(monkeypatch):
    graph = import_graph()
    graph["jaxsr.metrics"] = graph["jaxsr.metrics"] | {"jaxsr.training"}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    with pytest.raises(AssertionError, match=r"jaxsr.metrics \(eval\) → jaxsr.training \(train\)"):
        test_no_module_imports_a_layer_above_its_own()
