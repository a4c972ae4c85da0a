"""Super-resolve images with any jaxsr model: one uniform path for pre- and post-upsampling models.

* Pre-upsampling models (VDSR, SRCNN, bicubic) get the MATLAB-bicubic upsample (ILR) of the LR image;
  post-upsampling models get the LR image itself.
* Y-channel models (``channels == 1``) on colour input: the model sees Y, Cb/Cr are upsampled with the
  same bicubic, and the result is converted back to RGB with MATLAB's ``ycbcr2rgb`` and clipped.
* Geometric self-ensemble ("+", Lim et al. 2017): the 8 flips/rotations of the input, each output
  transformed back, averaged, then clipped.
"""

from __future__ import annotations

import collections
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxsr import models
from jaxsr.base import xla_cpu
from jaxsr.base.errors import NonFiniteOutput
from jaxsr.ops.color import rgb_to_ycbcr, ycbcr_to_rgb
from jaxsr.ops.resize import imresize

__all__ = ["dihedral", "inverse_dihedral", "self_ensemble", "Upscaler", "cached_upscaler", "super_resolve",
           "PRECISIONS", "resolve_precision"]


def dihedral(x, k: int):
    """The k-th (0..7) of the 8 rotations/flips of an NHWC batch: rot90 ``k % 4`` times, then a
    left-right flip when ``k >= 4``."""
    x = jnp.rot90(x, k % 4, axes=(1, 2))
    return jnp.flip(x, axis=2) if k >= 4 else x


def inverse_dihedral(x, k: int):
    """Undo :func:`dihedral` ``k``."""
    x = jnp.flip(x, axis=2) if k >= 4 else x
    return jnp.rot90(x, -(k % 4), axes=(1, 2))


def self_ensemble(fn):
    """Wrap ``fn: NHWC → NHWC`` so it averages its outputs over the 8 dihedral transforms of the input."""
    def ensembled(x):
        return sum(inverse_dihedral(fn(dihedral(x, k)), k) for k in range(8)) / 8.0
    return ensembled


AUTO_TILE = 384  # tile side (model-input pixels) when tiling is automatic
PRECISIONS = ("float32", "bfloat16", "auto")
# where "auto" means bfloat16: {model class: scales} whose bfloat16 outputs were measured to differ negligibly
# from float32's (benchmarks/NOTES.md, "bfloat16 inference": Set5/Set14/B100)
AUTO_BFLOAT16 = {models.VDSR: (2,)}


