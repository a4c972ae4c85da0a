"""SRCNN (Dong et al., ECCV 2014 / TPAMI 2016): three conv layers on the bicubic-upsampled image."""

from __future__ import annotations

from typing import Any, ClassVar

import flax.linen as nn
import jax.numpy as jnp


class SRCNN(nn.Module):
    """Patch extraction, non-linear mapping, reconstruction.

    Input: ILR (MATLAB-bicubic upsampled LR), NHWC float32 in [0, 1], ``channels`` channels. Output: the
    HR estimate, same shape, float32, not clipped. ``filters`` are the three kernel sizes (9-1-5 is the
    paper's base model, 9-5-5 its best), ``features`` the two hidden widths. Zero 'SAME' padding keeps the
    image size (the paper trains without padding; at test time this keeps every pixel). 8,129 parameters
    for 9-1-5.
    """

    filters: tuple[int, int, int] = (9, 1, 5)
    features: tuple[int, int] = (64, 32)
    channels: int = 1
    dtype: Any = jnp.float32

    upsampling: ClassVar[str] = "pre"

    def receptive_radius(self) -> int:
        """Pixels of context each output pixel sees on each side."""
        return sum((f - 1) // 2 for f in self.filters)

    @nn.compact
    def __call__(self, x):
        if len(self.filters) != 3 or len(self.features) != 2:
            raise ValueError(f"SRCNN needs 3 filter sizes and 2 widths, got {self.filters}, {self.features}")
        widths = (*self.features, self.channels)
        h = x
        for i, (f, n) in enumerate(zip(self.filters, widths)):
            h = nn.Conv(n, (f, f), padding="SAME", dtype=self.dtype, param_dtype=jnp.float32,
                        kernel_init=nn.initializers.normal(1e-3), name=f"conv_{i}")(h)
            if i < 2:
                h = nn.relu(h)
        return h.astype(jnp.float32)
