"""Alias (docs/ARCHITECTURE.md, "Old names"): ``python -m jaxsr.experiments`` and ``jaxsr.experiments.run``:
``jaxsr.cli.experiments`` and ``jaxsr.research.experiments``."""

from jaxsr.research.experiments import *  # noqa: F401,F403
from jaxsr.research.experiments import __all__  # noqa: F401

if __name__ == "__main__":
    from jaxsr.cli.experiments import main

    raise SystemExit(main())
