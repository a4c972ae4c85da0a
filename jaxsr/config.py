"""Alias (docs/ARCHITECTURE.md, "Old names"): ``python -m jaxsr.config`` and ``jaxsr.config.get_config`` (what
config files import): ``jaxsr.cli.config`` and the schema ``jaxsr.train.config``."""

from jaxsr.train.config import *  # noqa: F401,F403
from jaxsr.train.config import __all__  # noqa: F401

if __name__ == "__main__":
    from jaxsr.cli.config import main

    raise SystemExit(main())
