"""Super-resolve images with any jaxsr model: one uniform path for pre- and post-upsampling models.

* Pre-upsampling models (VDSR, SRCNN, bicubic) get the MATLAB-bicubic upsample (ILR) of the LR image;
  post-upsampling models get the LR image itself.
* Y-channel models (``channels == 1``) on colour input: the model sees Y, Cb/Cr are upsampled with the
  same bicubic, and the result is converted back to RGB with MATLAB's ``ycbcr2rgb`` and clipped.
* Geometric self-ensemble ("+", Lim et al. 2017): the 8 flips/rotations of the input, each output
  transformed back, averaged, then clipped.
"""

from __future__ import annotations

import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxsr.ops.color import rgb_to_ycbcr, ycbcr_to_rgb
from jaxsr.ops.resize import imresize

__all__ = ["dihedral", "inverse_dihedral", "self_ensemble", "Upscaler", "super_resolve"]


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


class Upscaler:
    """A model with its params, applied at one scale; compiles once per input shape.

    Args:
      model: a jaxsr model (``models.get(...)``); a post-upsampling model must be built for ``scale``.
      params: its params pytree (``{}`` for bicubic).
      scale: integer upscaling factor.
      ensemble: average over the 8 flips/rotations (the "+" results).
    """

    def __init__(self, model: nn.Module, params, scale: int, ensemble: bool = False):
        if model.upsampling == "post" and getattr(model, "scale", scale) != scale:
            raise ValueError(f"model was built for x{model.scale}, asked for x{scale}")
        self.model, self.params, self.scale = model, params, int(scale)
        if getattr(model, "multi_scale", False) and self.scale not in model.scales:
            raise ValueError(f"model has branches for {model.scales}, asked for x{scale}")
        self.channels = getattr(model, "channels", 3)
        call = {"scale": self.scale} if getattr(model, "multi_scale", False) else {}
        apply = lambda p, x: model.apply({"params": p}, x, **call)  # noqa: E731
        fn = (lambda p, x: self_ensemble(lambda t: apply(p, t))(x)) if ensemble else apply
        self._jitted = jax.jit(lambda p, x: jnp.clip(fn(p, x), 0.0, 1.0))
        self._compiled: dict = {}
        self._compile_seconds = 0.0
        self.last_seconds = 0.0

    def model_input(self, lr: np.ndarray) -> np.ndarray:
        """(H, W, C) LR in [0, 1] → what the model takes: the ILR (sH, sW, C) or the LR itself."""
        return imresize(lr, self.scale) if self.model.upsampling == "pre" else lr

    def _executable(self, x):
        if x.shape not in self._compiled:
            start = time.perf_counter()
            self._compiled[x.shape] = self._jitted.lower(self.params, x).compile()
            self._compile_seconds += time.perf_counter() - start
        return self._compiled[x.shape]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run the model on an NHWC float batch (model input space) → clipped NHWC float32 output."""
        x = jnp.asarray(x, jnp.float32)
        return np.asarray(jax.block_until_ready(self._executable(x)(self.params, x)))

    def upscale_channels(self, lr: np.ndarray) -> np.ndarray:
        """LR (H, W, C) in the model's own channels, [0, 1] → SR (sH, sW, C) float32 in [0, 1].

        Sets ``last_seconds``: wall time of the bicubic ILR (pre-upsampling models) and the model,
        compilation excluded.
        """
        start, compile_before = time.perf_counter(), self._compile_seconds
        out = self.predict(self.model_input(lr)[None])[0]
        self.last_seconds = time.perf_counter() - start - (self._compile_seconds - compile_before)
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


def colorize(y: np.ndarray, cbcr: np.ndarray) -> np.ndarray:
    """(H, W, 1) Y and (H, W, 2) CbCr in [0, 1] scale → RGB (H, W, 3) clipped to [0, 1]."""
    return np.clip(ycbcr_to_rgb(np.concatenate([y, cbcr], axis=-1)), 0.0, 1.0)


def super_resolve(model: nn.Module, params, image: np.ndarray, scale: int, ensemble: bool = False):
    """One-shot :meth:`Upscaler.upscale`: (H, W) or (H, W, 3) in [0, 1] → ×``scale`` in [0, 1]."""
    return Upscaler(model, params, scale, ensemble).upscale(image)
