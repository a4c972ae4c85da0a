"""The training recipes (``configs/*.py``) by name: ``jaxsr train --config vdsr`` is ``--config
<recipes>/vdsr.py``.

The recipes live in the repository's top-level ``configs/`` folder; a wheel installs the same files as the
package ``jaxsr.configs`` (``setup.cfg``: ``package_dir``). :func:`folder` finds whichever is there: the
installed ``jaxsr/configs/``, or ``configs/`` beside the ``jaxsr`` package of a checkout (``PYTHONPATH``, an
editable install). Names, first docstring lines and paths are read from the files without running them
(nothing here imports JAX).
"""

from __future__ import annotations

import ast
from pathlib import Path

from jaxsr.base.errors import JaxsrError

__all__ = ["folder", "recipes", "headline", "resolve", "resolve_flag", "listing"]

_PACKAGE = Path(__file__).resolve().parents[1]  # jaxsr/


def folder() -> Path | None:
    """The folder holding the recipes: ``jaxsr/configs`` (installed) or ``configs/`` of the checkout."""
    for candidate in (_PACKAGE / "configs", _PACKAGE.parent / "configs"):
        if (candidate / "__init__.py").is_file() and any(candidate.glob("*.py")):
            return candidate
    return None


def recipes() -> dict[str, tuple[Path, str]]:
    """``{name: (path, the headline of its docstring)}``, sorted by name."""
    where = folder()
    out = {}
    for path in sorted(where.glob("*.py")) if where else ():
        if path.name.startswith("_"):
            continue
        try:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        except (OSError, SyntaxError, ValueError):
            doc = ""
        out[path.stem] = (path, headline(doc))
    return out


def headline(doc: str) -> str:
    """The docstring's first line; when its sentence goes on to the next line, the first line up to its last
    ``;`` (a line that stops mid-sentence would read cut off)."""
    lines = doc.strip().splitlines()
    if not lines:
        return ""
    first = lines[0].strip()
    if len(lines) > 1 and lines[1].strip() and not first.endswith(".") and ";" in first:
        first = first.rsplit(";", 1)[0]
    return first


def _looks_like_a_name(text: str) -> bool:
    return bool(text) and "/" not in text and "\\" not in text and not text.endswith(".py")


def resolve(value: str, flag: str = "--config") -> str:
    """A recipe name (``vdsr``, ``vdsr:ARG``) → its file (``…/configs/vdsr.py``, ``…:ARG``); a path (an existing
    file, or anything with a ``/`` or ending in ``.py``) unchanged. JaxsrError for a name that is no recipe,
    listing the known ones."""
    path, sep, arg = value.partition(":")
    if Path(path).is_file() or not _looks_like_a_name(path):
        return value
    known = recipes()
    if path not in known:
        names = ", ".join(known) or "none (no configs/ folder found)"
        raise JaxsrError(f"{flag} {path}: no such recipe or config file (recipes: {names})")
    return f"{known[path][0]}{sep}{arg}"


def resolve_flag(argv: list[str], flag: str = "config") -> list[str]:
    """``argv`` with the value of ``--<flag> NAME`` / ``--<flag>=NAME`` (one or two dashes) resolved by
    :func:`resolve`; ``--<flag>.field=…`` overrides and everything else unchanged."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in (f"--{flag}", f"-{flag}"):
            if eq:
                arg = f"{name}={resolve(value, f'--{flag}')}"
            elif i + 1 < len(argv):
                out += [arg, resolve(argv[i + 1], f"--{flag}")]
                i += 2
                continue
        out.append(arg)
        i += 1
    return out


def listing(indent: str = "  ") -> str:
    """One line per recipe: ``name  first docstring line``."""
    known = recipes()
    width = max(map(len, known), default=0)
    return "\n".join(f"{indent}{name:<{width}}  {line}" for name, (_, line) in known.items())
