"""The train step: explicit state and the pure step ``(state, batch) → (state, metrics)`` (losses by name:
``jaxsr.train.losses``).

Feeding it batches over a device mesh (samplers, tf.data, one jit per scale) is ``jaxsr.train.feeding``.
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from jaxsr import models
from jaxsr.train.losses import loss_fn
from jaxsr.train.optim import clip_bound

__all__ = ["TrainState", "train_items", "make_train_step"]


@flax.struct.dataclass
class TrainState:
    """Everything that determines the rest of a run: step (int32 scalar), params, opt_state, rng key data."""

    step: jax.Array
    params: Any
    opt_state: Any
    rng: jax.Array


def train_items(state: TrainState) -> dict:
    """The checkpoint's "train" item: everything but the params."""
    return {"step": state.step, "opt_state": state.opt_state, "rng": state.rng}


def make_train_step(model, tx: optax.GradientTransformationExtraArgs, schedule, loss_name: str,
                    clip_theta: float = 0.0, scale: int | None = None):
    """``(state, batch) → (state, metrics)``; batch = {"input", "target"} NHWC float32 in [0, 1].

    ``scale`` goes through ``models.apply``: the call-time scale of multi-scale models (MDSR); None for
    the others (one table for every scale).

    Metrics (float32 scalars): loss, lr, grad_norm and clip_fraction (share of gradient elements beyond
    the adjustable-clipping bound θ/γ_t; 0 without clipping).
    """
    def step_fn(state: TrainState, batch):
        def objective(params):
            return loss_fn(loss_name, models.apply(model, params, batch["input"], scale), batch["target"])

        loss, grads = jax.value_and_grad(objective)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params, step=state.step)
        params = optax.apply_updates(state.params, updates)
        lr = schedule(state.step)
        leaves = jax.tree_util.tree_leaves(grads)
        if clip_theta:
            bound = clip_bound(clip_theta, schedule, state.step)
            clipped = sum(jnp.sum(jnp.abs(g) > bound) for g in leaves) / sum(g.size for g in leaves)
        else:
            clipped = jnp.float32(0)
        metrics = {"loss": loss, "lr": lr, "grad_norm": optax.tree.norm(grads),
                   "clip_fraction": clipped.astype(jnp.float32)}
        new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                                  rng=jax.random.key_data(jax.random.fold_in(jax.random.wrap_key_data(state.rng), 1)))
        return new_state, metrics

    return step_fn
