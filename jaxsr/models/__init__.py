"""Model zoo: Flax Linen modules with pure ``init``/``apply``, NHWC float32 in [0, 1].

Every module has a class attribute ``upsampling``: ``"pre"`` models take the MATLAB-bicubic upsampled
image (ILR) and keep its size; ``"post"`` models take the LR image and have a ``scale`` field, except
multi-scale models (``multi_scale = True``, MDSR) which take the scale at call time: ``apply(v, x, scale)``.
``get(name, **kwargs)`` builds a registered model by name.
"""

from __future__ import annotations

import flax.linen as nn

from jaxsr.models.bicubic import Bicubic
from jaxsr.models.edsr import EDSR, pixel_shuffle
from jaxsr.models.mdsr import MDSR
from jaxsr.models.srcnn import SRCNN
from jaxsr.models.vdsr import VDSR

__all__ = ["VDSR", "SRCNN", "Bicubic", "EDSR", "MDSR", "pixel_shuffle", "get", "names", "upsampling",
           "multi_scale", "register", "defaults"]

_REGISTRY: dict[str, tuple[type, dict]] = {}


def register(name: str, cls: type, **defaults) -> None:
    """Register ``cls`` under ``name`` with default constructor arguments."""
    _REGISTRY[name] = (cls, defaults)


register("vdsr", VDSR)
register("srcnn", SRCNN)
register("srcnn_955", SRCNN, filters=(9, 5, 5))
register("bicubic", Bicubic)
register("edsr_baseline", EDSR, num_blocks=16, features=64, res_scale=1.0)
register("edsr", EDSR, num_blocks=32, features=256, res_scale=0.1)
register("mdsr_baseline", MDSR, num_blocks=16, features=64)
register("mdsr", MDSR, num_blocks=80, features=64)


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


def defaults(name: str) -> dict:
    """The constructor arguments ``name`` fixes in the registry (e.g. ``srcnn_955``'s filters)."""
    return dict(_entry(name)[1])


def upsampling(name: str) -> str:
    """``"pre"`` or ``"post"`` for a registered name (without building the model)."""
    return _entry(name)[0].upsampling


def multi_scale(model_or_name) -> bool:
    """True for models that take the scale at call time (MDSR)."""
    cls = _entry(model_or_name)[0] if isinstance(model_or_name, str) else type(model_or_name)
    return bool(getattr(cls, "multi_scale", False))
