"""The train step: explicit state, loss, the pure jit-compiled step, and its input over a device mesh.

``make_runner`` returns ``run(state, step) → (state, metrics)``: the step jitted over the mesh with
replicated state and a ``data``-sharded batch, fed by the device-resident sampler (drawn inside the jit)
or the tf.data pipeline (each process's rows). Multi-scale post-upsampling models (MDSR) get one table,
one sampler and one compiled step per scale, and each step's scale is a pure function of (seed, step).
"""

from __future__ import annotations

import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from jaxsr import models
from jaxsr.data.sampling import DeviceSampler, PatchTable, scale_for_step
from jaxsr.optim import clip_bound
from jaxsr.parallel import batch_sharded, global_batch, replicate, replicated

__all__ = ["TrainState", "loss_fn", "make_train_step", "make_runner"]


@flax.struct.dataclass
class TrainState:
    """Everything that determines the rest of a run: step (int32 scalar), params, opt_state, rng key data."""

    step: jax.Array
    params: Any
    opt_state: Any
    rng: jax.Array


def loss_fn(name: str, prediction, target):
    """"l2": ½‖target − prediction‖² summed over each patch, mean over the batch (VDSR's objective);
    "l1": mean absolute error (EDSR). Computed in float32."""
    diff = prediction.astype(jnp.float32) - target.astype(jnp.float32)
    if name == "l2":
        return 0.5 * jnp.mean(jnp.sum(diff * diff, axis=tuple(range(1, diff.ndim))))
    if name == "l1":
        return jnp.mean(jnp.abs(diff))
    raise ValueError(f"loss must be 'l2' or 'l1', got {name!r}")


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


def make_runner(config, tables: dict, model, tx, schedule, start_step: int, mesh):
    """``run(state, step) → (state, metrics)`` for ``tables``: {scale: PatchTable} for multi-scale models
    (one scale per batch), or {None: PatchTable} (scales mixed within batches, or a single scale)."""
    clip = config.optim.clip_theta if config.optim.name == "sgd" else 0.0
    per_scale = None not in tables
    steps = {s: _one_table(config, table, make_train_step(model, tx, schedule, config.loss, clip, s),
                           start_step, mesh, (slot, len(tables)) if per_scale else None)
             for slot, (s, table) in enumerate(tables.items())}
    if None in steps:
        return lambda state, step: steps[None](state)
    scales = tuple(tables)
    return lambda state, step: steps[scale_for_step(config.seed, step, scales)](state)


def _one_table(config, table: PatchTable, train_step, start_step: int, mesh, scale_slot):
    rep, data = replicated(mesh), batch_sharded(mesh)
    if config.data.sampler == "device":
        sampler = DeviceSampler(table, config.seed, config.batch_size, place=lambda t: replicate(t, mesh))

        @functools.partial(jax.jit, in_shardings=(rep, rep, rep), out_shardings=(rep, rep), donate_argnums=0)
        def device_step(state, arrays, grids):
            batch = jax.lax.with_sharding_constraint(sampler.sample(state.step, arrays, grids), data)
            return train_step(state, batch)

        return lambda state: device_step(state, sampler.arrays, sampler.grids)
    from jaxsr.data.tfdata import make_dataset

    dataset = make_dataset(table, config.seed, config.batch_size, start_step, jax.process_index(),
                           jax.process_count(), scale_slot=scale_slot)
    batches = dataset.as_numpy_iterator()
    jitted = jax.jit(train_step, in_shardings=(rep, data), out_shardings=(rep, rep), donate_argnums=0)

    def host_step(state):
        local = next(batches)
        return jitted(state, global_batch({"input": local["input"], "target": local["target"]}, mesh))

    return host_step
