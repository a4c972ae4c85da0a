"""VDSR (Kim, Lee & Lee, CVPR 2016): a 20-layer 3×3 conv net that predicts the bicubic residual."""

from __future__ import annotations

from typing import Any, ClassVar

import flax.linen as nn
import jax.numpy as jnp

from jaxsr.models.registry import register

# He et al. (2015) initialisation, as the paper: N(0, 2 / fan_in).
he_normal = nn.initializers.variance_scaling(2.0, "fan_in", "normal")


@register("vdsr")
class VDSR(nn.Module):
    """Very deep SR network.

    Input: the interpolated low-resolution image (ILR, MATLAB-bicubic upsampled), NHWC float32 in [0, 1]
    with ``channels`` channels (1 = the Y channel in the paper). Output: NHWC float32, same shape:
    ``ILR + residual`` (``residual=True``, the paper) or the direct prediction (``residual=False``, the
    paper's ablation). Not clipped. ``depth`` conv layers of 3×3 with zero padding, ReLU between them;
    665,921 parameters at the defaults.
    """

    depth: int = 20
    features: int = 64
    residual: bool = True
    channels: int = 1
    # compute dtype of the inner layers; params stay float32. The first and last layers (1→64, 64→1: 3 % of
    # the FLOPs) always compute in float32: in bfloat16 they cost 0.06 dB of PSNR, the inner ones 0.008 dB
    # (Set5 x2, benchmarks/NOTES.md).
    dtype: Any = jnp.float32

    upsampling: ClassVar[str] = "pre"  # takes the bicubic ILR, not the LR image
    scale_mode: ClassVar[str] = "any"  # one network for every scale
    scale_params: ClassVar[tuple] = ()
    # ranges of the integer arguments (a weights file's stored kwargs are checked against them before building)
    kwarg_ranges: ClassVar[dict] = {"depth": (2, 1000), "features": (1, 4096), "channels": (1, 3)}
    tiny: ClassVar[dict] = {"depth": 3, "features": 4}

    def receptive_radius(self) -> int:
        """Pixels of context each output pixel sees on each side (one per 3×3 layer)."""
        return self.depth

    @nn.compact
    def __call__(self, x):
        if self.depth < 2:
            raise ValueError(f"VDSR depth must be at least 2, got {self.depth}")
        conv = lambda n, name, dtype: nn.Conv(n, (3, 3), padding="SAME", kernel_init=he_normal,  # noqa: E731
                                              dtype=dtype, param_dtype=jnp.float32, name=name)
        h = x
        for i in range(self.depth - 1):
            h = nn.relu(conv(self.features, f"conv_{i}", jnp.float32 if i == 0 else self.dtype)(h))
        out = conv(self.channels, f"conv_{self.depth - 1}", jnp.float32)(h).astype(jnp.float32)
        return x.astype(jnp.float32) + out if self.residual else out
