"""Alias (docs/ARCHITECTURE.md, "Old names"): ``python -m jaxsr.campaign`` and ``jaxsr.campaign.run_leg`` …:
``jaxsr.cli.campaign`` and ``jaxsr.research.campaign``."""

from jaxsr.research.campaign import *  # noqa: F401,F403
from jaxsr.research.campaign import __all__  # noqa: F401

if __name__ == "__main__":
    from jaxsr.cli.campaign import main

    raise SystemExit(main())
