"""Training and evaluating an experiment's grid: vmapped sweeps per shape, resumable, time-bounded.

Layout under ``<workdir>/<experiment>/<group>/``: ``checkpoints/`` (orbax, the stacked sweep state) and
``record.json`` (the sweep's settings, every evaluation so far, diverged variants). A group trains on the
one loop (``jaxsr.train.loop``, as ``jaxsr.train.training``), so its checkpoints are verified by the same rule;
rerunning continues from the newest verified checkpoint and skips evaluations already recorded; a
finished group is not retrained. A variant whose loss is not finite is a result (diverged, scored None),
not an error (see ``_Sweep``).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import jax
import ml_collections
import numpy as np

from jaxsr import models
from jaxsr.weights.checkpoint import Checkpointer
from jaxsr.data.epochs import steps_per_epoch
from jaxsr.data.sampling import build_patch_table
from jaxsr.data.sources import eval_datasets, training_images
from jaxsr.base.errors import JaxsrError, NonFiniteOutput
from jaxsr.eval.evaluation import evaluate
from jaxsr.eval.inference import Upscaler
from jaxsr.base.io import atomic_write_bytes
from jaxsr.train.loop import Every, Loop
from jaxsr.train.monitor import StopRequest, eta
from jaxsr.base.parallel import check_batch_size, local_copy, make_mesh, replicate
from jaxsr.train.run_spec import build_model, resolve_optim
from jaxsr.train.sweep import Variant, init_state, make_sweep_runner, mask_variants, unstack, variant_model

__all__ = ["Group", "groups", "run_grid"]


@dataclass
class Group:
    """Variants of one shape (one vmapped sweep)."""

    name: str
    depth: int
    variants: list = field(default_factory=list)


def _train_sets(text: str) -> list[tuple]:
    try:
        sets = [tuple(int(s) for s in item.split("+")) for item in str(text).split(",") if item.strip()]
    except ValueError:
        sets = []
    if not sets or any(not s or min(s) < 2 for s in sets):
        raise JaxsrError(f"train_sets must look like 2,3,2+3,2+3+4 (scales >= 2), got {text!r}")
    return sets


def groups(name: str, c: ml_collections.ConfigDict) -> list[Group]:
    """The experiment's grid: depth → one group per depth; residual, scales → one group of variants."""
    lr, seed, scales = c.optim.learning_rate, c.seed, tuple(c.data.scales)
    depth = int(c.model.kwargs.depth)
    if name == "depth":
        return [Group(f"depth{d}", int(d), [Variant(f"depth {d}", lr, True, seed, scales)]) for d in c.depths]
    if name == "residual":
        return [Group(f"depth{depth}", depth, [Variant(f"{'residual' if r else 'non-residual'} lr {x:g}", float(x),
                                                       r, seed, scales)
                                               for x in c.learning_rates for r in (True, False)])]
    return [Group(f"depth{depth}", depth, [Variant("+".join(map(str, s)), lr, True, seed, s)
                                           for s in _train_sets(c.train_sets)])]


def _eval_dir(c) -> str:
    if c.eval.data_dir:
        return c.eval.data_dir
    first = Path(str(c.data.folders).split(",")[0].strip())
    for candidate in (first.parent, first.parent.parent / "test"):
        if (candidate / str(c.eval.datasets).split(",")[0].strip()).is_dir():
            return str(candidate)
    raise JaxsrError(f"eval.data_dir: no {c.eval.datasets} folder beside {first}; give --eval.data_dir=DIR")


class _Progress:
    """One line per log interval with the ETA over the whole grid (work = steps × variants × depth)."""

    def __init__(self, name, total_units):
        self.name, self.total, self.done, self.start, self.here = name, total_units, 0, None, 0

    def skip(self, units):
        self.done += units

    def advance(self, units, text):
        self.done += units
        if self.start is None:  # the first step compiles: measure the rate from after it
            self.start = time.perf_counter()
            return print(f"[{self.name}] {text}  (compiled)", flush=True)
        self.here += units
        rate = self.here / max(time.perf_counter() - self.start, 1e-9)
        left = max(self.total - self.done, 0) / rate if rate > 0 else 0
        print(f"[{self.name}] {text}  grid {100 * self.done / max(self.total, 1):.1f}%  "
              f"ETA {eta(left)}", flush=True)


