"""The training loop: a pure jit-compiled step over an explicit state, checkpoints, resume, logging.

Batches come from ``jaxsr.feeding``, the step from ``jaxsr.train_step``, metrics, progress and stop
signals from ``jaxsr.monitor``; the loop's periodic work (confirm, log, checkpoint, validate) is the list
``_Loop.periodic`` of :class:`Every` actions, dispatched once per step.

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

import sys
import time
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections

from jaxsr import models
from jaxsr.checkpoint import Checkpointer, check_run_folder, run_folder_lock, write_run_config
from jaxsr.config_check import check_config, run_eval_scales
from jaxsr.data.epochs import steps_per_epoch
from jaxsr.data.sampling import PatchTable
from jaxsr.data.sources import eval_datasets, training_images
from jaxsr.errors import JaxsrError
from jaxsr.evaluation import evaluate, markdown_table
from jaxsr.feeding import make_runner, training_tables
from jaxsr.metrics import result_metrics
from jaxsr.inference import Upscaler
from jaxsr.loading import init_from
from jaxsr.monitor import NonFinite, StepMetrics, StopRequest, progress_line
from jaxsr.optim import make_optimizer
from jaxsr.parallel import check_batch_size, local_copy, make_mesh, replicate
from jaxsr.summary import MetricWriter
from jaxsr.train_step import TrainState, train_items
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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *, store=None, max_seconds: float = 0,
                       max_steps: int = 0, save_every_seconds: float = 0) -> dict | None:
    """Train (or resume) the run in ``workdir``, then evaluate; returns the final evaluation results.

    ``store``: where the resumable state is kept (default: orbax checkpoints in ``<workdir>/checkpoints``,
    :class:`jaxsr.checkpoint.Checkpointer`; a campaign passes its one-file state, same interface).
    A time budget (``max_seconds``) or a step budget for this call (``max_steps``) saves a verified state
    and returns None without the final evaluation; ``save_every_seconds`` also saves after that much wall
    time since the last save. None of these changes what is trained: only when it is saved.
    The run folder is owned by this call (``jaxsr.checkpoint.run_folder_lock``): a second process training
    in it gets one ``error:`` line naming this one.
    """
    check_config(config)
    with run_folder_lock(workdir):
        return _train_and_evaluate(config, workdir, store=store, max_seconds=max_seconds, max_steps=max_steps,
                                   save_every_seconds=save_every_seconds)


def _train_and_evaluate(config, workdir, *, store, max_seconds, max_steps, save_every_seconds):
    check_run_folder(workdir, config)
    process0 = jax.process_index() == 0
    mesh = make_mesh()
    check_batch_size(config.batch_size, mesh)
    name, kwargs, scales = config.model.name, dict(config.model.kwargs), tuple(config.data.scales)
    eval_model = models.build(name, scales[0], **kwargs)  # float32, for metrics
    dtype = {} if config.compute_dtype == "float32" else {"dtype": jnp.dtype(config.compute_dtype)}
    model = models.build(name, scales[0], **kwargs, **dtype)
    images, lrs = training_images(config.data)
    tables = training_tables(config, model, images, lrs, workdir, process0)
    config = resolve_steps(config, list(tables.values()))
    if process0:
        write_run_config(workdir, config)
    tx, schedule = make_optimizer(config.optim)
    ckpt = Checkpointer(workdir, config.keep_checkpoints) if store is None else store
    params = init_params(model, config.seed)
    if config.init_from and not ckpt.steps():
        params = init_from(params, config.init_from, model)
    state = replicate(TrainState(step=jnp.int32(0), params=params, opt_state=tx.init(params),
                                 rng=jax.random.key_data(jax.random.PRNGKey(config.seed + 1))), mesh)
    restored = ckpt.restore(state.params, train_items(state), delete_bad=True)
    if restored is not None:
        state = TrainState(params=restored[1], **restored[2])
        if process0:
            print(f"resumed from {workdir} at step {int(state.step)}", flush=True)
    run_step = make_runner(config, tables, model, tx, schedule, int(state.step), mesh)
    eval_sets, eval_scales, upscalers = eval_datasets(config.eval), run_eval_scales(config), {}

    def validate(params) -> dict:
        return _evaluate(eval_model, params, eval_sets, eval_scales, upscalers, config.eval)

    writer = MetricWriter(workdir, enabled=process0)
    try:
        with StopRequest(max_seconds, max_steps) as stop:
            loop = _Loop(config, state, run_step, ckpt, writer, validate, process0,
                         None if restored is None else restored[0], save_every_seconds)
            state = loop.run(stop)
            if int(state.step) < config.total_steps:  # a budget ended this call: saved, no final evaluation
                if process0:
                    print(f"{stop.reason()}: saved at step {int(state.step)} of {config.total_steps}; "
                          "run again to continue", flush=True)
                return None
        results = _evaluate(eval_model, state.params, eval_datasets(config.eval, final=True), eval_scales,
                            upscalers, config.eval)
        writer.write(int(state.step), _val_scalars(results))
    finally:
        writer.close()
        ckpt.close()
    if process0:
        print(markdown_table(results, name.upper()), flush=True)
    return results


@dataclass(frozen=True)
class Every:
    """A periodic action of the loop: ``act(step)`` after every ``steps``-th step (never if 0), after each
    step in ``at``, after the first step since (re)starting when ``first``, and at the last step only (but
    always) when ``last``."""

    steps: int
    act: Callable[[int], None]
    first: bool = False
    last: bool = False
    at: frozenset = frozenset()

    def due(self, step: int, first: int, total: int) -> bool:
        if step == total:
            return self.last
        return ((self.steps > 0 and step % self.steps == 0) or step in self.at
                or (self.first and step == first + 1))


def eval_steps(config: ml_collections.ConfigDict) -> frozenset:
    """The steps after which ``eval.epochs`` asks for a validation (before the last step)."""
    return frozenset(int(round(e * config.steps_per_epoch)) for e in config.eval.epochs)


class _Loop:
    """The loop over steps and its periodic work. A checkpoint saved at step s awaits the loss of its params
    (that of step s + 1) and is confirmed (``Checkpointer.confirm``) once that loss is known finite."""

    def __init__(self, config, state, run_step, ckpt, writer, validate, process0, last_good,
                 save_every_seconds: float = 0):
        self.config, self.state, self.run_step, self.ckpt, self.writer = config, state, run_step, ckpt, writer
        self.validate, self.process0, self.last_good = validate, process0, last_good
        self.step = self.first = self.tick_step = int(state.step)  # the first step is logged: compile time
        self.metrics, self.awaiting, self.tick = StepMetrics(), None, time.perf_counter()
        self.save_every_seconds, self.saved_at = save_every_seconds, time.monotonic()
        self.periodic = [Every(1, self.confirm, last=True),  # this step's loss is the awaiting params' loss
                         Every(config.log_every_steps, self.log, first=True, last=True),
                         Every(config.checkpoint_every_steps, self.save, last=True),
                         Every(1 if save_every_seconds > 0 else 0, self.save_if_due),
                         Every(config.eval.every_steps, self.validate_now, at=eval_steps(config))]

    def run(self, stop: StopRequest) -> TrainState:
        total, previous = self.config.total_steps, None
        try:
            while self.step < total and not stop.due(self.step - self.first):
                self.state, m = self.run_step(self.state, self.step)
                self.step += 1
                self.metrics.add(self.step, m)
                if previous is not None:  # at most one step in flight: a signal is answered within a step
                    previous["loss"].block_until_ready()
                previous = m
                for action in self.periodic:
                    if action.due(self.step, self.first, total):
                        action.act(self.step)
            self.finish()
        except NonFinite as e:
            self.ckpt.discard_unconfirmed()
            saved = (f"the latest checkpoint (step {self.last_good}) is the last good state"
                     if self.last_good is not None else "no checkpoint was good, none is kept")
            raise JaxsrError(f"{e}; stopped, keeping only checkpoints known to be good: {saved}") from None
        if stop.signal is not None:
            self.ckpt.close()
            print(f"{stop.reason()}: saved a checkpoint at step {self.step}; run the same command to resume",
                  file=sys.stderr)
            raise SystemExit(128 + stop.signal)
        return self.state

    def finish(self) -> None:
        """Save the last state unless it is the last good checkpoint (interrupted, or total_steps = 0), and
        confirm it with the loss of one more step, from a copy (the step donates its state)."""
        if self.awaiting is None and self.last_good != self.step:
            self.save(self.step)
        if self.awaiting is not None:
            _, m = self.run_step(jax.tree_util.tree_map(jnp.copy, self.state), self.step)
            self.metrics.add(self.step + 1, m)
            self.confirm(self.step)
        self.metrics.check()

    def confirm(self, step: int) -> None:
        if self.awaiting is None:
            return
        self.metrics.check()
        if not self.ckpt.confirm(self.awaiting):
            raise NonFinite(f"non-finite params in the checkpoint of step {self.awaiting}")
        self.last_good, self.awaiting = self.awaiting, None

    def save(self, step: int) -> None:
        self.ckpt.save(step, self.state.params, train_items(self.state))
        self.awaiting, self.saved_at = step, time.monotonic()

    def save_if_due(self, step: int) -> None:
        if self.awaiting is None and time.monotonic() - self.saved_at >= self.save_every_seconds:
            self.save(step)

    def log(self, step: int) -> None:
        mean, now = self.metrics.mean(), time.perf_counter()
        rate = (step - self.tick_step) / max(now - self.tick, 1e-9)
        self.tick, self.tick_step = now, step
        self.writer.write(step, {**{f"train/{k}": v for k, v in mean.items()}, "train/steps_per_s": rate})
        if self.process0:
            print(progress_line(step, self.config.total_steps, mean, rate), flush=True)

    def validate_now(self, step: int) -> None:
        self.writer.write(step, _val_scalars(self.validate(self.state.params)))


def _evaluate(model, params, eval_sets, scales, upscalers, eval_config):
    """Validation ``eval_config.metrics`` (PSNR/SSIM by default) under ``eval_config.protocol``, with cached
    per-scale Upscalers (compiled once per image shape)."""
    params = local_copy(params)  # process-local: every process scores its share of the images

    def factory(scale):
        if scale not in upscalers:
            upscalers[scale] = Upscaler(model, params, scale)
        upscalers[scale].params = params
        return upscalers[scale]

    return evaluate(factory, eval_sets, [int(s) for s in scales], progress=False,
                    protocol=eval_config.protocol, metrics=eval_config.get("metrics", "psnr,ssim"))


def _val_scalars(results: dict) -> dict:
    return {f"val/{d}/x{s}/{k}": r[k] for d, by_scale in results.items() for s, r in by_scale.items()
            for k in result_metrics(r) if r[k] is not None}  # None: no image could be scored
