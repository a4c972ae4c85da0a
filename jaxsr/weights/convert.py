"""Turn the authors' ``.mat`` files (see ``jaxsr.weights.matfiles``) or an EDSR-PyTorch checkpoint (see
``jaxsr.weights.torch_import``) into a jaxsr ``.msgpack`` params file; the command is ``jaxsr.cli.convert``.

Usage: ``python -m jaxsr.convert MODEL.mat OUT.msgpack`` (either kind of file); EDSR-PyTorch checkpoints:
``python -m jaxsr.convert edsr_baseline_x2-1bc95232.pt edsr_baseline_x2.msgpack --model edsr_baseline --scale 2``.
"""

from __future__ import annotations

from pathlib import Path

from jaxsr import models
from jaxsr.base.errors import JaxsrError
from jaxsr.weights.matfiles import read_mat
from jaxsr.weights.params import check_finite, load_weights, save_params

__all__ = ["convert"]


def convert(source, output, model_name: str | None = None, scale: int | None = None,
            overwrite: bool = False) -> str:
    """Convert ``source`` to a jaxsr params file ``output``; returns a one-line description. The output is
    checked before anything is read: never the source itself, never an existing file unless ``overwrite``."""
    from jaxsr.base.io import writable_file

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
