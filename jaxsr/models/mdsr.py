"""MDSR (Lim et al. 2017): one network for x2, x3 and x4 with a shared body.

Per-scale pre-processing (two 5×5 residual blocks) after the shared head, a shared body of residual
blocks with a global skip, per-scale sub-pixel upsamplers, one shared tail conv. ``scale`` is given at
call time (a Python int: each scale compiles once). Baseline (16 blocks, 64 features) has 3,227,203
parameters, the full model (80 blocks) 7,953,987.
"""

from __future__ import annotations

from typing import Any, ClassVar

import flax.linen as nn
import jax.numpy as jnp

from jaxsr.models.edsr import MeanShift, ResBlock, Upsampler, conv
from jaxsr.models.registry import register


@register("mdsr_baseline", num_blocks=16, features=64)
@register("mdsr", num_blocks=80, features=64)
class MDSR(nn.Module):
    """Input: LR NHWC float32 RGB in [0, 1]; ``__call__(x, scale)`` → (N, s·H, s·W, 3) float32.

    ``init`` (no scale) creates the parameters of every scale branch; params initialised at one scale
    lack the other branches, which ``jaxsr.models.apply`` reports as a clear ValueError.
    """

    scales: tuple[int, ...] = (2, 3, 4)
    num_blocks: int = 16
    features: int = 64
    res_scale: float = 1.0
    channels: int = 3
    rgb_range: float = 255.0
    dtype: Any = jnp.float32

    upsampling: ClassVar[str] = "post"
    scale_mode: ClassVar[str] = "call"  # __call__(x, scale)
    scale_params: ClassVar[tuple] = ("up_",)  # the per-scale upsamplers (pre_s blocks share shapes)
    kwarg_ranges: ClassVar[dict] = {"scales": (2, 16), "num_blocks": (1, 256), "features": (1, 2048),
                                    "channels": (1, 3)}
    tiny: ClassVar[dict] = {"num_blocks": 1, "features": 4}

    def receptive_radius(self) -> int:
        """LR pixels of context on each side (EDSR's plus two 5×5 residual blocks)."""
        return 2 * self.num_blocks + 12

    def setup(self):
        self.shift = MeanShift(self.rgb_range)
        self.head = conv(self.features, 3, self.dtype)
        self.pre = {s: nn.Sequential([ResBlock(self.features, 5, 1.0, self.dtype),
                                      ResBlock(self.features, 5, 1.0, self.dtype)]) for s in self.scales}
        self.body = [ResBlock(self.features, 3, self.res_scale, self.dtype) for _ in range(self.num_blocks)]
        self.body_end = conv(self.features, 3, self.dtype)
        self.up = {s: Upsampler(s, self.features, self.dtype) for s in self.scales}
        self.tail = conv(self.channels, 3, self.dtype)

    def __call__(self, x, scale: int | None = None):
        if scale is None:
            if not self.is_initializing():
                raise ValueError(f"MDSR needs a scale, one of {self.scales}")
            outs = [self(x, s) for s in self.scales]  # create every branch's parameters
            return outs[0]
        if scale not in self.scales:
            raise ValueError(f"MDSR has branches for {self.scales}, not x{scale}")
        h = self.pre[scale](self.head(self.shift.sub(x)))
        r = h
        for block in self.body:
            r = block(r)
        h = h + self.body_end(r)
        return self.shift.add(self.tail(self.up[scale](h)))
