"""Import the VDSR authors' MatConvNet model into jaxsr params.

The released file holds a struct ``model`` with cell arrays ``weight{1..D}`` (3×3×Cin×Cout, single) and
``bias{1..D}``. MatConvNet's ``vl_nnconv`` is a correlation over (row, column, in, out), which is exactly
``flax.linen.Conv``'s (kh, kw, in, out) kernel layout, so the arrays map over unchanged; MATLAB drops the
trailing singleton of the last layer (3×3×64×1 is stored as 3×3×64), which is restored here.

Usage: ``python -m jaxsr.convert VDSR_Official.mat vdsr.msgpack``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from jaxsr.errors import JaxsrError

__all__ = ["read_matconvnet_vdsr"]


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


def main(argv=None) -> int:
    from jaxsr.weights import save_params

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python -m jaxsr.convert MODEL.mat OUT.msgpack\n\n{__doc__}")
        return 0
    if len(argv) != 2:
        print("usage: python -m jaxsr.convert MODEL.mat OUT.msgpack", file=sys.stderr)
        return 2
    try:
        params, kwargs = read_matconvnet_vdsr(argv[0])
        save_params(argv[1], params)
    except JaxsrError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {argv[1]}: VDSR {kwargs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
