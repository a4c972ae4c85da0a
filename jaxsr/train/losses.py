"""Training losses by name (``config.loss``): a registry open to any module.

A loss is ``fn(prediction, target) -> scalar`` on NHWC batches, both float32 (:func:`loss_fn` casts them);
register one with the decorator (a plug-in module outside jaxsr does the same, and is named with
``--import`` or the training config's ``imports``)::

    @register_loss("charbonnier")
    def charbonnier(prediction, target):
        return jnp.mean(jnp.sqrt((prediction - target) ** 2 + 1e-6))
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp

from jaxsr.base.errors import JaxsrError

__all__ = ["register_loss", "loss_names", "get_loss", "loss_fn"]

_REGISTRY: dict[str, Callable] = {}


def register_loss(name: str, fn: Callable | None = None):
    """Register (or replace) loss ``name``: ``fn(prediction, target) -> scalar`` on float32 NHWC batches;
    without ``fn``, a decorator that does it. Returns ``fn``."""
    if fn is None:
        return lambda decorated: register_loss(name, decorated)
    if not name.isidentifier():
        raise ValueError(f"loss name must be an identifier, got {name!r}")
    _REGISTRY[name] = fn
    return fn


def loss_names() -> list[str]:
    """Names of the registered losses, in registration order."""
    return list(_REGISTRY)


def get_loss(name: str) -> Callable:
    """The registered loss ``name``; JaxsrError naming the registered ones if there is none."""
    if name not in _REGISTRY:
        raise JaxsrError(f"unknown loss {name!r}; registered: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def loss_fn(name: str, prediction, target):
    """Loss ``name`` of a batch, computed in float32."""
    return get_loss(name)(prediction.astype(jnp.float32), target.astype(jnp.float32))


@register_loss("l2")
def l2(prediction, target):
    """½‖target − prediction‖² summed over each patch, mean over the batch (VDSR's objective)."""
    diff = prediction - target
    return 0.5 * jnp.mean(jnp.sum(diff * diff, axis=tuple(range(1, diff.ndim))))


@register_loss("l1")
def l1(prediction, target):
    """Mean absolute error (EDSR's)."""
    return jnp.mean(jnp.abs(prediction - target))