def resolve_precision(precision: str, model: nn.Module | None = None, scale: int | None = None) -> str:
    """"float32" | "bfloat16" as given; "auto" = bfloat16 where it is the fast path and its quality was
    measured negligibly different: a model and scale of ``AUTO_BFLOAT16`` (VDSR at x2) on the CPU with AMX
    and jaxlib's oneDNN convolutions (:func:`jaxsr.base.xla_cpu.bf16_is_fast`); float32 elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        measured = next((s for cls, s in AUTO_BFLOAT16.items() if isinstance(model, cls)), ())
        return "bfloat16" if scale in measured and xla_cpu.bf16_is_fast() else "float32"
    return precision


class Upscaler:
    """A model with its params, applied at one scale; compiles once per input shape.

    Args:
      model: a jaxsr model (``models.get(...)``) able to run at ``scale`` (its contract: a fixed-scale
        model must be built for it, a call-time-scale model have a branch for it).
      params: its params pytree (``{}`` for bicubic).
      scale: integer upscaling factor.
      ensemble: average over the 8 flips/rotations (the "+" results).
      tile: None = whole images (evaluation); ``T`` > 0 = overlapping tiles of T×T model-input pixels,
        each with ``model.receptive_radius()`` pixels of context on every side, so the output equals the
        untiled output (zero padding only ever happens at the image's own borders); all tiles share one
        shape (border tiles shift inwards), so one compilation serves a whole image.
      tile_batch: tiles per device call.
      precision: the model's compute dtype: "float32" (default; evaluation always uses it), "bfloat16"
        (the model's ``dtype``: its convolutions in bfloat16; params, the bicubic and the residual path stay
        float32) or "auto" (:func:`resolve_precision`); ``precision`` holds the resolved one. A model
        without a ``dtype`` field (bicubic) always computes in float32.

    ``on_tiles``: None or ``callable(done, total)``, called after each device call of a tiled image (progress).
    ``compilations``: how many executables this upscaler compiled (one per input shape).
    ``source``: what the params came from (a weights file), named when the model's output is not finite:
    every output is checked before clipping, and a NaN or infinite one raises ``NonFiniteOutput``.
    """

    def __init__(self, model: nn.Module, params, scale: int, ensemble: bool = False, tile: int | None = None,
                 tile_batch: int = 4, precision: str = "float32"):
        self.spec = spec = models.contract(model)
        spec.check_scale(int(scale))
        self.precision = resolve_precision(precision, model, int(scale))
        self.model, self.params, self.scale = model, params, int(scale)
        if self.precision != "float32" and "dtype" in getattr(model, "__dataclass_fields__", {}):
            model = model.clone(dtype=jnp.dtype(self.precision))
        self._options = xla_cpu.compiler_options("inference", self.precision)
        self.channels = spec.channels
        apply = lambda p, x: models.apply(model, p, x, self.scale)  # noqa: E731
        fn = (lambda p, x: self_ensemble(lambda t: apply(p, t))(x)) if ensemble else apply
        self._jitted = jax.jit(lambda p, x: _clip_checked(fn(p, x)))
        self._compiled: dict = {}
        self.tile, self.tile_batch = tile, max(1, int(tile_batch))
        self.radius = spec.receptive_radius
        self.factor = spec.factor(self.scale)  # output pixels per input pixel
        self.compilations = 0
        self._compile_seconds = 0.0
        self.last_seconds = self.last_compile_seconds = 0.0
        self.on_tiles = None
        self.source = f"the {type(model).__name__} model"

    def model_input(self, lr: np.ndarray) -> np.ndarray:
        """(H, W, C) LR in [0, 1] → what the model takes: the ILR (sH, sW, C) or the LR itself."""
        return imresize(lr, self.scale) if self.spec.upsampling == "pre" else lr

    def _executable(self, x):
        if x.shape not in self._compiled:
            start = time.perf_counter()
            self._compiled[x.shape] = self._jitted.lower(self.params, x).compile(self._options)
            self.compilations += 1
            self._compile_seconds += time.perf_counter() - start
        return self._compiled[x.shape]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run the model on an NHWC float batch (model input space) → clipped NHWC float32 output;
        ``NonFiniteOutput`` if the model's output (before clipping) has a NaN or infinite value."""
        x = jnp.asarray(x, jnp.float32)
        out, finite = jax.block_until_ready(self._executable(x)(self.params, x))
        if not bool(finite):
            raise NonFiniteOutput(f"{self.source}: the model's output is not finite (NaN or inf) at x{self.scale}: "
                                  "broken weights; nothing scored or written")
        return np.asarray(out)

    def upscale_channels(self, lr: np.ndarray) -> np.ndarray:
        """LR (H, W, C) in the model's own channels, [0, 1] → SR (sH, sW, C) float32 in [0, 1].

        Sets ``last_seconds``: wall time of the bicubic ILR (pre-upsampling models) and the model,
        compilation excluded; ``last_compile_seconds``: time spent compiling during this call.
        """
        start, compile_before = time.perf_counter(), self._compile_seconds
        x = self.model_input(lr)
        out = self._tiled(x) if self.tile and max(x.shape[:2]) > self.tile + 2 * self.radius else \
            self.predict(x[None])[0]
        self.last_compile_seconds = self._compile_seconds - compile_before
        self.last_seconds = time.perf_counter() - start - self.last_compile_seconds
        return out

    def _tiled(self, x: np.ndarray) -> np.ndarray:
        """Model output for one (H, W, C) model input, computed tile by tile (see ``tile``)."""
        f, r = self.factor, self.radius
        h, w = x.shape[:2]
        win = (min(self.tile + 2 * r, h), min(self.tile + 2 * r, w))
        jobs = [(a, b, *_window(a, self.tile, r, h), *_window(b, self.tile, r, w))
                for a in _starts(h, self.tile) for b in _starts(w, self.tile)]
        out = np.empty((h * f, w * f, self.channels), np.float32)
        for i in range(0, len(jobs), self.tile_batch):
            group = jobs[i:i + self.tile_batch]
            batch = np.stack([x[y0:y0 + win[0], x0:x0 + win[1]] for _, _, y0, th, x0, tw in group])
            if len(group) < self.tile_batch:  # same batch shape for every call: one compilation
                batch = np.concatenate([batch, np.repeat(batch[-1:], self.tile_batch - len(group), axis=0)])
            pred = self.predict(batch)
            for (a, b, y0, th, x0, tw), p in zip(group, pred):
                oy, ox = (a - y0) * f, (b - x0) * f
                out[a * f:(a + th) * f, b * f:(b + tw) * f] = p[oy:oy + th * f, ox:ox + tw * f]
            if self.on_tiles is not None:
                self.on_tiles(i + len(group), len(jobs))
        return out

    def upscale(self, image: np.ndarray) -> np.ndarray:
        """Super-resolve an (H, W) gray or (H, W, 3) RGB image in [0, 1]; same layout out, ×scale."""
        image = np.asarray(image, np.float64)
        gray = image.ndim == 2 or image.shape[-1] == 1
        if gray:
            g = image.reshape(image.shape[0], image.shape[1], 1)
            if self.channels == 1:
                out = self.upscale_channels(g)
            else:
                out = self.upscale_channels(np.repeat(g, 3, axis=-1)).mean(axis=-1, keepdims=True)
            return out.reshape(out.shape[:2] + image.shape[2:])
        if self.channels == 3:
            return self.upscale_channels(image)
        ycc = rgb_to_ycbcr(image)
        y = self.upscale_channels(ycc[..., :1]).astype(np.float64)
        return colorize(y, imresize(ycc[..., 1:], self.scale))


def _clip_checked(out):
    """(output clipped to [0, 1], whether every value of the unclipped output is finite)."""
    return jnp.clip(out, 0.0, 1.0), jnp.isfinite(out).all()


def _starts(n: int, tile: int) -> list[int]:
    """Starts of tile cores covering [0, n): 0, T, 2T, …, the last shifted back to end at n."""
    if n <= tile:
        return [0]
    return sorted({*range(0, n - tile, tile), n - tile})


def _window(start: int, tile: int, radius: int, n: int) -> tuple[int, int]:
    """(window start, core length) of the tile core at ``start``: the window has ``tile + 2·radius``
    pixels (or all n) and contains the core plus its radius, clamped inside [0, n)."""
    core = min(tile, n)
    length = min(tile + 2 * radius, n)
    return min(max(start - radius, 0), n - length), core


def colorize(y: np.ndarray, cbcr: np.ndarray) -> np.ndarray:
    """(H, W, 1) Y and (H, W, 2) CbCr in [0, 1] scale → RGB (H, W, 3) clipped to [0, 1]."""
    return np.clip(ycbcr_to_rgb(np.concatenate([y, cbcr], axis=-1)), 0.0, 1.0)


_CACHE: collections.OrderedDict = collections.OrderedDict()
CACHE_SIZE = 8  # upscalers kept (each holds its compiled executables and a reference to its params)


def cached_upscaler(model: nn.Module, params, scale: int, ensemble: bool = False, tile: int | None = None,
                    tile_batch: int = 4, precision: str = "float32") -> Upscaler:
    """An :class:`Upscaler`, reused for the same model, the same params object (identity: new params, new
    upscaler), scale and options, so repeated calls compile once per input shape. The ``CACHE_SIZE`` most
    recently used are kept."""
    precision = resolve_precision(precision, model, int(scale))
    key = (model, id(params), int(scale), bool(ensemble), tile, int(tile_batch), precision)
    up = _CACHE.get(key)
    if up is None or up.params is not params:  # an id reused by another pytree after the first was freed
        up = Upscaler(model, params, scale, ensemble, tile=tile, tile_batch=tile_batch, precision=precision)
        _CACHE[key] = up
    _CACHE.move_to_end(key)
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return up


def super_resolve(image, model: nn.Module, params, scale: int, *, tile: int | None = None,
                  self_ensemble: bool = False, tile_batch: int = 4, precision: str = "auto"):
    """Super-resolve one image by ``scale``.

    Args:
      image: uint8 or float (in [0, 1]) array, (H, W) gray or (H, W, 3) RGB.
      model, params: e.g. from :func:`jaxsr.load`. Y-only models (VDSR, SRCNN) work on Y and the chroma is
        MATLAB-bicubic upsampled; RGB models take RGB.
      tile: None = automatic (tiles of ``AUTO_TILE`` for large images), 0 = whole image, T = T×T tiles of
        the model input; the result equals the untiled one (to float rounding).
      self_ensemble: average over the 8 flips/rotations.
      precision: "auto" (default: bfloat16 for VDSR at x2 where it is the fast path — a CPU with AMX on
        jaxlib ≥ 0.12 — else float32), "float32" or "bfloat16"; see :func:`resolve_precision`.
    The compiled model is cached (:func:`cached_upscaler`): a loop over same-size images compiles once.
    Returns:
      The same kind of array at (s·H, s·W[, 3]): uint8 (rounded) for uint8 input, else float32 in [0, 1].
    """
    image = np.asarray(image)
    is_uint8 = image.dtype == np.uint8
    if not (is_uint8 or np.issubdtype(image.dtype, np.floating)):
        raise TypeError(f"image must be uint8 or float, got {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 3)):
        raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {image.shape}")
    tile = AUTO_TILE if tile is None else (int(tile) or None)
    up = cached_upscaler(model, params, scale, self_ensemble, tile=tile, tile_batch=tile_batch,
                         precision=precision)
    out = up.upscale(image / 255.0 if is_uint8 else image)
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8) if is_uint8 else out.astype(np.float32)
