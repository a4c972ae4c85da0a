"""MATLAB-exact ``imresize(..., 'bicubic')`` for numpy (host) and jax.numpy (device).

The resize of one dimension is a fixed linear map, so each dimension gets an (out × in) float64 weight
matrix built once per (in, out, scale) and cached. Resizing an (H, W) image is then ``R_h @ X @ R_wᵀ``:
exact in float64 on the host, and two matmuls on an accelerator.

Conventions (MATLAB's ``imresize`` with the default ``'Antialiasing', true``):

* kernel: Keys cubic with a = −0.5;
* when shrinking (k < 1) the kernel is widened: ``h(x) = k·c(k·x)``, width ``4/k``;
* output pixel i (1-based) samples input coordinate ``u = i/k + 0.5·(1 − 1/k)``;
* weights are normalised to sum to one for each output pixel;
* out-of-range taps mirror symmetrically (``1, 2, …, n, n, n−1, …, 1`` repeating);
* the dimension with the smaller scale factor is resized first (rows first on ties);
* output size ``ceil(in · k)``, computed exactly for rational scales such as 1/3.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["cubic", "resize_matrix", "output_size", "imresize"]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = −0.5 (MATLAB's ``cubic``), float64."""
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


@functools.lru_cache(maxsize=512)
def resize_matrix(in_len: int, out_len: int, scale: float, antialiasing: bool = True) -> np.ndarray:
    """The (out_len, in_len) float64 matrix of a MATLAB bicubic resize along one dimension.

    ``scale`` is the factor MATLAB uses for the kernel (``out/in`` when an output size is given, the
    requested factor when a scale is given). The returned array is cached and read-only.
    """
    if in_len < 1 or out_len < 1:
        raise ValueError(f"resize lengths must be positive, got in={in_len}, out={out_len}")
    if scale < 1 and antialiasing:
        kernel = lambda x: scale * cubic(scale * x)  # noqa: E731
        width = 4.0 / scale
    else:
        kernel, width = cubic, 4.0
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based
    weights = kernel(u[:, None] - indices)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])  # 0-based, symmetric
    cols = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_len)]
    rows = np.broadcast_to(np.arange(out_len)[:, None], cols.shape)
    matrix = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(matrix, (rows, cols), weights)
    matrix.setflags(write=False)
    return matrix


def output_size(in_len: int, scale: float) -> int:
    """``ceil(in_len · scale)`` computed exactly for rational scales (1/3 of 255 is 85, not 86)."""
    exact = Fraction(scale).limit_denominator(10_000)
    if abs(float(exact) - scale) > 1e-12:
        exact = Fraction(scale)
    return max(1, math.ceil(in_len * exact))


def _plan(shape: Sequence[int], scale, output_shape) -> list[tuple[int, int, int, float]]:
    """[(axis_index_in_hw, in, out, k)] in MATLAB's order of dimensions."""
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale or output_shape")
    h, w = int(shape[0]), int(shape[1])
    if scale is not None:
        scales = tuple(float(s) for s in (scale if isinstance(scale, (tuple, list)) else (scale, scale)))
        if len(scales) != 2 or min(scales) <= 0 or not all(map(math.isfinite, scales)):
            raise ValueError(f"scale must be a positive number or a pair of them, got {scale!r}")
        outs = (output_size(h, scales[0]), output_size(w, scales[1]))
    else:
        outs = tuple(int(o) for o in output_shape)
        if len(outs) != 2 or min(outs) < 1:
            raise ValueError(f"output_shape must be two positive sizes, got {output_shape!r}")
        scales = (outs[0] / h, outs[1] / w)
    order = sorted(range(2), key=lambda d: scales[d])  # stable: rows first on ties, as MATLAB's sort
    return [(d, (h, w)[d], outs[d], scales[d]) for d in order]


def _spatial_axes(ndim: int) -> tuple[int, int]:
    if ndim in (2, 3):
        return 0, 1
    if ndim == 4:
        return 1, 2
    raise ValueError(f"expected an (H, W), (H, W, C) or (N, H, W, C) image, got {ndim} dimensions")


def imresize(image, scale=None, output_shape=None, antialiasing: bool = True):
    """Resize like MATLAB ``imresize(image, scale, 'bicubic')`` or ``imresize(image, output_shape, ...)``.

    Args:
      image: float array, (H, W), (H, W, C) or (N, H, W, C), any value range (no clipping or rounding).
        A numpy array is resized on the host in float64 and returned in its own float dtype; a jax array
        (also under ``jit``) is resized with two matmuls at full float32 precision and stays a jax array.
      scale: factor, e.g. 2 to upsample or 1/3 to downsample; or a (row, column) pair.
      output_shape: (out_h, out_w) instead of ``scale``.
      antialiasing: widen the kernel when shrinking (MATLAB's default, True).

    Returns:
      The resized image, same rank and channel count.
    """
    is_jax = isinstance(image, jax.Array)
    if not is_jax:
        image = np.asarray(image)
    if not jnp.issubdtype(image.dtype, jnp.floating):
        raise TypeError(f"imresize expects a float image (e.g. in [0, 1]), got dtype {image.dtype}")
    ax_h, ax_w = _spatial_axes(image.ndim)
    out = image if is_jax else image.astype(np.float64)
    for d, n_in, n_out, k in _plan((image.shape[ax_h], image.shape[ax_w]), scale, output_shape):
        axis = (ax_h, ax_w)[d]
        matrix = resize_matrix(n_in, n_out, k, antialiasing)
        if is_jax:
            m = jnp.asarray(matrix, dtype=out.dtype)
            out = jnp.moveaxis(
                jnp.tensordot(m, jnp.moveaxis(out, axis, 0), axes=1, precision=jax.lax.Precision.HIGHEST),
                0, axis)
        else:
            out = np.moveaxis(np.tensordot(matrix, np.moveaxis(out, axis, 0), axes=1), 0, axis)
    return out if is_jax else out.astype(image.dtype, copy=False)
