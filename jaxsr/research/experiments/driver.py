"""One experiment run: its settings (``--a.b=value`` overrides, checked), the grid trained, the report written
(the command line is ``jaxsr.cli.experiments``)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from jaxsr.base.errors import JaxsrError
from jaxsr.base.io import atomic_write_bytes

__all__ = ["run_and_report", "apply_overrides", "settings"]


def settings(c, prefix=""):
    """Every leaf of a config as ``("a.b", value)``, depth first."""
    for key, value in c.items():
        if hasattr(value, "items"):
            yield from settings(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def apply_overrides(config, items) -> None:
    """Set ``--a.b=value`` (or ``--a.b value``) items on ``config``; one clear error for unknown fields."""
    items, i = list(items), 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--"):
            raise JaxsrError(f"unexpected argument {item!r} (settings look like --data.folders=DIR)")
        key, eq, value = item[2:].partition("=")
        if not eq:
            if i + 1 >= len(items):
                raise JaxsrError(f"--{key} needs a value")
            value, i = items[i + 1], i + 1
        i += 1
        *path, last = key.split(".")
        node = config
        try:
            for p in path:
                node = node[p]
            current = node[last]
        except (KeyError, TypeError, AttributeError):
            raise JaxsrError(f"unknown setting --{key} (jaxsr experiments --help lists them)") from None
        if isinstance(current, str):
            new = value
        else:
            try:
                new = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise JaxsrError(f"--{key}: cannot read {value!r} as a {type(current).__name__}") from None
            if isinstance(current, tuple):
                new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
            elif isinstance(current, float) and isinstance(new, int):
                new = float(new)
        if type(new) is not type(current) and not (isinstance(current, tuple)):
            raise JaxsrError(f"--{key}: expected a {type(current).__name__}, got {value!r}")
        node[last] = new


def _validate(c) -> None:
    """The experiments' own fields, and every field they share with the training schema (``jaxsr.train.config``:
    its enums, registries and value ranges)."""
    from jaxsr.train.config import RULES
    from jaxsr.train.config_check import choices

    if not str(c.data.folders).strip():
        raise JaxsrError("--data.folders is required: the training images (the paper: the 91 images, T91)")
    for field, value in settings(c):
        allowed = choices(field)
        if allowed is not None and value not in allowed:
            raise JaxsrError(f"--{field} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        if field in RULES and not RULES[field][1](value):
            raise JaxsrError(f"--{field} must be {RULES[field][0]}, got {value!r}")
    if c.optim.name != "sgd":
        raise JaxsrError(f"--optim.name: the experiments train with sgd (the paper's), got {c.optim.name!r}")
    if c.steps == 0 or (c.steps < 0 and c.epochs <= 0):
        raise JaxsrError("--steps or --epochs must be positive")
    if c.sweep_mode not in ("auto", "vmap", "loop"):
        raise JaxsrError(f"--sweep_mode must be auto, vmap or loop, got {c.sweep_mode!r}")
    if int(c.model.kwargs.depth) < 2 or min(c.depths) < 2:
        raise JaxsrError("depths must be at least 2")


def run_and_report(name: str, c, workdir: str) -> dict:
    from jaxsr.weights.checkpoint import run_folder_lock

    _validate(c)
    with run_folder_lock(Path(workdir) / name):  # one process per experiment folder
        return _run_and_report(name, c, workdir)


def _run_and_report(name: str, c, workdir: str) -> dict:
    import jax

    from jaxsr.research.experiments import report
    from jaxsr.research.experiments.runner import run_grid

    out = run_grid(name, c, workdir)
    datasets = [d.strip() for d in str(c.eval.datasets).split(",") if d.strip()]
    scales = [int(s) for s in c.eval.scales]
    tabs = report.tables(name, out, datasets, scales)
    doc = {"experiment": name, "complete": out["complete"], "steps_per_epoch": out["steps_per_epoch"],
           "total_steps": out["total_steps"], "config": c.to_dict(), "tables": tabs,
           "paper": {"source": report.paper_numbers()["source"], name: report.paper_numbers()[name]},
           "groups": out["groups"]}
    if jax.process_index() == 0:
        root = Path(workdir)
        root.mkdir(parents=True, exist_ok=True)
        report.plot(name, out, scales, root / f"{name}.png")
        atomic_write_bytes(root / f"{name}.json", (json.dumps(doc, indent=1) + "\n").encode())
        atomic_write_bytes(root / f"{name}.md", report.markdown(name, out, tabs, f"{name}.png").encode())
        print(f"wrote {root / name}.md, .json, .png ({'complete' if out['complete'] else 'partial'})", flush=True)
    if out["signal"] is not None:
        raise SystemExit(128 + out["signal"])
    return doc
