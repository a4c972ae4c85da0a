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

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxsr import models
from jaxsr.checkpoint import Checkpointer, write_run_config
from jaxsr.data.sampling import PatchTable, build_patch_table
from jaxsr.data.sources import eval_datasets, training_images
from jaxsr.errors import JaxsrError
from jaxsr.evaluation import evaluate, markdown_table
from jaxsr.inference import Upscaler
from jaxsr.optim import make_optimizer
from jaxsr.loading import build_model, run_eval_scales
from jaxsr.parallel import check_batch_size, local_copy, make_mesh, replicate
from jaxsr.protocol import DEFAULT_PROTOCOL, PROTOCOLS
from jaxsr.summary import MetricWriter
from jaxsr.train_step import TrainState, make_runner
from jaxsr.weights import init_params

__all__ = ["validate_config", "resolve_steps", "train_and_evaluate"]


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
    post, multi = models.upsampling(config.model.name) == "post", models.multi_scale(config.model.name)
    if post and not multi and len(config.data.scales) != 1:
        raise JaxsrError(f"data.scales: {config.model.name} is built for one scale; train one scale per run")
    if config.compute_dtype not in ("float32", "bfloat16"):
        raise JaxsrError(f"compute_dtype must be 'float32' or 'bfloat16', got {config.compute_dtype!r}")
    if _protocol(config) not in PROTOCOLS:
        raise JaxsrError(f"eval.protocol must be one of {', '.join(PROTOCOLS)}, got {_protocol(config)!r}")


def _protocol(config) -> str:
    """The validation protocol, ``eval.protocol`` (runs configured before it existed: the default)."""
    return config.eval.get("protocol", DEFAULT_PROTOCOL)