def _resolved(c, spe: int) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict(c.to_dict())
    c.optim = resolve_optim(c.optim, spe)
    return c


def run_grid(name: str, c: ml_collections.ConfigDict, workdir: str) -> dict:
    """Train and evaluate every group; returns {"groups": {group: record}, "complete": bool, ...}."""
    mesh = make_mesh()
    check_batch_size(c.batch_size, mesh)
    grid = groups(name, c)
    images, _ = training_images(c.data)
    eval_sets = eval_datasets(ml_collections.ConfigDict({**c.eval.to_dict(), "data_dir": _eval_dir(c)}))
    small: list[str] = []
    spec = models.contract(build_model(c.model.name, 2, dict(c.model.kwargs)))
    tables, table_for = {}, lambda scales: build_patch_table(
        [im.image for im in images], scales, c.data.patch_size, spec.channels, spec.upsampling,
        names=[im.name for im in images], on_small=small.append, cache_dir=c.data.cache_dir or f"{workdir}/cache")
    for g in grid:
        for v in g.variants:
            if v.data_key not in tables:
                tables[v.data_key] = table_for(v.scales)
    union = tuple(sorted({s for g in grid for v in g.variants for s in v.scales}))
    spe = steps_per_epoch([tables.get((union, c.seed)) or table_for(union)], c.batch_size)
    if small:
        print(f"note: left out {len(small)} (image, scale) pairs smaller than a patch", file=sys.stderr)
    total = c.steps if c.steps > 0 else int(round(c.epochs * spe))
    progress = _Progress(name, sum(total * len(g.variants) * g.depth for g in grid))
    out, complete = {"steps_per_epoch": spe, "total_steps": total, "groups": {}}, True
    with StopRequest(c.max_seconds) as stop:
        for g in grid:
            record, finished = _run_group(name, g, _resolved(c, spe), Path(workdir) / name / g.name, tables, spe,
                                          total, mesh, eval_sets, progress, stop, complete)
            out["groups"][g.name] = record
            complete = complete and finished
    out["complete"], out["signal"] = complete, stop.signal
    return out


def _meta(g: Group, c, spe: int) -> dict:
    return {"variants": [vars(v) | {"scales": list(v.scales)} for v in g.variants], "steps_per_epoch": spe,
            "depth": g.depth, "model": dict(c.model.kwargs), "batch_size": c.batch_size,
            "patch_size": c.data.patch_size, "optim": c.optim.to_dict(), "compute_dtype": c.compute_dtype}


