"""SRCNN (Dong et al., ECCV 2014 / TPAMI 2016): three conv layers on the bicubic-upsampled image."""

from __future__ import annotations

from typing import Any, ClassVar

import flax.linen as nn
import jax.numpy as jnp

from jaxsr.models.registry import register


@register("srcnn")
@register("srcnn_955", filters=(9, 5, 5))
class SRCNN(nn.Module):
    """Patch extraction, non-linear mapping, reconstruction.

    Input: ILR (MATLAB-bicubic upsampled LR), NHWC float32 in [0, 1], ``channels`` channels. Output: the
    HR estimate, same shape, float32, not clipped. ``filters`` are the three kernel sizes (9-1-5 is the
    paper's base model, 9-5-5 its best), ``features`` the two hidden widths. Every layer keeps the image
    size: ``border="zero"`` pads with zeros (default, for training: the paper trains without padding and
    zeros only touch the border), ``border="replicate"`` repeats the edge pixels, as the authors' ``SRCNN.m``
    applies each layer (``imfilter(x, w, 'same', 'replicate')``); the published models run that way.
    8,129 parameters for 9-1-5.
    """

    filters: tuple[int, int, int] = (9, 1, 5)
    features: tuple[int, int] = (64, 32)
    channels: int = 1
    border: str = "zero"
    dtype: Any = jnp.float32

    upsampling: ClassVar[str] = "pre"
    scale_mode: ClassVar[str] = "any"
    scale_params: ClassVar[tuple] = ()
    kwarg_ranges: ClassVar[dict] = {"filters": (1, 63), "features": (1, 4096), "channels": (1, 3)}
    tiny: ClassVar[dict] = {"features": (4, 4)}

    def receptive_radius(self) -> int:
        """Pixels of context each output pixel sees on each side."""
        return sum((f - 1) // 2 for f in self.filters)

    @nn.compact
    def __call__(self, x):
        if len(self.filters) != 3 or len(self.features) != 2:
            raise ValueError(f"SRCNN needs 3 filter sizes and 2 widths, got {self.filters}, {self.features}")
        if self.border not in ("zero", "replicate"):
            raise ValueError(f"SRCNN border must be 'zero' or 'replicate', got {self.border!r}")
        widths = (*self.features, self.channels)
        h = x
        for i, (f, n) in enumerate(zip(self.filters, widths)):
            padding = "SAME"
            if self.border == "replicate":  # MATLAB imfilter 'same' 'replicate': edge rows/columns repeated
                before = (f - 1) // 2
                h = jnp.pad(h, ((0, 0), (before, f - 1 - before), (before, f - 1 - before), (0, 0)), mode="edge")
                padding = "VALID"
            h = nn.Conv(n, (f, f), padding=padding, dtype=self.dtype, param_dtype=jnp.float32,
                        kernel_init=nn.initializers.normal(1e-3), name=f"conv_{i}")(h)
            if i < 2:
                h = nn.relu(h)
        return h.astype(jnp.float32)
