"""``python -m jaxsr.config [family ...]``: every training-config field with its default and meaning
(``jaxsr.train.config``)."""

from __future__ import annotations

import sys

from jaxsr.base.errors import JaxsrError

__all__ = ["main"]


def main(argv=None) -> int:
    """``python -m jaxsr.config [family ...]``: every field of each family (default: all)."""
    from jaxsr.cli import run_cli
    from jaxsr.train.config import FAMILIES, describe

    def run():
        for fam in (sys.argv[1:] if argv is None else argv) or list(FAMILIES):
            if fam not in FAMILIES:
                raise JaxsrError(f"unknown config family {fam!r}; known: {', '.join(FAMILIES)}")
            print(f"# family {fam!r}\n{describe(fam)}\n")

    return run_cli(run)


if __name__ == "__main__":
    raise SystemExit(main())
