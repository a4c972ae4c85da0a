"""Import the authors' released MATLAB models (VDSR's MatConvNet file, SRCNN's ``.mat`` files) into jaxsr params.

VDSR: the released file holds a struct ``model`` with cell arrays ``weight{1..D}`` (3×3×Cin×Cout, single) and
``bias{1..D}``. MatConvNet's ``vl_nnconv`` is a correlation over (row, column, in, out), which is exactly
``flax.linen.Conv``'s (kh, kw, in, out) kernel layout, so the arrays map over unchanged; MATLAB drops the
trailing singleton of the last layer (3×3×64×1 is stored as 3×3×64), which is restored here.

SRCNN: float64 ``weights_conv1`` (k1², n1), ``weights_conv2`` (n1, k2², n2), ``weights_conv3`` (n2, k3²) and
``biases_conv1..3``; each k² column is a k×k kernel in MATLAB (column-major) order, applied by the authors'
``SRCNN.m`` as ``imfilter(x, kernel, 'same', 'replicate')``: a correlation, so kernel[r, c] maps to flax's
(kh, kw) = (r, c) unflipped, with replicated borders (``models.SRCNN(border="replicate")``).

Read by :func:`jaxsr.weights.params.read_weights`; ``python -m jaxsr.convert`` turns them into ``.msgpack``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxsr.base.errors import JaxsrError

__all__ = ["read_mat", "read_matconvnet_vdsr", "read_srcnn_mat", "MAX_MAT_BYTES"]

# What a .mat file may hold once inflated (VDSR_Official.mat: 2.7 MB, SRCNN's: < 0.5 MB); a compressed
# variable that inflates to more (a zip bomb) is refused before scipy reads it.
MAX_MAT_BYTES = 256 << 20


def _check_inflated_size(path: Path) -> None:
    """Walk the top-level data elements of a MAT v5 file and inflate its compressed ones in small chunks,
    counting (never keeping) the bytes: JaxsrError if they hold more than ``MAX_MAT_BYTES``. Files that are
    not MAT v5 are left to scipy."""
    import struct
    import zlib

    size, total, pos = path.stat().st_size, 0, 128
    with open(path, "rb") as f:
        head = f.read(128)
        order = {b"IM": "<", b"MI": ">"}.get(head[126:128])
        if len(head) < 128 or order is None:
            return
        while pos + 8 <= size:
            f.seek(pos)
            kind, nbytes = struct.unpack(order + "II", f.read(8))
            if kind >> 16:  # a small data element: its data is in the tag
                pos += 8
                continue
            if kind == 15:  # miCOMPRESSED
                inflate, left = zlib.decompressobj(), nbytes
                try:
                    while left > 0 and not inflate.eof:
                        chunk = f.read(min(left, 1 << 16))
                        if not chunk:
                            break
                        left -= len(chunk)
                        data = inflate.decompress(chunk, 1 << 20)
                        while data:
                            total += len(data)
                            if total > MAX_MAT_BYTES:
                                raise JaxsrError(f"{path}: inflates to more than {MAX_MAT_BYTES:,} bytes (a zip "
                                                 "bomb?); refused before reading it")
                            data = inflate.decompress(inflate.unconsumed_tail, 1 << 20)
                except zlib.error:
                    return  # damaged: scipy says so
                pos += 8 + nbytes
            else:
                total += nbytes
                pos += 8 + nbytes + (-nbytes % 8)


def _loadmat(path: Path) -> dict:
    import scipy.io

    try:
        _check_inflated_size(Path(path))
        return scipy.io.loadmat(path)
    except FileNotFoundError:
        raise JaxsrError(f"{path}: no such file") from None
    except JaxsrError:
        raise
    except Exception as e:  # scipy raises several types for bad files
        raise JaxsrError(f"{path}: not a MATLAB v5 .mat file ({e})") from None


def read_mat(path) -> tuple[str, dict, dict]:
    """Read either authors' ``.mat`` file → (model family ``"vdsr"``/``"srcnn"``, params, model kwargs)."""
    path = Path(path)
    mat = _loadmat(path)
    if "weights_conv1" in mat:
        return ("srcnn", *read_srcnn_mat(path, mat))
    return ("vdsr", *read_matconvnet_vdsr(path, mat))


def read_srcnn_mat(path, mat: dict | None = None) -> tuple[dict, dict]:
    """Read an SRCNN authors' model file → (params, model kwargs).

    Returns:
      params: ``{"conv_i": {"kernel": (k, k, cin, cout) float32, "bias": (cout,) float32}}`` for
        ``models.SRCNN``; kwargs: ``{"filters", "features", "channels": 1, "border": "replicate"}``.
    """
    path = Path(path)
    mat = _loadmat(path) if mat is None else mat
    try:
        w = [np.asarray(mat[f"weights_conv{i}"], np.float64) for i in (1, 2, 3)]
        b = [np.asarray(mat[f"biases_conv{i}"], np.float64).ravel() for i in (1, 2, 3)]
    except KeyError as e:
        raise JaxsrError(f"{path}: expected SRCNN variables weights_conv1..3 and biases_conv1..3 "
                         f"(missing {e.args[0]})") from None
    w[0] = w[0][None]  # (1, k1², n1): one input channel
    if w[1].ndim == 2:  # a 1×1 middle layer may come back as (n1, n2)
        w[1] = w[1][:, None, :]
    w[2] = w[2].reshape(w[2].shape[0], -1, 1) if w[2].ndim == 2 else w[2]  # (n2, k3², 1)
    params, filters = {}, []
    for i, (wi, bi) in enumerate(zip(w, b)):
        cin, area, cout = wi.shape if wi.ndim == 3 else (0, 0, 0)
        k = int(round(np.sqrt(area)))
        if wi.ndim != 3 or k * k != area or cout != bi.shape[0] or (i and cin != w[i - 1].shape[2]):
            raise JaxsrError(f"{path}: layer {i + 1} has weights {mat[f'weights_conv{i + 1}'].shape} "
                             f"and biases {bi.shape}, not an SRCNN layout")
        # column j of a k² vector is MATLAB's reshape(.., k, k): element (r, c) at index r + c·k
        kernel = wi.reshape(cin, k, k, cout, order="F").transpose(1, 2, 0, 3)  # (r, c, in, out)
        params[f"conv_{i}"] = {"kernel": kernel.astype(np.float32), "bias": bi.astype(np.float32)}
        filters.append(k)
    kwargs = {"filters": tuple(filters), "features": (int(w[0].shape[2]), int(w[1].shape[2])), "channels": 1,
              "border": "replicate"}
    return params, kwargs


def read_matconvnet_vdsr(path, mat: dict | None = None) -> tuple[dict, dict]:
    """Read a MatConvNet VDSR file → (params, model kwargs).

    Returns:
      params: ``{"conv_i": {"kernel": (3, 3, cin, cout) float32, "bias": (cout,) float32}}`` for
        ``models.VDSR``; kwargs: ``{"depth", "features", "channels"}`` describing the network in the file.
    """
    path = Path(path)
    mat = _loadmat(path) if mat is None else mat
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