def _run_group(name, g, c, gdir: Path, tables, spe, total, mesh, eval_sets, progress, stop, may_run):
    record_path = gdir / "record.json"
    meta = json.loads(json.dumps(_meta(g, c, spe)))
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"meta": meta, "evals": [],
                                                                               "diverged": {}}
    if record["meta"] != meta:
        raise JaxsrError(f"{gdir} holds a different sweep (other data, model or optimizer settings); "
                         "use another --workdir")
    units = len(g.variants) * g.depth
    evaluated = {e["step"] for e in record["evals"]}
    eval_steps = sorted({int(round(e * spe)) for e in c.eval.epochs if 0 < e * spe < total} | {total})
    if total in evaluated or not may_run:
        progress.skip(total * units)
        record["step"] = record.get("step", 0)
        return record, total in evaluated
    kwargs = {**dict(c.model.kwargs), "depth": g.depth, "residual": True}
    model, eval_model = build_model(c.model.name, 2, kwargs, c.compute_dtype), build_model(c.model.name, 2, kwargs)
    ckpt = Checkpointer(gdir, keep=2)
    try:
        state = replicate(init_state(model, c.optim, g.variants), mesh)
        alive = np.ones(len(g.variants), bool)
        restored = ckpt.restore(state.params, _train_items(state, alive), delete_bad=True)
        if restored is not None:
            train = dict(restored[2])
            alive = np.asarray(train.pop("alive"), bool)
            state = state.replace(params=_masked(restored[1], alive, np.nan, mesh), **train)
        step = int(np.asarray(local_copy(state.step))[0])
        if restored is not None:
            print(f"[{name}] {g.name}: resumed at step {step}", flush=True)
        progress.skip(min(step, total) * units)
        mode = c.sweep_mode if c.sweep_mode != "auto" else ("loop" if jax.default_backend() == "cpu" else "vmap")
        run = make_sweep_runner(model, g.variants, tables, mesh, c.optim, c.loss, c.batch_size, mode)
        upscalers: dict = {}
        losses = _Losses(g.variants, record, alive)

        def score(at: int, state) -> dict:  # every variant after step ``at`` (None for a diverged one)
            losses.check()
            return _evaluate(g, eval_model, state, alive, at, spe, eval_sets, c, upscalers,
                             record["diverged"])

        def evaluate(at: int) -> None:  # at an evaluation step not yet recorded: score and record it
            if at in eval_steps and at not in evaluated and at > 0:
                record["evals"].append(score(at, loop.state))
                evaluated.add(at)
                record["step"] = at
                _write(record_path, record)

        loop = _Sweep(g, c, state, step, total, run, ckpt, mesh, losses, None if restored is None else restored[0],
                      spe, units, progress, eval_steps, evaluate)
        evaluate(step)  # a run resumed at an evaluation step not yet recorded
        state = loop.run(lambda done: stop.due() and (done > 0 or stop.signal is not None))  # one step at least
        step, stopped = loop.step, loop.step < total
        if stopped:
            print(f"[{name}] {stop.reason()} at {g.name} step {step}: saved; rerun to continue", flush=True)
            if stop.signal is None and 0 < step and step not in evaluated:  # what was reached, for the report
                record["evals"].append(score(step, state))
        record["step"] = step
        _write(record_path, record)
        return record, not stopped
    finally:
        ckpt.close()


def _train_items(state, alive) -> dict:
    """A sweep checkpoint's "train" item: the training loop's, plus which variants are still alive."""
    from jaxsr.train.train_step import train_items

    return {**train_items(state), "alive": np.asarray(alive, np.int8)}


def _masked(tree, alive, fill, mesh):
    """``tree`` with the diverged variants set to ``fill``, replicated on the mesh (``tree`` if none)."""
    return tree if np.all(alive) else replicate(mask_variants(local_copy(tree), alive, fill), mesh)


class _Losses:
    """Per-step (V,) losses kept on the device until ``check``, which marks a variant whose loss was not
    finite as diverged (``alive`` false, ``record["diverged"][name]`` = that step): a result, not an error."""

    def __init__(self, variants, record, alive):
        self.variants, self.record, self.alive, self.device = variants, record, alive, []
        self.last = np.full(len(variants), np.nan, np.float32)

    def add(self, step: int, loss) -> None:
        self.device.append((step, loss))

    def check(self) -> np.ndarray:
        """Fetch the pending losses and update ``alive``; returns the newest (V,) losses."""
        fetched, self.device = jax.device_get(self.device), []
        for step, loss in fetched:
            self.last = np.asarray(loss)
            for i, value in enumerate(self.last):
                if not np.isfinite(value) and self.alive[i]:
                    self.alive[i] = False
                    self.record["diverged"].setdefault(self.variants[i].name, step)
        return self.last

    def diverge(self, i: int, step: int) -> None:
        """Mark variant ``i`` diverged at ``step`` (its params went non-finite under a finite loss)."""
        if self.alive[i]:
            self.alive[i] = False
            self.record["diverged"].setdefault(self.variants[i].name, step)


