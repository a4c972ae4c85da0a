"""Alias (docs/ARCHITECTURE.md, "Old names"): ``python -m jaxsr.paper`` and ``jaxsr.paper.reproduce``:
``jaxsr.cli.paper`` and ``jaxsr.research.paper``."""

from jaxsr.research.paper import *  # noqa: F401,F403
from jaxsr.research.paper import __all__  # noqa: F401

if __name__ == "__main__":
    from jaxsr.cli.paper import main

    raise SystemExit(main())
