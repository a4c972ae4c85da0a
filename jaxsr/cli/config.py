"""``jaxsr config [family ...]`` (``python -m jaxsr.config``): every training-config field with its default and
meaning (``jaxsr.train.config``)."""

from __future__ import annotations

import argparse
import sys

from jaxsr.base.errors import JaxsrError

__all__ = ["main"]


def _parser(prog: str):
    from jaxsr.cli import OneLineParser
    from jaxsr.cli.recipes import listing
    from jaxsr.train.config import FAMILIES

    p = OneLineParser(prog=prog, description="Every field of the training config of each recipe family (default: "
                      "all), with its default and meaning; set one with jaxsr train --config.FIELD=VALUE.",
                      epilog=f"families: {', '.join(FAMILIES)}\n\nrecipes (jaxsr train --config NAME):\n{listing()}",
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("families", nargs="*", metavar="family", help="a recipe family (default: every one)")
    return p


def main(argv=None, prog: str = "python -m jaxsr.config") -> int:
    """``python -m jaxsr.config [family ...]``: every field of each family (default: all)."""
    from jaxsr.cli import run_cli
    from jaxsr.train.config import FAMILIES, describe

    args = _parser(prog).parse_args(sys.argv[1:] if argv is None else argv)

    def run():
        for fam in args.families or list(FAMILIES):
            if fam not in FAMILIES:
                raise JaxsrError(f"unknown config family {fam!r}; known: {', '.join(FAMILIES)}")
            print(f"# family {fam!r}\n{describe(fam)}\n")

    return run_cli(run)


if __name__ == "__main__":
    raise SystemExit(main())
