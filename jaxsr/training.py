"""The training loop: a pure jit-compiled step over an explicit state, checkpoints, resume, logging.

``train_and_evaluate(config, workdir)`` is what ``train.py`` runs. It resumes automatically from the
latest checkpoint in ``workdir``; a run killed at any point and restarted with the same command ends with
the same params, bit for bit, as one never interrupted (the input stream is a function of (seed, step)).
SIGTERM/SIGINT save a checkpoint before exiting; a non-finite loss stops the run without saving, so the
last good checkpoint stays the latest.
"""

from __future__ import annotations

import functools
import math
import signal
import sys
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxsr import models
from jaxsr.checkpoint import Checkpointer, write_run_config
from jaxsr.data.sampling import DeviceSampler, PatchTable, build_patch_table
from jaxsr.data.sources import eval_datasets, training_images
from jaxsr.errors import JaxsrError
from jaxsr.evaluation import evaluate, markdown_table
from jaxsr.inference import Upscaler
from jaxsr.optim import make_optimizer
from jaxsr.parallel import (batch_sharded, check_batch_size, global_batch, local_copy, make_mesh, replicate,
                            replicated)
from jaxsr.summary import MetricWriter
from jaxsr.weights import init_params

__all__ = ["TrainState", "loss_fn", "make_train_step", "validate_config", "resolve_steps", "train_and_evaluate"]


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
                    clip_theta: float = 0.0):
    """``(state, batch) → (state, metrics)``; batch = {"input", "target"} NHWC float32 in [0, 1].

    Metrics (float32 scalars): loss, lr, grad_norm and clip_fraction (share of gradient elements beyond
    the adjustable-clipping bound θ/γ_t; 0 without clipping).
    """
    def step_fn(state: TrainState, batch):
        def objective(params):
            return loss_fn(loss_name, model.apply({"params": params}, batch["input"]), batch["target"])

        loss, grads = jax.value_and_grad(objective)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params, step=state.step)
        params = optax.apply_updates(state.params, updates)
        lr = schedule(state.step)
        leaves = jax.tree_util.tree_leaves(grads)
        if clip_theta:
            bound = clip_theta / lr
            clipped = sum(jnp.sum(jnp.abs(g) > bound) for g in leaves) / sum(g.size for g in leaves)
        else:
            clipped = jnp.float32(0)
        metrics = {"loss": loss, "lr": lr, "grad_norm": optax.tree.norm(grads),
                   "clip_fraction": clipped.astype(jnp.float32)}
        new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                                  rng=jax.random.key_data(jax.random.fold_in(jax.random.wrap_key_data(state.rng), 1)))
        return new_state, metrics

    return step_fn


def validate_config(config: ml_collections.ConfigDict) -> None:
    """Fail fast with one line naming the field for settings that cannot work."""
    def ints(field, values, minimum=1):
        try:
            ok = len(values) > 0 and all(int(v) == v and v >= minimum for v in values)
        except TypeError:
            ok = False
        if not ok:
            raise JaxsrError(f"{field} must be a non-empty list of integers >= {minimum}, got {values!r}")

    if config.model.name not in models.names():
        raise JaxsrError(f"model.name: unknown model {config.model.name!r}; known: {', '.join(models.names())}")
    ints("data.scales", tuple(config.data.scales))
    ints("eval.scales", tuple(config.eval.scales))
    for field in ("batch_size", "data.patch_size", "log_every_steps", "checkpoint_every_steps",
                  "keep_checkpoints"):
        value = functools.reduce(getattr, field.split("."), config)
        if not isinstance(value, int) or value < 1:
            raise JaxsrError(f"{field} must be a positive integer, got {value!r}")
    if config.data.sampler not in ("tfdata", "device"):
        raise JaxsrError(f"data.sampler must be 'tfdata' or 'device', got {config.data.sampler!r}")
    if config.loss not in ("l2", "l1"):
        raise JaxsrError(f"loss must be 'l2' or 'l1', got {config.loss!r}")
    if models.upsampling(config.model.name) == "post" and len(config.data.scales) != 1:
        raise JaxsrError(f"data.scales: {config.model.name} is built for one scale; train one scale per run")
    if config.compute_dtype not in ("float32", "bfloat16"):
        raise JaxsrError(f"compute_dtype must be 'float32' or 'bfloat16', got {config.compute_dtype!r}")


