"""``python -m jaxsr.convert SOURCE OUTPUT [--model M --scale S]``: published weights (the authors' ``.mat``, an
EDSR-PyTorch ``.pt``) to a jaxsr ``.msgpack`` params file (``jaxsr.weights.convert``)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def _parser(prog: str = "python -m jaxsr.convert"):
    from jaxsr.cli import OneLineParser

    p = OneLineParser(prog=prog, description=(
        "Convert published weights to a jaxsr .msgpack params file: the VDSR or SRCNN authors' .mat, or an "
        "EDSR-PyTorch .pt/.pth (read without torch and without running pickle code)."))
    p.add_argument("source", help="VDSR_Official.mat, SRCNN_9-5-5_ImageNet_x2.mat, or an EDSR-PyTorch "
                                  "checkpoint such as edsr_baseline_x2-1bc95232.pt")
    p.add_argument("output", help="the .msgpack file to write")
    p.add_argument("--model", default=None,
                   help="for .pt files: edsr_baseline, edsr, mdsr_baseline or mdsr (a .mat file names its own network)")
    p.add_argument("--scale", type=int, default=None, help="for EDSR: the scale the checkpoint was trained for")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return p


def main(argv=None, prog: str = "python -m jaxsr.convert") -> int:
    """The command (``argv`` default: ``sys.argv[1:]``); returns the exit status."""
    args = _parser(prog).parse_args(sys.argv[1:] if argv is None else argv)  # usage errors exit with status 2
    from jaxsr.cli import run_cli
    from jaxsr.weights.convert import convert

    def run():
        from pathlib import Path

        what = convert(args.source, args.output, args.model, args.scale, args.overwrite)
        print(f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.1f} MB, {what})")

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
