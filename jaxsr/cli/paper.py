"""The papers' tables reproduced side by side with their printed figures.

  python -m jaxsr.paper vdsr_table3 --data_dir DATA/test --vdsr_weights VDSR_Official.mat \\
      --srcnn_weights 'SRCNN_9-5-5_ImageNet_x{scale}.mat' --json table3.json

evaluates every method of the table (bicubic always; the others when their weights are given: files, or
the shipped copies by their zoo names ``vdsr_official`` and ``srcnn_955_imagenet``) on every
dataset of the table found under ``--data_dir``, at every scale, and prints a Markdown table with the
paper's PSNR / SSIM and the difference beside each measured cell (``--metrics`` adds other registered
metrics, ``jaxsr.eval.metrics``, to the measured cells). The printed figures live in one data file,
``jaxsr/paper_tables.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jaxsr.base.errors import JaxsrError
from jaxsr.eval.metrics import DEFAULT_METRICS, check_metrics
from jaxsr.eval.protocol import DEFAULT_PROTOCOL, PROTOCOLS

__all__ = ["main"]

DESCRIPTION = __doc__


def main(argv=None) -> int:
    from jaxsr.base.io import atomic_write_bytes
    from jaxsr.cli import OneLineParser, parse_scales, run_cli
    from jaxsr.research.paper import markdown, paper_tables, reproduce

    tables = paper_tables()

    p = OneLineParser(prog="python -m jaxsr.paper", description=DESCRIPTION.split("\n\n")[0])
    p.add_argument("table", choices=sorted(tables), help="which paper table")
    p.add_argument("--data_dir", required=True, help="folder with one sub-folder of HR images per dataset")
    p.add_argument("--vdsr_weights", help="VDSR params (.msgpack, the authors' VDSR_Official.mat, or the shipped "
                                          "copy: vdsr_official)")
    p.add_argument("--srcnn_weights", help="SRCNN params per scale, e.g. '.../SRCNN_9-5-5_ImageNet_x{scale}.mat' "
                                           "(the shipped copies: srcnn_955_imagenet)")
    p.add_argument("--datasets", help="comma-separated subset of the table's datasets (default: all present)")
    p.add_argument("--scales", help="comma-separated subset of the table's scales (default: all)")
    p.add_argument("--protocol", choices=PROTOCOLS, default=DEFAULT_PROTOCOL,
                   help="evaluation protocol (the papers': matlab)")
    p.add_argument("--metrics", default="", help="comma-separated registered metrics measured besides PSNR/SSIM")
    p.add_argument("--json", help="also write the table's numbers to this JSON file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--no_progress", action="store_true", help="no progress bar on stderr")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)

    def run():
        scales = parse_scales(args.scales.split(",")) if args.scales else None
        datasets = [d.strip() for d in args.datasets.split(",") if d.strip()] if args.datasets else None
        weights = {"VDSR": args.vdsr_weights, "SRCNN": args.srcnn_weights}
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
        from jaxsr.weights.provenance import scale_note

        for model, path in (("vdsr", args.vdsr_weights), ("srcnn", args.srcnn_weights)):
            note = scale_note(model, path, scales or (2, 3, 4))
            if note:
                print(f"note: {note}", file=sys.stderr)
        result = reproduce(args.table, args.data_dir, weights, scales, datasets, args.protocol,
                           progress=not args.no_progress, metrics=extra)
        print(f"{result['source']}; measured with jaxsr, protocol {result['protocol']!r}\n")
        print(markdown(result))
        if args.json:
            atomic_write_bytes(args.json, (json.dumps(result, indent=2) + "\n").encode(), overwrite=args.overwrite)

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
