"""BT.601 colour conversion exactly as MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb``.

For RGB in [0, max_value] the result is in the same scale: with ``max_value=1`` (the default) Y lies in
[16/255, 235/255] and Cb/Cr in [16/255, 240/255]; with ``max_value=255``, Y lies in [16, 235].
Works on numpy and jax arrays of shape (..., 3); the dtype of the input is kept (float only).
"""

from __future__ import annotations

import numpy as np

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb", "rgb_to_y", "to_y"]

# MATLAB rgb2ycbcr: [Y Cb Cr]ᵀ = offset + M · [R G B]ᵀ, M in units of 1/255 for input in [0, 1].
_M = np.array([[65.481, 128.553, 24.966],
               [-37.797, -74.203, 112.0],
               [112.0, -93.786, -18.214]], dtype=np.float64) / 255.0
_M_INV = np.linalg.inv(_M)
_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64) / 255.0


def _check(x, name):
    if x.shape[-1] != 3:
        raise ValueError(f"{name} expects (..., 3) arrays, got shape {tuple(x.shape)}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} expects a float array, got dtype {x.dtype}")


def rgb_to_ycbcr(rgb, max_value: float = 1.0):
    """RGB (..., 3) in [0, max_value] → YCbCr (..., 3), MATLAB ``rgb2ycbcr`` on double input."""
    _check(rgb, "rgb_to_ycbcr")
    m, off = _M.astype(rgb.dtype), (_OFFSET * max_value).astype(rgb.dtype)
    return rgb @ m.T + off


def ycbcr_to_rgb(ycbcr, max_value: float = 1.0):
    """YCbCr (..., 3) → RGB (..., 3), MATLAB ``ycbcr2rgb`` (exact inverse; no clipping)."""
    _check(ycbcr, "ycbcr_to_rgb")
    m_inv, off = _M_INV.astype(ycbcr.dtype), (_OFFSET * max_value).astype(ycbcr.dtype)
    return (ycbcr - off) @ m_inv.T


def rgb_to_y(rgb, max_value: float = 1.0):
    """Luma Y (...) of RGB (..., 3) in [0, max_value], the first channel of :func:`rgb_to_ycbcr`."""
    _check(rgb, "rgb_to_y")
    return rgb @ _M[0].astype(rgb.dtype) + (_OFFSET[0] * max_value).astype(rgb.dtype)


def to_y(image, max_value: float = 1.0):
    """Y channel (H, W) of an (H, W) gray, (H, W, 1) gray or (H, W, 3) RGB image.

    A grayscale image's Y is its gray value itself (the SR evaluation convention).
    """
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[-1] == 1:
        return image[..., 0]
    if image.ndim == 3 and image.shape[-1] == 3:
        return rgb_to_y(image, max_value)
    raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {tuple(image.shape)}")