def resolve_steps(config: ml_collections.ConfigDict, tables: list[PatchTable]) -> ml_collections.ConfigDict:
    """A copy of ``config`` with steps_per_epoch, total_steps and optim.decay_every_steps filled in.

    The paper's epoch: the number of non-overlapping patches of all (image, scale) items, per batch.
    """
    config = ml_collections.ConfigDict(config.to_dict())
    p = tables[0].patch_size
    patches = sum(int(np.sum(((t.max_y + p) // p) * ((t.max_x + p) // p))) for t in tables)
    if config.steps_per_epoch < 1:
        config.steps_per_epoch = max(1, math.ceil(patches / config.batch_size))
    if config.total_steps < 0:
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
    name, kwargs, scales = config.model.name, dict(config.model.kwargs), tuple(config.data.scales)
    eval_model = build_model(name, scales[0], **kwargs)  # float32, for metrics
    dtype = {} if config.compute_dtype == "float32" else {"dtype": jnp.dtype(config.compute_dtype)}
    model = build_model(name, scales[0], **kwargs, **dtype)
    images, lrs = training_images(config.data)
    groups = {s: (s,) for s in scales} if models.multi_scale(model) else {None: scales}
    small: list[str] = []
    tables = {key: build_patch_table([im.image for im in images], group, config.data.patch_size,
                                     getattr(model, "channels", 3), model.upsampling,
                                     names=[im.name for im in images], lrs=lrs, on_small=small.append,
                                     cache_dir=config.data.cache_dir or f"{workdir}/cache")
              for key, group in groups.items()}
    if small and process0:
        print(f"note: left out {len(small)} (image, scale) pairs smaller than a patch, e.g. {small[0]}",
              file=sys.stderr, flush=True)
    config = resolve_steps(config, list(tables.values()))
    if process0:
        write_run_config(workdir, config)
    tx, schedule = make_optimizer(config.optim)
    ckpt = Checkpointer(workdir, config.keep_checkpoints)
    params = init_params(model, config.seed)
    if config.init_from and ckpt.latest_step() is None:
        params = _transplant(params, config.init_from)
    state = replicate(TrainState(step=jnp.int32(0), params=params, opt_state=tx.init(params),
                                 rng=jax.random.key_data(jax.random.PRNGKey(config.seed + 1))), mesh)
    if ckpt.latest_step() is not None:
        params, train = ckpt.restore(state.params, _train_items(state))
        state = TrainState(params=params, **train)
        if process0:
            print(f"resumed from {workdir} at step {int(state.step)}", flush=True)
    run_step = make_runner(config, tables, model, tx, schedule, int(state.step), mesh)
    eval_sets = eval_datasets(config.eval)
    eval_scales = run_eval_scales(config)
    upscalers = {}
    writer = MetricWriter(workdir, enabled=process0)
    try:
        with _StopRequest() as stop:
            state = _loop(config, state, run_step, ckpt, writer, stop, eval_sets, eval_scales, upscalers,
                          eval_model, process0)
        results = _evaluate(eval_model, state.params, eval_sets, eval_scales, upscalers, _protocol(config))
        writer.write(int(state.step), _val_scalars(results))
    finally:
        writer.close()
        ckpt.close()
    if process0:
        print(markdown_table(results, name.upper()), flush=True)
    return results


def _transplant(params, source_workdir: str):
    """Fresh ``params`` with every entry but the upsampler copied from another run's latest checkpoint
    (EDSR x3/x4 start from a trained x2 model). Shapes must agree."""
    from flax.traverse_util import flatten_dict, unflatten_dict

    from jaxsr.checkpoint import run_model

    source = flatten_dict(jax.device_get(run_model(source_workdir)[1]))
    target = flatten_dict(jax.device_get(params))
    for key, value in target.items():
        if key[0].startswith("up"):
            continue
        if key not in source or source[key].shape != value.shape:
            raise JaxsrError(f"init_from: {source_workdir} has no parameter {'/'.join(key)} of shape "
                             f"{value.shape}; it must be the same architecture")
        target[key] = source[key]
    return unflatten_dict(target)


def _train_items(state: TrainState) -> dict:
    """The checkpoint's "train" item: everything but the params."""
    return {"step": state.step, "opt_state": state.opt_state, "rng": state.rng}


def _loop(config, state, run_step, ckpt, writer, stop, eval_sets, eval_scales, upscalers, model, process0):
    total, step = config.total_steps, int(state.step)
    first = step  # the first step after (re)starting is logged too: it shows the compilation time
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
        state, metrics = run_step(state, step)
        step += 1
        pending.append(metrics)
        if step % config.log_every_steps == 0 or step == total or step == first + 1:
            mean = check_and_flush()
            now = time.perf_counter()
            rate = (step - tick_step) / max(now - tick, 1e-9)
            tick, tick_step = now, step
            writer.write(step, {**{f"train/{k}": v for k, v in mean.items()}, "train/steps_per_s": rate})
            _progress(step, total, mean, rate, process0)
        if step % config.checkpoint_every_steps == 0 or step == total:
            check_and_flush()
            ckpt.save(step, state.params, _train_items(state))
            last_good = step
        if config.eval.every_steps and step % config.eval.every_steps == 0 and step < total:
            writer.write(step, _val_scalars(_evaluate(model, state.params, eval_sets, eval_scales, upscalers,
                                                      _protocol(config))))
    check_and_flush()
    if last_good != step:  # interrupted, or nothing to train (total_steps = 0): keep the state evaluated
        ckpt.save(step, state.params, _train_items(state))
    if stop.signal is not None:
        ckpt.close()
        name = signal.Signals(stop.signal).name
        print(f"{name}: saved a checkpoint at step {step}; run the same command to resume", file=sys.stderr)
        raise SystemExit(128 + stop.signal)
    return state


def _evaluate(model, params, eval_sets, scales, upscalers, protocol, progress=False):
    """Validation PSNR/SSIM with cached per-scale Upscalers (compiled once per image shape)."""
    params = local_copy(params)  # process-local: every process scores its share of the images

    def factory(scale):
        if scale not in upscalers:
            upscalers[scale] = Upscaler(model, params, scale)
        upscalers[scale].params = params
        return upscalers[scale]

    return evaluate(factory, eval_sets, [int(s) for s in scales], progress=progress, protocol=protocol)


def _val_scalars(results: dict) -> dict:
    return {f"val/{d}/x{s}/{k}": r[k] for d, by_scale in results.items() for s, r in by_scale.items()
            for k in ("psnr", "ssim")}