def resolve_steps(config: ml_collections.ConfigDict, table: PatchTable) -> ml_collections.ConfigDict:
    """A copy of ``config`` with steps_per_epoch, total_steps and optim.decay_every_steps filled in.

    The paper's epoch: the number of non-overlapping patches of all (image, scale) items, per batch.
    """
    config = ml_collections.ConfigDict(config.to_dict())
    p = table.patch_size
    patches = int(np.sum(((table.max_y + p) // p) * ((table.max_x + p) // p)))
    if config.steps_per_epoch < 1:
        config.steps_per_epoch = max(1, math.ceil(patches / config.batch_size))
    if config.total_steps < 1:
        config.total_steps = int(config.num_epochs * config.steps_per_epoch)
    if config.optim.decay_every_steps < 1:
        config.optim.decay_every_steps = int(config.optim.decay_every_epochs * config.steps_per_epoch)
    return config


class _StopRequest:
    """Turns SIGTERM/SIGINT into a flag the loop checks (it saves, then exits)."""

    def __init__(self):
        self.signal = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _progress(step, total, metrics, rate, process0):
    if not process0:
        return
    eta = time.strftime("%H:%M:%S", time.gmtime((total - step) / rate)) if rate > 0 else "?"
    print(f"step {step:>7d}/{total}  loss {metrics['loss']:.5g}  lr {metrics['lr']:.3g}  "
          f"grad_norm {metrics['grad_norm']:.3g}  clip {metrics['clip_fraction']:.3f}  "
          f"{rate:.2f} steps/s  ETA {eta}", flush=True)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Train (or resume) the run in ``workdir``, then evaluate; returns the final evaluation results."""
    validate_config(config)
    process0 = jax.process_index() == 0
    mesh = make_mesh()
    check_batch_size(config.batch_size, mesh)
    eval_model = models.get(config.model.name, **dict(config.model.kwargs))  # float32, for metrics
    dtype = {} if config.compute_dtype == "float32" else {"dtype": jnp.dtype(config.compute_dtype)}
    model = models.get(config.model.name, **dict(config.model.kwargs), **dtype)
    images, lrs = training_images(config.data)
    table = build_patch_table([im.image for im in images], tuple(config.data.scales), config.data.patch_size,
                              getattr(model, "channels", 3), model.upsampling, names=[im.name for im in images],
                              lrs=lrs, cache_dir=config.data.cache_dir or f"{workdir}/cache")
    config = resolve_steps(config, table)
    if process0:
        write_run_config(workdir, config)
    tx, schedule = make_optimizer(config.optim)
    params = init_params(model, config.seed)
    state = replicate(TrainState(step=jnp.int32(0), params=params, opt_state=tx.init(params),
                                 rng=jax.random.key_data(jax.random.PRNGKey(config.seed + 1))), mesh)
    ckpt = Checkpointer(workdir, config.keep_checkpoints)
    if ckpt.latest_step() is not None:
        params, train = ckpt.restore(state.params, {"step": state.step, "opt_state": state.opt_state,
                                                    "rng": state.rng})
        state = TrainState(params=params, **train)
        if process0:
            print(f"resumed from {workdir} at step {int(state.step)}", flush=True)
    train_step = make_train_step(model, tx, schedule, config.loss, config.optim.clip_theta
                                 if config.optim.name == "sgd" else 0.0)
    run_step = _input_and_step(config, table, train_step, int(state.step), mesh)
    eval_sets = eval_datasets(config.eval)
    upscalers = {}
    writer = MetricWriter(workdir, enabled=process0)
    try:
        with _StopRequest() as stop:
            state = _loop(config, state, run_step, ckpt, writer, stop, eval_sets, upscalers, eval_model,
                          process0)
        results = _evaluate(eval_model, state.params, eval_sets, config.eval.scales, upscalers)
        writer.write(int(state.step), _val_scalars(results))
    finally:
        writer.close()
        ckpt.close()
    if process0:
        print(markdown_table(results, config.model.name.upper()), flush=True)
    return results


def _input_and_step(config, table, train_step, start_step: int, mesh):
    """A ``state → (state, metrics)`` callable: the step jitted over the mesh, plus its input.

    State and metrics are replicated; batches are sharded over ``data``. The device sampler draws the
    global batch inside the jit; the tf.data pipeline feeds each process's rows.
    """
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
                           jax.process_count())
    batches = dataset.as_numpy_iterator()
    jitted = jax.jit(train_step, in_shardings=(rep, data), out_shardings=(rep, rep), donate_argnums=0)

    def host_step(state):
        local = next(batches)
        return jitted(state, global_batch({"input": local["input"], "target": local["target"]}, mesh))

    return host_step


def _loop(config, state, run_step, ckpt, writer, stop, eval_sets, upscalers, model, process0):
    total, step = config.total_steps, int(state.step)
    pending, last_good = [], ckpt.latest_step()
    tick, tick_step = time.perf_counter(), step

    def check_and_flush():
        nonlocal pending
        if not pending:
            return None
        host = jax.device_get(pending)
        pending = []
        for i, m in enumerate(host):
            if not (np.isfinite(m["loss"]) and np.isfinite(m["grad_norm"])):
                bad = step - len(host) + i + 1
                saved = f"the latest checkpoint (step {last_good})" if last_good else "no checkpoint was saved"
                raise JaxsrError(f"non-finite loss or gradient at step {bad} (loss={m['loss']:.4g}, "
                                 f"grad_norm={m['grad_norm']:.4g}); stopped without saving: {saved} "
                                 "is the last good state")
        return {k: float(np.mean([m[k] for m in host])) for k in host[0]}

    while step < total and stop.signal is None:
        state, metrics = run_step(state)
        step += 1
        pending.append(metrics)
        if step % config.log_every_steps == 0 or step == total:
            mean = check_and_flush()
            now = time.perf_counter()
            rate = (step - tick_step) / max(now - tick, 1e-9)
            tick, tick_step = now, step
            writer.write(step, {**{f"train/{k}": v for k, v in mean.items()}, "train/steps_per_s": rate})
            _progress(step, total, mean, rate, process0)
        if step % config.checkpoint_every_steps == 0 or step == total:
            check_and_flush()
            ckpt.save(step, state.params, {"step": state.step, "opt_state": state.opt_state, "rng": state.rng})
            last_good = step
        if config.eval.every_steps and step % config.eval.every_steps == 0 and step < total:
            writer.write(step, _val_scalars(_evaluate(model, state.params, eval_sets, config.eval.scales,
                                                      upscalers, progress=False)))
    if stop.signal is not None:
        check_and_flush()
        if last_good != step:
            ckpt.save(step, state.params, {"step": state.step, "opt_state": state.opt_state, "rng": state.rng})
        ckpt.close()
        name = signal.Signals(stop.signal).name
        print(f"{name}: saved a checkpoint at step {step}; run the same command to resume", file=sys.stderr)
        raise SystemExit(128 + stop.signal)
    return state


def _evaluate(model, params, eval_sets, scales, upscalers, progress=False):
    """Validation PSNR/SSIM with cached per-scale Upscalers (compiled once per image shape)."""
    params = local_copy(params)  # process-local: every process scores its share of the images

    def factory(scale):
        if scale not in upscalers:
            upscalers[scale] = Upscaler(model, params, scale)
        upscalers[scale].params = params
        return upscalers[scale]

    return evaluate(factory, eval_sets, [int(s) for s in scales], progress=progress)


def _val_scalars(results: dict) -> dict:
    return {f"val/{d}/x{s}/{k}": r[k] for d, by_scale in results.items() for s, r in by_scale.items()
            for k in ("psnr", "ssim")}
