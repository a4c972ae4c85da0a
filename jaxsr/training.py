"""The training loop: a pure jit-compiled step over an explicit state, checkpoints, resume, logging.

``train_and_evaluate(config, workdir)`` is what ``train.py`` runs. It resumes automatically from the
latest checkpoint in ``workdir``; a run killed at any point and restarted with the same command ends with
the same params, bit for bit, as one never interrupted (the input stream is a function of (seed, step)).
SIGTERM/SIGINT save a checkpoint after the step in flight and exit. A checkpoint becomes good (verified,
see ``jaxsr.checkpoint``) only once the loss its params produce is known to be finite; a non-finite loss
stops the run and discards any checkpoint not yet known to be good, so the latest checkpoint is always
the last good state. The whole config is checked (``jaxsr.config_check``) and compared with the run
folder's stored config before any data is read or any file written.
"""

from __future__ import annotations

import signal
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxsr import models
from jaxsr.checkpoint import Checkpointer, check_run_folder, write_run_config
from jaxsr.config_check import check_config, run_eval_scales
from jaxsr.data.epochs import steps_per_epoch
from jaxsr.data.sampling import PatchTable, build_patch_table
from jaxsr.data.sources import eval_datasets, training_images
from jaxsr.errors import JaxsrError
from jaxsr.evaluation import evaluate, markdown_table
from jaxsr.inference import Upscaler
from jaxsr.optim import make_optimizer
from jaxsr.loading import source_params
from jaxsr.parallel import check_batch_size, local_copy, make_mesh, replicate
from jaxsr.summary import MetricWriter
from jaxsr.train_step import TrainState, make_runner
from jaxsr.weights import init_params

__all__ = ["resolve_steps", "train_and_evaluate"]


def resolve_steps(config: ml_collections.ConfigDict, tables: list[PatchTable]) -> ml_collections.ConfigDict:
    """A copy of ``config`` with steps_per_epoch, total_steps and optim.decay_every_steps filled in.

    The paper's epoch: ``jaxsr.data.epochs.steps_per_epoch`` (non-overlapping patches of all items / batch).
    """
    config = ml_collections.ConfigDict(config.to_dict())
    if config.steps_per_epoch < 1:
        config.steps_per_epoch = steps_per_epoch(tables, config.batch_size)
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


def _eta(seconds: float) -> str:
    """H:MM:SS, with days past 24 hours: ``5d 14:01:37``."""
    days, rest = divmod(int(seconds), 86400)
    clock = time.strftime("%H:%M:%S", time.gmtime(rest))
    return f"{days}d {clock}" if days else clock


def _progress(step, total, metrics, rate, process0):
    if not process0:
        return
    eta = _eta((total - step) / rate) if rate > 0 else "?"
    print(f"step {step:>7d}/{total}  loss {metrics['loss']:.5g}  lr {metrics['lr']:.3g}  "
          f"grad_norm {metrics['grad_norm']:.3g}  clip {metrics['clip_fraction']:.3f}  "
          f"{rate:.2f} steps/s  ETA {eta}", flush=True)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Train (or resume) the run in ``workdir``, then evaluate; returns the final evaluation results."""
    check_config(config)
    check_run_folder(workdir, config)
    process0 = jax.process_index() == 0
    mesh = make_mesh()
    check_batch_size(config.batch_size, mesh)
    name, kwargs, scales = config.model.name, dict(config.model.kwargs), tuple(config.data.scales)
    eval_model = models.build(name, scales[0], **kwargs)  # float32, for metrics
    dtype = {} if config.compute_dtype == "float32" else {"dtype": jnp.dtype(config.compute_dtype)}
    model = models.build(name, scales[0], **kwargs, **dtype)
    spec = models.contract(model)
    images, lrs = training_images(config.data)
    groups = {s: (s,) for s in scales} if spec.scale_mode == "call" else {None: scales}
    small: list[str] = []
    tables = {key: build_patch_table([im.image for im in images], group, config.data.patch_size,
                                     spec.channels, spec.upsampling,
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
    if config.init_from and not ckpt.steps():
        params = _transplant(params, config.init_from, model)
    state = replicate(TrainState(step=jnp.int32(0), params=params, opt_state=tx.init(params),
                                 rng=jax.random.key_data(jax.random.PRNGKey(config.seed + 1))), mesh)
    restored = ckpt.restore(state.params, _train_items(state), delete_bad=True)
    if restored is not None:
        state = TrainState(params=restored[1], **restored[2])
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
                          eval_model, process0, None if restored is None else restored[0])
        results = _evaluate(eval_model, state.params, eval_sets, eval_scales, upscalers, config.eval.protocol)
        writer.write(int(state.step), _val_scalars(results))
    finally:
        writer.close()
        ckpt.close()
    if process0:
        print(markdown_table(results, name.upper()), flush=True)
    return results


def _transplant(params, source_workdir: str, model):
    """Fresh ``params`` with every entry but the model's scale-specific ones (its contract's
    ``scale_params``: EDSR's upsampler) copied from a params source (``jaxsr.loading``), typically another
    run's newest verified checkpoint (EDSR x3/x4 start from a trained x2 model). Shapes must agree."""
    from flax.traverse_util import flatten_dict, unflatten_dict

    spec = models.contract(model)
    source = flatten_dict(jax.device_get(source_params(source_workdir, model)))
    target = flatten_dict(jax.device_get(params))
    for key, value in target.items():
        if spec.is_scale_specific(key):
            continue
        if key not in source or source[key].shape != value.shape:
            raise JaxsrError(f"init_from: {source_workdir} has no parameter {'/'.join(key)} of shape "
                             f"{value.shape}; it must be the same architecture")
        target[key] = source[key]
    return unflatten_dict(target)


