"""``python -m jaxsr.campaign run|status FOLDER``: advance a training campaign by one leg, or show where it is.

  python -m jaxsr.campaign run campaigns/vdsr_t91 --config configs/vdsr_t91.py --max_seconds 9000  # first leg
  python -m jaxsr.campaign run campaigns/vdsr_t91 --max_seconds 9000                               # later legs
  python -m jaxsr.campaign status campaigns/vdsr_t91
  python -m jaxsr.campaign curve campaigns/vdsr_t91 --out campaigns/vdsr_t91/curve.png
  python -m jaxsr.campaign export campaigns/vdsr_t91 --out vdsr_t91.msgpack

A leg trains until ``--max_seconds`` (or ``--max_steps``) is spent or the schedule ends, saving the state
every ``--save_every_seconds`` and at its end; SIGTERM/SIGINT save and stop; a leg killed without warning
loses at most the time since the last save. Run legs at low priority: ``nice -n 19 python -m ...``.
"""

from __future__ import annotations

import argparse
import sys


def _parser(prog: str = "python -m jaxsr.campaign") -> argparse.ArgumentParser:
    from jaxsr.cli import OneLineParser

    p = OneLineParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="advance the campaign by one leg")
    r.add_argument("folder", help="campaign folder, e.g. campaigns/vdsr_t91")
    r.add_argument("--config", default=None, help="recipe that starts a new campaign: a name (jaxsr train --help lists them) or a file")
    r.add_argument("--max_seconds", type=float, default=0, help="wall-time budget of this leg (0 = none)")
    r.add_argument("--max_steps", type=int, default=0, help="at most this many steps in this leg (0 = none)")
    r.add_argument("--save_every_seconds", type=float, default=600,
                   help="save the state after this much wall time since the last save (default 600)")
    r.add_argument("--accept_environment", action="store_true",
                   help="continue on another environment than the campaign's (recorded in legs.jsonl)")
    s = sub.add_parser("status", help="step, epoch, ETA, legs and the last evaluations")
    s.add_argument("folder")
    c = sub.add_parser("curve", help="Set5 PSNR against epochs beside the paper's figures (PNG)")
    c.add_argument("folder")
    c.add_argument("--out", required=True, help="PNG file to write")
    e = sub.add_parser("export", help="the state's params as a .msgpack weights file")
    e.add_argument("folder")
    e.add_argument("--out", required=True, help=".msgpack file to write")
    e.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return p


def _summary(folder, step: int) -> str:
    """``wrote FOLDER: state at step N (state.msgpack), legs.jsonl, metrics.jsonl, tensorboard/``."""
    from pathlib import Path

    parts = [f"state at step {step} (state.msgpack)"]
    parts += [name for name in ("legs.jsonl", "metrics.jsonl", "tensorboard/") if (Path(folder) / name).exists()]
    return f"wrote {folder}: {', '.join(parts)}"


def main(argv=None, prog: str = "python -m jaxsr.campaign") -> int:
    """The command (``argv`` default: ``sys.argv[1:]``); returns the exit status."""
    from jaxsr.cli import run_cli
    from jaxsr.base.errors import UsageError

    parser = _parser(prog)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    def run():
        from jaxsr.research.campaign import runner

        if args.command == "status":
            print(runner.status(args.folder))
            return 0
        if args.command in ("curve", "export"):
            from jaxsr.research.campaign import results

            out = (results.curve(args.folder, args.out) if args.command == "curve"
                   else results.export(args.folder, args.out, args.overwrite))
            print(f"wrote {out}")
            return 0
        if args.max_seconds < 0 or args.max_steps < 0 or args.save_every_seconds <= 0:
            raise UsageError("--max_seconds and --max_steps must be >= 0, --save_every_seconds > 0")
        from jaxsr.cli.recipes import resolve

        config = runner.load_config(resolve(args.config)) if args.config else None
        leg = runner.run_leg(args.folder, config=config, max_seconds=args.max_seconds, max_steps=args.max_steps,
                             save_every_seconds=args.save_every_seconds,
                             accept_environment=args.accept_environment)
        print(f"leg {leg['leg']}: steps {leg['from_step']} → {leg['to_step']} in {leg['seconds']:.0f} s "
              f"({leg['stopped']})", flush=True)
        print(_summary(args.folder, leg["to_step"]), flush=True)
        return 0

    return run_cli(run)


if __name__ == "__main__":
    raise SystemExit(main())
