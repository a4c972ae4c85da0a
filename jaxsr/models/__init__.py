"""Model zoo: Flax Linen modules with pure ``init``/``apply``, NHWC float32 in [0, 1].

Every registered model declares the contract of :mod:`jaxsr.models.contract` (upsampling, scale mode,
channels, receptive radius, scale-specific parameters); :func:`register` rejects a class that does not.
:func:`contract` reads it from a model or a registered name, :func:`apply` calls any model at a scale,
:func:`build` constructs a registered model for a scale and ``get(name, **kwargs)`` with explicit arguments.
Adding a model = its module (declaring the contract) + ``register(name, cls)`` + its config.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn

from jaxsr.errors import JaxsrError
from jaxsr.models.bicubic import Bicubic
from jaxsr.models.contract import ModelSpec, apply, missing_contract, spec_of
from jaxsr.models.edsr import EDSR, pixel_shuffle
from jaxsr.models.mdsr import MDSR
from jaxsr.models.srcnn import SRCNN
from jaxsr.models.vdsr import VDSR

__all__ = ["VDSR", "SRCNN", "Bicubic", "EDSR", "MDSR", "pixel_shuffle", "get", "names", "upsampling",
           "register", "defaults", "contract", "apply", "build", "ModelSpec"]

_REGISTRY: dict[str, tuple[type, dict]] = {}


def register(name: str, cls: type, **defaults) -> None:
    """Register ``cls`` under ``name`` with default constructor arguments.

    Raises TypeError naming what is missing when ``cls`` does not declare the model contract
    (:mod:`jaxsr.models.contract`), or when a default is not one of its constructor fields.
    """
    missing = missing_contract(cls)
    if missing:
        raise TypeError(f"cannot register model {name!r}: {getattr(cls, '__name__', cls)!s} does not declare the "
                        f"model contract (jaxsr.models.contract); missing: {'; '.join(missing)}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(defaults) - fields)
    if unknown:
        raise TypeError(f"cannot register model {name!r}: {cls.__name__} has no field {', '.join(unknown)}")
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


def contract(model_or_name) -> ModelSpec:
    """The declared contract of a built model, or of a registered name at its defaults (a fixed-scale
    model's ``scales`` then holds its default scale)."""
    if isinstance(model_or_name, str):
        cls, fixed = _entry(model_or_name)
        return spec_of(cls(**fixed))
    return spec_of(model_or_name)


def build(name: str, scale: int, **kwargs) -> nn.Module:
    """The model registered as ``name`` for ``scale`` (passed to fixed-scale models, which are built for
    one; others run at any or at a call-time scale); JaxsrError for unknown names or arguments."""
    try:
        if _entry(name)[0].scale_mode == "fixed":
            kwargs = {**kwargs, "scale": int(scale)}
        return get(name, **kwargs)
    except ValueError as e:
        raise JaxsrError(str(e)) from None


def upsampling(name: str) -> str:
    """``"pre"`` or ``"post"`` for a registered name (``contract(name).upsampling``)."""
    return contract(name).upsampling
