"""The papers' tables reproduced side by side with their printed figures.

  jaxsr paper vdsr_table3 --data_dir DATA/test --json table3.json

evaluates every method of the table — bicubic, VDSR with ``--vdsr_weights`` and SRCNN with ``--srcnn_weights``
(default: the shipped copies of the authors' models, the zoo's ``vdsr_official`` and ``srcnn_955_imagenet``;
other files, e.g. ``'SRCNN_9-5-5_ImageNet_x{scale}.mat'``, or ``none`` to leave a method out) — on every
dataset of the table found under ``--data_dir``, at every scale, and prints a Markdown table with the
paper's PSNR / SSIM and the difference beside each measured cell (``--metrics`` adds other registered
metrics, ``jaxsr.eval.metrics``, to the measured cells). The printed figures live in one data file,
``jaxsr/research/paper_tables.json``. (``python -m jaxsr.paper`` is the same command.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jaxsr.base.errors import JaxsrError

__all__ = ["main", "DEFAULT_WEIGHTS"]

DESCRIPTION = __doc__
DEFAULT_WEIGHTS = {"VDSR": "vdsr_official", "SRCNN": "srcnn_955_imagenet"}  # zoo entries shipped with jaxsr


def _parser(prog: str):
    import argparse

    from jaxsr.cli import OneLineParser
    from jaxsr.cli.catalog import PROTOCOLS, paper_table_names

    p = OneLineParser(prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", choices=paper_table_names(), help="which paper table")
    p.add_argument("--data_dir", required=True, help="folder with one sub-folder of HR images per dataset")
    p.add_argument("--vdsr_weights", default=DEFAULT_WEIGHTS["VDSR"],
                   help="VDSR params: a zoo entry, .msgpack or the authors' VDSR_Official.mat; none: leave VDSR out "
                        f"(default: the shipped {DEFAULT_WEIGHTS['VDSR']})")
    p.add_argument("--srcnn_weights", default=DEFAULT_WEIGHTS["SRCNN"],
                   help="SRCNN params per scale, e.g. '.../SRCNN_9-5-5_ImageNet_x{scale}.mat'; none: leave SRCNN out "
                        f"(default: the shipped {DEFAULT_WEIGHTS['SRCNN']})")
    p.add_argument("--datasets", help="comma-separated subset of the table's datasets (default: all present)")
    p.add_argument("--scales", help="comma-separated subset of the table's scales (default: all)")
    p.add_argument("--protocol", choices=PROTOCOLS, default=PROTOCOLS[0], help="evaluation protocol (the papers': matlab)")
    p.add_argument("--metrics", default="", help="comma-separated registered metrics measured besides PSNR/SSIM")
    p.add_argument("--json", help="also write the table's numbers to this JSON file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--no_progress", action="store_true", help="no progress bar on stderr")
    return p


def main(argv=None, prog: str = "python -m jaxsr.paper") -> int:
    """The command (``argv`` default: ``sys.argv[1:]``); returns the exit status."""
    from jaxsr.cli import parse_scales, run_cli

    args = _parser(prog).parse_args(sys.argv[1:] if argv is None else argv)

    def run():
        from jaxsr.base.io import atomic_write_bytes
        from jaxsr.eval.metrics import DEFAULT_METRICS, check_metrics
        from jaxsr.research.paper import markdown, reproduce
        from jaxsr.weights.provenance import scale_note

        scales = parse_scales(args.scales.split(",")) if args.scales else None
        datasets = [d.strip() for d in args.datasets.split(",") if d.strip()] if args.datasets else None
        weights = {"VDSR": args.vdsr_weights, "SRCNN": args.srcnn_weights}
        weights = {m: None if w is None or w.strip().lower() in ("", "none") else w for m, w in weights.items()}
        extra = [m.strip() for m in args.metrics.split(",") if m.strip()]
        if args.json:
            from jaxsr.base.io import writable_file

            writable_file(args.json, "--json")
            if Path(args.json).exists() and not args.overwrite:
                raise JaxsrError(f"--json {args.json}: exists (pass --overwrite to replace it)")
        try:
            check_metrics(extra or DEFAULT_METRICS)
        except JaxsrError as e:
            raise JaxsrError(f"--metrics: {e}") from None
        for model, path in (("vdsr", weights["VDSR"]), ("srcnn", weights["SRCNN"])):
            note = scale_note(model, path, scales or (2, 3, 4)) if path else None
            if note:
                print(f"note: {note}", file=sys.stderr)
        result = reproduce(args.table, args.data_dir, weights, scales, datasets, args.protocol,
                           progress=not args.no_progress, metrics=extra)
        print(f"{result['source']}; measured with jaxsr, protocol {result['protocol']!r}\n")
        print(markdown(result))
        if args.json:
            atomic_write_bytes(args.json, (json.dumps(result, indent=2) + "\n").encode(), overwrite=args.overwrite)
        print(f"wrote {args.json}" if args.json else "wrote nothing (--json keeps the numbers)", flush=True)

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
