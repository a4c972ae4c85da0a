"""Alias (docs/ARCHITECTURE.md, "Old names"): ``python -m jaxsr.convert`` and ``jaxsr.convert.convert``:
``jaxsr.cli.convert`` and ``jaxsr.weights.convert``."""

from jaxsr.weights.convert import *  # noqa: F401,F403
from jaxsr.weights.convert import __all__  # noqa: F401

if __name__ == "__main__":
    from jaxsr.cli.convert import main

    raise SystemExit(main())
