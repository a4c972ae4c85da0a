"""PSNR and SSIM with the conventions of the SR literature.

* PSNR = 10·log10(peak² / MSE), computed in float64 on the host.
* SSIM = Wang et al.'s reference ``ssim_index``: 11×11 Gaussian window (σ = 1.5, normalised),
  K1 = 0.01, K2 = 0.03, 'valid' filtering, mean of the SSIM map. We use dm-pix's ``pix.ssim``, which
  implements exactly this (separable normalised Gaussian, valid convolution); the test suite checks it
  against a float64 transcription of ``ssim_index`` to 1e-5.
* :func:`sr_metrics` scores an SR result the way VDSR/EDSR tables do: it takes Y in [0, 1] and scores it
  on the 0–255 scale, with ``scale`` pixels shaved from each border, the prediction clipped to [0, 1] first.
* The metric registry: what evaluation scores. A metric is ``fn(prediction, hr, scale) -> float`` on the Y
  (``space="y"``: (H, W)) or RGB (``space="rgb"``: (H, W, 3), gray images as three equal channels) images,
  float64 in [0, 1] as the evaluation protocol quantized them (``jaxsr.eval.protocol``); ``psnr`` and ``ssim``
  (the defaults) are :func:`sr_metrics`'s. ``register_metric("mae", fn, space="rgb")``, or the decorator
  ``@register_metric("mae", space="rgb")`` in any module (a plug-in named with ``--import``), adds one;
  every table, report and results JSON lists the metrics by name (``<name>`` and ``bicubic_<name>`` keys).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import dm_pix as pix
import jax
import jax.numpy as jnp
import numpy as np

from jaxsr.base.errors import JaxsrError
from jaxsr.ops.crop import shave as _shave

__all__ = ["psnr", "ssim", "sr_metrics", "Metric", "register_metric", "get_metric", "metric_names",
           "check_metrics", "result_metrics", "metric_label", "format_scores", "DEFAULT_METRICS", "SPACES"]


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


SPACES = ("y", "rgb")


@dataclass(frozen=True)
class Metric:
    """A registered metric: ``fn(prediction, hr, scale) -> float`` on images of ``space`` ("y": (H, W),
    "rgb": (H, W, 3)), float64 in [0, 1]; ``label`` heads table columns, ``digits`` formats its values,
    ``unit`` follows them in image captions."""
    name: str
    fn: Callable[[np.ndarray, np.ndarray, int], float]
    space: str = "y"
    label: str = ""
    digits: int = 4
    unit: str = ""


_REGISTRY: dict[str, Metric] = {}


def register_metric(name: str, fn: Callable | None = None, space: str = "y", label: str | None = None,
                    digits: int = 4, unit: str = ""):
    """Register (or replace) metric ``name``: ``fn(prediction, hr, scale) -> float`` on the ``space``
    images ("y" or "rgb") as the evaluation protocol scores them. Returns the :class:`Metric`; without
    ``fn``, a decorator that registers the function it decorates (and returns it)::

        @register_metric("mae", space="rgb", label="MAE")
        def mae(sr, hr, scale):
            return float(np.abs(sr - hr).mean())
    """
    if fn is None:
        def decorate(f):
            register_metric(name, f, space, label, digits, unit)
            return f
        return decorate
    if space not in SPACES:
        raise ValueError(f"metric space must be one of {', '.join(SPACES)}; got {space!r}")
    if not name.isidentifier() or name.startswith("bicubic_") or name in _RESERVED:
        raise ValueError(f"metric name must be an identifier, not starting with 'bicubic_' nor one of "
                         f"{', '.join(_RESERVED)}; got {name!r}")
    _REGISTRY[name] = Metric(name, fn, space, label or name.upper(), digits, unit)
    return _REGISTRY[name]


_RESERVED = ("images", "failed", "seconds", "seconds_with_compile", "seconds_per_image",
             "seconds_per_image_with_compile", "per_image", "protocol", "name", "ok", "exact")
DEFAULT_METRICS = ("psnr", "ssim")


def sr_metrics(sr_y, hr_y, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) of an SR Y channel against HR Y, both (H, W) in [0, 1], the paper way.

    The prediction is clipped to [0, 1]; both are scaled to [0, 255] and ``scale`` pixels are shaved.
    Raises ValueError for images on another scale: an ``hr_y`` outside [0, 1] or integer-typed inputs
    (0–255 images would otherwise score around −41 dB without a word).
    """
    return sr_psnr(sr_y, hr_y, scale), sr_ssim(sr_y, hr_y, scale)


@register_metric("psnr", space="y", label="PSNR", digits=2, unit="dB")
def sr_psnr(sr_y, hr_y, scale: int) -> float:
    """PSNR (dB) of :func:`sr_metrics`."""
    return psnr(*_on_255(sr_y, hr_y), 255.0, shave=scale)


@register_metric("ssim", space="y", label="SSIM", digits=4)
def sr_ssim(sr_y, hr_y, scale: int) -> float:
    """SSIM of :func:`sr_metrics`."""
    return ssim(*_on_255(sr_y, hr_y), 255.0, shave=scale)


def _on_255(sr_y, hr_y):
    """The prediction clipped to [0, 1] and both images checked and scaled to [0, 255], float64."""
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
    return sr, hr * 255.0


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; JaxsrError naming the registered ones if there is none."""
    if name not in _REGISTRY:
        raise JaxsrError(f"unknown metric {name!r}; registered: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def metric_names() -> list[str]:
    """Names of the registered metrics, in registration order."""
    return list(_REGISTRY)


def check_metrics(names: Sequence[str] | str) -> tuple[str, ...]:
    """Metric names (a sequence or a comma-separated string) checked against the registry, deduplicated,
    in the given order; JaxsrError for an unknown name or none."""
    if isinstance(names, str):
        names = names.split(",")
    names = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not names:
        raise JaxsrError(f"no metric given; registered: {', '.join(_REGISTRY)}")
    for n in names:
        get_metric(n)
    return names


def result_metrics(cell) -> list[str]:
    """The metric names of one evaluation result or per-image record (the keys ``m`` that have a
    ``bicubic_m`` beside them), in their order."""
    return [k for k in cell if f"bicubic_{k}" in cell]


def metric_label(name: str) -> str:
    """The column label of metric ``name`` (its upper-cased name when it is not registered here)."""
    return _REGISTRY[name].label if name in _REGISTRY else name.upper()


def format_scores(r, metrics, prefix: str = "", digits: int | None = None, units: bool = False) -> str:
    """``"31.02 / 0.8841"``: the figures ``r[prefix + m]`` of ``metrics`` joined by " / ", each with its
    metric's digits (or ``digits``; 4 for a metric not registered here), followed by its unit if
    ``units``; "–" for a missing figure."""
    def fmt(m):
        value, metric = r.get(prefix + m), _REGISTRY.get(m)
        if value is None:
            return "–"
        d = digits if digits is not None else metric.digits if metric else 4
        return f"{value:.{d}f}" + (f" {metric.unit}" if units and metric and metric.unit else "")
    return " / ".join(fmt(m) for m in metrics)


def _pair(x, y, shave):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} vs {y.shape}")
    return _shave(x, shave), _shave(y, shave)
