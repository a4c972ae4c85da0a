"""The model registry: names → model classes with their default constructor arguments, open to any module.

A model module registers its class with the decorator (a plug-in module outside jaxsr does the same, and is
named with ``--import`` or the training config's ``imports``)::

    @register("edsr_baseline", num_blocks=16, features=64, res_scale=1.0)
    @register("edsr", num_blocks=32, features=256, res_scale=0.1)
    class EDSR(nn.Module): ...

:func:`register` refuses a class that does not declare the model contract (:mod:`jaxsr.models.contract`).
:func:`build` constructs a registered model for a scale, :func:`get` with explicit arguments,
:func:`contract` reads a model's (or a name's) declared contract, :func:`arguments` lists what a config may
set in ``model.kwargs``.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn

from jaxsr.base.errors import JaxsrError
from jaxsr.models.contract import ModelSpec, missing_contract, spec_of

__all__ = ["register", "names", "get", "build", "defaults", "arguments", "contract", "upsampling"]

_REGISTRY: dict[str, tuple[type, dict]] = {}
_NOT_ARGUMENTS = ("parent", "name", "dtype")  # flax's own fields, and the compute dtype (set by the run)


def register(name: str, cls: type | None = None, **defaults):
    """Register ``cls`` under ``name`` with default constructor arguments; without ``cls``, a class
    decorator that does it (``@register("vdsr")``). Returns ``cls``.

    Raises TypeError naming what is missing when ``cls`` does not declare the model contract
    (:mod:`jaxsr.models.contract`), or when a default is not one of its constructor fields.
    """
    if cls is None:
        return lambda decorated: register(name, decorated, **defaults)
    missing = missing_contract(cls)
    if missing:
        raise TypeError(f"cannot register model {name!r}: {getattr(cls, '__name__', cls)!s} does not declare the "
                        f"model contract (jaxsr.models.contract); missing: {'; '.join(missing)}")
    unknown = sorted(set(defaults) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise TypeError(f"cannot register model {name!r}: {cls.__name__} has no field {', '.join(unknown)}")
    _REGISTRY[name] = (cls, defaults)
    return cls


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
    cls, fixed = _entry(name)
    try:
        return cls(**{**fixed, **kwargs})
    except TypeError as e:
        raise ValueError(f"bad arguments for model {name!r}: {e}") from None


def defaults(name: str) -> dict:
    """The constructor arguments ``name`` fixes in the registry (e.g. ``srcnn_955``'s filters)."""
    return dict(_entry(name)[1])


def arguments(name: str) -> dict:
    """The constructor arguments a config may set for ``name`` (``model.kwargs``), each with its default
    (the registered one where ``name`` fixes it); ValueError for an unknown name."""
    cls, fixed = _entry(name)
    return {f.name: fixed.get(f.name, f.default) for f in dataclasses.fields(cls) if f.name not in _NOT_ARGUMENTS}


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
