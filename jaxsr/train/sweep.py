"""Sweeps: variants of one model shape trained together in ONE jitted, vmapped step.

Variants that share parameter shapes (learning rate, residual on/off, seed, training scales) are stacked
on a leading axis V: params, optimizer state, step and RNG of a ``TrainState`` each get shape (V, ...),
and ``jax.vmap`` maps the ordinary train step (``train_step.make_train_step``) over it. Hyperparameters
are arrays of shape (V,):

* ``learning_rate`` — each variant builds its optimizer inside the vmapped step from its own (traced)
  learning rate (``optim.make_optimizer(cfg, learning_rate=...)``), so the step-decay schedule and the
  adjustable-clipping bound θ/γ_t derived from it are per variant, exactly as in a separate run;
* ``residual`` — 1.0 or 0.0: the network is built with ``residual=False`` and the sweep adds
  ``residual · ILR`` to its output, which is bit for bit ``ILR + f(ILR)`` (1.0) or ``f(ILR)`` (0.0), the
  two models of the paper's ablation (same parameters, same init).

Data: one device-resident sampler (``feeding.device_sampler``, as a training run's) per distinct (training scales,
seed); when all variants share it the batch is drawn once and broadcast to every variant, otherwise one
batch per variant is drawn and stacked (V, B, ...). Every variant therefore sees the batches of its own
separate run. On a mesh the stacked state is replicated and batches are split over ``data`` on their
batch axis. Variants of different shapes (e.g. depth) are separate sweeps, run one after another.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxsr.data.sampling import PatchTable
from jaxsr.train.feeding import device_sampler
from jaxsr.train.optim import clip_theta, make_optimizer
from jaxsr.base.parallel import batch_sharded, replicate, replicated
from jaxsr.train.train_step import TrainState, make_train_step
from jaxsr.weights.params import init_params

__all__ = ["Variant", "hyperparameters", "init_state", "unstack", "mask_variants", "make_sweep_runner",
           "variant_model"]


@dataclass(frozen=True)
class Variant:
    """One run of a sweep: its name and the hyperparameters that may differ within a vmapped sweep."""

    name: str
    learning_rate: float
    residual: bool = True
    seed: int = 0
    scales: tuple = (2, 3, 4)

    @property
    def data_key(self) -> tuple:
        """Variants with equal keys draw the same batches: (training scales, data seed)."""
        return tuple(int(s) for s in self.scales), int(self.seed)


class _ResidualFlag:
    """``model.apply`` with the global residual connection as an input: ``f(x) + flag · x``; the model
    contract's attributes are the wrapped model's (``models.apply`` calls it like any model)."""

    def __init__(self, model, flag):
        self.model, self.flag = model, flag

    def __getattr__(self, name):
        return getattr(self.model, name)

    def apply(self, variables, x):
        return self.model.apply(variables, x) + self.flag * x.astype(jnp.float32)


def variant_model(model, variant: Variant):
    """The stand-alone model of ``variant`` (e.g. for evaluation): ``model`` with its residual flag."""
    return model.clone(residual=bool(variant.residual)) if hasattr(model, "residual") else model


def hyperparameters(variants) -> dict:
    """{"learning_rate": (V,) float32, "residual": (V,) float32 of 0/1}."""
    return {"learning_rate": np.asarray([v.learning_rate for v in variants], np.float32),
            "residual": np.asarray([float(bool(v.residual)) for v in variants], np.float32)}


def _stack(trees):
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def init_state(model, optim_cfg, variants) -> TrainState:
    """The stacked (V, ...) initial TrainState (host numpy): variant i equals a separate run's start
    (params from ``init_params(model, seed)``, RNG from seed + 1, as ``training.py``)."""
    states = []
    for v in variants:
        params = init_params(model, v.seed)
        tx, _ = make_optimizer(optim_cfg, learning_rate=v.learning_rate)
        states.append(TrainState(step=jnp.int32(0), params=params, opt_state=tx.init(params),
                                 rng=jax.random.key_data(jax.random.PRNGKey(v.seed + 1))))
    return _stack(jax.device_get(states))


def unstack(tree, i: int):
    """Variant ``i`` of a stacked pytree."""
    return jax.tree_util.tree_map(lambda a: a[i], tree)


def mask_variants(tree, keep, fill):
    """A host numpy copy of the stacked ``tree`` (leading axis V) in which the variants where ``keep``
    (V,) is false are set to ``fill`` (float leaves; integer leaves get 0)."""
    keep = np.asarray(keep, bool)

    def one(a):
        a = np.asarray(a)
        value = fill if np.issubdtype(a.dtype, np.floating) else 0
        return np.where(keep.reshape((-1,) + (1,) * (a.ndim - 1)), a, np.asarray(value, a.dtype))

    return jax.tree_util.tree_map(one, tree)


def make_sweep_runner(model, variants, tables: dict[tuple, PatchTable], mesh, optim, loss: str, batch_size: int,
                      mode: str = "vmap"):
    """``run(state) → (state, metrics)``: one step of every variant, one jit over the mesh.

    ``mode``: "vmap" maps the train step over the variant axis (XLA turns the convolutions of V
    parameter sets into grouped convolutions); "loop" unrolls the V steps inside the same jitted step
    (same results, one compile, plain convolutions — faster on CPU, see ``benchmarks/sweep_step.py``).

    Args:
      model: the network (for models with a ``residual`` field the flag comes from each variant).
      variants: the V variants; ``tables``: {Variant.data_key: PatchTable} covering them.
      mesh: ``parallel.make_mesh()``; the batch must divide over its devices.
      optim: an ``optim`` config section with decay_every_steps resolved (``run_spec.resolve_optim``);
        each variant's learning rate replaces its ``learning_rate``.
      loss: a loss name (``jaxsr.train.losses``); batch_size: the global batch of every variant.
    Returns:
      the step; ``state`` is the stacked TrainState (replicated on the mesh), metrics are (V,) float32.
    """
    if mode not in ("vmap", "loop"):
        raise ValueError(f"sweep mode must be 'vmap' or 'loop', got {mode!r}")
    flagged = hasattr(model, "residual")
    if not flagged and not all(v.residual for v in variants):
        raise ValueError(f"{type(model).__name__} has no residual connection to switch off")
    base = model.clone(residual=False) if flagged else model
    clip = clip_theta(optim)
    keys = list(dict.fromkeys(v.data_key for v in variants))
    samplers = [device_sampler(tables[k], k[1], batch_size, mesh) for k in keys]
    which = [keys.index(v.data_key) for v in variants]
    shared = len(keys) == 1
    rep = replicated(mesh)
    data = batch_sharded(mesh) if shared else NamedSharding(mesh, P(None, "data"))
    hyper = replicate(hyperparameters(variants), mesh)

    def one(state, batch, hp):
        tx, schedule = make_optimizer(optim, learning_rate=hp["learning_rate"])
        net = _ResidualFlag(base, hp["residual"]) if flagged else base
        return make_train_step(net, tx, schedule, loss, clip)(state, batch)

    @functools.partial(jax.jit, in_shardings=(rep, rep, rep, rep), out_shardings=(rep, rep), donate_argnums=0)
    def step(state, hp, arrays, grids):
        drawn = [s.sample(state.step[0], a, g) for s, a, g in zip(samplers, arrays, grids)]
        drawn = [{"input": b["input"], "target": b["target"]} for b in drawn]
        if mode == "loop":
            outs = [one(unstack(state, i), jax.lax.with_sharding_constraint(drawn[which[i]], batch_sharded(mesh)),
                        unstack(hp, i)) for i in range(len(which))]
            return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *outs)
        batch = drawn[0] if shared else jax.tree_util.tree_map(lambda *xs: jnp.stack(xs),
                                                                *[drawn[i] for i in which])
        batch = jax.lax.with_sharding_constraint(batch, data)
        return jax.vmap(one, in_axes=(0, None if shared else 0, 0))(state, batch, hp)

    arrays, grids = [s.arrays for s in samplers], [s.grids for s in samplers]
    return lambda state: step(state, hyper, arrays, grids)
