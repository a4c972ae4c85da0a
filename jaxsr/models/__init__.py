"""Model zoo: Flax Linen modules with pure ``init``/``apply``, NHWC float32 in [0, 1].

Every module has a class attribute ``upsampling``: ``"pre"`` models take the MATLAB-bicubic upsampled
image (ILR) and keep its size; ``"post"`` models take the LR image and a ``scale`` field.
``get(name, **kwargs)`` builds a registered model by name.
"""

from __future__ import annotations

import flax.linen as nn

from jaxsr.models.bicubic import Bicubic
from jaxsr.models.srcnn import SRCNN
from jaxsr.models.vdsr import VDSR

__all__ = ["VDSR", "SRCNN", "Bicubic", "get", "names", "upsampling", "register"]

_REGISTRY: dict[str, tuple[type, dict]] = {}


def register(name: str, cls: type, **defaults) -> None:
    """Register ``cls`` under ``name`` with default constructor arguments."""
    _REGISTRY[name] = (cls, defaults)


register("vdsr", VDSR)
register("srcnn", SRCNN)
register("srcnn_955", SRCNN, filters=(9, 5, 5))
register("bicubic", Bicubic)


def names() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def _entry(name: str) -> tuple[type, dict]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(names())}") from None


def get(name: str, **kwargs) -> nn.Module:
    """Build the model registered as ``name``; ``kwargs`` override its defaults."""
    cls, defaults = _entry(name)
    try:
        return cls(**{**defaults, **kwargs})
    except TypeError as e:
        raise ValueError(f"bad arguments for model {name!r}: {e}") from None


def upsampling(name: str) -> str:
    """``"pre"`` or ``"post"`` for a registered name (without building the model)."""
    return _entry(name)[0].upsampling
