"""PSNR and SSIM with the conventions of the SR literature.

* PSNR = 10·log10(peak² / MSE), computed in float64 on the host.
* SSIM = Wang et al.'s reference ``ssim_index``: 11×11 Gaussian window (σ = 1.5, normalised),
  K1 = 0.01, K2 = 0.03, 'valid' filtering, mean of the SSIM map. We use dm-pix's ``pix.ssim``, which
  implements exactly this (separable normalised Gaussian, valid convolution); the test suite checks it
  against a float64 transcription of ``ssim_index`` to 1e-5.
* :func:`sr_metrics` scores an SR result the way VDSR/EDSR tables do: it takes Y in [0, 1] and scores it
  on the 0–255 scale, with ``scale`` pixels shaved from each border, the prediction clipped to [0, 1] first.
"""

from __future__ import annotations

import functools

import dm_pix as pix
import jax
import jax.numpy as jnp
import numpy as np

from jaxsr.ops.crop import shave as _shave

__all__ = ["psnr", "ssim", "sr_metrics"]


def psnr(x, y, max_value: float = 1.0, shave: int = 0) -> float:
    """PSNR in dB between two images of equal shape (H, W[, C]) with peak ``max_value``.

    Returns ``inf`` for identical images.
    """
    x, y = _pair(x, y, shave)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(max_value**2 / mse))


@functools.partial(jax.jit, static_argnames=("max_value",))
def _ssim(x, y, max_value):
    return pix.ssim(x, y, max_val=max_value, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03)


def ssim(x, y, max_value: float = 1.0, shave: int = 0) -> float:
    """Mean SSIM (Wang et al. ``ssim_index``) of two (H, W) or (H, W, C) images; C > 1 averages channels.

    Images must be at least 11×11 after shaving.
    """
    x, y = _pair(x, y, shave)
    if min(x.shape[0], x.shape[1]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {x.shape[:2]}")
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    # Scale to [0, 1] so the float32 computation keeps its precision whatever the peak.
    return float(_ssim(jnp.asarray(x / max_value, jnp.float32), jnp.asarray(y / max_value, jnp.float32), 1.0))


def sr_metrics(sr_y, hr_y, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) of an SR Y channel against HR Y, both (H, W) in [0, 1], the paper way.

    The prediction is clipped to [0, 1]; both are scaled to [0, 255] and ``scale`` pixels are shaved.
    Raises ValueError for images on another scale: an ``hr_y`` outside [0, 1] or integer-typed inputs
    (0–255 images would otherwise score around −41 dB without a word).
    """
    for name, image in (("sr_y", sr_y), ("hr_y", hr_y)):
        if np.issubdtype(np.asarray(image).dtype, np.integer):
            raise ValueError(f"sr_metrics takes float Y in [0, 1], got {name} of dtype "
                             f"{np.asarray(image).dtype} (divide 0-255 images by 255)")
    sr = np.clip(np.asarray(sr_y, np.float64), 0.0, 1.0) * 255.0
    hr = np.asarray(hr_y, np.float64)
    lo, hi = (float(hr.min()), float(hr.max())) if hr.size else (0.0, 0.0)
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"sr_metrics takes Y in [0, 1], got hr_y in [{lo:g}, {hi:g}] "
                         "(divide 0-255 images by 255)")
    hr = hr * 255.0
    return psnr(sr, hr, 255.0, shave=scale), ssim(sr, hr, 255.0, shave=scale)


def _pair(x, y, shave):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} vs {y.shape}")
    return _shave(x, shave), _shave(y, shave)
