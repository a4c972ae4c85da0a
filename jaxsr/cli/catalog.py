"""What the commands' ``--help`` lists — the built-in models, the shipped weights, the paper's tables, the
evaluation protocols — read without importing JAX, so that help answers at once.

The names that live in JAX-importing modules are kept here as literals (``MODELS``, ``PROTOCOLS``);
``tests/test_cli.py`` checks that they equal the registries (``jaxsr.models.names()``,
``jaxsr.eval.protocol.PROTOCOLS``). The zoo and the paper's tables are read from their JSON files.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["MODELS", "PROTOCOLS", "paper_table_names", "weights_help", "models_help"]

# the models jaxsr registers itself (jaxsr/models/); plug-ins (--import) add others
MODELS = ("bicubic", "edsr", "edsr_baseline", "mdsr", "mdsr_baseline", "srcnn", "srcnn_955", "vdsr")
# jaxsr.eval.protocol.PROTOCOLS
PROTOCOLS = ("matlab", "float")

_PACKAGE = Path(__file__).resolve().parents[1]


def paper_table_names() -> list[str]:
    """The tables of ``jaxsr/research/paper_tables.json`` (``jaxsr paper TABLE``)."""
    return sorted(json.loads((_PACKAGE / "research" / "paper_tables.json").read_text()))


def models_help(how: str) -> str:
    """``models (HOW): bicubic, edsr, …`` and how plug-ins add more."""
    return f"models ({how}): {', '.join(MODELS)}; plug-ins add others (--import MODULE)"


def weights_help() -> str:
    """The zoo's entries by name: shipped ones (with the models they are the default for), then the others."""
    from jaxsr.weights import zoo  # JSON only

    cat = zoo.catalogue()
    defaults = cat["defaults"]
    shipped = []
    for e in cat["entries"]:
        if e.shipped:
            default_for = [m for m, n in defaults.items() if n == e.name]
            shipped.append(e.name + (f" (default for {', '.join(default_for)})" if default_for else ""))
    others = [e.name for e in cat["entries"] if not e.shipped]
    return (f"shipped weights: {'; '.join(shipped)}\n"
            f"published weights it reads (download the file; jaxsr zoo): {', '.join(others)}")
