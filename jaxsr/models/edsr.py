"""EDSR (Lim et al., CVPR-W 2017): residual blocks without batch norm, residual scaling, sub-pixel
upsampling; and the pieces MDSR shares with it.

Pixel shuffle (``pixel_shuffle``) uses PyTorch's ``nn.PixelShuffle`` channel order, so weights trained by
the official code map over: input channel ``c·r² + i·r + j`` at (h, w) goes to output channel ``c`` at
(h·r + i, w·r + j).
"""

from __future__ import annotations

from typing import Any, ClassVar

import flax.linen as nn
import jax.numpy as jnp

from jaxsr.models.registry import register

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)  # RGB mean of DIV2K, subtracted at the input, added at the output


def pixel_shuffle(x, r: int):
    """(N, H, W, C·r²) → (N, H·r, W·r, C), PyTorch channel order (see module docstring)."""
    n, h, w, c = x.shape
    x = x.reshape(n, h, w, c // (r * r), r, r)
    return x.transpose(0, 1, 4, 2, 5, 3).reshape(n, h * r, w * r, c // (r * r))


# PyTorch's default Conv2d kernel init, U(±1/√fan_in), as the official EDSR code uses (biases start at 0).
torch_default = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def conv(features: int, kernel: int, dtype, name: str | None = None) -> nn.Conv:
    """Zero-padded 'SAME' convolution with bias."""
    return nn.Conv(features, (kernel, kernel), padding="SAME", kernel_init=torch_default, dtype=dtype,
                   param_dtype=jnp.float32, name=name)


class ResBlock(nn.Module):
    """x + res_scale · conv(ReLU(conv(x))), no batch norm."""

    features: int
    kernel: int = 3
    res_scale: float = 1.0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        h = conv(self.features, self.kernel, self.dtype)(x)
        h = conv(self.features, self.kernel, self.dtype)(nn.relu(h))
        return x + h * self.res_scale


class Upsampler(nn.Module):
    """conv(features·r²) + pixel shuffle; one stage for x2/x3, two x2 stages for x4 (and any 2^k)."""

    scale: int
    features: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        if self.scale in (2, 3):
            stages = [self.scale]
        elif self.scale & (self.scale - 1) == 0 and self.scale > 1:
            stages = [2] * (self.scale.bit_length() - 1)
        else:
            raise ValueError(f"sub-pixel upsampler supports x2, x3 and powers of two, got x{self.scale}")
        for r in stages:
            x = pixel_shuffle(conv(self.features * r * r, 3, self.dtype)(x), r)
        return x


class MeanShift(nn.Module):
    """``(x − mean)·rgb_range`` in, ``y/rgb_range + mean`` out: the paper works on 0–255 minus DIV2K mean."""

    rgb_range: float = 255.0

    def sub(self, x):
        return (x - jnp.asarray(DIV2K_MEAN, x.dtype)) * self.rgb_range

    def add(self, y):
        return y.astype(jnp.float32) / self.rgb_range + jnp.asarray(DIV2K_MEAN, jnp.float32)


@register("edsr_baseline", num_blocks=16, features=64, res_scale=1.0)
@register("edsr", num_blocks=32, features=256, res_scale=0.1)
class EDSR(nn.Module):
    """Enhanced deep residual network for one scale.

    Input: LR, NHWC float32 RGB in [0, 1]; output (N, s·H, s·W, 3) float32 (not clipped).
    head conv → ``num_blocks`` ResBlocks + conv, added to the head output (global skip) → upsampler → conv.
    Parameters: baseline (16 blocks, 64 features) x2 1,369,859, x3 1,554,499, x4 1,517,571; EDSR (32, 256,
    res_scale 0.1) x2 40,729,603, x4 43,089,923.
    """

    scale: int = 2
    num_blocks: int = 16
    features: int = 64
    res_scale: float = 1.0
    channels: int = 3
    rgb_range: float = 255.0
    dtype: Any = jnp.float32

    upsampling: ClassVar[str] = "post"
    scale_mode: ClassVar[str] = "fixed"  # built for ``scale``
    scale_params: ClassVar[tuple] = ("upsampler",)  # its shape depends on the scale
    kwarg_ranges: ClassVar[dict] = {"scale": (2, 16), "num_blocks": (1, 256), "features": (1, 2048),
                                    "channels": (1, 3)}
    tiny: ClassVar[dict] = {"num_blocks": 1, "features": 4}

    def receptive_radius(self) -> int:
        """LR pixels of context on each side (head, 2 per block, body end, upsampler and tail convs)."""
        return 2 * self.num_blocks + 4

    @nn.compact
    def __call__(self, x):
        shift = MeanShift(self.rgb_range)
        h = conv(self.features, 3, self.dtype, "head")(shift.sub(x))
        r = h
        for i in range(self.num_blocks):
            r = ResBlock(self.features, 3, self.res_scale, self.dtype, name=f"block_{i}")(r)
        h = h + conv(self.features, 3, self.dtype, "body_end")(r)
        h = Upsampler(self.scale, self.features, self.dtype, name="upsampler")(h)
        return shift.add(conv(self.channels, 3, self.dtype, "tail")(h))
