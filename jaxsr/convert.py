"""``python -m jaxsr.convert``: turn the authors' ``.mat`` files (see ``jaxsr.matfiles``) or an EDSR-PyTorch
checkpoint (see ``jaxsr.torch_import``) into a jaxsr ``.msgpack`` params file.

Usage: ``python -m jaxsr.convert MODEL.mat OUT.msgpack`` (either kind of file); EDSR-PyTorch checkpoints:
``python -m jaxsr.convert edsr_baseline_x2-1bc95232.pt edsr_baseline_x2.msgpack --model edsr_baseline --scale 2``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jaxsr import models
from jaxsr.errors import JaxsrError
from jaxsr.matfiles import read_mat
from jaxsr.weights import check_finite, load_weights, save_params

__all__ = ["convert", "main"]


def _parser():
    from jaxsr.cli import OneLineParser

    p = OneLineParser(prog="python -m jaxsr.convert", description=(
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


def convert(source, output, model_name: str | None = None, scale: int | None = None,
            overwrite: bool = False) -> str:
    """Convert ``source`` to a jaxsr params file ``output``; returns a one-line description. The output is
    checked before anything is read: never the source itself, never an existing file unless ``overwrite``."""
    from jaxsr.io import writable_file

    source, output = Path(source), Path(output)
    if not source.is_file():
        raise JaxsrError(f"{source}: no such file")
    writable_file(output, "output")
    if output.exists() and (output.resolve() == source.resolve() or not overwrite):
        raise JaxsrError(f"output {output}: " + ("is the source file" if output.resolve() == source.resolve()
                                                 else "exists (pass --overwrite to replace it)"))
    if source.suffix.lower() == ".mat":
        family, params, kwargs = read_mat(source)
        check_finite(params, str(source))
        # the file keeps the network it holds (SRCNN: filters, borders); never over a file that appeared since
        save_params(output, params, kwargs, overwrite=overwrite)
        return f"{family.upper()} {kwargs}"
    if model_name is None:
        raise JaxsrError(f"{source}: pass --model (and --scale for EDSR), e.g. --model edsr_baseline --scale 2")
    model = models.build(model_name, 2)  # unknown names fail here
    fixed = models.contract(model).scale_mode == "fixed"
    if fixed:
        if scale is None:
            raise JaxsrError(f"--model {model_name} is built for one scale: pass --scale")
        model = models.build(model_name, scale)
    save_params(output, load_weights(source, model), overwrite=overwrite)
    return f"{model_name}" + (f" x{scale}" if fixed else "")


def main(argv=None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)  # usage errors exit with status 2
    from jaxsr.cli import run_cli

    def run():
        what = convert(args.source, args.output, args.model, args.scale, args.overwrite)
        print(f"wrote {args.output}: {what}")

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
