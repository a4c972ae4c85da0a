"""Feeding batches to the train step: patch tables, samplers, and the step jitted over the device mesh.

``training_tables`` builds the run's patch tables: one per scale for multi-scale post-upsampling models
(MDSR: each batch is drawn from one scale), else one table whose batches mix the training scales.
``make_runner`` returns ``run(state, step) → (state, metrics)`` for a :class:`Feed` (seed, batch, loss,
clipping, sampler; ``jaxsr.train.run_spec`` resolves it from the config): the pure step
(``jaxsr.train.train_step.make_train_step``) jitted over the mesh with replicated state and a ``data``-sharded
batch, fed by the device-resident sampler (drawn inside the jit, ``device_sampler``) or the tf.data
pipeline (each process's rows). MDSR gets one sampler and one compiled step per scale, and each step's
scale is a pure function of (seed, step) (``jaxsr.data.sampling.scale_for_step``). The sweep
(``jaxsr.train.sweep``) draws from the same ``device_sampler``.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import jax

from jaxsr import models
from jaxsr.base import xla_cpu
from jaxsr.data.sampling import DeviceSampler, PatchTable, build_patch_table, scale_for_step
from jaxsr.base.parallel import batch_sharded, global_batch, replicate, replicated
from jaxsr.train.train_step import make_train_step

__all__ = ["Feed", "training_tables", "device_sampler", "make_runner"]


@dataclass(frozen=True)
class Feed:
    """How a run's train step is fed: the patch stream's ``seed``, the global ``batch_size``, the ``loss``
    (a name in ``jaxsr.train.losses``), the adjustable-clipping ``clip_theta`` (0: none) and the ``sampler``
    ("device": drawn inside the jit; "tfdata": the host pipeline) and the ``compute_dtype`` (jit options)."""

    seed: int
    batch_size: int
    loss: str
    clip_theta: float = 0.0
    sampler: str = "device"
    compute_dtype: str = "float32"


def training_tables(images, lrs, scales, patch_size: int, spec: models.ModelSpec, cache_dir: str,
                    process0: bool = True) -> dict:
    """{scale: PatchTable} for multi-scale models (one scale per batch), or {None: PatchTable} (scales
    mixed within batches, or a single scale), from the training ``images`` (and their given ``lrs``) for a
    model of contract ``spec``, cached in ``cache_dir``. (image, scale) pairs smaller than a patch are
    left out, with one note on stderr."""
    scales = tuple(scales)
    groups = {s: (s,) for s in scales} if spec.scale_mode == "call" else {None: scales}
    small: list[str] = []
    tables = {key: build_patch_table([im.image for im in images], group, patch_size, spec.channels,
                                     spec.upsampling, names=[im.name for im in images], lrs=lrs,
                                     on_small=small.append, cache_dir=cache_dir)
              for key, group in groups.items()}
    if small and process0:
        print(f"note: left out {len(small)} (image, scale) pairs smaller than a patch, e.g. {small[0]}",
              file=sys.stderr, flush=True)
    return tables


def device_sampler(table: PatchTable, seed: int, batch_size: int, mesh) -> DeviceSampler:
    """The device-resident sampler of ``table``, its arrays replicated on ``mesh``; draw inside a jit
    with ``sampler.sample(step, sampler.arrays, sampler.grids)``."""
    return DeviceSampler(table, seed, batch_size, place=lambda t: replicate(t, mesh))


def make_runner(tables: dict, model, tx, schedule, feed: Feed, start_step: int, mesh):
    """``run(state, step) → (state, metrics)`` for ``tables``: {scale: PatchTable} for multi-scale models
    (one scale per batch), or {None: PatchTable} (scales mixed within batches, or a single scale)."""
    per_scale = None not in tables
    steps = {s: _one_table(feed, table, make_train_step(model, tx, schedule, feed.loss, feed.clip_theta, s),
                           start_step, mesh, (slot, len(tables)) if per_scale else None)
             for slot, (s, table) in enumerate(tables.items())}
    if None in steps:
        return lambda state, step: steps[None](state)
    scales = tuple(tables)
    return lambda state, step: steps[scale_for_step(feed.seed, step, scales)](state)


def _one_table(feed: Feed, table: PatchTable, train_step, start_step: int, mesh, scale_slot):
    rep, data = replicated(mesh), batch_sharded(mesh)
    # jaxsr's jit options for this step (jaxsr/base/xla_cpu.py: oneDNN for bfloat16 on jaxlib 0.12's CPU; else None)
    options = xla_cpu.compiler_options("train", feed.compute_dtype, mesh.devices.flat[0].platform)
    if feed.sampler == "device":
        sampler = device_sampler(table, feed.seed, feed.batch_size, mesh)

        @functools.partial(jax.jit, in_shardings=(rep, rep, rep), out_shardings=(rep, rep), donate_argnums=0,
                           compiler_options=options)
        def device_step(state, arrays, grids):
            batch = jax.lax.with_sharding_constraint(sampler.sample(state.step, arrays, grids), data)
            return train_step(state, batch)

        return lambda state: device_step(state, sampler.arrays, sampler.grids)
    from jaxsr.data.tfdata import make_dataset

    dataset = make_dataset(table, feed.seed, feed.batch_size, start_step, jax.process_index(),
                           jax.process_count(), scale_slot=scale_slot)
    batches = dataset.as_numpy_iterator()
    jitted = jax.jit(train_step, in_shardings=(rep, data), out_shardings=(rep, rep), donate_argnums=0,
                     compiler_options=options)

    def host_step(state):
        local = next(batches)
        return jitted(state, global_batch({"input": local["input"], "target": local["target"]}, mesh))

    return host_step
