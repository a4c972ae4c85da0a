"""The bicubic baseline as a parameter-free model, so every table has its baseline row."""

from __future__ import annotations

from typing import ClassVar

import flax.linen as nn
import jax.numpy as jnp

from jaxsr.models.registry import register


@register("bicubic")
class Bicubic(nn.Module):
    """Identity on the ILR: the MATLAB-bicubic upsample is already the prediction.

    Input/output: NHWC float32 in [0, 1] with ``channels`` channels. No parameters (``init`` returns {}).
    """

    channels: int = 1

    upsampling: ClassVar[str] = "pre"
    scale_mode: ClassVar[str] = "any"
    scale_params: ClassVar[tuple] = ()
    kwarg_ranges: ClassVar[dict] = {"channels": (1, 3)}

    def receptive_radius(self) -> int:
        return 0

    @nn.compact
    def __call__(self, x):
        return x.astype(jnp.float32)
