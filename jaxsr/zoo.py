"""Alias (docs/ARCHITECTURE.md, "Old names"): ``python -m jaxsr.zoo`` and ``jaxsr.zoo.entries()`` …:
``jaxsr.cli.zoo`` and the catalogue ``jaxsr.weights.zoo``."""

from jaxsr.weights.zoo import *  # noqa: F401,F403
from jaxsr.weights.zoo import __all__  # noqa: F401

if __name__ == "__main__":
    from jaxsr.cli.zoo import main

    raise SystemExit(main())
