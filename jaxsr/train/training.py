"""Training a run: the config resolved once, the state built or resumed, the one loop, the final evaluation.

``train_and_evaluate(config, workdir)`` is what ``train.py`` runs: the config is checked
(``jaxsr.train.config_check``) and compared with the run folder's stored config before any data is read or any
file written, then resolved once (``jaxsr.train.run_spec``: models, patch tables, steps, validation); batches come
from ``jaxsr.train.feeding``, the step from ``jaxsr.train.train_step``, the loop and its verified checkpoints from
``jaxsr.train.loop`` (here: a non-finite loss stops the run), metrics, progress and stop signals from
``jaxsr.train.monitor``. It resumes automatically from the latest verified checkpoint in ``workdir``; a run killed
at any point and restarted with the same command ends with the same params, bit for bit, as one never
interrupted (the input stream is a function of (seed, step)). SIGTERM/SIGINT save a checkpoint after the
step in flight and exit. A non-finite loss stops the run and discards any checkpoint not yet known to be
good, so the latest checkpoint is always the last good state.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import ml_collections

from jaxsr.weights.checkpoint import Checkpointer, run_folder_lock, write_run_config
from jaxsr.train.config_check import check_config, check_run_folder
from jaxsr.eval.evaluation import evaluate, markdown_table
from jaxsr.train.feeding import make_runner
from jaxsr.eval.inference import Upscaler
from jaxsr.weights.loading import init_from
from jaxsr.train.loop import Every, Loop
from jaxsr.eval.metrics import result_metrics
from jaxsr.train.monitor import StepMetrics, StopRequest, eta, progress_line
from jaxsr.train.optim import make_optimizer
from jaxsr.base.parallel import check_batch_size, describe, local_copy, make_mesh, replicate
from jaxsr.train.run_spec import RunSpec, Validation, resolve
from jaxsr.train.summary import MetricWriter
from jaxsr.train.train_step import TrainState, train_items
from jaxsr.weights.params import init_params

__all__ = ["train_and_evaluate", "PROGRESS_EVERY_SECONDS"]

PROGRESS_EVERY_SECONDS = 30  # a progress line at least this often, whatever log_every_steps says


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *, store=None, max_seconds: float = 0,
                       max_steps: int = 0, save_every_seconds: float = 0) -> dict | None:
    """Train (or resume) the run in ``workdir``, then evaluate; returns the final evaluation results.

    ``store``: where the resumable state is kept (default: orbax checkpoints in ``<workdir>/checkpoints``,
    :class:`jaxsr.weights.checkpoint.Checkpointer`; a campaign passes its one-file state, same interface).
    A time budget (``max_seconds``) or a step budget for this call (``max_steps``) saves a verified state
    and returns None without the final evaluation; ``save_every_seconds`` also saves after that much wall
    time since the last save. None of these changes what is trained: only when it is saved.
    The run folder is owned by this call (``jaxsr.weights.checkpoint.run_folder_lock``): a second process training
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
    if process0:
        print(f"training on {describe(mesh)}: batch {config.batch_size} ({config.batch_size // mesh.size} per "
              f"device), {config.compute_dtype}", flush=True)
    run = resolve(config, workdir, process0)
    if process0:
        write_run_config(workdir, run.config)
    tx, schedule = make_optimizer(run.config.optim)
    ckpt = Checkpointer(workdir, config.keep_checkpoints) if store is None else store
    params = init_params(run.model, config.seed)
    if config.init_from and not ckpt.steps():
        params = init_from(params, config.init_from, run.model)
    state = replicate(TrainState(step=jnp.int32(0), params=params, opt_state=tx.init(params),
                                 rng=jax.random.key_data(jax.random.PRNGKey(config.seed + 1))), mesh)
    restored = ckpt.restore(state.params, train_items(state), delete_bad=True)
    if restored is not None:
        state = TrainState(params=restored[1], **restored[2])
        if process0:
            print(f"resumed from {workdir} at step {int(state.step)}", flush=True)
    run_step = make_runner(run.tables, run.model, tx, schedule, run.feed, int(state.step), mesh)
    upscalers: dict = {}
    writer = MetricWriter(workdir, enabled=process0)
    try:
        with StopRequest(max_seconds, max_steps) as stop:
            loop = _Loop(run, state, run_step, ckpt, writer, upscalers, process0,
                         None if restored is None else restored[0], save_every_seconds)
            state = loop.run(stop.due)
            if stop.signal is not None:
                ckpt.close()
                print(f"{stop.reason()}: saved a checkpoint at step {loop.step}; run the same command to resume",
                      file=sys.stderr)
                raise SystemExit(128 + stop.signal)
            if int(state.step) < run.steps.total:  # a budget ended this call: saved, no final evaluation
                if process0:
                    print(f"{stop.reason()}: saved at step {int(state.step)} of {run.steps.total}; "
                          "run again to continue", flush=True)
                return None
        results = _evaluate(state.params, run.validation, run.validation.final_datasets, upscalers)
        writer.write(int(state.step), _val_scalars(results))
    finally:
        writer.close()
        ckpt.close()
    if process0:
        print(markdown_table(results, config.model.name.upper()), flush=True)
    return results


