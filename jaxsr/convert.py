"""Import the VDSR authors' MatConvNet model into jaxsr params.

The released file holds a struct ``model`` with cell arrays ``weight{1..D}`` (3×3×Cin×Cout, single) and
``bias{1..D}``. MatConvNet's ``vl_nnconv`` is a correlation over (row, column, in, out), which is exactly
``flax.linen.Conv``'s (kh, kw, in, out) kernel layout, so the arrays map over unchanged; MATLAB drops the
trailing singleton of the last layer (3×3×64×1 is stored as 3×3×64), which is restored here.

Usage: ``python -m jaxsr.convert VDSR_Official.mat vdsr.msgpack``; EDSR-PyTorch checkpoints (see
``jaxsr.torch_import``): ``python -m jaxsr.convert edsr_baseline_x2-1bc95232.pt edsr_baseline_x2.msgpack
--model edsr_baseline --scale 2``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from jaxsr.errors import JaxsrError

__all__ = ["read_matconvnet_vdsr", "convert"]


def read_matconvnet_vdsr(path) -> tuple[dict, dict]:
    """Read a MatConvNet VDSR file → (params, model kwargs).

    Returns:
      params: ``{"conv_i": {"kernel": (3, 3, cin, cout) float32, "bias": (cout,) float32}}`` for
        ``models.VDSR``; kwargs: ``{"depth", "features", "channels"}`` describing the network in the file.
    """
    import scipy.io

    path = Path(path)
    try:
        mat = scipy.io.loadmat(path)
    except FileNotFoundError:
        raise JaxsrError(f"{path}: no such file") from None
    except Exception as e:  # scipy raises several types for bad files
        raise JaxsrError(f"{path}: not a MATLAB v5 .mat file ({e})") from None
    try:
        model = mat["model"][0, 0]
        weights, biases = model["weight"].ravel(), model["bias"].ravel()
    except (KeyError, ValueError, IndexError):
        raise JaxsrError(f"{path}: expected a struct 'model' with cell arrays 'weight' and 'bias'") from None
    if len(weights) != len(biases) or len(weights) < 2:
        raise JaxsrError(f"{path}: {len(weights)} weights but {len(biases)} biases")
    params = {}
    for i, (w, b) in enumerate(zip(weights, biases)):
        w, b = np.asarray(w, np.float32), np.asarray(b, np.float32).ravel()
        if w.ndim == 3:
            w = w[..., None]  # MATLAB dropped a trailing singleton output dimension
        if w.ndim != 4 or w.shape[3] != b.shape[0]:
            raise JaxsrError(f"{path}: layer {i + 1} has weight {w.shape} and bias {b.shape}")
        params[f"conv_{i}"] = {"kernel": w, "bias": b}
    first, last = params["conv_0"]["kernel"], params[f"conv_{len(weights) - 1}"]["kernel"]
    kwargs = {"depth": len(weights), "features": int(first.shape[3]), "channels": int(last.shape[3])}
    return params, kwargs


def _parser():
    import argparse

    p = argparse.ArgumentParser(prog="python -m jaxsr.convert", description=(
        "Convert published weights to a jaxsr .msgpack params file: the VDSR authors' MatConvNet .mat, or an "
        "EDSR-PyTorch .pt/.pth (read without torch and without running pickle code)."))
    p.add_argument("source", help="VDSR_Official.mat, or an EDSR-PyTorch checkpoint such as "
                                  "edsr_baseline_x2-1bc95232.pt")
    p.add_argument("output", help="the .msgpack file to write")
    p.add_argument("--model", default=None,
                   help="for .pt files: edsr_baseline, edsr, mdsr_baseline or mdsr (a .mat file is VDSR)")
    p.add_argument("--scale", type=int, default=None, help="for EDSR: the scale the checkpoint was trained for")
    return p


def convert(source, output, model_name: str | None = None, scale: int | None = None) -> str:
    """Convert ``source`` to a jaxsr params file ``output``; returns a one-line description."""
    from jaxsr import models
    from jaxsr.weights import load_weights, save_params

    if Path(source).suffix.lower() == ".mat" and model_name in (None, "vdsr"):
        params, kwargs = read_matconvnet_vdsr(source)
        save_params(output, params)
        return f"VDSR {kwargs}"
    if model_name is None:
        raise JaxsrError(f"{source}: pass --model (and --scale for EDSR), e.g. --model edsr_baseline --scale 2")
    from jaxsr.loading import build_model

    model = build_model(model_name, 2)  # unknown names fail here
    if models.upsampling(model_name) == "post" and not models.multi_scale(model_name):
        if scale is None:
            raise JaxsrError(f"--model {model_name} is built for one scale: pass --scale")
        model = build_model(model_name, scale)
    save_params(output, load_weights(source, model))
    return f"{model_name}" + (f" x{scale}" if hasattr(model, "scale") else "")


def main(argv=None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)  # usage errors exit with status 2
    try:
        what = convert(args.source, args.output, args.model, args.scale)
    except JaxsrError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