class _Sweep(Loop):
    """A group's training on the one loop (``jaxsr.train.loop``) over the stacked state of its variants. A
    checkpoint is judged on the losses of the variants it holds alive: diverged variants are stored zeroed
    with ``alive`` 0 (restored as NaN), so one diverging variant never stops the sweep from keeping good
    checkpoints of the others; a checkpoint in which a variant it holds alive turns out to diverge is
    discarded (a result, not an error: the sweep goes on), and the next one records the divergence."""

    def __init__(self, g, c, state, step, total, run, store, mesh, losses: _Losses, last_good, spe, units,
                 progress, eval_steps, evaluate):
        super().__init__(state, step, total, lambda st, _: run(st), store, last_good)
        self.g, self.mesh, self.losses, self.spe, self.units = g, mesh, losses, spe, units
        self.progress, self.logged = progress, step
        at = frozenset(eval_steps)  # the last step is one: saved and scored there
        self.periodic = [Every(c.log_every_steps, self.log, first=True, last=True),
                         Every(c.checkpoint_every_steps, self.save, last=True, at=at),
                         Every(0, evaluate, last=True, at=at)]

    def observe(self, step: int, metrics) -> None:
        self.losses.add(step, metrics["loss"])

    def finite(self) -> bool:
        self.losses.check()
        return not np.any(self.held & ~self.losses.alive)

    def rejected(self, step: int) -> None:
        pass  # the variants that diverged are recorded; the others train on

    def items(self, step: int) -> tuple:
        self.losses.check()
        host = local_copy(self.state.params)
        finite = np.array([all(np.isfinite(a).all() for a in jax.tree_util.tree_leaves(unstack(host, i)))
                           for i in range(len(self.losses.alive))])
        for i in np.flatnonzero(self.losses.alive & ~finite):  # params went non-finite under a finite loss
            self.losses.diverge(int(i), step)
        alive = self.losses.alive.copy()
        opt_state = _masked(self.state.opt_state, alive, 0.0, self.mesh)
        return (_masked(self.state.params, alive, 0.0, self.mesh),
                _train_items(self.state.replace(opt_state=opt_state), alive), alive)

    def log(self, step: int) -> None:
        last = self.losses.check()
        finite = last[np.isfinite(last)]
        span = f"{finite.min():.4g}..{finite.max():.4g}" if finite.size else "nan"
        self.progress.advance((step - self.logged) * self.units, f"{self.g.name} step {step}/{self.total} "
                              f"(epoch {step / self.spe:.1f})  loss {span}")
        self.logged = step


def _write(path: Path, record: dict) -> None:
    if jax.process_index() == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())


def _evaluate(g, eval_model, state, alive, step, spe, eval_sets, c, upscalers, diverged=None) -> dict:
    """Every variant on the eval datasets (paper protocol, ``jaxsr.eval.evaluation``); None for a diverged one. A
    variant whose output is not finite (NaN/inf under finite params) is never scored: it is diverged from
    here on (``alive`` false, ``diverged[name]`` = this step)."""
    results, stacked = {}, local_copy(state.params)  # host numpy, process-local (multi-host safe)
    for i, v in enumerate(g.variants):
        params = unstack(stacked, i)
        if not alive[i] or not all(np.all(np.isfinite(a)) for a in jax.tree_util.tree_leaves(params)):
            results[v.name] = None
            continue
        net = variant_model(eval_model, v)

        def factory(scale, net=net, params=params, residual=v.residual):
            key = (residual, scale)
            if key not in upscalers:
                upscalers[key] = Upscaler(net, params, scale)
            upscalers[key].params = params
            return upscalers[key]

        try:
            results[v.name] = evaluate(factory, eval_sets, [int(s) for s in c.eval.scales], progress=False)
        except NonFiniteOutput:
            results[v.name], alive[i] = None, False
            if diverged is not None:
                diverged.setdefault(v.name, step)
            print(f"note: {g.name} variant {v.name!r}: its output is not finite at step {step}: reported as "
                  "diverged, never scored", file=sys.stderr, flush=True)
    return {"step": step, "epoch": step / spe, "results": results}
