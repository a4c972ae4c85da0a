"""``python -m jaxsr COMMAND [flags]``: the ``jaxsr`` command (``jaxsr.cli.main``)."""

from jaxsr.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