class _Loop(Loop):
    """The loop of one run (``jaxsr.train.loop``): a non-finite loss or gradient stops it (``StepMetrics``), and
    its periodic actions log, save (every N steps, and every ``save_every_seconds`` of wall time) and
    validate."""

    def __init__(self, run: RunSpec, state, run_step, store, writer, upscalers, process0, last_good,
                 save_every_seconds: float = 0):
        super().__init__(state, int(state.step), run.steps.total, run_step, store, last_good)
        self.validation, self.upscalers, self.writer, self.process0 = run.validation, upscalers, writer, process0
        self.metrics, self.tick_step, self.tick = StepMetrics(), self.step, time.perf_counter()
        self.aside = 0.0  # seconds of the current window spent validating or saving: not in the step rate
        self.printed, self.on_cpu_noted = time.monotonic(), False
        self.save_every_seconds, self.saved_at = save_every_seconds, time.monotonic()
        steps = run.steps
        self.periodic = [Every(steps.log_every, self.log, first=True, last=True),
                         Every(1, self.heartbeat),
                         Every(steps.checkpoint_every, self.save, last=True),
                         Every(1 if save_every_seconds > 0 else 0, self.save_if_due),
                         Every(steps.eval_every, self.validate, at=steps.eval_at)]
        if process0 and self.step < self.total:
            print(f"compiling the training step (the first step includes it) …", flush=True)

    def observe(self, step: int, metrics) -> None:
        self.metrics.add(step, metrics)

    def finite(self) -> bool:
        self.metrics.check()  # NonFinite (the run stops) on a non-finite loss or gradient
        return True

    def items(self, step: int) -> tuple:
        return self.state.params, train_items(self.state), None

    def save(self, step: int) -> None:
        start = time.perf_counter()
        super().save(step)
        self.saved_at = time.monotonic()
        self.aside += time.perf_counter() - start

    def save_if_due(self, step: int) -> None:
        if self.awaiting is None and time.monotonic() - self.saved_at >= self.save_every_seconds:
            self.save(step)

    def rate(self, step: int) -> tuple[float | None, float]:
        """(steps/s since the last log without the time spent validating or saving, or None for the first
        step after (re)starting, whose time is mostly compilation; the window's seconds)."""
        seconds = time.perf_counter() - self.tick - self.aside
        first = self.tick_step == self.first and step == self.first + 1
        return (None if first else (step - self.tick_step) / max(seconds, 1e-9)), seconds

    def log(self, step: int) -> None:
        """A log row (the means since the last one) and its progress line."""
        mean = self.metrics.mean()
        rate, seconds = self.rate(step)
        self.tick, self.tick_step, self.aside = time.perf_counter(), step, 0.0
        scalars = {f"train/{k}": v for k, v in mean.items() if k != "steps"}
        self.writer.write(step, scalars if rate is None else {**scalars, "train/steps_per_s": rate})
        self.print_progress(step, mean, rate, seconds)

    def heartbeat(self, step: int) -> None:
        """A progress line (not a log row) when none was printed for 30 s, whatever ``log_every_steps`` says."""
        if self.process0 and time.monotonic() - self.printed >= PROGRESS_EVERY_SECONDS and step > self.tick_step:
            rate, seconds = self.rate(step)
            self.print_progress(step, self.metrics.peek(), rate, seconds)

    def print_progress(self, step: int, mean: dict, rate: float | None, seconds: float) -> None:
        if not self.process0:
            return
        print(progress_line(step, self.total, mean, rate, seconds), flush=True)
        self.printed = time.monotonic()
        platform = jax.devices()[0].platform
        if rate is not None and not self.on_cpu_noted and platform == "cpu" and (self.total - step) / rate > 3600:
            self.on_cpu_noted = True
            print(f"note: training on the CPU at {1 / rate:.2f} s per step: the {self.total - step} steps left take "
                  f"{eta((self.total - step) / rate)}; on a GPU or TPU (install jax for it: README, Install) this "
                  "recipe takes a small fraction of that", file=sys.stderr, flush=True)

    def validate(self, step: int) -> None:
        start = time.perf_counter()
        results = _evaluate(self.state.params, self.validation, self.validation.datasets, self.upscalers)
        self.writer.write(step, _val_scalars(results))
        self.aside += time.perf_counter() - start


def _evaluate(params, validation: Validation, datasets, upscalers):
    """Validation of ``params`` on ``datasets`` (``validation``'s metrics, PSNR/SSIM by default, under its
    protocol), with cached per-scale Upscalers (compiled once per image shape)."""
    params = local_copy(params)  # process-local: every process scores its share of the images

    def factory(scale):
        if scale not in upscalers:
            upscalers[scale] = Upscaler(validation.model, params, scale)
        upscalers[scale].params = params
        return upscalers[scale]

    return evaluate(factory, datasets, list(validation.scales), progress=False, protocol=validation.protocol,
                    metrics=validation.metrics)


def _val_scalars(results: dict) -> dict:
    return {f"val/{d}/x{s}/{k}": r[k] for d, by_scale in results.items() for s, r in by_scale.items()
            for k in result_metrics(r) if r[k] is not None}  # None: no image could be scored