def _train_items(state: TrainState) -> dict:
    """The checkpoint's "train" item: everything but the params."""
    return {"step": state.step, "opt_state": state.opt_state, "rng": state.rng}


class _Metrics:
    """Per-step metrics on the device; ``check`` fetches them and raises on a non-finite loss/gradient."""

    def __init__(self):
        self.device, self.host = [], []

    def add(self, step: int, metrics) -> None:
        self.device.append((step, metrics))

    def check(self) -> None:
        fetched, self.device = jax.device_get(self.device), []
        for step, m in fetched:
            if not (np.isfinite(m["loss"]) and np.isfinite(m["grad_norm"])):
                raise _NonFinite(f"non-finite loss or gradient at step {step} (loss={m['loss']:.4g}, "
                                 f"grad_norm={m['grad_norm']:.4g})")
        self.host += [m for _, m in fetched]

    def mean(self) -> dict:
        self.check()
        host, self.host = self.host, []
        return {k: float(np.mean([m[k] for m in host])) for k in host[0]}


class _NonFinite(Exception):
    pass


def _loop(config, state, run_step, ckpt, writer, stop, eval_sets, eval_scales, upscalers, model, process0,
          last_good):
    total, step = config.total_steps, int(state.step)
    first = step  # the first step after (re)starting is logged too: it shows the compilation time
    metrics, previous = _Metrics(), None
    awaiting = None  # a saved checkpoint whose params' loss is not known yet (the next step's loss)
    tick, tick_step = time.perf_counter(), step

    def confirm():
        nonlocal awaiting, last_good
        metrics.check()
        if not ckpt.confirm(awaiting):
            raise _NonFinite(f"non-finite params in the checkpoint of step {awaiting}")
        last_good, awaiting = awaiting, None

    try:
        while step < total and stop.signal is None:
            state, m = run_step(state, step)
            step += 1
            metrics.add(step, m)
            if previous is not None:  # at most one step in flight: a signal is answered within a step
                previous["loss"].block_until_ready()
            previous = m
            if awaiting is not None:  # this step's loss is that of the awaiting checkpoint's params
                confirm()
            if step % config.log_every_steps == 0 or step == total or step == first + 1:
                mean = metrics.mean()
                now = time.perf_counter()
                rate = (step - tick_step) / max(now - tick, 1e-9)
                tick, tick_step = now, step
                writer.write(step, {**{f"train/{k}": v for k, v in mean.items()}, "train/steps_per_s": rate})
                _progress(step, total, mean, rate, process0)
            if step % config.checkpoint_every_steps == 0 or step == total:
                ckpt.save(step, state.params, _train_items(state))
                awaiting = step
            if config.eval.every_steps and step % config.eval.every_steps == 0 and step < total:
                writer.write(step, _val_scalars(_evaluate(model, state.params, eval_sets, eval_scales,
                                                          upscalers, config.eval.protocol)))
        if awaiting is None and last_good != step:  # interrupted, or nothing trained yet (total_steps = 0)
            ckpt.save(step, state.params, _train_items(state))
            awaiting = step
        if awaiting is not None:  # the loss of the last saved params, from a copy (the step donates it)
            _, m = run_step(jax.tree_util.tree_map(jnp.copy, state), step)
            metrics.add(step + 1, m)
            confirm()
        metrics.check()
    except _NonFinite as e:
        ckpt.discard_unconfirmed()
        saved = (f"the latest checkpoint (step {last_good}) is the last good state" if last_good is not None
                 else "no checkpoint was good, none is kept")
        raise JaxsrError(f"{e}; stopped, keeping only checkpoints known to be good: {saved}") from None
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
