"""``python -m jaxsr.experiments {depth,residual,scales} --workdir DIR --data.folders=.../T91``: the VDSR
paper's experiments (``jaxsr.research.experiments``)."""

from __future__ import annotations

import argparse
import sys

from jaxsr.research.experiments.config import EXPERIMENTS, get_config

__all__ = ["main"]

_EPILOG = """\
Full size (the GPU run): rerun the same command to continue after --max_seconds or an interruption;
  python -m jaxsr.experiments residual --workdir runs/paper --data.folders=../shared/data/train/T91 \\
      --epochs 80 --max_seconds 3000
CPU check (a few steps of a tiny net):
  python -m jaxsr.experiments scales --workdir /tmp/x --data.folders=T91 --steps 20 \\
      --model.kwargs.depth=3 --model.kwargs.features=8 --batch_size=16

Other settings (--FIELD=VALUE; defaults shown):
"""


def _parser(prog: str = "python -m jaxsr.experiments") -> argparse.ArgumentParser:
    from jaxsr.cli import OneLineParser
    from jaxsr.research.experiments.driver import settings

    fields = "\n".join(f"  --{k}={v!r}" for k, v in settings(get_config("depth")))

    p = OneLineParser(prog=prog, description=(
        "Reproduce the VDSR paper's experiments on the 91 images: depth (Fig. 3), residual (Fig. 4 and "
        "Table 1), scales (Table 2). Writes WORKDIR/<experiment>.md, .json and .png (jaxsr beside the "
        "paper's numbers); checkpoints under WORKDIR/<experiment>/."),
        epilog=_EPILOG + fields, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("experiment", choices=EXPERIMENTS)
    p.add_argument("--workdir", required=True, help="Output and checkpoint folder (rerun to resume).")
    p.add_argument("--epochs", type=float, help="Paper epochs per variant (default 80; one epoch of T91 at "
                   "x2/x3/x4 = 125 steps of 64).")
    p.add_argument("--steps", type=int, help="Training steps per variant instead of --epochs (CPU checks).")
    p.add_argument("--max_seconds", type=float, help="Stop cleanly after S seconds: checkpoints kept, the "
                   "partial results written; rerun the same command to continue.")
    p.add_argument("--eval", help="Comma-separated evaluation datasets under --eval.data_dir (default Set5).")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="Plug-in modules to import first (they register models, losses, metrics): dotted names "
                   "or .py files, comma-separated or repeated.")
    return p


def main(argv=None, prog: str = "python -m jaxsr.experiments") -> int:
    """The command (``argv`` default: ``sys.argv[1:]``); returns the exit status."""
    from jaxsr.cli import run_cli
    from jaxsr.research.experiments.driver import apply_overrides, run_and_report

    args, rest = _parser(prog).parse_known_args(argv)

    def go():
        from absl import logging

        from jaxsr.base.parallel import initialize_distributed
        from jaxsr.base.plugins import import_modules

        logging.set_verbosity(logging.WARNING)
        import_modules(args.imports)
        c = get_config(args.experiment)
        apply_overrides(c, rest)
        for key in ("epochs", "steps", "max_seconds"):
            if getattr(args, key) is not None:
                c[key] = type(c[key])(getattr(args, key))
        if args.eval is not None:
            c.eval.datasets = args.eval
        initialize_distributed()
        run_and_report(args.experiment, c, args.workdir)

    return run_cli(go)


if __name__ == "__main__":
    sys.exit(main())
