"""Plug-ins: modules outside jaxsr that register models, metrics or losses, named where a run starts.

Every command takes ``--import MODULE[,MODULE]`` (train.py, evaluate.py, jaxsr-upscale,
``python -m jaxsr.experiments``), and a training config has the field ``imports``: train.py stores its
``--import`` there, so resuming, a campaign's legs and ``evaluate.py --workdir`` import them again. A module
is a dotted name (found on ``sys.path``, then in the current folder) or a path to a ``.py`` file; it
registers what it defines with ``@jaxsr.models.register``, ``@jaxsr.eval.metrics.register_metric`` and
``@jaxsr.train.losses.register_loss`` when imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from jaxsr.base.errors import JaxsrError

__all__ = ["import_modules", "split", "run_imports"]

_FILES: dict[str, str] = {}  # resolved .py path → the module name it was imported as


def split(names: str | Sequence[str] | None) -> list[str]:
    """``"a.b, c.py"`` or ``["a.b", "c.py,d"]`` → ``["a.b", "c.py", "d"]``."""
    if not names:
        return []
    if isinstance(names, str):
        names = [names]
    return [n.strip() for item in names for n in str(item).split(",") if n.strip()]


def import_modules(names: str | Sequence[str] | None, what: str = "--import") -> list[str]:
    """Import each plug-in module of ``names`` (comma-separated, or a sequence) once; returns the module
    names. JaxsrError naming ``what`` and the module if one cannot be imported or fails while importing."""
    done = []
    for name in split(names):
        try:
            done.append(_import(name, what))
        except JaxsrError:
            raise
        except Exception as e:  # a missing module, or any error the plug-in raises while registering
            detail = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
            raise JaxsrError(f"{what} {name}: cannot import it ({type(e).__name__}"
                             f"{': ' + detail if detail else ''})") from None
    return done


def _import(name: str, what: str) -> str:
    if name.endswith(".py") or os.sep in name or "/" in name:
        path = Path(name).resolve()
        if not path.is_file():
            raise JaxsrError(f"{what} {name}: no such file")
        if str(path) not in _FILES:
            module = f"jaxsr_plugin_{path.stem}"
            spec = importlib.util.spec_from_file_location(module, path)
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[module] = loaded
            try:
                spec.loader.exec_module(loaded)
            except BaseException:
                sys.modules.pop(module, None)
                raise
            _FILES[str(path)] = module
        return _FILES[str(path)]
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())  # a module in the current folder, after everything installed
    importlib.import_module(name)
    return name


def run_imports(path) -> str:
    """The ``imports`` of the training run in folder ``path`` (its ``config.json``); "" when ``path`` is not
    a run folder or its config names none (an unreadable config is reported by whoever reads the run)."""
    if not path or not Path(str(path)).is_dir():
        return ""
    try:
        value = json.loads((Path(str(path)) / "config.json").read_text()).get("imports", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""
