"""Command line of ``python -m jaxsr.experiments``: settings, running the grid, writing the report."""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

from jaxsr.errors import JaxsrError
from jaxsr.experiments.config import EXPERIMENTS, get_config
from jaxsr.io import atomic_write_bytes

__all__ = ["main", "run_and_report", "apply_overrides"]

_EPILOG = """\
Full size (the GPU run): rerun the same command to continue after --max_seconds or an interruption;
  python -m jaxsr.experiments residual --workdir runs/paper --data.folders=../shared/data/train/T91 \\
      --epochs 80 --max_seconds 3000
CPU check (a few steps of a tiny net):
  python -m jaxsr.experiments scales --workdir /tmp/x --data.folders=T91 --steps 20 \\
      --model.kwargs.depth=3 --model.kwargs.features=8 --batch_size=16

Other settings (--FIELD=VALUE; defaults shown):
"""


def _flat(c, prefix=""):
    for key, value in c.items():
        if hasattr(value, "items"):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _parser() -> argparse.ArgumentParser:
    fields = "\n".join(f"  --{k}={v!r}" for k, v in _flat(get_config("depth")))
    from jaxsr.cli import OneLineParser

    p = OneLineParser(prog="python -m jaxsr.experiments", description=(
        "Reproduce the VDSR paper's experiments on the 91 images: depth (Fig. 3), residual (Fig. 4 and "
        "Table 1), scales (Table 2). Writes WORKDIR/<experiment>.md, .json and .png (jaxsr beside the "
        "paper's numbers); checkpoints under WORKDIR/<experiment>/."),
        epilog=_EPILOG + fields, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("experiment", choices=EXPERIMENTS)
    p.add_argument("--workdir", required=True, help="Output and checkpoint folder (rerun to resume).")
    p.add_argument("--epochs", type=float, help="Paper epochs per variant (default 80; one epoch of T91 at "
                   "x2/x3/x4 = 125 steps of 64).")
    p.add_argument("--steps", type=int, help="Training steps per variant instead of --epochs (CPU checks).")
    p.add_argument("--max_seconds", type=float, help="Stop cleanly after S seconds: checkpoints kept, the "
                   "partial results written; rerun the same command to continue.")
    p.add_argument("--eval", help="Comma-separated evaluation datasets under --eval.data_dir (default Set5).")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="Plug-in modules to import first (they register models, losses, metrics): dotted names "
                   "or .py files, comma-separated or repeated.")
    return p


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
            raise JaxsrError(f"unknown setting --{key} (python -m jaxsr.experiments --help lists them)") from None
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
    """The experiments' own fields, and every field they share with the training schema (``jaxsr.config``:
    its enums, registries and value ranges)."""
    from jaxsr.config import RULES
    from jaxsr.config_check import choices

    if not str(c.data.folders).strip():
        raise JaxsrError("--data.folders is required: the training images (the paper: the 91 images, T91)")
    for field, value in _flat(c):
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
    from jaxsr.checkpoint import run_folder_lock

    _validate(c)
    with run_folder_lock(Path(workdir) / name):  # one process per experiment folder
        return _run_and_report(name, c, workdir)


def _run_and_report(name: str, c, workdir: str) -> dict:
    import jax

    from jaxsr.experiments import report
    from jaxsr.experiments.runner import run_grid

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


def main(argv=None) -> int:
    from jaxsr.cli import run_cli

    args, rest = _parser().parse_known_args(argv)

    def go():
        from absl import logging

        from jaxsr.parallel import initialize_distributed
        from jaxsr.plugins import import_modules

        logging.set_verbosity(logging.WARNING)
        import_modules(args.imports)
        c = get_config(args.experiment)
        apply_overrides(c, rest)
        for key in ("epochs", "steps", "max_seconds"):
            if getattr(args, key) is not None:
                c[key] = type(c[key])(getattr(args, key))
        if args.eval is not None:
            c.eval.datasets = args.eval
        initialize_distributed()
        run_and_report(args.experiment, c, args.workdir)

    return run_cli(go)


if __name__ == "__main__":
    sys.exit(main())
